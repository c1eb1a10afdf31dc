"""RateLimiter and the schedule yardsticks, on an injected clock (nothing here really waits).

The fixed-window tests run a small discrete-event simulation: a server that counts arrivals in
fixed 1 s / 60 s windows aligned to whole seconds (like the emulator and the documented API),
answers with the same headers, and adds latency and jitter; clients send as soon as their
limiter allows, with a bounded number of requests in flight.

A limiter on a fake clock has no wall clock unless given one, so the older tests exercise the
learning alone; the wall-clock tests pass the fake clock as ``wall_clock`` too, and move the
simulated server's windows off it (``offset``) to prove the hypothesis wrong.
"""

from __future__ import annotations

import email.utils
import heapq
import itertools
import math
import os
import random
import sys
import threading
import time
from dataclasses import dataclass, field
from types import FrameType

import pytest
from conftest import FakeClock

from hoodsync.remote.ratelimit import (
    MAX_SERVER_WAIT,
    NoSlotInTime,
    RateLimiter,
    WaitTooLong,
    fastest_schedule,
    minimum_duration,
)

T0 = 1_767_225_600.0  # a whole minute on the server's clock


class Server:
    """Fixed windows on whole seconds / minutes, counting arrivals; 429s are not counted.

    ``offset``: the server's windows start that much later than the whole seconds of the
    (client's) clock, i.e. its clock is behind by ``offset``. ``date``: answers carry a ``Date``
    header from the server's clock. ``headers=False``: no ``X-RateLimit-*`` headers.
    """

    def __init__(
        self,
        per_second: int = 10,
        per_minute: int = 150,
        *,
        offset: float = 0.0,
        date: bool = False,
        headers: bool = True,
    ) -> None:
        self.per_second, self.per_minute = per_second, per_minute
        self.offset, self.date, self.headers = offset, date, headers
        self.second, self.second_count = -1, 0
        self.minute, self.minute_count = -1, 0
        self.counted: list[float] = []
        self.throttled = 0

    def hit(self, at: float) -> dict[str, str]:
        headers = self._count(at - self.offset)
        if not self.headers:  # no X-RateLimit-* headers; a 429 keeps its Retry-After
            headers = {k: v for k, v in headers.items() if not k.startswith("x-ratelimit-")}
        if self.date:
            headers["date"] = email.utils.formatdate(at - self.offset, usegmt=True)
        return headers

    def _count(self, at: float) -> dict[str, str]:
        second, minute = math.floor(at), math.floor(at / 60)
        if second != self.second:
            self.second, self.second_count = second, 0
        if minute != self.minute:
            self.minute, self.minute_count = minute, 0
        if self.minute_count >= self.per_minute:
            self.throttled += 1
            return {"retry-after": str(max(1, math.ceil((minute + 1) * 60 - at)))}
        if self.second_count >= self.per_second:
            self.throttled += 1
            return {"retry-after": str(max(1, math.ceil(second + 1 - at)))}
        self.second_count += 1
        self.minute_count += 1
        self.counted.append(at)
        left_s, left_m = self.per_second - self.second_count, self.per_minute - self.minute_count
        if left_s < left_m:
            limit, left, reset = self.per_second, left_s, math.ceil(second + 1 - at)
        else:
            limit, left, reset = self.per_minute, left_m, math.ceil((minute + 1) * 60 - at)
        return {
            "x-ratelimit-limit": str(limit),
            "x-ratelimit-remaining": str(left),
            "x-ratelimit-reset": str(max(1, reset)),
        }


@dataclass
class Client:
    limiter: RateLimiter
    requests: int
    parallel: int
    sent: int = 0
    done: int = 0
    in_flight: int = 0
    throttled: int = 0
    last_done: float = 0.0
    first_arrival: float | None = None
    first_sent: float | None = None
    throttled_sends: list[float] = field(default_factory=list)  # when the 429'd requests left


@dataclass
class Simulation:
    clock: FakeClock
    server: Server
    latency: float = 0.3
    jitter: float = 0.01
    seed: int = 0
    delay: float = 0.0  # fixed one-way delay before the server counts a request
    clients: list[Client] = field(default_factory=list)

    def add(
        self, requests: int, parallel: int = 10, *, wall: bool = False, **limiter_args: float
    ) -> Client:
        """A client; ``wall``: its limiter reads the fake clock as its wall clock too."""
        limiter = RateLimiter(
            clock=self.clock,
            sleep=self.clock.sleep,
            wall_clock=self.clock if wall else None,
            **limiter_args,  # type: ignore[arg-type]
        )
        client = Client(limiter, requests, parallel)
        self.clients.append(client)
        return client

    def run(self) -> None:
        rng = random.Random(self.seed)
        pending: list[tuple[float, int, int, int, float, dict[str, str]]] = []
        order = itertools.count()
        while any(c.done < c.requests for c in self.clients):
            ready = [
                (c.limiter.next_send_time(), i)
                for i, c in enumerate(self.clients)
                if c.sent < c.requests and c.in_flight < c.parallel
            ]
            next_send, who = min(ready) if ready else (math.inf, -1)
            if pending and pending[0][0] <= next_send:
                at, _, i, ticket, sent, headers = heapq.heappop(pending)
                self.clock.at_least(at)
                client = self.clients[i]
                client.in_flight -= 1
                if "retry-after" in headers:
                    client.limiter.penalize(float(headers["retry-after"]), ticket)
                    client.throttled += 1
                    client.throttled_sends.append(sent)
                    client.sent -= 1  # sent again later
                else:
                    client.limiter.observe(headers, ticket)
                    client.done += 1
                    client.last_done = at
                continue
            client = self.clients[who]
            self.clock.at_least(next_send)
            ticket = client.limiter.acquire()
            sent = self.clock()
            arrival = sent + self.delay + rng.uniform(0.0, self.jitter)
            if client.first_arrival is None:
                client.first_arrival, client.first_sent = arrival, sent
            headers = self.server.hit(arrival)
            heapq.heappush(
                pending, (arrival + self.latency, next(order), who, ticket, sent, headers)
            )
            client.sent += 1
            client.in_flight += 1


