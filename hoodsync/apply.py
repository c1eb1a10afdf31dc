"""Executing a plan: each change's steps in order, changes in the plan's waves, through the
clients (which own rate limiting, retries and exactly-once creates).

Contract:

* Changes run in the plan's order. A *wave* (``order:``) starts only when the previous wave has
  finished; within a wave, phases (creates/edits, then state changes, then removals) are
  barriers too, and up to ``parallelism`` changes of one phase run at once.
* A change's steps run one after another.
* A failed change does not stop the reversible changes of its wave (creates and edits, pauses,
  resumes), as a failed resource in Terraform does not stop those that do not depend on it;
  every change of a *later* wave is then "not attempted", since waves exist to express
  dependencies. Nor does anything that cannot be taken back start once a change of this apply
  has failed (:func:`_irreversible`): removals (cancel, stop, deactivate: every change of the
  removal phase, and any flagged irreversible or a removal) and changes that send at once.
  Their dependence on the failed change is often implicit — a key rename is a create and a
  cancel; a replacement a create and a stop — and a failure means the reviewed plan is not
  what is happening. They are "not attempted", saying which change failed, and journaled as
  ``skipped`` (nothing was sent, so the next plan simply plans them again).
* A step that changes a status (pause, resume, cancel, start, stop: the APIs answer before
  the change shows) is followed by re-reading the object until it shows the new status,
  bounded by ``settle_timeout`` — before the change's next step, and for a Hood campaign also
  before the change is reported applied, so that an apply (or plan) right after does not see
  the old status as drift and send the action again (:func:`~hoodsync.plan.waits_after`). A
  status that does not show in time fails the change.
  The resume sent after a failed edit of a running campaign is waited for in the same way.
* A running campaign that was paused for an edit is resumed again when the edit fails, so a
  failure never leaves a live campaign stopped behind the user's back. Where no resume can go
  through — the pause was accepted but never showed (the campaign is not paused yet), the
  pause failed in a way that may still have paused it, or the resume itself failed — the
  result says the campaign may be left paused, and so does the journal's ``end`` line
  (``may_be_left_paused``); the next plan, reading the journal, resumes it
  (:mod:`hoodsync.recovery`).
* Stopping (the ``stop`` event, or a first Ctrl-C while :func:`apply_plan` waits in the main
  thread): no further change starts, changes already started run to their end (their steps are
  a sequence that should not be cut in half: a campaign created to be paused must not be left
  live, a running one paused for an edit must not be left paused), and the rest are "not
  attempted".
* Stopping at once (the ``abort`` event, or a second Ctrl-C): nothing more is sent and nothing
  is waited for. Each call still in flight gets a ``result`` line with status ``unknown`` and
  its change is "interrupted"; the ``end`` line closes the journal, and the threads still
  waiting for an answer are left behind (daemon threads: they do not hold the process) and
  write nothing more. A create whose answer was lost this way is found again by the next
  plan through its marker (campaigns) or name, like any create with an unknown outcome.
* Every mutation is written to the journal before it is sent (intent) and after (result). The
  journal holds addresses, operations, ids and error messages — never request bodies, which may
  carry interpolated secrets. Its intents also say how many steps the change has, whether it
  is an edit of a running campaign, and whether it creates an email campaign to stop it (one
  whose stop has not gone through is live: its failure says so): what the next run needs to
  tell, from the journal of an
  apply that died, which changes it left half done (:mod:`hoodsync.journal`). A step whose intent cannot be written (disk full) is not sent;
  from then on no new change starts, a campaign paused for that change is still resumed, and
  the report says what is known and that the journal is incomplete.
* Creates are made once by the clients, which look for an unanswered create over a settle
  window before sending it again. Once the apply is stopping, an unanswered create is not sent
  again and no settle window is waited out: it is looked for once — one listing whose requests
  are not retried and end within one request deadline of the stop
  (:meth:`_Runner.stop_elapsed`) — and if not found its result is journaled ``unknown`` and its
  change is "interrupted" (the next plan waits for it).
* A server that takes creates and never answers costs minutes per create (every send a
  request deadline and a settle window). Once :data:`UNANSWERED_CREATES_LIMIT` creates of the
  apply have got no answer at all (an answer refusing one, 4xx or 5xx, does not count), no new
  change with a create starts: they are "not attempted" (journaled ``skipped``, planned again
  next time); the changes in flight finish, but a create among them whose answer is lost is
  not sent again (its outcome is left unknown, as for a stop). The creates that got no answer are journaled
  as failed without ``not_done``, so the next plan waits for them like any unanswered create —
  unless no attempt ever reached the server (every connection refused: ``not_sent`` on the
  error): those are ``not_done``, and nothing waits for them.
* After a run in which any create's outcome was unknown, one final listing looks for
  duplicates of what the run created; any is in the report (and makes it not ``ok``), never
  silent. Once the apply is stopping, that listing is bounded as the look above, and fails
  when it cannot be made in time (:func:`_check_duplicates` says why no duplicate can come of
  that).
* Immediately before each step, the change's time-dependent flags are judged again by the
  clock of that moment plus :data:`SEND_MARGIN`, with the planner's own rules
  (:meth:`~hoodsync.kinds.base.KindRules.timely_since`): when the steps from there on now do
  something the plan did not say — a time they send has passed since it was made, an
  activation now sends at once — that step is not sent. The change fails (nothing sent for
  that step: its journal line is a failed ``result`` marked ``not_done``, with no intent), a
  campaign paused for it is resumed, and the failure counts as any other.

Only the CLI prints: each finished change is reported to a :class:`hoodsync.hooks.ChangeHooks`
(``change_finished``), as every other event of an apply is.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import enum
import functools
import hmac
import itertools
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future
from concurrent.futures import wait as wait_futures
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from hoodsync.definitions.interpolate import resolve
from hoodsync.errors import (
    ApiError,
    HoodsyncError,
    InsecureTransportError,
    OutcomeUnknownError,
    PlanError,
    RateLimitedError,
    RemoteError,
    StalePlanError,
)
from hoodsync.hooks import ChangeHooks
from hoodsync.identity import ValueKey
from hoodsync.journal import Journal, Trace
from hoodsync.kinds import RULES, from_remote
from hoodsync.kinds.base import KindRules, group_by
from hoodsync.kinds.namesakes import acted_on_id
from hoodsync.model import Kind, RemoteObject
from hoodsync.plan import PHASES, Action, Change, Flag, Op, Plan, Step, stops_created, waits_after
from hoodsync.wire import (
    API_TIME,
    CAMPAIGN_AFTER_CANCEL,
    CAMPAIGN_AFTER_PAUSE,
    CAMPAIGN_RESUMED,
    campaign_status,
    email_campaign_status,
    merged,
)

__all__ = [
    "Outcome",
    "Result",
    "Duplicate",
    "ApplyReport",
    "Journal",
    "Clients",
    "resolve_steps",
    "identity_name",
    "unchecked",
    "apply_plan",
    "UNANSWERED_CREATES_LIMIT",
    "SEND_MARGIN",
]

log = logging.getLogger(__name__)

#: After this many creates of one apply got no answer from the server at all (each one costs
#: up to ``max_attempts`` sends, each a request deadline plus a settle window: minutes), no
#: new create starts (README, "Waiting, retries and bounds").
UNANSWERED_CREATES_LIMIT = 2

#: How far ahead of the clock the times of a step about to be sent are judged
#: (:meth:`_Runner.late`): a time this close counts as passed, since the request reaches the
#: server, and the server acts on it, a little after the look (README, "Apply").
SEND_MARGIN = dt.timedelta(seconds=10)


def _machine_now() -> dt.datetime:
    """This machine's clock, timezone-aware (UTC)."""
    return dt.datetime.now(dt.UTC)


