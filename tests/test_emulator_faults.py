"""Faults (seeded): latency, 500s without executing, creates dropped after commit, async state."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from conftest import EmulatorHandle, FakeClock

from hoodsync.emulator.app import EmulatorConfig
from hoodsync.emulator.faults import Faults

CAMPAIGN = {"name": "x", "messages": [{"name": "m", "channel": "push", "push": {}}]}
EMAIL = {
    "name": "e",
    "template_ids": ["3c90c3cc-0d44-4b50-8888-8dd25736052a"],
    "mail_account_ids": ["3c90c3cc-0d44-4b50-8888-8dd25736052a"],
    "events": ["contact.saved"],
}
HIGH = {"rate_burst": 100_000, "rate_minute": 1_000_000}


def expected_draws(seed: int, rate: float, count: int) -> list[bool]:
    rng = random.Random(seed)
    return [rng.random() < rate for _ in range(count)]


def test_fail_rate_answers_500_without_executing(
    make_emulator: Callable[..., EmulatorHandle], fake_clock: FakeClock
) -> None:
    emu = make_emulator(clock=fake_clock, fail_rate=0.4, seed=7, **HIGH)
    hood = emu.hood_client()
    statuses = [
        hood.post("/campaigns", json=dict(CAMPAIGN, name=f"c{i}")).status_code for i in range(30)
    ]
    assert statuses == [500 if fail else 201 for fail in expected_draws(7, 0.4, 30)]
    assert 0 < statuses.count(500) < 30
    # Read back with the fault still on: retry until a 200 (the reads draw from the same rng).
    body: dict[str, Any] = {}
    for _ in range(20):
        response = hood.get("/campaigns", params={"page": "1,100"})
        if response.status_code == 200:
            body = response.json()
            break
        assert response.status_code == 500
        assert "message" not in response.json() and response.json()["code"] == 500
        assert "X-RateLimit-Remaining" in response.headers  # failed requests still count
    assert body["total"] == statuses.count(201)


def test_same_seed_same_faults(
    make_emulator: Callable[..., EmulatorHandle], fake_clock: FakeClock
) -> None:
    runs = []
    for _ in range(2):
        emu = make_emulator(clock=fake_clock, fail_rate=0.5, seed=123, **HIGH)
        hood = emu.hood_client()
        runs.append([hood.get("/campaigns").status_code for _ in range(20)])
    assert runs[0] == runs[1]
    assert set(runs[0]) == {200, 500}


def test_drop_after_commit_loses_the_response_but_keeps_the_object(
    make_emulator: Callable[..., EmulatorHandle], fake_clock: FakeClock
) -> None:
    emu = make_emulator(clock=fake_clock, drop_after_commit_rate=1.0, **HIGH)
    hood = emu.hood_client()
    with pytest.raises(httpx.RemoteProtocolError):
        hood.post("/campaigns", json=CAMPAIGN)
    with pytest.raises(httpx.RemoteProtocolError):
        hood.post("/push-tasks", json={"name": "t"})
    with pytest.raises(httpx.RemoteProtocolError):
        emu.falconyte_client().post("/email/campaigns", json=EMAIL)
    # Committed nonetheless, exactly once each.
    assert hood.get("/campaigns").json()["total"] == 1
    assert hood.get("/push-tasks").json()["total"] == 1
    assert len(emu.falconyte_client().get("/email/campaigns").json()["campaigns"]) == 1
    # Only committed creates are dropped: reads, edits and failed creates answer normally.
    cid = hood.get("/campaigns").json()["items"][0]["id"]
    assert hood.patch(f"/campaigns/{cid}", json={"description": "d"}).status_code == 204
    assert hood.post("/campaigns", json={"name": ""}).status_code == 400


def test_drop_rate_is_seeded(
    make_emulator: Callable[..., EmulatorHandle], fake_clock: FakeClock
) -> None:
    emu = make_emulator(clock=fake_clock, drop_after_commit_rate=0.5, seed=3, **HIGH)
    hood = emu.hood_client()
    outcomes = []
    for i in range(16):
        try:
            outcomes.append(hood.post("/campaigns", json=dict(CAMPAIGN, name=f"c{i}")).status_code)
        except httpx.RemoteProtocolError:
            outcomes.append(0)
    assert outcomes == [0 if drop else 201 for drop in expected_draws(3, 0.5, 16)]
    assert hood.get("/campaigns", params={"page": "1,100"}).json()["total"] == 16


def test_latency_is_added_to_every_request(
    make_emulator: Callable[..., EmulatorHandle], fake_clock: FakeClock
) -> None:
    emu = make_emulator(clock=fake_clock, sleep=fake_clock.sleep, latency_ms=250, **HIGH)
    hood = emu.hood_client()
    hood.get("/campaigns")
    hood.post("/campaigns", json={})
    emu.hood_client(authenticated=False).get("/campaigns")  # 401s too
    emu.falconyte_client().get("/email/campaigns")
    assert fake_clock.sleeps == [0.25, 0.25, 0.25, 0.25]


def test_latency_is_served_before_the_response_over_loopback(
    make_emulator: Callable[..., EmulatorHandle], fake_clock: FakeClock
) -> None:
    # The sleep runs in the server's thread while the client waits for its answer: recording
    # whether the client already has it shows the latency is in the response path, untimed.
    answered: list[bool] = []
    slept_while_answered: list[bool] = []

    def sleep(seconds: float) -> None:
        slept_while_answered.append(bool(answered))
        fake_clock.sleep(seconds)

    emu = make_emulator(clock=fake_clock, sleep=sleep, latency_ms=30, **HIGH)
    assert emu.hood_client().get("/campaigns").status_code == 200
    answered.append(True)
    assert fake_clock.sleeps == [0.03]
    assert slept_while_answered == [False]


@pytest.mark.parametrize(
    "bad",
    [
        {"fail_rate": 1.5},
        {"drop_after_commit_rate": -0.1},
        {"latency_ms": -1},
        {"async_delay_s": -1},
        {"rate_burst": 0},
        {"falconyte_rate_minute": 0},
        {"page_max": 0},
        {"max_concurrent": 0},
    ],
)
def test_impossible_settings_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=next(iter(bad))):
        EmulatorConfig(**bad)


def test_fault_rates_are_validated() -> None:
    with pytest.raises(ValueError):
        Faults(fail_rate=1.5, sleep=time.sleep)
    with pytest.raises(ValueError):
        Faults(latency_ms=-1, sleep=time.sleep)


# -- asynchronous state changes --------------------------------------------------------------------


@pytest.fixture
def slow(make_emulator: Callable[..., EmulatorHandle], fake_clock: FakeClock) -> EmulatorHandle:
    return make_emulator(clock=fake_clock, async_delay_s=5, **HIGH)


def status(hood: httpx.Client, cid: str) -> str:
    return str(hood.get(f"/campaigns/{cid}").json()["items"][0]["status"])


def test_pause_takes_effect_after_the_delay(slow: EmulatorHandle, fake_clock: FakeClock) -> None:
    hood = slow.hood_client()
    cid = hood.post("/campaigns", json=dict(CAMPAIGN, run_immediately=True)).json()["id"]
    assert hood.post(f"/campaigns/{cid}/pause").status_code == 204
    assert status(hood, cid) == "running"  # still the old state
    fake_clock.advance(4.9)
    assert status(hood, cid) == "running"
    listed = hood.get("/campaigns", params={"status": "running"}).json()
    assert listed["total"] == 1
    fake_clock.advance(0.1)
    assert status(hood, cid) == "paused"
    assert hood.get("/campaigns", params={"status": "paused"}).json()["total"] == 1
    item = hood.get(f"/campaigns/{cid}").json()["items"][0]
    assert item["update_time"] == "2026-01-01 00:00:05"


def test_second_action_is_judged_against_the_pending_state(
    slow: EmulatorHandle, fake_clock: FakeClock
) -> None:
    hood = slow.hood_client()
    cid = hood.post("/campaigns", json=dict(CAMPAIGN, run_immediately=True)).json()["id"]
    assert hood.post(f"/campaigns/{cid}/pause").status_code == 204
    # The server already counts it as paused: pausing again is refused, resuming is allowed.
    assert hood.post(f"/campaigns/{cid}/pause").status_code == 400
    # An edit is judged against the pending state too (paused campaigns are editable).
    assert hood.patch(f"/campaigns/{cid}", json={"description": "edited"}).status_code == 204
    fake_clock.advance(1)
    assert hood.post(f"/campaigns/{cid}/resume").status_code == 204
    assert status(hood, cid) == "running"
    fake_clock.advance(4)  # t=5: the pause lands
    assert status(hood, cid) == "paused"
    fake_clock.advance(1)  # t=6: the resume lands, back to the status before the pause
    assert status(hood, cid) == "running"
    assert hood.get(f"/campaigns/{cid}").json()["items"][0]["description"] == "edited"


def test_cancel_is_also_asynchronous(slow: EmulatorHandle, fake_clock: FakeClock) -> None:
    hood = slow.hood_client()
    cid = hood.post("/campaigns", json=CAMPAIGN).json()["id"]
    assert hood.post(f"/campaigns/{cid}/cancel").status_code == 204
    assert status(hood, cid) == "scheduled"
    assert hood.patch(f"/campaigns/{cid}", json={"name": "late"}).status_code == 400
    assert hood.post(f"/campaigns/{cid}/resume").status_code == 400
    fake_clock.advance(5)
    assert status(hood, cid) == "canceled"


def test_pending_transitions_survive_a_restart(
    make_emulator: Callable[..., EmulatorHandle], fake_clock: FakeClock, tmp_path: Any
) -> None:
    db = tmp_path / "async.sqlite"
    first = make_emulator(db_path=db, clock=fake_clock, async_delay_s=5, **HIGH)
    cid = first.hood_client().post("/campaigns", json=CAMPAIGN).json()["id"]
    assert first.hood_client().post(f"/campaigns/{cid}/pause").status_code == 204
    first.close()
    second = make_emulator(db_path=db, clock=fake_clock, async_delay_s=5, **HIGH)
    assert status(second.hood_client(), cid) == "scheduled"
    fake_clock.advance(5)
    assert status(second.hood_client(), cid) == "paused"