def answered(limiter: RateLimiter) -> float:
    """Send the first request and answer it at once (without rate headers), as a server would:
    until a first answer the limiter sends one request at a time. Returns when it was sent."""
    ticket = limiter.acquire()
    sent = limiter._clock()
    limiter.observe({}, ticket)
    return sent


def max_in_span(times: list[float], span: float) -> int:
    """Most events in any half-open interval of length ``span``."""
    times = sorted(times)
    best = 0
    j = 0
    for i, t in enumerate(times):
        while times[j] <= t - span:
            j += 1
        best = max(best, i - j + 1)
    return best


# ------------------------------------------------------------------------------ yardsticks


def test_minimum_duration_counts_sliding_windows() -> None:
    assert minimum_duration(0) == 0.0
    assert minimum_duration(10) == 0.0
    assert minimum_duration(11) == 1.0
    assert minimum_duration(150) == 14.0
    assert minimum_duration(151) == 60.0


def test_fastest_schedule_uses_the_partial_first_window() -> None:
    at_boundary = fastest_schedule(150, 0.0)
    assert at_boundary[:10] == [0.0] * 10
    assert at_boundary[-1] == pytest.approx(14.0)
    # A quarter second into a second: 10 now, the next 10 at the boundary 0.75 s later.
    late = fastest_schedule(150, 0.25)
    assert late[10] == pytest.approx(0.75)
    assert late[-1] == pytest.approx(13.75)
    assert late == sorted(late)


def test_fastest_schedule_waits_for_the_minute_boundary() -> None:
    # 30 s into the minute: 150 within 15 windows, then the rest from the boundary at +30 s.
    times = fastest_schedule(300, 30.0)
    assert times[149] == pytest.approx(14.0)
    assert times[150] == pytest.approx(30.0)
    assert times[-1] == pytest.approx(44.0)
    # 50 s in: only 10 windows are left in this minute.
    assert fastest_schedule(150, 50.0)[-1] == pytest.approx(14.0)
    # 100 fit before the boundary at +10 s, 150 in the next minute, the last 50 from +70 s.
    assert fastest_schedule(300, 50.0)[-1] == pytest.approx(74.0)


def test_fastest_schedule_honours_requests_already_counted() -> None:
    times = fastest_schedule(5, 0.5, used_second=8)
    assert times == pytest.approx([0.0, 0.0, 0.5, 0.5, 0.5])
    assert fastest_schedule(1, 10.0, used_minute=150) == pytest.approx([50.0])
    with pytest.raises(ValueError):
        fastest_schedule(1, 60.0)


def test_fastest_schedule_never_exceeds_fixed_windows() -> None:
    rng = random.Random(7)
    for _ in range(50):
        phase = rng.uniform(0, 60)
        times = [T0 + phase + t for t in fastest_schedule(rng.randint(1, 400), phase)]
        per_second: dict[int, int] = {}
        per_minute: dict[int, int] = {}
        for t in times:
            second, minute = math.floor(t + 1e-9), math.floor((t + 1e-9) / 60)
            per_second[second] = per_second.get(second, 0) + 1
            per_minute[minute] = per_minute.get(minute, 0) + 1
        assert max(per_second.values()) <= 10
        assert max(per_minute.values()) <= 150


# ------------------------------------------------------------------------------ limiter alone


def test_without_headers_never_more_than_the_limits_in_any_sliding_window() -> None:
    rng = random.Random(3)
    clock = FakeClock(T0)
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    grants: list[float] = [answered(limiter)]
    for _ in range(2999):
        if rng.random() < 0.05:
            clock.sleep(rng.uniform(0, 20))  # idle gaps of up to 20 s between bursts
        limiter.acquire()
        grants.append(clock())
    assert max_in_span(grants, 1.0 + limiter.margin) <= 10
    assert max_in_span(grants, 60.0 + limiter.margin) <= 150
    assert len(set(grants)) < len(grants)  # bursts do happen: the test exercises the limits


