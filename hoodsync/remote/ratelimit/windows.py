"""The server's fixed windows as the limiter models them, and what its answers teach about them.

The server counts each request in the *fixed* 1 s and 60 s windows in which it *arrives*; the
client only knows when it *sends*. A :class:`Window` holds what is known about where one window
size's boundaries lie, in send time, and :func:`learn_from_report` narrows it from one answer:

* the minute window's ``X-RateLimit-Reset`` (whole seconds until the window resets) pins its
  boundary to about a second;
* the order in which ``X-RateLimit-Remaining`` counts down across our own requests pins a
  boundary between two of our sends (or at least shows that a window spans a whole burst);
* ``Remaining`` lower than our own sends can explain reveals other clients on the same account
  (another hoodsync process, a person in the UI): their requests are recorded per window
  (:attr:`Window.foreign`) and as a :class:`Budget` that our later sends must stay within.

Once a window's phase is :attr:`~Window.known` well enough, the limiter schedules by the server's
own fixed-window rule (:func:`hoodsync.remote.ratelimit.schedule.fixed_earliest`). A send near an
uncertain boundary may have been counted in either of two windows (:meth:`Window.indices`); what
its own answer said about its window (:attr:`Send.starts`) settles that where it can.

Everything here is bookkeeping on plain data, called with the limiter's lock held; nothing reads
a clock or waits.
"""

from __future__ import annotations

import bisect
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = [
    "NUDGE_S",
    "Budget",
    "Caps",
    "Send",
    "Window",
    "count_in",
    "forgets_own_sends",
    "sends_after",
    "learn_from_report",
]

log = logging.getLogger(__name__)

#: Scheduling targets "just after a boundary" are nudged this much later, so that float rounding
#: never places them on the wrong side of it.
NUDGE_S = 1e-6

#: Another client's expected requests below this fraction of one are taken as none: a burst
#: right after an answer (a round trip of milliseconds) takes what it showed was left.
PACE_SLACK = 0.02

#: A window's phase counts as known when sends fit surely inside its windows for this long.
_MIN_SURE_S = 0.02


@dataclass
class Send:
    """One permit handed out: its sequence number, the time it was granted and, per window size,
    bounds on the start of the server window it was counted in (learnt from its response)."""

    seq: int
    at: float
    starts: dict[float, tuple[float, float]] = field(default_factory=dict)
    #: Allowed only by the wall-clock hypothesis, not by what was learnt (a 429 for it is
    #: blamed on the hypothesis); ``answered`` once its response was observed.
    probe: bool = False
    answered: bool = False
    #: Its place in its 1 s window (``X-RateLimit-Limit`` minus ``Remaining``), once answered.
    counted: int | None = None


@dataclass
class Budget:
    """``remaining`` more requests may arrive in a window that ends by ``until`` (send time),
    counting only our sends after ``after_seq``; recorded when other clients share the account."""

    after_seq: int
    until: float
    remaining: int
    #: When ``remaining`` was counted (send time), and how many requests per second the other
    #: clients were seen to spend: they keep spending the budget until the window ends.
    at: float = 0.0
    rate: float = 0.0
    #: Requests of other clients the count showed (at least), in the window of the report.
    foreign: int = 0
    #: The size of the window it was learnt in.
    size: float = 0.0

    def exhausted(self, sends: Sequence[Send], now: float | None = None) -> bool:
        """Our sends after ``after_seq`` (``sends`` in order of ``seq``), plus what the other
        clients will have spent by ``now`` at their pace, use it all up."""
        after = sends_after(sends, self.after_seq)
        theirs = 0
        if now is not None and self.rate > 0.0:
            theirs = math.ceil(self.rate * max(now - self.at, 0.0) - PACE_SLACK)
        return after + theirs >= self.remaining


def sends_after(sends: Sequence[Send], seq: int) -> int:
    """How many of ``sends`` (in order of ``seq``) came after the send numbered ``seq``."""
    return len(sends) - bisect.bisect_right(sends, seq, key=_send_seq)


