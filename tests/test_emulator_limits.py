"""Rate limits and the concurrency gate: over a real socket with a fake clock, and unit-level."""

from __future__ import annotations

import threading
from collections.abc import Callable

import httpx
import pytest
from conftest import FAKE_EPOCH, EmulatorHandle, FakeClock

from hoodsync.emulator.limits import ConcurrencyGate, FixedWindowLimiter

MINUTE_START = FAKE_EPOCH - 0.25  # 2026-01-01 00:00:00 exactly: a minute boundary


def rate_headers(response: httpx.Response) -> tuple[int, int, int]:
    return (
        int(response.headers["X-RateLimit-Limit"]),
        int(response.headers["X-RateLimit-Remaining"]),
        int(response.headers["X-RateLimit-Reset"]),
    )


@pytest.fixture
def limited(make_emulator: Callable[..., EmulatorHandle], fake_clock: FakeClock) -> EmulatorHandle:
    """The documented limits, 10/s and 150/min, on a fake clock."""
    return make_emulator(clock=fake_clock)


def test_eleventh_request_inside_one_second_is_429(
    limited: EmulatorHandle, fake_clock: FakeClock
) -> None:
    hood = limited.hood_client()
    fake_clock.set(MINUTE_START + 0.5)
    for i in range(10):
        response = hood.get("/campaigns")
        assert response.status_code == 200
        assert rate_headers(response) == (10, 9 - i, 1)
    throttled = hood.get("/campaigns")
    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"] == "1"
    assert not [h for h in throttled.headers if h.lower().startswith("x-ratelimit")]
    assert throttled.json()["code"] == 429 and "trace_id" in throttled.json()
    fake_clock.advance(0.5)  # the next fixed second starts
    again = hood.get("/campaigns")
    assert again.status_code == 200
    assert rate_headers(again) == (10, 9, 1)


def test_throttled_requests_are_not_executed(
    limited: EmulatorHandle, fake_clock: FakeClock
) -> None:
    hood = limited.hood_client()
    body = {"name": "x", "messages": [{"name": "m", "channel": "push", "push": {}}]}
    statuses = [hood.post("/campaigns", json=body).status_code for _ in range(12)]
    assert statuses == [201] * 10 + [429] * 2
    fake_clock.advance(1)
    assert hood.get("/campaigns").json()["total"] == 10


def test_151st_request_inside_one_minute_is_429(
    make_emulator: Callable[..., EmulatorHandle], fake_clock: FakeClock
) -> None:
    emu = make_emulator(clock=fake_clock, rate_burst=1000)
    hood = emu.hood_client()
    fake_clock.set(MINUTE_START + 20.5)
    for _ in range(149):
        assert hood.get("/campaigns").status_code == 200
    last = hood.get("/campaigns")
    assert last.status_code == 200
    assert rate_headers(last) == (150, 0, 40)  # 39.5 s left, rounded up
    throttled = hood.get("/campaigns")
    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"] == "40"
    fake_clock.advance(39.4)
    assert hood.get("/campaigns").headers["Retry-After"] == "1"
    fake_clock.advance(0.1)  # 00:01:00.000: a new minute window
    fresh = hood.get("/campaigns")
    assert fresh.status_code == 200
    assert rate_headers(fresh) == (150, 149, 60)  # throttled requests were not counted


def test_headers_describe_the_binding_window(
    make_emulator: Callable[..., EmulatorHandle], fake_clock: FakeClock
) -> None:
    emu = make_emulator(clock=fake_clock, rate_burst=10, rate_minute=15)
    hood = emu.hood_client()
    fake_clock.set(MINUTE_START + 30.5)
    # After 1 request: second window has 9 left, minute 14 -> second window binds.
    assert rate_headers(hood.get("/campaigns")) == (10, 9, 1)
    fake_clock.advance(1)
    for _ in range(4):
        hood.get("/campaigns")
    # 5 in the minute (10 left), 4 in this second (6 left): second binds.
    fake_clock.advance(1)
    # 1 in this second -> 9 left; minute 6 in -> 9 left: a tie goes to the minute window.
    assert rate_headers(hood.get("/campaigns")) == (15, 9, 28)
    # 2nd in this second -> 8 left; minute 7 in -> 8 left: tie again.
    assert rate_headers(hood.get("/campaigns")) == (15, 8, 28)
    fake_clock.advance(1)
    for _ in range(7):
        hood.get("/campaigns")
    fake_clock.advance(1)
    # Minute has 1 left, second has 9 left: minute binds.
    assert rate_headers(hood.get("/campaigns")) == (15, 0, 26)


