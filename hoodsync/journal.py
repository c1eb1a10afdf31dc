"""The write-ahead journal of an apply: ``.hoodsync/journal/<UTC time>-<pid>[-<account>].jsonl``.

One JSON object per line: ``start``; an ``intent`` line before every mutation is sent and a
``result`` line after it (plus ``settle``, ``skipped``, ``interrupted`` and compensation lines,
and after a second Ctrl-C a ``result`` with status ``unknown`` for each call not waited for);
``end`` last. Each has the time, and where it concerns a change its address, the step, the
operation and the remote id — never a request body, which may carry an interpolated secret,
and never a credential. The result table of an apply is made from what was
written here; after a crash, the file says what was sent.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

__all__ = ["Journal"]


class Journal:
    """Append-only JSON-lines record of an apply; thread-safe; flushed line by line so that a
    killed process leaves every line it wrote.

    ``file``, already open for appending text, is written instead of opening ``path`` (which
    then only names the journal): a test can hand in a file whose writes fail.
    """

    def __init__(
        self, path: Path, *, clock: Callable[[], float] = time.time, file: TextIO | None = None
    ) -> None:
        if file is None:
            path.parent.mkdir(parents=True, exist_ok=True)
            file = path.open("a", encoding="utf-8")
        self.path = path
        self._clock = clock
        self._lock = threading.Lock()
        self._fh = file
        #: The first write that failed, if any; once set, the journal is incomplete.
        self.error: OSError | None = None

    @classmethod
    def create(
        cls, folder: Path, *, label: str = "", clock: Callable[[], float] = time.time
    ) -> Journal:
        """A new journal file ``<folder>/<UTC timestamp>-<pid>[-<label>].jsonl``; ``label``
        (the account name) keeps accounts applied at the same moment in separate files."""
        stamp = dt.datetime.fromtimestamp(clock(), dt.UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        safe = "".join(ch if ch.isalnum() or ch in "_-" else "_" for ch in label)
        suffix = f"-{safe}" if safe else ""
        return cls(folder / f"{stamp}-{os.getpid()}{suffix}.jsonl", clock=clock)

    def write(self, event: str, **fields: Any) -> None:
        """Append one line and flush it. Raises :class:`OSError` when it cannot be written
        (and remembers the first such error in :attr:`error`)."""
        record = {"ts": round(self._clock(), 6), "event": event, **fields}
        line = json.dumps(record, sort_keys=True, ensure_ascii=False)
        with self._lock:
            try:
                self._fh.write(line + "\n")
                self._fh.flush()
            except OSError as exc:
                if self.error is None:
                    self.error = exc
                raise

    def close(self) -> None:
        """Close the file. After a failed write, closing (which flushes the same unwritten
        line again) does not raise a second time: :attr:`error` already says it."""
        with self._lock:
            try:
                self._fh.close()
            except OSError:
                if self.error is None:
                    raise
