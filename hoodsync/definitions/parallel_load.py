"""Loading many definition files on two cores: a forked worker takes part of the files.

:func:`~hoodsync.definitions.validate.load_definitions` reads, parses and checks the files in
order, one process (the simple path). Reading 10,000 files that way is most of a plan's local
work, and all of it is per file, so :func:`in_parts` lets a worker process do the last part of
the (sorted) files while this process does the first, then takes the worker's result back.

**Contract.** ``in_parts(items, work)`` returns ``[work(items)]`` or ``[work(head),
work(tail)]`` with ``head + tail == items``; the caller combines the parts in order. For a
``work`` whose result over consecutive parts, combined in order, is its result over the whole
(reading and checking files one by one is), the answer is the simple path's, whichever way it
was computed. It splits only when that can help and is safe:

* at least ``min_items`` items (forking and sending the result back cost ~20 ms);
* a second CPU this process may use (``os.sched_getaffinity``);
* Linux, and this process has a single thread (Python's or a native library's): ``fork``
  copies only the calling thread, so a lock held by another thread at that moment would stay
  held in the worker forever;
* ``SIGCHLD`` is not ignored: a process that inherited it ignored (as a child of some
  supervisors does) has its children reaped by the kernel, and could not learn how the worker
  ended.

The worker runs ``work`` on its part, pickles the result and writes it to a pipe, then exits
with ``os._exit`` (never returning into the caller's code, running no ``atexit`` handler and
flushing no inherited buffer). Anything that goes wrong with it — it raises, dies, writes
something that does not unpickle, or has not finished ``wait_factor`` times the time this
process took for its own part plus ``wait_grace`` seconds after this process finished — and
its part is done here instead, as the simple path would (so a problem it hit is reported as
the simple path reports it). Every wait on it is bounded, and its exit is always collected: if
this process's own part raises (Ctrl-C included), the worker is killed and reaped first.
"""

from __future__ import annotations

import contextlib
import math
import os
import pickle
import select
import signal
import struct
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Generic, TypeVar

__all__ = ["MIN_ITEMS", "cpu_quota", "in_parts", "usable_cpus"]

T = TypeVar("T")
R = TypeVar("R")

#: Fewer files than this are loaded in one process: the worker's fixed cost (fork, pickling,
#: the pipe; ~20 ms) is then a noticeable share of the whole (~0.2 ms per file).
MIN_ITEMS = 400
#: The share of the work (estimated by ``cost``, else by count) this process keeps. A little
#: over half: the worker also pickles its result and this process unpickles it after its own
#: part; the share balances those (measured at 10,000 files, ~0.13 s and ~0.09 s).
OWN_SHARE = 0.53
#: How many items ``cost`` is asked about, at most (evenly spaced).
SAMPLES = 256
_CHUNK = 1 << 20
#: What the worker writes before its pickled result: the result's length in bytes.
_HEADER = struct.Struct("<Q")
#: Signals held back around the fork (see ``in_parts``) and left to their default action in
#: the worker (which then just ends; this process notices and does its part).
_DEFERRED = frozenset({signal.SIGINT, signal.SIGTERM, signal.SIGQUIT, signal.SIGHUP})
#: ``prctl`` option: the signal the worker gets when this process ends (Linux).
_PR_SET_PDEATHSIG = 1
#: Where the control groups are mounted (Linux).
_CGROUP = Path("/sys/fs/cgroup")


def usable_cpus() -> int:
    """How many CPUs this process may run on: its affinity mask where the OS has one, and no
    more than its control group's CPU quota allows (a CI runner or container limited to one
    CPU while it sees several: a second process would only take turns with this one)."""
    getaffinity = getattr(os, "sched_getaffinity", None)
    if getaffinity is not None:
        try:
            cpus = len(getaffinity(0))
        except OSError:  # refused (a sandbox's system-call filter): do not count on a second
            return 1
    else:  # pragma: no cover - Linux has sched_getaffinity
        cpus = os.cpu_count() or 1
    quota = cpu_quota()
    return cpus if quota is None else max(1, min(cpus, math.floor(quota)))