def test_without_headers_150_sends_take_the_sliding_minimum_plus_margins() -> None:
    clock = FakeClock(T0)
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    answered(limiter)
    tickets = [limiter.acquire() for _ in range(149)]
    assert tickets == list(range(2, 151))
    elapsed = clock() - T0
    assert 14.0 <= elapsed <= 14.0 * (1 + limiter.margin) + limiter.spread + 1e-6


def test_first_burst_is_split_to_learn_the_phase() -> None:
    clock = FakeClock(T0)
    limiter = RateLimiter(clock=clock, sleep=clock.sleep, spread=0.1)
    grants = [answered(limiter) - T0]
    for _ in range(9):
        limiter.acquire()
        grants.append(clock() - T0)
    assert grants[:5] == [0.0] * 5
    assert grants[5:] == pytest.approx([0.1] * 5)


def test_concurrent_threads_never_exceed_the_limits() -> None:
    clock = FakeClock(T0)
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    grants: list[tuple[int, float]] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(40):
            ticket = limiter.acquire()
            with lock:
                grants.append((ticket, clock()))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(t for t, _ in grants) == list(range(1, 321))
    # Grant times are read under the limiter's lock; a sleeping thread may only push the
    # clock forward, so the sliding rule holds for the recorded times.
    assert max_in_span([at for _, at in grants], 1.0) <= 10


def test_penalize_blocks_until_retry_after_and_halves_the_share() -> None:
    clock = FakeClock(T0)
    limiter = RateLimiter(clock=clock, sleep=clock.sleep, spread=0.0, recovery=30.0)
    ticket = limiter.acquire()
    limiter.penalize(2.0, ticket)
    assert limiter.next_send_time() == pytest.approx(T0 + 2.0)
    grants = []
    for _ in range(10):
        limiter.acquire()
        grants.append(clock())
    assert grants[0] == pytest.approx(T0 + 2.0)
    # Right after a 429 only half the limit per second is used (another client is around).
    assert max_in_span(grants, 1.0) == 5
    # It comes back over the recovery period.
    clock.sleep(40.0)
    start = clock()
    for _ in range(10):
        limiter.acquire()
    assert clock() == pytest.approx(start)


class ThrottleOnce(Server):
    """A :class:`Server` that answers the ``nth`` arrival with a 1 s-window 429 (``Retry-After:
    1``), as jitter bunching a burst into one server second does."""

    def __init__(self, nth: int, **kwargs: float) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.nth, self.arrivals = nth, 0

    def hit(self, at: float) -> dict[str, str]:
        self.arrivals += 1
        if self.arrivals == self.nth:
            self.throttled += 1
            return {"retry-after": "1"}
        return super().hit(at)


def test_a_1s_window_429_late_in_a_busy_minute_does_not_stall() -> None:
    """Issue 17, cause 1: a ``Retry-After: 1`` around send 125 used to halve the minute's budget
    too, so the next send was planned for the next minute (~50 s later)."""
    clock = FakeClock(T0 + 0.5)
    sim = Simulation(clock, ThrottleOnce(125), latency=0.1)
    client = sim.add(150)
    sim.run()
    assert client.throttled == 1 and client.done == 150
    assert client.first_sent is not None
    assert client.last_done - client.first_sent < 20.0  # 15 s of bursts, 1 s Retry-After, slack
    assert max_in_span(sim.server.counted, 60.0) <= 150


def test_a_send_held_back_by_a_reduced_share_goes_as_the_share_regrows() -> None:
    """After a minute-window 429 late in a busy minute the reduced share allows no more sends
    this minute; as the share is regained the waiting send re-plans and goes once the regained
    share allows it (the minute limit reaches 126 of 150 at share 0.84: 10.2 s after the 429
    with ``recovery=30``), not at the next minute."""
    clock = FakeClock(T0)
    limiter = RateLimiter(clock=clock, sleep=clock.sleep, spread=0.0, recovery=30.0)
    answered(limiter)
    tickets = [limiter.acquire() for _ in range(124)]
    throttled_at = clock()
    assert throttled_at - T0 < 13.0
    limiter.penalize(2.0, tickets[-1])  # 124 counted: the 125th was throttled
    # After that long a wait the first goes alone (RateLimiter._pause_lead); answered at once.
    limiter.observe({}, limiter.acquire())
    limiter.acquire()
    waited = clock() - throttled_at
    assert 2.0 <= waited <= 10.5
    assert waited < 60.0 - (throttled_at - T0)  # i.e. long before the minute of the first send ends


