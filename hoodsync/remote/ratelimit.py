"""Client-side rate limiting: one limiter per account, shared by every request.

The server (Hood: 10 requests per second and 150 per minute per account) counts each request in
the *fixed* 1 s and 60 s windows in which it *arrives*. The client only knows when it *sends*.
:class:`RateLimiter` bridges the two:

* Until it knows where the server's windows start, it keeps the sliding-window rule — never more
  than ``per_second`` sends in any ``1 s + margin`` span nor ``per_minute`` in any
  ``60 s + margin`` span. That is safe against fixed windows of any phase, as long as the
  send-to-arrival delay of two requests differs by less than ``margin``. While the 1 s phase is
  unknown, each burst is split in two halves ``spread`` apart, so the answers say something
  about where the server's boundary lies.
* It learns the phase of each window from the ``X-RateLimit-*`` headers (:meth:`observe`): the
  minute window's ``Reset`` (whole seconds until the window resets) pins its boundary to about a
  second, and the order in which ``Remaining`` counts down across our own requests pins a boundary
  between two of our sends (or at least shows that a window spans a whole burst). Once a
  window's phase is known well enough, that window follows the server's own fixed-window rule
  (in send time, with ``margin`` for jitter), which allows what the server allows: the 151st
  request right after the minute boundary instead of 60 s after the first, and bursts that do
  not drift later by ``margin`` every second. A send whose window is ambiguous (near an
  uncertain boundary) counts in both.
* ``Remaining`` lower than our own sends can explain reveals other clients on the same account
  (another hoodsync process, a person in the UI); those requests are subtracted from the budget.
* :meth:`penalize` (after a 429) blocks every send until ``Retry-After`` has passed, forgets what
  was learnt about window phases (the model was wrong), and halves the share of the limits this
  client allows itself, regained over ``recovery`` seconds (AIMD), so that two processes sharing
  an account settle instead of throttling each other again and again.

What cannot be learnt: the sub-second phase at the very start. ``Reset`` is whole seconds and
the first burst fills the current 1 s window, so nothing can safely be sent into the next one
before it is known to have begun — a client without prior knowledge loses up to one second
against a schedule that knew the phase all along, once per run. Hence the one assumption below.

**Assumption: the server's windows start at whole seconds / minutes of the wall clock.** The
limiter starts from the hypothesis that the server's 1 s window is ``floor(epoch)`` and its 60 s
window ``floor(epoch / 60)`` — what the Hood rate-limit guide describes and what fixed-window
limiters do (they key their counters by the window number computed from the epoch time) — and
that its clock and ours agree within ``skew`` (NTP keeps both within a few milliseconds).
Converting the wall clock (``wall_clock``, POSIX seconds) to the monotonic ``clock``, every
window boundary is then known from the first send, up to ``skew`` and the unknown delay from
send to count, bounded by ``delay`` at first and by the shortest round trip seen once answers
come back. Bursts go out right after each boundary (``skew`` late) and nothing is sent in the
narrow span where a request could be counted in either of two windows (it waits for the later
one instead), so no second is lost at the start.

The hypothesis is only ever a hypothesis. The learning above runs unchanged beside it, and a
send that only the hypothesis allows — one into a window that the answers have not yet shown
to have begun — is a *probe*: only one probe may be unanswered at a time, the rest of the burst
waits for its answer (which, when the hypothesis holds, shows the new window and lets the
learnt model allow the rest; with a round trip under a second this costs no throughput). The
hypothesis is dropped for good — the limiter falling back to everything described above — as
soon as anything contradicts it: a ``Remaining`` count that shows a boundary where it has none,
a 429, a ``Date`` header proving the server's clock more than a second off ours, or the wall
clock jumping against the monotonic one. So when it is wrong the cost is bounded: at most one
request per run, a probe, is answered 429 and retried after ``Retry-After`` (often none: an
answer contradicts it first), and the phase is then learnt as without the hypothesis. That 429
is blamed on the hypothesis, not on another client, so it does not halve the share (see
:meth:`RateLimiter.penalize`).

:func:`fastest_schedule` is the yardstick for benchmarks: the earliest times at which N requests
can be counted under the server's fixed windows given the phase at which a run starts.
:func:`minimum_duration` is the planner's (phase-independent) time estimate.
"""

from __future__ import annotations

import bisect
import email.utils
import enum
import itertools
import logging
import math
import threading
import time
from dataclasses import dataclass, field
from datetime import timezone
from typing import Callable, Mapping, Sequence

__all__ = [
    "MAX_SERVER_WAIT",
    "RateLimiter",
    "WaitTooLong",
    "fastest_schedule",
    "minimum_duration",
]

log = logging.getLogger(__name__)

