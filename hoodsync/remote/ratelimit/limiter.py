"""The rate limiter itself: one per account, shared by every request, thread-safe.

The server (Hood: 10 requests per second and 150 per minute per account) counts each request in
the 1 s and 60 s windows in which it *arrives*. The client only knows when it *sends*, and the
documents promise fixed windows without saying where they start, how far the server's clock is
from ours, what the network adds, or who else uses the account. :class:`RateLimiter` bridges
the two, trusting only what answers prove:

* **The first request goes alone**; the rest of the first burst follows its answer (at most a
  second later), so that a window another client already spent is not hit blind. So does the
  first after a pause (:data:`_PAUSE_S` with nothing sent or answered), when what the answers
  showed is stale.
* Until it knows where the server's windows start, it keeps the **sliding-window rule** — never
  more than ``per_second`` sends in any ``1 s + margin`` span nor ``per_minute`` in any
  ``60 s + margin`` span. That is safe against fixed windows of any phase, a sliding log and
  token buckets, as long as the send-to-arrival delay of two requests differs by less than
  ``margin``. While the 1 s phase is unknown, each burst is split in two halves at least
  ``spread`` apart (and more than twice the margin), so the answers say where the boundary lies.
* **The margin follows the jitter**: it is the spread of the latest round trips (never below the
  configured ``margin``, never above :data:`MAX_MARGIN`), widening under jitter and narrowing
  when the network is calm.
* It learns the phase of each window from the ``X-RateLimit-*`` headers (:meth:`observe`, see
  :mod:`.windows`). Once known, the minute window follows the server's own fixed-window rule
  (the 151st request right after the minute boundary instead of 60 s after the first). The 1 s
  window does so only once an answer has shown the server forgetting requests a sliding log
  would still count (:func:`~.windows.forgets_own_sends`): a sliding-log server is never sent
  bursts closer than the sliding rule allows.
* **Other clients** on the account show as ``Remaining`` lower than our own sends explain. From
  then on every answer's ``Remaining`` is a budget until its window surely ended, shrinking at
  the others' observed pace; the 1 s phase comes only from drops in the count (sound whatever
  others send); and a burst no budget covers goes one request first.
* **Without rate headers** nothing but a 429 can show where windows are; for those servers it
  assumes they follow the wall clock (:mod:`.hypothesis`), probing one request at a time into
  a window only that assumption says has begun. The first answer that reports limits ends the
  assumption, so a server that reports them is never probed into a 429.
* :meth:`penalize` (after a 429) blocks every send until ``Retry-After`` has passed, forgets what
  was learnt about window phases (the model was wrong), and halves the share of the limits this
  client allows itself, regained over ``recovery`` seconds (AIMD), so that two processes sharing
  an account settle instead of throttling each other again and again. A 429 asking for no more
  than a second halves only the 1 s window's share; the minute's budget stays. A send held back
  by a reduced share is planned for when the regained share allows it, not the reduced one.

The send times under each rule are computed in :mod:`.schedule`; this module decides which rules
apply, hands out permits, and waits. A send that must wait blocks on a
:class:`threading.Condition` that every answer (:meth:`observe`), 429 (:meth:`penalize`) and
freed permit (:meth:`discard`) notifies, so it re-plans as soon as something it waits for has
changed, and otherwise sleeps until the time it was planned for. ``bench/limiter_sim.py``
replays it against every server behaviour of the emulator on a fake clock.
"""

from __future__ import annotations

import bisect
import collections
import enum
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

from hoodsync.remote.ratelimit.hypothesis import (
    WallClockHypothesis,
    parse_http_date,
    unanswered_probe,
)
from hoodsync.remote.ratelimit.schedule import (
    budget_earliest,
    fixed_earliest,
    sliding_earliest,
)
from hoodsync.remote.ratelimit.windows import (
    NUDGE_S,
    Budget,
    Send,
    Window,
    forgets_own_sends,
    learn_from_report,
    sends_after,
)

__all__ = ["MAX_MARGIN", "MAX_SERVER_WAIT", "NoSlotInTime", "RateLimiter", "WaitTooLong"]

log = logging.getLogger(__name__)

Clock = Callable[[], float]
Sleep = Callable[[float], None]

#: How the limiter waits: ``wait(condition, seconds)`` is called with ``condition``'s lock held,
#: releases it while waiting, holds it again when it returns, and returns after at most about
#: ``seconds`` — earlier when notified, or for no reason at all: the caller re-plans every time.
Wait = Callable[[threading.Condition, float], object]

#: The longest hoodsync waits because a server said so (``Retry-After``, ``X-RateLimit-Reset``):
#: twice the longest documented window (60 s). A server asking for more is not waited for.
MAX_SERVER_WAIT = 120.0

