"""Through the command line: definitions that would never converge or are unsafe to send are
refused by ``validate`` (and so by ``plan``, before anything is read), one ``file:line:col`` line
each; and an account holding objects whose names or values carry newlines and terminal escape
sequences cannot forge, hide or recolour a line of the text plan."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import EmulatorHandle
from test_cli_plan import Account, campaign_yaml, cli, make_account, write

#: One file, one refused value per document (line numbers below count from 1).
BAD_FILE = """\
kind: Campaign
key: labels
spec:
  name: Labels
  labels: [ok, "a,b", " lead"]
  messages: [{channel: push, push: {title: {en: Hi}}}]
---
kind: Campaign
key: not-a-number
order: .inf
spec:
  name: Not a number
  metadata: {ratio: .nan}
  messages: [{channel: push, push: {title: {en: Hi}}}]
---
kind: Campaign
key: controls
order: 2.0
spec:
  name: "Hi\\e[2K"
  messages: [{channel: push, push: {title: {en: "a\\nb"}, landing_url: "javascript:alert(1)"}}]
---
kind: PushTask
key: task
spec:
  name: Task
  message:
    icon: data:image/png;base64,AAAA
    actions: [{title: {en: Go}, url: "javascript:x"}]
"""

#: (line, column, JSON path) of each problem, in the order validate reports them.
EXPECTED = [
    (5, 16, "spec.labels[1]"),
    (5, 23, "spec.labels[2]"),
    (10, 1, "order"),
    (13, 14, "spec.metadata.ratio"),
    (18, 1, "order"),
    (20, 3, "spec.name"),
    (21, 45, "spec.messages[0].push.title.en"),
    (21, 58, "spec.messages[0].push.landing_url"),
    (28, 5, "spec.message.icon"),
    (29, 33, "spec.message.actions[0].url"),
]


def _problem_lines(err: str, name: str) -> list[tuple[int, int, str]]:
    found = []
    for line in err.splitlines():
        match = re.fullmatch(rf"{re.escape(name)}:(\d+):(\d+): error: .+ \(([^()]+)\)", line)
        if match:
            found.append((int(match[1]), int(match[2]), match[3]))
    return found


def test_validate_refuses_each_value_at_its_place(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "defs/bad.yaml", BAD_FILE)
    code, out, err = cli(capsys, "validate", "defs")
    assert code == 1 and out == "" and "Traceback" not in err
    assert _problem_lines(err, "defs/bad.yaml") == EXPECTED, err
    assert err.splitlines()[-1] == (
        f"{len(EXPECTED)} error(s) in 1 file(s); nothing was sent anywhere."
    )
    # every line is one line: the control characters of the file are shown escaped
    assert len(err.splitlines()) == len(EXPECTED) + 1
    assert "\x1b" not in err


def test_plan_refuses_them_before_reading_the_account(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    make_emulator: Callable[..., EmulatorHandle],
) -> None:
    acc = make_account("sandbox", tmp_path, monkeypatch, make_emulator)
    write(acc.root, "defs/bad.yaml", BAD_FILE)
    code, out, err = cli(capsys, "plan")
    assert code == 1 and out == ""
    assert _problem_lines(err, "defs/bad.yaml") == EXPECTED, err
    assert not (acc.root / ".hoodsync").exists()  # the account was never opened


def _url_campaign(url: str) -> str:
    escaped = url.replace("\\", "\\\\").encode("ascii", "backslashreplace").decode()
    escaped = escaped.replace("\\x", "\\u00")
    return (
        "kind: Campaign\nkey: url\nspec:\n  name: Url\n  messages:\n"
        "    - {channel: push, push: {title: {en: Hi}, landing_url: "
        f'"{escaped}"' + "}}\n"
    )


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example\\@bank.example/login",  # a browser opens evil.example
        "https://ok.example/\u202efdp.exe",  # right-to-left override: shows as exe.pdf
        "https://ok.example/\u2066x",
        "https://ok.example/a\u200bb",  # zero-width space
        "https://ok.example/a\ufeffb",
        "https://ok.example/a\u00a0b",  # no-break space
        "https://ok.example/a\u00adb",  # soft hyphen
    ],
)
def test_urls_a_browser_would_read_otherwise_or_that_hide_characters_are_refused(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "defs/url.yaml", _url_campaign(url))
    code, out, err = cli(capsys, "validate", "defs")
    assert code == 1 and out == "", err
    assert _problem_lines(err, "defs/url.yaml") == [(6, 47, "spec.messages[0].push.landing_url")]
    assert not any(ch in err for ch in "\u202e\u2066\u200b\ufeff\u00ad")  # shown escaped


def test_international_urls_stay_valid(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    write(
        tmp_path,
        "defs/url.yaml",
        _url_campaign("https://b\u00fccher.example/\u043f\u0443\u0442\u044c"),
    )
    code, out, err = cli(capsys, "validate", "defs")
    assert code == 0, err


#: A name that would print a made-up plan line, and one that would erase the line it is on.
FORGED_NAME = 'x\n  + campaign "evil" {'
ERASING_NAME = "\x1b[2K\x1b[1A"


def test_plan_of_an_account_with_forged_names_shows_them_escaped(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    make_emulator: Callable[..., EmulatorHandle],
) -> None:
    acc = make_account("emulator", tmp_path, monkeypatch, make_emulator)
    write(acc.root, "c/kept.yaml", campaign_yaml("kept", "Kept", extra=""))
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    message = {"name": "m", "channel": "push", "push": {"title": {"en": "Hi"}}}
    with acc.remote() as remote:
        for key, name in (("gone", FORGED_NAME), ("gone\x1b[2K", ERASING_NAME)):
            remote.hood_post(
                "/campaigns",
                {
                    "name": name,
                    "metadata": {"hoodsync_key": key},
                    "scheduled_time": "2030-01-01 10:00:00",
                    "messages": [message],
                },
            )
        kept = remote.campaign("Kept")
        response = remote.hood.patch(
            f"/campaigns/{kept['id']}", json={"labels": ["a", FORGED_NAME + ERASING_NAME]}
        )
        assert response.status_code < 300, response.text

    for prune in ((), ("--prune", "--allow-removals", "9"), ("--prune", "--allow-removals", "1")):
        code, out, err = cli(capsys, "plan", "--detailed-exitcode", *prune)
        assert code == 2, err
        lines = out.splitlines()
        assert not any(line.lstrip().startswith('+ campaign "evil"') for line in lines), out
        assert re.search(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]", out) is None, repr(out)
        assert re.search(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]", err) is None, repr(err)
        assert "x\\n  + campaign" in out and "\\x1b[2K" in out
    # The last: apply's guard would refuse it, and the warning names the orphans' addresses.
    assert "apply will refuse this plan" in out and "gone\\x1b[2K" in out


#: The same kinds of values, from the environment: the templates are valid as written.
FROM_ENV = """\
kind: Campaign
key: from-env
spec:
  name: From env
  labels: [ok, "${env:LBL}"]
  scheduled_time: "2030-01-01 10:00:00"
  messages:
    - name: Hello
      channel: push
      push:
        title: {en: "${env:TITLE}"}
        body: {en: "Thanks"}
        landing_url: "https://${env:HOST}/x"
