"""One apply per account at a time, on one machine: an exclusive lock, as Terraform's state lock.

Two applies of one account started together would both plan "create" for every new definition
and both send it: every object twice, and nothing in these APIs deletes. So ``apply`` takes this
lock for every account endpoint it writes to *before* it reads the account, and holds it until
the last call has finished. ``plan`` takes no lock.

The lock is ``fcntl.flock`` on a file named by the endpoint's identity
(:mod:`hoodsync.identity`: a keyed hash of the credential and the canonical URL, so two
repositories applying the same account on one machine share it, however they spell its URL, and
the file name reveals nothing). The kernel releases a flock when its process dies, so a crashed
apply never leaves a lock behind; the file also holds the holder's pid, host, start time and
command, which a refusal quotes, and which tells the next apply that it took over from a process
that died (it says so). A lock held although its file names no running apply (another program
holding it with ``flock`` writes nothing there) is held by a process hoodsync cannot identify,
and the refusal says so, with the lock file's path.

Reach: the applies that use one lock folder on one machine (one kernel). By default that is one
user's applies: two users, or two containers, each have their own folder unless
``HOODSYNC_LOCK_DIR`` points them at one shared local folder. Applies on different CI runners
are serialised by the CI templates (GitHub ``concurrency``, GitLab ``resource_group``), not by
this lock.

Folder: ``$HOODSYNC_LOCK_DIR``, else ``$XDG_STATE_HOME/hoodsync/locks``, else
``~/.local/state/hoodsync/locks``. A folder hoodsync creates is its user's only (0700). A lock
file is created readable and writable by its owner only, and by the folder's group too when the
folder is group-writable (a folder shared by several users: ``chmod 2770``). A lock path that
is a symbolic link, has another name (a hard link) or is not a regular file is refused: a link
planted there would otherwise have its target overwritten with this user's rights.
"""

from __future__ import annotations

import datetime as dt
import errno
import fcntl
import json
import os
import shlex
import socket
import stat
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from hoodsync.atomic import not_a_folder
from hoodsync.errors import ConfigError, HoodsyncError

__all__ = ["LockError", "Holder", "AccountLock", "lock_dir", "acquire_all"]

#: Seconds between two tries while waiting for ``--lock-timeout``.
POLL_SECONDS = 0.2

#: Times a lock file removed or replaced between opening and locking it is opened again.
_REOPENS = 5

#: Bytes of ``/proc/locks`` read at most (one line per lock on the machine, ~50 bytes each).
_PROC_LOCKS_CAP = 4 << 20

#: How long to look again before calling a holder unidentified: an apply taking the lock
#: writes its name into the file a moment after it holds it, and one letting it go empties the
#: file a moment before.
SETTLE_SECONDS = 0.05


class LockError(HoodsyncError):
    """Another apply holds the lock of an account this apply would write to."""


@dataclass(frozen=True, slots=True)
class Holder:
    """Who holds (or held) a lock: written into the lock file, quoted in refusals."""

    pid: int
    host: str
    started: str
    command: str
    #: Set for a lock held by a process hoodsync cannot identify: what its file says instead
    #: (no holder, as another program holding the flock leaves it, or one no longer running).
    unknown: str = ""

    @classmethod
    def me(cls, clock: Callable[[], float] = time.time) -> Holder:
        when = dt.datetime.fromtimestamp(clock(), dt.UTC).isoformat(timespec="seconds")
        return cls(os.getpid(), socket.gethostname(), when, _command())

    @classmethod
    def unidentified(cls, why: str) -> Holder:
        """The holder of a lock whose file does not name a running apply (``why``)."""
        return cls(0, "?", "?", "?", why)

    def describe(self) -> str:
        if self.unknown and self.pid:
            return f"pid {self.pid} ({self.unknown})"
        if self.unknown:
            return f"a process hoodsync cannot identify ({self.unknown})"
        return f"pid {self.pid} on {self.host}, started {self.started}: {self.command}"

    def to_json(self) -> str:
        return json.dumps(
            {"pid": self.pid, "host": self.host, "started": self.started, "command": self.command},
            sort_keys=True,
        )

    @classmethod
    def parse(cls, text: str) -> Holder | None:
        try:
            d = json.loads(text)
            return cls(int(d["pid"]), str(d["host"]), str(d["started"]), str(d["command"]))
        except (ValueError, KeyError, TypeError):
            return None


