"""Server-side limits: the rate limiters (three algorithms) and the per-account concurrency gate.

Every limiter holds, per key (account), a 1-second limit ``per_second`` and a 1-minute limit
``per_minute``. Every authenticated request counts, including ones that then fail; a throttled
request is neither executed nor counted.

Algorithms (:func:`make_limiter`):

- ``fixed`` (default, :class:`FixedWindowLimiter`) — the Hood rate-limit guide: a fixed 1 s and
  a fixed 60 s window. By default both are aligned to the clock (the second window is
  ``floor(now)``, the minute window ``floor(now / 60)``); with a *phase* ``p`` they start ``p``
  seconds later (minute windows at ``60 k + p``, second windows at ``k + p mod 1``), as a server
  whose windows start when it did rather than on whole seconds.
- ``sliding`` (:class:`SlidingLogLimiter`) — a sliding-window log: a request is allowed while fewer
  than ``per_second`` accepted requests arrived in the last 1 s and fewer than ``per_minute`` in
  the last 60 s (a request at ``t`` counts until ``t + 1`` / ``t + 60``, exclusive).
- ``bucket`` (:class:`TokenBucketLimiter`) — two token buckets, of ``per_second`` and
  ``per_minute`` tokens, refilled continuously at their own rates (default ``per_second`` and
  ``per_minute / 60`` tokens per second), both full at first; a request takes one token from each.

The guide says the ``X-RateLimit-*`` headers describe "the current window" without saying which
of the two. Our choice: the *binding* limit, i.e. the one with fewer requests remaining after
this one (on a tie, the minute limit, because it is the one that takes longer to recover).
``Limit`` is that limit (a bucket's size); ``Remaining`` what is left of it (a bucket's whole
tokens). ``Reset`` is whole seconds, rounded up (so at least 1), until that limit is whole again:
the fixed window's end; for the sliding log, when the oldest request counted leaves the window
(one more request is then allowed); for a bucket, when it is full again. A throttled request's
``Retry-After`` is the same rounding of the time until the refusing limit allows one request
again (for fixed windows, the later window's end when both are full).

A *background client* (``background_rps`` > 0) spends the budget of every key as another client
of the same account would: it sends a request at every multiple of ``1 / background_rps``
seconds of the clock, starting :data:`BACKGROUND_LEAD_S` before the key's first request. Each of
its requests is judged like any other (counted when allowed, dropped when throttled), at its
own time, before the request being judged. :attr:`RateLimiter.background` counts them.

:meth:`RateLimiter.free_at` says when the next request would be allowed, and
:func:`fastest_arrivals` uses it to compute the fastest schedule any client could achieve under
a limiter's own rule (the yardstick of ``bench/apply_throughput.py``).
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "ALGORITHMS",
    "BACKGROUND_LEAD_S",
    "Algorithm",
    "RateDecision",
    "RateLimiter",
    "FixedWindowLimiter",
    "SlidingLogLimiter",
    "TokenBucketLimiter",
    "make_limiter",
    "fastest_arrivals",
    "ConcurrencyGate",
]

Algorithm = Literal["fixed", "sliding", "bucket"]
ALGORITHMS: tuple[Algorithm, ...] = ("fixed", "sliding", "bucket")

#: How long before a key's first request the background client is taken to have started, so
#: that its use of every window is established when the first request is judged.
BACKGROUND_LEAD_S = 120.0

#: Clock readings are floats near 1.7e9, whose resolution is ~2e-7 s; a time computed as a
#: window's end may land that much before it. Times are compared with this much slack.
_EPSILON = 1e-6


@dataclass(frozen=True)
class RateDecision:
    """Outcome of one request against the limiter.

    When ``allowed``: ``limit``/``remaining``/``reset`` are the three header values. Otherwise
    ``retry_after`` is the whole seconds (>= 1) until the refusing limit allows a request again.
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


def _seconds_until(when: float, now: float) -> int:
    return max(1, math.ceil(when - now - _EPSILON))


def _allowed(
    limits: tuple[int, int], left: tuple[int, int], resets: tuple[float, float], now: float
) -> RateDecision:
    """The answer for an allowed request: the binding limit (fewer left; a tie is the minute)."""
    if left[0] < left[1]:
        return RateDecision(True, limits[0], left[0], _seconds_until(resets[0], now))
    return RateDecision(True, limits[1], left[1], _seconds_until(resets[1], now))