#: What a state action leaves the object in, per kind and op (campaign statuses are the API's).
_SETTLED: Mapping[tuple[Kind, str], frozenset[str]] = {
    (Kind.CAMPAIGN, "pause"): CAMPAIGN_AFTER_PAUSE,
    (Kind.CAMPAIGN, "resume"): CAMPAIGN_RESUMED,
    (Kind.CAMPAIGN, "cancel"): CAMPAIGN_AFTER_CANCEL,
    (Kind.EMAIL_CAMPAIGN, "start"): frozenset({"active"}),
    (Kind.EMAIL_CAMPAIGN, "stop"): frozenset({"stopped"}),
}


class Outcome(str, enum.Enum):
    """How one change ended."""

    APPLIED = "applied"
    FAILED = "failed"
    #: Started, then cut off by a second Ctrl-C before its last step, or its call's answer unknown.
    INTERRUPTED = "interrupted"
    NOT_ATTEMPTED = "not attempted"


@dataclass(frozen=True, slots=True)
class Result:
    """The end of one change: outcome, what happened in a few words, the remote id it touched,
    and for failures the error's one-line message (the API's title/message/trace_id)."""

    address: str
    action: str
    outcome: Outcome
    detail: str = ""
    remote_id: str | None = None
    steps_done: int = 0
    steps_total: int = 0


@dataclass(frozen=True, slots=True)
class Duplicate:
    """Several remote objects carry the identity of one change's create (marker or name): a
    create whose answer was lost went through more than once. ``ids`` oldest first."""

    address: str
    ids: tuple[str, ...]


@dataclass(slots=True)
class ApplyReport:
    """Every change's result, in plan order, where the journal is, and what went wrong beside
    the changes: a journal that could not be written, duplicates the final listing found, or
    that listing failing."""

    results: list[Result] = field(default_factory=list)
    journal_path: Path | None = None
    #: True when a stop (Ctrl-C) arrived while changes were still running or waiting to run.
    interrupted: bool = False
    #: True when the apply was stopped at once (second Ctrl-C): answers were not waited for.
    stopped_at_once: bool = False
    #: Why the journal stopped being written (it is incomplete), if it did.
    journal_error: str | None = None
    #: Objects created more than once, found by the final listing (see the module doc).
    duplicates: list[Duplicate] = field(default_factory=list)
    #: Why the final listing for duplicates failed, if it did (duplicates are then unknown).
    duplicate_check_error: str | None = None
    #: The creates that got no answer from the server at all (their outcome is unknown).
    unanswered_creates: tuple[str, ...] = ()
    #: Changes not started because :data:`UNANSWERED_CREATES_LIMIT` creates got no answer.
    held_creates: int = 0

    def count(self, outcome: Outcome) -> int:
        return sum(1 for r in self.results if r.outcome is outcome)

    @property
    def ok(self) -> bool:
        """True when every change was applied, the journal is complete and no duplicate was
        found (or could have gone unseen)."""
        return (
            all(r.outcome is Outcome.APPLIED for r in self.results)
            and self.journal_error is None
            and not self.duplicates
            and self.duplicate_check_error is None
        )


class HoodApi(Protocol):
    """What apply needs of the Hood client."""

    def create_campaign(
        self,
        body: Mapping[str, Any],
        *,
        key: str | None,
        on_resend: Callable[[int], None] | None = None,
        stopping: Callable[[], bool] | None = None,
        stop_elapsed: Callable[[], float | None] | None = None,
    ) -> dict[str, Any]: ...
    def get_campaign(self, campaign_id: str) -> dict[str, Any]: ...
    def patch_campaign(self, campaign_id: str, patch: Mapping[str, Any]) -> None: ...
    def pause_campaign(self, campaign_id: str, reason: str | None = None) -> None: ...
    def resume_campaign(self, campaign_id: str, body: Mapping[str, Any] | None = None) -> None: ...
    def cancel_campaign(self, campaign_id: str, reason: str | None = None) -> None: ...
    def create_push_task(
        self,
        body: Mapping[str, Any],
        *,
        on_resend: Callable[[int], None] | None = None,
        stopping: Callable[[], bool] | None = None,
        stop_elapsed: Callable[[], float | None] | None = None,
    ) -> dict[str, Any]: ...
    def patch_push_task(self, task_id: str, patch: Mapping[str, Any]) -> None: ...
    def list_campaigns(self) -> list[dict[str, Any]]: ...
    def list_push_tasks(self) -> list[dict[str, Any]]: ...
    def within_stop(
        self, stop_elapsed: Callable[[], float | None] | None
    ) -> AbstractContextManager[None]:
        """The calls inside end within one request deadline of a stop that began
        ``stop_elapsed()`` seconds ago (``None``: not stopping)."""

    @property
    def unknown_outcomes(self) -> int:
        """Creates whose outcome was unknown at least once, so far."""


class FalconyteApi(Protocol):
    """What apply needs of the Falconyte client."""

    def list_campaigns(self) -> list[dict[str, Any]]: ...
    def create_campaign(
        self,
        body: Mapping[str, Any],
        *,
        exclude_ids: Collection[str] = (),
        on_resend: Callable[[int], None] | None = None,
        stopping: Callable[[], bool] | None = None,
        stop_elapsed: Callable[[], float | None] | None = None,
    ) -> dict[str, Any]: ...
    def start_campaign(self, campaign_id: str) -> None: ...
    def stop_campaign(self, campaign_id: str) -> None: ...
    def within_stop(
        self, stop_elapsed: Callable[[], float | None] | None
    ) -> AbstractContextManager[None]:
        """The calls inside end within one request deadline of a stop that began
        ``stop_elapsed()`` seconds ago (``None``: not stopping)."""

    @property
    def unknown_outcomes(self) -> int:
        """Creates whose outcome was unknown at least once, so far."""


@dataclass(frozen=True, slots=True)
class Clients:
    """The account's API clients; ``falconyte`` may be None when no change needs it."""

    hood: HoodApi | None
    falconyte: FalconyteApi | None = None


class _Recorder:
    """The journal as apply uses it: a failed write is recorded, sets ``broken`` (no new change
    starts) and returns False, instead of raising out of the apply.

    It also keeps a :class:`~hoodsync.journal.Trace` per change, and can be *sealed*
    (:meth:`seal`): from then on only the sealing thread writes — the lines of threads left
    behind by a stop at once are dropped (``write`` returns False), so nothing follows the
    ``end`` line."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.broken = threading.Event()
        self._lock = threading.Lock()
        self._owner: int | None = None
        self._traces: dict[str, Trace] = {}

    def write(self, event: str, **fields: Any) -> bool:
        with self._lock:
            if self._owner is not None and threading.get_ident() != self._owner:
                return False
            if not self._write(event, fields):
                return False
            self._trace(event, fields)
            return True

    def seal(self) -> dict[str, Trace]:
        """Keep the journal for the calling thread from now on; return a copy of every
        change's trace, consistent with the lines written."""
        with self._lock:
            self._owner = threading.get_ident()
            return {address: replace(t) for address, t in self._traces.items()}

    def traces(self) -> dict[str, Trace]:
        """A copy of every change's trace, consistent with the lines written."""
        with self._lock:
            return {address: replace(t) for address, t in self._traces.items()}

    def _trace(self, event: str, fields: Mapping[str, Any]) -> None:
        address = fields.get("address")
        if isinstance(address, str):
            self._traces.setdefault(address, Trace()).feed(event, fields)

    def _write(self, event: str, fields: Mapping[str, Any]) -> bool:
        try:
            self.journal.write(event, **fields)
        except OSError as exc:
            if not self.broken.is_set():
                self.broken.set()
                log.warning(
                    "cannot write the journal %s (%s): starting no new change",
                    self.journal.path,
                    exc.strerror or exc,
                )
            return False
        return True

    @property
    def error(self) -> str | None:
        """Why the journal is incomplete, in a few words (``None`` if it is complete)."""
        exc = self.journal.error
        if exc is None:
            return None
        return f"could not be written: {exc.strerror or exc}"


