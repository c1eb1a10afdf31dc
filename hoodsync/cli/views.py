"""The terminal views: progress lines and bar, the result table, approval — fed by hooks.

:class:`TerminalView` implements :class:`hoodsync.hooks.Hooks` for a person at a terminal or a
CI log: notices and progress go to stderr, plans and result tables to stdout. Several accounts
apply at once; their output is kept in account order (:class:`Ordered`), and on a terminal one
progress bar with an ETA is redrawn in place below the lines (:class:`Console`).
"""

from __future__ import annotations

import math
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import TextIO

import click

from hoodsync.apply import ApplyReport, Outcome, Result
from hoodsync.errors import HoodsyncError
from hoodsync.plan import Plan
from hoodsync.terminal import printable

__all__ = ["Console", "Ordered", "Progress", "TerminalView", "duration", "result_table"]

_PAST = {
    "create": "created",
    "adopt": "adopted",
    "update": "updated",
    "replace": "replaced",
    "pause": "paused",
    "resume": "resumed",
    "activate": "activated",
    "start": "started",
    "deactivate": "deactivated",
    "stop": "stopped",
    "cancel": "canceled",
}


class Console:
    """stderr lines, plus on a terminal one progress bar redrawn in place (carriage return and
    erase-line) below them. Thread-safe. Off a terminal the bar is never drawn. The control
    codes are written to the stream directly (click would strip them from a non-terminal)."""

    _ERASE = "\r\x1b[K"

    def __init__(self, tty: bool) -> None:
        self.tty = tty
        self._bar = ""
        self._lock = threading.RLock()

    @staticmethod
    def _raw(text: str) -> None:
        sys.stderr.write(text)
        sys.stderr.flush()

    def line(self, text: str, *, err: bool = True) -> None:
        with self._lock:
            if self._bar:
                self._raw(self._ERASE)
            click.echo(text, err=err)
            if self._bar:
                self._raw(self._bar)

    def bar(self, text: str) -> None:
        if not self.tty:
            return
        with self._lock:
            self._bar = text
            self._raw(self._ERASE + text)

    def clear_bar(self) -> None:
        with self._lock:
            if self._bar:
                self._raw(self._ERASE)
                self._bar = ""


class Ordered:
    """Output of accounts applied concurrently, in account order: account ``i`` writes through
    while every account before it has finished; otherwise its lines wait and go out, in order,
    when its turn comes. Only the account whose turn it is draws the progress bar."""

    def __init__(self, console: Console, count: int) -> None:
        self.console = console
        self._turn = 0
        self._finished = [False] * count
        self._pending: list[list[tuple[str, bool]]] = [[] for _ in range(count)]
        self._lock = threading.Lock()

    def write(self, index: int, text: str, *, err: bool) -> None:
        with self._lock:
            if index == self._turn:
                self.console.line(text, err=err)
            else:
                self._pending[index].append((text, err))

    def bar(self, index: int, text: str) -> None:
        with self._lock:
            if index == self._turn:
                self.console.bar(text)

    def clear_bar(self, index: int) -> None:
        with self._lock:
            if index == self._turn:
                self.console.clear_bar()

    def finish(self, index: int) -> None:
        with self._lock:
            self._finished[index] = True
            if index == self._turn:
                self.console.clear_bar()
            while self._turn < len(self._finished) and self._finished[self._turn]:
                self._turn += 1
                if self._turn < len(self._finished):
                    for text, err in self._pending[self._turn]:
                        self.console.line(text, err=err)
                    self._pending[self._turn].clear()


