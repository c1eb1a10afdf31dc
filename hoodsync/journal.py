"""The write-ahead journal of an apply: ``.hoodsync/journal/<UTC time>-<pid>[-<account>].jsonl``.

One JSON object per line: ``start``; an ``intent`` line before every mutation is sent and a
``result`` line after it (plus ``settle``, ``skipped``, ``interrupted`` and compensation lines,
and after a second Ctrl-C a ``result`` with status ``unknown`` for each call not waited for);
``end`` last. Each has the time, and where it concerns a change its address, the step, the
operation and the remote id — never a request body, which may carry an interpolated secret,
and never a credential. The result table of an apply is made from what was
written here; after a crash, the file says what was sent.

The lines the next run reads back (:func:`read_journal`, :mod:`hoodsync.recovery`):

* ``start``: ``account`` (its name), ``identity`` (the Hood endpoint's identity, a keyed hash
  that cannot be turned back into the token: :mod:`hoodsync.identity`), ``settle_window`` (how
  long this run allowed a server to commit a create after its answer was lost), ``carried``
  (what earlier interrupted applies left to do that was still open when this one planned) and,
  for ``apply --plan``, ``saved_plan``: the saved plan's identity (the MAC of its seal), so
  that the same saved plan is not applied twice (:func:`journal_files_with`,
  :attr:`Replay.sent`);
* ``intent``: ``step`` and ``of`` (the change's step count), ``op``, ``id``, ``live_edit``
  on the steps of an edit of a running campaign (pause, update, resume), and ``stops_created``
  on the steps of a change that creates an email campaign and then stops it (Falconyte creates
  campaigns enabled: until that stop goes through, the new campaign sends);
* ``result``: ``status`` ``ok`` / ``failed`` / ``unknown``; a failed one carries
  ``not_done: true`` when the call certainly did not take effect (the API refused it, or it was
  never sent), and ``compensating: true`` marks the resume of a campaign paused for an edit
  that then failed;
* ``end``: the counts, and ``may_be_left_paused``: the campaigns paused for an edit whose
  resume did not go through (or whose pause may still take effect).

:class:`Trace` is the one reading of these lines per change, used both while the apply runs
(its result table) and when a later run reads the file back.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import io
import json
import os
import stat
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from hoodsync.statedir import make_folder

__all__ = [
    "DURABLE_EVENTS",
    "Journal",
    "Trace",
    "Replay",
    "DamagedJournal",
    "read_journal",
    "journal_files",
    "journal_files_of",
    "journal_files_with",
    "journal_label",
    "MAX_START_LINE",
]

#: Line fields that say when and what, not which change: left out of a :class:`Trace`'s copy.
_LINE_FIELDS = ("ts", "event")


def journal_label(label: str) -> str:
    """``label`` (an account name) as it appears in journal file names."""
    return "".join(ch if ch.isalnum() or ch in "_-" else "_" for ch in label)


#: The lines that must be on disk before the request they announce is sent (write-ahead), as
#: recovery reads them after a machine went down: an ``intent`` (a create that may be
#: committed late, a pause that may leave a campaign paused, a step of a change cut in half)
#: and a ``resend`` (the settle window of a create counts from its last send). :meth:`Journal
#: .write` syncs them to the disk (``fsync``), which also carries every line written before.
#: Other lines are only flushed: losing one costs recovery nothing it needs — a lost
#: ``result`` leaves its intent open, which is read as "may have been sent" (a wait, or a
#: resume offered only while the campaign shows paused), and the ``start`` line's ``carried``
#: entries are also in the journal before it until an intent of this one is synced.
DURABLE_EVENTS = frozenset({"intent", "resend"})


class Journal:
    """Append-only JSON-lines record of an apply; thread-safe; flushed line by line so that a
    killed process leaves every line it wrote, and the lines of :data:`DURABLE_EVENTS` synced
    to the disk before :meth:`write` returns, so that a machine that went down keeps them too.

    ``file``, already open for appending text, is written instead of opening ``path`` (which
    then only names the journal): a test can hand in a file whose writes fail; it is synced only
    if it has a file descriptor. ``sync`` is :func:`os.fsync` (a test can watch it).
    """

    def __init__(
        self,
        path: Path,
        *,
        clock: Callable[[], float] = time.time,
        file: TextIO | None = None,
        sync: Callable[[int], None] = os.fsync,
    ) -> None:
        opened = file is None
        if file is None:
            make_folder(path.parent)
            file = path.open("a", encoding="utf-8")
        self.path = path
        self._clock = clock
        self._lock = threading.Lock()
        self._fh = file
        self._fd = _descriptor(file)
        self._sync = sync
        #: Whether the folder still has to be synced once, for the new file's name to last.
        self._new_name = opened
        #: The first write that failed, if any; once set, the journal is incomplete.
        self.error: OSError | None = None

    @classmethod
    def create(
        cls, folder: Path, *, label: str = "", clock: Callable[[], float] = time.time
    ) -> Journal:
        """A new journal file ``<folder>/<UTC timestamp>-<pid>[-<label>].jsonl``; ``label``
        (the account name) keeps accounts applied at the same moment in separate files."""
        stamp = dt.datetime.fromtimestamp(clock(), dt.UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        safe = journal_label(label)
        suffix = f"-{safe}" if safe else ""
        return cls(folder / f"{stamp}-{os.getpid()}{suffix}.jsonl", clock=clock)

    def write(self, event: str, **fields: Any) -> None:
        """Append one line and flush it; a line of :data:`DURABLE_EVENTS` is on the disk when
        this returns. Raises :class:`OSError` when it cannot be written or synced (and
        remembers the first such error in :attr:`error`): its request must then not be sent."""
        record = {"ts": round(self._clock(), 6), "event": event, **fields}
        line = json.dumps(record, sort_keys=True, ensure_ascii=False)
        with self._lock:
            try:
                self._fh.write(line + "\n")
                self._fh.flush()
                if event in DURABLE_EVENTS and self._fd is not None:
                    self._sync(self._fd)
                    self._sync_name()
            except OSError as exc:
                if self.error is None:
                    self.error = exc
                raise

    def _sync_name(self) -> None:
        """Once, sync the folder too: a new file's name is in the folder, not in the file.
        Best effort: a filesystem that cannot sync a folder has committed the name with the
        file's own sync, or offers nothing better."""
        if not self._new_name:
            return
        self._new_name = False
        with contextlib.suppress(OSError):
            folder = os.open(self.path.parent, os.O_RDONLY)
            try:
                self._sync(folder)
            finally:
                os.close(folder)

    def close(self) -> None:
        """Close the file. After a failed write, closing (which flushes the same unwritten
        line again) does not raise a second time: :attr:`error` already says it."""
        with self._lock:
            try:
                self._fh.close()
            except OSError:
                if self.error is None:
                    raise