#: Sends older than this are forgotten (the longest window plus slack).
_HISTORY_S = 125.0

#: How long what other clients were seen to spend is remembered for their pace.
_FOREIGN_MEMORY_S = 60.0

#: How many of the latest round trips the jitter margin is taken from.
_SPREAD_SAMPLES = 64

#: The largest margin the jitter may widen it to: the 1 s window must keep most of its second
#: for sends that surely land in it. Jitter beyond this is not fully covered.
MAX_MARGIN = 0.24

#: The margin is widened only when the observed spread exceeds it by this much (and then the
#: learnt window phases, deduced with the narrower one, are relearnt).
_MARGIN_STEP_S = 0.01

#: A burst split to learn the 1 s phase has its halves at least twice the margin plus this
#: much apart, and at most :data:`_MAX_SPLIT_S`.
_SPLIT_SLACK_S = 0.005
_MAX_SPLIT_S = 0.5

#: With another client on the account and the 1 s phase not yet pinned, sends go at least this
#: far apart, and each budget outlasts its ``Reset`` by as much (see ``_window_earliest_at``).
_SHARED_LEARN_GAP_S = 0.25
#: ... for at most this long after another client is first seen.
_SHARED_LEARN_FOR_S = 5.0

#: After this long with nothing sent or answered, what the answers showed is stale: the next
#: burst starts with one request alone (``RateLimiter._pause_lead``).
_PAUSE_S = 5.0

#: The shortest wait: a planned time a rounding error ahead of the clock must not make a waiting
#: send spin.
_MIN_WAIT_S = 0.0005


class NoSlotInTime(Exception):
    """:meth:`RateLimiter.acquire` was given ``within`` seconds, and the limits allow the next
    send only ``seconds`` from now. Nothing was sent."""

    def __init__(self, seconds: float, within: float) -> None:
        self.seconds = seconds
        self.within = within
        super().__init__(
            f"the rate limits allow the next request only in {seconds:.1f} s, after the "
            f"{max(within, 0.0):.1f} s left for it"
        )


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


