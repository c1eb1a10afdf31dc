"""Tokens, API keys and ``${env:...}`` values never reach output, logs, journals or plan files
(DESIGN §5). Everything a run leaves behind is searched for every secret, with DEBUG logging on
for every logger (ours, httpx, httpcore, the emulator's)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import EmulatorHandle
from test_cli_plan import FAST, campaign_yaml, cli, email_yaml, make_account, write

from hoodsync.config import load_config
from hoodsync.session import open_session

PROMO = "promo-value-5f3c9e1d"
WRONG = "wrong-token-7d2e4a9b0c"


def test_no_secret_in_output_logs_journal_or_plan_file(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_emulator: Callable[..., EmulatorHandle],
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    acc = make_account("emulator", tmp_path, monkeypatch, make_emulator)
    monkeypatch.setenv("PROMO_SECRET", PROMO)
    secrets = [*acc.secrets, PROMO, WRONG]
    spec = campaign_yaml("promo", "Promo").replace(
        "  labels: [a, b]\n", '  labels: [a, b]\n  description: "${env:PROMO_SECRET}"\n'
    )
    write(acc.root, "c/promo.yaml", spec)
    write(acc.root, "e/welcome.yaml", email_yaml("welcome", "Welcome flow"))
    write(acc.root, "e/too-long.yaml", email_yaml("too-long", "x" * 300))  # a 422 on apply

    shown: list[str] = []

    def run(*argv: str) -> int:
        code, out, err = cli(capsys, *argv)
        shown.extend([out, err])
        return code

    assert run("plan", "--out", "plan.json") == 0
    assert run("plan", "--format", "json") == 0
    assert run("plan", "--format", "markdown") == 0
    assert run("apply", "--auto-approve") == 1  # the long name fails; the rest is applied
    (acc.root / "e/too-long.yaml").unlink()
    assert run("apply", "--plan", "plan.json", "--auto-approve") == 1  # stale now
    monkeypatch.setenv("PROMO_SECRET", PROMO + "-rotated")
    assert run("plan") == 0  # the value changed: shown as a change, by fingerprint only
    monkeypatch.setenv("PROMO_SECRET", PROMO)
    monkeypatch.setenv("HOOD_API_TOKEN", WRONG)
    assert run("plan") == 1
    assert "401" in shown[-1]

    with open_session(
        load_config([]).account(None), load_config([]), need_falconyte=True, env=os.environ
    ) as session:
        shown.append(repr(session))
        shown.append(repr(session.hood) + repr(session.falconyte))

    files = [acc.root / "plan.json", *sorted((acc.root / ".hoodsync" / "journal").glob("*.jsonl"))]
    assert len(files) == 2  # one apply wrote; the stale one was refused before any write
    places = {"stdout/stderr": "\n".join(shown), "logs": caplog.text}
    places.update({str(p.relative_to(acc.root)): p.read_text() for p in files})
    assert re.search(r"\(sensitive[^)]*, fp [0-9a-f]{4}\)", places["stdout/stderr"])  # masked
    assert "${env:PROMO_SECRET}" in places["plan.json"]  # the saved plan keeps the template
    assert "VALIDATION_FAILED" in places[str(files[1].relative_to(acc.root))]  # errors journaled
    assert len(caplog.records) > 50  # DEBUG logging really was on
    for where, text in places.items():
        for secret in secrets:
            assert secret not in text, f"a secret appears in {where}"


ROTATING = """\
kind: Campaign
key: promo
spec:
  name: Promo
  labels: [a]
  scheduled_time: "2030-01-01 10:00:00"
  messages:
    - name: "msg ${env:PROMO}"
      channel: push
      push:
        title: {en: "Code ${env:PROMO}"}
        body: {en: "Use ${env:PROMO} now"}
        landing_url: "https://example.com/?c=${env:PROMO}"