def _descriptor(file: TextIO) -> int | None:
    """The file descriptor under ``file``, if it has one (a test's in-memory file has not)."""
    try:
        return file.fileno()
    except (OSError, AttributeError, ValueError):  # io.UnsupportedOperation is both
        return None


@dataclass(slots=True)
class Trace:
    """What the journal's lines say about one change so far (:meth:`feed` them in order).

    A call whose intent is written may have been sent: ``in_flight`` holds that intent's fields
    until its result says ``ok`` or ``failed`` (a result ``unknown`` leaves it: the outcome is
    still not known)."""

    #: Steps whose ``ok`` result is written (compensations not counted).
    done: int = 0
    #: The change's step count, from its intents (``None``: written by an older hoodsync).
    of: int | None = None
    #: The fields of an ``intent`` whose outcome is not known (see above).
    in_flight: dict[str, Any] | None = None
    #: ``"<op> failed: <error>"`` once a step's failure is written.
    failed: str | None = None
    #: The id the last ``ok`` result names.
    last_id: str | None = None
    #: A resume of the campaign went through (its own step or a compensating one).
    resumed: bool = False
    #: An edit of a running campaign (pause, update, resume).
    live_edit: bool = False
    #: The campaign a live edit's pause was sent to (unless the call certainly did not take
    #: effect): it may be paused.
    paused_id: str | None = None
    #: When the last line about this change was written.
    last_ts: float = 0.0
    #: A create failed in a way that may still have made the object (its result has no
    #: ``not_done``: e.g. timed out, then the listing meant to find it failed too).
    create_unknown: bool = False
    #: A status change was accepted but never showed in time (a ``settle`` line ``failed``):
    #: it may still land, so the change is not finished although its steps all went through.
    settle_failed: bool = False
    #: The change creates an email campaign and then stops it (its intents say
    #: ``stops_created``).
    stops_created: bool = False
    #: The id an ``ok`` create result names: the object this change made.
    created_id: str | None = None
    #: A stop of :attr:`created_id` went through.
    created_stopped: bool = False
    #: A call of this change took effect, or may have: its result was ``ok``, ``unknown``, or
    #: a failure not known to have done nothing (no ``not_done``). See :attr:`may_have_sent`.
    took_effect: bool = False

    def feed(self, event: str, fields: Mapping[str, Any], ts: float = 0.0) -> None:
        """Take one line (``fields`` without ``ts`` and ``event``) into account."""
        if event not in ("intent", "result", "settle"):
            return
        self.last_ts = max(self.last_ts, ts)
        op = fields.get("op")
        if event == "intent":
            self.in_flight = {k: v for k, v in fields.items() if k not in _LINE_FIELDS}
            if isinstance(fields.get("of"), int):
                self.of = fields["of"]
            if fields.get("stops_created") is True:
                self.stops_created = True
            if fields.get("live_edit") is True:
                self.live_edit = True
                if op == "pause" and isinstance(fields.get("id"), str):
                    self.paused_id = fields["id"]
            return
        if event == "settle":
            if fields.get("status") == "failed":
                self.failed = f"{op} did not show: {fields.get('error')}"
                self.settle_failed = True
                if op == "stop" and fields.get("id") == self.created_id:
                    self.created_stopped = False  # accepted, not seen: it may still send
            return
        status = fields.get("status")
        if status != "failed" or fields.get("not_done") is not True:
            self.took_effect = True
        if status == "unknown":
            return
        self.in_flight = None
        compensating = bool(fields.get("compensating"))
        if status == "ok":
            if op == "create":
                self.create_unknown = False
                ident = fields.get("id")
                self.created_id = ident if isinstance(ident, str) else None
            if op == "stop" and self.created_id is not None and fields.get("id") == self.created_id:
                self.created_stopped = True
            if op == "resume":
                self.resumed = True
            if not compensating:
                self.done += 1
                self.last_id = fields.get("id")
        elif status == "failed":
            if op == "pause" and fields.get("not_done") is True:
                self.paused_id = None
            if op == "create" and not compensating:
                self.create_unknown = fields.get("not_done") is not True
            if not compensating:
                self.failed = f"{op} failed: {fields.get('error')}"

    @property
    def left_paused(self) -> bool:
        """An edit of a running campaign sent its pause, and no resume went through: the
        campaign may be left paused."""
        return self.live_edit and self.paused_id is not None and not self.resumed

    @property
    def left_live(self) -> bool:
        """A change that creates an email campaign to stop it made it (or may have: its create
        was never answered) and no stop of it went through: it may be left enabled, sending."""
        if not self.stops_created or self.created_stopped:
            return False
        creating = self.in_flight is not None and self.in_flight.get("op") == "create"
        return self.created_id is not None or creating or self.create_unknown

    @property
    def may_have_sent(self) -> bool:
        """A call of this change may have changed the account: one took effect (or may have:
        :attr:`took_effect`), or its intent is written and its outcome is not known (no result
        yet: the process died). A step refused before it was sent (a failed result marked
        ``not_done``, with or without an intent before it) changed nothing."""
        return self.took_effect or self.in_flight is not None

    @property
    def unfinished(self) -> bool:
        """Something was sent, and not every step of the change went through (or the last
        one's status never showed)."""
        return self.of is not None and (self.done < self.of or self.settle_failed)


