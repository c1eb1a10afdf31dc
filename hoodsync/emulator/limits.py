"""Server-side limits: the fixed-window rate limiter and the per-account concurrency gate.

Rate limiting follows the Hood rate-limit guide: per account, a fixed 1 s window and a fixed 60 s
window, both aligned to the clock (the second window is ``floor(now)``, the minute window
``floor(now / 60)``). Every authenticated request counts, including ones that then fail; a
throttled request is neither executed nor counted.

The guide says the ``X-RateLimit-*`` headers describe "the current window" without saying which
of the two. Our choice: the *binding* window, i.e. the one with fewer requests remaining after
this one (on a tie, the minute window, because it is the one that takes longer to recover).
``Reset`` is the whole number of seconds until that window resets, rounded up, so it is at least 1
for a request made mid-second. A throttled request's ``Retry-After`` is the same rounding for the
window that refused it (the later of the two when both are full).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Callable, Hashable

__all__ = ["RateDecision", "FixedWindowLimiter", "ConcurrencyGate"]


@dataclass(frozen=True)
class RateDecision:
    """Outcome of one request against the limiter.

    When ``allowed``: ``limit``/``remaining``/``reset`` are the three header values. Otherwise
    ``retry_after`` is the whole seconds (>= 1) until the refusing window resets.
    """

    allowed: bool
    limit: int = 0
    remaining: int = 0
    reset: int = 0
    retry_after: int = 0

    def headers(self) -> list[tuple[str, str]]:
        """``X-RateLimit-*`` headers for an allowed request, ``Retry-After`` for a refused one."""
        if not self.allowed:
            return [("Retry-After", str(self.retry_after))]
        return [
            ("X-RateLimit-Limit", str(self.limit)),
            ("X-RateLimit-Remaining", str(self.remaining)),
            ("X-RateLimit-Reset", str(self.reset)),
        ]


@dataclass
class _Windows:
    second: int = -1
    second_count: int = 0
    minute: int = -1
    minute_count: int = 0


def _seconds_until(window_end: float, now: float) -> int:
    return max(1, math.ceil(window_end - now))


class FixedWindowLimiter:
    """Two fixed windows per key (1 s and 60 s) with limits ``per_second`` and ``per_minute``."""

    def __init__(self, per_second: int, per_minute: int, clock: Callable[[], float]) -> None:
        """``clock`` returns POSIX seconds; it is read once per :meth:`hit`."""
        self._per_second = per_second
        self._per_minute = per_minute
        self._clock = clock
        self._lock = threading.Lock()
        self._state: dict[Hashable, _Windows] = {}

    def hit(self, key: Hashable) -> RateDecision:
        """Count one request for ``key`` if both windows have room; say what to answer."""
        now = self._clock()
        second = math.floor(now)
        minute = math.floor(now / 60)
        with self._lock:
            w = self._state.setdefault(key, _Windows())
            if w.second != second:
                w.second, w.second_count = second, 0
            if w.minute != minute:
                w.minute, w.minute_count = minute, 0
            second_end = float(second + 1)
            minute_end = float((minute + 1) * 60)
            second_full = w.second_count >= self._per_second
            minute_full = w.minute_count >= self._per_minute
            if minute_full:
                return RateDecision(False, retry_after=_seconds_until(minute_end, now))
            if second_full:
                return RateDecision(False, retry_after=_seconds_until(second_end, now))
            w.second_count += 1
            w.minute_count += 1
            left_second = self._per_second - w.second_count
            left_minute = self._per_minute - w.minute_count
        if left_second < left_minute:
            return RateDecision(
                True, self._per_second, left_second, _seconds_until(second_end, now)
            )
        return RateDecision(True, self._per_minute, left_minute, _seconds_until(minute_end, now))


class ConcurrencyGate:
    """At most ``limit`` requests in flight per key (``None`` = unlimited)."""

    def __init__(self, limit: int | None) -> None:
        self._limit = limit
        self._lock = threading.Lock()
        self._in_flight: dict[Hashable, int] = {}

    def try_enter(self, key: Hashable) -> bool:
        """Take a slot for ``key``; ``False`` (and no slot taken) when all are in use."""
        with self._lock:
            current = self._in_flight.get(key, 0)
            if self._limit is not None and current >= self._limit:
                return False
            self._in_flight[key] = current + 1
            return True

    def leave(self, key: Hashable) -> None:
        """Give back a slot taken by :meth:`try_enter`."""
        with self._lock:
            left = self._in_flight.get(key, 0) - 1
            if left <= 0:
                self._in_flight.pop(key, None)
            else:
                self._in_flight[key] = left