def test_every_authenticated_request_counts_but_401s_do_not(
    limited: EmulatorHandle, fake_clock: FakeClock
) -> None:
    hood = limited.hood_client()
    anonymous = limited.hood_client(authenticated=False)
    wrong = limited.hood_client("wrong-token")
    for _ in range(8):
        assert anonymous.get("/campaigns").status_code == 401
        assert wrong.get("/campaigns").status_code == 401
    # Failing requests (400, 404) count and carry the headers too.
    bad = hood.get("/campaigns/nope")
    assert bad.status_code == 400 and rate_headers(bad)[1] == 9
    missing = hood.get("/nothing")
    assert missing.status_code == 404 and rate_headers(missing)[1] == 8


def test_limits_are_per_account_and_per_api(limited: EmulatorHandle, fake_clock: FakeClock) -> None:
    hood = limited.hood_client()
    for _ in range(10):
        hood.get("/campaigns")
    assert hood.get("/campaigns").status_code == 429
    other_token, _ = limited.store.ensure_account("other")
    assert limited.hood_client(other_token).get("/campaigns").status_code == 200
    assert limited.falconyte_client().get("/email/campaigns").status_code == 200


def test_falconyte_429_carries_only_retry_after(
    make_emulator: Callable[..., EmulatorHandle], fake_clock: FakeClock
) -> None:
    emu = make_emulator(clock=fake_clock, falconyte_rate_burst=2, falconyte_rate_minute=100)
    fy = emu.falconyte_client()
    assert [fy.get("/email/campaigns").status_code for _ in range(3)] == [200, 200, 429]
    throttled = fy.get("/email/campaigns")
    assert throttled.headers["Retry-After"] == "1"
    assert throttled.json()["error"]["code"] == "TOO_MANY_REQUESTS"
    assert not [h for h in throttled.headers if h.lower().startswith("x-ratelimit")]


def test_concurrency_limit_answers_retry_after_minus_one(
    make_emulator: Callable[..., EmulatorHandle], fake_clock: FakeClock
) -> None:
    entered = threading.Event()
    release = threading.Event()
    calls: list[float] = []

    def blocking_sleep(seconds: float) -> None:
        calls.append(seconds)
        if len(calls) == 1:  # only the first request is held inside the server
            entered.set()
            assert release.wait(5)

    emu = make_emulator(
        clock=fake_clock, sleep=blocking_sleep, latency_ms=1, max_concurrent=1, rate_burst=100
    )
    results: list[int] = []
    worker = threading.Thread(
        target=lambda: results.append(emu.hood_client().get("/campaigns").status_code)
    )
    worker.start()
    assert entered.wait(5)
    # The slot is taken: a second request is turned away without being executed.
    second = emu.hood_client().get("/campaigns")
    release.set()
    worker.join(5)
    assert second.status_code == 429
    assert second.headers["Retry-After"] == "-1"
    assert results == [200]
    assert emu.hood_client().get("/campaigns").status_code == 200  # the slot was given back


# -- unit level ----------------------------------------------------------------------------------


def test_limiter_windows_are_aligned_to_the_clock() -> None:
    now = [59.9]
    limiter = FixedWindowLimiter(2, 3, lambda: now[0])
    assert limiter.hit("a").allowed and limiter.hit("a").allowed
    refused = limiter.hit("a")
    assert not refused.allowed and refused.retry_after == 1
    assert refused.headers() == [("Retry-After", "1")]
    now[0] = 60.0  # both windows reset at the boundary, not 1 s / 60 s after the first request
    decision = limiter.hit("a")
    assert decision.allowed and (decision.limit, decision.remaining, decision.reset) == (2, 1, 1)
    assert limiter.hit("b").allowed  # keys are independent