@dataclass(slots=True)
class Replay:
    """A journal read back: its ``start`` fields, whether it has its ``end`` line, when its
    last line was written, and a :class:`Trace` per change address."""

    path: Path
    start: dict[str, Any]
    ended: bool = False
    last_ts: float = 0.0
    traces: dict[str, Trace] = field(default_factory=dict)
    #: When the ``start`` line was written (UTC seconds; 0.0 when it holds no valid time).
    started: float = 0.0

    @property
    def sent(self) -> bool:
        """Whether the apply may have changed the account: a call of some change took effect
        or may have (:attr:`Trace.may_have_sent`). An apply stopped before its first call
        (Ctrl-C before any change started, a kill before the first intent) sent nothing."""
        return any(t.may_have_sent for t in self.traces.values())

    @property
    def complete(self) -> bool:
        """Whether every change the apply set out to make (the ``start`` line's ``changes``)
        went through: each one's steps all applied, none failed."""
        total = self.start.get("changes")
        done = sum(
            1
            for t in self.traces.values()
            if t.of is not None and not t.unfinished and t.failed is None
        )
        return isinstance(total, int) and done >= total

    @property
    def pid(self) -> int | None:
        """The process that wrote it (from the file name)."""
        parts = self.path.name.split("-", 2)
        ok = len(parts) > 1 and parts[1].isascii() and parts[1].isdigit()
        return int(parts[1]) if ok else None