@dataclass
class _Runner:
    clients: Clients
    journal: _Recorder
    #: values to resolve ${env:...} with: secrets, kept out of the repr
    env: Mapping[str, str] = field(repr=False)
    sleep: Callable[[float], None]
    clock: Callable[[], float]
    settle_timeout: float
    #: address → ids of older remote objects sharing its name (superseded email campaigns)
    same_name: Mapping[str, Sequence[str]] = field(default_factory=dict)
    #: variables holding API credentials: never interpolated into a request body
    forbidden_env: frozenset[str] = frozenset()
    #: the account's key of the sensitive values' fingerprints (see :func:`resolve_steps`)
    value_key: ValueKey | None = field(default=None, repr=False)
    #: set: start no new change (a first Ctrl-C); see the module docstring
    stop: threading.Event = field(default_factory=threading.Event)
    #: set: send nothing more and give up at once (a second Ctrl-C)
    abort: threading.Event = field(default_factory=threading.Event)
    #: after this many creates got no answer at all, no new create starts (the module doc)
    unanswered_limit: int = UNANSWERED_CREATES_LIMIT
    #: the creates of this apply that got no answer at all, in the order they ended
    unanswered: list[str] = field(default_factory=list)
    #: how many changes were not started because of :attr:`unanswered`
    held_creates: int = 0
    #: the clock times are judged by before each step (:meth:`late`; see :func:`apply_plan`)
    now: Callable[[], dt.datetime] = _machine_now
    #: the clock the plan's time-dependent flags were judged by (``Plan.planned_at``)
    planned_at: dt.datetime | None = None
    #: (kind, id) → each object as read before the apply (the clients' dict)
    objects: Mapping[tuple[Kind, str], Mapping[str, Any]] = field(default_factory=dict)
    #: when (``clock``) the apply was first seen stopping: see :meth:`stop_elapsed`
    _stopped_at: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    # ------------------------------------------------------------------ one change

    def run(self, change: Change) -> Result:
        """Run one change's steps; never raises for an API failure (it becomes the result).

        Two ids are tracked apart: ``created`` is the id this change's ``create`` step made, and
        a step without an id acts on it (or, when the change creates nothing, on the change's
        remote object). The result names the created object when there is one — for an email
        ``replace`` the NEW campaign, not the old one its last step stopped.

        A change runs to its end once started, whatever ``stop`` says (its steps are one
        sequence: cut after a create, a campaign meant to be paused would be left live); once
        ``abort`` is set it raises :class:`_Abandoned` at the next look, sending and writing
        nothing more (its result is then made from the journal).
        """
        # may raise StalePlanError before any write
        steps = resolve_steps(change, self.env, self.value_key, forbidden_env=self.forbidden_env)
        created: str | None = None
        done = 0
        target: str | None = change.remote_id
        # Read back by the next run (hoodsync.journal): how many steps the change has, and
        # whether it is an edit of a running campaign (a pause it must not leave behind).
        about: dict[str, Any] = {"of": len(steps)}
        if Flag.LIVE_EDIT in change.flags:
            about["live_edit"] = True
        # ... and whether it creates an email campaign to stop it: cut in between, the new
        # campaign is left sending (the next plan stops it: hoodsync.recovery).
        stops_new = stops_created(steps)
        if stops_new:
            about["stops_created"] = True
        live: str | None = None  # the campaign this change created to stop, until stopped
        for index, step in enumerate(steps):
            self._check_abort()
            target = None if step.op == "create" else (step.id or created or change.remote_id)
            late = self.late(change, steps, index)
            if late is not None:
                result = self._refused(change, steps, index, target, late, created)
                return _with_live_note(result, live)
            if not self.journal.write(
                "intent", address=change.address, step=index, op=step.op, id=target, **about
            ):
                self._check_abort()  # a sealed journal, not a full one
                # Write-ahead: a step whose intent is not on disk is not sent.
                resumed = self._compensate(change, steps[:index], target)
                result = self._unjournaled(change, step, index, created or target, len(steps))
                return _with_live_note(_with_pause_note(result, resumed), live)
            self._check_abort()  # its intent is written: the journal says "unknown" for it
            try:
                new_id = self._call(change, step, target)
            except HoodsyncError as exc:
                self._check_abort()
                if step.op == "create" and _unanswered(exc):
                    self._note_unanswered(change.address)
                    if self._stopping() and _may_have_taken_effect(exc):
                        # A create is never preceded by a live edit's pause: nothing to resume.
                        result = self._create_cut_short(change, index, exc, created, len(steps))
                        return _with_live_note(result, _MAYBE if stops_new else None)
                self._journal_failure(
                    "result",
                    change,
                    index,
                    step,
                    target,
                    str(exc),
                    not_done=not _may_have_taken_effect(exc),
                )
                resumed = self._compensate(change, steps[:index], target)
                if resumed is None and step.op == "pause" and Flag.LIVE_EDIT in change.flags:
                    # A pause whose answer was lost may still have paused the campaign.
                    resumed = False if _may_have_taken_effect(exc) else None
                result = self._failed(change, step, index, exc, created or target, len(steps))
                if step.op == "create" and stops_new and _may_have_taken_effect(exc):
                    live = _MAYBE
                return _with_live_note(_with_pause_note(result, resumed), live)
            self._check_abort()
            if new_id is not None:
                created = target = new_id
                live = new_id if stops_new else None
            elif step.op == "stop" and target == live:
                live = None
            done += 1
            self.journal.write(
                "result", address=change.address, step=index, op=step.op, id=target, status="ok"
            )
            if target and (change.kind, step.op) in _SETTLED and waits_after(change, index):
                try:
                    self._settle(change.kind, step.op, target)
                except HoodsyncError as exc:
                    self._journal_failure("settle", change, index, step, target, str(exc))
                    if step.op == "stop" and target == created and stops_new:
                        live = created  # accepted, not seen: it may still be sending
                    if index + 1 == len(steps):
                        # Accepted, but not seen: not reported done, as a run reading the old
                        # status would send it again.
                        result = Result(
                            change.address,
                            change.action,
                            Outcome.FAILED,
                            f"{step.op} was accepted but did not show: {exc}",
                            created or target,
                            done,
                            len(steps),
                        )
                        return _with_live_note(result, live)
                    # The step happened but never showed; the next step would act on a guess.
                    result = self._failed(
                        change, steps[index + 1], index + 1, exc, created or target, len(steps)
                    )
                    # A pause that was accepted but has not shown may still take effect: no
                    # resume can be sent to a campaign that is not paused yet.
                    live_pause = step.op == "pause" and Flag.LIVE_EDIT in change.flags
                    result = _with_pause_note(result, False if live_pause else None)
                    return _with_live_note(result, live)
        return Result(
            change.address,
            change.action,
            Outcome.APPLIED,
            change.description,
            created or target or change.remote_id,
            done,
            len(steps),
        )

    def _journal_failure(
        self,
        event: str,
        change: Change,
        index: int,
        step: Step,
        target: str | None,
        error: str,
        *,
        not_done: bool = False,
    ) -> None:
        """The journal's ``event`` line (``result``, ``settle``) for step ``index`` of
        ``change``, which failed (``not_done``: it certainly did not take effect)."""
        self.journal.write(
            event,
            address=change.address,
            step=index,
            op=step.op,
            id=target,
            status="failed",
            error=error,
            **({"not_done": True} if not_done else {}),
        )

    def _check_abort(self) -> None:
        if self.abort.is_set():
            raise _Abandoned

    def late(self, change: Change, steps: Sequence[Step], index: int) -> str | None:
        """Why step ``index`` of ``change`` (``steps`` resolved) must not be sent, if it must
        not: judged at :attr:`now` plus :data:`SEND_MARGIN`, the steps from it on do
        something time-dependent that they did not when the plan was made — a time sent that
        has passed since, an activation that now sends at once. The planner's own rules judge
        it (:meth:`~hoodsync.kinds.base.KindRules.timely_since`), on the object as read before
        the apply (:attr:`objects`) with the patches of the steps before ``index``, already
        sent, merged in (:func:`left_by`): a resume after an edit of the time is judged by the
        time the edit sent. Never raises: a clock too near the last time a datetime holds
        for the margin is judged without it."""
        now = self.now()
        try:
            at = now + SEND_MARGIN
        except OverflowError:
            at = now
        ident = acted_on_id(change)
        raw = self.objects.get((change.kind, ident)) if ident is not None else None
        rules = RULES[change.kind]
        obj = left_by(rules, raw, steps[:index]) if raw is not None else None
        new = rules.timely_since(steps[index:], obj, self.planned_at, at)
        if not new:
            return None
        return (
            f"{'; '.join(sorted(new))}, which it did not when the plan was made (judged at "
            f"{at.strftime(API_TIME)} GMT: the later of this machine's and Hood's clock, "
            f"plus {SEND_MARGIN.seconds} s for the request to arrive); plan again"
        )

    def _refused(
        self,
        change: Change,
        steps: Sequence[Step],
        index: int,
        target: str | None,
        why: str,
        created: str | None,
    ) -> Result:
        """The failure of ``change`` whose step ``index`` (on ``target``) is not sent, for
        ``why`` (:meth:`late`). Its journal line is a failed ``result`` marked ``not_done``,
        with no intent before it (nothing was sent); a campaign paused for the edit is
        resumed, as after any failed step."""
        step = steps[index]
        self._journal_failure("result", change, index, step, target, why, not_done=True)
        resumed = self._compensate(change, steps[:index], target)
        after = f" (after {index} of its steps succeeded)" if index else ""
        detail = f"{step.op} not sent{after}: {why}"
        result = Result(
            change.address,
            change.action,
            Outcome.FAILED,
            detail,
            created or target,
            index,
            len(steps),
        )
        return _with_pause_note(result, resumed)

    def _note_unanswered(self, address: str) -> None:
        with self._lock:
            self.unanswered.append(address)
            if len(self.unanswered) == self.unanswered_limit:
                log.warning(
                    "%d creates got no answer from the server (%s): starting no new create",
                    len(self.unanswered),
                    ", ".join(self.unanswered),
                )

    def hold_create(self, change: Change) -> str | None:
        """Why ``change`` may not start, if it creates something and :attr:`unanswered_limit`
        creates of this apply already got no answer at all (a server that takes POSTs and
        never answers costs minutes per create: the next one would most likely do the same).
        Counted in :attr:`held_creates`."""
        if not any(step.op == "create" for step in change.steps):
            return None
        with self._lock:
            if len(self.unanswered) < self.unanswered_limit:
                return None
            self.held_creates += 1
            return (
                f"not started: {len(self.unanswered)} creates of this apply got no answer from "
                f"the server ({', '.join(self.unanswered)}); after {self.unanswered_limit}, "
                "no new create starts"
            )

    def _no_resend(self) -> bool:
        """Whether a create whose answer was lost may not be sent again: the apply is stopping,
        or :attr:`unanswered_limit` creates already got no answer (a create started just
        before that then costs one send, not ``max_attempts`` sends and settle windows)."""
        if self._stopping():
            return True
        with self._lock:
            return len(self.unanswered) >= self.unanswered_limit

    def _stopping(self) -> bool:
        """Whether the apply is winding down (``stop`` or ``abort`` set): asked by the clients
        before they send an unanswered create again or wait out a settle window."""
        return self.stop.is_set() or self.abort.is_set()

    def stop_elapsed(self) -> float | None:
        """Seconds since the apply was first seen stopping (``None``: it is not). The clients
        end the lookups a stopping apply still makes — the one look for a create whose
        answer was lost, the final listing for duplicates — within one request deadline of
        that moment (:meth:`~hoodsync.remote.transport.ApiTransport.within_stop`), so that a
        stop takes at most about one request deadline whatever the server does."""
        if not self._stopping():
            return None
        now = self.clock()
        with self._lock:
            if self._stopped_at is None:
                self._stopped_at = now
            return now - self._stopped_at

    def _create_cut_short(
        self, change: Change, index: int, exc: HoodsyncError, remote_id: str | None, total: int
    ) -> Result:
        """A create whose outcome is unknown, not sent again because the apply is stopping.
        Journaled ``unknown`` (its intent stays open), so the next plan waits for a late commit
        over the settle window before planning it again (:mod:`hoodsync.recovery`)."""
        self.journal.write(
            "result",
            address=change.address,
            step=index,
            op="create",
            id=None,
            status="unknown",
            error=f"{_NOT_RESENT}: {exc}",
        )
        after = f" (after {index} of its steps succeeded)" if index else ""
        return Result(
            change.address,
            change.action,
            Outcome.INTERRUPTED,
            f"create {_NOT_RESENT}; its outcome is unknown{after}: {exc}",
            remote_id,
            index,
            total,
        )

    def _unjournaled(
        self, change: Change, step: Step, index: int, remote_id: str | None, total: int
    ) -> Result:
        """The result of a change stopped because its next intent could not be journaled."""
        why = f"the journal {self.journal.error or 'could not be written'}"
        if index == 0:
            return Result(
                change.address,
                change.action,
                Outcome.NOT_ATTEMPTED,
                why,
                remote_id,
                0,
                total,
            )
        return Result(
            change.address,
            change.action,
            Outcome.FAILED,
            f"{step.op} not sent (after {index} of its steps succeeded): {why}",
            remote_id,
            index,
            total,
        )

    def _failed(
        self,
        change: Change,
        step: Step,
        index: int,
        exc: Exception,
        remote_id: str | None,
        total: int,
    ) -> Result:
        return Result(
            change.address,
            change.action,
            Outcome.FAILED,
            self._failure(change, step, index, exc),
            remote_id,
            index,
            total,
        )

    @staticmethod
    def _failure(change: Change, step: Step, index: int, exc: Exception) -> str:
        before = f" (after {index} of its steps succeeded)" if index else ""
        return f"{step.op} failed{before}: {exc}"

    def _compensate(self, change: Change, done: Sequence[Step], target: str | None) -> bool | None:
        """A live campaign paused for an edit is resumed if the edit then fails, or is not sent
        — even when the journal cannot record it: leaving a live campaign stopped is worse
        than a resume missing from the journal. Returns whether it was resumed (``None``:
        nothing to resume). Never after a stop at once: then nothing more is sent."""
        if change.kind is not Kind.CAMPAIGN or target is None or Flag.LIVE_EDIT not in change.flags:
            return None
        if not done or done[-1].op != "pause" or self.abort.is_set():
            return None
        try:
            if (
                not self.journal.write(
                    "intent", address=change.address, op="resume", id=target, compensating=True
                )
                and self.abort.is_set()
            ):
                return None  # sealed by a stop at once, not full: send nothing more
            self._hood().resume_campaign(target, None)
            self.journal.write(
                "result",
                address=change.address,
                op="resume",
                id=target,
                status="ok",
                compensating=True,
            )
        except HoodsyncError as exc:
            self.journal.write(
                "result",
                address=change.address,
                op="resume",
                id=target,
                status="failed",
                compensating=True,
                error=str(exc),
            )
            log.warning("%s: could not resume after a failed edit: %s", change.address, exc)
            return False
        try:
            # Like any status change: shown before the change is reported, or a run right
            # after would take the campaign for paused and plan around that.
            self._settle(change.kind, "resume", target)
        except HoodsyncError as exc:
            log.warning("%s: the resume after a failed edit did not show: %s", change.address, exc)
        return True

    # ------------------------------------------------------------------ API calls

    def _hood(self) -> HoodApi:
        if self.clients.hood is None:
            raise PlanError("the plan needs the Hood API, but no Hood client is configured")
        return self.clients.hood

    def _falconyte(self) -> FalconyteApi:
        if self.clients.falconyte is None:
            raise PlanError(
                "the plan needs the Falconyte API, but no Falconyte client is configured"
            )
        return self.clients.falconyte

    def _call(self, change: Change, step: Step, target: str | None) -> str | None:
        """Perform one step; return the id of a created object (None otherwise)."""
        kind = change.kind
        body = dict(step.body) if step.body is not None else None
        if step.op == "create":
            created = self._create(change, body or {})
            return str(created["id"])
        if target is None:
            raise PlanError(f"step {step.op} has no object id")
        if kind is Kind.CAMPAIGN:
            hood = self._hood()
            if step.op == "patch":
                hood.patch_campaign(target, body or {})
            elif step.op == "pause":
                hood.pause_campaign(target, (body or {}).get("reason"))
            elif step.op == "resume":
                hood.resume_campaign(target, body or None)
            elif step.op == "cancel":
                hood.cancel_campaign(target, (body or {}).get("reason"))
            else:
                raise PlanError(f"{step.op} is not an operation on campaigns")
        elif kind is Kind.PUSH_TASK:
            if step.op != "patch":
                raise PlanError(f"{step.op} is not an operation on push tasks")
            self._hood().patch_push_task(target, body or {})
        else:
            falconyte = self._falconyte()
            if step.op == "start":
                falconyte.start_campaign(target)
            elif step.op == "stop":
                falconyte.stop_campaign(target)
            else:
                raise PlanError(f"{step.op} is not an operation on email campaigns")
        return None

    def _create(self, change: Change, body: dict[str, Any]) -> dict[str, Any]:
        """Create exactly once (the clients list before re-sending an unanswered create).

        An email campaign is found again by name, and a replacement shares its name with the
        campaign it replaces and with older superseded ones: those ids are excluded, so a lost
        answer can never be mistaken for the old campaign."""

        def resent(send: int) -> None:
            # A later run waits for a create's late commit from the last time it was sent:
            # write-ahead, a send whose line is not on disk does not go.
            if not self.journal.write("resend", address=change.address, op="create", send=send):
                raise OutcomeUnknownError(
                    f"not sent again: the journal {self.journal.error or 'is closed'}; the "
                    "outcome of its last send is unknown",
                    operation=f"create {change.address}",
                )

        # Once the apply is stopping, or enough creates got no answer, a create whose outcome
        # is unknown is not sent again.
        # Once it is stopping, the one look for it ends within a request deadline of the stop.
        stopping, elapsed = self._no_resend, self.stop_elapsed
        if change.kind is Kind.CAMPAIGN:
            return self._hood().create_campaign(
                body, key=change.key, on_resend=resent, stopping=stopping, stop_elapsed=elapsed
            )
        if change.kind is Kind.PUSH_TASK:
            return self._hood().create_push_task(
                body, on_resend=resent, stopping=stopping, stop_elapsed=elapsed
            )
        older = set(self.same_name.get(change.address, ()))
        if change.remote_id:
            older.add(change.remote_id)
        return self._falconyte().create_campaign(
            body,
            exclude_ids=sorted(older),
            on_resend=resent,
            stopping=stopping,
            stop_elapsed=elapsed,
        )

    # ------------------------------------------------------------------ settling

    def _status(self, kind: Kind, remote_id: str) -> str | None:
        if kind is Kind.CAMPAIGN:
            return campaign_status(self._hood().get_campaign(remote_id))
        for item in self._falconyte().list_campaigns():
            if str(item.get("id")) == remote_id:
                return email_campaign_status(item)
        return None

    def _settle(self, kind: Kind, op: str, remote_id: str) -> None:
        """Re-read until the object shows what ``op`` did (the APIs apply these asynchronously),
        at most ``settle_timeout`` seconds; :class:`RemoteError` when it does not show by then.
        Every sleep is short (at most 2 s) and a stop at once ends the wait at the next look."""
        wanted = _SETTLED[(kind, op)]
        deadline = self.clock() + self.settle_timeout
        delay = 0.25
        while True:
            self._check_abort()
            status = self._status(kind, remote_id)
            if status in wanted:
                return
            if self.clock() >= deadline:
                # Not an ApiError: every answer was a success, and "HTTP 0" would say otherwise.
                raise RemoteError(
                    f"still {status!r} after {self.settle_timeout:g} s; "
                    f"expected {' or '.join(sorted(wanted))}",
                    operation=f"{op} {remote_id}",
                )
            self.sleep(delay)
            delay = min(delay * 2, 2.0)


