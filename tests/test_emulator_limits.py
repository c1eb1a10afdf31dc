"""Rate limits and the concurrency gate: over a real socket with a fake clock, and unit-level."""

from __future__ import annotations

import threading
from typing import Callable

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