Clock = Callable[[], float]
Sleep = Callable[[float], None]

#: Sends older than this are forgotten (the longest window plus slack).
_HISTORY_S = 125.0

#: A ``Date`` header proving the server's clock further than this from ours drops the wall-clock
#: hypothesis. Only gross skew: ``Date`` has whole seconds, and it may come from a proxy's clock
#: rather than the rate limiter's.
_DATE_SKEW_S = 1.0

#: Two clock readings taken further apart than this (the thread was descheduled between them) say
#: nothing about the offset between the wall and monotonic clocks.
_READING_GAP_S = 0.002

#: How often a send held back by an unanswered probe looks again (the answer comes from another
#: thread, which does not wake it).
_POLL_S = 0.005

#: Scheduling targets "just after a boundary" are nudged this much later, so that float rounding
#: never places them on the wrong side of it.
_NUDGE_S = 1e-6


#: The longest hoodsync waits because a server said so (``Retry-After``, ``X-RateLimit-Reset``):
#: twice the longest documented window (60 s). A server asking for more is not waited for.
MAX_SERVER_WAIT = 120.0


class WaitTooLong(Exception):
    """:meth:`RateLimiter.acquire` refuses to wait ``seconds`` because the server demanded it
    through ``header`` and that is more than the limiter's ``cap``. Nothing was sent."""

    def __init__(self, header: str, seconds: float, cap: float) -> None:
        self.header = header
        self.seconds = seconds
        self.cap = cap
        super().__init__(
            f"the server asks for a {seconds:.0f} s wait ({header}), more than the "
            f"{cap:g} s hoodsync waits at most"
        )


class _Default(enum.Enum):
    """Sentinel for ``wall_clock``: pick it from ``clock`` (see :class:`RateLimiter`)."""

    WALL = enum.auto()


def minimum_duration(requests: int, per_second: int = 10, per_minute: int = 150) -> float:
    """Seconds from the first send to the last in the fastest schedule the limits allow.

    Counts sliding windows (no more than ``per_second`` sends in any 1 s span and no more than
    ``per_minute`` in any 60 s span), which is what a client that does not know the server's
    window phase can rely on. ``requests <= 1`` takes 0 s.
    """
    if requests <= 1:
        return 0.0
    times: list[float] = []
    for k in range(requests):
        t = 0.0
        if k >= per_second:
            t = max(t, times[k - per_second] + 1.0)
        if k >= per_minute:
            t = max(t, times[k - per_minute] + 60.0)
        times.append(t)
    return times[-1]


def fastest_schedule(
    requests: int,
    phase: float,
    *,
    per_second: int = 10,
    per_minute: int = 150,
    used_second: int = 0,
    used_minute: int = 0,
) -> list[float]:
    """Earliest arrival offsets (seconds from the start) of ``requests`` requests under fixed windows.

    The server counts fixed 1 s windows and 60 s windows whose boundaries coincide (both start
    at whole seconds of its clock). ``phase`` is how far into the current minute window the run
    starts (``0 <= phase < 60``; the position in the current second is ``phase % 1``);
    ``used_second`` / ``used_minute`` are requests already counted in the current windows.
    Greedy is optimal here: send as many as both windows allow as early as possible. The result
    is sorted; its last element is the shortest possible span from the start to the last request.
    """
    if requests <= 0:
        return []
    if not 0.0 <= phase < 60.0:
        raise ValueError("phase must be in [0, 60)")
    out: list[float] = []
    t = 0.0
    second_end = 1.0 - (phase % 1.0)
    minute_end = 60.0 - phase
    second_left = max(per_second - used_second, 0)
    minute_left = max(per_minute - used_minute, 0)
    while len(out) < requests:
        batch = min(second_left, minute_left, requests - len(out))
        out.extend([t] * batch)
        second_left -= batch
        minute_left -= batch
        if len(out) >= requests:
            break
        # Jump to the next boundary of whichever window is exhausted (the minute one if both).
        t = minute_end if minute_left == 0 else second_end
        if t >= minute_end:
            minute_end += 60.0
            minute_left = per_minute
        second_end = t + 1.0
        second_left = per_second
    return out


@dataclass
class _Send:
    """One permit handed out: its sequence number, the time it was granted and, per window size,
    bounds on the start of the server window it was counted in (learnt from its response)."""

    seq: int
    at: float
    starts: dict[float, tuple[float, float]] = field(default_factory=dict)
    #: Allowed only by the wall-clock hypothesis, not by what was learnt (a 429 for it is
    #: blamed on the hypothesis); ``answered`` once its response was observed.
    probe: bool = False
    answered: bool = False


