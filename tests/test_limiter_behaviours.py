"""The client's limiter against every server behaviour of ``bench/apply_throughput.py``.

The same discrete-event replay as ``bench/limiter_sim.py`` (imported from there): the emulator's
own server limiters (fixed windows with a phase or an offset clock, a sliding log, token buckets,
jitter, no headers), judging requests as they arrive, on a fake clock — so nothing waits and
nothing depends on the machine's speed. The ratios are simulated makespans over the fastest
schedule under each server's own rule, not timings.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from limiter_sim import simulate  # noqa: E402

from hoodsync.remote.ratelimit import RateLimiter  # noqa: E402
from hoodsync.remote.ratelimit.limiter import MAX_MARGIN  # noqa: E402
from hoodsync.remote.ratelimit.windows import (  # noqa: E402
    Caps,
    Send,
    Window,
    count_in,
    forgets_own_sends,
    learn_from_report,
)

#: Seconds into the server's minute: mid-second starts, two of them in its last 15 s.
STARTS = (7.31, 25.5, 47.77, 52.3, 58.9)

QUIET = ("aligned", "phase", "clock-behind", "sliding", "no-headers")


@pytest.mark.parametrize("behaviour", QUIET)
@pytest.mark.parametrize("size", [150, 300])
def test_quiet_servers_are_never_throttled_and_near_the_fastest_schedule(
    behaviour: str, size: int
) -> None:
    for start in STARTS:
        run = simulate(behaviour, size, start=start)
        assert run.throttled == 0, start
        assert run.ratio <= 1.10, start


@pytest.mark.parametrize("size", [150, 300])
def test_a_token_bucket_server_is_never_throttled(size: int) -> None:
    for start in STARTS:
        run = simulate("bucket", size, start=start)
        assert run.throttled == 0, start
        assert run.ratio <= 1.5, start


def test_jitter_costs_at_most_one_429_per_run() -> None:
    for seed, start in enumerate(STARTS):
        run = simulate("jitter", 150, start=start, seed=seed)
        assert run.throttled <= 1, start
        assert run.ratio <= 1.25, start


def test_a_sliding_log_is_not_taken_for_fixed_windows() -> None:
    """Two halves of a burst 0.1 s apart, then a send 1.03 s after the first half: a sliding log
    still counts the second half (6th), fixed windows would have started afresh (1st)."""
    sends = [Send(i, 0.0) for i in range(5)] + [Send(5 + i, 0.1) for i in range(5)]
    sends.append(Send(10, 1.03))
    assert not forgets_own_sends(sends, 10, 6, size=1.0, margin=0.03)
    assert forgets_own_sends(sends, 10, 1, size=1.0, margin=0.03)
    # A send less than a margin after the others proves nothing either way.
    close = [Send(0, 0.0), Send(1, 0.02)]
    assert not forgets_own_sends(close, 1, 1, size=1.0, margin=0.03)


class _Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_the_margin_widens_under_jitter_and_narrows_when_calm() -> None:
    clock = _Clock()
    limiter = RateLimiter(10**6, 10**9, clock=clock, sleep=clock.sleep, margin=0.03)
    for i in range(40):  # round trips of 50 ms and 450 ms: 400 ms of spread
        ticket = limiter.acquire()
        clock.now += 0.45 if i % 2 else 0.05
        limiter.observe({}, ticket)
    assert limiter.margin == pytest.approx(MAX_MARGIN)
    for _ in range(100):  # calm: 50-60 ms
        ticket = limiter.acquire()
        clock.now += 0.05 + (0.01 if _ % 2 else 0.0)
        limiter.observe({}, ticket)
    assert limiter.margin == pytest.approx(0.03)


def test_the_first_request_goes_alone_until_answered() -> None:
    """Before any answer nothing shows how much of the window is left (another client may have
    spent it): one request goes, the rest of the burst waits for its answer — at most a second
    when none comes."""
    clock = _Clock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep, wall_clock=None)
    first = limiter.acquire()
    assert limiter.next_send_time() == pytest.approx(clock.now + 1.0)
    clock.now += 0.05
    limiter.observe(
        {"x-ratelimit-limit": "10", "x-ratelimit-remaining": "9", "x-ratelimit-reset": "1"}, first
    )
    assert limiter.next_send_time() == pytest.approx(clock.now)


def test_after_a_pause_the_first_request_goes_alone_again() -> None:
    """What the answers showed goes stale: after a pause (a person reading the plan before
    approving it, a minute's wait) another client may have spent the window, so the next burst
    starts with one request alone again, and the rest follow its answer; in a busy run the
    answers keep it current."""
    clock = _Clock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep, wall_clock=None)
    answer = {"x-ratelimit-limit": "10", "x-ratelimit-remaining": "9", "x-ratelimit-reset": "1"}
    limiter.observe(answer, limiter.acquire())
    second = limiter.acquire()
    assert limiter.next_send_time() == pytest.approx(clock.now)  # an answer speaks for the burst
    clock.now += 0.05
    limiter.observe(dict(answer, **{"x-ratelimit-remaining": "8"}), second)
    clock.now += 30.0  # the pause
    lead = limiter.acquire()
    assert limiter.next_send_time() == pytest.approx(clock.now + 1.0)
    clock.now += 0.05
    limiter.observe(dict(answer, **{"x-ratelimit-remaining": "5"}), lead)
    assert limiter.next_send_time() < clock.now + 0.5  # its answer lets the rest go


def test_another_client_keeps_spending_the_window_at_its_pace() -> None:
    """Remaining shows requests that are not ours: the budget it leaves shrinks at the other
    client's pace (here 3 a second), not only by our own sends."""
    clock = _Clock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep, wall_clock=None, spread=0.0)
    ticket = limiter.acquire()
    # Our first request was the 4th in its window: three were someone else's; 6 remain.
    headers = {"x-ratelimit-limit": "10", "x-ratelimit-remaining": "6", "x-ratelimit-reset": "1"}
    limiter.observe(headers, ticket)
    for _ in range(4):  # 4 of the 6 at once
        limiter.acquire()
    assert clock.now == pytest.approx(1_000.0)
    assert limiter.next_send_time() == pytest.approx(1_000.0)  # 2 left right now...
    clock.now += 0.5
    # ...but half a second later the other client has taken them (ceil(3/s x 0.5 s) = 2).
    assert limiter.next_send_time() > clock.now