def _command() -> str:
    """The command line, without anything that could be a secret: options only, no values
    after ``=``. (Secrets come from the environment, but a user may still type one.)"""
    words = [Path(sys.argv[0]).name] + [a.split("=", 1)[0] for a in sys.argv[1:]]
    return shlex.join(words)[:200]


def lock_dir(env: dict[str, str] | None = None) -> Path:
    """The folder lock files live in (module docstring), the same whatever folder a run starts
    from. A relative ``HOODSYNC_LOCK_DIR`` is a :class:`ConfigError` naming it: resolved against
    each run's working directory, it would give two applies of one account started from two
    folders two locks, neither waiting for the other. A relative ``XDG_STATE_HOME`` is ignored,
    as the XDG Base Directory specification says of relative paths there."""
    env = dict(os.environ) if env is None else env
    given = env.get("HOODSYNC_LOCK_DIR")
    if given:
        if not os.path.isabs(given):
            raise ConfigError(
                f"HOODSYNC_LOCK_DIR={given!r} is a relative path: every apply would lock in a "
                "folder of its own working directory; set it to an absolute path"
            )
        return Path(given)
    xdg = env.get("XDG_STATE_HOME", "")
    base = xdg if os.path.isabs(xdg) else str(Path.home() / ".local" / "state")
    return Path(base) / "hoodsync" / "locks"


