"""The store: credentials, restart survival, helpers, and 1,000 concurrent requests."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import EmulatorHandle, FakeClock

from hoodsync.emulator.store import Store, StoreError

CAMPAIGN = {"name": "x", "messages": [{"name": "m", "channel": "push", "push": {}}]}
EMAIL = {
    "name": "e",
    "template_ids": ["3c90c3cc-0d44-4b50-8888-8dd25736052a"],
    "mail_account_ids": ["3c90c3cc-0d44-4b50-8888-8dd25736052a"],
    "events": ["contact.saved"],
}


def test_ensure_account_is_stable_and_secret(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "s.sqlite")
    token, key = store.ensure_account()
    assert store.ensure_account("default") == (token, key)
    other = store.ensure_account("other")
    assert other != (token, key) and len(set(other + (token, key))) == 4
    assert len(token) > 20 and len(key) > 20
    assert token not in repr(store.account("default")) and key not in repr(store.account("default"))
    store.close()
    reopened = Store.open(tmp_path / "s.sqlite")
    assert reopened.ensure_account() == (token, key)
    reopened.close()


def test_in_memory_store_and_bad_file(tmp_path: Path) -> None:
    for target in (None, ":memory:"):
        store = Store.open(target)
        assert store.ensure_account()[0]
        store.close()
    bad = tmp_path / "not-a-db.sqlite"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError):
        Store.open(bad)


def test_state_survives_a_restart_with_a_file_db(
    make_emulator: Callable[..., EmulatorHandle], fake_clock: FakeClock, tmp_path: Path
) -> None:
    db = tmp_path / "persist.sqlite"
    first = make_emulator(db_path=db, clock=fake_clock)
    hood, fy = first.hood_client(), first.falconyte_client()
    created = hood.post("/campaigns", json=dict(CAMPAIGN, labels=["a", "b"])).json()
    assert hood.post(f"/campaigns/{created['id']}/pause").status_code == 204
    task_id = hood.post("/push-tasks", json={"name": "t", "ttl": 60}).json()["id"]
    email = fy.post("/email/campaigns", json=EMAIL).json()["campaign"]
    assert fy.post(f"/email/campaigns/{email['id']}/stop").status_code == 200
    token, key = first.hood_token, first.falconyte_key
    first.close()

    second = make_emulator(db_path=db, clock=fake_clock)
    assert (second.hood_token, second.falconyte_key) == (token, key)
    assert second.url != first.url or second.server is not first.server
    hood2, fy2 = second.hood_client(), second.falconyte_client()
    item = hood2.get(f"/campaigns/{created['id']}", params={"view": "full"}).json()["items"][0]
    assert (item["status"], item["labels"], item["messages"]) == (
        "paused",
        "a,b",
        created["messages"],
    )
    assert hood2.get(f"/push-tasks/{task_id}").json()["items"][0]["ttl"] == "60"
    (stored,) = fy2.get("/email/campaigns").json()["campaigns"]
    assert stored["id"] == email["id"] and stored["campaign_sends"][0]["status"] == "stopped"
    # Sequences continue; ids are never reused.
    again = hood2.post("/campaigns", json=CAMPAIGN).json()
    assert int(again["id"]) == int(created["id"]) + 1
    assert int(again["messages"][0]["id"]) > int(created["messages"][0]["id"])


def test_status_helpers(emulator: EmulatorHandle) -> None:
    hood = emulator.hood_client()
    cid = hood.post("/campaigns", json=CAMPAIGN).json()["id"]
    emulator.store.set_campaign_status(cid, "sent")
    assert hood.get(f"/campaigns/{cid}").json()["items"][0]["status"] == "sent"
    with pytest.raises(ValueError):
        emulator.store.set_campaign_status(cid, "exploded")
    with pytest.raises(KeyError):
        emulator.store.set_campaign_status("1", "sent")
    task_id = hood.post("/push-tasks", json={"name": "t"}).json()["id"]
    emulator.store.set_push_task_status(task_id, 2)
    assert hood.get(f"/push-tasks/{task_id}").json()["items"][0]["status"] == "2"
    with pytest.raises(KeyError):
        emulator.store.set_push_task_status("9", 2)


def test_default_emulator_fixture_uses_documented_limits(emulator: EmulatorHandle) -> None:
    response = emulator.hood_client().get("/campaigns")
    assert response.headers["X-RateLimit-Limit"] in ("10", "150")
    assert emulator.hood_url == emulator.url + "/v1/hood"
    assert emulator.falconyte_url == emulator.url + "/public/v1"
    assert emulator.hood_token not in repr(emulator)


def test_1000_requests_from_8_threads_lose_and_duplicate_nothing(
    make_emulator: Callable[..., EmulatorHandle],
) -> None:
    emu = make_emulator(
        rate_burst=1_000_000,
        rate_minute=10_000_000,
        falconyte_rate_burst=1_000_000,
        falconyte_rate_minute=10_000_000,
    )
    threads, per_thread = 8, 125
    results: dict[int, dict[str, Any]] = {}
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        mine: dict[str, Any] = {"campaigns": {}, "tasks": [], "emails": [], "statuses": []}
        try:
            with httpx.Client(base_url=emu.url, timeout=30) as client:
                hood_auth = {"Authorization": f"Bearer {emu.hood_token}"}
                fy_auth = {"x-api-key": emu.falconyte_key}
                last: str | None = None
                for i in range(per_thread):
                    kind = i % 5
                    if kind in (0, 1):
                        r = client.post(
                            "/v1/hood/campaigns",
                            headers=hood_auth,
                            json=dict(CAMPAIGN, name=f"t{n}-{i}"),
                        )
                        last = r.json()["id"]
                        mine["campaigns"][last] = None
                    elif kind == 2 and last is not None:
                        r = client.patch(
                            f"/v1/hood/campaigns/{last}",
                            headers=hood_auth,
                            json={"description": f"v{i}"},
                        )
                        mine["campaigns"][last] = f"v{i}"
                    elif kind == 3:
                        r = client.post(
                            "/v1/hood/push-tasks", headers=hood_auth, json={"name": f"t{n}-{i}"}
                        )
                        mine["tasks"].append(r.json()["id"])
                    else:
                        r = client.post(
                            "/public/v1/email/campaigns",
                            headers=fy_auth,
                            json=dict(EMAIL, name=f"t{n}-{i}"),
                        )
                        mine["emails"].append(r.json()["campaign"]["id"])
                    mine["statuses"].append(r.status_code)
        except BaseException as exc:  # reported below; a thread must not swallow it
            errors.append(exc)
        results[n] = mine

    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(60)
    assert not errors, errors
    statuses = [s for r in results.values() for s in r["statuses"]]
    assert len(statuses) == threads * per_thread == 1000
    assert set(statuses) <= {200, 201, 204}

    campaigns = {cid: desc for r in results.values() for cid, desc in r["campaigns"].items()}
    tasks = [t for r in results.values() for t in r["tasks"]]
    emails = [e for r in results.values() for e in r["emails"]]
    assert len(campaigns) == threads * 50 and len(set(tasks)) == len(tasks) == threads * 25
    assert len(set(emails)) == len(emails) == threads * 25

    with httpx.Client(
        base_url=emu.hood_url, headers={"Authorization": f"Bearer {emu.hood_token}"}
    ) as hood:
        stored: dict[str, Any] = {}
        page = 1
        while True:
            body = hood.get(
                "/campaigns", params={"page": f"{page},100", "sort": "create_time"}
            ).json()
            stored.update({i["id"]: i for i in body["items"]})
            if page * 100 >= body["total"]:
                break
            page += 1
        assert body["total"] == len(stored) == len(campaigns)
        assert set(stored) == set(campaigns)
        for cid, desc in campaigns.items():
            assert stored[cid].get("description") == desc
        # Ids are one unbroken sequence: nothing was lost in between.
        numbers = sorted(int(c) for c in stored)
        assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))
        assert sorted(stored[c]["name"] for c in stored) == sorted(
            f"t{n}-{i}" for n in range(threads) for i in range(per_thread) if i % 5 in (0, 1)
        )
        assert hood.get("/push-tasks").json()["total"] == len(tasks)
    with httpx.Client(base_url=emu.falconyte_url, headers={"x-api-key": emu.falconyte_key}) as fy:
        listed = fy.get("/email/campaigns", params={"per_page": 100, "page": 1}).json()["campaigns"]
        listed += fy.get("/email/campaigns", params={"per_page": 100, "page": 2}).json()[
            "campaigns"
        ]
        assert sorted(c["id"] for c in listed) == sorted(emails)


def test_list_totals_follow_writes_from_this_and_other_connections(tmp_path: Path) -> None:
    """Totals are remembered between pages; any change, by any connection, is seen at once."""
    from hoodsync.emulator.store import CampaignRow, Filter, ListQuery

    def row(name: str) -> CampaignRow:
        return CampaignRow(
            0,
            "default",
            "scheduled",
            "manual",
            None,
            0,
            "2026-01-01 00:00:00",
            "2026-01-01 00:00:00",
            {"name": name},
            {},
            [],
        )

    db = tmp_path / "shared.sqlite"
    one, other = Store.open(db), Store.open(db)
    one.ensure_account("default")
    page = ListQuery(limit=1)
    assert one.list_campaign_texts("default", page)[0] == 0
    one.insert_campaign(row("a"))
    assert one.list_campaign_texts("default", page)[0] == 1
    assert one.list_campaigns("default", page)[0] == 1
    other.insert_campaign(row("b"))  # committed by another connection to the same file
    assert one.list_campaign_texts("default", page)[0] == 2
    named = ListQuery(filters=(Filter("name", "eq", ("b",)),), limit=1)
    assert one.list_campaign_texts("default", named)[0] == 1
    one.close()
    other.close()