def _irreversible(change: Change) -> str | None:
    """What in ``change`` cannot be taken back, in a word or two, or ``None``: a removal (the
    removal phase's cancels, stops and deactivations, or a change flagged irreversible or a
    removal), or a message sent at once. Such a change does not start once another change of
    the apply has failed (module docstring)."""
    if Flag.SENDS_IMMEDIATELY in change.flags:
        return "immediate send"
    if (
        change.phase == PHASES[Action.CANCEL]
        or Flag.IRREVERSIBLE in change.flags
        or Flag.REMOVAL in change.flags
    ):
        return _REMOVAL_NOUNS.get(change.action, str(change.action))
    return None


#: How a result's detail names a removal held back after a failure.
_REMOVAL_NOUNS: Mapping[str, str] = {Action.DEACTIVATE: "deactivation"}


def _groups(changes: Sequence[Change]) -> list[list[Change]]:
    """Consecutive (wave, phase) groups of the plan's ordered changes."""
    return [list(g) for _, g in itertools.groupby(changes, key=lambda c: (c.order, c.phase))]


def _not_attempted(change: Change, reason: str) -> Result:
    return Result(
        change.address,
        change.action,
        Outcome.NOT_ATTEMPTED,
        reason,
        change.remote_id,
        0,
        len(change.steps),
    )