def read_journal(path: Path, *, strict: bool = False) -> Replay | None:
    """Read a journal back; ``None`` when it has no ``start`` line (the apply wrote nothing).

    Tolerant, since a killed process may leave half a line: a line that is not a JSON object
    is skipped. With ``strict`` (the account's newest journal, the one recovery depends on),
    only the last line may be like that — the one a kill cut short —, and the first must be the
    ``start`` line: any other damage (a hand edit, a disk error) raises :class:`DamagedJournal`
    naming the line, since reading past it could silently lose what the journal kept open.
    Raises :class:`OSError` when the file cannot be read, or is not a regular file (a FIFO
    would wait for a writer for ever: :func:`_open_regular`)."""
    replay: Replay | None = None
    with io.TextIOWrapper(_open_regular(path), encoding="utf-8", errors="replace") as fh:
        for number, record in _records(fh, path if strict else None):
            event = record.get("event")
            when = _seconds(record.get("ts"))
            if replay is None:
                if event != "start":
                    if strict and number == 1:
                        raise DamagedJournal(path, 1, "the line is not the journal's start line")
                    continue
                replay = Replay(path, {k: v for k, v in record.items() if k not in _LINE_FIELDS})
                replay.started = when
            replay.last_ts = max(replay.last_ts, when)
            if event == "end":
                replay.ended = True
            address = record.get("address")
            if isinstance(address, str) and isinstance(event, str):
                replay.traces.setdefault(address, Trace()).feed(event, record, when)
    return replay


class DamagedJournal(Exception):
    """A journal read with ``strict`` has a damaged line that no crash explains: ``line``
    (1-based) of ``path``, and ``why`` in a few words."""

    def __init__(self, path: Path, line: int, why: str) -> None:
        super().__init__(f"{path}:{line}: {why}")
        self.path, self.line, self.why = path, line, why


#: Times outside this span are not a journal's (UTC seconds up to the year 5138; milliseconds,
#: infinities and negative times are not): taken as unknown.
_SANE_TS = (0.0, 1e11)


def _seconds(ts: Any) -> float:
    """A line's ``ts`` as UTC seconds, or 0.0 when it is not one (another format, garbage)."""
    if not isinstance(ts, int | float) or isinstance(ts, bool):
        return 0.0
    try:
        when = float(ts)
    except OverflowError:
        return 0.0
    return when if _SANE_TS[0] < when < _SANE_TS[1] else 0.0