@dataclass
class _Background:
    """Where a key's background client is: the index of its next request (time ``k / rps``)."""

    next_index: int
    sent: int = 0
    throttled: int = 0


class RateLimiter:
    """Common part of the limiters: per-key state, locking, the clock and the background client.

    Subclasses implement :meth:`_new`, :meth:`_take` and :meth:`_free`; every time they get is
    non-decreasing per key.
    """

    def __init__(
        self,
        per_second: int,
        per_minute: int,
        clock: Callable[[], float],
        *,
        background_rps: float = 0.0,
    ) -> None:
        """``clock`` returns POSIX seconds (of the server's clock); it is read once per
        :meth:`hit`. ``background_rps``: requests per second of the background client."""
        if per_second < 1 or per_minute < 1:
            raise ValueError("per_second and per_minute must be at least 1")
        if not (math.isfinite(background_rps) and background_rps >= 0):
            raise ValueError("background_rps must be a number of at least 0")
        self.per_second = per_second
        self.per_minute = per_minute
        self._clock = clock
        self._background_rps = background_rps
        self._lock = threading.Lock()
        self._state: dict[Hashable, object] = {}
        self._background: dict[Hashable, _Background] = {}

    def hit(self, key: Hashable) -> RateDecision:
        """Count one request for ``key`` now if the limits have room; say what to answer."""
        return self.hit_at(key, self._clock())

    def hit_at(self, key: Hashable, now: float) -> RateDecision:
        """:meth:`hit` at server time ``now`` (not before any earlier time given for ``key``)."""
        with self._lock:
            state = self._state_of(key, now)
            self._replay_background(key, state, now)
            return self._take(state, now)

    def free_at(self, key: Hashable, now: float) -> float:
        """The earliest time from ``now`` on at which a request for ``key`` would be allowed, if
        no other request (the background client's included) arrived before it."""
        with self._lock:
            state = self._state_of(key, now)
            self._replay_background(key, state, now)
            return max(now, self._free(state, now))

    @property
    def background(self) -> tuple[int, int]:
        """``(counted, throttled)`` requests of the background client, over every key."""
        with self._lock:
            return (
                sum(b.sent for b in self._background.values()),
                sum(b.throttled for b in self._background.values()),
            )

    def _state_of(self, key: Hashable, now: float) -> object:
        state = self._state.get(key)
        if state is None:
            if self._background_rps > 0:  # the key's limits start with the background client
                began = now - BACKGROUND_LEAD_S
                self._background[key] = _Background(math.ceil(began * self._background_rps))
                state = self._state[key] = self._new(began)
            else:
                state = self._state[key] = self._new(now)
        return state

    def _replay_background(self, key: Hashable, state: object, now: float) -> None:
        """Judge every background request due by ``now`` at its own time, in order. One due
        within a rounding error after ``now`` is simultaneous, and goes first (the tie rule
        :func:`fastest_arrivals` relies on, whichever way the floats round)."""
        client = self._background.get(key)
        if client is None:
            return
        rps = self._background_rps
        while client.next_index / rps <= now + _EPSILON:
            if self._take(state, min(client.next_index / rps, now)).allowed:
                client.sent += 1
            else:
                client.throttled += 1
            client.next_index += 1

    def _new(self, now: float) -> object:
        raise NotImplementedError

    def _take(self, state: object, now: float) -> RateDecision:
        raise NotImplementedError

    def _free(self, state: object, now: float) -> float:
        raise NotImplementedError


@dataclass
class _Windows:
    second: int = -1
    second_count: int = 0
    minute: int = -1
    minute_count: int = 0