class _Abandoned(Exception):
    """Raised in a change's thread once the apply is stopped at once: the thread sends and
    writes nothing more; the change's result is made from the journal (:func:`_from_trace`)."""


def _abandoned(future: Future[Result]) -> bool:
    """Whether ``future`` (done) ended with :class:`_Abandoned`."""
    return not future.cancelled() and isinstance(future.exception(), _Abandoned)


#: The journal's word for a call whose answer was not waited for (a stop at once).
_AT_ONCE = "stopped at once: its answer was not waited for"

#: Said of an edit of a running campaign that sent its pause and whose resume did not go
#: through. The journal says so too (``may_be_left_paused``), and the next plan, reading it,
#: resumes the campaign (hoodsync.recovery).
_LEFT_PAUSED = "the campaign, running before, may be left paused; apply again to resume it"


#: Said of a create whose answer was lost when the apply was stopping.
_NOT_RESENT = "not sent again: the apply was stopping"


def _unanswered(exc: HoodsyncError) -> bool:
    """Whether a call that failed with ``exc`` got no answer from the server at all (timed out,
    cut off, unreadable, or the listing meant to find its create failed), as opposed to an
    answer refusing it (any HTTP status, 5xx included) or an error raised before sending."""
    return isinstance(exc, RemoteError) and not isinstance(exc, ApiError | InsecureTransportError)


def _may_have_taken_effect(exc: HoodsyncError) -> bool:
    """Whether a call that failed with ``exc`` may still have done what it asked: anything
    but a refusal of the API (a 4xx other than 429) or an error raised before sending
    (``not_sent``: the transport knows no attempt reached the server; the journal then says
    ``not_done``, and the next plan does not wait for such a create)."""
    if not isinstance(exc, RemoteError) or isinstance(exc, InsecureTransportError):
        return False
    if exc.not_sent:
        return False
    if isinstance(exc, ApiError) and not isinstance(exc, RateLimitedError):
        return not 400 <= exc.status < 500
    return True


def _with_pause_note(result: Result, resumed: bool | None) -> Result:
    """``result``, saying the campaign may be left paused when ``resumed`` is False (a live
    edit's pause went out, and no resume went through); ``None``: nothing was paused."""
    if resumed is not False:
        return result
    return replace(result, detail=f"{result.detail}; {_LEFT_PAUSED}")


#: Said of an email campaign created to be stopped whose stop has not gone through (``{id}``:
#: the campaign, or :data:`_MAYBE` when its create's outcome is unknown).
_LEFT_LIVE = (
    "the new campaign {id} is live (enabled: it sends on its events) until that stop is "
    "applied; apply again to stop it"
)

#: Stands for the id of a campaign whose create's outcome is unknown (:func:`_with_live_note`).
_MAYBE = ""


