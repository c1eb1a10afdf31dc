"""Times in definitions judged by the clock of the moment each write goes, and by the server's
clock too (the later of it and this machine's, as its answers' ``Date`` header shows it).

A time that is ahead when the plan is made, and still ahead when apply checks the plan before
its first write, can pass while apply works through earlier sync waves; and "has passed" is
Hood's call, by Hood's clock. Against the emulator over loopback; time passes by injected
clocks — this machine's (``engine.apply(clock=...)``) or the emulator's — that a test moves
when a given change has finished, or while a given request is served: nothing sleeps.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import EmulatorHandle, FakeClock
from hostile_server import HostileServer, Reply, Request
from test_cli_apply import journals, lines
from test_cli_plan import Account, cli, emulated, make_account, write
from test_transport import make, ok

from hoodsync import engine
from hoodsync.apply import ApplyReport, Outcome, Result
from hoodsync.hooks import NoHooks
from hoodsync.remote.transport import MAX_CLOCK_SKEW

API_TIME = "%Y-%m-%d %H:%M:%S"
MESSAGE = "{title: {en: Hi}, body: {en: There}, landing_url: https://example.com}"
LATER = "2036-01-01 10:00:00"


def campaign_yaml(
    key: str, name: str, when: str, *, order: int = 0, state: str = "active", extra: str = ""
) -> str:
    return f"""\
kind: Campaign
key: {key}
state: {state}
order: {order}
{extra}spec:
  name: {name}
  scheduled_time: "{when}"
  messages:
    - name: Hello
      channel: push
      push: {MESSAGE}
"""


def push_yaml(start: str, *, state: str, order: int = 9) -> str:
    return f"""\
kind: PushTask
key: flash
state: {state}
order: {order}
spec:
  name: Flash
  start_time: "{start}"
  frequency: 86400
  message: {MESSAGE}
"""


def flash_to_activate(account: Account, capsys: pytest.CaptureFixture[str], start: str) -> None:
    """The push task ``flash`` (start ``start``) applied inactive; its definition now active."""
    write(account.root, "flash.yaml", push_yaml(start, state="inactive"))
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    write(account.root, "flash.yaml", push_yaml(start, state="active"))


def gmt(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime(API_TIME)


class Moves(NoHooks):
    """``--auto-approve``, moving a clock (``move()``) once the change ``after`` has finished;
    keeps the report."""

    def __init__(self, after: str, move: Callable[[], None]) -> None:
        self.after, self.move = after, move
        self.report: ApplyReport | None = None

    def change_finished(self, account: str, result: Result, done: int, total: int) -> None:
        if result.address == self.after:
            self.move()

    def apply_finished(self, account: str, report: ApplyReport) -> None:
        self.report = report

    def results(self) -> dict[str, Result]:
        assert self.report is not None
        return {r.address: r for r in self.report.results}


def push_task_status(account: Account) -> int:
    with account.remote() as remote:
        [task] = remote.push_tasks()
    return int(task["status"])


def campaign_names(account: Account) -> set[str]:
    with account.remote() as remote:
        return {c["name"] for c in remote.campaigns()}


def journal_of(account: Account, address: str) -> list[dict[str, Any]]:
    """The newest journal's lines about ``address``."""
    return [x for x in lines(journals(account.root)[0]) if x.get("address") == address]


# ------------------------------------------------------------------ time passes during the apply


