"""Writing a file whole or not at all: the one atomic writer (plans, previews, exports, pulls).

A crash, a full disk or Ctrl-C never leaves half a file: the text goes to a temporary file in
the same folder, which then replaces the target in one rename. :func:`check_writable` answers
early — before any account is read — whether a path could be written later.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from pathlib import Path

__all__ = ["check_writable", "not_a_folder", "write_atomic"]


def check_writable(path: Path) -> None:
    """Fail with ``<path>: <reason>`` now, before any account is read, when ``path`` could not
    be written later (missing or read-only folder, a directory in the way)."""
    target = path.resolve()
    if target.is_dir():
        raise OSError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
    if target.exists() and not target.is_file():
        if not os.access(target, os.W_OK):
            raise OSError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return
    folder = target.parent
    if not folder.exists():
        raise OSError(errno.ENOENT, f"folder {folder} does not exist", str(path))
    if not folder.is_dir():
        raise OSError(errno.ENOTDIR, f"{folder} is not a folder", str(path))
    if not os.access(folder, os.W_OK | os.X_OK):
        read_only = bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
        reason = "read-only file system" if read_only else "permission denied"
        raise OSError(errno.EACCES, f"cannot write in {folder}: {reason}", str(path))


def not_a_folder(folder: Path) -> tuple[Path, str] | None:
    """What stands where ``folder`` or one of its parents should be a folder: the first of them
    that exists and is not one, and what it is (``a file``, ``a symbolic link to /dev/null``);
    ``None`` when nothing does."""
    culprit = next(
        (p for p in (folder, *folder.parents) if os.path.lexists(p) and not p.is_dir()), None
    )
    if culprit is None:
        return None
    if not culprit.is_symlink():
        return culprit, "a file"
    try:
        return culprit, f"a symbolic link to {os.readlink(culprit)}"
    except OSError:
        return culprit, "a symbolic link"


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_atomic(path: Path, text: str) -> None:
    """Write a file whole or not at all (a crash never leaves half a plan).

    A symbolic link is followed: the file it points to is written and the link stays. An
    existing target that is not a regular file (``/dev/stdout``, ``/dev/null``, a FIFO) is
    written directly — renaming a temporary file over it would replace the device. Failures
    raise :class:`OSError` naming the path.
    """
    target = path.resolve()
    if target.is_dir():
        raise OSError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
    if target.exists() and not target.is_file():
        try:
            with open(target, "w", encoding="utf-8") as fh:
                fh.write(text)
        except OSError as exc:
            raise OSError(exc.errno, exc.strerror, str(path)) from exc
        return
    mode = stat.S_IMODE(target.stat().st_mode) if target.exists() else 0o666 & ~_umask()
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, str(path)) from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())  # on disk before the rename makes it the file
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise OSError(exc.errno, exc.strerror, str(path)) from exc
        raise
