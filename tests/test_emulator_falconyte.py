"""The emulated Falconyte email-campaign API over a real loopback socket."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from conftest import EmulatorHandle, FakeClock
from conftest import assert_falconyte_error as assert_fy_error

TEMPLATE = "3c90c3cc-0d44-4b50-8888-8dd25736052a"
ACCOUNT = "5b0e6f4a-1d2c-4e3f-9a8b-7c6d5e4f3a2b"


@pytest.fixture
def emu(make_emulator: Callable[..., EmulatorHandle], fake_clock: FakeClock) -> EmulatorHandle:
    return make_emulator(
        clock=fake_clock, falconyte_rate_burst=100_000, falconyte_rate_minute=1_000_000
    )


@pytest.fixture
def fy(emu: EmulatorHandle) -> httpx.Client:
    return emu.falconyte_client()


def body(**fields: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": "Welcome flow",
        "template_ids": [TEMPLATE],
        "mail_account_ids": [ACCOUNT],
        "events": ["contact.saved"],
    }
    out.update(fields)
    return out


def create(fy: httpx.Client, **fields: Any) -> dict[str, Any]:
    response = fy.post("/email/campaigns", json=body(**fields))
    assert response.status_code == 201, response.text
    payload = response.json()
    assert payload["ok"] is True
    return dict(payload["campaign"])


def listed(fy: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    response = fy.get("/email/campaigns", params=params)
    assert response.status_code == 200, response.text
    payload = response.json()
    assert payload["ok"] is True
    return list(payload["campaigns"])


def test_create_returns_the_documented_campaign_resource(
    emu: EmulatorHandle, fy: httpx.Client
) -> None:
    campaign = create(fy, events=["lead.created", "sale.created"])
    uuid.UUID(campaign["id"])
    uuid.UUID(campaign["team_id"])
    assert campaign["name"] == "Welcome flow"
    assert campaign["delivery_type"] == campaign["campaign_type"] == "event_triggered"
    assert campaign["meta"] == []
    assert re.fullmatch(r"2026-01-01T00:00:00\.\d{6}Z", campaign["created_at"])
    send_data = campaign["draft_data"]["send_data"]
    assert send_data["template_ids"] == [TEMPLATE]
    assert send_data["mail_account_ids"] == [ACCOUNT]
    assert send_data["event_triggered_send"] == {
        "events": ["lead.created", "sale.created"],
        "contact_cooldown_interval": 3600,
        "contact_daily_email_cap": 3,
        "enabled": True,
    }
    (send,) = campaign["campaign_sends"]
    assert send["status"] == "active" and send["campaign_id"] == campaign["id"]
    assert send["send_data"]["event_triggered_send"]["enabled"] is True
    assert listed(fy) == [campaign]  # the list shows the same resource


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (body(name=None), "name"),
        (body(name=""), "name"),
        (body(name=7), "name"),
        ({k: v for k, v in body().items() if k != "template_ids"}, "template_ids"),
        (body(template_ids=[]), "template_ids"),
        (body(template_ids=["not-a-uuid"]), "template_ids.0"),
        (body(mail_account_ids=None), "mail_account_ids"),
        (body(mail_account_ids=[ACCOUNT, "x"]), "mail_account_ids.1"),
        (body(mail_account_ids="x"), "mail_account_ids"),
        (body(events=[]), "events"),
        (body(events=["contact.unsubscribed"]), "events.0"),
        (body(events=["contact_saved"]), "events.0"),
        (body(from_name="Ops"), "from_name"),
    ],
)
def test_invalid_bodies_are_422(fy: httpx.Client, payload: dict[str, Any], field: str) -> None:
    error = assert_fy_error(fy.post("/email/campaigns", json=payload), 422, "VALIDATION_FAILED")
    assert field in error["errors"]
    assert all(isinstance(m, str) for msgs in error["errors"].values() for m in msgs)
    assert listed(fy) == []


def test_validation_reports_every_problem(fy: httpx.Client) -> None:
    error = assert_fy_error(
        fy.post("/email/campaigns", json={}), 422, "VALIDATION_FAILED", "(and 3 more errors)"
    )
    assert set(error["errors"]) == {"name", "template_ids", "mail_account_ids", "events"}
    assert_fy_error(fy.post("/email/campaigns", json=[1]), 422, "VALIDATION_FAILED")
    assert_fy_error(fy.post("/email/campaigns", content=b"{x"), 400, "BAD_REQUEST")


def test_list_is_ordered_by_creation_and_paged(fy: httpx.Client, fake_clock: FakeClock) -> None:
    made = [create(fy, name=f"c{i:02d}")["id"] for i in range(20)]  # same fake instant
    assert [c["id"] for c in listed(fy)] == made[:15]  # default per_page 15, oldest first
    assert [c["id"] for c in listed(fy, page=2)] == made[15:]
    assert [c["id"] for c in listed(fy, page=3, per_page=7)] == made[14:]
    assert listed(fy, page=5) == []
    stamps = [c["created_at"] for c in listed(fy, per_page=100)]
    assert stamps == sorted(stamps) and len(set(stamps)) == 20  # strictly increasing
    assert [c["name"] for c in listed(fy, search="c1")] == [f"c1{i}" for i in range(10)]


def test_per_page_is_capped_at_100(fy: httpx.Client, emu: EmulatorHandle) -> None:
    for i in range(101):
        create(fy, name=f"n{i}")
    assert len(listed(fy, per_page=500)) == 100
    assert len(listed(fy, per_page=500, page=2)) == 1


@pytest.mark.parametrize(
    "params", [{"page": "0"}, {"page": "x"}, {"per_page": "0"}, {"per_page": "-3"}]
)
def test_bad_paging_is_422(fy: httpx.Client, params: dict[str, str]) -> None:
    assert_fy_error(fy.get("/email/campaigns", params=params), 422, "VALIDATION_FAILED")


def test_stop_and_start(fy: httpx.Client, fake_clock: FakeClock) -> None:
    campaign = create(fy)
    cid = campaign["id"]
    assert_fy_error(
        fy.post(f"/email/campaigns/{cid}/start"), 422, "INVALID_STATE", "already active"
    )
    fake_clock.advance(3)
    response = fy.post(f"/email/campaigns/{cid}/stop")
    assert (response.status_code, response.json()) == (200, {"ok": True})
    (stopped,) = listed(fy)
    assert stopped["draft_data"]["send_data"]["event_triggered_send"]["enabled"] is False
    assert stopped["campaign_sends"][0]["status"] == "stopped"
    assert stopped["updated_at"] > stopped["created_at"]
    assert_fy_error(
        fy.post(f"/email/campaigns/{cid}/stop"), 422, "INVALID_STATE", "already stopped"
    )
    assert fy.post(f"/email/campaigns/{cid}/start").json() == {"ok": True}
    (started,) = listed(fy)
    assert started["campaign_sends"][0]["status"] == "active"
    assert started["draft_data"]["send_data"]["event_triggered_send"]["enabled"] is True


def test_undocumented_routes(fy: httpx.Client) -> None:
    cid = create(fy)["id"]
    assert_fy_error(fy.post(f"/email/campaigns/{uuid.uuid4()}/stop"), 404, "NOT_FOUND")
    assert_fy_error(fy.post("/email/campaigns/nope/start"), 404, "NOT_FOUND")
    assert_fy_error(fy.get(f"/email/campaigns/{cid}"), 404, "NOT_FOUND")  # no GET by id
    assert_fy_error(fy.patch(f"/email/campaigns/{cid}", json={"name": "x"}), 404, "NOT_FOUND")
    assert_fy_error(fy.delete("/email/campaigns"), 405, "METHOD_NOT_ALLOWED")
    assert_fy_error(fy.get(f"/email/campaigns/{cid}/stop"), 405, "METHOD_NOT_ALLOWED")
    assert fy.get("/ping").json() == {"ok": True}


@pytest.mark.parametrize("headers", [{}, {"x-api-key": "wrong"}, {"Authorization": "Bearer x"}])
def test_wrong_key_is_401(emu: EmulatorHandle, headers: dict[str, str]) -> None:
    response = emu.falconyte_client(authenticated=False, headers=headers).get("/email/campaigns")
    assert response.status_code == 401
    assert response.json() == {
        "ok": False,
        "error": {"code": "UNAUTHENTICATED", "message": "Valid team API key required."},
    }


def test_hood_token_does_not_open_falconyte_and_vice_versa(emu: EmulatorHandle) -> None:
    hood_as_fy = emu.falconyte_client(emu.hood_token).get("/email/campaigns")
    fy_as_hood = emu.hood_client(emu.falconyte_key).get("/campaigns")
    assert (hood_as_fy.status_code, fy_as_hood.status_code) == (401, 401)


def test_falconyte_sends_no_rate_limit_headers(fy: httpx.Client) -> None:
    response = fy.get("/email/campaigns")
    assert not [h for h in response.headers if h.lower().startswith("x-ratelimit")]