@pytest.mark.parametrize("saved", [True, False], ids=["saved-plan", "auto-approve"])
def test_a_time_that_passes_while_earlier_waves_apply_is_not_sent(
    emulated: Account, capsys: pytest.CaptureFixture[str], saved: bool
) -> None:
    """A campaign created at a time 30 min ahead and a push task activated before its start,
    both in wave 9; an hour passes while wave 0 applies. Each is judged again right before its
    write: the time has passed (the create would schedule a past time; the activation may send
    at once), which the reviewed plan did not say, so neither is sent. They fail, naming why
    (journaled as failed and not done, with no intent: nothing was sent), the other create of
    their wave goes on, the next wave is not attempted, and the apply reports failure. The
    next plan plans both again."""
    clock = FakeClock(time.time())
    when = gmt(clock() + 1800)
    flash_to_activate(emulated, capsys, when)
    write(emulated.root, "slow.yaml", campaign_yaml("slow", "Slow", LATER, order=0))
    write(emulated.root, "timed.yaml", campaign_yaml("timed", "Timed", when, order=9))
    write(emulated.root, "other.yaml", campaign_yaml("other", "Other", LATER, order=9))
    write(emulated.root, "after.yaml", campaign_yaml("after", "After", LATER, order=10))
    options = engine.ApplyOptions()
    if saved:
        code, out, _ = cli(capsys, "plan", "--out", "plan.json")
        assert code == 0 and "sends immediately" not in out
        options = engine.ApplyOptions(plan_file=emulated.root / "plan.json")

    hooks = Moves("campaign.slow", lambda: clock.advance(3600))
    assert engine.apply(options, hooks, threading.Event(), clock=clock) is False

    found = hooks.results()
    judged = (
        f"which it did not when the plan was made (judged at {gmt(clock() + 10)} GMT: the later "
        "of this machine's and Hood's clock, plus 10 s for the request to arrive); plan again"
    )
    assert found["campaign.timed"].outcome is Outcome.FAILED
    assert found["campaign.timed"].detail == (
        f"create not sent: scheduled_time {when} (GMT) has passed and the create would "
        f"schedule it, {judged}"
    )
    assert found["push_task.flash"].outcome is Outcome.FAILED
    assert found["push_task.flash"].detail == (
        f"patch not sent: activating it may send at once: its start has passed, {judged}"
    )
    assert found["campaign.other"].outcome is Outcome.APPLIED
    assert found["campaign.after"].outcome is Outcome.NOT_ATTEMPTED
    assert found["campaign.after"].detail == "wave 9 had a failure"
    assert "Timed" not in campaign_names(emulated) and push_task_status(emulated) == 0
    for address in ("campaign.timed", "push_task.flash"):
        [line] = journal_of(emulated, address)
        assert (line["event"], line["status"], line["not_done"]) == ("result", "failed", True)

    code, out, err = cli(capsys, "plan")
    assert code == 0, err
    assert "campaign.timed will be created" in out
    assert "push_task.flash will be activated" in out


class SlowEdit(Moves):
    """An account on an emulator whose injected clock (``clock``, also this machine's for
    ``engine.apply``) jumps an hour ahead while the first request of the apply is served:
    the edit of a change that patches then resumes (the emulator's latency; nothing sleeps)."""

    def __init__(self, account: Account, clock: FakeClock, jump: dict[str, bool]) -> None:
        super().__init__("", lambda: None)
        self.account, self.clock, self.jump = account, clock, jump

    def apply_started(self, account: str, plan: Any) -> None:
        self.jump["armed"] = True  # the next request is the edit's

    def apply(self) -> bool:
        """``engine.apply`` with these hooks and clock; whether it went through."""
        return engine.apply(engine.ApplyOptions(), self, threading.Event(), clock=self.clock)

    def campaign(self, name: str) -> dict[str, Any]:
        with self.account.remote() as remote:
            return remote.campaign(name)


@pytest.fixture
def slow_edit(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_emulator: Callable[..., EmulatorHandle],
) -> SlowEdit:
    clock = FakeClock(time.time())
    jump = {"armed": False}

    def latency(seconds: float) -> None:  # the emulator's injected sleep, for each request
        if jump["armed"]:
            jump["armed"] = False
            clock.advance(3600)

    acc = make_account(
        "emulator", tmp_path, monkeypatch, make_emulator, latency_ms=1, sleep=latency
    )
    return SlowEdit(acc, clock, jump)