class RateLimiter:
    """Thread-safe limiter for one account (or one Falconyte team), shared by reads and writes.

    Contract: :meth:`acquire` blocks until one request may be sent and returns a ticket (the
    send's sequence number); the caller sends immediately, then passes the response headers to
    :meth:`observe` (with the ticket) or, on a 429, calls :meth:`penalize`; a request that never
    reached the server gives its permit back with :meth:`discard`. Without phase knowledge no
    more than ``per_second`` permits are granted in any ``1 s + margin`` span and no more than
    ``per_minute`` in any ``60 s + margin`` span; with it, no server window receives more than
    its limit provided the send-to-arrival delay varies by less than ``margin``.

    Time comes only from ``clock``. Waiting: with ``sleep`` left out (``None``, or
    :func:`time.sleep` itself), a send that must wait blocks on a condition for at most the
    time it was planned for, and is woken early — to re-plan — by :meth:`observe`,
    :meth:`penalize` and :meth:`discard` from other threads; that wait runs in real time, so
    it needs a real ``clock``. With a ``sleep`` function (tests: a fake clock's), the limiter
    calls it, lock released, for the planned time instead; nothing can wake it early, so a send
    held back for a probe's answer sleeps until the probe is no longer waited for or the learnt
    windows allow it, whichever is first. Either way each wait is bounded by the planned time.

    Every wait is bounded: when what the server demanded (``Retry-After`` through
    :meth:`penalize`, or ``Remaining: 0`` with its ``X-RateLimit-Reset`` through :meth:`observe`)
    would hold a send back more than ``max_wait`` seconds, :meth:`acquire` raises
    :class:`WaitTooLong` at once instead of waiting. The limiter's own schedule never waits
    longer than a minute window.

    ``wall_clock`` (POSIX seconds, read next to ``clock``) enables the wall-clock hypothesis
    (:mod:`.hypothesis`): until something contradicts it, the server's windows are taken to
    start at whole seconds / minutes of it, give or take ``skew``, with a send counted at most
    ``delay`` (plus ``margin``) after it is made. ``None`` disables the hypothesis. By default it
    is :func:`time.time` when ``clock`` is a real clock (:func:`time.monotonic`,
    :func:`time.perf_counter` or :func:`time.time`) and ``None`` otherwise: a fake ``clock``
    beside the real wall clock would make the hypothesis meaningless.
    """

    def __init__(
        self,
        per_second: int = 10,
        per_minute: int = 150,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep | None = None,
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
        self._base_margin = margin
        # Round trips of the latest answers: their spread bounds how much the send-to-arrival
        # delay of two requests may differ, i.e. the margin needed against jitter.
        self._round_trips: collections.deque[float] = collections.deque(maxlen=_SPREAD_SAMPLES)
        self.spread = spread
        self.recovery = recovery
        self.skew = skew
        self.max_wait = max_wait
        self._clock = clock
        self._wait: Wait = _condition_wait
        if sleep is not None and sleep is not time.sleep:
            self._wait = _sleeping(sleep)
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._second = Window(1.0, per_second, margin)
        self._minute = Window(60.0, per_minute, margin)
        self._sends: list[Send] = []
        # Whether an answer has shown that the server counts fixed 1 s windows rather than a
        # sliding log (see :func:`~.windows.forgets_own_sends`): only then may a burst follow
        # the learnt window boundaries closer than the sliding-window rule allows.
        self._second_fixed = False
        # Whether answers have shown another client using the account, and (send time, count)
        # of what they showed in 1 s windows.
        self._shared = False
        # Until when (send time) the 1 s phase is being learnt with single sends, once another
        # client is seen (see ``_learning_phase``).
        self._learn_until = -math.inf
        # The 1 s phase as drops in the count alone place it (used once another client is seen).
        self._drops = Window(1.0, per_second, margin, caps=self._second.caps)
        # When one of our requests was last answered (clock time; until one is, one request
        # goes at a time), and the first send after a pause (see ``_pause_lead``).
        self._answered_at = -math.inf
        self._paused_lead: Send | None = None
        self._foreign_seen: collections.deque[tuple[float, int]] = collections.deque()
        self._budgets: list[Budget] = []
        self._seq = 0
        self._blocked_until = -math.inf
        # Share of the limits this client allows itself: halved on every 429 (someone else is
        # using the account too), then regained linearly over ``recovery`` seconds — the usual
        # additive-increase / multiplicative-decrease way for clients that cannot talk to each
        # other to settle on a fair split without being throttled again and again.
        # Kept per window size: a 429 of the 1 s window (``Retry-After: 1``, typically jitter
        # bunching a burst) says nothing about the minute's budget, so it only halves the
        # 1 s window's share.
        self._share_base: dict[float, float] = {1.0: 1.0, 60.0: 1.0}
        self._throttled_at: dict[float, float] = {1.0: -math.inf, 60.0: -math.inf}
        if wall_clock is _Default.WALL:
            real = clock in (time.monotonic, time.perf_counter, time.time)
            wall_clock = time.time if real else None
        self._hyp: WallClockHypothesis | None = None
        # The hypothesis' (1 s, 60 s) window indices of the latest probe that went through, its
        # sequence number, and how many sends after it that lets go without further probes.
        self._passed_probe: tuple[tuple[int, int], int, int] | None = None
        if wall_clock is not None:
            self._hyp = WallClockHypothesis.make(
                clock,
                wall_clock,
                limits=(per_second, per_minute),
                margin=margin,
                skew=skew,
                delay=delay,
                caps=(self._second.caps, self._minute.caps),
            )

    def __repr__(self) -> str:
        return f"RateLimiter(per_second={self.per_second}, per_minute={self.per_minute})"

    # ------------------------------------------------------------------ public API

    def acquire(self, within: float | None = None) -> int:
        """Block until a request may be sent; record it as sent now and return its ticket.
        Raises :class:`WaitTooLong` (having sent nothing) when a server's demand would make the
        wait longer than ``max_wait``, and :class:`NoSlotInTime` (having sent nothing) when
        ``within`` is given and no send is allowed within that many seconds from now."""
        with self._changed:
            give_up = None if within is None else self._clock() + within
            while True:
                now = self._clock()
                self._check_wall_clock()
                at, replan_at = self._plan(now)
                if at - now > self.max_wait:
                    self._refuse_long_demand(now)
                if at <= now:
                    return self._grant(now)
                if give_up is not None and at > give_up:
                    raise NoSlotInTime(at - now, give_up - now)
                wait = max(replan_at - now, _MIN_WAIT_S)
                if give_up is not None:
                    wait = min(wait, max(give_up - now, _MIN_WAIT_S))
                self._wait(self._changed, wait)

    def next_send_time(self) -> float:
        """When the next :meth:`acquire` would return if nothing else happened (clock time)."""
        with self._lock:
            now = self._clock()
            return max(self._plan(now)[0], now)

    def observe(self, headers: Mapping[str, str], ticket: int | None = None) -> None:
        """Learn from a non-throttled response's ``X-RateLimit-Limit/Remaining/Reset`` headers.

        ``headers`` is case-insensitive or lower-case. The server reports its *binding* window
        (the one with fewer requests remaining). ``ticket`` ties the report to the send it
        answers; without it only the reported limit is used. Missing or malformed headers are
        ignored. The round trip and the ``Date`` header (if any) test the wall-clock hypothesis.
        Wakes every waiting :meth:`acquire`.
        """
        limit = _int_header(headers, "x-ratelimit-limit")
        remaining = _int_header(headers, "x-ratelimit-remaining")
        reset = _int_header(headers, "x-ratelimit-reset")
        date = parse_http_date(_header(headers, "date"))
        with self._changed:
            self._changed.notify_all()
            index = self._index_of(ticket)
            if index is not None:
                self._answered_at = self._clock()
                send = self._sends[index]
                send.answered = True
                self._time_round_trip(send)
                self._check_answer(send, date)
                if send.probe and self._hyp is not None:
                    # Not throttled: the windows it probed have begun, as the hypothesis said.
                    # Against a server without rate headers nothing else would ever show it.
                    room = self._room_after_probe(index)
                    self._passed_probe = (self._hyp_windows(send.at), send.seq, room)
            if limit is None or remaining is None or reset is None or limit < 1:
                return
            # The server reports its windows: learn them from what it says instead of assuming.
            self._drop_hypothesis("the server reports its rate limits", expected=True)
            window = self._classify(limit, reset)
            for same in self._models(window.size):
                if limit < same.limit:
                    same.limit = limit  # the server's word wins over a too generous setting
            if index is None:
                return
            self._learn(window.size, index, max(limit - remaining, 0), reset)

    def penalize(self, retry_after: float, ticket: int | None = None) -> None:
        """After a 429: send nothing for ``retry_after`` seconds; the throttled request (``ticket``)
        was not counted by the server. Forgets learnt window phases and drops the wall-clock
        hypothesis (the model was wrong). Halves the share of the limits (only the 1 s window's
        when ``retry_after <= 1``), unless the throttled
        request was a probe of the hypothesis: then the hypothesis, not another client, is the
        culprit, and it is gone now. Wakes every waiting :meth:`acquire` (a demand beyond
        ``max_wait`` then fails it at once)."""
        with self._changed:
            self._changed.notify_all()
            now = self._clock()
            self._blocked_until = max(self._blocked_until, now + max(retry_after, 0.0))
            index = self._index_of(ticket)
            if index is not None:
                self._answered_at = self._clock()
                self._time_round_trip(self._sends[index])
            blame_hypothesis = index is not None and self._sends[index].probe
            self._drop_hypothesis("a request was throttled")
            if not blame_hypothesis:
                for size in self._throttled_sizes(retry_after):
                    if now - self._throttled_at[size] >= self._second.size:
                        # One halving per throttling episode: the other throttled requests of
                        # the same burst say nothing new.
                        self._share_base[size] = max(self._share(size, now) / 2.0, 0.05)
                        self._throttled_at[size] = now
            if index is not None:
                del self._sends[index]
            self._second.forget()
            self._minute.forget()

    def discard(self, ticket: int) -> None:
        """Forget a permit whose request never reached the server (e.g. the connection was
        refused). Wakes every waiting :meth:`acquire`."""
        with self._changed:
            index = self._index_of(ticket)
            if index is not None:
                del self._sends[index]
                self._changed.notify_all()

    def phase(self) -> dict[str, tuple[float, float] | None]:
        """What is known about each window's boundary in clock time (for logs and tests): the
        bounds used for scheduling, i.e. including the wall-clock hypothesis while it holds."""
        with self._lock:
            hyp = self._hyp
            second, minute = (hyp.second, hyp.minute) if hyp else (self._second, self._minute)
            return {"second": second.bounds, "minute": minute.bounds}

    @property
    def wall_aligned(self) -> bool:
        """Whether the wall-clock hypothesis is (still) in force."""
        with self._lock:
            return self._hyp is not None

    # ------------------------------------------------------------------ permits (lock held)

    def _grant(self, now: float) -> int:
        self._seq += 1
        send = Send(self._seq, now, probe=self._is_probe(now))
        since = now - _PAUSE_S
        idle = not self._sends or self._sends[-1].at <= since
        if self._answered_at > -math.inf and idle and self._answered_at <= since:
            self._paused_lead = send
        self._sends.append(send)
        self._prune(now)
        return self._seq

    def _refuse_long_demand(self, now: float) -> None:
        """Raise :class:`WaitTooLong` if a server demand holds sends back past ``max_wait``;
        the limiter's own windows never do."""
        if self._blocked_until - now > self.max_wait:
            raise WaitTooLong("Retry-After", self._blocked_until - now, self.max_wait)
        for budget in self._budgets:
            if budget.until - now > self.max_wait and budget.exhausted(self._sends):
                raise WaitTooLong("X-RateLimit-Reset", budget.until - now, self.max_wait)

    def _prune(self, now: float) -> None:
        horizon = now - _HISTORY_S
        if self._sends and self._sends[0].at < horizon:
            # Time order: the forgotten sends are a prefix (found by bisection, not a scan).
            del self._sends[: bisect.bisect_left(self._sends, horizon, key=_send_time)]
        self._budgets = [b for b in self._budgets if b.until > now]
        oldest = self._sends[0].at if self._sends else now
        for caps in (self._second.caps, self._minute.caps):
            caps.forget_before(oldest)
        for size in (self._second.size, self._minute.size):
            for window in self._models(size):
                window.forget_old_foreign(now)

    def _index_of(self, ticket: int | None) -> int | None:
        if ticket is None:
            return None
        for i in range(len(self._sends) - 1, -1, -1):
            if self._sends[i].seq == ticket:
                return i
            if self._sends[i].seq < ticket:
                break
        return None

    # ------------------------------------------------------------------ scheduling (lock held)

    def _plan(self, now: float) -> tuple[float, float]:
        """``(earliest send time >= now, when to look again if that is later than now)``.

        Without the hypothesis: the rules of the learnt windows. With it: the hypothesis'
        windows say when; a send they allow but the learnt windows alone would not (one going
        into a window only the hypothesis says has begun) is a *probe*, and only one probe may
        be unanswered at a time. If the hypothesis is wrong, that one probe is answered 429 (and
        the hypothesis dropped); if it is right, its answer shows the new window began, and the
        learnt model then allows the rest. A send held back by an unanswered probe is planned by
        the learnt windows, but looks again when the probe stops being waited for (its answer,
        coming from another thread, notifies it before that).
        """
        at, replan_at = self._plan_by_windows(max(now, self._blocked_until))
        lead = self._unanswered_lead(at)
        if lead is None:
            return at, replan_at
        # Its answer wakes this send to plan again; a lead never answered is waited for no
        # longer than a second window.
        waited = max(at, lead.at + self._second.size)
        return waited, waited

    def _plan_by_windows(self, at: float) -> tuple[float, float]:
        evidence = (self._second, self._minute)
        if self._hyp is None:
            at = self._fixpoint(at, evidence, spread=True)
            return at, at
        at = self._fixpoint(at, (self._hyp.second, self._hyp.minute), spread=False)
        probe = unanswered_probe(self._sends, at, self._second.size) if self._is_probe(at) else None
        if probe is None:
            return at, at
        # Both models' rules: a time the learnt windows allow may be one the hypothesis'
        # windows forbid (a send near their boundary waits for the later one).
        both = (*evidence, self._hyp.second, self._hyp.minute)
        learnt = self._fixpoint(at, both, spread=False)
        return learnt, min(learnt, probe.at + self._second.size)

    def _unanswered_lead(self, at: float) -> Send | None:
        """A send still waited for that a send at ``at`` must wait for: a burst whose room nobody
        has told us goes one request first, and the rest follow its answer. That is the very
        first burst (another client may have spent the window already), the first after a pause
        (:meth:`_pause_lead`), and, once another client is seen on the account, every burst
        that no answer's ``Remaining`` covers (its requests cannot be told from ours, so the
        learnt windows may be wrong). Costs one round trip in those bursts; saves the 429s of a
        burst sent blind into a spent window."""
        covered = any(b.until > at and b.size == self._second.size for b in self._budgets)
        if self._answered_at > -math.inf and not (self._shared and not covered):
            return self._pause_lead(at)
        for send in reversed(self._sends):
            if send.at <= at - self._second.size:
                return None
            if not send.answered:
                return send
        return None

    def _pause_lead(self, at: float) -> Send | None:
        """The first send after a pause (:data:`_PAUSE_S` with nothing sent or answered: a
        person reading the plan before approving it, a minute's wait), until an answer comes
        after it: what the earlier answers showed is stale by then, and another client may have
        spent the window since, so the rest of its burst follows its answer (at most a second
        later). In a busy run answers keep coming and no send is a lead."""
        lead = self._paused_lead
        if lead is None or self._answered_at >= lead.at or lead.at <= at - self._second.size:
            return None
        return lead

    def _fixpoint(self, at: float, windows: Sequence[Window], *, spread: bool) -> float:
        """Earliest time >= ``at`` that breaks none of the rules of ``windows`` (nor the budgets of
        other clients); ``spread`` splits bursts while a phase is unknown (learning, not safety)."""
        for _ in range(64):
            before = at
            for window in windows:
                at = self._window_earliest(window, at, spread=spread)
            at = budget_earliest(self._budgets, self._sends, at)
            if at == before:
                return at
        return at

    def _is_probe(self, at: float) -> bool:
        """A send at ``at`` would be allowed only by the hypothesis, not by the learnt model."""
        if self._hyp is None:
            return False
        if self._passed_probe is not None:
            windows, seq, room = self._passed_probe
            if self._hyp_windows(at) == windows and sends_after(self._sends, seq) < room:
                return False  # a probe into these very windows went through
        return self._fixpoint(at, (self._second, self._minute), spread=False) > at

    def _room_after_probe(self, index: int) -> int:
        """How many more sends a probe that went through (``self._sends[index]``) lets into its
        1 s window, whatever that window's phase.

        The server window the probe landed in began at some ``b`` within the second before it
        and holds our sends from ``b`` on; since the probe was not throttled, fewer than the
        limit were there. Sends closer together than ``skew`` count as one instant (``b`` does
        not fall between them). The most that window may already hold, over every ``b`` that
        allows that, is what the rest of the burst must leave room for: a whole burst sent at
        one instant lets the rest go; one spread over the second (the first request sent alone,
        the rest after its answer) does not, as those may share the probe's window."""
        probe = self._sends[index]
        limit = self._second.limit
        first = bisect.bisect_right(self._sends, probe.at - self._second.size, key=_send_time)
        times = [s.at for s in self._sends[first:index] if s.at < probe.at]
        worst = 0
        for i, at in enumerate(times):  # b just before the send at ``at``
            if i and at - times[i - 1] <= self.skew:
                continue
            held = len(times) - i
            if held < limit:
                worst = max(worst, held)
        return max(limit - 1 - worst, 0)

    def _hyp_windows(self, at: float) -> tuple[int, int]:
        """The hypothesis' 1 s and 60 s window indices of a send at ``at`` (the later of two
        where it is ambiguous)."""
        assert self._hyp is not None
        return (self._hyp.second.indices(at)[-1], self._hyp.minute.indices(at)[-1])

    def _throttled_sizes(self, retry_after: float) -> tuple[float, ...]:
        """The windows a 429 asking for ``retry_after`` s may have come from: a wait of no more
        than the 1 s window can only be that window's (the minute's would end later, except in
        its last second, where halving the second's share suffices for what is left of it)."""
        if retry_after <= self._second.size:
            return (self._second.size,)
        return (self._second.size, self._minute.size)

    def _share(self, size: float, at: float) -> float:
        """Share of the ``size`` window's limit this client allows itself at ``at``."""
        base = self._share_base[size]
        if base >= 1.0:
            return 1.0
        regained = (at - self._throttled_at[size]) / self.recovery if self.recovery > 0 else 1.0
        return min(1.0, base + max(regained, 0.0))

    def _limit(self, window: Window, at: float) -> int:
        """The window's limit scaled by the share this client currently allows itself."""
        return max(1, math.floor(window.limit * self._share(window.size, at) + 1e-9))

    def _limit_grows_at(self, window: Window, at: float) -> float | None:
        """When :meth:`_limit` next grows after ``at`` (the share is regained linearly), or
        ``None`` when it is whole already."""
        base = self._share_base[window.size]
        current = self._limit(window, at)
        if base >= 1.0 or self.recovery <= 0 or current >= window.limit:
            return None
        share = (current + 1) / window.limit
        grows = self._throttled_at[window.size] + (share - base) * self.recovery + NUDGE_S
        return grows if grows > at else None

    def _window_earliest(self, window: Window, at: float, *, spread: bool) -> float:
        """Earliest time >= ``at`` the window's rule allows, with the limit of that time: while
        the share is regained, a send held back by the reduced limit goes as soon as the grown
        limit allows it, not when the reduced one would (after a 429 late in a busy minute
        that would be the next minute)."""
        while True:
            earliest = self._window_earliest_at(window, at, self._limit(window, at), spread)
            grows = self._limit_grows_at(window, at)
            if earliest <= at or grows is None or grows >= earliest:
                return earliest
            at = grows

    def _window_earliest_at(self, window: Window, at: float, limit: int, spread: bool) -> float:
        split = max(self.spread, min(2.0 * self.margin + _SPLIT_SLACK_S, _MAX_SPLIT_S))
        if window is self._second and self._shared:
            # Another client on the account: the 1 s phase comes only from drops in the count
            # (see ``_learn_drops``); bursts are split wide until those pin it.
            window = self._drops
            split = _MAX_SPLIT_S - _SPLIT_SLACK_S
        fixed = window is not self._second or self._second_fixed
        if window.known and fixed:
            hypothesis = self._hyp is not None and self._hyp.window(window.size) is window
            return fixed_earliest(window, self._sends, limit, at, whole_windows=hypothesis)
        at = sliding_earliest(self._sends, limit, window.size + self.margin, at)
        if spread and window.size == self._second.size and self.spread > 0 and limit > 1:
            # While the phase is unknown, split each burst in two halves ``spread`` apart: the
            # responses then show on which side of a server boundary each half landed, and
            # even when none falls between them the window is known to span the whole burst.
            # That pins the phase enough to schedule by the server's windows from the second
            # burst on (no margin accumulating from burst to burst).
            # The halves must be more than twice the margin apart for an answer to prove which
            # side of a boundary each landed on, whatever the jitter.
            at = sliding_earliest(self._sends, (limit + 1) // 2, split, at)
            if window is self._drops and self._learning_phase(at):
                # Another client on the account: one send per quarter second until a drop
                # pins the phase. A budget (its ``Remaining`` less the others' pace) ends a
                # burst after about half a second and then holds for a whole one, so bursts
                # would keep landing on one side of the same boundary, second after second;
                # single sends spread over the second put one on each side of it.
                at = sliding_earliest(self._sends, 1, _SHARED_LEARN_GAP_S, at)
        return at

    # ------------------------------------------------------------------ learning (lock held)

    def _models(self, size: float) -> list[Window]:
        """Every model of the ``size`` window: the evidence-only one, then the hypothesis' one."""
        evidence = self._second if size == self._second.size else self._minute
        if self._hyp is None:
            return [evidence]
        return [evidence, self._hyp.window(size)]

    def _classify(self, limit: int, reset: int) -> Window:
        """Which window a report describes: by its limit, else by how far away its reset is."""
        if limit == self._minute.limit and limit != self._second.limit:
            return self._minute
        if limit == self._second.limit and limit != self._minute.limit:
            return self._second
        return self._minute if reset > 1 else self._second

    def _learn(self, size: float, index: int, counted: int, reset: int) -> None:
        """Use "request ``index`` was the ``counted``-th in its window, which resets in ``reset``
        s" (:func:`~.windows.learn_from_report`)."""
        if size == self._second.size:
            self._sends[index].counted = counted
            self._learn_drops(index)
        if size == self._second.size and not self._second_fixed:
            self._second_fixed = forgets_own_sends(
                self._sends, index, counted, size=size, margin=self.margin
            )
            if self._second_fixed:
                log.debug("rate limit windows: the server counts fixed 1 s windows")
        budget, agreed = learn_from_report(
            self._sends,
            index,
            self._models(size),
            counted=counted,
            reset=reset,
            margin=self.margin,
            answered=self._clock(),
        )
        if budget is not None and size == self._second.size:
            self._saw_foreign(self._sends[index].at, budget.foreign)
            if not self._shared:
                log.debug("rate limit windows: another client is using the account")
                self._learn_until = self._sends[index].at + _SHARED_LEARN_FOR_S
            self._shared = True
        if budget is None and self._shared:
            # With another client on the account its requests cannot be told from ours, and
            # what was learnt of the window phases may be wrong: every answer's Remaining is a
            # budget until its window surely ended.
            limit = self._models(size)[0].limit
            sent = self._sends[index].at
            budget = Budget(
                self._sends[index].seq, sent + reset + self.margin, max(limit - counted, 0), at=sent
            )
        if budget is not None:
            until = budget.until
            if size == self._second.size:
                until = self._window_end(index, until)
            budget = replace(budget, rate=self._foreign_rate(), until=until, size=size)
            self._budgets.append(budget)
        if not agreed:
            # "Remaining" shows a boundary where the hypothesis has none (or the reverse).
            self._drop_hypothesis(f"an answer places the {size:.0f} s window elsewhere")

    def _time_round_trip(self, send: Send) -> None:
        """Record the round trip of ``send`` (answered now) and fit the margin to the spread of
        the latest round trips: wider under jitter, narrower again when the network is calm,
        never below the configured margin nor above :data:`MAX_MARGIN`. Widening it widens
        the learnt window phases' bounds as much (a minute's phase, known to about a second
        from ``Reset``, survives a hiccup of the network; forgetting it cost a whole minute)."""
        self._round_trips.append(max(self._clock() - send.at, 0.0))
        spread = max(self._round_trips) - min(self._round_trips)
        wanted = min(max(self._base_margin, spread), MAX_MARGIN)
        if wanted > self.margin + _MARGIN_STEP_S:
            log.debug(
                "rate limit margin: %.3f s -> %.3f s (round-trip spread)", self.margin, wanted
            )
            delta = wanted - self.margin
            self._set_margin(wanted)
            for window in (self._second, self._minute, self._drops):
                window.widen(delta)
        elif wanted < self.margin - _MARGIN_STEP_S:
            self._set_margin(wanted)

    def _window_end(self, index: int, until: float) -> float:
        """When the 1 s window of ``self._sends[index]`` surely ended, where the phase learnt
        from drops places it in one window (else ``until``): ``Reset``, whole seconds rounded
        up, reaches into the next window, of which a budget learnt in this one says nothing."""
        window = self._drops
        if self._shared and not window.known and self._learning_phase(self._sends[index].at):
            # Held a little longer than ``Reset`` says (only more careful): the next burst,
            # which waits for it, then starts a quarter second later in the server's second
            # than this one, and the bursts sweep the second until one straddles a boundary.
            return until + _SHARED_LEARN_GAP_S
        if not (self._shared and window.known):
            return until
        assert window.hi is not None
        ks = window.indices_of(self._sends[index])
        if len(ks) != 1:
            return until
        return min(until, window.hi + (ks[0] + 1) * window.size)

    def _learning_phase(self, at: float) -> bool:
        """Whether a send at ``at`` still serves to learn the 1 s phase from drops: for the
        first :data:`_SHARED_LEARN_FOR_S` after another client was seen. Fixed windows show
        their phase within a second or two; a server with none (a sliding log) never would,
        and single sends would then hold the run at a quarter of its pace."""
        return at < self._learn_until

    def _learn_drops(self, index: int) -> None:
        """Learn the 1 s phase from a drop in the count between two of our requests, which
        holds whatever other clients send: of two requests sent more than the margin apart,
        the later arrived later, and in one fixed window it would be counted after the earlier
        one; counted no higher, it arrived in a later window."""
        before = self._answered_neighbour(index, -1)
        after = self._answered_neighbour(index, 1)
        for earlier, later in ((before, index), (index, after)):
            if earlier is None or later is None:
                continue
            a, b = self._sends[earlier], self._sends[later]
            assert a.counted is not None and b.counted is not None
            if b.at - a.at > self.margin and b.counted <= a.counted:
                self._drops.learn(a.at, b.at + self.margin)
                if self._shared and later == earlier + 1:
                    # ``b`` came right after ours of the window before: whatever its window
                    # counted before it was someone else's.
                    self._saw_foreign(b.at, b.counted - 1)

    def _answered_neighbour(self, index: int, step: int) -> int | None:
        """The nearest send before (``step=-1``) or after (``1``) ``index`` whose place in its
        1 s window is known, within a second of it."""
        at = self._sends[index].at
        i = index + step
        while 0 <= i < len(self._sends) and abs(self._sends[i].at - at) < self._second.size:
            if self._sends[i].counted is not None:
                return i
            i += step
        return None

    def _set_margin(self, margin: float) -> None:
        self._drops.margin = margin
        self.margin = margin
        for size in (self._second.size, self._minute.size):
            for window in self._models(size):
                window.margin = margin

    def _foreign_rate(self) -> float:
        """Requests per second other clients were seen to spend: the most one answer showed in
        its 1 s window over the last :data:`_FOREIGN_MEMORY_S` (each a lower bound: only what
        arrived before one of ours)."""
        now = self._clock()
        seen = self._foreign_seen
        while seen and seen[0][0] < now - _FOREIGN_MEMORY_S:
            seen.popleft()
        most = max(seen[0][1] if seen else 0, *self._second.foreign.values(), 0)
        return float(most) / self._second.size

    def _saw_foreign(self, at: float, count: int) -> None:
        """Record that an answer showed ``count`` requests of others in a 1 s window. Kept as a
        queue of decreasing counts (a smaller count seen before a larger one can never be the
        most again), so the most within the memory is its head: constant work per answer.
        (Answers come out of order, so an entry may outlive its memory a little: the pace is
        then remembered a little longer, which only makes the budget more careful.)"""
        seen = self._foreign_seen
        while seen and seen[-1][1] <= count:
            seen.pop()
        seen.append((at, count))

    # ------------------------------------------------------------------ hypothesis (lock held)

    def _drop_hypothesis(self, why: str, *, expected: bool = False) -> None:
        """Stop assuming wall-clock windows; the evidence-only model takes over. ``expected``:
        the normal course (the server reports its limits), logged at debug level only."""
        if self._hyp is None:
            return
        level = logging.DEBUG if expected else logging.INFO
        log.log(
            level, "rate limit windows: no longer assuming they follow the wall clock (%s)", why
        )
        self._hyp = None

    def _check_wall_clock(self) -> None:
        if self._hyp is not None:
            why = self._hyp.check_wall_clock()
            if why is not None:
                self._drop_hypothesis(why)

    def _check_answer(self, send: Send, date: float | None) -> None:
        if self._hyp is not None:
            why = self._hyp.check_answer(send, date)
            if why is not None:
                self._drop_hypothesis(why)


def _send_time(send: Send) -> float:
    return send.at


def _condition_wait(condition: threading.Condition, seconds: float) -> None:
    """Wait on ``condition`` (its lock held) for at most ``seconds`` of real time."""
    condition.wait(seconds)


def _sleeping(sleep: Sleep) -> Wait:
    """A :data:`Wait` that calls ``sleep`` with the condition's lock released (fake clocks)."""

    def wait(condition: threading.Condition, seconds: float) -> None:
        condition.release()
        try:
            sleep(seconds)
        finally:
            condition.acquire()

    return wait


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