def test_limiter_retry_after_uses_the_later_window_when_both_are_full() -> None:
    now = [120.2]
    limiter = FixedWindowLimiter(3, 3, lambda: now[0])
    for _ in range(3):
        assert limiter.hit("k").allowed
    refused = limiter.hit("k")
    assert not refused.allowed and refused.retry_after == 60  # 59.8 s rounded up


def test_concurrency_gate() -> None:
    gate = ConcurrencyGate(2)
    assert gate.try_enter("a") and gate.try_enter("a")
    assert not gate.try_enter("a")
    assert gate.try_enter("b")
    gate.leave("a")
    assert gate.try_enter("a")
    unlimited = ConcurrencyGate(None)
    assert all(unlimited.try_enter("x") for _ in range(100))


# -- server behaviours beyond the documented contract ----------------------------------------------

import email.utils  # noqa: E402  (this part of the module only)
from collections import Counter  # noqa: E402

from hoodsync.emulator.app import EmulatorConfig, make_hood_limiter  # noqa: E402
from hoodsync.emulator.limits import (  # noqa: E402
    RateLimiter,
    SlidingLogLimiter,
    TokenBucketLimiter,
    fastest_arrivals,
    make_limiter,
)

M = MINUTE_START  # shorter in the arithmetic below


def test_shifted_windows_start_at_the_phase_not_at_whole_seconds(
    make_emulator: Callable[..., EmulatorHandle], fake_clock: FakeClock
) -> None:
    emu = make_emulator(clock=fake_clock, window_phase_s=23.37)
    hood = emu.hood_client()
    fake_clock.set(M + 0.30)  # second window [M - 0.63, M + 0.37), minute [M - 36.63, M + 23.37)
    assert rate_headers(hood.get("/campaigns")) == (10, 9, 1)
    for _ in range(9):
        assert hood.get("/campaigns").status_code == 200
    fake_clock.set(M + 0.36)
    assert hood.get("/campaigns").status_code == 429  # still the same 1 s window
    fake_clock.set(M + 0.38)  # an aligned limiter would have reset at M + 0.0, not here
    assert rate_headers(hood.get("/campaigns")) == (10, 9, 1)
    emu_minute = make_emulator(clock=fake_clock, window_phase_s=23.37, rate_burst=1000)
    assert rate_headers(emu_minute.hood_client().get("/campaigns")) == (150, 149, 23)


def test_a_phase_of_60_is_aligned_and_the_phase_is_for_fixed_windows_only() -> None:
    now = [M + 59.5]
    limiter = make_hood_limiter(EmulatorConfig(window_phase_s=60.0), lambda: now[0])
    assert limiter.hit("k").reset == 1  # the 1 s window binds: it ends at M + 60
    with pytest.raises(ValueError, match="window_phase_s"):
        EmulatorConfig(rate_algorithm="sliding", window_phase_s=0.37)
    for bad in (-0.1, 60.5, float("nan")):
        with pytest.raises(ValueError, match="window_phase_s"):
            EmulatorConfig(window_phase_s=bad)


def test_a_server_clock_behind_ours_moves_windows_timestamps_and_date(
    make_emulator: Callable[..., EmulatorHandle], fake_clock: FakeClock
) -> None:
    emu = make_emulator(clock=fake_clock, clock_offset_s=-0.6, rate_burst=1000)
    hood = emu.hood_client()
    fake_clock.set(M + 0.3)  # the server reads M - 0.3: the last second of the previous minute
    first = hood.post("/campaigns", json={"name": "x", "messages": [{"channel": "push"}]})
    assert first.status_code == 201
    assert rate_headers(first) == (150, 149, 1)
    assert first.json()["create_time"] == "2025-12-31 23:59:59"
    assert email.utils.parsedate_to_datetime(first.headers["Date"]).timestamp() == M - 1
    fake_clock.set(M + 0.61)  # the server's new minute starts 0.6 s after ours
    assert rate_headers(hood.get("/campaigns")) == (150, 149, 60)


def test_without_an_offset_the_app_adds_no_date_header(
    make_emulator: Callable[..., EmulatorHandle], fake_clock: FakeClock
) -> None:
    from hoodsync.emulator.sandbox import SANDBOX_HOOD_URL, open_sandbox

    box = open_sandbox(":memory:", clock=fake_clock)
    headers = {"Authorization": f"Bearer {box.hood_token}"}
    with httpx.Client(transport=box.hood_transport, headers=headers) as client:
        assert "date" not in client.get(SANDBOX_HOOD_URL + "/campaigns").headers
    box.close()