"""


def test_a_message_only_the_account_holds_is_masked_when_the_secret_rotates(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_emulator: Callable[..., EmulatorHandle],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The message name is the list key: a new value makes the old message one only the account
    holds. Its name, title, body and URL are the old secret, in every rendering and the saved
    plan; the saved plan still applies."""
    acc = make_account("sandbox", tmp_path, monkeypatch, make_emulator)
    write(acc.root, "c/promo.yaml", ROTATING)
    monkeypatch.setenv("PROMO", "SECRETXYZ")
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    monkeypatch.setenv("PROMO", "NEWVAL")

    shown: dict[str, str] = {}
    for fmt in ("text", "json", "markdown"):
        code, out, err = cli(capsys, "plan", "--format", fmt)
        assert code == 0, err
        shown[fmt] = out + err
    code, _, err = cli(capsys, "plan", "--out", "p.json", "--preview", "p.html")
    assert code == 0, err
    shown["plan file"] = (acc.root / "p.json").read_text()
    shown["preview"] = (acc.root / "p.html").read_text()
    for where, text in shown.items():
        assert "SECRETXYZ" not in text and "NEWVAL" not in text, where
    assert "- messages[0] = " in shown["text"]  # the old message, by its index in the account
    [change] = json.loads(shown["json"])["changes"]
    removed = change["diff"][0]
    assert removed["op"] == "remove" and removed["path"] == "messages[0]"
    assert re.fullmatch(r"\(sensitive \$\{env:PROMO\}, fp [0-9a-f]{4}\)", removed["before"]["name"])

    assert cli(capsys, "apply", "--plan", "p.json", "--auto-approve")[0] == 0
    with acc.remote() as remote:
        [campaign] = remote.hood.get("/campaigns", params={"view": "full"}).json()["items"]
    [message] = campaign["messages"]
    assert message["name"] == "msg NEWVAL" and message["push"]["title"]["en"] == "Code NEWVAL"
    code, out, _ = cli(capsys, "plan")
    assert code == 0 and "No changes." in out


#: The hostile reproduction (ci/repro/fp_bruteforce.sh): a 6-digit code in three fields whose
#: text around the variable is in git.
PROMO_SPEC = """\
kind: Campaign
key: promo
spec:
  name: Spring promo
  is_draft: true
  messages:
    - name: Hi
      channel: push
      push:
        title: {en: "Use code ${env:PROMO} today"}
        body: {en: "Your code: ${env:PROMO}"}
        landing_url: "https://example.com/redeem?code=${env:PROMO}"
"""
PROMO_CODE = "482913"
PROMO_TEMPLATES = ("Use code {} today", "Your code: {}", "https://example.com/redeem?code={}")


def _unkeyed(code: str) -> list[str]:
    """What anyone can compute from git and a guess: the sha256 prefix of each field."""
    return [hashlib.sha256(t.format(code).encode()).hexdigest()[:4] for t in PROMO_TEMPLATES]


