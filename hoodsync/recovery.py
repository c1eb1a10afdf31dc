"""What an interrupted apply left behind, read back from the account's journal before the next
plan (README, "After an interrupted apply").

An apply that dies (kill -9, a lost CI runner, a second Ctrl-C or SIGTERM) can leave three
things the next plan must know, and only its journal (:mod:`hoodsync.journal`) says them:

1. **Creates on the wire.** A create sent and never answered may still be committed by the
   server, as late as the settle window the apply allowed (the clients look for such a create
   over that window before sending it again). A plan made at once would create it again. So
   when a plan would create something whose create the dead apply sent without an answer, and
   that window has not passed since the apply's last line, the caller waits until it has
   (:func:`creates_to_wait_for`, :func:`wait_until`) and reads the account again. A create that
   never appeared is then simply missing, and planned as usual.
2. **A campaign left paused.** An edit of a running campaign is pause → update → resume; cut
   after the pause (or failed on a pause the server applied only after apply stopped waiting
   for it), the campaign stays paused. A definition without ``state:`` leaves the
   lifecycle alone, so nothing else would ever resume it. While the campaign is still paused
   and its definition says nothing else (no ``state:``, or ``state: active``), the plan resumes
   it, saying why (:func:`amend`).
3. **A change cut in half**, e.g. a campaign created to be paused whose pause was never sent.
   The next plan sees hoodsync's own hash on it and would call the difference drift ("changed
   outside hoodsync"); it is hoodsync's unfinished work, and the plan says so instead.
4. **An email campaign left sending.** Falconyte creates campaigns enabled, so a change that
   must end with a stopped campaign (``state: stopped``, or a replacement of a stopped
   campaign whose definition has no ``state:``, which keeps the old one's status) creates it
   and then stops it. Cut or failed in between, the new campaign sends on every event. With
   ``state: stopped`` the plan stops it anyway (it compares the status), and says why; without
   ``state:`` nothing compares the status, so the plan adds the stop — to the replacement, if
   the spec changed again, so that the next campaign is created to be stopped too — while the
   campaign the definition manages is still the one left enabled (:func:`amend`).

Only the account's newest journal is read: each apply writes into its ``start`` line what was
still open when it planned (``carried``: see :class:`Unfinished`), so the newest journal says
everything earlier ones left open. An entry stays open until an apply completes it (the resume
goes through, the change's last step is applied), or an apply's plan finds it no longer applies
(the campaign is not paused any more and nothing is pending on it, or the definition now says
``state: paused`` / ``state: canceled``, or is gone; an email campaign left sending is stopped,
or another is the definition's now, or the definition says ``state: active``). ``plan`` never
writes a journal, so only ``apply`` closes entries. The journal is local to the project's state
folder (``.hoodsync/journal``, :func:`hoodsync.config.state_folder_of`): a CI job that starts
from a clean checkout has none of it.

So the newest journal (by its file name) must be read whole: only its last line may be cut
short, as a kill leaves it. Any other damaged line, or a first line that is not its ``start``,
makes it unreadable (:attr:`Leftovers.error`), never passed over for an older journal that
does not know what the newest kept open.

The journals also say which saved plans were applied: an apply of one records the plan's
identity in its ``start`` line, and once it sent anything, ``apply --plan`` refuses that plan
(:func:`applied_before`): what it left undone is the next plan's to finish, as above.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hoodsync.errors import HoodsyncError
from hoodsync.identity import ValueKey
from hoodsync.journal import (
    DamagedJournal,
    Replay,
    Trace,
    journal_files,
    journal_files_of,
    journal_files_with,
    read_journal,
)
from hoodsync.kinds import RULES, from_remote
from hoodsync.kinds.base import Desired, Resource
from hoodsync.kinds.email_campaign import live_until_stopped
from hoodsync.kinds.namesakes import IdentityIndex, namesake_changes
from hoodsync.model import Definition, Kind, RemoteObject
from hoodsync.plan import (
    Action,
    Change,
    Flag,
    Note,
    Op,
    Plan,
    Severity,
    Step,
    sort_changes,
    stops_created,
)
from hoodsync.planner import estimate, prepare
from hoodsync.wire import EMAIL_STOPPED

__all__ = [
    "MAX_WINDOW",
    "Unfinished",
    "Leftovers",
    "read_leftovers",
    "creates_to_wait_for",
    "waiting_notice",
    "wait_until",
    "amend",
    "applied_before",
]

#: The longest settle window a journal is believed about (``HOODSYNC_SETTLE_WINDOW``'s bound):
#: a hand-edited journal cannot make a plan wait longer.
MAX_WINDOW = 3600.0


@dataclass(frozen=True, slots=True)
class Unfinished:
    """A change an interrupted apply did not finish, as the next plan needs to know it.

    ``id`` is the object it acted on or created (``None``: a create whose answer was lost);
    ``since`` when that apply last wrote about it (UTC seconds); ``journal`` the journal's file
    name; ``left_paused`` says it was an edit of a running campaign whose pause was sent and
    whose resume did not go through; ``detail`` what happened, in a few words; ``left_live``
    says the change created an email campaign to stop it and that stop did not go through
    (``id``: that campaign, ``None`` when its create was never answered)."""

    address: str
    id: str | None
    since: float
    journal: str
    left_paused: bool = False
    detail: str = ""
    left_live: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The form carried in a journal's ``start`` line."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> Unfinished | None:
        """Inverse of :meth:`to_dict`; ``None`` for anything else (a journal is read
        tolerantly: it may have been cut or edited)."""
        if not isinstance(data, Mapping):
            return None
        address, ident, since = data.get("address"), data.get("id"), data.get("since")
        if not isinstance(address, str) or not isinstance(since, int | float):
            return None
        try:
            when = float(since)
        except OverflowError:
            return None
        return cls(
            address,
            ident if isinstance(ident, str) else None,
            when,
            str(data.get("journal", "")),
            data.get("left_paused") is True,
            str(data.get("detail", "")),
            data.get("left_live") is True,
        )


@dataclass
class Leftovers:
    """What the newest journal of an account says an earlier apply left behind."""

    #: The journal read (``None``: the account has none here).
    journal: Path | None = None
    #: Addresses whose create was sent and never answered.
    unanswered: tuple[str, ...] = ()
    #: Until when (UTC seconds) the server may still commit them.
    settle_until: float = 0.0
    #: The settle window that time was computed with.
    window: float = 0.0
    #: When that apply wrote its last line (UTC seconds).
    last_line: float = 0.0
    #: Changes left unfinished, by address.
    unfinished: dict[str, Unfinished] = field(default_factory=dict)
    #: The pid of the apply that writes the journal, while it is still running (nothing is
    #: taken from a journal still being written: that apply finishes its own work).
    running: int | None = None
    #: Why the newest journal could not be read, if it could not.
    error: str | None = None
    #: The line of :attr:`journal` that made it unreadable, when one did (a damaged line:
    #: not one JSON object, though not the last, which a kill may cut short; or a first line
    #: that is not the ``start`` line).
    damaged_line: int | None = None
    #: The wait comes from a journal of the same account name written with another token
    #: (``journal``; see :func:`_with_other_tokens`).
    other_token: bool = False


def read_leftovers(
    folder: Path,
    account: str,
    identity: str | None,
    settle_window: float,
    *,
    alive: Callable[[int], bool] | None = None,
    clock: Callable[[], float] = time.time,
) -> Leftovers:
    """:func:`_read_leftovers`, whose contract is never to raise: a journal whose content it
    cannot make sense of in some way not foreseen (hand-edited, another version's) is reported
    like one that cannot be read."""
    try:
        found = _read_leftovers(folder, account, identity, settle_window, alive=alive)
        if identity is None or found.running is not None:
            return found
        return _with_other_tokens(found, folder, account, identity, settle_window, clock())
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError, RecursionError) as exc:
        return Leftovers(error=f"{folder}: a journal there cannot be understood ({exc!r:.200})")


def _read_leftovers(
    folder: Path,
    account: str,
    identity: str | None,
    settle_window: float,
    *,
    alive: Callable[[int], bool] | None = None,
) -> Leftovers:
    """Read the newest journal ``folder`` holds for ``account`` (its name; a journal recorded
    for another ``identity`` — the same name, another token — is another account's and is
    passed over). ``settle_window`` is the current one; the journal's own counts when longer.
    ``alive(pid)`` tells whether the process that wrote a journal without an ``end`` line is
    still running (default: :func:`process_alive`). A journal that cannot be read is reported
    in :attr:`Leftovers.error` (:func:`read_leftovers` reports any other surprise the same way)."""
    alive = process_alive if alive is None else alive
    try:
        replays = _replays(folder, account, identity)
        replay = next(replays, None)
    except _Unreadable as exc:
        return Leftovers(exc.path, error=exc.why, damaged_line=exc.damaged)
    if replay is None:
        return Leftovers()
    pid = replay.pid
    if not replay.ended and pid is not None and alive(pid):
        return Leftovers(replay.path, running=pid)
    window = _window(replay.start.get("settle_window"), settle_window)
    unanswered = set(_unanswered(replay))
    settle_until = replay.last_ts + window if unanswered else 0.0
    # An apply after the interrupted one that did not touch its unanswered creates (another
    # --target, narrower PATHS) wrote the newest journal: the creates of the journals before it
    # count as long as their own settle window lasts. Applies of one account do not overlap
    # (the lock), so journals older than one whose window ended before the newest's last line
    # ended earlier still.
    try:
        for older in itertools.islice(replays, _MAX_OLDER_JOURNALS):
            until = older.last_ts + _window(older.start.get("settle_window"), settle_window)
            if until <= replay.last_ts:
                break
            found = _unanswered(older)
            if found:
                unanswered.update(found)
                settle_until = max(settle_until, until)
    except _Unreadable:
        pass  # the newest was read; an older one that cannot be is passed over
    return Leftovers(
        replay.path,
        tuple(sorted(unanswered)),
        settle_until,
        window,
        replay.last_ts,
        _unfinished(replay),
    )


#: How many journals before the newest are looked at for unanswered creates (each is one
#: apply that ended within a settle window of the next: a handful at most in practice).
_MAX_OLDER_JOURNALS = 20


class _Unreadable(Exception):
    def __init__(self, path: Path, why: str, *, damaged: int | None = None) -> None:
        super().__init__(why)
        self.path, self.why, self.damaged = path, why, damaged


def _replays(
    folder: Path, account: str, identity: str | None, *, other: bool = False
) -> Iterator[Replay]:
    """The journals of ``account`` (not another account's of the same name: another
    ``identity``) read back, newest first; :class:`_Unreadable` for one that cannot be.
    Those recorded with ``identity`` under another name are its own too: the account was
    renamed in hoodsync.yaml, and what an apply under the old name left open (a campaign
    paused, a create unanswered) is still this account's to finish.
    ``other``: only those of the same name recorded with *another* identity."""
    try:
        paths = journal_files(folder, account)
        if identity is not None and not other:  # and those it wrote under an earlier name
            by_identity = journal_files_of(folder, identity)
            paths = sorted({*paths, *by_identity}, key=lambda p: p.name, reverse=True)
    except OSError as exc:
        raise _Unreadable(folder, f"{folder}: {exc.strerror or exc}") from exc
    # The account's newest journal is read strictly: a damaged line there is not passed over,
    # or an older journal would be read instead and what this one kept open forgotten. Which
    # file that is shows only once one is read: a newer one may hold nothing (an apply that
    # stopped before this account) or be another account's whose name is spelt alike, so
    # every file is read strictly until one of this account's has been.
    strict = True
    for path in paths:
        try:
            found = read_journal(path, strict=strict)
        except OSError as exc:
            raise _Unreadable(path, f"{path}: {exc.strerror or exc}") from exc
        except DamagedJournal as exc:
            raise _Unreadable(path, str(exc), damaged=exc.line) from exc
        recorded = found.start.get("identity") if found is not None else None
        renamed = not other and identity is not None and recorded == identity
        if found is None or (found.start.get("account") != account and not renamed):
            continue  # an apply that wrote nothing, or another account of the same spelling
        strict = False
        mine = identity is None or not isinstance(recorded, str) or recorded == identity
        if mine != other:
            yield found


def _with_other_tokens(
    found: Leftovers,
    folder: Path,
    account: str,
    identity: str,
    settle_window: float,
    now: float,
) -> Leftovers:
    """``found``, plus the unanswered creates of journals of the same account name written
    with another token whose settle window has not passed yet.

    A token rotated (or a variable pointed at another token) between an interrupted apply and
    the next plan gives another identity, and a journal of another identity may be another
    account's. For its campaigns left paused that matters, and they are not taken. But its
    unanswered creates may be this account's, still to be committed: waiting for them costs
    at most the settle window, while not waiting could create them twice. So their addresses
    are waited for too."""
    unanswered = set(found.unanswered)
    latest: tuple[float, Replay, float] | None = None
    try:
        for replay in itertools.islice(
            _replays(folder, account, identity, other=True), _MAX_OLDER_JOURNALS
        ):
            window = _window(replay.start.get("settle_window"), settle_window)
            until = replay.last_ts + window
            if until <= now:
                break  # older journals of other tokens ended earlier still
            addresses = _unanswered(replay)
            if addresses:
                unanswered.update(addresses)
                if latest is None or until > latest[0]:
                    latest = (until, replay, window)
    except _Unreadable:
        pass  # another account's journal, perhaps: not a reason to refuse
    if latest is None:
        return found
    until, replay, window = latest
    if until <= found.settle_until:
        return dataclasses.replace(found, unanswered=tuple(sorted(unanswered)))
    return dataclasses.replace(
        found,
        journal=replay.path,
        unanswered=tuple(sorted(unanswered)),
        settle_until=until,
        window=window,
        last_line=replay.last_ts,
        other_token=True,
    )


def _unanswered(replay: Replay) -> list[str]:
    """The addresses whose create ``replay`` sent and never saw answered, or saw fail in a way
    that may still have made the object (no ``not_done`` on its result)."""
    return [
        address
        for address, trace in replay.traces.items()
        if (trace.in_flight is not None and trace.in_flight.get("op") == "create")
        or trace.create_unknown
    ]


def process_alive(pid: int) -> bool:
    """Whether a hoodsync process ``pid`` is running on this machine (never this process: an
    earlier run in it has ended by the time anyone asks)."""
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, under another user
    except OSError:
        return False
    try:  # a reused pid is some other program (Linux tells; elsewhere, believe the pid)
        return b"hoodsync" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True


def _window(recorded: Any, current: float) -> float:
    try:
        own = float(recorded) if isinstance(recorded, int | float) and recorded >= 0 else 0.0
    except OverflowError:  # an integer too large for a float: no window of ours
        own = MAX_WINDOW
    return max(current, min(own, MAX_WINDOW))


def _unfinished(replay: Replay) -> dict[str, Unfinished]:
    """The entries still open after ``replay``: those it carried in, less those it completed,
    plus its own unfinished changes (an entry for a campaign left paused keeps its first time:
    the campaign has been paused since then)."""
    carried = replay.start.get("carried")
    open_: dict[str, Unfinished] = {}
    for item in carried if isinstance(carried, list) else []:
        entry = Unfinished.from_dict(item)
        if entry is not None:
            open_[entry.address] = entry
    name = replay.path.name
    for address, trace in replay.traces.items():
        before = open_.get(address)
        if before is not None and _completes(trace, before):
            del open_[address]
            before = None
        if trace.left_paused and (before is None or not before.left_paused):
            open_[address] = Unfinished(
                address, trace.paused_id, trace.last_ts, name, True, _what(trace)
            )
        elif trace.unfinished and (before is None or not before.left_paused):
            ident = trace.last_id or (trace.in_flight or {}).get("id")
            live = trace.left_live
            if live:
                ident = trace.created_id  # the campaign left sending (None: never answered)
            elif before is not None and before.left_live:
                live, ident = True, before.id  # its stop did not go through this time either
            open_[address] = Unfinished(
                address,
                ident if isinstance(ident, str) else None,
                trace.last_ts,
                name,
                False,
                _what(trace),
                live,
            )
    return open_


def _completes(trace: Trace, entry: Unfinished) -> bool:
    """Whether a later apply's ``trace`` of the change finished ``entry``'s work: resumed
    the campaign left paused, or applied every step."""
    if entry.left_paused:
        return trace.resumed
    return trace.of is not None and not trace.unfinished and trace.failed is None


def _what(trace: Trace) -> str:
    """Why a change was left unfinished, in a few words."""
    if trace.in_flight is not None:
        return f"the answer to its {trace.in_flight.get('op')} was never received"
    if trace.failed is not None:
        return trace.failed
    if trace.of is not None and trace.done < trace.of:
        return f"stopped after {trace.done} of its {trace.of} steps"
    return "its resume did not go through"


# ------------------------------------------------------------------------------ saved plans


def applied_before(folder: Path, seal: str) -> str | None:
    """Why the saved plan whose identity is ``seal`` (the MAC of its seal, which an apply of
    it records in its journal's ``start`` line as ``saved_plan``) must not be applied again —
    a phrase such as ``was applied at 2026-12-05 20:01:12 UTC (journal …)`` —, or ``None``
    when no journal in ``folder`` says it was.

    A saved plan says what to do to the account as it was when the plan was made; applied
    once, it is spent. The account's own checks (:func:`hoodsync.session.check_fresh`) catch
    most of a second run, but not all: a push task the first run created and someone renamed
    since is no longer the create's object, and the create would make a second one. So an
    apply of it that sent anything — all of it, or part (interrupted, or with failures: the
    next plan finishes that, from the journal and the account) — spends it. One that sent
    nothing (stopped before its first change, every step refused before it was sent) does
    not (:attr:`~hoodsync.journal.Replay.sent`). A journal that records it and cannot be read
    spends it too: what that apply sent cannot be told. Only first lines are read, then the
    journals that record this plan."""
    try:
        paths = journal_files_with(folder, "saved_plan", seal)
    except OSError as exc:
        return (
            f"may have been applied: the journal folder {_shown(folder)} cannot be read "
            f"({exc.strerror or exc})"
        )
    for path in paths:
        try:
            replay = read_journal(path)
        except OSError as exc:
            return (
                f"is recorded as applied in the journal {_shown(path)}, which cannot be read "
                f"({exc.strerror or exc})"
            )
        if replay is None or not replay.sent:
            continue
        when, shown = _when(replay.started), _shown(path)
        if replay.complete:
            return f"was applied at {when} (journal {shown})"
        return (
            f"was applied in part at {when} (journal {shown}; the next plan finishes what that "
            "apply left undone)"
        )
    return None


# ------------------------------------------------------------------------------ creates


def creates_to_wait_for(plan: Plan, leftovers: Leftovers) -> list[str]:
    """The addresses ``plan`` would create although the interrupted apply sent their create
    and never got the answer: the server may still commit those."""
    unanswered = set(leftovers.unanswered)
    return [
        c.address
        for c in plan.changes
        if c.address in unanswered and any(s.op is Op.CREATE for s in c.steps)
    ]


def waiting_notice(
    account: str, addresses: Sequence[str], leftovers: Leftovers, wait: float
) -> str:
    """The line that says why planning waits, for how long, and what for."""
    shown = ", ".join(addresses[:3]) + (
        f" and {len(addresses) - 3} more" if len(addresses) > 3 else ""
    )
    count = f"{len(addresses)} create{'s' if len(addresses) != 1 else ''}"
    return (
        f"Waiting {wait:.0f} s before reading account {account!r} again: {count} ({shown}) "
        f"sent by the apply of {_when(leftovers.last_line)} got no answer that settles them "
        f"(none at all, or a failure that may still have made them) and are not in the account "
        f"yet; the server may still make them until {leftovers.window:g} s after that apply's "
        f"last journal line (journal {_shown(leftovers.journal)}"
        f"{', written with another token' if leftovers.other_token else ''}). "
        "Nothing is sent meanwhile; Ctrl-C stops here."
    )


def wait_until(
    until: float, clock: Callable[[], float], sleep: Callable[[float], None], bound: float
) -> None:
    """Sleep until ``clock()`` reaches ``until``, at most ``bound`` seconds in all (the clock
    of a journal may be ahead of this one), in steps of at most a second."""
    end = min(until, clock() + bound)
    while (left := end - clock()) > 0:
        sleep(min(left, 1.0))


# ------------------------------------------------------------------------------ the plan


def amend(
    plan: Plan,
    leftovers: Leftovers,
    definitions: Sequence[Definition],
    remote: Mapping[Kind, Sequence[Mapping[str, Any]]],
    *,
    env: Mapping[str, str],
    forbidden_env: frozenset[str] = frozenset(),
    partial: bool = False,
    value_key: ValueKey | None = None,
) -> tuple[Plan, list[Unfinished]]:
    """``plan`` with what ``leftovers`` says the interrupted apply left undone (module doc),
    and the entries still open, for the journal of the apply that follows.

    ``definitions`` are the account's, ``remote`` the objects the plan was made from (the
    clients' dicts per kind), ``env`` resolves the definitions' ``${env:...}`` names as the
    plan did (a name is shown masked, never resolved into the plan), ``value_key`` keys its
    fingerprints as the plan's (:func:`hoodsync.planner.make_plan`). ``partial``: PATHS cover
    only part of the account's ``paths:``, so a definition not among ``definitions`` may still
    exist elsewhere: its entry stays open, as one outside ``--target`` does."""
    if not leftovers.unfinished:
        return plan, []
    by_address = {d.address: d for d in definitions}
    by_change = {c.address: c for c in plan.changes}
    added = 0
    kept: list[Unfinished] = []
    changes = dict(by_change)
    for entry in leftovers.unfinished.values():
        if plan.targets and entry.address not in plan.targets:
            kept.append(entry)  # not looked at by this plan: still open
            continue
        definition = by_address.get(entry.address)
        if definition is None:
            if partial:
                kept.append(entry)  # outside PATHS, not gone: a later run finishes it
            # Otherwise the definition is gone: its object is no longer hoodsync's to finish.
            continue
        current = changes.get(entry.address)
        if entry.left_paused:
            obj = _campaign(remote, entry.id, definition.key)
            if obj is None or definition.state in ("paused", "canceled"):
                continue
            if obj.status != "paused":
                if current is not None and current.steps:
                    kept.append(entry)  # its edit is still to be made: that apply resumes it
                continue
            kept.append(entry)
            change = _resume(current, entry, definition, obj, remote, env, forbidden_env, value_key)
            if change is not None:
                added += 1 if current is None else 0
                changes[entry.address] = change
            continue
        if (
            entry.left_live
            and definition.kind is Kind.EMAIL_CAMPAIGN
            and definition.state != "active"
        ):
            found = _managed_email(remote, entry, definition, env, forbidden_env, value_key)
            if found is None:
                continue  # stopped since, or another campaign is the definition's now
            kept.append(entry)
            change = _stop_left_live(current, entry, definition, found)
            added += 1 if current is None else 0
            changes[entry.address] = change
            continue
        if current is None or not current.steps:
            continue
        if entry.id is not None and current.remote_id not in (None, entry.id):
            continue
        kept.append(entry)
        if current.drift:
            changes[entry.address] = _not_drift(current, entry)
    if changes == by_change:
        return plan, kept
    amended = [c for a, c in changes.items() if c is not by_change.get(a)]
    changes.update(
        (c.address, c)
        for c in _with_namesakes(amended, by_address, remote, env, forbidden_env, value_key)
    )
    ordered = sort_changes(list(changes.values()))
    counts = dataclasses.replace(plan.counts, unchanged=plan.counts.unchanged - added)
    return (
        dataclasses.replace(
            plan, changes=ordered, counts=counts, estimate=estimate(ordered, plan.account)
        ),
        kept,
    )


def _with_namesakes(
    amended: Sequence[Change],
    definitions: Mapping[str, Definition],
    remote: Mapping[Kind, Sequence[Mapping[str, Any]]],
    env: Mapping[str, str],
    forbidden_env: frozenset[str],
    value_key: ValueKey | None,
) -> list[Change]:
    """``amended`` (changes this module added or altered), each with the namesakes the planner
    would have recorded for it (:mod:`hoodsync.kinds.namesakes`), found in ``remote`` as the
    plan was made: apply compares them with the account's (:func:`hoodsync.session.check_fresh`),
    and a change added here would otherwise have none, so its saved plan would always be
    stale."""
    out: list[Change] = []
    for kind in {c.kind for c in amended}:
        of_kind = [c for c in amended if c.kind is kind]
        objects = [from_remote(kind, raw) for raw in remote.get(kind, ())]
        out.extend(
            namesake_changes(
                of_kind,
                IdentityIndex(RULES[kind], objects),
                {
                    c.address: _created_name(
                        definitions.get(c.address), env, forbidden_env, value_key
                    )
                    for c in of_kind
                },
            )
        )
    return out


def _created_name(
    definition: Definition | None,
    env: Mapping[str, str],
    forbidden_env: frozenset[str],
    value_key: ValueKey | None,
) -> str | None:
    """The resolved name a create of ``definition`` sends (``None`` when it cannot be
    resolved: the plan itself reports that definition's problem)."""
    if definition is None:
        return None
    try:
        [desired] = prepare([definition], env, forbidden_env, value_key)
    except HoodsyncError:
        return None
    return desired.name


def _campaign(
    remote: Mapping[Kind, Sequence[Mapping[str, Any]]], ident: str | None, key: str
) -> RemoteObject | None:
    """The campaign ``ident``, if it is still the one the definition ``key`` manages."""
    if ident is None:
        return None
    rules = RULES[Kind.CAMPAIGN]
    for raw in remote.get(Kind.CAMPAIGN, ()):
        if str(raw.get("id")) == ident:
            obj = rules.remote_object(raw)
            return obj if obj.marker == key else None
    return None


def _resume(
    current: Change | None,
    entry: Unfinished,
    definition: Definition,
    obj: RemoteObject,
    remote: Mapping[Kind, Sequence[Mapping[str, Any]]],
    env: Mapping[str, str],
    forbidden_env: frozenset[str],
    value_key: ValueKey | None,
) -> Change | None:
    """The plan's change for a campaign hoodsync left paused: with ``state: active`` the
    planner resumes it already (only the note is added); without ``state:``, its patch (if any)
    followed by a resume, or a resume alone."""
    note = Note(
        Severity.WARNING if definition.state is None else Severity.INFO,
        f"campaign {obj.id} was paused by hoodsync's apply of {_when(entry.since)} to edit it "
        f"while it was running, and that apply did not resume it ({entry.detail}; journal "
        f"{entry.journal}). "
        + (
            "Without state: in the definition hoodsync leaves the lifecycle alone, but this "
            "pause was its own: the campaign is resumed. To keep it paused, set state: paused."
            if definition.state is None
            else "state: active resumes it."
        ),
        definition.address,
    )
    why = f"paused -> running; left paused by hoodsync's apply of {_when(entry.since)}"
    if current is not None and (
        definition.state is not None
        or not current.steps  # it cannot be changed (the plan says why): only the note
        or any(s.op is not Op.PATCH for s in current.steps)
    ):
        return dataclasses.replace(current, notes=(*current.notes, note), drift=False)
    resume = Step(Op.RESUME, obj.id, None)  # empty: back to sending as before the pause
    if current is not None:
        return dataclasses.replace(
            current,
            action=Action.RESUME,
            description=f"will be updated and resumed ({why})",
            transition=("paused", "running"),
            steps=(*current.steps, resume),
            notes=(*current.notes, note),
            drift=False,
        )
    try:
        [desired] = prepare([definition], env, forbidden_env, value_key)
    except HoodsyncError:
        return None  # the plan itself reports the definition's problem
    rules = RULES[Kind.CAMPAIGN]
    raw = next(r for r in remote.get(Kind.CAMPAIGN, ()) if str(r.get("id")) == obj.id)
    return (
        Resource.of(desired)
        .on(obj, rules.fingerprint(raw))
        .change(
            Action.RESUME,
            f"will be resumed ({why})",
            steps=(resume,),
            transition=("paused", "running"),
            notes=(note,),
        )
    )


def _managed_email(
    remote: Mapping[Kind, Sequence[Mapping[str, Any]]],
    entry: Unfinished,
    definition: Definition,
    env: Mapping[str, str],
    forbidden_env: frozenset[str],
    value_key: ValueKey | None,
) -> tuple[Desired, RemoteObject, Mapping[str, Any]] | None:
    """The email campaign ``definition`` manages (as the planner matches it), with its raw
    form, when it is the one ``entry`` says was left enabled (any, when the create's answer was
    lost) and it still is enabled; else ``None``."""
    try:
        [desired] = prepare([definition], env, forbidden_env, value_key)
    except HoodsyncError:
        return None  # the plan itself reports the definition's problem
    rules = RULES[Kind.EMAIL_CAMPAIGN]
    raws = {str(r.get("id")): r for r in remote.get(Kind.EMAIL_CAMPAIGN, ())}
    objects = [rules.remote_object(r) for r in raws.values()]
    obj = rules.match([desired], objects).pairs.get(definition.address)
    if obj is None or obj.status == EMAIL_STOPPED or entry.id not in (None, obj.id):
        return None
    return desired, obj, raws[obj.id]


def _stop_left_live(
    current: Change | None,
    entry: Unfinished,
    definition: Definition,
    found: tuple[Desired, RemoteObject, Mapping[str, Any]],
) -> Change:
    """The plan's change for an email campaign hoodsync created to be stopped and left
    enabled (module doc, 4): with ``state: stopped`` the planner stops it already (only the
    note is added); without ``state:``, a stop — or, when the spec changed again, the
    replacement with its new campaign stopped too (it keeps the status the old one was meant
    to have), or the stop added to the change's own steps."""
    desired, obj, raw = found
    why = f"left enabled by hoodsync's apply of {_when(entry.since)}"
    note = Note(
        Severity.WARNING if definition.state is None else Severity.INFO,
        f"email campaign {obj.id} was created by hoodsync's apply of {_when(entry.since)} to "
        "be stopped (Falconyte creates campaigns enabled), and that apply did not stop it "
        f"({entry.detail}; journal {entry.journal}): it is enabled, sending on its events. "
        + (
            "Without state: hoodsync leaves the lifecycle alone, but that apply's own change "
            "was to end with it stopped (a replacement keeps the stopped status of the "
            "campaign it replaces): it is stopped. To let it send, set state: active."
            if definition.state is None
            else "state: stopped stops it."
        ),
        definition.address,
    )
    if current is not None and (definition.state is not None or not current.steps):
        return dataclasses.replace(current, notes=(*current.notes, note), drift=False)
    stop_it = Step(Op.STOP, obj.id, None)
    if current is None:
        return (
            Resource.of(desired)
            .on(obj, RULES[Kind.EMAIL_CAMPAIGN].fingerprint(raw))
            .change(
                Action.STOP,
                f"will be stopped ({obj.status} -> stopped; {why})",
                steps=(stop_it,),
                transition=(obj.status, EMAIL_STOPPED),
                notes=(note,),
                flags=(Flag.REMOVAL,),
            )
        )
    steps = list(current.steps)
    notes = [*current.notes, note]
    creates = [i for i, s in enumerate(steps) if s.op is Op.CREATE]
    if creates and not stops_created(steps):
        # A replacement planned from the status this campaign was left in: its new campaign
        # is stopped too, as this one was meant to be.
        steps.insert(creates[0] + 1, Step(Op.STOP, None, None))
        notes.append(live_until_stopped(definition.address))
    if stop_it not in steps:
        steps.append(stop_it)
    return dataclasses.replace(
        current,
        steps=tuple(steps),
        transition=(obj.status, EMAIL_STOPPED),
        notes=tuple(notes),
        drift=False,
    )


def _not_drift(change: Change, entry: Unfinished) -> Change:
    """``change`` finishes what an earlier apply started: not drift, and said so."""
    note = Note(
        Severity.INFO,
        f"not drift: hoodsync's apply of {_when(entry.since)} started this change and did not "
        f"finish it ({entry.detail}; journal {entry.journal}); this finishes it",
        change.address,
    )
    return dataclasses.replace(change, drift=False, notes=(*change.notes, note))


def _when(ts: float) -> str:
    try:
        return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (ValueError, OverflowError, OSError):  # a journal's time that is not one
        return "an unknown time"


def _shown(path: Path | None) -> str:
    if path is None:
        return "-"
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