def _with_live_note(result: Result, live: str | None) -> Result:
    """``result``, saying plainly that the email campaign its change created to stop is
    live until that stop is applied, when ``live`` names it (:data:`_MAYBE`: it may have been
    created); ``None``: no such campaign."""
    if live is None:
        return result
    if live == _MAYBE:
        said = (
            "if that create went through, the new campaign is live (enabled: it sends on its "
            "events) until the stop that follows it is applied; apply again to finish"
        )
    else:
        said = _LEFT_LIVE.format(id=live)
    return replace(result, detail=f"{result.detail}; {said}")


def _from_trace(change: Change, trace: Trace | None) -> Result:
    """The result of a change cut off by a stop at once, from what its journal lines say."""
    return _with_live_note(_traced(change, trace), _left_live(trace))


def _left_live(trace: Trace | None) -> str | None:
    """The campaign ``trace`` says its change created to stop and left live (for
    :func:`_with_live_note`), if any."""
    if trace is None or not trace.left_live:
        return None
    return trace.created_id if trace.created_id is not None else _MAYBE


def _traced(change: Change, trace: Trace | None) -> Result:
    """:func:`_from_trace`, before the note on a campaign left live."""
    total = len(change.steps)
    if trace is None:
        return _not_attempted(change, "interrupted")
    remote_id = trace.last_id or change.remote_id
    # A live edit whose pause was sent and whose resume (its own or a compensating one) was not
    # answered: say so, the campaign stopped sending.
    paused = (
        f"; {_LEFT_PAUSED}"
        if Flag.LIVE_EDIT in change.flags
        and trace.done < total
        and (trace.done or trace.in_flight is not None)
        and not trace.resumed
        else ""
    )
    if trace.in_flight is not None:
        op = trace.in_flight.get("op")
        after = f" (after {trace.done} of its steps succeeded)" if trace.done else ""
        detail = f"{op} was in flight: its outcome is unknown{after}{paused}"
        return Result(
            change.address, change.action, Outcome.INTERRUPTED, detail, remote_id, trace.done, total
        )
    if trace.failed is not None:
        return Result(
            change.address,
            change.action,
            Outcome.FAILED,
            trace.failed,
            remote_id,
            trace.done,
            total,
        )
    if trace.done >= total:
        return Result(
            change.address,
            change.action,
            Outcome.APPLIED,
            change.description,
            remote_id,
            trace.done,
            total,
        )
    detail = f"stopped at once after {trace.done} of its {total} steps{paused}"
    return Result(
        change.address, change.action, Outcome.INTERRUPTED, detail, remote_id, trace.done, total
    )


class _Workers:
    """Up to ``size`` threads running submitted calls, each returning a :class:`Future`.

    Unlike :class:`concurrent.futures.ThreadPoolExecutor`, nothing ever joins these threads
    (they are daemon threads, and :meth:`shutdown` does not wait): after a stop at once, a
    thread still waiting for an answer must hold neither the apply nor the process."""

    def __init__(self, size: int) -> None:
        self._size = max(1, size)
        self._jobs: queue.SimpleQueue[tuple[Future[Result], Callable[[], Result]] | None] = (
            queue.SimpleQueue()
        )
        self._threads: list[threading.Thread] = []
        self._idle = threading.Semaphore(0)

    def submit(self, fn: Callable[[], Result]) -> Future[Result]:
        future: Future[Result] = Future()
        self._jobs.put((future, fn))
        if not self._idle.acquire(blocking=False) and len(self._threads) < self._size:
            thread = threading.Thread(
                target=self._work, name=f"apply-{len(self._threads)}", daemon=True
            )
            self._threads.append(thread)
            thread.start()
        return future

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            future, fn = job
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn())
                except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
                    future.set_exception(exc)
            self._idle.release()

    def shutdown(self) -> None:
        """Each thread ends after its current call; none is waited for."""
        for _ in self._threads:
            self._jobs.put(None)


class _Stopper:
    """Watches the stop events from the thread that waits for the changes: notes a stop in
    the journal once, and turns a Ctrl-C that reaches this thread into setting ``stop`` (the
    first) or ``abort`` (the second; a third propagates)."""

    #: How often the waiting thread wakes: a signal that another thread received is only
    #: handled when this (main) thread runs Python code again, and ``abort`` is looked at.
    POLL = 0.05

    def __init__(
        self,
        stop: threading.Event,
        abort: threading.Event,
        journal: _Recorder,
        on_note: Callable[[], object] | None = None,
    ) -> None:
        self.stop = stop
        self.abort = abort
        self.journal = journal
        #: called once, when the stop is noted (the runner starts its stop's clock)
        self.on_note = on_note
        #: True once a stop was noted while changes were running or waiting to run.
        self.noted = False
        #: After a stop at once: the futures given to :meth:`finished` it did not report.
        self.left: list[Future[Result]] = []
        self._lock = threading.Lock()

    def note(self) -> None:
        with self._lock:
            if not self.stop.is_set() or self.noted:
                return
            self.noted = True
        if self.on_note is not None:
            self.on_note()
        self.journal.write("interrupted")
        log.warning("interrupted: finishing the changes in flight, starting no new one")

    def _interrupt(self) -> None:
        if self.abort.is_set():
            raise KeyboardInterrupt
        if self.stop.is_set():
            self.abort.set()
        self.stop.set()

    def finished(self, futures: Sequence[Future[Result]]) -> Iterator[Result]:
        """Each future's result as it finishes (not in the order given: one slow change does
        not hold back the report of those done after it). A first Ctrl-C meanwhile sets
        ``stop`` and keeps waiting (calls in flight finish and are reported); once ``abort``
        is set (a second Ctrl-C) it stops waiting and leaves the rest in :attr:`left`."""
        pending = set(futures)
        while pending:
            try:  # ``pending`` is not changed in here: a Ctrl-C anywhere in it loses nothing
                wait_futures(pending, timeout=self.POLL, return_when=FIRST_COMPLETED)
                if self.abort.is_set():
                    self.left = [f for f in futures if f in pending]
                    return
                self.note()
            except KeyboardInterrupt:
                self._interrupt()
                continue
            # One that ended abandoned (a stop at once, seen by its thread before this one
            # looked) is left for :func:`_abandon`, whose result comes from the journal.
            done = {f for f in pending if f.done() and not _abandoned(f)}
            pending -= done
            for future in sorted(done, key=futures.index):
                yield future.result()