class Progress:
    """The progress of one account's apply: a line per finished change (``[n/total]``) and,
    on a terminal, a bar with an ETA. The ETA is the larger of what the rate limits allow for
    the requests still to make (the plan's own estimate, less the time already spent, and the
    fastest schedule of the remaining requests) and the pace observed so far."""

    WIDTH = 30
    #: Redraw the bar at most this often (the ETA costs a pass over the remaining changes).
    INTERVAL = 0.1
    #: Trust the observed pace only after this many changes (the first few finish while the
    #: rest of the first batch is still in flight, which would make the pace look slow).
    OBSERVE_AFTER = 5

    def __init__(
        self,
        out: Ordered,
        index: int,
        plan: Plan,
        prefix: str = "",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.out, self.index, self.prefix, self.clock = out, index, prefix, clock
        self.plan = plan
        self.pending = {c.address: c for c in plan.changes if c.steps}
        self.total = len(self.pending)
        self.started = clock()
        self._eta_at = float("-inf")
        self._eta = 0.0

    def __call__(self, result: Result, done: int, total: int) -> None:
        self.pending.pop(result.address, None)
        # The API's own words are escaped, so a server cannot draw on the terminal or forge a
        # line of ours: the detail, the id, and the address (an orphan's is its marker).
        address = printable(result.address)
        if result.outcome is Outcome.APPLIED:
            what = _PAST.get(result.action, result.action)
            ident = f" (id {printable(result.remote_id)})" if result.remote_id else ""
            line = f"{address}: {what}{ident} [{done}/{total}]"
        else:
            detail = printable(result.detail)
            line = f"{address}: {result.outcome.value}: {detail} [{done}/{total}]"
        self.out.write(self.index, self.prefix + line, err=True)
        if self.out.console.tty:
            self.out.bar(self.index, self.bar_text(done, total, self.clock()))

    def start(self) -> None:
        """Draw the empty bar (on a terminal) before the first change finishes."""
        if self.out.console.tty and self.total:
            self.out.bar(self.index, self.bar_text(0, self.total, self.clock()))

    def eta(self, done: int, total: int, now: float) -> float:
        from hoodsync.planner import estimate

        elapsed = now - self.started
        by_plan = self.plan.estimate.seconds - elapsed
        by_limits = estimate(list(self.pending.values()), self.plan.account).seconds
        observed = elapsed / done * (total - done) if done >= self.OBSERVE_AFTER else 0.0
        return max(by_plan, by_limits, observed, 0.0)

    def bar_text(self, done: int, total: int, now: float) -> str:
        """The bar; the count is always current, the ETA recomputed at most every INTERVAL."""
        filled = self.WIDTH * done // total if total else self.WIDTH
        if done >= total:
            self._eta = 0.0
        elif now - self._eta_at >= self.INTERVAL:
            self._eta_at, self._eta = now, self.eta(done, total, now)
        eta = max(self._eta - (now - self._eta_at), 0.0) if done < total else 0.0
        return (
            f"{self.prefix}[{'#' * filled}{'.' * (self.WIDTH - filled)}] {done}/{total} "
            f"ETA {duration(eta)}"
        )


def duration(seconds: float) -> str:
    """``0:07`` / ``12:30`` / ``1:02:03``."""
    total = int(math.ceil(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _headline(report: ApplyReport, interrupts: Sequence[str] = ()) -> str:
    """How the apply ended: a stop that cut nothing short (it came after the last change had
    started, and every change was applied) is not called an interruption; creates held back
    after too many got no answer (:data:`hoodsync.apply.UNANSWERED_CREATES_LIMIT`) cut it
    short. Otherwise it is complete only when every change was applied (a failure or a change
    not attempted says so first, as Terraform's "Apply complete!" is said only of a clean
    run). ``interrupts`` names the signals that stopped it, in order (default: Ctrl-C)."""
    from hoodsync.apply import Outcome

    first, second = (list(interrupts) + ["Ctrl-C", "Ctrl-C"])[:2]
    if report.stopped_at_once:
        how = f"{first} twice" if first == second else f"{first}, then {second}"
        return f"Apply stopped at once ({how})"
    if report.interrupted and any(r.outcome is not Outcome.APPLIED for r in report.results):
        return f"Apply interrupted ({first})"
    if report.held_creates:
        return (
            f"Apply cut short ({len(report.unanswered_creates)} creates got no answer from the "
            "server, so no new create was started)"
        )
    if report.count(Outcome.FAILED):
        return "Apply finished with failures"
    if report.count(Outcome.NOT_ATTEMPTED):
        return "Apply incomplete"
    return "Apply complete"


def result_table(report: ApplyReport, interrupts: Sequence[str] = ()) -> str:
    """Every change as applied (with the id it touched), failed (with the error: the API's
    message and trace_id), interrupted (what was done, what was not sent or is unknown) or not
    attempted; a summary line saying how the apply ended (``interrupts``: the signals that
    stopped it); where the journal is."""
    from hoodsync.apply import Outcome

    rows = [
        (
            printable(r.address),
            r.action,
            r.outcome.value,
            printable(r.remote_id or "" if r.outcome is Outcome.APPLIED else r.detail),
        )
        for r in report.results
    ]
    widths = [
        max([len(h)] + [len(row[i]) for row in rows])
        for i, h in enumerate(("RESOURCE", "ACTION", "RESULT"))
    ]
    lines = [
        "  ".join(h.ljust(w) for h, w in zip(("RESOURCE", "ACTION", "RESULT"), widths)) + "  DETAIL"
    ]
    lines += [
        "  ".join(c.ljust(w) for c, w in zip(row[:3], widths)) + "  " + row[3] for row in rows
    ]
    interrupted = report.count(Outcome.INTERRUPTED)
    summary = (
        f"{_headline(report, interrupts)}: {report.count(Outcome.APPLIED)} applied, "
        f"{report.count(Outcome.FAILED)} failed, "
        + (f"{interrupted} interrupted, " if interrupted else "")
        + f"{report.count(Outcome.NOT_ATTEMPTED)} not attempted"
        + (f", {len(report.duplicates)} created more than once." if report.duplicates else ".")
    )
    # A create whose answer was lost can still have gone through twice: never silent.
    extra = [
        printable(
            f"DUPLICATE {d.address}: {len(d.ids)} objects carry its identity "
            f"(ids {', '.join(d.ids)}); `hoodsync apply --resolve-duplicates` keeps the oldest "
            "and retires the others"
        )
        for d in report.duplicates
    ]
    if report.duplicate_check_error:
        extra.append(
            printable(f"The final listing for duplicates failed: {report.duplicate_check_error}")
        )
    journal = f"Journal: {report.journal_path}"
    if report.journal_error:
        journal += (
            f" (incomplete: it {report.journal_error}; no change started after that, "
            "the table above is from memory)"
        )
    return "\n".join(lines + [""] + extra + [summary, journal])


def is_terminal(stream: TextIO | None) -> bool:
    """Whether ``stream`` is an open terminal (``None`` when the process was started with it
    closed, as ``<&-`` does)."""
    return stream is not None and not stream.closed and stream.isatty()


def in_ci() -> bool:
    """``CI`` is set to something other than an empty, ``0``, ``false`` or ``no`` value, as CI
    services set it."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _can_ask() -> bool:
    """Someone can answer the approval question: stdin is a terminal and this is not a CI job
    (a job may give its command a terminal nobody types into: ``docker run -t``)."""
    return is_terminal(sys.stdin) and not in_ci()


class TerminalView:
    """The hooks of ``apply`` (and the notices of every command) at a terminal or in a CI log.

    ``render_plan`` turns a plan into the text shown before approval; ``auto_approve`` skips the
    question; ``interactive`` says whether anyone can answer it (stdin is a terminal)."""

    def __init__(
        self,
        render_plan: Callable[[Plan], str],
        *,
        auto_approve: bool = False,
        interactive: bool | None = None,
        tty: bool | None = None,
    ) -> None:
        self.render_plan = render_plan
        self.auto_approve = auto_approve
        self.interactive = _can_ask() if interactive is None else interactive
        self.console = Console(tty=is_terminal(sys.stderr) if tty is None else tty)
        #: Set once changes start being sent: Ctrl-C then winds down instead of aborting.
        self.applying = threading.Event()
        #: The signals that stopped the apply, in order ("Ctrl-C", "SIGTERM"): the headline.
        self.interrupts: list[str] = []
        #: The changes any account's final listing found created more than once.
        self.duplicates: list[str] = []
        self._out: Ordered | None = None
        self._index: dict[str, int] = {}
        self._progress: dict[str, Progress] = {}

    def notice(self, message: str) -> None:
        """One line on stderr (escaped: a notice may quote names read from the account)."""
        self.console.line(printable(message), err=True)

    def plans_ready(self, plans: Sequence[tuple[str, Plan]]) -> None:
        """Print every plan, in account order; prepare the ordered output of the apply."""
        for _, plan in plans:
            click.echo(self.render_plan(plan), nl=False)
        working = [name for name, plan in plans if plan.has_changes]
        self._index = {name: i for i, name in enumerate(working)}
        self._out = Ordered(self.console, len(working))
        several = len(working) > 1
        for name, plan in plans:
            if name in self._index:
                self._progress[name] = Progress(
                    self._out, self._index[name], plan, f"[{name}] " if several else ""
                )

    def approve(self) -> bool:
        """Ask for `yes` on a terminal; refuse without --auto-approve when nobody can answer.
        True once someone answered `yes` (time has passed since the plan was made)."""
        if self.auto_approve:
            return False
        if not self.interactive:
            why = "CI is set" if in_ci() else "no terminal to ask on"
            raise HoodsyncError(f"refusing to apply without --auto-approve: {why}")
        answer = click.prompt(
            "Do you want to perform these actions? Only 'yes' will be accepted",
            default="",
            show_default=False,
        )
        if answer.strip() != "yes":
            raise HoodsyncError("apply cancelled; nothing was changed")
        return True

    def apply_started(self, account: str, plan: Plan) -> None:
        """Draw the empty bar (on a terminal)."""
        self.applying.set()
        self._progress[account].start()

    def change_finished(self, account: str, result: Result, done: int, total: int) -> None:
        """A progress line (and the bar)."""
        self._progress[account](result, done, total)

    def apply_finished(self, account: str, report: ApplyReport) -> None:
        """The result table replaces the bar."""
        self.duplicates += [d.address for d in report.duplicates]
        out, index = self._ordered(account)
        out.clear_bar(index)
        out.write(index, result_table(report, self.interrupts), err=False)
        out.finish(index)

    def apply_failed(self, account: str, message: str) -> None:
        """One error line for the account."""
        out, index = self._ordered(account)
        out.write(index, printable(f"error: {account}: {message}"), err=True)
        out.finish(index)

    def _ordered(self, account: str) -> tuple[Ordered, int]:
        assert self._out is not None, "plans_ready comes first"
        return self._out, self._index[account]