def limiter_work_per_send(per_second: int, per_minute: int, requests: int) -> float:
    """Work the limiter does per request in a simulated run (no time measured): Python trace
    events (calls and lines, loop iterations included) in the ``ratelimit`` package, divided by
    the requests. A scan of the send history shows up as events per send growing with it."""
    package = os.path.join("hoodsync", "remote", "ratelimit")
    events = 0

    def local(frame: FrameType, event: str, arg: object) -> object:
        nonlocal events
        events += 1
        return local

    def tracer(frame: FrameType, event: str, arg: object) -> object:
        return local(frame, event, arg) if package in frame.f_code.co_filename else None

    sim = Simulation(FakeClock(T0 + 25.0), Server(per_second, per_minute), latency=0.005)
    sim.add(requests, per_second=per_second, per_minute=per_minute, wall=True)
    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        sim.run()
    finally:
        sys.settrace(previous)
    assert sim.server.throttled == 0
    return events / requests


def test_work_per_send_does_not_grow_with_the_sends_in_the_minute() -> None:
    """Issue 17: the send history was scanned on every acquire (and every answer), so the cost
    per send grew with the sends a large minute window holds (class D/E limits). 600 sends in one
    minute must not cost more per send than 150 (was 2.1 times as much)."""
    few = limiter_work_per_send(20, 3000, 150)
    many = limiter_work_per_send(20, 3000, 600)
    assert many < 1.4 * few


def test_work_per_send_does_not_grow_with_the_limits() -> None:
    """At 100 times the documented limits a send costs the limiter about what it costs at them
    (each answer speaks of every send in its window: recorded once, not once per send)."""
    documented = limiter_work_per_send(10, 150, 300)
    high = limiter_work_per_send(1000, 10000, 1500)
    assert high < 2.0 * documented


def test_observe_ignores_missing_or_malformed_headers() -> None:
    clock = FakeClock(T0)
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    ticket = limiter.acquire()
    limiter.observe({}, ticket)
    limiter.observe(
        {"x-ratelimit-limit": "ten", "x-ratelimit-remaining": "1", "x-ratelimit-reset": "1"}, ticket
    )
    limiter.observe({"X-RateLimit-Limit": "10"}, ticket)
    assert limiter.phase() == {"second": None, "minute": None}


def test_a_lower_limit_reported_by_the_server_wins() -> None:
    clock = FakeClock(T0)
    limiter = RateLimiter(per_second=10, per_minute=150, clock=clock, sleep=clock.sleep, spread=0.0)
    ticket = limiter.acquire()
    limiter.observe(
        {"x-ratelimit-limit": "4", "x-ratelimit-remaining": "3", "x-ratelimit-reset": "1"}, ticket
    )
    for _ in range(3):
        limiter.acquire()
    assert clock() == T0
    limiter.acquire()  # the fifth must wait for the window
    assert clock() > T0 + 0.9


def _minute_after_one_answer(margin: float, round_trip: float) -> tuple[float, float]:
    """The minute's phase (lo, hi) after one answer, ``round_trip`` s after its send, saying
    40 s (rounded up) until the minute window resets, i.e. at T0 + 60."""
    clock = FakeClock(T0 + 20.4)
    limiter = RateLimiter(clock=clock, sleep=clock.sleep, margin=margin)
    ticket = limiter.acquire()
    clock.advance(round_trip)
    limiter.observe(
        {"x-ratelimit-limit": "150", "x-ratelimit-remaining": "3", "x-ratelimit-reset": "40"},
        ticket,
    )
    minute = limiter.phase()["minute"]
    assert minute is not None
    return minute


def test_reset_of_the_minute_window_pins_its_phase() -> None:
    lo, hi = _minute_after_one_answer(margin=0.03, round_trip=0.0)
    assert hi - lo <= 1.0 + 0.03
    assert any(lo < T0 + k * 60 <= hi for k in range(-1, 3))


def test_an_answer_sooner_than_the_margin_bounds_the_arrival() -> None:
    """The server counted the request before it answered: a window it was counted in began by
    the answer, even where the margin (the worst jitter seen) would allow a later start."""
    lo, hi = _minute_after_one_answer(margin=0.2, round_trip=0.01)
    assert hi - lo <= 1.0 + 0.01 + 1e-9  # not 1 s + the 0.2 s margin


def test_remaining_from_another_client_reduces_our_budget() -> None:
    clock = FakeClock(T0 + 0.2)
    server = Server()
    for _ in range(6):  # someone else already used 6 of this second's 10
        server.hit(T0 + 0.1)
    limiter = RateLimiter(clock=clock, sleep=clock.sleep, spread=0.0)
    granted = []
    for _ in range(4):
        ticket = limiter.acquire()
        granted.append(clock())
        limiter.observe(server.hit(clock()), ticket)
    assert all(t < T0 + 1 for t in granted)
    ticket = limiter.acquire()  # the window is full: this one must wait for the next second
    assert clock() >= T0 + 1.0
    assert "x-ratelimit-limit" in server.hit(clock())
    assert server.throttled == 0


def test_a_retry_after_beyond_the_cap_is_refused_not_slept() -> None:
    clock = FakeClock(T0)
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    limiter.penalize(99_999.0, limiter.acquire())
    with pytest.raises(WaitTooLong) as info:
        limiter.acquire()
    assert info.value.header == "Retry-After" and info.value.cap == MAX_SERVER_WAIT == 120.0
    assert clock() == T0  # nothing slept