def test_sliding_log_counts_the_last_second_and_minute_from_each_request() -> None:
    now = [M + 0.5]
    limiter = SlidingLogLimiter(2, 3, lambda: now[0])
    assert (limiter.hit("k").remaining, limiter.hit("k").remaining) == (1, 0)
    now[0] = M + 1.2  # a new fixed second, but both requests are less than 1 s old
    refused = limiter.hit("k")
    assert not refused.allowed and refused.retry_after == 1
    now[0] = M + 1.5  # the first two leave the 1 s window together
    decision = limiter.hit("k")
    # 3 in the minute now: the minute binds, and frees a slot when the first is 60 s old.
    assert (decision.limit, decision.remaining, decision.reset) == (3, 0, 59)
    now[0] = M + 60.4
    assert limiter.hit("k").retry_after == 1  # at M + 60.5 the first leaves the minute
    now[0] = M + 60.5
    assert limiter.hit("k").allowed


def test_sliding_log_over_the_socket(
    make_emulator: Callable[..., EmulatorHandle], fake_clock: FakeClock
) -> None:
    emu = make_emulator(clock=fake_clock, rate_algorithm="sliding")
    hood = emu.hood_client()
    fake_clock.set(M + 0.5)
    assert [hood.get("/campaigns").status_code for _ in range(11)] == [200] * 10 + [429]
    fake_clock.set(M + 1.2)
    assert hood.get("/campaigns").status_code == 429  # fixed windows would allow it
    fake_clock.set(M + 1.5)
    assert rate_headers(hood.get("/campaigns")) == (10, 9, 1)


def test_token_bucket_refills_continuously() -> None:
    now = [M + 0.5]
    limiter = TokenBucketLimiter(10, 150, lambda: now[0])  # 10 at 10/s and 150 at 2.5/s
    decisions = [limiter.hit("k") for _ in range(11)]
    assert [d.allowed for d in decisions] == [True] * 10 + [False]
    assert (decisions[0].limit, decisions[0].remaining, decisions[0].reset) == (10, 9, 1)
    assert decisions[-1].retry_after == 1  # one token in 0.1 s
    now[0] += 0.1
    assert limiter.hit("k").allowed and not limiter.hit("k").allowed
    # The 150-token bucket: 11 taken; after 20 s it is full again, with 10 in the small one.
    now[0] += 20
    granted = 0
    while limiter.hit("k").allowed:
        granted += 1
    assert granted == 10
    big = TokenBucketLimiter(1000, 150, lambda: now[0], minute_refill=1.0)
    assert sum(big.hit("k").allowed for _ in range(151)) == 150
    refused = big.hit("k")
    assert not refused.allowed and refused.retry_after == 1
    now[0] += 1.0
    last = big.hit("k")
    assert last.allowed and (last.limit, last.remaining, last.reset) == (150, 0, 150)


def test_token_bucket_over_the_socket_and_its_options(
    make_emulator: Callable[..., EmulatorHandle], fake_clock: FakeClock
) -> None:
    emu = make_emulator(
        clock=fake_clock, rate_algorithm="bucket", rate_burst=1000, bucket_minute_refill=0.5
    )
    hood = emu.hood_client()
    fake_clock.set(M + 0.5)
    statuses = [hood.get("/campaigns").status_code for _ in range(151)]
    assert statuses == [200] * 150 + [429]
    fake_clock.advance(2.0)  # one token at 0.5/s
    assert rate_headers(hood.get("/campaigns")) == (150, 0, 300)
    with pytest.raises(ValueError, match="bucket_minute_refill"):
        EmulatorConfig(bucket_minute_refill=1.0)  # fixed windows have no bucket
    for bad in (0.0, -1.0, float("inf")):
        with pytest.raises(ValueError, match="bucket_second_refill"):
            EmulatorConfig(rate_algorithm="bucket", bucket_second_refill=bad)