class FixedWindowLimiter(RateLimiter):
    """Two fixed windows per key (1 s and 60 s), starting ``phase`` seconds after the clock's
    whole seconds and minutes (``0 <= phase < 60``; 0 = aligned to the clock)."""

    def __init__(
        self,
        per_second: int,
        per_minute: int,
        clock: Callable[[], float],
        *,
        phase: float = 0.0,
        background_rps: float = 0.0,
    ) -> None:
        super().__init__(per_second, per_minute, clock, background_rps=background_rps)
        if not (math.isfinite(phase) and 0.0 <= phase < 60.0):
            raise ValueError("phase must be at least 0 and less than 60 seconds")
        self._minute_phase = phase
        self._second_phase = phase % 1.0

    def _new(self, now: float) -> _Windows:
        return _Windows()

    def _ends(self, now: float) -> tuple[int, int, float, float]:
        """Current window numbers and when each window ends."""
        second = math.floor(now - self._second_phase)
        minute = math.floor((now - self._minute_phase) / 60)
        return (
            second,
            minute,
            second + 1 + self._second_phase,
            (minute + 1) * 60 + self._minute_phase,
        )

    def _roll(self, w: _Windows, now: float) -> tuple[float, float]:
        second, minute, second_end, minute_end = self._ends(now)
        if w.second != second:
            w.second, w.second_count = second, 0
        if w.minute != minute:
            w.minute, w.minute_count = minute, 0
        return second_end, minute_end

    def _take(self, state: object, now: float) -> RateDecision:
        assert isinstance(state, _Windows)
        second_end, minute_end = self._roll(state, now)
        if state.minute_count >= self.per_minute:
            return RateDecision(False, retry_after=_seconds_until(minute_end, now))
        if state.second_count >= self.per_second:
            return RateDecision(False, retry_after=_seconds_until(second_end, now))
        state.second_count += 1
        state.minute_count += 1
        return _allowed(
            (self.per_second, self.per_minute),
            (self.per_second - state.second_count, self.per_minute - state.minute_count),
            (second_end, minute_end),
            now,
        )

    def _free(self, state: object, now: float) -> float:
        assert isinstance(state, _Windows)
        second_end, minute_end = self._roll(state, now)
        if state.minute_count >= self.per_minute:
            return minute_end
        if state.second_count >= self.per_second:
            return second_end
        return now


@dataclass
class _Log:
    second: deque[float] = field(default_factory=deque)
    minute: deque[float] = field(default_factory=deque)


class SlidingLogLimiter(RateLimiter):
    """A sliding-window log per key: at most ``per_second`` accepted requests in any 1 s and
    ``per_minute`` in any 60 s (a request at ``t`` counts while ``now < t + window``)."""

    def _new(self, now: float) -> _Log:
        return _Log()

    @staticmethod
    def _expire(log: _Log, now: float) -> None:
        while log.second and log.second[0] + 1.0 <= now:
            log.second.popleft()
        while log.minute and log.minute[0] + 60.0 <= now:
            log.minute.popleft()

    def _take(self, state: object, now: float) -> RateDecision:
        assert isinstance(state, _Log)
        self._expire(state, now)
        second_full = len(state.second) >= self.per_second
        minute_full = len(state.minute) >= self.per_minute
        if second_full or minute_full:
            return RateDecision(False, retry_after=_seconds_until(self._free(state, now), now))
        state.second.append(now)
        state.minute.append(now)
        return _allowed(
            (self.per_second, self.per_minute),
            (self.per_second - len(state.second), self.per_minute - len(state.minute)),
            (state.second[0] + 1.0, state.minute[0] + 60.0),
            now,
        )

    def _free(self, state: object, now: float) -> float:
        assert isinstance(state, _Log)
        self._expire(state, now)
        free = now
        # With n logged and a limit L, the request is allowed once the n - L + 1 oldest left.
        if len(state.second) >= self.per_second:
            free = max(free, state.second[len(state.second) - self.per_second] + 1.0)
        if len(state.minute) >= self.per_minute:
            free = max(free, state.minute[len(state.minute) - self.per_minute] + 60.0)
        return free


@dataclass
class _Buckets:
    at: float
    second: float
    minute: float