@dataclass
class _Budget:
    """``remaining`` more requests may arrive in a window that ends by ``until`` (send time),
    counting only our sends after ``after_seq``; recorded when other clients share the account."""

    after_seq: int
    until: float
    remaining: int

    def exhausted(self, sends: Sequence[_Send]) -> bool:
        return sum(1 for s in sends if s.seq > self.after_seq) >= self.remaining


#: A window's phase counts as known when sends fit surely inside its windows for this long.
_MIN_SURE_S = 0.02


@dataclass
class _Window:
    """One of the server's fixed windows as the limiter models it.

    ``lo``/``hi`` bound one boundary ``b`` of the window in *send time* (``lo < b <= hi``); the
    others are ``b + k * size``. A send at ``s`` arrives in window ``floor((s + e - b) / size)``
    for a jitter ``0 <= e <= margin``, so it surely lands in window ``k`` when
    ``hi + k * size <= s < lo + (k + 1) * size - margin``. ``foreign`` maps a window index
    (relative to that ``b``) to requests seen there that were not ours.
    """

    size: float
    limit: int
    margin: float
    lo: float | None = None
    hi: float | None = None
    foreign: dict[int, int] = field(default_factory=dict)

    @property
    def known(self) -> bool:
        """The phase is pinned well enough to schedule by the server's own windows."""
        if self.lo is None or self.hi is None:
            return False
        return self.size - (self.hi - self.lo) - self.margin >= _MIN_SURE_S

    def forget(self) -> None:
        self.lo = self.hi = None
        self.foreign.clear()

    def indices(self, s: float) -> range:
        """Window indices a send at ``s`` may be counted in (one, or two near a boundary)."""
        assert self.lo is not None and self.hi is not None
        first = math.floor((s - self.hi) / self.size)
        last = math.floor((s + self.margin - self.lo) / self.size)
        return range(first, max(first, last) + 1)

    def indices_of(self, send: _Send) -> Sequence[int]:
        """Like :meth:`indices`, but using what the send's own response said about its window."""
        assert self.lo is not None and self.hi is not None
        possible = self.indices(send.at)
        start = send.starts.get(self.size)
        if start is None or len(possible) == 1:
            return possible
        lo, hi = start
        fits = [
            k
            for k in possible
            if max(self.lo + k * self.size, lo) <= min(self.hi + k * self.size, hi)
        ]
        return fits or possible

    def learn(self, lo: float, hi: float) -> bool:
        """Combine what is known about the boundary with ``lo < b <= hi`` (modulo ``size``).

        Returns ``False`` when the new bounds contradict what was known (then the new ones are
        kept and the old ones dropped), ``True`` otherwise.
        """
        if hi - lo >= self.size:
            return True  # no information about the phase
        if self.lo is None or self.hi is None:
            self.lo, self.hi = lo, hi
            return True
        base = round(((self.lo + self.hi) - (lo + hi)) / 2.0 / self.size)
        overlaps: list[tuple[float, float]] = []
        for k in (base - 1, base, base + 1):
            shift = k * self.size
            new_lo, new_hi = max(self.lo, lo + shift), min(self.hi, hi + shift)
            if new_lo <= new_hi:
                overlaps.append((new_lo, new_hi))
        if len(overlaps) == 1:
            self.lo, self.hi = overlaps[0]
        elif not overlaps:
            # Contradiction: an earlier inference was wrong (e.g. another client's requests
            # were taken for ours). Trust the newest evidence and start over from it.
            log.debug("rate limit window %.0fs: phase evidence conflicts; relearning", self.size)
            self.foreign.clear()
            shift = base * self.size
            self.lo, self.hi = lo + shift, hi + shift
            return False
        elif hi - lo < self.hi - self.lo:
            # Both wide enough to overlap in two places: keep the narrower, each is valid alone.
            shift = base * self.size
            self.lo, self.hi = lo + shift, hi + shift
            self.foreign.clear()
        return True


@dataclass
class _Hypothesis:
    """The server's windows start at whole seconds / minutes of our wall clock (module doc).

    ``offset`` is ``wall - clock`` when the hypothesis was made; ``delay`` bounds the delay from
    a send to the server counting it (beyond the jitter ``margin``); ``second``/``minute`` are
    the windows as the hypothesis and the evidence together place them. ``skew_lo``/``skew_hi``
    bound the server's clock minus ours, as far as ``Date`` headers tell.
    """

    offset: float
    delay: float
    second: _Window
    minute: _Window
    skew_lo: float = -math.inf
    skew_hi: float = math.inf

    def window(self, size: float) -> _Window:
        return self.second if size == self.second.size else self.minute