def apply_plan(
    plan: Plan,
    clients: Clients,
    *,
    journal: Journal,
    env: Mapping[str, str] | None = None,
    parallelism: int = 4,
    hooks: ChangeHooks | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    settle_timeout: float = 60.0,
    stop: threading.Event | None = None,
    abort: threading.Event | None = None,
    forbidden_env: frozenset[str] = frozenset(),
    journal_fields: Mapping[str, Any] | None = None,
    value_key: ValueKey | None = None,
    unanswered_limit: int = UNANSWERED_CREATES_LIMIT,
    now: Callable[[], dt.datetime] = _machine_now,
    remote: Mapping[Kind, Sequence[Mapping[str, Any]]] | None = None,
) -> ApplyReport:
    """Execute ``plan`` and return every change's result (see the module docstring).

    Before each step, its change's time-dependent flags are judged again (the module
    docstring): by ``now`` (timezone-aware; the engine passes the later of this machine's and
    the server's clock, :meth:`hoodsync.session.Session.judging_time`) against
    ``plan.planned_at``, on the objects the changes act on as ``remote`` holds them (kind →
    the clients' dicts, as read before the apply; a change whose object is not there is
    judged as the planner judges one without it).

    ``value_key`` is the account's key of the sensitive values' fingerprints: a value that
    no longer has the fingerprint the plan recorded refuses the apply before any write
    (:func:`resolve_steps`), and so does a recorded one when ``value_key`` is ``None``.

    ``journal_fields`` go into the journal's ``start`` line beside the account's name: what a
    later run reading the journal back needs (:mod:`hoodsync.journal`; never a secret).

    ``unanswered_limit``: after that many creates got no answer from the server at all (not
    a refusal: no HTTP status), no new create starts (:data:`UNANSWERED_CREATES_LIMIT`).

    Refuses (:class:`PlanError`) a plan with error-level notes before any write.
    ``hooks.change_finished(account, result, finished, total)`` is called once per change as
    it ends (``account`` is the plan's account name). Once ``stop`` is set (or on a first
    Ctrl-C in this thread, which sets it), or the journal cannot be written, no new change
    starts (those started run to their end). Once ``abort`` is set (or on a second Ctrl-C) it returns
    without waiting for the calls in flight (their outcome is unknown). Never raises for an
    API failure or a journal that cannot be written: both end up in the report.
    """
    if plan.has_errors:
        raise PlanError("the plan has errors (see its notes); nothing was applied")
    work = [c for c in plan.changes if c.steps]
    env = os.environ if env is None else env
    for change in work:
        # a missing, changed or credential ${env:...} value refuses before any write
        resolve_steps(change, env, value_key, forbidden_env=forbidden_env)
    same_name: dict[str, list[str]] = {}
    for ref in plan.superseded:
        if ref.address:
            same_name.setdefault(ref.address, []).append(ref.id)
    recorder = _Recorder(journal)
    stop = threading.Event() if stop is None else stop
    abort = threading.Event() if abort is None else abort
    runner = _Runner(
        clients,
        recorder,
        env,
        sleep,
        clock,
        settle_timeout,
        same_name,
        forbidden_env,
        value_key,
        stop=stop,
        abort=abort,
        unanswered_limit=unanswered_limit,
        now=now,
        planned_at=plan.planned_at,
        objects={
            (kind, str(d.get("id"))): d for kind, items in (remote or {}).items() for d in items
        },
    )
    unknown_before = _unknown_outcomes(clients)
    recorder.write(
        "start", **{**(journal_fields or {}), "account": plan.account.name, "changes": len(work)}
    )
    report_change = (
        None if hooks is None else functools.partial(hooks.change_finished, plan.account.name)
    )
    stopper = _Stopper(stop, abort, recorder, on_note=runner.stop_elapsed)
    results = _run_waves(work, runner, recorder, stopper, parallelism, report_change)
    report = ApplyReport(journal_path=journal.path)
    report.interrupted = stopper.noted
    report.stopped_at_once = bool(stopper.left)
    report.results = [results[c.address] for c in work]
    report.unanswered_creates = tuple(runner.unanswered)
    report.held_creates = runner.held_creates
    if _unknown_outcomes(clients) != unknown_before:
        if report.stopped_at_once:
            report.duplicate_check_error = "not made: the apply was stopped at once"
        else:
            _check_duplicates(
                report, work, clients, same_name, env, forbidden_env, runner.stop_elapsed
            )
    recorder.write(
        "end",
        applied=report.count(Outcome.APPLIED),
        failed=report.count(Outcome.FAILED),
        interrupted=report.count(Outcome.INTERRUPTED),
        not_attempted=report.count(Outcome.NOT_ATTEMPTED),
        duplicates=[d.address for d in report.duplicates],
        at_once=report.stopped_at_once,
        may_be_left_paused=sorted(a for a, t in recorder.traces().items() if t.left_paused),
    )
    report.journal_error = recorder.error
    return report


def _run_waves(
    work: Sequence[Change],
    runner: _Runner,
    journal: _Recorder,
    stopper: _Stopper,
    parallelism: int,
    on_result: Callable[[Result, int, int], None] | None,
) -> dict[str, Result]:
    """Run the changes wave by wave, phase by phase; every change ends with a result."""
    results: dict[str, Result] = {}
    finished = 0
    lock = threading.Lock()
    failed_wave: int | None = None
    #: The first change that failed (set in the worker that ran it, before any later change
    #: of the apply can start after it: the gate on irreversible changes never lags).
    first_failure: list[str] = []
    failure_lock = threading.Lock()
    stop = stopper.stop

    def record(result: Result) -> None:
        nonlocal finished
        with lock:
            results[result.address] = result
            finished += 1
            if on_result is not None:
                try:
                    on_result(result, finished, len(work))
                except Exception as exc:  # noqa: BLE001 - the caller's view, not the apply
                    # A progress line that cannot be written (stderr closed, ``| head``) must
                    # not cut a change in half: no new change starts, those started finish.
                    log.warning("progress could not be shown (%s); starting no new change", exc)
                    stop.set()

    def halted() -> str | None:
        """Why no new change may start, if none may."""
        if stop.is_set() or stopper.abort.is_set():
            stop.set()
            stopper.note()
            return "interrupted"
        if journal.broken.is_set():
            return f"the journal {journal.error or 'could not be written'}"
        return None

    def held(change: Change) -> str | None:
        """Why ``change`` may not start after a failure, if it may not."""
        what = _irreversible(change)
        with failure_lock:
            first = first_failure[0] if first_failure else None
        if what is None or first is None:
            return None
        return (
            f"held back: {first} failed earlier in this apply, and this {what} cannot be taken back"
        )

    def run(change: Change) -> Result:
        reason = halted() or held(change) or runner.hold_create(change)
        if reason is not None:
            journal.write("skipped", address=change.address, reason=reason)
            return _not_attempted(change, reason)
        result = runner.run(change)
        if result.outcome is Outcome.FAILED:
            with failure_lock:
                first_failure.append(result.address)
        return result

    workers = _Workers(parallelism)
    started: list[Future[Result]] = []
    try:
        for group in _groups(work):
            reason = halted()
            if reason is None and failed_wave is not None and group[0].order > failed_wave:
                reason = f"wave {failed_wave} had a failure"
            if reason is not None:
                for change in group:
                    journal.write("skipped", address=change.address, reason=reason)
                    record(_not_attempted(change, reason))
                continue
            futures = [workers.submit(functools.partial(run, change)) for change in group]
            started += futures
            for result in stopper.finished(futures):
                record(result)
                if result.outcome is Outcome.FAILED and failed_wave is None:
                    failed_wave = group[0].order
            if stopper.left:
                by_future = dict(zip(futures, group, strict=True))
                _abandon([(by_future[f], f) for f in stopper.left], journal, record)
    except BaseException:
        # Whatever ends this loop early (a third Ctrl-C aside): no new change starts, and the
        # changes started run to their end before it is passed on, never left half done nor
        # writing to a journal the caller has closed by then. Each one's waits are bounded.
        stop.set()
        pending = [f for f in started if not f.done()]
        while pending and not stopper.abort.is_set():  # a stop at once ends the wait too
            pending = list(wait_futures(pending, timeout=stopper.POLL).not_done)
        raise
    finally:
        workers.shutdown()
    return results


def _abandon(
    left: Sequence[tuple[Change, Future[Result]]],
    journal: _Recorder,
    record: Callable[[Result], None],
) -> None:
    """Stop at once: the changes of ``left`` get their results without waiting. A change that
    ended before the journal is sealed keeps its own result; for the others the journal's
    lines say what happened (a call in flight gets a ``result`` line with status
    ``unknown``); the threads still running write nothing more."""
    ended: dict[str, Result] = {}
    for change, future in left:
        if future.done() and future.exception() is None:
            ended[change.address] = future.result()
    traces = journal.seal()
    journal.write("interrupted", at_once=True)
    log.warning("stopped at once: the calls in flight were left without waiting for them")
    for change, future in left:
        future.cancel()
        result = ended.get(change.address)
        if result is None:
            trace = traces.get(change.address)
            result = _from_trace(change, trace)
            if trace is None:
                journal.write("skipped", address=change.address, reason="interrupted")
            elif trace.in_flight is not None:
                journal.write(
                    "result", **{**trace.in_flight, "status": "unknown", "error": _AT_ONCE}
                )
        record(result)


# ---------------------------------------------------------------------------------- duplicates


def _unknown_outcomes(clients: Clients) -> int:
    """Creates with an unknown outcome so far, over both clients."""
    return sum(c.unknown_outcomes for c in (clients.hood, clients.falconyte) if c is not None)