def test_jitter_delays_each_request_both_ways_seeded(
    make_emulator: Callable[..., EmulatorHandle], fake_clock: FakeClock
) -> None:
    emu = make_emulator(
        clock=fake_clock,
        sleep=fake_clock.sleep,
        rate_burst=1000,
        jitter_min_ms=200,
        jitter_max_ms=200,
    )
    fake_clock.set(M + 59.9)
    # Counted after its inbound delay, at M + 60.1: the new minute (the minute binds here).
    assert rate_headers(emu.hood_client().get("/campaigns")) == (150, 149, 60)
    assert fake_clock.sleeps == [0.2, 0.2]
    draws = []
    for _ in range(2):
        clock = FakeClock()
        seeded = make_emulator(
            clock=clock, sleep=clock.sleep, jitter_min_ms=20, jitter_max_ms=250, seed=7
        )
        hood = seeded.hood_client()
        for _ in range(5):
            hood.get("/campaigns")
        draws.append(clock.sleeps)
    assert draws[0] == draws[1] and len(draws[0]) == 10
    assert all(0.02 <= s <= 0.25 for s in draws[0]) and len(set(draws[0])) == 10
    with pytest.raises(ValueError, match="jitter_min_ms"):
        EmulatorConfig(jitter_min_ms=300, jitter_max_ms=250)


def test_jitter_does_not_change_which_requests_fail(
    make_emulator: Callable[..., EmulatorHandle], fake_clock: FakeClock
) -> None:
    outcomes = []
    for jitter in (0.0, 5.0):
        emu = make_emulator(
            clock=fake_clock,
            sleep=fake_clock.sleep,
            rate_burst=1000,
            rate_minute=100_000,
            fail_rate=0.5,
            seed=11,
            jitter_max_ms=jitter,
        )
        hood = emu.hood_client()
        outcomes.append([hood.get("/campaigns").status_code for _ in range(20)])
    assert outcomes[0] == outcomes[1] and 500 in outcomes[0] and 200 in outcomes[0]


def test_rate_headers_can_be_left_out(
    make_emulator: Callable[..., EmulatorHandle], fake_clock: FakeClock
) -> None:
    emu = make_emulator(clock=fake_clock, rate_headers=False)
    hood = emu.hood_client()
    answers = [hood.get("/campaigns") for _ in range(11)]
    assert [a.status_code for a in answers] == [200] * 10 + [429]
    for answer in answers:
        assert not [h for h in answer.headers if h.lower().startswith("x-ratelimit")]
    assert answers[-1].headers["Retry-After"] == "1"


def test_a_background_client_spends_the_budget_of_the_account(
    make_emulator: Callable[..., EmulatorHandle], fake_clock: FakeClock
) -> None:
    emu = make_emulator(clock=fake_clock, background_rps=3)
    hood = emu.hood_client()
    fake_clock.set(M + 0.5)  # it sent at M + 0 and M + 1/3 in this second
    assert rate_headers(hood.get("/campaigns")) == (10, 7, 1)
    fake_clock.set(M + 1.5)  # and at M + 2/3, M + 1, M + 4/3
    assert [hood.get("/campaigns").status_code for _ in range(9)] == [200] * 8 + [429]
    counted, throttled = emu.app.hood_limiter.background
    # It started 120 s before our first request, at M - 119 1/3: 178 requests in that minute
    # and 180 in the next, 150 of each counted; then 5 in this minute.
    assert (counted, throttled) == (150 + 150 + 5, 28 + 30)
    # It spends every account's budget, and only on Hood.
    other, _ = emu.store.ensure_account("other")
    assert rate_headers(emu.hood_client(other).get("/campaigns")) == (10, 7, 1)
    assert emu.falconyte_client().get("/email/campaigns").status_code == 200


def test_a_background_client_fills_the_minute_when_it_can(
    make_emulator: Callable[..., EmulatorHandle], fake_clock: FakeClock
) -> None:
    emu = make_emulator(clock=fake_clock, background_rps=3, rate_burst=1000)
    hood = emu.hood_client()
    fake_clock.set(M + 49.9)  # 150 background requests at M + 0 .. M + 49 2/3: the minute is full
    throttled = hood.get("/campaigns")
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "11"


ALL_BEHAVIOURS: list[dict[str, object]] = [
    {},
    {"window_phase_s": 23.37},
    {"rate_algorithm": "sliding"},
    {"rate_algorithm": "bucket"},
    {"background_rps": 3.0},
    {"rate_algorithm": "sliding", "background_rps": 2.0},
]


