"""After an interrupted apply (hoodsync.recovery): the next plan and apply read the account's
journal. Creates sent without an answer are waited for, not sent again; a campaign hoodsync
paused for an edit and never resumed is resumed; hoodsync's own unfinished change is not called
drift. And SIGTERM stops an apply the way Ctrl-C does.

Everything runs against the emulator over loopback; the "interrupted" applies are real ones,
stopped at once by two interrupts (in-process) or by signals (a subprocess), or cut off by a
full disk; the waits run on a fake clock.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import EmulatorHandle, FakeClock
from test_cli_apply import (
    PAUSED,
    STOPPED,
    SwitchableLatency,
    apply_in_a_process,
    journals,
    lines,
    remote_campaigns,
    running_campaigns,
    slow,
    titled_campaign,
    until_journal_says,
)
from test_cli_plan import Account, cli, make_account, write

import hoodsync.remote.hood
from hoodsync import engine
from hoodsync.apply import Clients, Outcome, apply_plan
from hoodsync.engine import ApplyOptions, Recovery
from hoodsync.errors import NetworkError, StalePlanError
from hoodsync.hooks import NoHooks
from hoodsync.identity import ValueKey
from hoodsync.journal import (
    MAX_START_LINE,
    Journal,
    journal_files,
    journal_files_of,
    read_journal,
)
from hoodsync.model import Definition, Kind, Location
from hoodsync.plan import AccountInfo, Namesake, Plan
from hoodsync.recovery import Leftovers, Unfinished, amend, read_leftovers


class Hooks(NoHooks):
    """Engine hooks that keep the notices."""

    def __init__(self) -> None:
        self.notices: list[str] = []

    def notice(self, message: str) -> None:
        self.notices.append(message)


@pytest.fixture
def emulated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_emulator: Callable[..., EmulatorHandle]
) -> Account:
    return make_account("emulator", tmp_path, monkeypatch, make_emulator)


def ctrl_c_twice(journal_folder: Path) -> None:
    """From a worker thread of an in-process apply: Ctrl-C, and once the apply has taken it
    (its journal says so), Ctrl-C again: stop at once."""
    os.kill(os.getpid(), signal.SIGINT)
    for _ in range(1000):
        if any(STOPPED in p.read_text() for p in journal_folder.glob("*.jsonl")):
            break
        time.sleep(0.005)
    os.kill(os.getpid(), signal.SIGINT)


# ------------------------------------------------------------------ 1. creates on the wire


class HeldCreates:
    """Stands in for the server's side of creates that are on the wire when the apply stops:
    each create call records its body and is held until the test lets it end; the server has
    not seen it yet. ``commit(name)`` then makes the server commit it late (the request
    reached it after all); the others never arrive."""

    def __init__(self, acc: Account, expected: int) -> None:
        self.acc = acc
        self.expected = expected
        self.bodies: dict[str, dict[str, Any]] = {}
        self.release = threading.Event()
        self.lock = threading.Lock()

    def create(self, client: Any, body: Any, **kwargs: Any) -> Any:
        with self.lock:
            self.bodies[body["name"]] = dict(body)
            last = len(self.bodies) == self.expected
        if last:  # every create is on the wire: Ctrl-C twice
            ctrl_c_twice(self.acc.root / ".hoodsync" / "journal")
        self.release.wait(10)
        raise NetworkError("the connection was lost")

    def commit(self, name: str) -> None:
        with self.acc.remote() as remote:
            remote.hood_post("/campaigns", self.bodies[name])


def stop_with_creates_on_the_wire(
    acc: Account,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    n: int,
    *paths: str,
) -> HeldCreates:
    """``apply PATHS`` (from the working directory as it is), stopped at once with ``n``
    creates on the wire; its journal is in ``acc.root``'s state folder."""
    held = HeldCreates(acc, n)
    real = hoodsync.remote.hood.HoodClient.create_campaign

    def create(client: Any, body: Any, **kwargs: Any) -> Any:
        return held.create(client, body, **kwargs)

    monkeypatch.setattr(hoodsync.remote.hood.HoodClient, "create_campaign", create)
    code, out, err = cli(capsys, "apply", "--auto-approve", "--parallelism", str(n), *paths)
    monkeypatch.setattr(hoodsync.remote.hood.HoodClient, "create_campaign", real)
    assert code == 1, (out, err)
    assert "Apply stopped at once (Ctrl-C twice)" in out
    assert out.count("create was in flight: its outcome is unknown") == n
    return held