def _alive(holder: Holder) -> bool:
    """Whether the holder's process still runs (only answerable for this host)."""
    if holder.host != socket.gethostname():
        return True
    try:
        os.kill(holder.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class AccountLock:
    """The lock of one account endpoint. Use :func:`acquire_all` for a run's accounts."""

    def __init__(self, folder: Path, identity: str, label: str) -> None:
        self.path = folder / f"{identity}.lock"
        self.label = label
        self._fd: int | None = None
        #: Set by :meth:`try_acquire` when the previous holder had died without releasing.
        self.took_over: Holder | None = None

    def try_acquire(self, me: Holder) -> Holder | None:
        """Take the lock: ``None`` on success, else who holds it (never blocks). The file is
        written only once the flock is held; a lock path that is not a plain file of its own
        (see the module docstring) is a :class:`ConfigError`."""
        for _ in range(_REOPENS):
            fd = self._open()
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                text = _read(fd)
                os.close(fd)
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise ConfigError(
                        f"{self.path}: cannot take the apply lock: {exc.strerror}"
                    ) from exc
                return _holder(Holder.parse(text))
            if _at_path(fd, self.path):
                break
            os.close(fd)  # removed or replaced between opening and locking: open it again
        else:
            raise ConfigError(
                f"{self.path}: the apply lock file keeps being removed or replaced; "
                "refusing to apply (is something cleaning the lock folder?)"
            )
        removed = _holder_of_removed(fd, self.path)
        if removed is not None:
            os.close(fd)
            return removed
        previous = Holder.parse(_read(fd))
        if previous is not None and not _alive(previous):
            self.took_over = previous
        os.ftruncate(fd, 0)
        os.pwrite(fd, me.to_json().encode("utf-8"), 0)
        self._fd = fd
        return None

    def _open(self) -> int:
        """The lock file, opened without following a symbolic link, created if missing."""
        folder = self.path.parent
        try:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)  # shared: made so by hand
        except (FileExistsError, NotADirectoryError) as exc:
            raise ConfigError(_not_a_folder(folder)) from exc
        except OSError as exc:
            raise ConfigError(
                f"{folder}: cannot create the apply lock folder: {exc.strerror or exc}"
            ) from exc
        flags = os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            try:
                fd = os.open(self.path, flags | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                fd = os.open(self.path, flags)
            else:
                _share_with_group(fd, folder)
        except OSError as exc:
            raise ConfigError(self._refusal_to_open(exc)) from exc
        problem = _not_a_plain_file(os.fstat(fd))
        if problem is not None:
            os.close(fd)
            raise ConfigError(f"{self.path}: {problem}; refusing to use it as the apply lock")
        return fd

    def _refusal_to_open(self, exc: OSError) -> str:
        if self.path.is_symlink():  # ELOOP on Linux, EMLINK on the BSDs
            return (
                f"{self.path}: the apply lock is a symbolic link; refusing to follow it "
                "(hoodsync makes its lock files itself: remove the link)"
            )
        if exc.errno == errno.EISDIR:
            return f"{self.path}: is a folder; refusing to use it as the apply lock"
        if exc.errno == errno.EACCES:
            return (
                f"{self.path}: cannot open the apply lock: permission denied (a lock folder "
                "shared by several users must be writable by a group they share: chmod 2770)"
            )
        return f"{self.path}: cannot create the apply lock: {exc.strerror or exc}"

    def release(self) -> None:
        """Clear the holder and unlock (closing the file releases the flock)."""
        if self._fd is None:
            return
        try:
            os.ftruncate(self._fd, 0)
        finally:
            os.close(self._fd)
            self._fd = None


def _at_path(fd: int, path: Path) -> bool:
    """Whether the file open as ``fd`` is still the one at ``path`` (not removed or replaced
    since it was opened): a lock taken on a file no longer there locks nothing."""
    try:
        there = os.stat(path, follow_symlinks=False)
    except OSError:
        return False
    mine = os.fstat(fd)
    return (there.st_dev, there.st_ino) == (mine.st_dev, mine.st_ino)


def _holder_of_removed(fd: int, path: Path) -> Holder | None:
    """Another process still holding a flock on an earlier file at ``path``, one removed (or
    replaced) while it was held: an ``rm`` of the lock file, or a cleaner of its folder. The
    file this process just locked (``fd``) is then a new one, and its lock would let a second
    apply run beside the first. Linux only (``/proc/locks`` and ``/proc/PID/fd``, for the
    processes this user may inspect); elsewhere, or when nothing can be read, ``None``."""
    try:
        with open("/proc/locks", encoding="ascii", errors="replace") as listing:
            lines = listing.read(_PROC_LOCKS_CAP).splitlines()
    except OSError:
        return None
    mine = _file_id(os.fstat(fd))
    gone = os.path.join(os.path.realpath(path.parent), path.name) + " (deleted)"
    held: dict[int, set[tuple[int, int, int]]] = {}  # pid → the files it holds a flock on
    for line in lines:
        # "1: FLOCK  ADVISORY  WRITE 4242 fe:00:2326853 0 EOF" (a waiter's line has "->")
        parts = line.split()
        if len(parts) < 6 or parts[1] != "FLOCK" or not parts[4].isdigit():
            continue
        pid, file = int(parts[4]), _proc_file_id(parts[5])
        if pid != os.getpid() and file is not None and file != mine:
            held.setdefault(pid, set()).add(file)
    for pid, files in held.items():  # each process's descriptors are listed once
        if _holds_removed(pid, gone, files):
            return Holder(
                pid,
                socket.gethostname(),
                "?",
                "?",
                "it still holds the lock file that was at this path, which was removed while "
                "it held it",
            )
    return None


def _file_id(info: os.stat_result) -> tuple[int, int, int]:
    """A file's device (major, minor) and inode, as ``/proc/locks`` names them."""
    return os.major(info.st_dev), os.minor(info.st_dev), info.st_ino


def _proc_file_id(field: str) -> tuple[int, int, int] | None:
    """``/proc/locks``' ``MAJOR:MINOR:INODE`` (hexadecimal device numbers) as a file id."""
    major, _, rest = field.partition(":")
    minor, _, inode = rest.partition(":")
    try:
        return int(major, 16), int(minor, 16), int(inode)
    except ValueError:
        return None


def _holds_removed(pid: int, target: str, files: set[tuple[int, int, int]]) -> bool:
    """Whether process ``pid`` has ``target`` (a removed file, as ``/proc/PID/fd`` names it)
    open, and that very file is one it holds a flock on (``files``): merely having the old
    file open, or holding a lock on another file, is not holding this lock."""
    folder = f"/proc/{pid}/fd"
    try:
        names = os.listdir(folder)
    except OSError:
        return False
    for name in names:
        try:
            entry = f"{folder}/{name}"
            if os.readlink(entry) == target and _file_id(os.stat(entry)) in files:
                return True
        except OSError:
            continue
    return False


def _holder(named: Holder | None) -> Holder:
    """Who holds a lock another process has, from what its file names: the apply written
    there if it is still running, else a process hoodsync cannot identify."""
    if named is None:
        return Holder.unidentified(
            "the lock file names no holder, as another program holding it (with flock) leaves it"
        )
    if not _alive(named):
        return Holder.unidentified(
            f"the lock file still names {named.describe()}, which is no longer running"
        )
    return named


def _not_a_folder(folder: Path) -> str:
    """Why ``folder`` cannot be made: the first of it and its parents that is not a folder."""
    culprit, what = not_a_folder(folder) or (folder, "a file")
    where = "it" if culprit == folder else str(culprit)
    return (
        f"{folder}: cannot use it as the apply lock folder: {where} is {what}, not a folder "
        "(set HOODSYNC_LOCK_DIR to a folder)"
    )


def _not_a_plain_file(info: os.stat_result) -> str | None:
    """What makes an opened lock path unfit, or ``None`` for a regular file with one name."""
    if not stat.S_ISREG(info.st_mode):
        return "is not a regular file"
    if info.st_nlink != 1:
        return f"has {info.st_nlink} names (hard links)"
    return None


def _share_with_group(fd: int, folder: Path) -> None:
    """Give a new lock file its folder's group write permission, if the folder has it (the
    umask would take it away), so the users sharing the folder can all take the lock."""
    try:
        if os.stat(folder).st_mode & stat.S_IWGRP:
            os.fchmod(fd, 0o660)
    except OSError:
        pass  # the file stays the owner's only: others are refused, never let through


def _read(fd: int) -> str:
    try:
        return os.pread(fd, 4096, 0).decode("utf-8", "replace")
    except OSError:
        return ""


def acquire_all(
    locks: Sequence[AccountLock],
    timeout: float,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    on_wait: Callable[[AccountLock, Holder], None] | None = None,
) -> list[AccountLock]:
    """Take every lock (in a fixed order, so two runs cannot deadlock), waiting up to
    ``timeout`` seconds for each holder to finish (0 = refuse at once). On refusal every lock
    already taken is released and :class:`LockError` names the holder. ``on_wait`` is told
    once per lock when this run starts waiting for it."""
    me = Holder.me()
    deadline = clock() + max(0.0, timeout)
    taken: list[AccountLock] = []
    try:
        for lock in sorted(locks, key=lambda x: x.path.name):
            if any(t.path == lock.path for t in taken):
                continue  # two endpoints of a run sharing one identity
            told = looked_again = False
            while (holder := lock.try_acquire(me)) is not None:
                if holder.unknown and not looked_again:
                    looked_again = True  # maybe an apply taking or letting go of it
                    sleep(SETTLE_SECONDS)
                    continue
                if clock() >= deadline:
                    raise LockError(_refusal(lock, holder, timeout))
                if on_wait is not None and not told:
                    on_wait(lock, holder)
                    told = True
                sleep(min(POLL_SECONDS, max(0.0, deadline - clock())))
            taken.append(lock)
    except BaseException:
        for lock in taken:
            lock.release()
        raise
    return taken


def _refusal(lock: AccountLock, holder: Holder, timeout: float) -> str:
    waited = f" after waiting {timeout:g} s" if timeout > 0 else ""
    if holder.unknown and holder.pid:
        return (
            f"the apply lock of {lock.label} is held{waited} by pid {holder.pid}: "
            f"{holder.unknown} (lock file {lock.path}); nothing was done. Wait for that "
            "process to end, or pass --lock-timeout SECONDS to wait. Never remove a lock "
            "file: the system releases it when its process ends"
        )
    if holder.unknown:
        return (
            f"the apply lock of {lock.label} is held{waited} by a process hoodsync cannot "
            f"identify: {holder.unknown} (lock file {lock.path}; fuser or lsof on it names the "
            "process); nothing was done. Wait for that process to let go of it, or pass "
            "--lock-timeout SECONDS to wait"
        )
    return (
        f"another apply is running against {lock.label}{waited} ({holder.describe()}); "
        "nothing was done. Wait for it, or pass --lock-timeout SECONDS to wait "
        f"(lock file {lock.path}: never remove it, the system releases it when its process "
        "ends)"
    )
