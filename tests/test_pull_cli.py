"""`hoodsync pull` end to end (issue 16 "Done when"), through ``hoodsync.cli.main``, against the
emulator over loopback and against the embedded sandbox. Changes "behind hoodsync's back" are
plain HTTP on the account, as a person in the Hood or Falconyte UI would make them."""

from __future__ import annotations

import contextlib
import difflib
import logging
import os
import pty
import re
import select
import subprocess
import sys
import threading
import time
import tty
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import EmulatorHandle
from test_cli_apply import remote_campaigns, running_campaigns, titled_campaign
from test_cli_plan import (  # noqa: F401 (fixtures)
    EXAMPLES,
    Account,
    Remote,
    account,
    campaign_yaml,
    cli,
    copy_examples,
    email_yaml,
    emulated,
    make_account,
    write,
)
from test_recovery import ctrl_c_twice, left_paused_by_a_stopped_edit

import hoodsync.remote.hood
from hoodsync.emulator.sandbox import SANDBOX_HOOD_URL, open_sandbox
from hoodsync.errors import NetworkError
from hoodsync.pull import git_quoted
from hoodsync.terminal import UNSAFE


def _snapshot(remote: Remote) -> list[Any]:
    return [remote.campaigns(), remote.push_tasks(), remote.email_campaigns()]


def _changed_lines(root: Path) -> set[tuple[str, str]]:
    """(file, "-old" / "+new") for every line of the examples that differs in ``root``."""
    out = set()
    for original in EXAMPLES.rglob("*.yaml"):
        relative = original.relative_to(EXAMPLES)
        if relative.parts[0] not in ("campaigns", "push-tasks", "email"):
            continue
        diff = difflib.unified_diff(
            original.read_text().splitlines(),
            (root / relative).read_text().splitlines(),
            lineterm="",
            n=0,
        )
        out.update(
            (str(relative), line)
            for line in diff
            if line[:1] in "+-" and not line.startswith(("---", "+++"))
        )
    return out


def _in_the_ui(remote: Remote) -> None:
    """The six changes of issue 16: a label, a push title in one language, a campaign paused,
    an A/B test_split, a push task's frequency, an email campaign stopped. (Nine requests: the
    sandbox's documented 10 per second apply to this client too.)"""

    def ok(response: Any) -> None:
        assert response.status_code < 300, response.text

    campaigns = {c["name"]: c for c in remote.campaigns()}
    car = campaigns["Car Brands Showcase"]
    ok(
        remote.hood.patch(
            f"/campaigns/{car['id']}", json={"labels": ["cars", "mini", "audi", "volkswagen"]}
        )
    )
    launch = campaigns["Multilingual Product Launch"]
    messages = launch["messages"]
    messages[0]["push"]["title"]["it"] = "Ocamba Hood Messaggio nuovo"
    ok(remote.hood.patch(f"/campaigns/{launch['id']}", json={"messages": messages}))
    spring = campaigns["Spring Launch Announcement"]
    remote.hood_post(f"/campaigns/{spring['id']}/pause", {"reason": "for the weekend"})
    ab = campaigns["Headline A/B Test"]
    ok(remote.hood.patch(f"/campaigns/{ab['id']}", json={"ab_test": {"test_split": 40}}))
    [task] = [t for t in remote.push_tasks() if t["name"] == "Hourly Headlines"]
    ok(remote.hood.patch(f"/push-tasks/{task['id']}", json={"frequency": "7200"}))
    [email] = [e for e in remote.email_campaigns() if e["name"] == "Welcome flow"]
    remote.falconyte_post(f"/email/campaigns/{email['id']}/stop")


EXPECTED = {
    ("campaigns/car-brands-showcase.yaml", "-  labels: [cars, bmw, audi, volkswagen]"),
    ("campaigns/car-brands-showcase.yaml", "+  labels: [cars, mini, audi, volkswagen]"),
    ("campaigns/multilang-launch.yaml", "-          it: Ocamba Hood Messaggio"),
    ("campaigns/multilang-launch.yaml", "+          it: Ocamba Hood Messaggio nuovo"),
    ("campaigns/spring-launch.yaml", "-state: active"),
    ("campaigns/spring-launch.yaml", "+state: paused"),
    ("campaigns/headline-ab-test.yaml", "-    test_split: 30"),
    ("campaigns/headline-ab-test.yaml", "+    test_split: 40"),
    ("push-tasks/hourly-headlines.yaml", '-  frequency: "3600"'),
    ("push-tasks/hourly-headlines.yaml", '+  frequency: "7200"'),
    ("email/welcome-flow.yaml", "-state: active"),
    ("email/welcome-flow.yaml", "+state: stopped"),
}