def test_a_resume_whose_time_passes_during_the_edit_before_it_is_not_sent(
    slow_edit: SlowEdit, capsys: pytest.CaptureFixture[str]
) -> None:
    """A paused campaign edited and resumed at a time 30 min ahead: an hour passes while the
    edit is served (the emulator's latency, on an injected clock). The resume, judged again
    before it goes, would schedule a time that has passed: it is not sent, after the edit that
    went through, and the campaign stays paused; the next plan finishes the change."""
    acc = slow_edit.account
    when = gmt(slow_edit.clock() + 1800)
    resume = f'resume: {{scheduled_time: "{when}"}}\n'
    write(
        acc.root, "c.yaml", campaign_yaml("spring", "Spring", LATER, state="paused", extra=resume)
    )
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    text = campaign_yaml("spring", "Spring", LATER, extra=resume).replace("Hello", "Hello 2")
    write(acc.root, "c.yaml", text)
    assert slow_edit.apply() is False

    result = slow_edit.results()["campaign.spring"]
    assert result.outcome is Outcome.FAILED and (result.steps_done, result.steps_total) == (1, 2)
    assert result.detail.startswith(
        f"resume not sent (after 1 of its steps succeeded): resume.scheduled_time {when} (GMT) "
        "has passed and the resume would schedule it, which it did not when the plan was made"
    )
    campaign = slow_edit.campaign("Spring")
    assert campaign["status"] == "paused" and campaign["messages"][0]["name"] == "Hello 2"
    events = [(x["event"], x["op"], x.get("status")) for x in journal_of(acc, "campaign.spring")]
    assert events == [
        ("intent", "patch", None),
        ("result", "patch", "ok"),
        ("result", "resume", "failed"),  # no intent: nothing was sent
    ]
    code, out, err = cli(capsys, "plan")  # by the real clock, the time is still ahead
    assert code == 0, err
    assert "campaign.spring will be resumed (paused -> scheduled at" in out


def test_a_resume_without_options_is_judged_by_the_time_its_edit_sent(
    slow_edit: SlowEdit, capsys: pytest.CaptureFixture[str]
) -> None:
    """A paused campaign at a time 30 min ahead, moved to 2036 and resumed (no resume block):
    an hour passes while the edit is served, so the time the campaign held has passed, but the
    one it holds after the edit has not. The resume is judged by the campaign as the edit left
    it: it is sent, and the campaign is scheduled at the new time."""
    acc = slow_edit.account
    old = gmt(slow_edit.clock() + 1800)
    write(acc.root, "c.yaml", campaign_yaml("spring", "Spring", old, state="paused"))
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    write(acc.root, "c.yaml", campaign_yaml("spring", "Spring", LATER, state="active"))
    assert slow_edit.apply() is True

    result = slow_edit.results()["campaign.spring"]
    assert result.outcome is Outcome.APPLIED, result.detail
    campaign = slow_edit.campaign("Spring")
    assert campaign["status"] != "paused" and campaign["scheduled_time"] == LATER


def test_a_resume_without_options_of_a_time_its_edit_sent_that_passed_is_not_sent(
    slow_edit: SlowEdit, capsys: pytest.CaptureFixture[str]
) -> None:
    """The converse: a paused campaign in 2036, moved to 30 min ahead and resumed (no resume
    block). The new time passes while the edit is served: the resume would make a passed time
    the campaign's again (it may send at once), which the plan did not say. Judged by the
    campaign as the edit left it (not by the 2036 it held before), it is not sent, and the
    campaign stays paused."""
    acc = slow_edit.account
    write(acc.root, "c.yaml", campaign_yaml("spring", "Spring", LATER, state="paused"))
    assert cli(capsys, "apply", "--auto-approve")[0] == 0
    soon = gmt(slow_edit.clock() + 1800)
    write(acc.root, "c.yaml", campaign_yaml("spring", "Spring", soon, state="active"))
    assert slow_edit.apply() is False

    result = slow_edit.results()["campaign.spring"]
    assert result.outcome is Outcome.FAILED and (result.steps_done, result.steps_total) == (1, 2)
    assert result.detail.startswith("resume not sent (after 1 of its steps succeeded): ")
    assert (
        f"scheduled_time {soon} (GMT) has passed and the resume, which has no options, makes it "
        "the campaign's time again"
    ) in result.detail
    campaign = slow_edit.campaign("Spring")
    assert campaign["status"] == "paused" and campaign["scheduled_time"] == soon


# ------------------------------------------------------------------ the server's clock