def test_with_another_client_single_sends_learn_the_phase_for_a_few_seconds_only() -> None:
    """One send per quarter second puts one on each side of a fixed window's boundary within
    a second or two; a server that shows no phase (a sliding log) must not hold the run at a
    quarter of its pace for good."""
    clock = _Clock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep, wall_clock=None)
    headers = {"x-ratelimit-limit": "10", "x-ratelimit-remaining": "6", "x-ratelimit-reset": "1"}
    limiter.observe(headers, limiter.acquire())  # three of the window's four were not ours
    assert limiter.next_send_time() == pytest.approx(clock.now + 0.25)
    clock.now += 10.0  # no drop in the count showed a phase meanwhile
    limiter.observe(headers, limiter.acquire())
    assert limiter.next_send_time() == pytest.approx(clock.now)


@pytest.mark.parametrize("size", [150, 300])
def test_another_client_on_the_account_costs_at_most_two_429s(size: int) -> None:
    """The emulator's background client spends 3 requests a second of the account. A run's
    first request goes alone (it meets a 429 when the other client spent the minute before the
    run began, which nothing could have shown), and a minute the other client fills between two
    of our bursts can throttle the next burst's first request: nothing more."""
    for start in STARTS:
        run = simulate("background", size, start=start)
        assert run.throttled <= 2, start


@pytest.mark.parametrize("size", [150, 300])
@pytest.mark.parametrize("latency", [0.002, 0.02])
def test_another_client_on_the_account_leaves_us_near_the_fastest_schedule(
    size: int, latency: float
) -> None:
    """The 1 s phase is learnt from drops in the count within the first seconds, so that every
    window is used from its start: a client that kept bursting on one side of a boundary (its
    budgets holding for a whole second each time) lost a third of its pace, and then, once the
    other client had filled the minute, a whole minute."""
    for start in STARTS:
        run = simulate("background", size, start=start, latency=latency)
        assert run.ratio <= 1.10, start


def test_a_round_trip_hiccup_keeps_the_learnt_minute() -> None:
    """A round trip far longer than the others widens the margin; the minute's phase, learnt
    from Reset to about a second, stays known (forgetting it would hold request 151 back a whole
    minute instead of until the boundary)."""
    clock = _Clock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep, wall_clock=None)
    minute = {"x-ratelimit-limit": "150", "x-ratelimit-remaining": "0", "x-ratelimit-reset": "21"}
    ticket = limiter.acquire()
    clock.now += 0.002
    limiter.observe(minute, ticket)
    assert limiter.phase()["minute"] is not None
    ticket = limiter.acquire()
    clock.now += 0.2  # a hiccup: 200 ms where the first took 2 ms
    limiter.observe({}, ticket)
    assert limiter.margin > 0.1
    bounds = limiter.phase()["minute"]
    assert bounds is not None and bounds[1] - bounds[0] < 2.0


