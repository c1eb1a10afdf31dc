"""The wall-clock hypothesis: the server's windows start at whole epoch seconds and minutes.

What cannot be learnt from answers: the sub-second phase at the very start. ``Reset`` is whole
seconds and the first burst fills the current 1 s window, so nothing can safely be sent into the
next one before it is known to have begun — a client without prior knowledge loses up to one
second against a schedule that knew the phase all along, once per run. Hence one assumption,
used only where nothing better exists: against a server that sends no ``X-RateLimit-*``
headers. Testing it costs a probe that a server with other windows throttles, so the first
answer that reports limits ends it (the limiter then learns from what the server says).

**Assumption: the server's windows start at whole seconds / minutes of the wall clock.** The
limiter starts from the hypothesis that the server's 1 s window is ``floor(epoch)`` and its 60 s
window ``floor(epoch / 60)`` — what the Hood rate-limit guide describes and what fixed-window
limiters do (they key their counters by the window number computed from the epoch time) — and
that its clock and ours agree within ``skew`` (NTP keeps both within a few milliseconds).
Converting the wall clock (``wall``, POSIX seconds) to the monotonic ``clock``, every window
boundary is then known from the first send, up to ``skew`` and the unknown delay from send to
count, bounded by ``delay`` at first and by the shortest round trip seen once answers come back
(:meth:`WallClockHypothesis.check_answer`). Bursts go out right after each boundary (``skew``
late) and nothing is sent in the narrow span where a request could be counted in either of two
windows (it waits for the later one instead), so no second is lost at the start.

The hypothesis is only ever a hypothesis. The learning of :mod:`.windows` runs unchanged beside
it, and a send that only the hypothesis allows — one into a window that the answers have not yet
shown to have begun — is a *probe*: only one probe may be unanswered at a time
(:func:`unanswered_probe`), the rest of the burst waits for its answer (which, when the
hypothesis holds, shows the new window and lets the learnt model allow the rest; with a round
trip under a second this costs no throughput). The hypothesis is dropped for good — the limiter
falling back to learning alone — as soon as anything contradicts it: a ``Remaining`` count that
shows a boundary where it has none, a 429, a ``Date`` header proving the server's clock more
than a second off ours (:meth:`~WallClockHypothesis.check_answer`), or the wall clock jumping
against the monotonic one (:meth:`~WallClockHypothesis.check_wall_clock`). So when it is wrong
the cost is bounded: at most one request per run, a probe, is answered 429 and retried after
``Retry-After`` (often none: an answer contradicts it first), and the phase is then learnt as
without the hypothesis. That 429 is blamed on the hypothesis, not on another client, so it does
not halve the limiter's share.
"""

from __future__ import annotations

import email.utils
import logging
import math
from collections.abc import Callable, Sequence
from datetime import UTC

from hoodsync.remote.ratelimit.windows import Caps, Send, Window

__all__ = ["WallClockHypothesis", "parse_http_date", "unanswered_probe"]

log = logging.getLogger(__name__)

Clock = Callable[[], float]

#: A ``Date`` header proving the server's clock further than this from ours drops the wall-clock
#: hypothesis. Only gross skew: ``Date`` has whole seconds, and it may come from a proxy's clock
#: rather than the rate limiter's.
_DATE_SKEW_S = 1.0

#: Two clock readings taken further apart than this (the thread was descheduled between them) say
#: nothing about the offset between the wall and monotonic clocks.
_READING_GAP_S = 0.002