def _check_duplicates(
    report: ApplyReport,
    work: Sequence[Change],
    clients: Clients,
    same_name: Mapping[str, Sequence[str]],
    env: Mapping[str, str],
    forbidden_env: frozenset[str],
    stop_elapsed: Callable[[], float | None] | None = None,
) -> None:
    """One final listing per kind this run created: every change whose create was attempted
    and whose identity (campaign marker, else exact name) more than one object now carries is
    a :class:`Duplicate` in ``report``. Older namesakes the plan already knew (an email
    campaign's replaced and superseded ones) are not counted. A listing that fails is recorded
    as such (duplicates then unknown).

    Once the apply is stopping (``stop_elapsed``: :meth:`_Runner.stop_elapsed`), the listing
    ends within one request deadline of the stop — each request sent once, none sent after
    that — and fails otherwise. Leaving it undone cannot make a duplicate: it only reports
    them, nothing is sent because of it, and the next plan refuses to go on with a definition
    two objects carry (an ambiguity error naming ``--resolve-duplicates``)."""
    attempted = {r.address for r in report.results if r.outcome is not Outcome.NOT_ATTEMPTED}
    creates = [
        c for c in work if c.address in attempted and any(step.op == "create" for step in c.steps)
    ]
    try:
        with contextlib.ExitStack() as bounds:
            for client in (clients.hood, clients.falconyte):
                if client is not None:
                    bounds.enter_context(client.within_stop(stop_elapsed))
            listed = {
                kind: [from_remote(kind, raw) for raw in _list(clients, kind)]
                for kind in sorted({c.kind for c in creates}, key=lambda k: k.value)
            }
    except HoodsyncError as exc:
        report.duplicate_check_error = str(exc)
        log.warning("the final listing for duplicates failed: %s", exc)
        return
    # One dict per kind (not a scan of the listing per create: 10,000 creates beside 10,000
    # objects were 10^8 comparisons once the apply ended).
    carrying = {kind: group_by(objs, _identity_of) for kind, objs in listed.items()}
    for change in creates:
        known = set(same_name.get(change.address, ())) | {change.remote_id or ""}
        ident = _identity(change, env, forbidden_env)
        found = carrying[change.kind].get(ident, ()) if ident is not None else ()
        ids = tuple(obj.id for obj in found if obj.id not in known)
        if len(ids) > 1:
            report.duplicates.append(Duplicate(change.address, ids))


def _list(clients: Clients, kind: Kind) -> list[dict[str, Any]]:
    if kind is Kind.CAMPAIGN and clients.hood is not None:
        return clients.hood.list_campaigns()
    if kind is Kind.PUSH_TASK and clients.hood is not None:
        return clients.hood.list_push_tasks()
    if kind is Kind.EMAIL_CAMPAIGN and clients.falconyte is not None:
        return clients.falconyte.list_campaigns()
    return []


def _identity_of(obj: RemoteObject) -> tuple[str, str] | None:
    """What :func:`_check_duplicates` matches ``obj`` to a definition by: a campaign's marker
    (one without is no definition's), the other kinds' exact name."""
    if obj.kind is Kind.CAMPAIGN:
        return ("marker", obj.marker) if obj.marker is not None else None
    return ("name", obj.name)


def _identity(
    change: Change, env: Mapping[str, str], forbidden_env: frozenset[str]
) -> tuple[str, str] | None:
    """:func:`_identity_of` the object ``change`` creates (its name: see
    :func:`identity_name`)."""
    if change.kind is Kind.CAMPAIGN:
        return ("marker", change.key)
    name = identity_name(change, env, forbidden_env)
    return ("name", name) if name is not None else None


def identity_name(
    change: Change, env: Mapping[str, str], forbidden_env: frozenset[str] = frozenset()
) -> str | None:
    """The name ``change``'s create gives its object, as the server will hold it: with any
    ``${env:...}`` in it resolved (``change.name`` is then the masked one plans show, which
    no object ever carries). ``change.name`` when there is no create, or the values cannot be
    resolved (the apply is then refused before any write). A value that changed since the
    plan is resolved as it is now (that is the name a create would send; :func:`resolve_steps`
    refuses it before any write). A secret: compare, never print. (:func:`unchecked` gives
    the steps resolved with it.)"""
    return unchecked(change, env, forbidden_env)[1]


def unchecked(
    change: Change, env: Mapping[str, str], forbidden_env: frozenset[str] = frozenset()
) -> tuple[tuple[Step, ...], str | None]:
    """The change's steps with ``${env:...}`` filled in as apply will send them, unchecked (no
    fingerprint compared), and its :func:`identity_name`, from one resolution. When a value
    cannot be resolved: the templates themselves and ``change.name`` (apply then refuses the
    plan before any write: :func:`resolve_steps`). Secrets: compare, never print."""
    try:
        steps = _resolved(change, env, forbidden_env)
    except HoodsyncError:
        return change.steps, change.name
    for step in steps:
        if step.op == "create" and isinstance(step.body, Mapping):
            name = step.body.get("name")
            return steps, name if isinstance(name, str) else change.name
    return steps, change.name


def left_by(rules: KindRules, raw: Mapping[str, Any], sent: Sequence[Step]) -> RemoteObject:
    """The object ``raw`` (a client's dict, as read before the apply) as the ``sent`` steps of
    its change left it, as far as its body goes: each PATCH body merged in, in order, as the
    API merges it (:func:`hoodsync.wire.merged`). Its status stays as read: the planner judged
    the change's steps (a pause, an edit, a resume) against that status, and so does apply."""
    patches = [s.body for s in sent if s.op is Op.PATCH and s.body is not None]
    if not patches:
        return rules.remote_object(raw)
    return rules.remote_object(rules.normalise(functools.reduce(merged, patches, raw)))


def resolve_steps(
    change: Change,
    env: Mapping[str, str],
    value_key: ValueKey | None,
    forbidden_env: frozenset[str] = frozenset(),
) -> tuple[Step, ...]:
    """The change's steps with ``${env:NAME}`` templates filled in from ``env``, for apply.

    Each resolved value is checked against the fingerprint the plan recorded for its template
    (:attr:`Change.sensitive`), under the account's ``value_key``
    (:meth:`ValueKey.check`: 128 bits, so a changed value is always noticed). Raises
    :class:`StalePlanError` naming the change when a value no longer has that fingerprint, or
    when one was recorded but ``value_key`` is ``None`` (it cannot be checked); a value the plan
    recorded no fingerprint for (a plan made without the key) is not checked. Raises
    :class:`DefinitionError` when a variable is missing or is one of ``forbidden_env``
    (credential variables; a hand-edited saved plan must not be able to send a token as
    content either).
    The returned bodies hold secrets: hand them to the client only, never log them.
    """
    expected = {s.template: s.fp for s in change.sensitive}
    steps, values = _resolved_values(change, env, forbidden_env)
    for template, value in values:
        want = expected.get(template)
        if want is None:
            continue
        if value_key is None:
            raise StalePlanError(
                [f"{change.address} (its ${{env:...}} values cannot be checked: no account key)"]
            )
        if not hmac.compare_digest(value_key.check(value), want):
            raise StalePlanError([f"{change.address} (a ${{env:...}} value changed)"])
    return steps


def _resolved(
    change: Change, env: Mapping[str, str], forbidden_env: frozenset[str]
) -> tuple[Step, ...]:
    """The change's steps resolved as :func:`resolve_steps` resolves them, unchecked."""
    return _resolved_values(change, env, forbidden_env)[0]


def _resolved_values(
    change: Change, env: Mapping[str, str], forbidden_env: frozenset[str]
) -> tuple[tuple[Step, ...], list[tuple[str, str]]]:
    """The change's steps with ``${env:NAME}`` filled in, and (template, resolved value) for
    every sensitive string of their bodies. Secrets: compare, never print."""
    out = []
    values: list[tuple[str, str]] = []
    for step in change.steps:
        if step.body is None:
            out.append(step)
            continue
        resolved, paths = resolve(step.body, env, base_path=(), forbidden=forbidden_env)
        for path in paths:
            template = _get(step.body, path)
            value = _get(resolved, path)
            if isinstance(template, str) and isinstance(value, str):
                values.append((template, value))
        out.append(Step(step.op, step.id, resolved))
    return tuple(out), values


def _get(node: Any, path: Sequence[str | int]) -> Any:
    for part in path:
        node = node[part]
    return node