# --- what an answer says about earlier sends (windows.Caps) ----------------------------------


def _brute_bound(added: list[tuple[float, float]], at: float) -> float | None:
    """The tightest of every recorded bound that applies to a send at ``at``."""
    applicable = [a for b, a in added if b > at]
    return min(applicable) if applicable else None


def test_caps_keep_the_tightest_bound_for_every_send() -> None:
    import random

    rng = random.Random(17)
    for _ in range(200):
        caps = Caps()
        added: list[tuple[float, float]] = []
        for _ in range(rng.randint(1, 40)):
            entry = (round(rng.uniform(0, 10), 2), round(rng.uniform(0, 10), 2))
            added.append(entry)
            caps.add(*entry)
        # Kept: only entries no other implies, both lists ascending.
        assert caps.befores == sorted(set(caps.befores))
        assert caps.at_mosts == sorted(set(caps.at_mosts))
        for _ in range(30):
            at = round(rng.uniform(-1, 11), 2)
            assert caps.bound(at, -math.inf) == _brute_bound(added, at)
            above = round(rng.uniform(0, 10), 2)
            got = caps.bound(at, above)
            # A bound that contradicts what is known of the send (not above ``above``) is
            # ignored; what is returned is always one that was recorded for that send.
            assert got is None or (got > above and any(b > at and a == got for b, a in added))


def test_caps_forget_only_entries_about_forgotten_sends() -> None:
    caps = Caps()
    for before, at_most in ((1.0, 0.2), (2.0, 1.1), (3.0, 2.4)):
        caps.add(before, at_most)
    caps.forget_before(2.0)
    assert caps.befores == [2.0, 3.0]
    assert caps.bound(1.5, -math.inf) == 1.1  # a send at 1.5 is still bounded by (2.0, 1.1)


def test_an_answer_bounds_the_windows_of_every_earlier_send_in_one_entry() -> None:
    """Sends that surely arrived before a window began were counted in an earlier one: after
    the answer that shows it, none of them is charged to that window, however many there are
    (class E: hundreds a second), and the answer is recorded once, not once per send."""
    window = Window(1.0, 350, 0.03)
    sends = [Send(i + 1, 0.2 + i * 0.001) for i in range(300)]  # a burst of 300 at 0.2-0.5 s
    sends.append(Send(301, 0.9))  # answered as the first in its window
    sends[-1].answered = True
    learn_from_report(sends, 300, [window], counted=1, reset=1, margin=0.03, answered=0.95)
    assert window.bounds is not None and len(window.caps.befores) == 1
    k = window.indices_of(sends[-1])[-1]
    assert all(k not in window.indices_of(s) for s in sends[:-1])
    assert count_in(window, sends, k) == 1


@pytest.mark.parametrize(("lead", "hold"), [(True, False), (False, False), (True, True)])
@pytest.mark.parametrize("start", [4.06, 25.5, 31.87, 59.6])
def test_informed_client_of_the_jitter_floor_keeps_the_servers_rule(
    start: float, lead: bool, hold: bool
) -> None:
    """``bench/limiter_bound.py``'s informed client (the floor RESULTS.md quotes under jitter)
    is a floor only if it is itself allowed: every arrival it causes is one the jitter
    behaviour's server limiter counts, and it never beats the yardstick."""
    import random

    from apply_throughput import BEHAVIOURS
    from limiter_bound import informed_run
    from limiter_sim import EPOCH

    from hoodsync.emulator.app import EmulatorConfig, make_hood_limiter

    config = EmulatorConfig(rate_burst=10, rate_minute=150, **BEHAVIOURS["jitter"])
    rng = random.Random(7)
    for _ in range(5):
        run = informed_run(300, start, rng, lead=lead, hold=hold)
        server = make_hood_limiter(config, lambda: 0.0)
        refused = [t - EPOCH for t in sorted(run.arrivals) if not server.hit_at("one", t).allowed]
        assert refused == []
        assert len(run.arrivals) == 300
        assert run.makespan >= run.fastest
        assert run.ready_to_end >= run.makespan