class TokenBucketLimiter(RateLimiter):
    """Two token buckets per key: ``per_second`` tokens refilled at ``second_refill`` per second
    and ``per_minute`` tokens refilled at ``minute_refill`` per second (defaults:
    ``per_second`` and ``per_minute / 60``); both start full, a request takes one of each."""

    def __init__(
        self,
        per_second: int,
        per_minute: int,
        clock: Callable[[], float],
        *,
        second_refill: float | None = None,
        minute_refill: float | None = None,
        background_rps: float = 0.0,
    ) -> None:
        super().__init__(per_second, per_minute, clock, background_rps=background_rps)
        self.second_refill = float(per_second) if second_refill is None else second_refill
        self.minute_refill = per_minute / 60.0 if minute_refill is None else minute_refill
        for rate in (self.second_refill, self.minute_refill):
            if not (math.isfinite(rate) and rate > 0):
                raise ValueError("refill rates must be numbers above 0")

    def _new(self, now: float) -> _Buckets:
        return _Buckets(now, float(self.per_second), float(self.per_minute))

    def _refill(self, b: _Buckets, now: float) -> None:
        elapsed = max(0.0, now - b.at)
        b.second = min(float(self.per_second), b.second + elapsed * self.second_refill)
        b.minute = min(float(self.per_minute), b.minute + elapsed * self.minute_refill)
        b.at = max(b.at, now)

    def _take(self, state: object, now: float) -> RateDecision:
        assert isinstance(state, _Buckets)
        self._refill(state, now)
        if state.second < 1.0 - _EPSILON or state.minute < 1.0 - _EPSILON:
            return RateDecision(False, retry_after=_seconds_until(self._free(state, now), now))
        state.second = max(0.0, state.second - 1.0)
        state.minute = max(0.0, state.minute - 1.0)
        full_second = now + (self.per_second - state.second) / self.second_refill
        full_minute = now + (self.per_minute - state.minute) / self.minute_refill
        return _allowed(
            (self.per_second, self.per_minute),
            (math.floor(state.second + _EPSILON), math.floor(state.minute + _EPSILON)),
            (full_second, full_minute),
            now,
        )

    def _free(self, state: object, now: float) -> float:
        assert isinstance(state, _Buckets)
        self._refill(state, now)
        free = now
        if state.second < 1.0 - _EPSILON:
            free = max(free, now + (1.0 - state.second) / self.second_refill)
        if state.minute < 1.0 - _EPSILON:
            free = max(free, now + (1.0 - state.minute) / self.minute_refill)
        return free


def make_limiter(
    algorithm: Algorithm,
    per_second: int,
    per_minute: int,
    clock: Callable[[], float],
    *,
    phase: float = 0.0,
    second_refill: float | None = None,
    minute_refill: float | None = None,
    background_rps: float = 0.0,
) -> RateLimiter:
    """The limiter for ``algorithm``. ``phase`` applies to fixed windows only, the refill rates
    to buckets only: given for another algorithm they are a ``ValueError``."""
    if algorithm != "fixed" and phase:
        raise ValueError("a window phase applies to fixed windows only")
    if algorithm != "bucket" and (second_refill is not None or minute_refill is not None):
        raise ValueError("refill rates apply to the token bucket only")
    if algorithm == "fixed":
        return FixedWindowLimiter(
            per_second, per_minute, clock, phase=phase, background_rps=background_rps
        )
    if algorithm == "sliding":
        return SlidingLogLimiter(per_second, per_minute, clock, background_rps=background_rps)
    if algorithm == "bucket":
        return TokenBucketLimiter(
            per_second,
            per_minute,
            clock,
            second_refill=second_refill,
            minute_refill=minute_refill,
            background_rps=background_rps,
        )
    raise ValueError(f"unknown rate algorithm {algorithm!r}; use one of {', '.join(ALGORITHMS)}")


def fastest_arrivals(
    limiter: RateLimiter, requests: int, start: float, *, within: float = 86_400.0
) -> list[float]:
    """The earliest server times at which ``requests`` requests can all be counted, from
    ``start`` on, by ``limiter``'s own rule (its background client included).

    This is the schedule of a client that knows the server's state exactly and sends each
    request, with no delay, the moment the server would count it; nothing can be faster. It
    drives ``limiter`` (use a fresh one, configured as the server was; its clock is not read)
    through :meth:`RateLimiter.hit_at` and :meth:`RateLimiter.free_at` under the key
    ``"fastest"``. Greedy is optimal: counting a request earlier never delays a later one, and
    a background request it displaces only leaves more room. A background request arriving at
    the very moment a slot frees takes it first.

    ``ValueError`` when the schedule would end more than ``within`` seconds after ``start``
    (a background client that takes every slot as it frees leaves none, ever).
    """
    key = "fastest"
    out: list[float] = []
    now = start
    while len(out) < requests:
        if now - start > within:
            raise ValueError(f"no schedule of {requests} requests within {within:g} s")
        if limiter.hit_at(key, now).allowed:
            out.append(now)
            continue
        # free_at may land a rounding error before the boundary it computed: step past it.
        now = max(limiter.free_at(key, now), now + _EPSILON)
    return out


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