def test_creates_an_interrupted_apply_sent_unanswered_are_waited_for_then_planned_once(
    emulated: Account, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ctrl-C twice with two creates on the wire. Re-running apply at once would send both
    again; one of them is committed by the server late. The re-run waits until the settle
    window has passed since the stopped apply's last line, says so, reads the account again:
    the late one is there, the other is simply missing and created. Each exists once."""
    write(emulated.root, "c/a.yaml", titled_campaign("a", "A"))
    write(emulated.root, "c/b.yaml", titled_campaign("b", "B"))
    held = stop_with_creates_on_the_wire(emulated, monkeypatch, capsys, 2)
    try:
        assert remote_campaigns(emulated) == []
        [stopped] = journals(emulated.root)
        last_line = lines(stopped)[-1]["ts"]
        clock = FakeClock(last_line + 2.0)  # re-run two seconds later

        def sleep(seconds: float) -> None:
            if not clock.sleeps:
                held.commit("Campaign a")  # while it waits, the server commits one late
            clock.sleep(seconds)

        hooks = Hooks()
        ok = engine.apply(ApplyOptions(), hooks, threading.Event(), clock=clock, sleep=sleep)
    finally:
        held.release.set()
    assert ok is True
    [notice] = hooks.notices
    assert notice.startswith(
        "Waiting 58 s before reading account 'default' again: 2 creates (campaign.a, "
        "campaign.b) sent by the apply of "
    )
    assert "Nothing is sent meanwhile; Ctrl-C stops here." in notice
    assert 57.9 < sum(clock.sleeps) <= 58.0 and max(clock.sleeps) <= 1.0
    assert [n for n, _, _ in remote_campaigns(emulated)] == ["Campaign a", "Campaign b"]
    newest = lines(journals(emulated.root)[0])
    assert [(x["address"], x["op"]) for x in newest if x["event"] == "intent"] == [
        ("campaign.b", "create")
    ]


def test_an_apply_that_skips_the_unanswered_creates_does_not_hide_them_from_the_next(
    emulated: Account, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Between the interrupted apply and the full re-run, an apply of another target writes
    the newest journal: the creates the interrupted one sent unanswered still count, for their
    own settle window, and the late commit is not created twice."""
    write(emulated.root, "c/a.yaml", titled_campaign("a", "A"))
    held = stop_with_creates_on_the_wire(emulated, monkeypatch, capsys, 1)
    try:
        [stopped] = journals(emulated.root)
        last_line = lines(stopped)[-1]["ts"]
        write(emulated.root, "c/b.yaml", titled_campaign("b", "B"))
        clock = FakeClock(last_line + 2.0)
        targeted = ApplyOptions(targets=("campaign.b",))
        assert engine.apply(targeted, Hooks(), threading.Event(), clock=clock, sleep=clock.sleep)
        clock.advance(2.0)

        def sleep(seconds: float) -> None:
            if not clock.sleeps:
                held.commit("Campaign a")  # the server commits the first create late
            clock.sleep(seconds)

        hooks = Hooks()
        ok = engine.apply(ApplyOptions(), hooks, threading.Event(), clock=clock, sleep=sleep)
    finally:
        held.release.set()
    assert ok is None  # nothing left to do: the late create is the campaign
    assert [n for n in hooks.notices if n.startswith("Waiting ")], hooks.notices
    assert 50 < sum(clock.sleeps) <= 60
    assert [n for n, _, _ in remote_campaigns(emulated)] == ["Campaign a", "Campaign b"]


def test_apply_waits_even_when_the_stopped_applys_pid_now_runs_another_hoodsync(
    emulated: Account, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A journal without its end line whose pid is now another hoodsync process (a reused pid:
    a ``hoodsync plan``): apply holds the account's lock, so that process cannot be the apply
    that wrote it — the unanswered create is waited for all the same."""
    write(emulated.root, "c/a.yaml", titled_campaign("a", "A"))
    held = stop_with_creates_on_the_wire(emulated, monkeypatch, capsys, 1)
    other = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)", "hoodsync", "plan"]
    )
    try:
        [stopped] = journals(emulated.root)
        kept = [x for x in lines(stopped) if x["event"] != "end"]
        last_line = kept[-1]["ts"]
        stamp, _, rest = stopped.name.split("-", 2)
        stopped.unlink()
        reused = stopped.with_name(f"{stamp}-{other.pid}-{rest}")
        reused.write_text("".join(json.dumps(x) + "\n" for x in kept))
        clock = FakeClock(last_line + 2.0)
        hooks = Hooks()
        ok = engine.apply(ApplyOptions(), hooks, threading.Event(), clock=clock, sleep=clock.sleep)
    finally:
        held.release.set()
        other.kill()
        other.wait()
    assert ok is True
    assert [n for n in hooks.notices if n.startswith("Waiting 58 s")], hooks.notices
    assert [n for n, _, _ in remote_campaigns(emulated)] == ["Campaign a"]


def test_ctrl_c_while_waiting_for_unanswered_creates_sends_nothing(
    emulated: Account, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    write(emulated.root, "c/a.yaml", titled_campaign("a", "A"))
    held = stop_with_creates_on_the_wire(emulated, monkeypatch, capsys, 1)
    held.release.set()
    before = journals(emulated.root)
    clock = FakeClock(lines(before[0])[-1]["ts"])

    def ctrl_c(seconds: float) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        engine.apply(ApplyOptions(), Hooks(), threading.Event(), clock=clock, sleep=ctrl_c)
    assert remote_campaigns(emulated) == []
    assert journals(emulated.root) == before  # no apply started
    # The lock was released, and once the window has passed the create is planned again.
    clock.advance(60.0)
    assert engine.apply(ApplyOptions(), Hooks(), threading.Event(), clock=clock) is True
    assert [n for n, _, _ in remote_campaigns(emulated)] == ["Campaign a"]


def test_plan_waits_for_unanswered_creates_too(
    emulated: Account, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``plan`` reads the account as apply would (a plan showing creates about to appear would
    be wrong): the same wait, bounded by the settle window, said in the same notice. A create
    that never came is then simply missing."""
    write(emulated.root, "c/a.yaml", titled_campaign("a", "A"))
    stop_with_creates_on_the_wire(emulated, monkeypatch, capsys, 1).release.set()
    [stopped] = journals(emulated.root)
    clock = FakeClock(lines(stopped)[-1]["ts"] + 10.0)
    hooks = Hooks()
    prep = engine.prepare((), (), (), hooks)
    [run] = engine.make_plans(
        prep, None, False, None, recovery=Recovery(hooks.notice, clock, clock.sleep)
    )
    run.session.close()
    [notice] = hooks.notices
    assert notice.startswith("Waiting 50 s before reading account 'default' again: 1 create")
    assert sum(clock.sleeps) == pytest.approx(50.0)
    assert [c.address for c in run.plan.changes] == ["campaign.a"]
    # Past the window: no wait.
    [run] = engine.make_plans(
        prep, None, False, None, recovery=Recovery(hooks.notice, clock, clock.sleep)
    )
    run.session.close()
    assert len(hooks.notices) == 1 and sum(clock.sleeps) == pytest.approx(50.0)


def test_creates_unanswered_under_another_token_are_waited_for_too(
    emulated: Account, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A token rotated between the interrupted apply and the next plan gives another identity,
    so the journal may be another account's: its creates on the wire are waited for all the
    same (a wait costs at most the settle window; not waiting could create them twice)."""
    write(emulated.root, "c/a.yaml", titled_campaign("a", "A"))
    stop_with_creates_on_the_wire(emulated, monkeypatch, capsys, 1).release.set()
    [stopped] = journals(emulated.root)
    records = lines(stopped)
    assert records[0]["identity"] != "written-with-the-old-token"
    records[0]["identity"] = "written-with-the-old-token"
    stopped.write_text("".join(json.dumps(r) + "\n" for r in records))
    clock = FakeClock(records[-1]["ts"] + 10.0)
    hooks = Hooks()
    prep = engine.prepare((), (), (), hooks)
    [run] = engine.make_plans(
        prep, None, False, None, recovery=Recovery(hooks.notice, clock, clock.sleep)
    )
    run.session.close()
    [notice] = hooks.notices
    assert notice.startswith("Waiting 50 s before reading account 'default' again: 1 create")
    assert "written with another token" in notice and stopped.name in notice
    assert sum(clock.sleeps) == pytest.approx(50.0)
    assert [c.address for c in run.plan.changes] == ["campaign.a"]


@pytest.mark.parametrize("elsewhere", [False, True], ids=["in-the-project", "elsewhere"])
def test_a_saved_plan_waits_too_and_is_refused_when_the_late_create_lands(
    emulated: Account,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    elsewhere: bool,
) -> None:
    """A plan saved before the interrupted apply would create the object again; ``apply
    --plan`` waits out the window before checking the plan is fresh, sees the late create,
    and refuses the plan as stale instead of sending a second create. Also when it is run
    from a folder outside the project (no PATHS, no hoodsync.yaml): the saved plan records
    the state folder it was made with, and its journals are read there."""
    if elsewhere:
        (emulated.root / "hoodsync.yaml").unlink()
    write(emulated.root, "c/a.yaml", titled_campaign("a", "A"))
    assert cli(capsys, "plan", "--out", "saved.json")[0] == 0
    held = stop_with_creates_on_the_wire(emulated, monkeypatch, capsys, 1)
    if elsewhere:
        (emulated.root.parent / "elsewhere").mkdir()
        monkeypatch.chdir(emulated.root.parent / "elsewhere")
    try:
        clock = FakeClock(lines(journals(emulated.root)[0])[-1]["ts"])

        def sleep(seconds: float) -> None:
            if not clock.sleeps:
                held.commit("Campaign a")
            clock.sleep(seconds)

        hooks = Hooks()
        options = ApplyOptions(plan_file=emulated.root / "saved.json")
        with pytest.raises(StalePlanError, match=r"campaign\.a \(now exists\)"):
            engine.apply(options, hooks, threading.Event(), clock=clock, sleep=sleep)
    finally:
        held.release.set()
    assert hooks.notices[0].startswith("Waiting 60 s before reading account 'default'")
    assert [n for n, _, _ in remote_campaigns(emulated)] == ["Campaign a"]
    if elsewhere:  # nothing was kept in the working directory
        assert not Path(".hoodsync").exists()


def test_the_journal_is_the_projects_whichever_folder_apply_runs_from(
    emulated: Account, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An apply of ``repo`` run from the folder above it (no hoodsync.yaml) is stopped with a
    create on the wire. Its journal is the project's, ``repo/.hoodsync``: the next apply, run
    inside ``repo/c``, waits for that create as one run from above would (``plan`` reads the
    journals the same way), sees it committed late, and does not create it again."""
    (emulated.root / "hoodsync.yaml").unlink()
    write(emulated.root, "c/a.yaml", titled_campaign("a", "A"))
    monkeypatch.chdir(emulated.root.parent)
    held = stop_with_creates_on_the_wire(emulated, monkeypatch, capsys, 1, "repo")
    try:
        assert not Path(".hoodsync").exists()
        [stopped] = journals(emulated.root)
        clock = FakeClock(lines(stopped)[-1]["ts"] + 10.0)

        def sleep(seconds: float) -> None:
            if not clock.sleeps:
                held.commit("Campaign a")  # the server commits the create late
            clock.sleep(seconds)

        monkeypatch.chdir(emulated.root / "c")
        hooks = Hooks()
        # Once it has waited, the create is in the account: nothing is left to change.
        ok = engine.apply(ApplyOptions(), hooks, threading.Event(), clock=clock, sleep=sleep)
    finally:
        held.release.set()
    assert ok is None
    assert hooks.notices[0].startswith("Waiting 50 s before reading account 'default' again")
    assert [n for n, _, _ in remote_campaigns(emulated)] == ["Campaign a"]
    assert not Path(".hoodsync").exists()


# ------------------------------------------------------------------ 2. SIGTERM


def test_sigterm_twice_stops_at_once_and_the_next_plan_resumes_what_it_left_paused(
    slow: tuple[Account, SwitchableLatency], capsys: pytest.CaptureFixture[str]
) -> None:
    """A second SIGTERM stops at once, as a second Ctrl-C does: the edit is cut after its
    pause; the table and the journal say the campaign may be left paused. The definition has
    no ``state:`` (the lifecycle is not managed), yet the next plan resumes it — with the edit
    — because the journal shows hoodsync paused it itself. Once resumed, that is closed: the
    plan after is clean."""
    acc, latency = slow
    running_campaigns(acc, capsys, "c0")
    write(acc.root, "c/c0.yaml", titled_campaign("c0", "Hello again"))
    before = set(journals(acc.root))
    latency.on = True
    process = apply_in_a_process(acc)
    path = until_journal_says(acc, PAUSED, before)
    process.send_signal(signal.SIGTERM)
    until_journal_says(acc, STOPPED, before)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=60)
    latency.on = False
    assert process.returncode == 1, (out, err)
    assert "Apply stopped at once (SIGTERM twice)" in out
    assert "may be left paused; apply again to resume it" in out
    assert lines(path)[-1]["may_be_left_paused"] == ["campaign.c0"]
    [(_, status, _)] = remote_campaigns(acc)  # its patch may or may not have been sent
    assert status == "paused"

    code, out, err = cli(capsys, "plan")
    assert code == 0, err
    assert "resumed (paused -> running; left paused by hoodsync's apply of " in out
    assert "to edit it while it was running, and that apply did not resume it (" in out
    assert "To keep it paused, set state: paused." in out
    assert "undoes drift" not in out
    assert "1 to resume" in out

    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    assert remote_campaigns(acc) == [("Campaign c0", "running", "Hello again")]
    code, out, _ = cli(capsys, "plan")
    assert code == 0 and "No changes." in out


# ------------------------------------------------------------------ 2b. left paused: how long


def left_paused_by_a_stopped_edit(
    acc: Account, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], key: str
) -> None:
    """A running campaign's edit stopped at once right after its pause (Ctrl-C twice while
    the patch is on the wire; the patch never arrives)."""
    release = threading.Event()

    def cut(self: Any, campaign_id: str, body: Any) -> None:
        ctrl_c_twice(acc.root / ".hoodsync" / "journal")
        release.wait(10)
        raise NetworkError("the connection was lost")

    real = hoodsync.remote.hood.HoodClient.patch_campaign
    monkeypatch.setattr(hoodsync.remote.hood.HoodClient, "patch_campaign", cut)
    try:
        code, out, _ = cli(capsys, "apply", "--auto-approve", "--target", f"campaign.{key}")
    finally:
        release.set()
        monkeypatch.setattr(hoodsync.remote.hood.HoodClient, "patch_campaign", real)
    assert code == 1 and "Apply stopped at once (Ctrl-C twice)" in out


@pytest.mark.parametrize("narrower", ["--target", "PATHS", "PATHS without hoodsync.yaml"])
def test_a_campaign_left_paused_stays_resumable_until_an_apply_resumes_it(
    narrower: str,
    emulated: Account,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """An apply that does not look at the campaign (--target another, or PATHS that leave its
    definition out: not 'gone') carries the entry in its own journal; the apply after that
    still resumes the campaign."""
    running_campaigns(emulated, capsys, "a", "b")
    b = "c/b.yaml" if narrower == "--target" else "d/b.yaml"
    if narrower.startswith("PATHS"):
        (emulated.root / "d").mkdir()
        (emulated.root / "c" / "b.yaml").rename(emulated.root / b)
    if narrower == "PATHS without hoodsync.yaml":  # PATHS are then all there is
        (emulated.root / "hoodsync.yaml").unlink()
    write(emulated.root, "c/a.yaml", titled_campaign("a", "New"))
    left_paused_by_a_stopped_edit(emulated, monkeypatch, capsys, "a")
    write(emulated.root, b, titled_campaign("b", "New"))
    scope = ("--target", "campaign.b") if narrower == "--target" else ("d",)
    code, out, err = cli(capsys, "apply", "--auto-approve", *scope)
    assert code == 0 and "# campaign.b" in out and "# campaign.a" not in out, err
    assert [c["address"] for c in lines(journals(emulated.root)[0])[0]["carried"]] == ["campaign.a"]
    code, out, _ = cli(capsys, "apply", "--auto-approve")
    assert code == 0
    assert "# campaign.a will be updated and resumed (paused -> running" in out
    assert remote_campaigns(emulated) == [
        ("Campaign a", "running", "New"),
        ("Campaign b", "running", "New"),
    ]


def test_a_saved_plan_carries_the_resume_of_a_campaign_left_paused(
    emulated: Account, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    running_campaigns(emulated, capsys, "a")
    write(emulated.root, "c/a.yaml", titled_campaign("a", "New"))
    left_paused_by_a_stopped_edit(emulated, monkeypatch, capsys, "a")
    code, _, err = cli(capsys, "plan", "--out", "saved.json")
    assert code == 0, err
    code, out, err = cli(capsys, "apply", "--plan", "saved.json", "--auto-approve")
    assert code == 0, err
    assert "# campaign.a will be updated and resumed (paused -> running" in out
    assert remote_campaigns(emulated) == [("Campaign a", "running", "New")]
    assert "No changes." in cli(capsys, "plan")[1]


def test_a_resume_added_to_the_plan_masks_its_name_with_the_account_key() -> None:
    """A campaign left paused whose plan has no change of its own gets a resume built from
    its definition: an interpolated name is masked as the planner masks it, with the
    account's key (or with no fp at all when there is none)."""
    push = {"title": {"en": "Hi"}, "body": {"en": "B"}, "landing_url": "https://example.com"}
    spec = {
        "name": "Promo ${env:PROMO}",
        "messages": [{"name": "m", "channel": "push", "push": push}],
    }
    d = Definition(Kind.CAMPAIGN, "a", spec, Location("c/a.yaml"))
    paused = {"id": "7", "name": "Promo X1", "status": "paused", "metadata": {"hoodsync_key": "a"}}
    found = Leftovers(
        unfinished={"campaign.a": Unfinished("campaign.a", "7", 1.0, "j.jsonl", left_paused=True)}
    )
    key = ValueKey(b"k" * 32)
    for value_key, shown in ((key, f", fp {key.shown('Promo X1')}"), (None, "")):
        plan, _ = amend(
            Plan(account=AccountInfo("default", "https://h.test/v1/hood")),
            found,
            [d],
            {Kind.CAMPAIGN: [paused]},
            env={"PROMO": "X1"},
            value_key=value_key,
        )
        [change] = plan.changes
        assert change.action == "resume" and change.name == f"(sensitive ${{env:PROMO}}{shown})"
        assert [s.fp for s in change.sensitive] == [key.check("Promo X1") if value_key else None]


def test_a_resume_added_to_the_plan_records_its_namesakes() -> None:
    """A change recovery adds (the plan had none for the campaign) records the objects sharing
    its identity as the planner records them for its own changes: apply compares them with
    the account's, and a change with none recorded would make every saved plan of it stale."""
    d = Definition(Kind.CAMPAIGN, "a", {"name": "Promo"}, Location("c/a.yaml"))
    paused = {"id": "7", "name": "Promo", "status": "paused", "metadata": {"hoodsync_key": "a"}}
    other = {"id": "8", "name": "Other", "status": "running", "metadata": {"hoodsync_key": "b"}}
    found = Leftovers(
        unfinished={"campaign.a": Unfinished("campaign.a", "7", 1.0, "j.jsonl", left_paused=True)}
    )
    plan, _ = amend(
        Plan(account=AccountInfo("default", "https://h.test/v1/hood")),
        found,
        [d],
        {Kind.CAMPAIGN: [paused, other]},
        env={},
    )
    [change] = plan.changes
    assert change.action == "resume"
    assert change.namesakes == (Namesake("7", True),)


def test_with_state_active_the_resume_of_a_cut_edit_is_not_called_drift(
    emulated: Account, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``state: active``: the planner resumes a paused campaign anyway. Cut after its update
    (the campaign carries the new hash), that resume would read as undoing a pause made
    outside hoodsync; the journal says whose pause it was."""
    write(emulated.root, "c/a.yaml", titled_campaign("a", "Hello", state="active"))
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    assert emulated.emulator is not None
    with emulated.remote() as remote:
        emulated.emulator.store.set_campaign_status(remote.campaign("Campaign a")["id"], "running")
    write(emulated.root, "c/a.yaml", titled_campaign("a", "New", state="active"))
    release = threading.Event()

    def cut(self: Any, campaign_id: str, body: Any = None) -> None:
        ctrl_c_twice(emulated.root / ".hoodsync" / "journal")
        release.wait(10)
        raise NetworkError("the connection was lost")

    real = hoodsync.remote.hood.HoodClient.resume_campaign
    monkeypatch.setattr(hoodsync.remote.hood.HoodClient, "resume_campaign", cut)
    try:
        assert cli(capsys, "apply", "--auto-approve")[0] == 1
    finally:
        release.set()
        monkeypatch.setattr(hoodsync.remote.hood.HoodClient, "resume_campaign", real)
    assert remote_campaigns(emulated) == [("Campaign a", "paused", "New")]
    code, out, err = cli(capsys, "plan", "--format", "json")
    assert code == 0, err
    [change] = json.loads(out)["changes"]
    assert (change["action"], change["drift"]) == ("resume", False)
    assert [n["severity"] for n in change["notes"]] == ["info"]
    assert (
        "that apply did not resume it (the answer to its resume was never received"
        in (change["notes"][0]["message"])
    )
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    assert remote_campaigns(emulated) == [("Campaign a", "running", "New")]


def test_state_paused_keeps_it_paused_and_closes_the_entry(
    emulated: Account, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The user says otherwise: ``state: paused``. Nothing resumes it, and once an apply has
    seen that, removing ``state:`` again does not bring the resume back."""
    running_campaigns(emulated, capsys, "a")
    write(emulated.root, "c/a.yaml", titled_campaign("a", "New"))
    left_paused_by_a_stopped_edit(emulated, monkeypatch, capsys, "a")
    write(emulated.root, "c/a.yaml", titled_campaign("a", "New", state="paused"))
    code, out, _ = cli(capsys, "apply", "--auto-approve")
    assert code == 0 and "resumed" not in out
    assert lines(journals(emulated.root)[0])[0]["carried"] == []
    write(emulated.root, "c/a.yaml", titled_campaign("a", "New"))
    code, out, _ = cli(capsys, "plan")
    assert code == 0 and "resume" not in out.replace("0 to resume", "")
    assert remote_campaigns(emulated) == [("Campaign a", "paused", "New")]


def test_a_campaign_resumed_by_hand_then_paused_by_hand_is_left_alone(
    emulated: Account, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Someone resumed it in the UI; an apply ran meanwhile (and saw it running, with nothing
    pending on it): the entry is closed, and a later pause by hand is the user's own."""
    running_campaigns(emulated, capsys, "a", "b")
    write(emulated.root, "c/a.yaml", titled_campaign("a", "New"))
    left_paused_by_a_stopped_edit(emulated, monkeypatch, capsys, "a")
    write(emulated.root, "c/a.yaml", titled_campaign("a", "Hello"))  # the edit is given up
    with emulated.remote() as remote:
        a = remote.campaign("Campaign a")
        remote.hood_post(f"/campaigns/{a['id']}/resume", {})
    assert "resume" not in cli(capsys, "plan")[1].replace("0 to resume", "")
    write(emulated.root, "c/b.yaml", titled_campaign("b", "New"))
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    with emulated.remote() as remote:
        remote.hood_post(f"/campaigns/{a['id']}/pause", {"reason": "by hand"})
    code, out, _ = cli(capsys, "plan")
    assert code == 0 and "No changes." in out


# ------------------------------------------------------------------ 3. a pause that shows late


class AheadClock:
    """The server's clock: real time, moved ahead by ``advance`` (a frozen one would make
    its rate windows look spent by another client)."""

    def __init__(self) -> None:
        self.ahead = 0.0

    def __call__(self) -> float:
        return time.time() + self.ahead

    def advance(self, seconds: float) -> None:
        self.ahead += seconds


def test_a_pause_that_does_not_show_in_time_is_reported_and_resumed_by_the_next_plan(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_emulator: Callable[..., EmulatorHandle],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The server takes the pause asynchronously and longer than apply waits for it: the edit
    fails, no resume can be sent (the campaign is not paused yet). The table and the journal
    say it may be left paused; once the pause lands, the next plan resumes it."""
    server_time = AheadClock()
    acc = make_account(
        "emulator", tmp_path, monkeypatch, make_emulator, async_delay_s=75, clock=server_time
    )
    running_campaigns(acc, capsys, "a")
    write(acc.root, "c/a.yaml", titled_campaign("a", "New"))
    prep = engine.prepare((), (), (), Hooks())
    [run] = engine.make_plans(prep, None, False, None, recovery=Recovery(Hooks().notice))
    journal = Journal.create(acc.root / ".hoodsync" / "journal", label="default")
    apply_clock = FakeClock(0.0)
    try:
        report = apply_plan(
            run.plan,
            Clients(hood=run.session.hood),
            journal=journal,
            clock=apply_clock,
            sleep=apply_clock.sleep,
            settle_timeout=60.0,
        )
    finally:
        journal.close()
        run.session.close()
    [result] = report.results
    assert result.outcome is Outcome.FAILED
    assert "still 'running' after 60 s" in result.detail
    assert result.detail.endswith(
        "the campaign, running before, may be left paused; apply again to resume it"
    )
    assert lines(journal.path)[-1]["may_be_left_paused"] == ["campaign.a"]

    server_time.advance(80)  # the pause lands
    assert remote_campaigns(acc) == [("Campaign a", "paused", "Hello")]
    code, out, _ = cli(capsys, "plan")
    assert code == 0
    assert "# campaign.a will be updated and resumed (paused -> running; left paused by" in out
    assert "that apply did not resume it (pause did not show: " in out


# ------------------------------------------------------------------ 4. not drift


def test_a_create_stopped_before_its_pause_is_not_called_drift(
    emulated: Account, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``state: paused``: create, then pause. Stopped at once while the pause is on the wire
    (it never arrives): the campaign is live, carrying hoodsync's own hash. Nobody changed it:
    the plan pauses it as hoodsync's unfinished work, not as drift."""
    write(emulated.root, "c/a.yaml", titled_campaign("a", "A", state="paused"))
    release = threading.Event()

    def cut(self: Any, campaign_id: str, reason: str | None = None) -> None:
        ctrl_c_twice(emulated.root / ".hoodsync" / "journal")
        release.wait(10)
        raise NetworkError("the connection was lost")

    real = hoodsync.remote.hood.HoodClient.pause_campaign
    monkeypatch.setattr(hoodsync.remote.hood.HoodClient, "pause_campaign", cut)
    try:
        code, out, _ = cli(capsys, "apply", "--auto-approve")
    finally:
        release.set()
        monkeypatch.setattr(hoodsync.remote.hood.HoodClient, "pause_campaign", real)
    assert code == 1
    assert_paused_as_unfinished_work(emulated, capsys, "the answer to its pause was never received")


def assert_paused_as_unfinished_work(
    acc: Account, capsys: pytest.CaptureFixture[str], detail: str
) -> None:
    code, out, err = cli(capsys, "plan", "--format", "json")
    assert code == 0, err
    [change] = json.loads(out)["changes"]
    assert (change["action"], change["drift"]) == ("pause", False)
    [note] = change["notes"]
    assert note["severity"] == "info"
    assert note["message"].startswith("not drift: hoodsync's apply of ")
    assert f"started this change and did not finish it ({detail}; journal " in note["message"]
    code, out, _ = cli(capsys, "plan")
    assert "has changed outside hoodsync" not in out and "undoes drift" not in out
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    assert remote_campaigns(acc) == [("Campaign a", "paused", "A")]
    assert "No changes." in cli(capsys, "plan")[1]


class FullAfter:
    """A journal file with room for ``lines`` lines; then every write fails as on a full disk."""

    def __init__(self, path: Path, lines: int) -> None:
        self.fh = path.open("a", encoding="utf-8")
        self.room = lines

    def write(self, text: str) -> int:
        if self.room <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.room -= 1
        return self.fh.write(text)

    def flush(self) -> None:
        self.fh.flush()

    def close(self) -> None:
        self.fh.close()


def test_a_create_whose_pause_was_not_sent_for_a_full_journal_is_not_called_drift(
    emulated: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    write(emulated.root, "c/a.yaml", titled_campaign("a", "A", state="paused"))
    prep = engine.prepare((), (), (), Hooks())
    [run] = engine.make_plans(prep, None, False, None, recovery=Recovery(Hooks().notice))
    folder = emulated.root / ".hoodsync" / "journal"
    folder.mkdir(parents=True)
    path = folder / f"20260101T000000.000000Z-{os.getpid()}-default.jsonl"
    journal = Journal(path, file=FullAfter(path, 3))  # type: ignore[arg-type]
    try:
        report = apply_plan(
            run.plan, Clients(hood=run.session.hood), journal=journal, sleep=lambda s: None
        )
    finally:
        journal.close()
        run.session.close()
    assert "pause not sent (after 1 of its steps succeeded)" in report.results[0].detail
    assert_paused_as_unfinished_work(emulated, capsys, "stopped after 1 of its 2 steps")


# ------------------------------------------------------------------ reading the journal


def test_only_the_newest_journal_of_this_account_and_token_is_read(tmp_path: Path) -> None:
    """Another account of the same name (another token) is passed over; a journal cut in the
    middle of a line is read up to it; one still being written (its apply is running) gives
    nothing but that fact."""
    folder = tmp_path / "journal"
    folder.mkdir()

    def journal(name: str, *records: dict[str, Any], torn: bool = False) -> None:
        text = "".join(json.dumps(r) + "\n" for r in records)
        (folder / name).write_text(text + ('{"event": "res' if torn else ""))

    start = {"event": "start", "ts": 100.0, "account": "default", "identity": "mine"}
    create = {"event": "intent", "ts": 101.0, "address": "campaign.a", "op": "create", "of": 1}
    journal("20260101T000000.000000Z-11-default.jsonl", start, create, torn=True)
    journal(
        "20260101T000001.000000Z-12-default.jsonl",
        {**start, "identity": "another"},
        {**create, "address": "campaign.other"},
    )
    journal(
        "20260101T000002.000000Z-13-staging.jsonl",
        {**start, "account": "staging", "identity": "staging's"},
        create,
    )
    found = read_leftovers(folder, "default", "mine", 60.0, alive=lambda pid: False)
    assert found.journal is not None and found.journal.name.startswith("20260101T000000")
    assert (found.unanswered, found.settle_until) == (("campaign.a",), 161.0)
    assert found.unfinished["campaign.a"].id is None
    # While its settle window lasts, the other token's unanswered create is waited for too
    # (its journal may be this account's, from before a token rotation); nothing else of it
    # is taken.
    now = read_leftovers(
        folder, "default", "mine", 60.0, alive=lambda pid: False, clock=lambda: 150.0
    )
    assert (now.unanswered, now.settle_until) == (("campaign.a", "campaign.other"), 161.0)
    assert now.journal == found.journal and not now.other_token
    assert set(now.unfinished) == {"campaign.a"}

    running = read_leftovers(folder, "default", "mine", 60.0, alive=lambda pid: pid == 11)
    assert (running.running, running.unanswered, running.unfinished) == (11, (), {})

    replay = read_journal(folder / "20260101T000000.000000Z-11-default.jsonl")
    assert replay is not None and not replay.ended and replay.pid == 11


def _one_journal(folder: Path, name: str, *records: dict[str, Any], tail: str = "") -> None:
    folder.mkdir(exist_ok=True)
    text = "".join(json.dumps(r) + "\n" for r in records)
    (folder / name).write_text(text + tail)


START = {"event": "start", "ts": 100.0, "account": "default", "identity": "mine"}
CREATE = {"event": "intent", "ts": 101.0, "address": "campaign.a", "op": "create", "of": 1}


def test_a_renamed_accounts_journals_are_its_own(tmp_path: Path) -> None:
    """Journals are found by the account's identity as well as its name: renamed in
    hoodsync.yaml (same URL and token), an account still reads what its applies under the old
    name left open. Before, only the name was looked for, and they were forgotten."""
    folder = tmp_path / "journal"
    paused = {"event": "intent", "ts": 102.0, "address": "campaign.b", "op": "pause", "id": "7"}
    _one_journal(
        folder,
        "20260101T000000.000000Z-11-prod.jsonl",
        {**START, "account": "prod"},
        CREATE,
        {**paused, "of": 3, "live_edit": True},
        {**paused, "event": "result", "status": "ok", "step": 0},
    )
    # Another account's newer journal, damaged: not this account's, never read strictly.
    _one_journal(
        folder,
        "20260101T000005.000000Z-12-staging.jsonl",
        {**START, "account": "staging", "identity": "staging's", "ts": 200.0},
        {"event": "x"},
        CREATE,
    )
    theirs = folder / "20260101T000005.000000Z-12-staging.jsonl"
    theirs.write_text(theirs.read_text().replace('{"event": "x"}', "{X"))
    found = read_leftovers(folder, "production", "mine", 60.0, alive=lambda pid: False)
    assert found.error is None
    assert found.journal == folder / "20260101T000000.000000Z-11-prod.jsonl"
    assert (found.unanswered, found.settle_until) == (("campaign.a",), 162.0)
    assert found.unfinished["campaign.b"].left_paused
    # The old name with another token is another account: nothing of it is taken.
    other = read_leftovers(folder, "production", "another", 60.0, alive=lambda pid: False)
    assert (other.journal, other.unanswered, other.unfinished) == (None, (), {})


def test_a_renamed_accounts_newest_journal_is_read_strictly(tmp_path: Path) -> None:
    """The strict-read rule holds for a journal found by identity: the account's newest,
    written under its old name and damaged, makes it unreadable, never passed over for an
    older one under the new name."""
    folder = tmp_path / "journal"
    _one_journal(folder, "20260101T000000.000000Z-11-production.jsonl", START, CREATE)
    newest = folder / "20260101T000001.000000Z-12-default.jsonl"
    _one_journal(folder, newest.name, {**START, "ts": 150.0}, {"event": "x"}, CREATE)
    newest.write_text(newest.read_text().replace('{"event": "x"}', "{X"))
    found = read_leftovers(folder, "production", "mine", 60.0, alive=lambda pid: False)
    assert found.error is not None and found.error.startswith(f"{newest}:2: ")


def _bounded(call: Callable[[], Any], fifos: list[Path]) -> Any:
    """``call()``'s result, run aside: if it still waits after a few seconds (on a FIFO, as
    before), each FIFO gets a writer so that the thread ends, and the test fails."""
    out: list[Any] = []
    worker = threading.Thread(target=lambda: out.append(call()), daemon=True)
    worker.start()
    worker.join(timeout=10.0)
    hung = worker.is_alive()
    if hung:
        for fifo in fifos:
            with contextlib.suppress(OSError):
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        worker.join(timeout=10.0)
    assert not hung, "the journal scan waited on a FIFO"
    return out[0]


def test_a_fifo_among_the_journals_is_never_waited_on(tmp_path: Path) -> None:
    """Looking a renamed account's journals up opens every ``*.jsonl`` of the folder; a FIFO
    named like one (``x.jsonl``, or like this account's own journal) was opened to read its
    first line, and ``plan`` waited for a writer for ever. FIFOs are now never opened for
    reading: one under another name is not the account's, one under its own name is a journal
    that cannot be read (plan warns, apply refuses: nothing known of it)."""
    folder = tmp_path / "journal"
    renamed = folder / "20260101T000000.000000Z-11-prod.jsonl"
    _one_journal(folder, renamed.name, {**START, "account": "prod"}, CREATE)
    stray = folder / "x.jsonl"
    os.mkfifo(stray)
    assert _bounded(lambda: journal_files_of(folder, "mine"), [stray]) == [renamed]
    found = _bounded(
        lambda: read_leftovers(folder, "production", "mine", 60.0, alive=lambda pid: False),
        [stray],
    )
    assert found.error is None and found.unanswered == ("campaign.a",)

    own = folder / "20260101T000001.000000Z-12-production.jsonl"
    os.mkfifo(own)
    found = _bounded(
        lambda: read_leftovers(folder, "production", "mine", 60.0, alive=lambda pid: False),
        [stray, own],
    )
    assert found.error is not None and found.error.startswith(f"{own}: not a regular file")


def test_a_first_line_longer_than_the_bound_is_not_read_on(tmp_path: Path) -> None:
    """Only a bounded first line is read to tell whose a journal is: a start line of at most
    MAX_START_LINE bytes (its line end counted) is found, a longer one is not (whose it is
    cannot be told, as with a damaged one), and a big file with no line end at all is read no
    further than the bound. Before, the whole of it was read into memory."""
    folder = tmp_path / "journal"
    folder.mkdir()
    record = json.dumps({**START, "account": "prod", "pad": ""})
    room = MAX_START_LINE - len(record) - 1  # the line end
    fits = folder / "20260101T000000.000000Z-11-prod.jsonl"
    fits.write_text(record.replace('"pad": ""', f'"pad": "{"x" * room}"') + "\n")
    longer = folder / "20260101T000001.000000Z-12-prod.jsonl"
    longer.write_text(record.replace('"pad": ""', f'"pad": "{"x" * (room + 1)}"') + "\n")
    endless = folder / "20260101T000002.000000Z-13-prod.jsonl"
    with endless.open("wb") as fh:
        fh.truncate(4 * MAX_START_LINE)  # no line end: zeros (sparse: no disk used)
    assert fits.stat().st_size == MAX_START_LINE
    assert journal_files_of(folder, "mine") == [fits]


def test_an_edit_cut_under_an_accounts_old_name_is_resumed_under_its_new_one(
    emulated: Account, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A running campaign's edit stopped after its pause; the account is then renamed in
    hoodsync.yaml (same URL, same token). Before, the next plan did not find the journal (it
    was looked for by name only) and the campaign stayed paused for good."""
    running_campaigns(emulated, capsys, "a")
    write(emulated.root, "c/a.yaml", titled_campaign("a", "New"))
    left_paused_by_a_stopped_edit(emulated, monkeypatch, capsys, "a")
    config = emulated.root / "hoodsync.yaml"
    config.write_text(config.read_text().replace("  default:", "  production:"))
    code, out, err = cli(capsys, "apply", "--auto-approve")
    assert code == 0, err
    assert "# campaign.a will be updated and resumed (paused -> running" in out
    assert remote_campaigns(emulated) == [("Campaign a", "running", "New")]


def test_a_create_that_failed_but_may_have_happened_is_waited_for_like_an_unanswered_one(
    tmp_path: Path,
) -> None:
    """A create that timed out, then could not be looked for (the listing failed too), is
    written ``failed`` without ``not_done``: the server may still make it."""
    folder = tmp_path / "journal"
    failed = {"event": "result", "ts": 130.0, "address": "campaign.a", "op": "create"}
    _one_journal(
        folder,
        "20260101T000000.000000Z-11-default.jsonl",
        START,
        CREATE,
        {**failed, "status": "failed", "error": "outcome unknown"},
        {**CREATE, "address": "campaign.b"},
        {**failed, "address": "campaign.b", "status": "failed", "not_done": True},
    )
    found = read_leftovers(folder, "default", "mine", 60.0, alive=lambda pid: False)
    assert (found.unanswered, found.settle_until) == (("campaign.a",), 190.0)


def test_a_status_change_that_never_showed_is_unfinished_work(tmp_path: Path) -> None:
    """A pause accepted but not shown within the bound (a ``settle`` line ``failed``) may still
    land: the change is hoodsync's unfinished work, so the next plan does not call its
    difference drift, though every step's result was ``ok``."""
    folder = tmp_path / "journal"
    pause = {"event": "intent", "ts": 101.0, "address": "campaign.a", "op": "pause"}
    _one_journal(
        folder,
        "20260101T000000.000000Z-11-default.jsonl",
        START,
        {**pause, "id": "7", "of": 1},
        {
            "event": "result",
            "ts": 102.0,
            "address": "campaign.a",
            "op": "pause",
            "id": "7",
            "step": 0,
            "status": "ok",
        },
        {
            "event": "settle",
            "ts": 162.0,
            "address": "campaign.a",
            "op": "pause",
            "id": "7",
            "step": 0,
            "status": "failed",
            "error": "still 'scheduled' after 60 s",
        },
    )
    found = read_leftovers(folder, "default", "mine", 60.0, alive=lambda pid: False)
    entry = found.unfinished["campaign.a"]
    assert entry.id == "7" and "pause did not show" in entry.detail and not entry.left_paused


@pytest.mark.parametrize(
    ("name", "lines"),
    [
        ("20260101T000000.000000Z-11-default.jsonl", "[" * 100_000 + "\n"),  # nesting
        ("20260101T000000.000000Z-11-default.jsonl", '{"event": "x", "ts": 1e400}\n'),
        ("20260101T000000.000000Z-²-default.jsonl", ""),  # a pid that is not an ASCII number
    ],
)
def test_odd_journal_content_never_raises(tmp_path: Path, name: str, lines: str) -> None:
    folder = tmp_path / "journal"
    _one_journal(folder, name, START, CREATE, tail=lines)
    found = read_leftovers(folder, "default", "mine", 60.0, alive=lambda pid: False)
    assert found.error is None and found.unanswered == ("campaign.a",)


@pytest.mark.parametrize(
    "odd",
    [
        {"ts": 1_767_225_600_000},  # milliseconds
        {"ts": 10**400},  # too large for a float
        {"settle_window": 10**400},
        {"carried": [{"address": "campaign.b", "since": 10**400, "left_paused": True}]},
        {"carried": [{"address": "campaign.b", "since": 1e20, "left_paused": True}]},
    ],
)
def test_times_and_windows_that_are_not_ones_never_raise(
    tmp_path: Path, odd: dict[str, Any]
) -> None:
    folder = tmp_path / "journal"
    _one_journal(folder, "20260101T000000.000000Z-11-default.jsonl", {**START, **odd}, CREATE)
    found = read_leftovers(folder, "default", "mine", 60.0, alive=lambda pid: False)
    assert found.error is None and found.unanswered == ("campaign.a",)
    for entry in found.unfinished.values():
        assert isinstance(entry.since, float)


def test_apply_refuses_when_the_journal_cannot_be_read_and_plan_warns(
    emulated: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    """Apply would start from nothing known and carry nothing on (a campaign left paused would
    be forgotten for good): it refuses, nothing sent. Plan says it cannot know."""
    write(emulated.root, "c/a.yaml", titled_campaign("a", "A"))
    (emulated.root / ".hoodsync" / "journal" / "29991231T000000.000000Z-1-default.jsonl").mkdir(
        parents=True
    )
    code, out, err = cli(capsys, "apply", "--auto-approve")
    assert code == 1 and "cannot read the journal" in err and "nothing was sent" in err
    assert remote_campaigns(emulated) == []
    code, out, err = cli(capsys, "plan")
    assert code == 0 and "warning: cannot read the journal" in err


def test_a_create_sent_again_is_waited_for_from_its_last_send(tmp_path: Path) -> None:
    """The transport sends an unanswered create again after a settle window in which it did
    not show; apply journals each new send, and the wait counts from the last one."""
    folder = tmp_path / "journal"
    resend = {"event": "resend", "ts": 170.0, "address": "campaign.a", "op": "create", "send": 2}
    _one_journal(folder, "20260101T000000.000000Z-11-default.jsonl", START, CREATE, resend)
    found = read_leftovers(folder, "default", "mine", 60.0, alive=lambda pid: False)
    assert (found.unanswered, found.settle_until) == (("campaign.a",), 230.0)


# ------------------------------------------------------------------ a damaged newest journal


def _damage(path: Path, which: Callable[[int, str], bool]) -> list[int]:
    """Damage (as a hand edit or a disk error would) the lines of ``path`` that ``which(number,
    line)`` picks; their numbers."""
    text = path.read_text().splitlines(keepends=True)
    hit = [n for n, line in enumerate(text, 1) if which(n, line)]
    for n in hit:
        text[n - 1] = "{X" + text[n - 1][1:]
    path.write_text("".join(text))
    return hit


@pytest.mark.parametrize("damaged", ["start line", "pause intent lines"])
def test_a_damaged_line_in_the_newest_journal_makes_plan_warn_and_apply_refuse(
    damaged: str,
    emulated: Account,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The newest journal says hoodsync left a campaign paused. With one of its lines damaged
    (not the last, the only one a kill cuts short), it is not passed over for the older
    journal (which knows nothing of the pause: the campaign would stay paused for good):
    plan warns, apply refuses with nothing sent, both naming the file and line and what to do.
    Repaired, the next apply resumes the campaign."""
    running_campaigns(emulated, capsys, "a")
    write(emulated.root, "c/a.yaml", titled_campaign("a", "New"))
    left_paused_by_a_stopped_edit(emulated, monkeypatch, capsys, "a")
    newest = journals(emulated.root)[0]
    whole = newest.read_text()
    if damaged == "start line":
        hit = _damage(newest, lambda n, line: n == 1)
    else:
        hit = _damage(newest, lambda n, line: '"event": "intent"' in line and '"pause"' in line)
    assert len(hit) == 1 and hit[0] < len(whole.splitlines())

    code, out, err = cli(capsys, "plan")
    assert code == 0, err
    assert f"warning: cannot read the journal {newest}:{hit[0]}: " in err
    assert f"Repair line {hit[0]}" in err and "move the file out of the journal folder" in err
    assert "left paused by hoodsync" not in out

    code, out, err = cli(capsys, "apply", "--auto-approve")
    assert code == 1
    [message] = [x for x in err.splitlines() if x.startswith("error:")]
    assert f"cannot read the journal {newest}:{hit[0]}: " in message
    assert f"Repair line {hit[0]}" in message and "nothing was sent" in message
    assert remote_campaigns(emulated) == [("Campaign a", "paused", "Hello")]
    assert journals(emulated.root)[0] == newest  # no apply began

    newest.write_text(whole)
    code, out, err = cli(capsys, "apply", "--auto-approve")
    assert code == 0, err
    assert remote_campaigns(emulated) == [("Campaign a", "running", "New")]


def test_only_the_newest_journal_is_read_strictly_and_a_torn_last_line_stays_normal(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "journal"
    older, newest = (
        "20260101T000000.000000Z-11-default.jsonl",
        "20260101T000001.000000Z-12-default.jsonl",
    )
    later = {**START, "ts": 200.0}
    # A damaged line in an older journal is passed over, as before.
    _one_journal(folder, older, START, {"event": "x"}, CREATE)
    (folder / older).write_text((folder / older).read_text().replace('{"event": "x"}', "{X"))
    _one_journal(folder, newest, later, {**CREATE, "ts": 201.0}, tail='{"event": "res')
    found = read_leftovers(folder, "default", "mine", 60.0, alive=lambda pid: False)
    assert found.error is None and found.journal == folder / newest
    assert found.unanswered == ("campaign.a",)
    # A line that parses but is no object counts as damaged; so does a first line that is
    # not the start line.
    for records, line in [
        ((later, [1], CREATE), 2),
        ((CREATE, later, CREATE), 1),
        ((later, CREATE, "", CREATE), 3),
    ]:
        (folder / newest).write_text(
            "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records)
        )
        found = read_leftovers(folder, "default", "mine", 60.0, alive=lambda pid: False)
        assert found.error is not None and found.error.startswith(f"{folder / newest}:{line}: ")
        assert (found.journal, found.damaged_line) == (folder / newest, line)
    # A newest journal of one torn line (the start line, cut by a kill), or an empty one (an
    # apply stopped before it reached this account): it sent nothing, and the older journal is
    # the account's newest — read strictly now. Before, its damaged line was passed over.
    for nothing in ('{"event": "sta', ""):
        (folder / newest).write_text(nothing)
        found = read_leftovers(folder, "default", "mine", 60.0, alive=lambda pid: False)
        assert found.error is not None and found.error.startswith(f"{folder / older}:2: ")
    (folder / older).write_text((folder / older).read_text().replace("{X", '{"event": "x"}'))
    found = read_leftovers(folder, "default", "mine", 60.0, alive=lambda pid: False)
    assert found.error is None and found.journal == folder / older


def test_an_accounts_newest_journal_is_read_strictly_behind_a_namesakes_newer_one(
    tmp_path: Path,
) -> None:
    """Accounts ``prod.eu`` and ``prod_eu`` share the journal label ``prod_eu``. Before, only the
    newest file of the label was read strictly: with ``prod_eu``'s the newest, ``prod.eu``'s
    own newest journal, damaged, was read leniently and its damaged line passed over."""
    folder = tmp_path / "journal"
    mine = {**START, "account": "prod.eu"}
    theirs = {**START, "account": "prod_eu", "identity": "theirs", "ts": 300.0}
    _one_journal(folder, "20260101T000000.000000Z-11-prod_eu.jsonl", mine, {"event": "x"}, CREATE)
    older = folder / "20260101T000000.000000Z-11-prod_eu.jsonl"
    older.write_text(older.read_text().replace('{"event": "x"}', "{X"))
    _one_journal(folder, "20260101T000009.000000Z-12-prod_eu.jsonl", theirs, CREATE)
    found = read_leftovers(folder, "prod.eu", "mine", 60.0, alive=lambda pid: False)
    assert found.error is not None and found.error.startswith(f"{older}:2: ")