def _records(
    lines: Iterator[str] | TextIO, strict: Path | None = None
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Each line that is a JSON object, with its number. Others are skipped, unless ``strict``
    (the journal's path) is given: then one that is not the last raises
    :class:`DamagedJournal`."""
    damaged: int | None = None
    for number, line in enumerate(lines, 1):
        if damaged is not None and strict is not None:
            # A line follows the damaged one: it was not cut short by a kill.
            raise DamagedJournal(
                strict,
                damaged,
                "the line is not one JSON object, and is not the last line (the only one a "
                "kill can cut short)",
            )
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):  # half a line, garbage, absurd nesting
            record = None
        if isinstance(record, dict):
            yield number, record
        else:
            damaged = number


def journal_files(folder: Path, label: str) -> list[Path]:
    """The journals of account ``label`` in ``folder``, newest first (their names start with
    the UTC time they were created at). A folder that does not exist holds none; one that
    cannot be listed raises :class:`OSError`."""
    want = journal_label(label)
    try:
        names = [p for p in folder.iterdir() if p.suffix == ".jsonl"]
    except (FileNotFoundError, NotADirectoryError):
        return []
    out = []
    for path in names:
        parts = path.name[: -len(".jsonl")].split("-", 2)
        if len(parts) == 3 and parts[2] == want or len(parts) == 2 and not want:
            out.append(path)
    return sorted(out, key=lambda p: p.name, reverse=True)


#: The longest first line :func:`journal_files_of` reads of a journal (its line end counted):
#: a ``start`` line is a few hundred bytes and what earlier applies left open (``carried``,
#: a few hundred bytes a change: tens of thousands of changes). A first line longer than this
#: is not read on (a file without line ends is read no further than this).
MAX_START_LINE = 16 * 2**20


def journal_files_of(folder: Path, identity: str) -> list[Path]:
    """The journals in ``folder`` whose ``start`` line records the account ``identity``
    (:mod:`hoodsync.identity`), whatever account name wrote them — an account renamed in
    hoodsync.yaml keeps its identity, and what its applies left open stays its own —, newest
    first (:func:`journal_files_with`)."""
    return journal_files_with(folder, "identity", identity)


def journal_files_with(folder: Path, key: str, value: str) -> list[Path]:
    """The journals in ``folder`` whose ``start`` line records ``value`` under ``key`` (an
    account's ``identity``, a saved plan's ``saved_plan``), newest first. Only first lines are
    read, of regular files only, and only up to :data:`MAX_START_LINE` bytes: nothing here
    waits (a FIFO is not opened for a writer) or reads without end. A file whose first line is
    not a readable ``start`` line (longer than that bound included), that is not a regular
    file, or that cannot be read, is not among them: what it records cannot be told (one of an
    account's name is still found by :func:`journal_files`, and read strictly). A folder that
    does not exist holds none; one that cannot be listed raises :class:`OSError`."""
    try:
        names = [p for p in folder.iterdir() if p.suffix == ".jsonl"]
    except (FileNotFoundError, NotADirectoryError):
        return []
    out = [path for path in names if _start_records(path, key, value)]
    return sorted(out, key=lambda p: p.name, reverse=True)


def _start_records(path: Path, key: str, value: str) -> bool:
    """Whether the first line of ``path`` is a ``start`` line recording ``value`` under
    ``key``."""
    try:
        with _open_regular(path) as fh:
            raw = fh.readline(MAX_START_LINE + 1)
    except OSError:
        return False
    if len(raw) > MAX_START_LINE:
        return False  # cannot be told: see journal_files_with
    line = raw.decode("utf-8", errors="replace")
    if value not in line:  # the cheap test first: most journals are other accounts'
        return False
    try:
        record = json.loads(line)
    except (ValueError, RecursionError):
        return False
    return isinstance(record, dict) and record.get("event") == "start" and record.get(key) == value


def _open_regular(path: Path) -> BinaryIO:
    """``path`` open for reading, or :class:`OSError` when it is not a regular file. Opened
    with ``O_NONBLOCK`` and checked on the open file: opening a FIFO (a name checked first
    could be one by the time it is opened) would otherwise wait for a writer for ever; the
    flag changes nothing for a regular file, the only kind read."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file (a journal is a file apply wrote)")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
