"""A saved plan is applied once: its apply records the plan's identity (the MAC of its seal) in
the journal's ``start`` line, and ``apply --plan`` refuses a plan a journal of the project
records as applied, in whole or in part (:func:`hoodsync.recovery.applied_before`). An apply
that sent nothing does not spend it. Against the emulator over loopback; nothing sleeps."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from test_cli_apply import rows
from test_cli_plan import Account, cli, emulated, write
from test_saved_plan_fresh import push_yaml

from hoodsync import engine
from hoodsync.apply import Result
from hoodsync.hooks import NoHooks
from hoodsync.journal import read_journal
from hoodsync.recovery import applied_before


def journal_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def journals(account: Account) -> list[Path]:
    return sorted((account.root / ".hoodsync" / "journal").glob("*.jsonl"))


def seal_of(account: Account, plan_file: str) -> str:
    return str(json.loads((account.root / plan_file).read_text())["seal"]["mac"])


def push_task_names(account: Account) -> list[str]:
    with account.remote() as remote:
        return sorted(t["name"] for t in remote.push_tasks())


def test_a_saved_plan_applied_then_renamed_in_the_ui_is_not_applied_again(
    emulated: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    """The saved plan creates push task "RT daily" and is applied; the task is renamed through
    the API; the same plan applied again was a second push task beside it, both sending
    ("Apply complete: 1 applied"). The journal of the first apply records the plan, and the
    second is refused before anything is read or sent."""
    write(emulated.root, "p.yaml", push_yaml("rt-daily", "RT daily", state="active"))
    assert cli(capsys, "plan", "--out", "plan.json")[0] == 0
    code, out, err = cli(capsys, "apply", "--plan", "plan.json", "--auto-approve")
    assert code == 0, err
    [journal] = journals(emulated)
    with emulated.remote() as remote:
        [task] = remote.push_tasks()
        remote.hood_patch(f"/push-tasks/{task['id']}", {"name": "RT daily (renamed in UI)"})

    code, out, err = cli(capsys, "apply", "--plan", "plan.json", "--auto-approve")
    assert (code, out) == (1, ""), out
    assert journal_lines(journal)[0]["saved_plan"] == seal_of(emulated, "plan.json")
    shown = journal.relative_to(emulated.root)
    assert err.startswith("error: plan.json was applied at 20")
    assert (
        f" UTC (journal {shown}): a saved plan is applied once; nothing was sent. Make a new "
        "plan (`hoodsync plan --out`) and review it\n"
    ) in err
    assert err.count("\n") == 1
    assert push_task_names(emulated) == ["RT daily (renamed in UI)"]
    assert journals(emulated) == [journal]  # refused before an apply journal was opened

    # The interactive path is refused the same way, before the question.
    code, out, err = cli(capsys, "apply", "--plan", "plan.json")
    assert code == 1 and "plan.json was applied at " in err and "Do you want" not in out


class StopsBefore(NoHooks):
    """Approves, then a Ctrl-C arrives before the first change starts."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop

    def apply_started(self, account: str, plan: Any) -> None:
        self.stop.set()