@pytest.fixture(params=[600.0, -600.0], ids=["server-ahead", "server-behind"])
def skewed(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_emulator: Callable[..., EmulatorHandle],
) -> tuple[Account, float]:
    """An account on an emulator whose clock is 10 min ahead of this machine's, or behind;
    and by how much."""
    offset = float(request.param)
    return make_account(
        "emulator", tmp_path, monkeypatch, make_emulator, clock_offset_s=offset
    ), offset


def test_times_are_judged_by_the_later_of_this_machines_and_the_servers_clock(
    skewed: tuple[Account, float], capsys: pytest.CaptureFixture[str]
) -> None:
    """Hood's clock 10 min ahead (its Date header says so): a campaign 5 min ahead by this
    machine's clock has already passed for Hood, a plan error, and nothing is created. Hood's
    clock 10 min behind changes nothing: the same campaign is a plain create. Either way, a
    note says how far the clocks are apart."""
    acc, offset = skewed
    when = gmt(time.time() + 300)
    write(acc.root, "c.yaml", campaign_yaml("skew", "Skew", when))
    code, out, _ = cli(capsys, "plan")
    side = "ahead of" if offset > 0 else "behind"
    later = "Hood's" if offset > 0 else "this machine's"
    assert (
        f"info: Hood's clock is about 600 s {side} this machine's (by its answers' Date "
        f"header); times in definitions are judged by the later of the two, {later}"
    ) in out
    if offset > 0:
        assert code == 1
        assert f"scheduled_time {when} (GMT) is in the past" in out
        assert cli(capsys, "apply", "--auto-approve")[0] == 1
        assert campaign_names(acc) == set()
    else:
        assert code == 0 and "campaign.skew will be created" in out
        assert "error" not in out


class ServerClock:
    """The emulator's clock: the real one, plus ``ahead`` seconds the test sets."""

    def __init__(self) -> None:
        self.ahead = 0.0

    def __call__(self) -> float:
        return time.time() + self.ahead


@pytest.fixture
def server_clocked(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_emulator: Callable[..., EmulatorHandle],
    capsys: pytest.CaptureFixture[str],
) -> tuple[Account, ServerClock]:
    """An account on an emulator whose clock the test moves, with the push task ``flash``
    (start 30 min ahead) applied inactive and its definition now active."""
    server = ServerClock()
    # A server a second ahead: its Date header then follows its own clock.
    acc = make_account(
        "emulator", tmp_path, monkeypatch, make_emulator, clock=server, clock_offset_s=1.0
    )
    flash_to_activate(acc, capsys, gmt(time.time() + 1800))
    return acc, server


def test_each_step_is_judged_by_the_servers_clock_as_its_latest_answer_shows_it(
    server_clocked: tuple[Account, ServerClock], capsys: pytest.CaptureFixture[str]
) -> None:
    """Hood's clock jumps an hour ahead after wave 0 (this machine's stays put); wave 1's
    answers say so, and wave 9's activation, whose start is 30 min ahead by this machine's
    clock, is judged by Hood's: it may send at once, and is not sent."""
    acc, server = server_clocked
    write(acc.root, "a.yaml", campaign_yaml("first", "First", LATER, order=0))
    write(acc.root, "b.yaml", campaign_yaml("second", "Second", LATER, order=1))

    def jump() -> None:
        server.ahead = 3600.0

    hooks = Moves("campaign.first", jump)
    assert engine.apply(engine.ApplyOptions(), hooks, threading.Event()) is False
    found = hooks.results()
    assert found["campaign.second"].outcome is Outcome.APPLIED
    assert found["push_task.flash"].outcome is Outcome.FAILED
    assert found["push_task.flash"].detail.startswith(
        "patch not sent: activating it may send at once: its start has passed, which it did "
        "not when the plan was made"
    )
    assert push_task_status(acc) == 0


def test_a_saved_plan_is_checked_by_the_servers_clock_before_its_first_write(
    server_clocked: tuple[Account, ServerClock], capsys: pytest.CaptureFixture[str]
) -> None:
    """Planned while the start was ahead for Hood too; by the time of the apply Hood's clock
    is past it (this machine's is not): the saved plan is refused as stale, nothing sent."""
    acc, server = server_clocked
    assert cli(capsys, "plan", "--out", "plan.json")[0] == 0
    server.ahead = 3600.0
    code, _, err = cli(capsys, "apply", "--plan", "plan.json", "--auto-approve")
    assert code == 1
    assert (
        "push_task.flash (activating it may send at once: its start has passed, which it did "
        "not when the plan was made)"
    ) in err
    assert push_task_status(acc) == 0