def brute_force(limiter: RateLimiter, requests: int, start: float, step: float) -> list[float]:
    """Try at every ``step`` from ``start``, as many as allowed each time."""
    out: list[float] = []
    i = 0
    while len(out) < requests:
        now = start + i * step
        while len(out) < requests and limiter.hit_at("k", now).allowed:
            out.append(now)
        i += 1
    return out


@pytest.mark.parametrize("behaviour", ALL_BEHAVIOURS, ids=[str(b) for b in ALL_BEHAVIOURS])
def test_fastest_arrivals_is_the_limiters_own_best_schedule(behaviour: dict[str, object]) -> None:
    config = EmulatorConfig(**behaviour)  # type: ignore[arg-type]
    start = M + 47.25  # the run crosses a minute boundary
    fastest = fastest_arrivals(make_hood_limiter(config, lambda: 0.0), 300, start)
    assert len(fastest) == 300 and fastest == sorted(fastest) and fastest[0] >= start
    # No schedule found by trying every 10 ms ends earlier; it ends at most one step later.
    # (Not with a bucket and a background client: who gets a token as it appears is a race
    # that trying on a grid loses, and each lost token moves the end by 0.4 s.)
    tried = brute_force(make_hood_limiter(config, lambda: 0.0), 300, start, 0.01)
    assert fastest[-1] <= tried[-1] + 1e-6 and tried[-1] - fastest[-1] < 0.01 + 1e-6
    # And a server that has seen the same from the start accepts every request of it.
    server = make_hood_limiter(config, lambda: 0.0)
    server.free_at("k", start)
    assert all(server.hit_at("k", t).allowed for t in fastest)


def test_fastest_arrivals_gives_up_when_the_background_client_takes_everything() -> None:
    # 3/s against a sliding 150/min: each slot that frees is taken by its next request.
    limiter = make_limiter("sliding", 10, 150, lambda: 0.0, background_rps=3.0)
    with pytest.raises(ValueError, match="no schedule"):
        fastest_arrivals(limiter, 300, M, within=600)


def test_fastest_arrivals_under_aligned_fixed_windows() -> None:
    fastest = fastest_arrivals(make_limiter("fixed", 10, 150, lambda: 0.0), 150, M + 50.5)
    per_second = Counter(int(t - M) for t in fastest)
    # 10 a second from 50.5 to 59 (100), then 10 a second in the new minute up to 64.
    assert per_second == Counter({s: 10 for s in range(50, 65)})
    assert fastest[-1] == M + 64.0


def test_account_classes_d_and_e_are_limits_like_any_other(
    make_emulator: Callable[..., EmulatorHandle], fake_clock: FakeClock
) -> None:
    # class D: 700 of 1,000 by M + 9, the rest from the next minute; class E: 350 a second.
    for per_second, per_minute, last in ((75, 700, M + 63.0), (350, 3500, M + 2.0)):
        now = [M + 0.5]
        limiter = make_hood_limiter(
            EmulatorConfig(rate_burst=per_second, rate_minute=per_minute),
            lambda now=now: now[0],
        )
        granted = []
        for _ in range(12):  # 12 seconds of trying 400 a second
            granted.append(sum(limiter.hit("k").allowed for _ in range(400)))
            now[0] += 1.0
        seconds_to_fill = per_minute // per_second
        assert granted[:seconds_to_fill] == [per_second] * seconds_to_fill
        assert sum(granted[: 60 - 1]) == per_minute  # never more than the minute allows
        fastest = fastest_arrivals(
            make_limiter("fixed", per_second, per_minute, lambda: 0.0), 1000, M + 0.5
        )
        assert fastest[-1] == last
    emu = make_emulator(clock=fake_clock, rate_burst=350, rate_minute=3500)
    hood = emu.hood_client()
    fake_clock.set(M + 0.5)
    statuses = Counter(hood.get("/campaigns").status_code for _ in range(351))
    assert statuses == Counter({200: 350, 429: 1})
    fake_clock.advance(1.0)
    assert rate_headers(hood.get("/campaigns")) == (350, 349, 1)