def test_a_saved_plan_whose_apply_sent_nothing_can_be_applied(
    emulated: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    """An apply of the saved plan stopped before its first change (a Ctrl-C once the journal
    is open): its journal records the plan but no call, so the plan is not spent."""
    write(emulated.root, "p.yaml", push_yaml("digest", "Digest", state="active"))
    assert cli(capsys, "plan", "--out", "plan.json")[0] == 0
    options = engine.ApplyOptions(plan_file=emulated.root / "plan.json")
    stop = threading.Event()
    assert engine.apply(options, StopsBefore(stop), stop) is False
    [journal] = journals(emulated)
    replay = read_journal(journal)
    assert replay is not None and replay.start["saved_plan"] == seal_of(emulated, "plan.json")
    assert not replay.sent and push_task_names(emulated) == []

    code, out, err = cli(capsys, "apply", "--plan", "plan.json", "--auto-approve")
    assert code == 0, err
    assert rows(out)["push_task.digest"][:2] == ("create", "applied")
    assert push_task_names(emulated) == ["Digest"]


class StopsAfter(NoHooks):
    """Approves; a Ctrl-C arrives once the change ``after`` has finished."""

    def __init__(self, after: str, stop: threading.Event) -> None:
        self.after, self.stop = after, stop

    def change_finished(self, account: str, result: Result, done: int, total: int) -> None:
        if result.address == self.after:
            self.stop.set()


def test_a_saved_plan_applied_in_part_is_refused_and_the_next_plan_finishes_it(
    emulated: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    """The saved plan creates "First" (wave 0) and "Second" (wave 1); its apply is
    interrupted after the first. Applied again it is refused, saying it was applied in part
    (what went through would otherwise be judged anew against a plan that no longer
    describes the account); the next plan finishes the job, as after any interrupted apply."""
    write(emulated.root, "a.yaml", push_yaml("first", "First", state="inactive"))
    second = push_yaml("second", "Second", state="inactive").replace(
        "key: second\n", "key: second\norder: 1\n"
    )
    write(emulated.root, "b.yaml", second)
    assert cli(capsys, "plan", "--out", "plan.json")[0] == 0
    options = engine.ApplyOptions(plan_file=emulated.root / "plan.json")
    stop = threading.Event()
    assert engine.apply(options, StopsAfter("push_task.first", stop), stop) is False
    assert push_task_names(emulated) == ["First"]

    code, out, err = cli(capsys, "apply", "--plan", "plan.json", "--auto-approve")
    assert (code, out) == (1, "")
    assert "plan.json was applied in part at " in err
    assert (
        "the next plan finishes what that apply left undone): a saved plan is applied once" in err
    )
    assert push_task_names(emulated) == ["First"]

    code, out, err = cli(capsys, "apply", "--auto-approve")
    assert code == 0, err
    assert list(rows(out)) == ["push_task.second"]
    assert push_task_names(emulated) == ["First", "Second"]


def _journal(folder: Path, *lines: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"20261205T200100.000000Z-{len(list(folder.iterdir())) + 100}-default.jsonl"
    start = {"ts": 1796500860.0, "event": "start", "account": "default", "changes": 1}
    path.write_text("".join(json.dumps({**x, "ts": 1796500861.0}) + "\n" for x in [start, *lines]))
    return path


def _intent() -> dict[str, Any]:
    return {"event": "intent", "address": "push_task.a", "op": "create", "step": 0, "of": 1}


def _result(status: str, **extra: Any) -> dict[str, Any]:
    return {"event": "result", "address": "push_task.a", "op": "create", "status": status, **extra}


@pytest.mark.parametrize(
    ("lines", "sent"),
    [
        ([], False),  # stopped before any change
        ([{"event": "skipped", "address": "push_task.a", "reason": "interrupted"}], False),
        # refused before it was sent (a time that passed): no intent, a failure not done
        ([_result("failed", not_done=True)], False),
        ([_intent(), _result("failed", not_done=True)], False),  # sent, refused by the API
        ([_intent()], True),  # the intent is written and the process died: it may have been sent
        ([_intent(), _result("unknown")], True),
        ([_intent(), _result("failed")], True),  # failed in a way that may have taken effect
        ([_intent(), _result("ok", id="7")], True),
    ],
)
def test_an_apply_spends_its_saved_plan_when_it_may_have_sent_something(
    tmp_path: Path, lines: list[dict[str, Any]], sent: bool
) -> None:
    """What a journal of the plan's apply says decides: a call that took effect or may have
    (answered, failed without being known not to be done, never answered) spends the plan; a
    journal that only says nothing was sent does not. Journals of other plans never count."""
    folder = tmp_path / "journal"
    _journal(folder, *lines)
    _journal(folder, {"event": "intent", "address": "push_task.a", "op": "create"})  # no plan
    path = _journal(folder, *lines)
    text = path.read_text().replace('"event": "start"', '"event": "start", "saved_plan": "abc"', 1)
    path.write_text(text)
    assert (read_journal(path) or pytest.fail()).sent is sent
    found = applied_before(folder, "abc")
    assert (found is not None) is sent
    assert applied_before(folder, "abd") is None
    if found is not None:
        done = lines[-1].get("status") == "ok"
        assert found.startswith("was applied at " if done else "was applied in part at ")
        assert f"(journal {path}" in found