class WallClockHypothesis:
    """The server's windows as the hypothesis places them, and the evidence that tests it.

    ``offset`` is ``wall - clock`` when the hypothesis was made; ``delay`` bounds the delay from
    a send to the server counting it (beyond the jitter ``margin``); :attr:`second` and
    :attr:`minute` are the windows as the hypothesis and the evidence together place them.
    ``skew_lo``/``skew_hi`` bound the server's clock minus ours, as far as ``Date`` headers tell.
    Not thread-safe: the limiter calls it with its lock held.
    """

    def __init__(
        self,
        clock: Clock,
        wall: Clock,
        offset: float,
        *,
        delay: float,
        skew: float,
        second: Window,
        minute: Window,
    ) -> None:
        self._clock = clock
        self._wall = wall
        self.offset = offset
        self.delay = delay
        self.skew = skew
        self.second = second
        self.minute = minute
        self.skew_lo = -math.inf
        self.skew_hi = math.inf
        for window in (second, minute):
            window.learn(*self.prior(window.size))

    @classmethod
    def make(
        cls,
        clock: Clock,
        wall: Clock,
        *,
        limits: tuple[int, int],
        margin: float,
        skew: float,
        delay: float,
        caps: tuple[Caps, Caps],
    ) -> WallClockHypothesis | None:
        """The hypothesis for a limiter with ``limits`` (per second, per minute), its windows
        sharing the limiter's ``caps`` (1 s, 60 s: facts about sends), or ``None``
        when the wall clock cannot be related to ``clock`` (the readings kept being
        interrupted)."""
        offset = None
        for _ in range(5):  # a reading may be interrupted; a few tries find a clean one
            offset = clock_offset(clock, wall)
            if offset is not None:
                break
        if offset is None:
            log.info("rate limit windows: could not relate the wall clock to the monotonic one")
            return None
        per_second, per_minute = limits
        return cls(
            clock,
            wall,
            offset,
            delay=delay,
            skew=skew,
            second=Window(1.0, per_second, margin, caps=caps[0]),
            minute=Window(60.0, per_minute, margin, caps=caps[1]),
        )

    def window(self, size: float) -> Window:
        return self.second if size == self.second.size else self.minute

    def prior(self, size: float) -> tuple[float, float]:
        """Bounds ``lo < b <= hi`` (clock time) on a boundary of the server's ``size`` window
        under the hypothesis: a whole multiple of ``size`` of the server's clock, which is ours
        within ``skew``, moved earlier by the delay from send to count (``<= delay``)."""
        now = self._clock()
        boundary = math.ceil((now + self.offset) / size) * size - self.offset
        return boundary - self.skew - self.delay, boundary + self.skew

    def check_wall_clock(self) -> str | None:
        """Why the hypothesis no longer holds if the wall clock jumped against ``clock`` (the
        windows were placed with the old offset), else ``None``."""
        offset = clock_offset(self._clock, self._wall)
        if offset is not None and abs(offset - self.offset) > self.skew:
            return f"the wall clock moved by {offset - self.offset:+.3f} s"
        return None

    def check_answer(self, send: Send, date: float | None) -> str | None:
        """What the answer to ``send`` says: why the hypothesis no longer holds, or ``None``.

        The round trip bounds the delay from send to count (the server counts a request before
        answering it), which narrows the boundaries' bounds. ``date`` (the ``Date`` header, POSIX
        seconds) is the server's clock, truncated to the second, some time between our send and
        now: it bounds the server's clock minus ours, and a proven difference beyond
        ``_DATE_SKEW_S`` contradicts the hypothesis.
        """
        now = self._clock()
        round_trip = max(now - send.at, 0.0)
        if round_trip < self.delay - 0.001:
            self.delay = round_trip
            for window in (self.second, self.minute):
                if not window.learn(*self.prior(window.size)):
                    return "its own bounds conflict"  # cannot happen, but be safe
        if date is None:
            return None
        self.skew_lo = max(self.skew_lo, date - (now + self.offset))
        self.skew_hi = min(self.skew_hi, date + 1.0 - (send.at + self.offset))
        if self.skew_lo > _DATE_SKEW_S or self.skew_hi < -_DATE_SKEW_S:
            return (
                f"Date headers put the server's clock {self.skew_lo:+.1f}..{self.skew_hi:+.1f} s"
                " from ours"
            )
        return None


def clock_offset(clock: Clock, wall: Clock) -> float | None:
    """``wall - clock`` now, or ``None`` if the readings were too far apart to tell."""
    before = clock()
    reading = wall()
    after = clock()
    if after - before > _READING_GAP_S:
        return None
    return reading - (before + after) / 2.0


def unanswered_probe(sends: Sequence[Send], now: float, size: float = 1.0) -> Send | None:
    """The newest probe still waited for (``sends`` in time order), or ``None``. A probe sent
    ``size`` seconds (the 1 s window) ago or more is no longer waited for: its answer may never
    come (e.g. after a timeout), and its window is over by then."""
    for send in reversed(sends):
        if send.at <= now - size:
            return None
        if send.probe and not send.answered:
            return send
    return None


def parse_http_date(raw: str | None) -> float | None:
    """An HTTP ``Date`` header as POSIX seconds (``None`` if absent or malformed)."""
    if not raw:
        return None
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)  # "-0000": UTC, origin unknown
    return when.timestamp()