def test_round_trip_of_the_examples(
    account: Account, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """Apply the examples, change six things in the account, pull: the diff of the examples
    is exactly those lines, and the next plan has nothing to do."""
    copy_examples(account.root)
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    with account.remote() as remote:
        _in_the_ui(remote)
    with account.remote() as remote:  # a client of its own: a fresh rate window
        before = _snapshot(remote)

    caplog.set_level(logging.DEBUG, logger="hoodsync.remote.transport")
    code, out, err = cli(capsys, "pull")
    assert code == 0, err
    assert _changed_lines(account.root) == EXPECTED
    printed = {
        line
        for line in out.splitlines()
        if line[:1] in "+-" and not line.startswith(("---", "+++"))
    }
    assert printed == {line for _, line in EXPECTED}
    assert "diff --git a/campaigns/spring-launch.yaml b/campaigns/spring-launch.yaml" in out
    assert "Pulled 6 definition(s) in 6 file(s)" in err
    methods = {r.args[0] for r in caplog.records if isinstance(r.args, tuple) and r.args}
    assert methods == {"GET"}  # the account is only read
    with account.remote() as remote:
        assert _snapshot(remote) == before

    code, out, _ = cli(capsys, "plan", "--detailed-exitcode")
    assert code == 0 and "No changes." in out
    code, out, err = cli(capsys, "pull")
    assert (code, out) == (0, "") and "No drift" in err


def test_check_and_dry_run_write_nothing(
    emulated: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(emulated.root, "c/one.yaml", campaign_yaml("one", "One"))
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    with emulated.remote() as remote:
        one = remote.campaign("One")
        response = remote.hood.patch(f"/campaigns/{one['id']}", json={"labels": ["a", "c"]})
        assert response.status_code == 204
    text, stamp = path.read_bytes(), path.stat().st_mtime_ns

    code, out, err = cli(capsys, "pull", "--check")
    assert code == 2, err
    assert "-  labels: [a, b]\n+  labels: [a, c]\n" in out and "nothing written" in err
    code, out, err = cli(capsys, "pull", "--dry-run")
    assert code == 0, err
    assert "+  labels: [a, c]\n" in out and "nothing written" in err
    assert (path.read_bytes(), path.stat().st_mtime_ns) == (text, stamp)
    assert not [p for p in path.parent.iterdir() if p.name != "one.yaml"]  # no temporary files

    assert cli(capsys, "pull")[0] == 0
    assert "  labels: [a, c]\n" in path.read_text()
    assert cli(capsys, "pull", "--check")[0] == 0


def test_a_value_from_the_environment_is_reported_not_written(
    emulated: Account,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    secret = "Members get 40 % off"
    monkeypatch.setenv("PROMO_TITLE", secret)
    path = write(
        emulated.root,
        "c/promo.yaml",
        campaign_yaml("promo", "Promo").replace(
            "title: {en: Hello Promo}", 'title: {en: "${env:PROMO_TITLE}"}'
        ),
    )
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    with emulated.remote() as remote:
        promo = remote.campaign("Promo")
        messages = promo["messages"]
        messages[0]["push"]["title"]["en"] = "Edited in Hood"
        response = remote.hood.patch(
            f"/campaigns/{promo['id']}", json={"messages": messages, "labels": ["a", "b", "c"]}
        )
        assert response.status_code == 204

    code, out, err = cli(capsys, "pull")
    assert code == 1
    assert "c/promo.yaml:" in err and "${env:PROMO_TITLE}" in err
    assert "(spec.messages[0].push.title.en)" in err
    text = path.read_text()
    assert 'title: {en: "${env:PROMO_TITLE}"}' in text
    assert "labels: [a, b, c]" in text  # the rest of the object is pulled
    assert secret not in out + err + text and "Edited in Hood" not in text


def test_target_limits_the_pull_and_new_objects_are_not_drift(
    emulated: Account,
    capsys: pytest.CaptureFixture[str],
) -> None:
    one = write(emulated.root, "c/one.yaml", campaign_yaml("one", "One"))
    two = write(emulated.root, "c/two.yaml", campaign_yaml("two", "Two"))
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    texts = {one: one.read_text(), two: two.read_text()}
    with emulated.remote() as remote:
        for name in ("One", "Two"):
            found = remote.campaign(name)
            assert (
                remote.hood.patch(
                    f"/campaigns/{found['id']}", json={"labels": ["a", "z"]}
                ).status_code
                == 204
            )
        remote.hood_post(
            "/campaigns",
            {  # its name makes the key of a definition: "one"
                "name": "One!",
                "scheduled_time": "2030-01-01 10:00:00",
                "messages": [
                    {
                        "name": "Hi",
                        "channel": "push",
                        "push": {"title": {"en": "Hi"}, "body": {"en": "There"}},
                    }
                ],
            },
        )

    code, out, err = cli(capsys, "pull", "--target", "campaign.two")
    assert code == 0, err
    assert one.read_text() == texts[one] and "labels: [a, z]" in two.read_text()
    assert "One!" not in out + err and not (emulated.root / "new").exists()

    code, out, err = cli(capsys, "pull", "--new", "new")
    assert code == 0, err
    [exported] = (emulated.root / "new").rglob("*.yaml")
    assert exported.relative_to(emulated.root).as_posix() == "new/campaigns/one-2.yaml"
    assert "new file mode 100644" in out and "+key: one-2" in out
    assert "labels: [a, z]" in one.read_text()
    code, out, _ = cli(capsys, "plan", "--format", "json")
    assert code == 0 and '"action": "adopt"' in out

    # An export that is already there (same text) is not written again; nothing else changed.
    code, out, err = cli(capsys, "pull", "--new", "new", "--check")
    assert (code, out) == (0, ""), err


def _on_a_terminal(argv: list[str], cwd: Path, timeout: float = 120) -> tuple[int, str]:
    """Run ``hoodsync ARGV`` in a process of its own whose stdout is a pseudo-terminal (in raw
    mode, so the bytes arrive as written), as a person at a terminal runs it: it colours there.
    (exit code, what reached the terminal); bounded by ``timeout``."""
    hoodsync = str(Path(sys.executable).parent / "hoodsync")
    leader, follower = pty.openpty()
    tty.setraw(follower)
    try:
        process = subprocess.Popen(
            [hoodsync, *argv],
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=follower,
            stderr=subprocess.DEVNULL,
        )
    finally:
        os.close(follower)
    received, deadline = bytearray(), time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if not select.select([leader], [], [], 0.5)[0]:
                continue
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the process closed its end of the terminal
                break
            if not chunk:
                break
            received += chunk
        return process.wait(timeout=max(1.0, deadline - time.monotonic())), received.decode()
    finally:
        os.close(leader)
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.parametrize("color", [True, False], ids=["colour", "no-colour"])
def test_a_hostile_file_name_and_line_reach_the_terminal_escaped(
    emulated: Account, capsys: pytest.CaptureFixture[str], color: bool
) -> None:
    """A definition file whose name holds a newline, a forged hunk header and ESC sequences,
    and whose comment holds a lone carriage return (YAML takes it as a line break): on a
    terminal, with or without colour, the diff names the file as git does and no character
    of either reaches the terminal raw; the only escape sequences are hoodsync's colours."""
    name = "x\n@@ -1 +1 @@ forged hunk\n\x1b[2K\x1b[1A\x1b[31mFORGED\x1b[0m\ny.yaml"
    text = campaign_yaml("one", "One").replace("spec:\n", "# note\r# forged\nspec:\n")
    write(emulated.root, name, text)
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    with emulated.remote() as remote:
        one = remote.campaign("One")
        response = remote.hood.patch(f"/campaigns/{one['id']}", json={"labels": ["a", "c"]})
        assert response.status_code == 204

    code, shown = _on_a_terminal(
        ["pull", "--dry-run", *([] if color else ["--no-color"])], emulated.root
    )
    assert code == 0, shown
    colours = re.compile(r"\x1b\[[0-9;]*m")
    assert bool(colours.search(shown)) is color
    plain = colours.sub("", shown)
    assert not UNSAFE.search(plain.replace("\n", "").replace("\t", ""))  # as git: tabs
    lines = plain.splitlines()
    quoted = (git_quoted(f"a/{name}"), git_quoted(f"b/{name}"))
    assert lines[:3] == [
        f"diff --git {quoted[0]} {quoted[1]}",
        f"--- {quoted[0]}\t",  # git ends a name that holds a space with a tab
        f"+++ {quoted[1]}\t",
    ]
    assert [line for line in lines if line.startswith("@@")] == ["@@ -3,7 +3,7 @@"]
    assert " # note\\r# forged" in lines
    assert "-  labels: [a, b]" in lines and "+  labels: [a, c]" in lines


# ------------------------------------------------- values of variables used outside PATHS

CODE = "SEKRIT-7731"


@contextlib.contextmanager
def _sandbox(path: Path) -> Iterator[Remote]:
    """Plain HTTP on the sandbox account whose database is ``path``."""
    box = open_sandbox(path)
    hood = httpx.Client(
        base_url=SANDBOX_HOOD_URL,
        transport=box.hood_transport,
        headers={"Authorization": f"Bearer {box.hood_token}"},
    )
    try:
        yield Remote(hood, hood)
    finally:
        hood.close()
        box.close()


def _paste_code(remote: Remote, name: str) -> None:
    """Someone pastes the promo code into campaign ``name``'s body in the Hood UI."""
    found = remote.campaign(name)
    messages = found["messages"]
    messages[0]["push"]["body"]["en"] = f"Use {CODE} today"
    response = remote.hood.patch(f"/campaigns/{found['id']}", json={"messages": messages})
    assert response.status_code == 204, response.text


def _promo(key: str, name: str) -> str:
    return campaign_yaml(key, name).replace(
        f"title: {{en: Hello {name}}}", 'title: {en: "Code ${env:PROMO}"}'
    )


@pytest.mark.parametrize(
    "argv",
    [
        ("pull", "campaigns/"),
        ("pull", "campaigns/other.yaml"),
        ("pull", "--new", "new", "campaigns/"),
        ("pull", "--target", "campaign.other"),
        ("export", "--out", "exported"),  # before, export wrote all three with the code
        ("export", "--kind", "Campaign", "--out", "campaigns/new", "--overwrite"),
    ],
)
def test_a_value_a_definition_outside_paths_interpolates_is_never_written(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_emulator: Callable[..., EmulatorHandle],
    capsys: pytest.CaptureFixture[str],
    argv: tuple[str, ...],
) -> None:
    """promos/promo.yaml takes a code from ${env:PROMO}; someone pastes that code into another
    campaign in the UI, and makes a campaign by hand that holds it. Whatever PATHS, --new or
    --target, pull writes and prints neither (before, `pull campaigns/` did both)."""
    acc = make_account("sandbox", tmp_path, monkeypatch, make_emulator)
    monkeypatch.setenv("PROMO", CODE)
    write(acc.root, "promos/promo.yaml", _promo("promo", "Promo"))
    other = write(acc.root, "campaigns/other.yaml", campaign_yaml("other", "Other"))
    before = other.read_text()
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    with acc.remote() as remote:
        _paste_code(remote, "Other")
        hand = {"name": "By hand", "is_draft": True, "scheduled_time": "2030-01-01 10:00:00"}
        hand["messages"] = [
            {
                "name": "m",
                "channel": "push",
                "push": {"title": {"en": f"Code {CODE}"}, "body": {"en": "b"}},
            }
        ]
        remote.hood_post("/campaigns", hand)

    code, out, err = cli(capsys, *argv)
    assert code == 1, (out, err)
    assert "holds the value of ${env:PROMO}" in err
    assert CODE not in out + err
    assert other.read_text() == before
    assert not any(CODE in p.read_text() for p in acc.root.rglob("*.yaml"))


def test_export_keeps_back_what_holds_a_secret_as_pull_new_does(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_emulator: Callable[..., EmulatorHandle],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """export, like pull --new, never writes a value of a variable the project interpolates:
    the files that would hold it are kept back, each with the same located line as pull --new
    prints, the others are written, and it exits 1. Before, it wrote ``Code SEKRIT-7731``
    into the repository and exited 0. (Promo, the project's own, is not written either.)"""
    acc = make_account("sandbox", tmp_path, monkeypatch, make_emulator)
    monkeypatch.setenv("PROMO", CODE)
    write(acc.root, "promos/promo.yaml", _promo("promo", "Promo"))
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    with acc.remote() as remote:  # made by hand: unmanaged, so pull --new writes it too
        for name, title in (("Plain", "Hello"), ("Pasted", f"Code {CODE}")):
            hand = {"name": name, "is_draft": True, "scheduled_time": "2030-01-01 10:00:00"}
            hand["messages"] = [
                {
                    "name": "m",
                    "channel": "push",
                    "push": {"title": {"en": title}, "body": {"en": "b"}},
                }
            ]
            remote.hood_post("/campaigns", hand)

    code, out, err = cli(capsys, "export", "--kind", "Campaign", "--out", "exported")
    assert code == 1, (out, err)
    assert CODE not in out + err
    written = sorted(p.relative_to(acc.root).as_posix() for p in (acc.root / "exported").rglob("*"))
    assert written == ["exported/campaigns", "exported/campaigns/plain.yaml"], written
    refused = [line for line in err.splitlines() if ": error: not written: " in line]
    assert refused == [
        "exported/campaigns:1:1: error: not written: the account's object holds the value of "
        "${env:PROMO} (a secret never goes into a file)"
    ]
    assert "1 campaign(s) already managed by the project were not written." in err.splitlines()
    assert err.splitlines()[-1] == "error: 1 object(s) not written: each holds a secret (see above)"

    code, out, err = cli(capsys, "pull", "--new", "new")
    assert code == 1 and CODE not in out + err
    assert [line for line in err.splitlines() if ": error: not written: " in line] == [
        line.replace("exported/", "new/") for line in refused[:1]
    ]


def test_without_hoodsync_yaml_the_project_is_the_paths_repository_not_the_cwd(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_emulator: Callable[..., EmulatorHandle],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Run from another folder (no hoodsync.yaml anywhere): the definitions whose variables
    pull never writes are those of the repository PATH is in, not of the working directory
    (from a sibling folder the promo definition was not looked at and its code was written;
    from / the whole file system was walked)."""
    acc = make_account("sandbox", tmp_path, monkeypatch, make_emulator)
    monkeypatch.setenv("PROMO", CODE)
    write(acc.root, "promos/promo.yaml", _promo("promo", "Promo"))
    other = write(acc.root, "campaigns/other.yaml", campaign_yaml("other", "Other"))
    before = other.read_text()
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    with acc.remote() as remote:
        _paste_code(remote, "Other")
    # The sandbox's state stays the repository's: the same database, seen from elsewhere.
    monkeypatch.setenv("HOOD_API_URL", "sandbox")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / ".hoodsync").symlink_to(acc.root / ".hoodsync")
    monkeypatch.chdir(elsewhere)
    code, out, err = cli(capsys, "pull", str(acc.root / "campaigns"))
    assert code == 1, (out, err)
    assert "holds the value of ${env:PROMO}" in err and CODE not in out + err
    assert other.read_text() == before


def test_a_value_another_accounts_definition_interpolates_is_never_written(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_emulator: Callable[..., EmulatorHandle],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Two accounts: a/ interpolates ${env:PROMO}, and its code was pasted into a campaign of
    account b. `pull b/` (account b only) does not write it."""
    acc = make_account("sandbox", tmp_path, monkeypatch, make_emulator)
    monkeypatch.setenv("PROMO", CODE)
    write(
        acc.root,
        "hoodsync.yaml",
        "accounts:\n  a: {hood: {url: sandbox}, paths: [a/]}\n"
        "  b: {hood: {url: sandbox}, paths: [b/]}\n",
    )
    write(acc.root, "a/promo.yaml", _promo("promo", "Promo"))
    other = write(acc.root, "b/other.yaml", campaign_yaml("other", "Other"))
    before = other.read_text()
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    with _sandbox(acc.root / ".hoodsync" / "sandbox-b.sqlite") as remote:
        _paste_code(remote, "Other")

    for argv in (("pull", "b/"), ("pull", "--account", "b", "b/")):
        code, out, err = cli(capsys, *argv)
        assert code == 1 and "holds the value of ${env:PROMO}" in err, (out, err)
        assert CODE not in out + err and other.read_text() == before


@pytest.mark.parametrize(
    "promo",
    [
        # Being written: not valid YAML, the variable is still found in its text.
        'kind: Campaign\nkey: promo\nspec: {name: "Code ${env:PROMO}"\n',
        # Written with a YAML escape: found in the value the file loads as.
        'kind: Campaign\nkey: promo\nspec: {name: "Code \\x24{env:PROMO}", bogus: 1}\n',
    ],
    ids=["unparsable", "escaped"],
)
def test_a_file_outside_paths_that_does_not_validate_still_names_its_variables(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_emulator: Callable[..., EmulatorHandle],
    capsys: pytest.CaptureFixture[str],
    promo: str,
) -> None:
    acc = make_account("sandbox", tmp_path, monkeypatch, make_emulator)
    monkeypatch.setenv("PROMO", CODE)
    other = write(acc.root, "campaigns/other.yaml", campaign_yaml("other", "Other"))
    before = other.read_text()
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    write(acc.root, "promos/promo.yaml", promo)
    os.mkfifo(acc.root / "promos" / "pipe.yaml")  # reported by the loader, never read
    with acc.remote() as remote:
        _paste_code(remote, "Other")
    code, out, err = cli(capsys, "pull", "campaigns/")
    assert code == 1 and "holds the value of ${env:PROMO}" in err, (out, err)
    assert CODE not in out + err and other.read_text() == before


# ------------------------------------------------------------------ renamed in a UI

TASK = """\
kind: PushTask
key: morning
state: inactive
spec:
  name: Morning news
  frequency: 3600
  start_time: "2030-01-01 12:00:00"
  message: {title: {en: Hi}, body: {en: News}, landing_url: "https://example.com/"}
"""


@pytest.mark.parametrize("kind", ["push_task", "email_campaign"])
def test_an_object_renamed_in_the_account_is_drift_pull_reports(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_emulator: Callable[..., EmulatorHandle],
    capsys: pytest.CaptureFixture[str],
    kind: str,
) -> None:
    """Matched by name, a push task renamed in Hood (an email campaign whose ${env:...} name
    changed: Falconyte renames nothing) is unmanaged, and plan would create a second one.
    `pull --check`, the read-only drift check, must not pass there (before: "No drift", exit
    0): it exits 2 and says which object and what to do; `pull` exits 1, writing nothing."""
    acc = make_account("sandbox", tmp_path, monkeypatch, make_emulator)
    if kind == "push_task":
        path = write(acc.root, "t/task.yaml", TASK)
    else:
        monkeypatch.setenv("WHO", "members")
        path = write(acc.root, "e/welcome.yaml", email_yaml("welcome", '"Welcome ${env:WHO}"'))
    before = path.read_text()
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    if kind == "push_task":
        with acc.remote() as remote:
            [task] = remote.push_tasks()
            ident = task["id"]
            answer = remote.hood.patch(f"/push-tasks/{ident}", json={"name": "Morning (EU)"})
            assert answer.status_code < 300, answer.text
    else:
        with acc.remote() as remote:
            [campaign] = remote.email_campaigns()
            ident = campaign["id"]
        monkeypatch.setenv("WHO", "everyone")
    assert cli(capsys, "plan", "--detailed-exitcode")[0] == 2

    code, out, err = cli(capsys, "pull", "--check")
    assert (code, out) == (2, ""), err
    [line] = [x for x in err.splitlines() if "not pulled" in x]
    assert line.startswith(f"{path.relative_to(acc.root)}:1:1: error: {kind}.")
    assert f" id {ident} (unmanaged) differs from this definition in its name only" in line
    assert "give the definition its name" in line
    assert "No drift" not in err and "members" not in err
    code, out, err = cli(capsys, "pull")
    assert code == 1 and f"id {ident} (unmanaged)" in err
    assert path.read_text() == before


# ------------------------------------------------------------------ the embedded sandbox


def test_pull_says_when_it_reads_the_embedded_sandbox_as_plan_does(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_emulator: Callable[..., EmulatorHandle],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """No credential in the environment: both APIs are the embedded sandbox, which holds
    nothing of a real account. Pull prints the line plan prints (before: a plain "No
    drift")."""
    acc = make_account("sandbox", tmp_path, monkeypatch, make_emulator)
    write(acc.root, "c/one.yaml", campaign_yaml("one", "One"))
    write(acc.root, "e/welcome.yaml", email_yaml("welcome", "Welcome flow"))
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    _, out, _ = cli(capsys, "plan")
    [line] = [x for x in out.splitlines() if x.startswith("Sandbox: ")]
    assert "Hood is the embedded emulated account" in line
    assert "Falconyte is the embedded sandbox" in line
    code, out, err = cli(capsys, "pull", "--check")
    assert (code, out) == (0, ""), err
    assert err.splitlines() == [line, "No drift: the definitions say what the accounts hold."]


# ------------------------------------------------------------------ an interrupted apply


@pytest.mark.parametrize("state", ["active", None], ids=["state-active", "no-state"])
def test_what_an_interrupted_apply_left_unfinished_is_not_pulled(
    emulated: Account,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    state: str | None,
) -> None:
    """An edit of a running campaign cut right after hoodsync's own pause (its patch never
    arrives). The journal says whose pause it is, and plan resumes it. Pull (which wrote
    `state: paused` and took the edit back: committed, that would keep the campaign stopped
    for good) leaves the file alone, saying why in one line; after the apply finishes the
    work, nothing differs."""
    running_campaigns(emulated, capsys, "a")
    path = write(emulated.root, "c/a.yaml", titled_campaign("a", "New", state=state))
    left_paused_by_a_stopped_edit(emulated, monkeypatch, capsys, "a")
    assert remote_campaigns(emulated) == [("Campaign a", "paused", "Hello")]
    text = path.read_text()

    for argv in (("pull", "--check"), ("pull", "--dry-run"), ("pull",)):
        code, out, err = cli(capsys, *argv)
        assert (code, out) == (0, ""), (argv, err)
        [line] = [x for x in err.splitlines() if "warning:" in x]
        assert line.startswith("c/a.yaml:1:1: warning: campaign.a: not pulled: an interrupted ")
        assert "paused campaign " in line and "did not resume it" in line and "journal " in line
        assert "`hoodsync apply` finishes it" in line
        assert path.read_text() == text

    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    assert remote_campaigns(emulated) == [("Campaign a", "running", "New")]
    code, out, err = cli(capsys, "pull", "--check")
    assert (code, out) == (0, "") and "No drift" in err and "warning" not in err


def test_a_create_cut_before_its_pause_is_not_pulled_as_active(
    emulated: Account, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`state: paused`: create, then pause; cut while the pause is on the wire. The live
    campaign is hoodsync's unfinished work: pull does not write `state: active`."""
    path = write(emulated.root, "c/a.yaml", titled_campaign("a", "A", state="paused"))
    text = path.read_text()
    release = threading.Event()

    def cut(self: Any, campaign_id: str, reason: str | None = None) -> None:
        ctrl_c_twice(emulated.root / ".hoodsync" / "journal")
        release.wait(10)
        raise NetworkError("the connection was lost")

    real = hoodsync.remote.hood.HoodClient.pause_campaign
    monkeypatch.setattr(hoodsync.remote.hood.HoodClient, "pause_campaign", cut)
    try:
        assert cli(capsys, "apply", "--auto-approve")[0] == 1
    finally:
        release.set()
        monkeypatch.setattr(hoodsync.remote.hood.HoodClient, "pause_campaign", real)
    code, out, err = cli(capsys, "pull")
    assert (code, out) == (0, ""), err
    assert "campaign.a: not pulled: an interrupted apply started a change of it" in err
    assert path.read_text() == text


# ------------------------------------------------------------------ fields pull cannot write


def test_a_message_added_in_hood_is_pulled_with_its_ab_test_block(
    account: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: the added message made the file invalid (no ab_test block), so neither it nor
    the new name were ever written, and every plan offered to delete the message."""
    path = write(account.root, "c/one.yaml", campaign_yaml("one", "One"))
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    with account.remote() as remote:
        one = remote.campaign("One")
        messages = one["messages"]
        second = {**messages[0], "name": "Second"}
        second.pop("id", None)
        body = {
            "name": "One 2",
            "messages": [*messages, second],
            "ab_test": {
                "test_split": 30,
                "winning_metric": "click_rate",
                "evaluation_window": "1D",
                "winner_delivery_mode": "automatic",
            },
        }
        response = remote.hood.patch(f"/campaigns/{one['id']}", json=body)
        assert response.status_code == 204, response.text
    code, out, err = cli(capsys, "pull")
    assert code == 0, err
    text = path.read_text()
    assert "  name: One 2\n" in text and "    - name: Second\n" in text
    assert "  ab_test:\n    test_split: 30\n" in text
    code, out, _ = cli(capsys, "plan", "--detailed-exitcode")
    assert code == 0 and "No changes." in out


def test_a_body_with_crlf_line_ends_is_left_out_and_the_rest_pulled(
    emulated: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(emulated.root, "t/task.yaml", TASK)
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    with emulated.remote() as remote:
        [task] = remote.push_tasks()
        message = {
            "title": {"en": "New title"},
            "body": {"en": "line one\r\nline two"},
            "landing_url": "https://example.com/",
        }
        response = remote.hood.patch(f"/push-tasks/{task['id']}", json={"message": message})
        assert response.status_code < 300, response.text
    for _ in range(2):  # the rest is pulled once; the body is left out every run, saying why
        code, out, err = cli(capsys, "pull")
        assert code == 1
        [line] = [x for x in err.splitlines() if "error:" in x]
        assert line.startswith("t/task.yaml:8:")
        assert "it holds a carriage return" in line and line.endswith("(spec.message.body.en)")
        assert "title: {en: New title}" in path.read_text()
    assert "body: {en: News}" in path.read_text()


# ------------------------------------------------------------------ symbolic links


@pytest.mark.parametrize("link", ["file", "folder"])
def test_pull_does_not_write_through_a_link_out_of_the_repository(
    account: Account, capsys: pytest.CaptureFixture[str], link: str
) -> None:
    """A definition file (or its folder) that is a symbolic link to a file outside the
    repository: pull would rewrite that file, where `git diff` shows nothing. It is refused,
    in one line; a link that stays inside the repository is written as before."""
    shared = account.root.parent / "shared"
    outside = write(shared, "c/t.yaml", campaign_yaml("t", "T"))
    # In a hidden folder (not read as a definition itself), reached through a link only.
    inside = write(account.root, ".snippets/u.yaml", campaign_yaml("u", "U"))
    (account.root / "d").mkdir()
    (account.root / "d" / "u.yaml").symlink_to(inside)
    if link == "file":
        (account.root / "c").mkdir()
        (account.root / "c" / "t.yaml").symlink_to(outside)
    else:
        (account.root / "c").symlink_to(shared / "c")
    before = outside.read_text()
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    with account.remote() as remote:
        for name in ("T", "U"):
            found = remote.campaign(name)
            answer = remote.hood.patch(f"/campaigns/{found['id']}", json={"labels": ["a", "z"]})
            assert answer.status_code == 204

    for argv in (("pull", "--dry-run"), ("pull",)):
        code, out, err = cli(capsys, *argv)
        assert code == 1, err
        [line] = [x for x in err.splitlines() if "error:" in x]
        assert line == (
            "c/t.yaml:1:1: error: not written: a symbolic link takes it outside the "
            f"repository, to {outside.resolve()}; edit that file by hand"
        )
        assert "t.yaml" not in out and "labels: [a, z]" in out  # u.yaml's diff only
    assert outside.read_text() == before
    assert "labels: [a, z]" in inside.read_text()