def cpu_quota(proc: Path = Path("/proc/self/cgroup"), root: Path = _CGROUP) -> float | None:
    """CPUs' worth of time this process's control group may use (``None``: no quota, or none
    that can be read). cgroup v2: ``cpu.max`` of its group and every group above it; v1: the
    ``cpu`` controller's ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us`` of its group."""
    try:
        lines = proc.read_text("ascii").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    quotas: list[float] = []
    for line in lines:
        number, controllers, path = (line.split(":", 2) + ["", ""])[:3]
        group = path.strip("/")
        if number == "0" and not controllers:  # cgroup v2: the limits of every level count
            parts = group.split("/") if group else []
            for depth in range(len(parts), -1, -1):
                folder = root.joinpath(*parts[:depth])
                quotas += _quota(folder / "cpu.max", None)
        elif "cpu" in controllers.split(","):  # cgroup v1
            folder = root / controllers / group
            quotas += _quota(folder / "cpu.cfs_quota_us", folder / "cpu.cfs_period_us")
    return min(quotas) if quotas else None


def _quota(limit: Path, period: Path | None) -> list[float]:
    """One level's quota in CPUs, as a list of none or one (unlimited or unreadable: none)."""
    try:
        fields = limit.read_text("ascii").split()
        if period is not None:
            fields.append(period.read_text("ascii").strip())
        quota, length = float(fields[0]), float(fields[1])
    except (OSError, UnicodeDecodeError, ValueError, IndexError):  # "max", absent, garbled
        return []
    return [quota / length] if quota > 0 and length > 0 else []


def _can_split(count: int, min_items: int) -> bool:
    return (
        count >= max(2, min_items)
        and sys.platform.startswith("linux")
        and _single_threaded()
        and usable_cpus() >= 2
        and _children_waitable()
    )


def _children_waitable() -> bool:
    """Whether a child's exit can be waited for: not with ``SIGCHLD`` ignored."""
    return signal.getsignal(signal.SIGCHLD) != signal.SIG_IGN


def _single_threaded() -> bool:
    """Whether this process runs a single thread: no Python thread besides this one, and no
    thread a native library started (Linux lists every thread under /proc/self/task)."""
    if threading.active_count() != 1:
        return False
    try:
        return len(os.listdir("/proc/self/task")) == 1
    except OSError:  # no /proc: the threads cannot be counted, so do not fork
        return False


def in_parts(
    items: Sequence[T],
    work: Callable[[Sequence[T]], R],
    *,
    min_items: int = MIN_ITEMS,
    wait_factor: float = 4.0,
    wait_grace: float = 5.0,
    cost: Callable[[T], float] | None = None,
) -> list[R]:
    """``work`` over consecutive parts of ``items``, in order (see the module's contract).
    ``work``'s result must pickle; the worker's is computed with this process's state as of
    the call (``fork``). ``cost`` estimates an item's share of the work, to cut where this
    process gets :data:`OWN_SHARE` of it (asked of a sample of the items, :data:`SAMPLES`);
    without it every item counts the same."""
    if not _can_split(len(items), min_items):
        return [work(items)]
    cut = _cut(items, cost)
    head, tail = items[:cut], items[cut:]
    worker: _Worker[R] = _Worker()
    # Every signal waits while the worker is made: the worker, whose code must never return
    # into the caller's, holds them until it is inside ``_serve``; this process until the pipe
    # and the pid are recorded on ``worker`` (a handler that raises — Ctrl-C, a host's timeout
    # — would otherwise leave them unknown to ``stop``, the pipe open and the child unreaped).
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, [])  # only read: nothing to undo yet
    try:
        try:
            signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
            worker.start(work, tail)
        except OSError:  # no process or pipe to be had: the simple path
            pass
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)  # one held since: handled here
        if worker.pid is None:
            return [work(items)]
        started = time.monotonic()
        own = work(head)
        wait = wait_factor * (time.monotonic() - started) + wait_grace
        theirs = worker.result(wait)
    finally:
        # Kills it only if still running (our part raised, or it timed out). A handler that
        # raises runs at the next function entry — stop's own, before its guard — so the call
        # is retried here, inline, until it has run through; the first such exception is
        # raised afterwards (left in an unreaped child and an open pipe otherwise).
        interrupted: BaseException | None = None
        while True:
            try:
                worker.stop()
                break
            except BaseException as exc:  # noqa: BLE001 - re-raised below, once stopped
                interrupted = interrupted or exc
        if interrupted is not None:
            raise interrupted
    return [own, theirs.value if theirs is not None else work(tail)]


