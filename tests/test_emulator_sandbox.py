"""The embedded sandbox account: the same app in-process behind httpx transports."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from conftest import FakeClock

from hoodsync.emulator.app import EmulatorConfig
from hoodsync.emulator.sandbox import SANDBOX_FALCONYTE_URL, SANDBOX_HOOD_URL, open_sandbox

CAMPAIGN = {"name": "x", "messages": [{"name": "m", "channel": "push", "push": {}}]}


def test_sandbox_serves_both_apis_and_persists(tmp_path: Path, fake_clock: FakeClock) -> None:
    db = tmp_path / ".hoodsync" / "sandbox.sqlite"
    box = open_sandbox(db, clock=fake_clock)
    assert db.parent.is_dir()
    assert box.hood_token not in repr(box) and box.falconyte_key not in repr(box)
    with httpx.Client(
        transport=box.hood_transport,
        base_url=SANDBOX_HOOD_URL,
        headers={"Authorization": f"Bearer {box.hood_token}"},
    ) as hood:
        created = hood.post("/campaigns", json=CAMPAIGN)
        assert created.status_code == 201
        assert created.headers["X-RateLimit-Limit"] == "10"  # documented limits by default
        assert hood.get("/campaigns").json()["total"] == 1
        with httpx.Client(transport=box.hood_transport, base_url=SANDBOX_HOOD_URL) as anonymous:
            assert anonymous.get("/campaigns").status_code == 401
    with httpx.Client(
        transport=box.falconyte_transport,
        base_url=SANDBOX_FALCONYTE_URL,
        headers={"x-api-key": box.falconyte_key},
    ) as fy:
        assert fy.get("/email/campaigns").json() == {"ok": True, "campaigns": []}
    token, key = box.hood_token, box.falconyte_key
    box.close()

    again = open_sandbox(db, clock=fake_clock)
    assert (again.hood_token, again.falconyte_key) == (token, key)
    with httpx.Client(
        transport=again.hood_transport,
        base_url=SANDBOX_HOOD_URL,
        headers={"Authorization": f"Bearer {token}"},
    ) as hood:
        assert hood.get("/campaigns").json()["total"] == 1
    again.close()


def test_sandbox_applies_the_documented_rate_limits(tmp_path: Path, fake_clock: FakeClock) -> None:
    box = open_sandbox(tmp_path / "s.sqlite", clock=fake_clock)
    with httpx.Client(
        transport=box.hood_transport,
        base_url=SANDBOX_HOOD_URL,
        headers={"Authorization": f"Bearer {box.hood_token}"},
    ) as hood:
        statuses = [hood.get("/campaigns").status_code for _ in range(11)]
    box.close()
    assert statuses == [200] * 10 + [429]


def test_sandbox_drop_surfaces_as_remote_protocol_error(
    tmp_path: Path, fake_clock: FakeClock
) -> None:
    box = open_sandbox(
        tmp_path / "s.sqlite", config=EmulatorConfig(drop_after_commit_rate=1.0), clock=fake_clock
    )
    with httpx.Client(
        transport=box.hood_transport,
        base_url=SANDBOX_HOOD_URL,
        headers={"Authorization": f"Bearer {box.hood_token}"},
    ) as hood:
        with pytest.raises(httpx.RemoteProtocolError):
            hood.post("/campaigns", json=CAMPAIGN)
        assert hood.get("/campaigns").json()["total"] == 1
    box.close()


def test_sandbox_in_memory(fake_clock: FakeClock) -> None:
    box = open_sandbox(":memory:", clock=fake_clock)
    with httpx.Client(
        transport=box.falconyte_transport,
        base_url=SANDBOX_FALCONYTE_URL,
        headers={"x-api-key": box.falconyte_key},
    ) as fy:
        assert fy.get("/ping").json() == {"ok": True}
    box.close()
    assert not Path(":memory:").exists()