def test_a_public_plan_gives_no_offline_check_of_a_sensitive_value(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_emulator: Callable[..., EmulatorHandle],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The PR comment of the reproduction: every fp shown is keyed with the sandbox's plan key,
    so brute-forcing the code against them finds nothing; before the sandbox has a plan key,
    no fp is shown at all (and ``plan`` does not make one)."""
    acc = make_account("sandbox", tmp_path, monkeypatch, make_emulator)
    write(acc.root, "campaigns/promo.yaml", PROMO_SPEC)
    monkeypatch.setenv("PROMO", PROMO_CODE)
    key_file = acc.root / ".hoodsync" / "plan-key"

    code, comment, err = cli(capsys, "plan", "--format", "markdown")
    assert code == 0, err
    assert comment.count("(sensitive ${env:PROMO})") == 3 and "fp " not in comment
    assert not key_file.exists()

    assert cli(capsys, "plan", "--out", "saved.json")[0] == 0  # makes the plan key
    assert key_file.exists()
    code, comment, err = cli(capsys, "plan", "--format", "markdown")
    assert code == 0, err
    shown = re.findall(r"fp ([0-9a-f]{4})\)", comment)
    assert len(shown) == 3 and not set(shown) & set(_unkeyed(PROMO_CODE))
    found = [
        c
        for c in (f"{i:06d}" for i in range(480_000, 485_000))
        if all(fp in shown for fp in _unkeyed(c))
    ]
    assert found == []  # the reproduction's brute force, over a range holding the code
    # The saved plan stores 32 keyed digits per field; what the comment shows is their start.
    [change] = json.loads((acc.root / "saved.json").read_text())["changes"]
    stored = [s["fp"] for s in change["sensitive"]]
    assert all(re.fullmatch(r"[0-9a-f]{32}", fp) for fp in stored)
    assert sorted(fp[:4] for fp in stored) == sorted(shown)
    code, again, _ = cli(capsys, "plan", "--format", "markdown")
    assert re.findall(r"fp ([0-9a-f]{4})\)", again) == shown  # one value, one fp


def test_one_value_shows_another_fingerprint_in_another_account(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_emulator: Callable[..., EmulatorHandle],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A real account's fps are keyed with its token: the same value under another account's
    token shows other fps, and neither is a hash anyone could take of a guess."""
    acc = make_account("emulator", tmp_path, monkeypatch, make_emulator)
    write(acc.root, "campaigns/promo.yaml", PROMO_SPEC)
    monkeypatch.setenv("PROMO", PROMO_CODE)

    def fps() -> list[str]:
        code, out, err = cli(capsys, "plan", "--format", "json")
        assert code == 0, err
        return re.findall(r"fp ([0-9a-f]{4})\)", out)

    first = fps()
    other = make_emulator(**FAST)
    monkeypatch.setenv("HOOD_API_URL", other.hood_url)
    monkeypatch.setenv("HOOD_API_TOKEN", other.hood_token)
    second = fps()
    assert len(first) == len(second) == 3 and first != second
    assert not (set(first) | set(second)) & set(_unkeyed(PROMO_CODE))


PUSH_TASK = """\
kind: PushTask
key: task
spec:
  name: "Task ${env:PROMO}"
  start_time: immediately
  frequency: 86400
  message:
    title: {en: Good morning}
    landing_url: https://example.com/news
"""


def test_an_interpolated_name_is_not_in_operations_errors_or_logs(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_emulator: Callable[..., EmulatorHandle],
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Every create's answer is lost after it committed (the outcome is unknown and looked
    for, which is logged), and one email campaign is refused (its name is too long): neither
    the log lines nor the failure in the result table may carry the resolved name."""
    caplog.set_level(logging.INFO)
    acc = make_account("emulator", tmp_path, monkeypatch, make_emulator, drop_after_commit_rate=1.0)
    monkeypatch.setenv("HOODSYNC_SETTLE_WINDOW", "1")
    monkeypatch.setenv("PROMO", "LEAKME42")
    write(acc.root, "t/task.yaml", PUSH_TASK)
    write(acc.root, "e/mail.yaml", email_yaml("mail", '"Mail ${env:PROMO}"'))
    write(acc.root, "e/long.yaml", email_yaml("long", '"${env:PROMO}' + "x" * 300 + '"'))
    code, out, err = cli(capsys, "apply", "--auto-approve")
    assert code == 1  # the long name is refused; the rest is applied
    assert "email_campaign.long" in out and "create email campaign" in out + err
    assert "outcome unknown" in caplog.text  # the lost answers really were logged
    for where, text in {"output": out + err, "logs": caplog.text}.items():
        assert "LEAKME42" not in text, where
    with acc.remote() as remote:
        tasks = remote.hood.get("/push-tasks").json()["items"]
    assert [t["name"] for t in tasks] == ["Task LEAKME42"]  # created once, by its real name


@pytest.mark.parametrize("draft", [False, True])
def test_duplicates_of_an_interpolated_name_are_retired_with_the_name_masked(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_emulator: Callable[..., EmulatorHandle],
    capsys: pytest.CaptureFixture[str],
    draft: bool,
) -> None:
    """Two campaigns carry one definition's marker and its name comes from ``${env:CODE}``:
    ``--resolve-duplicates`` retires the newer (a cancel, or a rename for a draft), and every
    copy's name holds the value, so the plan shows it masked."""
    acc = make_account("emulator", tmp_path, monkeypatch, make_emulator)
    monkeypatch.setenv("CODE", "987654")
    promo = campaign_yaml("dupk", "Promo").replace("name: Promo", 'name: "Promo ${env:CODE}"')
    write(acc.root, "c/promo.yaml", promo)
    code, out, err = cli(capsys, "apply", "--auto-approve")
    assert code == 0, out + err
    with acc.remote() as remote:
        [first] = remote.campaigns()
        copy = {k: first[k] for k in ("name", "metadata", "messages")}
        remote.hood_post("/campaigns", {**copy, "is_draft": draft})
    code, out, err = cli(capsys, "plan", "--resolve-duplicates", "--no-color")
    assert code == 0, err
    assert "duplicate of id" in out
    assert "987654" not in out + err
    if draft:  # released and renamed: the rename is shown, masked
        assert re.search(r'~ name += "\(sensitive \$\{env:CODE\}, fp [0-9a-f]{4}\)"', out), out


def test_a_saved_create_refuses_when_its_interpolated_name_now_exists(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_emulator: Callable[..., EmulatorHandle],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A push task is matched by its name. Made in the UI after the plan was saved, a task of
    the same (resolved) name makes the saved create stale, as it does for a written name: the
    plan's masked name is not what the server holds."""
    acc = make_account("emulator", tmp_path, monkeypatch, make_emulator)
    monkeypatch.setenv("PROMO", "X1")
    write(acc.root, "t/task.yaml", PUSH_TASK)
    assert cli(capsys, "plan", "--out", "p.json")[0] == 0
    with acc.remote() as remote:
        body = {"name": "Task X1", "start_time": "immediately", "frequency": 86400}
        body["message"] = {"title": {"en": "Hi"}, "landing_url": "https://example.com"}
        remote.hood_post("/push-tasks", body)
    code, _, err = cli(capsys, "apply", "--plan", "p.json", "--auto-approve")
    assert code == 1 and "push_task.task (now exists)" in err and "X1" not in err
    with acc.remote() as remote:
        assert len(remote.push_tasks()) == 1


BUTTONS = """\
kind: PushTask
key: task
state: inactive
spec:
  name: Buttons
  start_time: immediately
  frequency: 86400
  message:
    title: {en: Hi}
    landing_url: https://example.com
    actions:
%s
"""
CODE_BUTTON = """\
      - title: {en: Code}
        url: "https://example.com/?c=${env:PROMO}"
"""
PLAIN_BUTTON = """\
      - title: {en: Plain}
        url: https://example.com/plain
"""


def test_reordered_buttons_never_show_the_secret_on_the_accounts_side(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_emulator: Callable[..., EmulatorHandle],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Buttons are compared by position: swapped, the account's first button is the one whose
    URL holds the secret, compared with the definition's plain first button."""
    acc = make_account("sandbox", tmp_path, monkeypatch, make_emulator)
    monkeypatch.setenv("PROMO", "LEAKME42")
    write(acc.root, "t/task.yaml", BUTTONS % (CODE_BUTTON + PLAIN_BUTTON).rstrip("\n"))
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    write(acc.root, "t/task.yaml", BUTTONS % (PLAIN_BUTTON + CODE_BUTTON).rstrip("\n"))
    for fmt in ("text", "json", "markdown"):
        code, out, err = cli(capsys, "plan", "--format", fmt)
        assert code == 0 and "LEAKME42" not in out + err, fmt
        assert "actions[0].url" in out or "actions" in out  # the change is still shown
    assert cli(capsys, "plan", "--out", "p.json", "--preview", "p.html")[0] == 0
    assert "LEAKME42" not in (acc.root / "p.json").read_text()
    assert "LEAKME42" not in (acc.root / "p.html").read_text()
    assert cli(capsys, "apply", "--plan", "p.json", "--auto-approve")[0] == 0
    code, out, _ = cli(capsys, "plan")
    assert code == 0 and "No changes." in out


def test_pull_never_writes_a_secret_from_reordered_or_extra_buttons(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_emulator: Callable[..., EmulatorHandle],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Buttons are aligned by position. Swapped in git, the account's first button is the one
    whose URL holds the secret; with a third button added in the account, its extra button
    may hold an old one. Pull writes neither, nor half of the array (a title paired with
    another button's URL)."""
    acc = make_account("sandbox", tmp_path, monkeypatch, make_emulator)
    monkeypatch.setenv("PROMO", "LEAKME42")
    path = write(acc.root, "t/task.yaml", BUTTONS % (CODE_BUTTON + PLAIN_BUTTON).rstrip("\n"))
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    with acc.remote() as remote:
        [task] = remote.push_tasks()
        actions = [
            *task["message"]["actions"],
            {"title": {"en": "Extra"}, "url": "https://x.example"},
        ]
        remote.hood.patch(
            f"/push-tasks/{task['id']}", json={"message": {**task["message"], "actions": actions}}
        )
    for edited in (PLAIN_BUTTON + CODE_BUTTON, CODE_BUTTON + PLAIN_BUTTON):
        text = BUTTONS % edited.rstrip("\n")
        path.write_text(text)
        code, out, err = cli(capsys, "pull")
        assert code == 1 and "LEAKME42" not in out + err, edited
        assert "not written" in err or "not added" in err
        assert path.read_text() == text  # the array is left as the definition wrote it


def test_pull_never_writes_an_old_secret_from_labels(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_emulator: Callable[..., EmulatorHandle],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Labels are aligned as a multiset: the account's label beside an interpolated one may
    be its old value."""
    acc = make_account("sandbox", tmp_path, monkeypatch, make_emulator)
    monkeypatch.setenv("L", "OLDSECRET1")
    path = write(acc.root, "c/p.yaml", campaign_yaml("p", "P", labels='[b, "${env:L}"]'))
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    with acc.remote() as remote:
        found = remote.campaign("P")
        assert remote.hood.patch(f"/campaigns/{found['id']}", json={"labels": ["OLDSECRET1", "c"]})
    monkeypatch.setenv("L", "NEWSECRET2")
    for args in (("pull", "--check"), ("pull", "--dry-run"), ("pull",)):
        code, out, err = cli(capsys, *args)
        assert "OLDSECRET1" not in out + err, args
    assert "OLDSECRET1" not in path.read_text()


MSGS = """\
kind: Campaign
key: p
spec:
  name: P
  labels: [a]
  scheduled_time: "2030-01-01 10:00:00"
  ab_test:
    test_split: 30
    winning_metric: click_rate
    evaluation_window: 1D
    winner_delivery_mode: automatic
  messages:
    - name: other
      channel: push
      push:
        title: {en: Something else entirely}
        body: {en: Different words}
        landing_url: "https://other.example/"
%s
"""
SECRET_MSG = """\
    - name: promo
      channel: push
      push:
        title: {en: Summer deal}
        body: {en: Thanks for subscribing}
        landing_url: "https://example.com/?c=${env:PROMO}"
"""
PLAIN_MSG = """\
    - name: plain
      channel: push
      push:
        title: {en: Summer deal}
        body: {en: Thanks for subscribing}
        landing_url: "https://example.com/plain"
"""


@pytest.mark.parametrize(
    "case", ["current_renamed_edited", "rotated_renamed_edited", "rotated_pair_other"]
)
def test_pull_never_writes_a_secret_from_a_renamed_message(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_emulator: Callable[..., EmulatorHandle],
    capsys: pytest.CaptureFixture[str],
    case: str,
) -> None:
    """A message renamed (and edited) in the account is paired by likeness or added whole:
    its URL may hold the secret, current or old."""
    acc = make_account("sandbox", tmp_path, monkeypatch, make_emulator)
    monkeypatch.setenv("PROMO", "LEAKME42")
    body = SECRET_MSG if case != "rotated_pair_other" else PLAIN_MSG + SECRET_MSG
    path = write(acc.root, "c/p.yaml", MSGS % body.rstrip("\n"))
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    with acc.remote() as remote:
        found = remote.campaign("P")
        messages = found["messages"]
        promo = next(m for m in messages if m["name"] == "promo")
        promo["name"] = "promo-2"
        if case == "current_renamed_edited":
            promo["push"]["title"]["en"] = "Winter deal"
            promo["push"]["landing_url"] = "https://example.com/?utm=x&c=LEAKME42"
        elif case == "rotated_renamed_edited":
            promo["push"]["title"]["en"] = "Winter deal"
        else:
            messages[:] = [promo]  # plain removed, promo renamed
        answer = remote.hood.patch(f"/campaigns/{found['id']}", json={"messages": messages})
        assert answer.status_code < 300, answer.text
    if case != "current_renamed_edited":
        monkeypatch.setenv("PROMO", "NEWVAL99")
    for args in (("pull", "--dry-run"), ("pull",)):
        code, out, err = cli(capsys, *args)
        assert "LEAKME42" not in out + err, args
    assert "LEAKME42" not in path.read_text()


NAMED_TASK = PUSH_TASK.replace("key: task", "key: named")


def test_pull_new_writes_neither_a_renamed_object_nor_a_secret(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_emulator: Callable[..., EmulatorHandle],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The variable in a push task's name changed: the task the account holds is unmanaged
    now, named with the old value. `pull --new` does not export it as a new definition (nor
    an unmanaged task whose name holds the variable's current value)."""
    acc = make_account("sandbox", tmp_path, monkeypatch, make_emulator)
    monkeypatch.setenv("PROMO", "LEAKME42")
    write(acc.root, "t/task.yaml", NAMED_TASK)
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    monkeypatch.setenv("PROMO", "NEWVAL99")
    with acc.remote() as remote:
        body = {"name": "Made by hand NEWVAL99", "start_time": "immediately", "frequency": 86400}
        body["message"] = {"title": {"en": "Hi"}, "landing_url": "https://example.com"}
        remote.hood_post("/push-tasks", body)
    code, out, err = cli(capsys, "pull", "--new", "new")
    assert code == 1
    for secret in ("LEAKME42", "NEWVAL99"):
        assert secret not in out + err
    written = [p.read_text() for p in (acc.root / "new").rglob("*.yaml")]
    assert not any("LEAKME42" in t or "NEWVAL99" in t for t in written)
    assert "differs from push_task.named in its name only" in err


@pytest.mark.parametrize("case", ["renamed_rewritten", "moved_edited"])
def test_pull_neither_adds_nor_drops_a_message_beside_interpolating_ones(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_emulator: Callable[..., EmulatorHandle],
    capsys: pytest.CaptureFixture[str],
    case: str,
) -> None:
    """A plain message moved or renamed in the account cannot be added back (it may be an old
    one of the interpolating messages): its old place is not removed either, or the next
    apply would delete the message from the live campaign."""
    acc = make_account("sandbox", tmp_path, monkeypatch, make_emulator)
    monkeypatch.setenv("PROMO", "LEAKME42")
    path = write(acc.root, "c/p.yaml", MSGS % (SECRET_MSG + PLAIN_MSG).rstrip("\n"))
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    with acc.remote() as remote:
        found = remote.campaign("P")
        messages = found["messages"]
        plain = next(m for m in messages if m["name"] == "plain")
        plain["push"]["title"]["en"] = "Autumn"
        if case == "renamed_rewritten":
            plain["name"] = "plain-2"
            plain["push"]["body"]["en"] = "Other"
            plain["push"]["landing_url"] = "https://example.com/autumn"
        else:
            messages.remove(plain)
            messages.insert(0, plain)
        answer = remote.hood.patch(f"/campaigns/{found['id']}", json={"messages": messages})
        assert answer.status_code < 300, answer.text
    before = path.read_text()
    code, _, err = cli(capsys, "pull")
    assert code == 1 and "not added" in err
    assert path.read_text().count("- name:") == before.count("- name:")
    assert "name: plain" in path.read_text()


@pytest.mark.parametrize("drift", ["title", "state"])
def test_pull_new_writes_no_old_secret_name_that_drifted_otherwise_too(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_emulator: Callable[..., EmulatorHandle],
    capsys: pytest.CaptureFixture[str],
    drift: str,
) -> None:
    acc = make_account("sandbox", tmp_path, monkeypatch, make_emulator)
    monkeypatch.setenv("PROMO", "LEAKME42")
    write(acc.root, "t/task.yaml", NAMED_TASK)
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    monkeypatch.setenv("PROMO", "NEWVAL99")
    with acc.remote() as remote:
        [task] = remote.push_tasks()
        title = {"title": {"en": "Changed by hand"}, "landing_url": "https://example.com/news"}
        patch = {"message": title} if drift == "title" else {"status": 0}
        assert remote.hood.patch(f"/push-tasks/{task['id']}", json=patch).status_code < 300
    for args in (("pull", "--new", "new", "--dry-run"), ("pull", "--new", "new")):
        code, out, err = cli(capsys, *args)
        assert "LEAKME42" not in out + err, args
    assert not any("LEAKME42" in p.read_text() for p in (acc.root / "new").rglob("*.yaml"))


NAMED_SECRET_MSG = """\
    - name: "promo ${env:PROMO}"
      channel: push
      push:
        title: {en: Summer deal}
        body: {en: Thanks for subscribing}
        landing_url: "https://example.com/x"
"""


def test_a_refused_message_does_not_hold_back_the_edits_of_the_others(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_emulator: Callable[..., EmulatorHandle],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A message's name comes from ${env:...}, which changed: that message is refused (its
    account copy holds the old value); a title edited in another message, paired by name,
    is still pulled."""
    acc = make_account("sandbox", tmp_path, monkeypatch, make_emulator)
    monkeypatch.setenv("PROMO", "LEAKME42")
    path = write(acc.root, "c/p.yaml", MSGS % (NAMED_SECRET_MSG + PLAIN_MSG).rstrip("\n"))
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    with acc.remote() as remote:
        found = remote.campaign("P")
        messages = found["messages"]
        next(m for m in messages if m["name"] == "other")["push"]["title"]["en"] = "Edited other"
        answer = remote.hood.patch(f"/campaigns/{found['id']}", json={"messages": messages})
        assert answer.status_code < 300, answer.text
    monkeypatch.setenv("PROMO", "NEWVAL99")
    code, out, err = cli(capsys, "pull")
    assert code == 1 and "LEAKME42" not in out + err
    text = path.read_text()
    assert "LEAKME42" not in text and "Edited other" in text


DESCRIBED = MSGS.replace("  labels: [a]\n", '  labels: [a]\n  description: "d ${env:PROMO}"\n')


def test_a_message_refused_for_holding_a_secret_keeps_its_old_place(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_emulator: Callable[..., EmulatorHandle],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Renamed in the account with the variable's value in its title: not added (it holds a
    secret), so its old place is not removed either."""
    acc = make_account("sandbox", tmp_path, monkeypatch, make_emulator)
    monkeypatch.setenv("PROMO", "LEAKME42")
    path = write(acc.root, "c/p.yaml", DESCRIBED % PLAIN_MSG.rstrip("\n"))
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    with acc.remote() as remote:
        found = remote.campaign("P")
        messages = found["messages"]
        plain = next(m for m in messages if m["name"] == "plain")
        plain["name"] = "plain-2"
        plain["push"].update(title={"en": "Code LEAKME42"}, body={"en": "Other"})
        answer = remote.hood.patch(f"/campaigns/{found['id']}", json={"messages": messages})
        assert answer.status_code < 300, answer.text
    before = path.read_text()
    code, out, err = cli(capsys, "pull")
    after = path.read_text()
    assert code == 1 and "LEAKME42" not in out + err + after
    assert after.count("- name:") == before.count("- name:")


def test_a_variables_value_is_not_written_into_another_definition(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_emulator: Callable[..., EmulatorHandle],
    capsys: pytest.CaptureFixture[str],
) -> None:
    acc = make_account("sandbox", tmp_path, monkeypatch, make_emulator)
    monkeypatch.setenv("PROMO", "LEAKME42")
    write(acc.root, "c/a.yaml", campaign_yaml("a", "A", labels='[b, "${env:PROMO}"]'))
    other = write(acc.root, "c/b.yaml", campaign_yaml("b", "B"))
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    with acc.remote() as remote:
        found = remote.campaign("B")
        labels = {"labels": ["a", "LEAKME42"]}
        assert remote.hood.patch(f"/campaigns/{found['id']}", json=labels).status_code < 300
    code, out, err = cli(capsys, "pull")
    assert code == 1 and "LEAKME42" not in out + err + other.read_text()


@pytest.mark.parametrize("value, twice", [("LEAKME42", True), ("172800", False)])
def test_pull_new_looks_for_a_variables_value_in_comments_and_numbers(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_emulator: Callable[..., EmulatorHandle],
    capsys: pytest.CaptureFixture[str],
    value: str,
    twice: bool,
) -> None:
    """Two tasks of one name are exported commented out, their names in the comments; a
    number holds the value as well as a string would."""
    acc = make_account("sandbox", tmp_path, monkeypatch, make_emulator)
    monkeypatch.setenv("PROMO", value)
    write(acc.root, "t/task.yaml", NAMED_TASK)
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    name, every = ("Hand LEAKME42", 86400) if twice else ("Hand", 172800)
    with acc.remote() as remote:
        for _ in range(2 if twice else 1):
            body = {"name": name, "start_time": "immediately", "frequency": every}
            body["message"] = {"title": {"en": "Hi"}, "landing_url": "https://example.com"}
            remote.hood_post("/push-tasks", body)
    code, out, err = cli(capsys, "pull", "--new", "new")
    assert code == 1 and "holds the value of ${env:PROMO}" in err
    assert not any(value in p.read_text() for p in (acc.root / "new").rglob("*.yaml"))


@pytest.mark.parametrize(
    "name, value, url, pulled",
    [
        # SITE is used by campaign a; campaign b writes example.com itself, as a word.
        ("SITE", "example.com", "https://example.com/summer", True),
        # PIN=2030 is only inside b's literal date: still a secret in b's file.
        ("PIN", "2030", "https://example.com/?pin=2030", False),
    ],
)
def test_a_value_another_definition_interpolates_is_pulled_only_where_written_as_a_word(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_emulator: Callable[..., EmulatorHandle],
    capsys: pytest.CaptureFixture[str],
    name: str,
    value: str,
    url: str,
    pulled: bool,
) -> None:
    acc = make_account("sandbox", tmp_path, monkeypatch, make_emulator)
    monkeypatch.setenv(name, value)
    write(acc.root, "c/a.yaml", campaign_yaml("a", "A", labels=f'[a, "${{env:{name}}}"]'))
    other = write(acc.root, "c/b.yaml", campaign_yaml("b", "B"))
    assert value in other.read_text()
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    with acc.remote() as remote:
        found = remote.campaign("B")
        messages = found["messages"]
        messages[0]["push"]["landing_url"] = url
        answer = remote.hood.patch(f"/campaigns/{found['id']}", json={"messages": messages})
        assert answer.status_code < 300
    code, out, err = cli(capsys, "pull")
    assert (code, url in other.read_text()) == ((0, True) if pulled else (1, False)), (out, err)
    if not pulled:
        assert f"${{env:{name}}}" in err


def test_a_number_holds_a_variables_value_only_when_it_is_that_value(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_emulator: Callable[..., EmulatorHandle],
    capsys: pytest.CaptureFixture[str],
) -> None:
    acc = make_account("sandbox", tmp_path, monkeypatch, make_emulator)
    monkeypatch.setenv("CODE", "2000")
    write(acc.root, "c/a.yaml", campaign_yaml("a", "A", labels='[a, "${env:CODE}"]'))
    task = write(acc.root, "t/task.yaml", PUSH_TASK.replace("${env:PROMO}", "plain"))
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    with acc.remote() as remote:
        [found] = remote.push_tasks()
        assert (
            remote.hood.patch(f"/push-tasks/{found['id']}", json={"frequency": 12000}).status_code
            < 300
        )
    code, out, err = cli(capsys, "pull")
    assert code == 0, (out, err)
    assert "frequency: 12000" in task.read_text()


def test_an_escaped_reference_is_sent_as_written_and_plans_clean_after(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_emulator: Callable[..., EmulatorHandle],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``$${env:PROMO}`` is the text ``${env:PROMO}``: apply resolves step bodies as templates,
    so the plan must hold it escaped, or apply would send the variable's value (and every plan
    after would show drift)."""
    acc = make_account("emulator", tmp_path, monkeypatch, make_emulator)
    monkeypatch.setenv("PROMO", PROMO)
    spec = campaign_yaml("promo", "Promo").replace(
        "  labels: [a, b]\n", '  labels: [a, b]\n  description: "Only $${env:PROMO} today"\n'
    )
    write(acc.root, "c/promo.yaml", spec)
    for argv in (("apply", "--auto-approve"), ("apply", "--auto-approve", "--plan", "p.json")):
        if "--plan" in argv:  # the same through a saved plan, after an edit
            write(acc.root, "c/promo.yaml", spec.replace("today", "tonight"))
            assert cli(capsys, "plan", "--out", "p.json")[0] == 0
        code, out, err = cli(capsys, *argv)
        assert code == 0, err
        with acc.remote() as remote:
            (campaign,) = remote.campaigns()
        assert campaign["description"].startswith("Only ${env:PROMO} to"), campaign
        assert PROMO not in json.dumps(campaign)
        code, out, err = cli(capsys, "plan", "--detailed-exitcode")
        assert code == 0, out


# ------------------------------------------------------------ a credential under another name


def test_a_credential_reached_through_another_variable_is_refused_before_any_request(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_emulator: Callable[..., EmulatorHandle],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``PROMO`` set to the account's token (or to text holding it, or to another account's
    key) and interpolated: before, only the credential variables' names were refused, and
    apply sent the token to every recipient in the push task's title."""
    acc = make_account("emulator", tmp_path, monkeypatch, make_emulator)
    assert acc.emulator is not None
    token = acc.emulator.hood_token
    write(
        acc.root,
        "hoodsync.yaml",
        "accounts:\n  default: {paths: [c/]}\n  other: {hood: {token_env: OTHER_TOKEN}, "
        "paths: [o/]}\n",
    )
    (acc.root / "o").mkdir()
    write(
        acc.root,
        "c/t.yaml",
        campaign_yaml("promo", "Promo").replace("{en: Hello Promo}", '{en: "Code ${env:PROMO}"}'),
    )
    other_token = "hood_other-account-token-4b1f"
    for value in (token, f"ask for {token} now", other_token):
        monkeypatch.setenv("OTHER_TOKEN", other_token)
        monkeypatch.setenv("PROMO", value)
        for argv in (("plan",), ("apply", "--auto-approve")):
            code, out, err = cli(capsys, *argv, "--account", "default")
            assert (code, out) == (1, "")
            assert err.startswith(
                "c/t.yaml:11:17: error: PROMO holds an API credential; it cannot be "
                "interpolated into a definition"
            ), err
            assert token not in err and other_token not in err
    with acc.remote() as remote:
        assert remote.campaigns() == []
    # A saved plan made while PROMO held something else is refused the same way once it
    # holds the token, before anything is sent.
    monkeypatch.setenv("PROMO", "SPRING25")
    assert cli(capsys, "plan", "--account", "default", "--out", "p.json")[0] == 0
    monkeypatch.setenv("PROMO", token)
    code, out, err = cli(capsys, "apply", "--plan", "p.json", "--auto-approve")
    assert code == 1 and "PROMO holds an API credential" in err and token not in out + err
    with acc.remote() as remote:
        assert remote.campaigns() == []