def _cut(items: Sequence[T], cost: Callable[[T], float] | None) -> int:
    """Where to cut ``items``: this process takes ``items[:cut]``, about :data:`OWN_SHARE` of
    the estimated work, and each side at least one item."""
    count = len(items)
    cut = round(count * OWN_SHARE)
    if cost is not None:
        step = max(1, count // SAMPLES)
        # Each sampled item stands for itself and the step - 1 items after it.
        sampled = [cost(items[at]) * min(step, count - at) for at in range(0, count, step)]
        goal, total = OWN_SHARE * sum(sampled), 0.0
        for index, weight in enumerate(sampled):
            if total + weight > goal:
                cut = index * step + round(step * (goal - total) / weight)
                break
            total += weight
    return min(count - 1, max(1, cut))


class _Box(Generic[R]):
    """The worker's result (a class, so that ``None`` can be a result)."""

    __slots__ = ("value",)

    def __init__(self, value: R) -> None:
        self.value = value


class _Worker(Generic[R]):
    """A forked process computing ``work(part)`` and sending it back through a pipe. Made
    empty, then started (:meth:`start`): whatever of it exists is what :meth:`stop` cleans up."""

    def __init__(self) -> None:
        self.pid: int | None = None
        self.read_end: int | None = None
        self.reaped = False

    def start(self, work: Callable[[Sequence[T]], R], part: Sequence[T]) -> None:
        """Fork the worker (called with every signal held: nothing interrupts the
        bookkeeping). Raises ``OSError`` with nothing left open when there is no pipe or
        process to be had."""
        import fcntl

        die_with_parent = _parent_death_signal()
        parent = os.getpid()
        read_end, write_end = os.pipe()
        self.read_end = read_end
        try:
            if write_end <= 2:
                # Standard descriptors were closed: the worker points 0-2 at /dev/null, which
                # would replace its end of the pipe. Give it a number above them.
                low, write_end = write_end, fcntl.fcntl(write_end, fcntl.F_DUPFD_CLOEXEC, 3)
                os.close(low)
            with contextlib.suppress(OSError, AttributeError):  # a bigger pipe: fewer switches
                fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, _CHUNK)
            self.pid = os.fork()
        except OSError:
            os.close(write_end)
            raise
        if self.pid == 0:  # the worker: never returns
            _serve(read_end, write_end, work, part, parent, die_with_parent)
        os.close(write_end)  # ours closed, the worker's end closing (it exited) reads as EOF

    def result(self, wait: float) -> _Box[R] | None:
        """The worker's result, or None if it failed or took longer than ``wait`` seconds (or
        anything unforeseen went wrong reading it: its part is then done here)."""
        try:
            return self._result(wait)
        except Exception:  # noqa: BLE001 - the simple path is always there to fall back on
            return None

    def _result(self, wait: float) -> _Box[R] | None:
        deadline = time.monotonic() + wait
        header = self._read(bytearray(_HEADER.size), deadline)
        if header is None:
            return None
        try:
            # Read into one buffer of the announced size: no list of chunks joined afterwards,
            # which held the result twice (~10 MB more at the peak of `hoodsync validate`).
            data = self._read(bytearray(_HEADER.unpack(header)[0]), deadline)
        except MemoryError:
            return None
        if data is None or self._read(bytearray(1), deadline, eof=True) is None:
            return None  # cut short, too slow, or more than announced
        if self._exit_code() != 0:
            return None
        try:
            value: R = pickle.loads(data)
        except Exception:  # noqa: BLE001 - anything unreadable: the part is done here
            return None
        return _Box(value)

    def _read(self, buffer: bytearray, deadline: float, eof: bool = False) -> bytearray | None:
        """``buffer`` filled from the pipe by ``deadline``, or None (end of file first, or
        too late). ``eof``: expect the end of file instead (the worker exiting), not data."""
        view, filled = memoryview(buffer), 0
        while filled < len(buffer):
            left = deadline - time.monotonic()
            if left <= 0 or not self._readable(left):
                return None  # too slow: stop() kills it
            assert self.read_end is not None  # started
            got = os.readv(self.read_end, [view[filled:]])
            if got == 0:
                return buffer if eof else None
            if eof:
                return None
            filled += got
        return buffer

    def _readable(self, seconds: float) -> bool:
        """Whether the pipe has data (or its end) within ``seconds``. ``poll``, not
        ``select``, which refuses descriptors numbered 1024 or more."""
        assert self.read_end is not None  # started
        poller = select.poll()
        poller.register(self.read_end, select.POLLIN)
        return bool(poller.poll(max(1, math.ceil(seconds * 1000.0))))

    def _exit_code(self) -> int | None:
        """How the worker ended (it closed the pipe on exit: this returns); None when that
        cannot be known (the kernel reaped it: ``SIGCHLD`` came to be ignored meanwhile)."""
        assert self.pid is not None  # started
        try:
            _, status = os.waitpid(self.pid, 0)
        except ChildProcessError:
            self.reaped = True
            return None
        self.reaped = True
        return os.waitstatus_to_exitcode(status)

    def stop(self) -> None:
        """Kill and reap the worker unless it was reaped already, and close the pipe: whatever
        of them exists. Every signal is held meanwhile, and a handler that raises all the same
        (for a signal that came just before) only delays it: the exception is raised once all
        is done (a second Ctrl-C would otherwise leave the rest undone)."""
        interrupted: BaseException | None = None
        while True:
            try:
                held = signal.pthread_sigmask(signal.SIG_BLOCK, [])  # only read
                try:
                    signal.pthread_sigmask(signal.SIG_BLOCK, signal.valid_signals())
                    self._release()
                finally:
                    signal.pthread_sigmask(signal.SIG_SETMASK, held)
                break
            except BaseException as exc:  # noqa: BLE001 - re-raised below, once released
                interrupted = exc
        if interrupted is not None:
            raise interrupted

    def _release(self) -> None:
        """:meth:`stop`'s steps, each recorded as done (so that running it again resumes)."""
        if self.pid is not None and not self.reaped:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):  # reaped by the kernel already
                os.waitpid(self.pid, 0)
            self.reaped = True
        if self.read_end is not None:
            os.close(self.read_end)
            self.read_end = None