def test_a_reset_beyond_the_cap_with_nothing_remaining_is_refused_not_slept() -> None:
    clock = FakeClock(T0)
    limiter = RateLimiter(clock=clock, sleep=clock.sleep, max_wait=30.0)
    limiter.observe(
        {"x-ratelimit-limit": "150", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "99999"},
        limiter.acquire(),
    )
    with pytest.raises(WaitTooLong) as info:
        limiter.acquire()
    assert info.value.header == "X-RateLimit-Reset" and "30 s" in str(info.value)
    assert clock() == T0


def test_a_caller_bound_on_the_wait_refuses_a_later_slot_without_sleeping() -> None:
    """``acquire(within=...)``: a send the limits allow only after that is refused at once,
    nothing recorded as sent; one allowed within it is waited for as usual."""
    clock = FakeClock(T0)
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    limiter.observe(
        {"x-ratelimit-limit": "150", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "45"},
        limiter.acquire(),
    )
    with pytest.raises(NoSlotInTime) as info:
        limiter.acquire(within=10.0)
    assert info.value.within == 10.0 and 44.0 <= info.value.seconds <= 46.0
    assert clock() == T0  # nothing slept
    limiter.acquire(within=50.0)
    assert T0 + 45.0 <= clock() <= T0 + 46.0


def test_server_demands_within_the_cap_are_waited_for() -> None:
    clock = FakeClock(T0)
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    limiter.observe(
        {"x-ratelimit-limit": "150", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "45"},
        limiter.acquire(),
    )
    limiter.acquire()
    assert T0 + 45.0 <= clock() <= T0 + 46.0


# ------------------------------------------------------------------------------ waiting


class Waiter:
    """``limiter.acquire()`` in a thread, on a fake clock that never moves by itself and the
    limiter's real-time condition wait (no ``sleep`` given): only a change of the limiter's
    state can let it through. ``result`` is the ticket, or the exception raised."""

    def __init__(self, start: float, **limiter_args: float) -> None:
        self.fake = FakeClock(start)
        self._reading = threading.Event()
        self.limiter = RateLimiter(clock=self._clock, **limiter_args)  # type: ignore[arg-type]
        self.result: int | WaitTooLong | None = None
        self._thread = threading.Thread(target=self._acquire, daemon=True)

    def _clock(self) -> float:
        if threading.current_thread() is self._thread:
            self._reading.set()
        return self.fake()

    def _acquire(self) -> None:
        try:
            self.result = self.limiter.acquire()
        except WaitTooLong as exc:  # the test inspects it
            self.result = exc

    def start(self) -> None:
        """Start the thread and return once it is inside ``acquire``: it read the clock holding
        the limiter's lock, so whatever the test does under that lock happens while it waits."""
        self._thread.start()
        assert self._reading.wait(5.0)

    def finished(self) -> bool:
        """Whether the thread got through (a minute-long sleep would not have, by far)."""
        self._thread.join(5.0)
        return not self._thread.is_alive()


def test_a_permit_given_back_wakes_a_waiting_send_at_once() -> None:
    waiter = Waiter(T0, per_minute=1)
    first = waiter.limiter.acquire()
    waiter.start()  # the minute's one request is spent: it waits ~60 s
    waiter.limiter.discard(first)
    assert waiter.finished() and waiter.result == 2
    assert waiter.fake() == T0


def test_an_answer_wakes_a_waiting_send_to_plan_again() -> None:
    waiter = Waiter(T0 + 20.4, per_minute=1)
    first = waiter.limiter.acquire()
    waiter.start()  # without phase knowledge: the sliding rule, 60 s + margin from the first
    waiter.fake.set(T0 + 61.0)
    # The answer pins the minute window's end at T0 + 60 (give or take the margin): the send may
    # go now, 20 s before the sliding rule would have let it.
    waiter.limiter.observe(
        {"x-ratelimit-limit": "1", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "40"}, first
    )
    assert waiter.finished() and waiter.result == 2


def test_a_429_beyond_the_cap_fails_a_waiting_send_at_once() -> None:
    waiter = Waiter(T0, per_minute=1)
    first = waiter.limiter.acquire()
    waiter.start()
    waiter.limiter.penalize(99_999.0, first)
    assert waiter.finished() and isinstance(waiter.result, WaitTooLong)
    assert waiter.result.header == "Retry-After"


def test_a_send_held_back_by_a_probe_sleeps_once_not_in_slices() -> None:
    """With an injected ``sleep`` nothing can wake the limiter early, so a send held back by an
    unanswered probe sleeps, in one call, until the learnt windows allow it."""
    clock = FakeClock(T0 + 0.4)
    limiter = RateLimiter(clock=clock, sleep=clock.sleep, wall_clock=clock)
    answered(limiter)
    for _ in range(10):  # the rest of the first burst, then the probe just after the second
        limiter.acquire()
    assert clock.sleeps == [pytest.approx(0.6 + limiter.skew, abs=1e-3)]
    limiter.acquire()
    assert clock() - T0 == pytest.approx(0.4 + 1.0 + limiter.margin, abs=1e-3)
    assert len(clock.sleeps) == 2 and sum(clock.sleeps) == pytest.approx(clock() - T0 - 0.4)


