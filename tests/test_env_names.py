"""Names that become one once ``${env:...}`` is resolved: push tasks and email campaigns are
matched by name, so two definitions whose names differ as written (``validate`` passes) but
resolve to one name (or to names alike to the eye) would both be created — two push tasks
starting immediately send twice — and every later plan would be an ambiguity error. ``plan``,
``apply`` and ``apply --plan`` refuse them, every collision at once, before any account is read,
naming the templates and never a value."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from test_cli_plan import Account, cli, emulated, write  # noqa: F401
from test_cli_projects import Recorder

SECRET = "Qx7-ZEBRA"  # what the variables hold: never printed

DEFINITIONS = """\
kind: PushTask
key: promo-a
state: active
spec:
  name: "Promo ${env:CODE_A}"
  start_time: immediately
  message: {title: {en: Promo}, body: {en: Use your code}, landing_url: https://example.com}
---
kind: PushTask
key: promo-b
state: active
spec:
  name: "Promo ${env:CODE_B}"
  start_time: immediately
  message: {title: {en: Promo}, body: {en: Use your code}, landing_url: https://example.com}
---
kind: EmailCampaign
key: mail-a
state: active
spec:
  name: "Mail ${env:CODE_A}"
  template_ids: [3c90c3cc-0d44-4b50-8888-8dd25736052a]
  mail_account_ids: [8f14e45f-ceea-467f-a0e6-1b2d3c4d5e6f]
  events: [contact.saved]
---
kind: EmailCampaign
key: mail-b
state: active
spec:
  name: "Mail ${env:CODE_B}"
  template_ids: [0b7e6c52-3f1a-4d8e-9c2b-5a6f7e8d9c01]
  mail_account_ids: [8f14e45f-ceea-467f-a0e6-1b2d3c4d5e6f]
  events: [lead.created]
"""


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    server = Recorder()
    yield server
    server.close()


@pytest.mark.parametrize(
    "value_b",
    [SECRET, SECRET.replace("E", "\u0415")],  # the same value; one with a Cyrillic Е
    ids=["same", "alike"],
)
@pytest.mark.parametrize("command", [("plan",), ("apply", "--auto-approve")])
def test_names_that_resolve_to_one_are_refused_before_any_request(
    tmp_path: Path,
    recorder: Recorder,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: tuple[str, ...],
    value_b: str,
) -> None:
    # Before: validate passed, plan showed four creates, and apply made two push tasks that
    # both sent immediately and two live email campaigns of one name.
    (tmp_path / ".git").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOOD_API_URL", recorder.url + "/v1/hood")
    monkeypatch.setenv("HOOD_API_TOKEN", "hood_5F6C7sKStBQ1JrjvUUFSnaZixxJRnLfK")
    monkeypatch.setenv("FALCONYTE_API_URL", recorder.url + "/public/v1")
    monkeypatch.setenv("FALCONYTE_API_KEY", "fy_5F6C7sKStBQ1JrjvUUFSnaZixxJRnLfK")
    monkeypatch.setenv("CODE_A", SECRET)
    monkeypatch.setenv("CODE_B", value_b)
    write(tmp_path, "d.yaml", DEFINITIONS)
    assert cli(capsys, "validate")[0] == 0  # distinct as written

    code, out, err = cli(capsys, *command)
    assert code == 1 and out == ""
    lines = err.splitlines()
    outcome = (
        "the same name"
        if value_b == SECRET
        else "names that differ only in characters that look alike"
    )
    assert [line.split(" resolve to ")[0] for line in lines[:-1]] == [
        'd.yaml:13:3: error: names "Promo ${env:CODE_B}" of push_task.promo-b and '
        '"Promo ${env:CODE_A}" of push_task.promo-a (at d.yaml:5:3)',
        'd.yaml:30:3: error: names "Mail ${env:CODE_B}" of email_campaign.mail-b and '
        '"Mail ${env:CODE_A}" of email_campaign.mail-a (at d.yaml:21:3)',
    ], err
    assert all(f" resolve to {outcome}: " in line for line in lines[:-1])
    assert lines[-1].startswith("2 error(s) in 1 file(s)")
    assert "ZEBRA" not in err and "Z\u0415BRA" not in err  # the value is a secret
    assert recorder.requests == []


def test_each_account_has_its_own_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """One resolved name in two accounts is no collision: each matches its own objects."""
    (tmp_path / ".git").mkdir()
    monkeypatch.chdir(tmp_path)
    for var in ("HOOD_API_URL", "HOOD_API_TOKEN", "FALCONYTE_API_URL", "FALCONYTE_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CODE_A", SECRET)
    monkeypatch.setenv("CODE_B", SECRET)
    write(
        tmp_path,
        "hoodsync.yaml",
        "accounts:\n  a: {hood: {url: sandbox}, paths: [a/]}\n"
        "  b: {hood: {url: sandbox}, paths: [b/]}\n",
    )
    tasks = DEFINITIONS.split("---\n")
    write(tmp_path, "a/t.yaml", tasks[0])
    write(tmp_path, "b/t.yaml", tasks[1])
    code, out, err = cli(capsys, "plan", "--no-color")
    assert code == 0, err
    assert out.count("will be created") == 2


def test_a_saved_plan_whose_names_resolve_to_one_is_refused_before_any_request(
    emulated: Account, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A saved plan made by a hoodsync that did not check the names (simulated by switching
    the check off while it is made) holds both creates; ``apply --plan`` resolves the names
    again and refuses it. Before: both push tasks and both email campaigns were created."""
    monkeypatch.setenv("CODE_A", SECRET)
    monkeypatch.setenv("CODE_B", SECRET)
    write(emulated.root, "d.yaml", DEFINITIONS)
    with monkeypatch.context() as older:
        older.setattr("hoodsync.planner.name_problems", lambda desired: [], raising=False)
        code, _, err = cli(capsys, "plan", "--out", "p.json")
    assert code == 0, err
    # Made stale since: were the account read first, the plan would be refused as stale.
    with emulated.remote() as remote:
        task = {"name": "Other", "start_time": "2036-01-01 12:00:00", "frequency": 3600}
        task["message"] = {"title": {"en": "T"}, "body": {"en": "B"}}
        remote.hood_post("/push-tasks", task)
        [made] = remote.push_tasks()

    code, out, err = cli(capsys, "apply", "--plan", "p.json", "--auto-approve")
    assert code == 1 and "Apply complete" not in out
    problems = [line for line in err.splitlines() if line.startswith("p.json")]
    assert problems == [  # one place (the saved plan): in the order of their messages
        'p.json:1:1: error: email_campaign.mail-b: names "Mail ${env:CODE_B}" of '
        'email_campaign.mail-b and "Mail ${env:CODE_A}" of email_campaign.mail-a resolve to '
        "the same name: EmailCampaign objects are matched by name, so both would be created; "
        "make a new plan",
        'p.json:1:1: error: push_task.promo-b: names "Promo ${env:CODE_B}" of '
        'push_task.promo-b and "Promo ${env:CODE_A}" of push_task.promo-a resolve to the '
        "same name: PushTask objects are matched by name, so both would be created; make a "
        "new plan",
    ], err
    assert err.splitlines()[-1].endswith("nothing was sent anywhere.")
    assert "ZEBRA" not in err
    with emulated.remote() as remote:
        assert remote.push_tasks() == [made] and remote.email_campaigns() == []