"""
FROM_ENV_EXPECTED = [
    (5, 16, "spec.labels[1]"),
    (11, 17, "spec.messages[0].push.title.en"),
    (13, 9, "spec.messages[0].push.landing_url"),
]


def test_values_from_the_environment_obey_the_same_rules_when_planning(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    make_emulator: Callable[..., EmulatorHandle],
) -> None:
    acc = make_account("sandbox", tmp_path, monkeypatch, make_emulator)
    write(acc.root, "defs/env.yaml", FROM_ENV)
    secrets = {"LBL": "a,zq7", "TITLE": "line1\nzq8\x1b[31m", "HOST": "evil zq9"}
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    assert cli(capsys, "validate", "defs")[0] == 0  # offline, the values are not known
    for argv in (["plan"], ["plan", "--format", "json"], ["apply", "--auto-approve"]):
        code, out, err = cli(capsys, *argv)
        assert code == 1 and out == "", argv
        assert _problem_lines(err, "defs/env.yaml") == FROM_ENV_EXPECTED, err
        assert len(err.splitlines()) == len(FROM_ENV_EXPECTED) + 1  # one line each, then a total
        for name in secrets:
            assert f"${{env:{name}}}" in err  # each names its variable...
        assert not re.search("zq[789]|evil|\x1b", err)  # ...and never its value
    with acc.remote() as remote:
        assert remote.hood.get("/campaigns").json()["items"] == []  # nothing was sent
    monkeypatch.setenv("LBL", "fine")
    monkeypatch.setenv("TITLE", "One line")
    monkeypatch.setenv("HOST", "example.com")
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    assert cli(capsys, "plan", "--detailed-exitcode")[0] == 0  # and it converges


def test_a_file_name_cannot_make_a_problem_line_a_runner_command(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A problem line starts with its file name, and a GitHub Actions runner takes a line
    starting with ``::debug::`` (after blanks) as a command and does not log it: the problems
    of that file would vanish from the CI log. ``##[`` anywhere in a line does the same."""
    monkeypatch.chdir(tmp_path)
    bad = "kind: Campaign\nkey: a\nspec: {nme: x}\n"
    write(tmp_path, "::debug::x.yaml", bad)
    write(tmp_path, "d/##[debug]y.yaml", bad)
    code, out, err = cli(capsys, "validate", ".")
    assert code == 1 and out == ""
    lines = err.splitlines()
    assert [line for line in lines if line.lstrip().startswith("::") or "##[" in line] == []
    assert any(line.startswith("\\x3a:debug::x.yaml:3:8: error:") for line in lines), err
    assert any(line.startswith("d/#\\x23[debug]y.yaml:3:8: error:") for line in lines), err