# ------------------------------------------------------------------------------ simulated server


@pytest.mark.parametrize("phase", [0.05, 7.5, 21.9, 33.3, 44.7, 52.2])
def test_300_requests_at_300_ms_are_within_5_percent_of_the_fastest_schedule(phase: float) -> None:
    clock = FakeClock(T0 + phase)
    sim = Simulation(clock, Server(), latency=0.3, jitter=0.01, seed=int(phase * 10))
    client = sim.add(300, parallel=10)
    sim.run()
    assert sim.server.throttled == 0
    assert client.first_arrival is not None
    ideal = fastest_schedule(300, client.first_arrival % 60)[-1] + sim.latency
    actual = client.last_done - (T0 + phase)
    assert ideal / actual >= 0.95


@pytest.mark.parametrize("phase", [0.1, 5.45, 12.8, 30.6, 47.95])
def test_150_requests_lose_at_most_the_unknowable_first_window(phase: float) -> None:
    """Without prior knowledge of the sub-second phase nothing can be sent into the next second
    window before the current one is known to be over; after that no time is lost."""
    clock = FakeClock(T0 + phase)
    sim = Simulation(clock, Server(), latency=0.3, jitter=0.01, seed=int(phase * 10))
    client = sim.add(150, parallel=10)
    sim.run()
    assert sim.server.throttled == 0
    assert client.first_arrival is not None
    left_in_first_window = 1.0 - (client.first_arrival % 1.0)
    ideal = fastest_schedule(150, client.first_arrival % 60)[-1] + sim.latency
    actual = client.last_done - (T0 + phase)
    lost = actual - ideal
    limiter = client.limiter
    # The first request goes alone and the rest of the burst follows its answer: that costs
    # one round trip, or the first window's room when the round trip outlasts it.
    round_trip = sim.latency + sim.jitter
    first = round_trip if left_in_first_window > round_trip else 1.0
    assert lost <= (1.0 - left_in_first_window) + limiter.margin + limiter.spread + 0.05 + first


@pytest.mark.parametrize("seed", range(4))
def test_random_jitter_and_phase_never_exceed_the_server_windows(seed: int) -> None:
    rng = random.Random(seed)
    clock = FakeClock(T0 + rng.uniform(0, 60))
    sim = Simulation(clock, Server(), latency=rng.uniform(0.0, 0.4), jitter=0.025, seed=seed)
    sim.add(rng.randint(200, 400), parallel=rng.choice([1, 4, 10, 16]))
    sim.run()
    assert sim.server.throttled == 0


def test_two_limiters_on_one_account_settle_without_many_429s() -> None:
    clock = FakeClock(T0 + 12.3)
    sim = Simulation(clock, Server(), latency=0.3, jitter=0.01, seed=5)
    a = sim.add(200, parallel=4)
    b = sim.add(200, parallel=4)
    sim.run()
    assert a.done == b.done == 200
    assert a.throttled + b.throttled > 0  # they did collide...
    assert (a.throttled + b.throttled) / 400 < 0.15  # ...and backed off rather than fought


# ------------------------------------------------------------------------- wall-clock hypothesis

#: Start phases (seconds into the server's minute) for the wall-clock tests: window edges, the
#: span just before a boundary where a send may land in either window, and a random spread.
PHASES = sorted(
    {0.0, 0.001, 0.25, 0.5, 0.75, 0.86, 0.9, 0.95, 0.975, 0.99, 0.999, 44.95, 45.5, 59.93, 59.999}
    | {round(random.Random(11).uniform(0, 60), 3) for _ in range(25)}
)


def bench_ratio(sim: Simulation, client: Client, requests: int) -> float:
    """The bench's yardstick: the fastest schedule from where the first request was sent (plus
    the delay and latency of the last answer) over the time from that send to the last answer."""
    assert client.first_sent is not None
    ideal = fastest_schedule(requests, (client.first_sent - T0) % 60)[-1]
    return (ideal + sim.delay + sim.latency) / (client.last_done - client.first_sent)


def holds_boundary(bounds: tuple[float, float] | None, boundary: float, size: float = 1.0) -> bool:
    """``lo < boundary + k * size <= hi`` for some whole ``k``."""
    assert bounds is not None
    lo, hi = bounds
    nearest = boundary + math.floor((hi - boundary) / size + 1e-9) * size
    return nearest > lo - 1e-9


def run_wall(
    requests: int,
    start: float,
    *,
    latency: float = 0.3,
    offset: float = 0.0,
    delay: float = 0.0,
    parallel: int = 10,
    seed: int = 0,
    headers: bool = False,
) -> tuple[Simulation, Client]:
    """``requests`` sends with the wall-clock hypothesis, from ``start`` s into the server's
    minute. By default against a server without ``X-RateLimit-*`` headers: the hypothesis is
    what the limiter has for those; a server that reports its limits replaces it."""
    clock = FakeClock(T0 + start)
    server = Server(offset=offset, date=True, headers=headers)
    sim = Simulation(clock, server, latency=latency, jitter=0.01, seed=seed, delay=delay)
    client = sim.add(requests, parallel=parallel, wall=True)
    sim.run()
    assert client.done == requests
    return sim, client