def _parent_death_signal() -> Callable[[], object] | None:
    """A function that has the calling process killed when its parent ends (``prctl``), or
    None where there is none. Looked up before the fork: the worker should not load a library.
    """
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError, ImportError):
        return None
    return lambda: prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)


def _serve(
    read_end: int,
    write_end: int,
    work: Callable[[Sequence[T]], R],
    part: Sequence[T],
    parent: int,
    die_with_parent: Callable[[], object] | None,
) -> None:
    """The worker's whole life: compute, send, exit (0 only when everything was written).
    It ends with its parent (a parent killed on its own would otherwise leave it running,
    holding the caller's output open), reads and writes nothing but its pipe, and an interrupt
    just ends it (``_DEFERRED``, still held when it starts)."""
    code = 1
    try:
        for deferred in _DEFERRED:
            signal.signal(deferred, signal.SIG_DFL)
        if die_with_parent is not None:
            die_with_parent()
        if os.getppid() != parent:  # the parent ended before that took effect
            return
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _DEFERRED)
        os.close(read_end)
        data = pickle.dumps(work(part), protocol=pickle.HIGHEST_PROTOCOL)
        for piece in (_HEADER.pack(len(data)), data):
            view = memoryview(piece)
            while view:
                view = view[os.write(write_end, view[:_CHUNK]) :]
        code = 0
    finally:
        os._exit(code)  # whatever happened (Ctrl-C included): no unwinding into the caller