def _send_seq(send: Send) -> int:
    return send.seq


def _send_time(send: Send) -> float:
    return send.at


@dataclass
class Caps:
    """What answers taught about the windows of *earlier* sends, for one window size: every
    send before ``befores[i]`` (send time) was counted in a window that started no later than
    ``at_mosts[i]`` (:func:`learn_from_report`). One entry per answer, not one per send it
    speaks of: at high limits an answer speaks of hundreds of sends, and writing each would
    make the limiter's cost per send grow with the limits.

    Only entries no other implies are kept (an entry for later sends with a tighter bound
    implies one for earlier sends with a looser one), so both lists ascend: a lookup is two
    bisections and adding an entry is amortised constant work.
    """

    befores: list[float] = field(default_factory=list)
    at_mosts: list[float] = field(default_factory=list)

    def add(self, before: float, at_most: float) -> None:
        """Record: every send before ``before`` was counted in a window starting by ``at_most``."""
        i = bisect.bisect_left(self.befores, before)
        if i < len(self.befores) and self.at_mosts[i] <= at_most:
            return  # an entry for at least these sends bounds them as tightly already
        k = bisect.bisect_right(self.befores, before)
        j = bisect.bisect_left(self.at_mosts, at_most, 0, k)
        del self.befores[j:k], self.at_mosts[j:k]  # the entries the new one implies
        self.befores.insert(j, before)
        self.at_mosts.insert(j, at_most)

    def bound(self, at: float, above: float) -> float | None:
        """The tightest recorded bound above ``above`` on the start of the window in which a
        send at ``at`` was counted (``None``: none). Bounds not above ``above`` contradict
        what is known of that send and are ignored."""
        i = bisect.bisect_right(self.befores, at)
        j = bisect.bisect_right(self.at_mosts, above, i)
        return self.at_mosts[j] if j < len(self.at_mosts) else None

    def forget_before(self, at: float) -> None:
        """Drop the entries that speak only of sends before ``at`` (forgotten ones)."""
        i = bisect.bisect_left(self.befores, at)
        if i:
            del self.befores[:i], self.at_mosts[:i]


@dataclass
class Window:
    """One of the server's fixed windows as the limiter models it.

    ``lo``/``hi`` bound one boundary ``b`` of the window in *send time* (``lo < b <= hi``); the
    others are ``b + k * size``. A send at ``s`` arrives in window ``floor((s + e - b) / size)``
    for a jitter ``0 <= e <= margin``, so it surely lands in window ``k`` when
    ``hi + k * size <= s < lo + (k + 1) * size - margin``. ``foreign`` maps a window index
    (relative to that ``b``) to requests seen there that were not ours. ``caps`` is shared by
    every model of the same window size (facts about sends, not about the phase).
    """

    size: float
    limit: int
    margin: float
    lo: float | None = None
    hi: float | None = None
    foreign: dict[int, int] = field(default_factory=dict)
    caps: Caps = field(default_factory=Caps)

    @property
    def known(self) -> bool:
        """The phase is pinned well enough to schedule by the server's own windows."""
        if self.lo is None or self.hi is None:
            return False
        return self.size - (self.hi - self.lo) - self.margin >= _MIN_SURE_S

    @property
    def bounds(self) -> tuple[float, float] | None:
        """``(lo, hi)``, or ``None`` while nothing is known about the phase."""
        if self.lo is None or self.hi is None:
            return None
        return (self.lo, self.hi)

    def foreign_in(self, k: int) -> int:
        """Requests of others counted (or, for a window not seen yet, expected) in window
        ``k``. Another client on the account keeps its pace from second to second, so a 1 s
        window not seen yet expects what the one before it had; a minute is not predicted from
        the last (a client may have spent it all before this one began)."""
        seen = self.foreign.get(k)
        if seen is not None:
            return seen
        if self.size <= 1.0:
            return self.foreign.get(k - 1, 0)
        return 0

    def widen(self, delta: float) -> None:
        """The margin grew by ``delta``: what was deduced with the narrower one still holds
        with bounds ``delta`` wider on each side (a send may have arrived that much later)."""
        if self.lo is not None and self.hi is not None:
            self.lo -= delta
            self.hi += delta
            if self.hi - self.lo >= self.size:
                self.forget()

    def forget(self) -> None:
        self.lo = self.hi = None
        self.foreign.clear()

    def forget_old_foreign(self, now: float) -> None:
        """Drop the other clients' counts of windows that ended before the previous one."""
        if self.known and self.foreign:
            current = self.indices(now)[0]
            for k in [k for k in self.foreign if k < current - 1]:
                del self.foreign[k]

    def indices(self, s: float) -> range:
        """Window indices a send at ``s`` may be counted in (one, or two near a boundary)."""
        assert self.lo is not None and self.hi is not None
        first = math.floor((s - self.hi) / self.size)
        last = math.floor((s + self.margin - self.lo) / self.size)
        return range(first, max(first, last) + 1)

    def indices_of(self, send: Send) -> Sequence[int]:
        """Like :meth:`indices`, but using what the send's own response said about its window."""
        assert self.lo is not None and self.hi is not None
        possible = self.indices(send.at)
        if len(possible) == 1:
            return possible
        start = send.starts.get(self.size)
        lo, hi = start if start is not None else (send.at - self.size, send.at + self.margin)
        cap = self.caps.bound(send.at, lo)
        if cap is not None:
            hi = min(hi, cap)
        elif start is None:
            return possible
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