class RateLimiter:
    """Thread-safe limiter for one account (or one Falconyte team), shared by reads and writes.

    Contract: :meth:`acquire` blocks until one request may be sent and returns a ticket (the
    send's sequence number); the caller sends immediately, then passes the response headers to
    :meth:`observe` (with the ticket) or, on a 429, calls :meth:`penalize`. Without phase
    knowledge no more than ``per_second`` permits are granted in any ``1 s + margin`` span and
    no more than ``per_minute`` in any ``60 s + margin`` span; with it, no server window receives
    more than its limit provided the send-to-arrival delay varies by less than ``margin``.
    Time comes only from ``clock`` and waiting only from ``sleep`` (inject fakes in tests).

    Every wait is bounded: when what the server demanded (``Retry-After`` through
    :meth:`penalize`, or ``Remaining: 0`` with its ``X-RateLimit-Reset`` through :meth:`observe`)
    would hold a send back more than ``max_wait`` seconds, :meth:`acquire` raises
    :class:`WaitTooLong` at once instead of sleeping. The limiter's own schedule never waits
    longer than a minute window.

    ``wall_clock`` (POSIX seconds, read next to ``clock``) enables the wall-clock hypothesis of
    the module doc: until something contradicts it, the server's windows are taken to start at
    whole seconds / minutes of it, give or take ``skew``, with a send counted at most ``delay``
    (plus ``margin``) after it is made. ``None`` disables the hypothesis. By default it is
    :func:`time.time` when ``clock`` is a real clock (:func:`time.monotonic`,
    :func:`time.perf_counter` or :func:`time.time`) and ``None`` otherwise: a fake ``clock``
    beside the real wall clock would make the hypothesis meaningless.
    """

    def __init__(
        self,
        per_second: int = 10,
        per_minute: int = 150,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
        wall_clock: Clock | None | _Default = _Default.WALL,
        margin: float = 0.03,
        spread: float = 0.1,
        recovery: float = 30.0,
        skew: float = 0.01,
        delay: float = 0.1,
        max_wait: float = MAX_SERVER_WAIT,
    ) -> None:
        if per_second < 1 or per_minute < 1:
            raise ValueError("rate limits must be at least 1")
        if not 0.0 <= margin < 0.25:
            raise ValueError("margin must be in [0, 0.25)")
        if not 0.0 <= spread < 0.5:
            raise ValueError("spread must be in [0, 0.5)")
        if not 0.0 <= skew < 0.1 or not 0.0 <= delay < 0.5:
            raise ValueError("skew must be in [0, 0.1) and delay in [0, 0.5)")
        self.per_second = per_second
        self.per_minute = per_minute
        self.margin = margin
        self.spread = spread
        self.recovery = recovery
        self.max_wait = max_wait
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._second = _Window(1.0, per_second, margin)
        self._minute = _Window(60.0, per_minute, margin)
        self._sends: list[_Send] = []
        self._budgets: list[_Budget] = []
        self._seq = 0
        self._blocked_until = -math.inf
        # Share of the limits this client allows itself: halved on every 429 (someone else is
        # using the account too), then regained linearly over ``recovery`` seconds — the usual
        # additive-increase / multiplicative-decrease way for clients that cannot talk to each
        # other to settle on a fair split without being throttled again and again.
        self._share_base = 1.0
        self._throttled_at = -math.inf
        if wall_clock is _Default.WALL:
            real = clock in (time.monotonic, time.perf_counter, time.time)
            wall_clock = time.time if real else None
        self.skew = skew
        self._wall = wall_clock
        self._hyp = self._make_hypothesis(delay) if wall_clock is not None else None

    def __repr__(self) -> str:
        return f"RateLimiter(per_second={self.per_second}, per_minute={self.per_minute})"

    # ------------------------------------------------------------------ public API

    def acquire(self) -> int:
        """Block until a request may be sent; record it as sent now and return its ticket.
        Raises :class:`WaitTooLong` (having sent nothing) when a server's demand would make the
        wait longer than ``max_wait``."""
        while True:
            with self._lock:
                now = self._clock()
                self._check_wall_clock()
                at, held_by_probe = self._plan(now)
                if at - now > self.max_wait:
                    self._refuse_long_demand(now)
                if at <= now:
                    self._seq += 1
                    self._sends.append(_Send(self._seq, now, probe=self._is_probe(now)))
                    self._prune(now)
                    return self._seq
            wait = at - now
            if held_by_probe:
                wait = min(wait, _POLL_S)  # the probe's answer (another thread) may come first
            self._sleep(max(wait, 0.0005))

    def _refuse_long_demand(self, now: float) -> None:
        """Raise :class:`WaitTooLong` if a server demand holds sends back past ``max_wait``
        (lock held); the limiter's own windows never do."""
        if self._blocked_until - now > self.max_wait:
            raise WaitTooLong("Retry-After", self._blocked_until - now, self.max_wait)
        for budget in self._budgets:
            if budget.until - now > self.max_wait and budget.exhausted(self._sends):
                raise WaitTooLong("X-RateLimit-Reset", budget.until - now, self.max_wait)

    def next_send_time(self) -> float:
        """When the next :meth:`acquire` would return if nothing else happened (clock time)."""
        with self._lock:
            now = self._clock()
            return max(self._earliest(now), now)

    def observe(self, headers: Mapping[str, str], ticket: int | None = None) -> None:
        """Learn from a non-throttled response's ``X-RateLimit-Limit/Remaining/Reset`` headers.

        ``headers`` is case-insensitive or lower-case. The server reports its *binding* window
        (the one with fewer requests remaining). ``ticket`` ties the report to the send it
        answers; without it only the reported limit is used. Missing or malformed headers are
        ignored. The round trip and the ``Date`` header (if any) test the wall-clock hypothesis.
        """
        limit = _int_header(headers, "x-ratelimit-limit")
        remaining = _int_header(headers, "x-ratelimit-remaining")
        reset = _int_header(headers, "x-ratelimit-reset")
        date = _date_header(headers)
        with self._lock:
            index = self._index_of(ticket)
            if index is not None:
                self._sends[index].answered = True
                self._check_answer(self._sends[index], date)
            if limit is None or remaining is None or reset is None or limit < 1:
                return
            window = self._classify(limit, reset)
            for same in self._all_windows(window.size):
                if limit < same.limit:
                    same.limit = limit  # the server's word wins over a too generous setting
            if index is None:
                return
            self._learn(window.size, index, max(limit - remaining, 0), reset)

    def penalize(self, retry_after: float, ticket: int | None = None) -> None:
        """After a 429: send nothing for ``retry_after`` seconds; the throttled request (``ticket``)
        was not counted by the server. Forgets learnt window phases and drops the wall-clock
        hypothesis (the model was wrong). Halves the share of the limits, unless the throttled
        request was a probe of the hypothesis: then the hypothesis, not another client, is the
        culprit, and it is gone now."""
        with self._lock:
            now = self._clock()
            self._blocked_until = max(self._blocked_until, now + max(retry_after, 0.0))
            index = self._index_of(ticket)
            blame_hypothesis = index is not None and self._sends[index].probe
            self._drop_hypothesis("a request was throttled")
            if not blame_hypothesis and now - self._throttled_at >= self._second.size:
                # One halving per throttling episode: the other throttled requests of the same
                # burst say nothing new.
                self._share_base = max(self._share(now) / 2.0, 0.05)
                self._throttled_at = now
            if index is not None:
                del self._sends[index]
            self._second.forget()
            self._minute.forget()

    def discard(self, ticket: int) -> None:
        """Forget a permit whose request never reached the server (e.g. the connection was refused)."""
        with self._lock:
            index = self._index_of(ticket)
            if index is not None:
                del self._sends[index]

    def phase(self) -> dict[str, tuple[float, float] | None]:
        """What is known about each window's boundary in clock time (for logs and tests): the
        bounds used for scheduling, i.e. including the wall-clock hypothesis while it holds."""
        with self._lock:
            second, minute = self._windows()
            return {"second": _bounds(second), "minute": _bounds(minute)}

    @property
    def wall_aligned(self) -> bool:
        """Whether the wall-clock hypothesis is (still) in force."""
        with self._lock:
            return self._hyp is not None

    # ------------------------------------------------------------------ wall-clock hypothesis

    def _make_hypothesis(self, delay: float) -> _Hypothesis | None:
        offset = None
        for _ in range(5):  # a reading may be interrupted; a few tries find a clean one
            offset = self._clock_offset()
            if offset is not None:
                break
        if offset is None:
            log.info("rate limit windows: could not relate the wall clock to the monotonic one")
            return None
        hyp = _Hypothesis(
            offset,
            delay,
            _Window(1.0, self.per_second, self.margin),
            _Window(60.0, self.per_minute, self.margin),
        )
        for window in (hyp.second, hyp.minute):
            window.learn(*self._prior(hyp, window.size))
        return hyp

    def _clock_offset(self) -> float | None:
        """``wall - clock`` now, or ``None`` if the readings were too far apart to tell."""
        assert self._wall is not None
        before = self._clock()
        wall = self._wall()
        after = self._clock()
        if after - before > _READING_GAP_S:
            return None
        return wall - (before + after) / 2.0

    def _prior(self, hyp: _Hypothesis, size: float) -> tuple[float, float]:
        """Bounds ``lo < b <= hi`` (clock time) on a boundary of the server's ``size`` window
        under the hypothesis: a whole multiple of ``size`` of the server's clock, which is ours
        within ``skew``, moved earlier by the delay from send to count (``<= hyp.delay``)."""
        now = self._clock()
        boundary = math.ceil((now + hyp.offset) / size) * size - hyp.offset
        return boundary - self.skew - hyp.delay, boundary + self.skew

    def _drop_hypothesis(self, why: str) -> None:
        """Stop assuming wall-clock windows; the evidence-only model takes over (lock held)."""
        if self._hyp is None:
            return
        log.info("rate limit windows: no longer assuming they follow the wall clock (%s)", why)
        self._hyp = None

    def _check_wall_clock(self) -> None:
        """Drop the hypothesis if the wall clock jumped against ``clock`` (lock held): the
        windows were placed with the old offset."""
        if self._hyp is None:
            return
        offset = self._clock_offset()
        if offset is not None and abs(offset - self._hyp.offset) > self.skew:
            self._drop_hypothesis(f"the wall clock moved by {offset - self._hyp.offset:+.3f} s")

    def _check_answer(self, send: _Send, date: float | None) -> None:
        """What one answer says about the hypothesis (lock held).

        The round trip bounds the delay from send to count (the server counts a request before
        answering it), which narrows the boundaries' bounds. ``Date`` is the server's clock,
        truncated to the second, some time between our send and now: it bounds the server's clock
        minus ours, and a proven difference beyond ``_DATE_SKEW_S`` drops the hypothesis.
        """
        hyp = self._hyp
        if hyp is None:
            return
        now = self._clock()
        round_trip = max(now - send.at, 0.0)
        if round_trip < hyp.delay - 0.001:
            hyp.delay = round_trip
            for window in (hyp.second, hyp.minute):
                if not window.learn(*self._prior(hyp, window.size)):
                    self._drop_hypothesis("its own bounds conflict")  # cannot happen, but be safe
                    return
        if date is None:
            return
        hyp.skew_lo = max(hyp.skew_lo, date - (now + hyp.offset))
        hyp.skew_hi = min(hyp.skew_hi, date + 1.0 - (send.at + hyp.offset))
        if hyp.skew_lo > _DATE_SKEW_S or hyp.skew_hi < -_DATE_SKEW_S:
            self._drop_hypothesis(
                f"Date headers put the server's clock {hyp.skew_lo:+.1f}..{hyp.skew_hi:+.1f} s"
                " from ours"
            )

    def _windows(self) -> tuple[_Window, _Window]:
        """The (second, minute) windows to schedule by (lock held)."""
        if self._hyp is not None:
            return self._hyp.second, self._hyp.minute
        return self._second, self._minute

    def _all_windows(self, size: float) -> list[_Window]:
        """Every model of the ``size`` window: the evidence-only one and the hypothesis' one."""
        evidence = self._second if size == self._second.size else self._minute
        if self._hyp is None:
            return [evidence]
        return [evidence, self._hyp.window(size)]

    # ------------------------------------------------------------------ scheduling

    def _earliest(self, now: float) -> float:
        """Earliest time >= now at which one more send breaks no rule (lock held)."""
        return self._plan(now)[0]

    def _plan(self, now: float) -> tuple[float, bool]:
        """``(earliest send time >= now, whether an unanswered probe holds it back)`` (lock held).

        Without the hypothesis: today's rules on the learnt windows. With it: the hypothesis'
        windows say when; a send they allow but the learnt windows alone would not (one going
        into a window only the hypothesis says has begun) is a *probe*, and only one probe may
        be unanswered at a time. If the hypothesis is wrong, that one probe is answered 429 (and
        the hypothesis dropped); if it is right, its answer shows the new window began, and the
        learnt model then allows the rest.
        """
        at = max(now, self._blocked_until)
        evidence = (self._second, self._minute)
        if self._hyp is None:
            return self._fixpoint(at, evidence, spread=True), False
        at = self._fixpoint(at, (self._hyp.second, self._hyp.minute), spread=False)
        if not self._is_probe(at) or not self._probe_pending(at):
            return at, False
        return self._fixpoint(at, evidence, spread=False), True

    def _fixpoint(self, at: float, windows: Sequence[_Window], *, spread: bool) -> float:
        """Earliest time >= ``at`` that breaks none of the rules of ``windows`` (nor the budgets of
        other clients); ``spread`` splits bursts while a phase is unknown (learning, not safety)."""
        for _ in range(64):
            before = at
            for window in windows:
                at = self._window_earliest(window, at, spread=spread)
            at = self._budget_earliest(at)
            if at == before:
                return at
        return at

    def _is_probe(self, at: float) -> bool:
        """A send at ``at`` would be allowed only by the hypothesis, not by the learnt model."""
        if self._hyp is None:
            return False
        return self._fixpoint(at, (self._second, self._minute), spread=False) > at

    def _probe_pending(self, now: float) -> bool:
        """A probe is still unanswered. One sent more than a second ago is no longer waited for
        (its answer may never come, e.g. after a timeout): its 1 s window is over by then."""
        for send in reversed(self._sends):
            if send.at <= now - self._second.size:
                return False
            if send.probe and not send.answered:
                return True
        return False

    def _share(self, at: float) -> float:
        if self._share_base >= 1.0:
            return 1.0
        regained = (at - self._throttled_at) / self.recovery if self.recovery > 0 else 1.0
        return min(1.0, self._share_base + max(regained, 0.0))

    def _limit(self, window: _Window, at: float) -> int:
        """The window's limit scaled by the share this client currently allows itself."""
        return max(1, math.floor(window.limit * self._share(at) + 1e-9))

    def _window_earliest(self, window: _Window, at: float, *, spread: bool) -> float:
        if window.known:
            return self._fixed_earliest(window, at)
        limit = self._limit(window, at)
        at = self._sliding_earliest(limit, window.size + self.margin, at)
        if spread and window.size == self._second.size and self.spread > 0 and limit > 1:
            # While the phase is unknown, split each burst in two halves ``spread`` apart: the
            # responses then show on which side of a server boundary each half landed, and
            # even when none falls between them the window is known to span the whole burst.
            # That pins the phase enough to schedule by the server's windows from the second
            # burst on (no margin accumulating from burst to burst).
            at = self._sliding_earliest((limit + 1) // 2, self.spread, at)
        return at

    def _sliding_earliest(self, limit: int, span: float, at: float) -> float:
        """No more than ``limit`` sends in any ``span``."""
        recent = [s.at for s in self._sends if s.at > at - span]
        allowed = limit - 1
        if len(recent) <= allowed:
            return at
        # The oldest sends must leave the span: wait until the (len - allowed)-th oldest is out.
        return recent[len(recent) - allowed - 1] + span

    def _fixed_earliest(self, window: _Window, at: float) -> float:
        """No server window (as far as we can place it) receives more than ``limit``."""
        assert window.hi is not None
        limit = self._limit(window, at)
        ks = window.indices(at)
        if self._hyp is not None and len(ks) > 1 and self._hyp.window(window.size) is window:
            # Under the hypothesis the span where a send may count in either of two windows is
            # narrow (skew + delay + margin): rather than charge a send to both, wait for the
            # later window to have surely begun. A burst then fills one whole window, which is
            # what a schedule knowing the phase exactly would do from that point on.
            return max(at, window.hi + ks[-1] * window.size + _NUDGE_S)
        for k in ks:
            used = window.foreign.get(k, 0) + self._count_in(window, k)
            if used + 1 > limit:
                return max(at, window.hi + (k + 1) * window.size)
        return at

    def _count_in(self, window: _Window, k: int) -> int:
        """Our sends that may have been counted in ``window``'s window ``k``: only those sent in
        ``[lo + k * size - margin, hi + (k + 1) * size)`` can be (``_sends`` is in time order)."""
        assert window.lo is not None and window.hi is not None
        start = window.lo + k * window.size - window.margin - _NUDGE_S
        end = window.hi + (k + 1) * window.size
        surely_from = window.hi + k * window.size
        surely_until = window.lo + (k + 1) * window.size - window.margin
        first = bisect.bisect_left(self._sends, start, key=lambda s: s.at)
        count = 0
        for send in itertools.islice(self._sends, first, None):
            if send.at >= end:
                break
            if surely_from <= send.at < surely_until or k in window.indices_of(send):
                count += 1
        return count

    def _budget_earliest(self, at: float) -> float:
        for budget in self._budgets:
            if at >= budget.until:
                continue
            if budget.exhausted(self._sends):
                at = budget.until
        return at

    def _prune(self, now: float) -> None:
        horizon = now - _HISTORY_S
        if self._sends and self._sends[0].at < horizon:
            self._sends = [s for s in self._sends if s.at >= horizon]
        self._budgets = [b for b in self._budgets if b.until > now]
        windows = [self._second, self._minute]
        if self._hyp is not None:
            windows += [self._hyp.second, self._hyp.minute]
        for window in windows:
            if window.known and window.foreign:
                current = window.indices(now)[0]
                for k in [k for k in window.foreign if k < current - 1]:
                    del window.foreign[k]

    # ------------------------------------------------------------------ learning

    def _classify(self, limit: int, reset: int) -> _Window:
        """Which window a report describes: by its limit, else by how far away its reset is."""
        if limit == self._minute.limit and limit != self._second.limit:
            return self._minute
        if limit == self._second.limit and limit != self._minute.limit:
            return self._second
        return self._minute if reset > 1 else self._second

    def _index_of(self, ticket: int | None) -> int | None:
        if ticket is None:
            return None
        for i in range(len(self._sends) - 1, -1, -1):
            if self._sends[i].seq == ticket:
                return i
            if self._sends[i].seq < ticket:
                break
        return None

    def _learn(self, size: float, index: int, counted: int, reset: int) -> None:
        """Use "request ``index`` was the ``counted``-th in its window, which resets in ``reset`` s".

        Bounds on the start ``b`` of the window the request was counted in (send time):
        * it arrived inside the window: ``sent - size < b <= sent + margin``;
        * ``Reset`` is whole seconds (rounded up) from the arrival to the window's end:
          ``sent + reset - 1 - size < b <= sent + reset + margin - size``;
        * ``counted`` says how many requests the window had by then. If our own sends can
          explain that number, the window began between two of our sends: after the
          ``counted``-th latest send that surely arrived earlier, and no later than the
          ``counted``-th latest possible arrival. Sends less than ``margin`` apart may arrive in
          either order, so the bounds hold for every order the jitter allows.

        Sends that surely arrived before that start — every one surely before this send when it
        was the first in its window, else those ``margin`` before the lower bound — were counted
        in an earlier window, whose start is at most ``hi - size``: recorded on them, so that
        they are not also charged to this window when the boundary is only loosely known.
        """
        send = self._sends[index]
        sent = send.at
        m = self.margin
        lo, hi = sent - size, sent + m
        if reset >= 1:
            lo = max(lo, sent + reset - 1.0 - size)
            hi = min(hi, sent + reset + m - size)
        # Our sends that may have arrived in the window no later than this one.
        maybe_before = [s.at for s in self._sends if sent - size - m < s.at <= sent + m]
        if counted > len(maybe_before):
            # Someone else used this window: honour the server's count from here on.
            remaining = max(self._all_windows(size)[0].limit - counted, 0)
            self._budgets.append(_Budget(send.seq, sent + reset + m, remaining))
            for window in self._all_windows(size):
                self._record_foreign(window, index, counted)
        elif counted >= 1:
            latest = sorted((t + m for t in maybe_before), reverse=True)
            hi = min(hi, latest[counted - 1])
            surely_before = sorted(
                (s.at for s in self._sends if s.seq != send.seq and s.at < sent - m), reverse=True
            )
            if len(surely_before) >= counted:
                lo = max(lo, surely_before[counted - 1])
            before = sent - m if counted == 1 else lo - m
            for earlier in self._sends:
                if sent - size - m < earlier.at < before and earlier.seq != send.seq:
                    _cap_start(earlier, size, hi - size, m)
        if lo < hi:
            send.starts[size] = (lo, hi)
            evidence, *hypothesis = self._all_windows(size)
            evidence.learn(lo, hi)
            if hypothesis and not hypothesis[0].learn(lo, hi):
                # "Remaining" shows a boundary where the hypothesis has none (or the reverse).
                self._drop_hypothesis(f"an answer places the {size:.0f} s window elsewhere")

    def _record_foreign(self, window: _Window, index: int, counted: int) -> None:
        """Requests of others in the window of send ``index``, if ``window`` can place it."""
        send = self._sends[index]
        if not window.known:
            return
        ks = window.indices_of(send)
        if len(ks) != 1:
            return
        k = ks[0]
        own = sum(
            1 for s in self._sends if s.at <= send.at + self.margin and k in window.indices_of(s)
        )
        extra = counted - own
        if extra > window.foreign.get(k, 0):
            window.foreign[k] = extra


def _cap_start(send: _Send, size: float, at_most: float, margin: float) -> None:
    """Record that ``send`` was counted in a ``size`` window starting no later than ``at_most``."""
    lo, hi = send.starts.get(size, (send.at - size, send.at + margin))
    hi = min(hi, at_most)
    if lo < hi:
        send.starts[size] = (lo, hi)


def _bounds(window: _Window) -> tuple[float, float] | None:
    if window.lo is None or window.hi is None:
        return None
    return (window.lo, window.hi)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    raw = headers.get(name)
    if raw is None:
        raw = headers.get(name.title())
    return None if raw is None else str(raw).strip()


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    raw = _header(headers, name)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        return None


def _date_header(headers: Mapping[str, str]) -> float | None:
    """The HTTP ``Date`` header as POSIX seconds (``None`` if absent or malformed)."""
    raw = _header(headers, "date")
    if not raw:
        return None
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)  # "-0000": UTC, origin unknown
    return when.timestamp()