@pytest.mark.parametrize(("latency", "least"), [(0.0, 0.95), (0.1, 0.88), (0.3, 0.88)])
def test_wall_aligned_150_requests_reach_95_percent_from_every_start_phase(
    latency: float, least: float
) -> None:
    """95 % of the fastest schedule from every start phase; with a long round trip less, as the
    first request goes alone (see ``_unanswered_lead``) and, without rate headers, nothing
    shows where the rest of that first burst landed."""
    low: dict[float, float] = {}
    for i, start in enumerate(PHASES):
        sim, client = run_wall(150, start, latency=latency, seed=i)
        assert sim.server.throttled == 0, start
        assert client.limiter.wall_aligned, start  # nothing contradicted the hypothesis
        ratio = bench_ratio(sim, client, 150)
        if ratio < least:
            low[start] = ratio
    assert low == {}


@pytest.mark.parametrize("start", [0.3, 21.95, 47.5, 59.98])
def test_wall_aligned_300_requests_use_the_minute_boundary(start: float) -> None:
    sim, client = run_wall(300, start)
    assert sim.server.throttled == 0
    assert bench_ratio(sim, client, 300) >= 0.9


@pytest.mark.parametrize(
    ("offset", "delay"), [(0.008, 0.0), (-0.008, 0.0), (0.0, 0.08), (-0.008, 0.09)]
)
def test_small_skew_and_delay_stay_inside_the_hypothesis(offset: float, delay: float) -> None:
    """Server clocks within ``skew`` (10 ms) of ours and send-to-count delays within ``delay``
    (100 ms) are what the hypothesis allows for: still no 429, still near the fastest schedule
    (the first request alone costs up to one round trip of 0.3 s here)."""
    for i, start in enumerate(PHASES[::3]):
        sim, client = run_wall(150, start, offset=offset, delay=delay, seed=i)
        assert sim.server.throttled == 0, start
        assert bench_ratio(sim, client, 150) >= 0.9, start


def test_bursts_go_right_after_each_whole_second() -> None:
    clock = FakeClock(T0 + 0.4)
    server = Server(date=True, headers=False)
    limiter = RateLimiter(clock=clock, sleep=clock.sleep, wall_clock=clock)
    grants = []
    for _ in range(30):
        ticket = limiter.acquire()
        grants.append(clock() - T0)
        limiter.observe(server.hit(clock()), ticket)  # answered at once
    assert grants[:10] == pytest.approx([0.4] * 10)
    assert grants[10:20] == pytest.approx([1.0 + limiter.skew] * 10, abs=1e-3)
    assert grants[20:] == pytest.approx([2.0 + limiter.skew] * 10, abs=1e-3)
    assert server.throttled == 0 and limiter.wall_aligned


def test_only_one_probe_of_the_hypothesis_is_unanswered_at_a_time() -> None:
    """After the first burst, only the hypothesis says a new window begins at the whole second;
    what was learnt (nothing yet: the sliding rule) would wait until 1 s + margin after the
    burst. One request goes as a probe; the rest wait for its answer (which never comes here),
    or for the learnt rule."""
    clock = FakeClock(T0 + 0.4)
    limiter = RateLimiter(clock=clock, sleep=clock.sleep, wall_clock=clock)
    grants = [answered(limiter) - T0]
    for _ in range(11):
        limiter.acquire()
        grants.append(clock() - T0)
    assert grants[:10] == pytest.approx([0.4] * 10)
    assert grants[10] == pytest.approx(1.0 + limiter.skew, abs=1e-3)
    assert grants[11] == pytest.approx(0.4 + 1.0 + limiter.margin, abs=1e-3)


def test_a_start_just_before_a_boundary_waits_for_it() -> None:
    """A send 30 ms before a whole second may be counted in either window: it waits for the
    next one rather than spend the budget of both."""
    clock = FakeClock(T0 + 0.97)
    limiter = RateLimiter(clock=clock, sleep=clock.sleep, wall_clock=clock)
    limiter.acquire()
    assert clock() - T0 == pytest.approx(1.0 + limiter.skew, abs=1e-3)


def test_a_server_reporting_its_limits_replaces_the_hypothesis() -> None:
    """The first answer with ``X-RateLimit-*`` headers ends the hypothesis: from then on only
    what the server says is trusted, so a server whose windows are not where the hypothesis
    puts them is never probed into a 429."""
    sim, client = run_wall(150, 0.5, offset=0.3, headers=True)
    assert client.throttled == 0
    assert not client.limiter.wall_aligned
    assert holds_boundary(client.limiter.phase()["second"], T0 + 0.3)