def count_in(window: Window, sends: Sequence[Send], k: int) -> int:
    """Our sends that may have been counted in ``window``'s window ``k``: only those sent in
    ``[lo + k * size - margin, hi + (k + 1) * size)`` can be (``sends`` is in time order)."""
    assert window.lo is not None and window.hi is not None
    start = window.lo + k * window.size - window.margin - NUDGE_S
    end = window.hi + (k + 1) * window.size
    surely_from = window.hi + k * window.size
    surely_until = window.lo + (k + 1) * window.size - window.margin
    # Bisection finds the sends surely in window k (counted without looking at each: the
    # minute window holds up to ``per_minute`` of them); only those near its uncertain edges
    # are looked at one by one.
    first = bisect.bisect_left(sends, start, key=_send_time)
    sure_first = bisect.bisect_left(sends, surely_from, key=_send_time)
    sure_end = bisect.bisect_left(sends, surely_until, key=_send_time)
    last = bisect.bisect_left(sends, end, key=_send_time)
    if sure_first >= sure_end:
        sure_first = sure_end = last  # no sure span: look at every candidate
        edges = [range(first, last)]
    else:
        edges = [range(first, sure_first), range(sure_end, last)]
    count = sure_end - sure_first
    for edge in edges:
        for i in edge:
            if k in window.indices_of(sends[i]):
                count += 1
    return count


def forgets_own_sends(
    sends: Sequence[Send], index: int, counted: int, *, size: float, margin: float
) -> bool:
    """Whether "``sends[index]`` was the ``counted``-th in its ``size`` window" proves the server
    counts fixed windows (or refills a bucket), not a sliding log.

    A sliding log counts every request that arrived in the last ``size`` seconds. Our sends that
    surely did — sent more than ``margin`` before this one, and less than ``size - margin``
    before it — are all in its count. A count lower than that shows the server has already
    forgotten some of them: its windows reset (or its bucket refilled) on their own. Before that
    is seen, bursts keep to the sliding-window rule, which a sliding log needs and fixed windows
    allow.
    """
    sent = sends[index].at
    first = bisect.bisect_right(sends, sent + margin - size, key=_send_time)
    last = bisect.bisect_right(sends, sent - margin, key=_send_time)
    surely = max(last - first, 0)
    return counted < surely + 1