def test_the_server_clock_is_the_latest_plausible_date_header_and_nothing_else() -> None:
    """Date minus this machine's clock when the answer arrived; an answer without a Date, with
    one that is no HTTP date, or with one more than a day from this machine's clock (kept
    apart, for the plan to say so) leaves the estimate as it was."""
    day = MAX_CLOCK_SKEW
    dates = iter(
        [
            email.utils.formatdate(2_000_000_600, usegmt=True),
            None,
            "yesterday at noon",
            email.utils.formatdate(2_000_000_000 + day + 1, usegmt=True),
            "Fri, 31 Dec 9999 23:59:55 GMT",
            email.utils.formatdate(1_999_999_400, usegmt=True),
            email.utils.formatdate(2_000_000_000 - day, usegmt=True),
        ]
    )

    def handler(request: httpx.Request) -> httpx.Response:
        date = next(dates)
        return ok({}, headers={"date": date} if date is not None else {})

    transport, _ = make(handler, wall_clock=lambda: 2_000_000_000.0)
    assert transport.clock_skew is None and transport.implausible_skew is None
    seen = []
    for _ in range(7):
        transport.request("GET", "/campaigns", retry=True)
        seen.append((transport.clock_skew, transport.implausible_skew))
    end = dt.datetime(9999, 12, 31, 23, 59, 55, tzinfo=dt.UTC).timestamp() - 2_000_000_000
    assert seen == [
        (600.0, None),
        (600.0, None),
        (600.0, None),
        (600.0, day + 1),
        (600.0, end),
        (-600.0, end),
        (-day, end),
    ]


def dated_proxy(target: str, date: str) -> HostileServer:
    """A loopback proxy in front of ``target`` that forwards every request and gives every
    answer the ``Date`` header ``date``."""
    client = httpx.Client(base_url=target)

    def answer(request: Request) -> Reply:
        skip = ("host", "content-length")
        headers = {k: v for k, v in request.headers.items() if k.lower() not in skip}
        response = client.request(
            request.method,
            request.path,
            params=request.query,
            content=request.body,
            headers=headers,
        )
        drop = ("content-length", "transfer-encoding", "connection", "date")
        kept = {k: v for k, v in response.headers.items() if k.lower() not in drop}
        return Reply(response.status_code, response.content, {**kept, "Date": date})

    return HostileServer(answer)


@pytest.mark.parametrize(
    "date", ["Fri, 31 Dec 9999 23:59:50 GMT", "Sat, 01 Jan 2100 00:00:00 GMT"], ids=["9999", "2100"]
)
def test_a_date_header_more_than_a_day_off_is_ignored(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_emulator: Callable[..., EmulatorHandle],
    capsys: pytest.CaptureFixture[str],
    date: str,
) -> None:
    """Every answer says Hood's clock is decades (or millennia) ahead, as a broken server
    clock or a proxy could: not believed, so a campaign in 2036 is still ahead, and the plan
    warns that the header was ignored. Apply goes through, each step judged by this machine's
    clock (a Date at the end of time once made that judgement overflow)."""
    acc = make_account("emulator", tmp_path, monkeypatch, make_emulator)
    write(acc.root, "c.yaml", campaign_yaml("spring", "Spring", LATER))
    with dated_proxy(acc.emulator.url, date) as proxy:
        monkeypatch.setenv("HOOD_API_URL", proxy.url + "/v1/hood")
        code, out, err = cli(capsys, "plan")
        assert code == 0, err
        assert "campaign.spring will be created" in out and "in the past" not in out
        assert "warning: an answer from Hood carried a Date header" in out
        assert "implausible (a broken server clock, or a proxy's header) and was ignored" in out
        assert "Hood's clock is about" not in out
        code, out, err = cli(capsys, "apply", "--auto-approve")
    assert code == 0, err
    assert campaign_names(acc) == {"Spring"}