def test_a_429_caused_by_the_hypothesis_is_bounded() -> None:
    # Without rate headers nothing but a 429 can show the hypothesis wrong. The server's second
    # runs from .3 to .3; the first burst (at .5) and the hypothesis' next one (just after 1.0)
    # would land in the same window: the probe sent first is throttled.
    sim, client = run_wall(150, 0.5, offset=0.3)
    assert client.first_sent is not None
    assert client.throttled == 1  # the probe; the rest of the burst waited for its answer
    assert all(t <= client.first_sent + 1.1 for t in client.throttled_sends)
    assert not client.limiter.wall_aligned
    # The 429 was blamed on the hypothesis, not another client: the share was not halved, so
    # the run lost about the Retry-After second and the sliding-window margins, not half its
    # rate.
    ideal = fastest_schedule(150, (client.first_sent - T0) % 60)[-1] + sim.latency
    assert client.last_done - client.first_sent <= ideal + 2.5


OFFSET_STARTS = [0.1, 0.4, 0.7, 0.9, 0.99, 30.55]


@pytest.mark.parametrize("offset", [0.02, 0.05, 0.1, 0.2, 0.35, 0.5, 0.65, 0.8, 0.9, 0.95, 0.98])
def test_servers_off_the_wall_clock_cost_no_429_when_they_report_limits(offset: float) -> None:
    """Windows starting ``offset`` after our whole seconds, with rate headers: no request is
    throttled, the true phase is learnt, and the run stays near the fastest schedule."""
    for i, start in enumerate(OFFSET_STARTS):
        sim, client = run_wall(150, start, offset=offset, seed=i, headers=True)
        assert client.throttled == 0, start
        assert not client.limiter.wall_aligned, start
        assert holds_boundary(client.limiter.phase()["second"], T0 + offset), start
        assert bench_ratio(sim, client, 150) >= 0.9, start


@pytest.mark.parametrize("offset", [0.02, 0.2, 0.5, 0.8, 0.98])
def test_servers_off_the_wall_clock_without_headers_cost_at_most_one_429(offset: float) -> None:
    """Without rate headers, a wrong hypothesis costs at most one 429 (a probe) per run."""
    for i, start in enumerate(OFFSET_STARTS):
        _sim, client = run_wall(150, start, offset=offset, seed=i)
        assert client.throttled <= 1, start
        if client.throttled:
            assert not client.limiter.wall_aligned, start


def test_a_date_header_far_from_our_clock_drops_the_hypothesis() -> None:
    clock = FakeClock(T0 + 0.2)
    limiter = RateLimiter(clock=clock, sleep=clock.sleep, wall_clock=clock)
    ticket = limiter.acquire()
    clock.sleep(0.1)
    limiter.observe({"Date": email.utils.formatdate(T0 + 0.3, usegmt=True)}, ticket)
    assert limiter.wall_aligned
    ticket = limiter.acquire()
    clock.sleep(0.1)
    limiter.observe({"date": email.utils.formatdate(T0 - 2.0, usegmt=True)}, ticket)
    assert not limiter.wall_aligned  # the server's clock is more than a second behind ours
    # ...and the evidence-only model (the split first burst) takes over.
    assert limiter.phase() == {"second": None, "minute": None}


def test_a_wall_clock_jump_drops_the_hypothesis() -> None:
    clock = FakeClock(T0 + 0.2)
    shift = [0.0]
    limiter = RateLimiter(clock=clock, sleep=clock.sleep, wall_clock=lambda: clock() + shift[0])
    limiter.acquire()
    assert limiter.wall_aligned
    shift[0] = 0.4  # NTP stepped the wall clock
    limiter.acquire()
    assert not limiter.wall_aligned


def test_a_429_blamed_on_the_hypothesis_does_not_halve_the_share() -> None:
    clock = FakeClock(T0 + 0.5)
    limiter = RateLimiter(clock=clock, sleep=clock.sleep, wall_clock=clock, spread=0.0)
    answered(limiter)
    for _ in range(9):
        limiter.acquire()
    probe = limiter.acquire()  # only the hypothesis says a new window has begun
    assert clock() == pytest.approx(T0 + 1.0 + limiter.skew, abs=1e-3)
    limiter.penalize(1.0, probe)
    assert not limiter.wall_aligned
    grants = []
    for _ in range(10):
        limiter.acquire()
        grants.append(clock())
    assert grants == pytest.approx([clock()] * 10)  # the whole limit at once: share not halved
    # A 429 for a request the learnt model allowed halves the share as before.
    clock.sleep(5.0)
    limiter.penalize(1.0, limiter.acquire())
    grants = []
    for _ in range(10):
        limiter.acquire()
        grants.append(clock())
    assert max_in_span(grants, 1.0) == 5


def test_the_wall_clock_defaults_to_real_time_only_beside_a_real_clock() -> None:
    assert RateLimiter().wall_aligned
    assert RateLimiter(clock=time.time).wall_aligned
    assert not RateLimiter(wall_clock=None).wall_aligned
    fake = FakeClock(T0)
    assert not RateLimiter(clock=fake, sleep=fake.sleep).wall_aligned