def learn_from_report(
    sends: Sequence[Send],
    index: int,
    models: Sequence[Window],
    *,
    counted: int,
    reset: int,
    margin: float,
    answered: float | None = None,
) -> tuple[Budget | None, bool]:
    """Use "request ``sends[index]`` was the ``counted``-th in its window, which resets in
    ``reset`` s" to narrow every model of that window (``models``: the evidence-only one first,
    then the wall-clock hypothesis' one while it holds).

    Returns the :class:`Budget` other clients leave us in that window (``None`` when our own
    sends explain the count) and whether the models after the first agree with the answer
    (``False``: it places the window where the hypothesis has none, or the reverse).

    Bounds on the start ``b`` of the window the request was counted in (send time):

    * it arrived inside the window: ``sent - size < b <= sent + late``, where ``late`` is the
      margin, or less when the answer came sooner (``answered``, our clock: the server counted
      the request before it answered);
    * ``Reset`` is whole seconds (rounded up) from the arrival to the window's end:
      ``sent + reset - 1 - size < b <= sent + reset + late - size``;
    * ``counted`` says how many requests the window had by then. If our own sends can
      explain that number, the window began between two of our sends: after the
      ``counted``-th latest send that surely arrived earlier, and no later than the
      ``counted``-th latest possible arrival. Sends less than ``margin`` apart may arrive in
      either order, so the bounds hold for every order the jitter allows.

    Sends that surely arrived before that start — every one surely before this send when it
    was the first in its window, else those ``margin`` before the lower bound — were counted
    in an earlier window, whose start is at most ``hi - size``: recorded once for all of them
    (:class:`Caps`, shared by the models of this size), so that they are not also charged to
    this window when the boundary is only loosely known.
    """
    size = models[0].size
    send = sends[index]
    sent = send.at
    m = margin
    late = m if answered is None else min(m, max(answered - sent, 0.0))
    lo, hi = sent - size, sent + late
    if reset >= 1:
        lo = max(lo, sent + reset - 1.0 - size)
        hi = min(hi, sent + reset + late - size)
    budget = None
    # Our sends that may have arrived in the window no later than this one.
    # (Bisection, not a scan: ``sends`` is in time order and may hold a minute of sends.)
    span_first = bisect.bisect_right(sends, sent - size - m, key=_send_time)
    span_end = bisect.bisect_right(sends, sent + m, key=_send_time)
    maybe_before = span_end - span_first
    if counted > maybe_before:
        # Someone else used this window: honour the server's count from here on.
        remaining = max(models[0].limit - counted, 0)
        budget = Budget(
            send.seq, sent + reset + late, remaining, at=sent, foreign=counted - maybe_before
        )
        for window in models:
            _record_foreign(window, sends, index, counted, margin)
    elif counted >= 1:
        # The counted-th latest possible arrival, and the counted-th latest send that surely
        # arrived earlier (``send`` itself is not before ``sent - m``).
        hi = min(hi, sends[span_end - counted].at + m)
        surely_before = bisect.bisect_left(sends, sent - m, key=_send_time)
        if surely_before >= counted:
            lo = max(lo, sends[surely_before - counted].at)
        before = sent - m if counted == 1 else lo - m
        models[0].caps.add(before, hi - size)
    agreed = True
    if lo < hi:
        send.starts[size] = (lo, hi)
        evidence, *others = models
        evidence.learn(lo, hi)
        for window in others:
            agreed = window.learn(lo, hi) and agreed
    return budget, agreed


def _record_foreign(
    window: Window, sends: Sequence[Send], index: int, counted: int, margin: float
) -> None:
    """Requests of others in the window of send ``index``, if ``window`` can place it."""
    send = sends[index]
    if not window.known:
        return
    ks = window.indices_of(send)
    if len(ks) != 1:
        return
    k = ks[0]
    own = sum(1 for s in sends if s.at <= send.at + margin and k in window.indices_of(s))
    extra = counted - own
    if extra > window.foreign.get(k, 0):
        window.foreign[k] = extra
