"""The emulated Hood push-task API over a real loopback socket."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from conftest import EmulatorHandle, FakeClock
from conftest import assert_hood_error as assert_error

NOW = "2026-01-01 00:00:00"
LATER = "2026-02-01 12:00:00"


@pytest.fixture
def emu(make_emulator: Callable[..., EmulatorHandle], fake_clock: FakeClock) -> EmulatorHandle:
    return make_emulator(clock=fake_clock, rate_burst=100_000, rate_minute=1_000_000)


@pytest.fixture
def hood(emu: EmulatorHandle) -> httpx.Client:
    return emu.hood_client()


def task(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Daily",
        "status": 1,
        "start_time": "immediately",
        "message": {
            "title": {"en": "Hi"},
            "body": {"en": "There"},
            "landing_url": "https://example.com",
        },
    }
    body.update(fields)
    return body


def create(hood: httpx.Client, **fields: Any) -> str:
    response = hood.post("/push-tasks", json=task(**fields))
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"id"} and isinstance(body["id"], str)
    return str(body["id"])


def get(hood: httpx.Client, task_id: str) -> dict[str, Any]:
    body = hood.get(f"/push-tasks/{task_id}").json()
    assert body["total"] == 1 and len(body["items"]) == 1
    return dict(body["items"][0])


def test_create_answers_only_the_id_and_get_returns_strings(hood: httpx.Client) -> None:
    first = create(
        hood, ttl=3600, frequency=86400, targeting={"countries": {"op": "include", "items": ["RS"]}}
    )
    second = create(hood, name="Other", ttl="60", user_time_zone="1", frequency=None)
    assert first == "1050" and second == "1051"
    item = get(hood, first)
    assert item["id"] == "1050"
    assert (item["status"], item["ttl"], item["frequency"], item["user_time_zone"]) == (
        "1",
        "3600",
        "86400",
        "0",
    )
    assert item["start_time"] == NOW  # "immediately" is stored as now
    assert item["next_execution_time"] == NOW and item["last_execution_time"] is None
    assert item["create_time"] == NOW
    assert item["targeting"] == {"countries": {"op": "include", "items": ["RS"]}}
    assert item["cron"] is None and item["end_time"] is None
    other = get(hood, second)
    assert (other["ttl"], other["user_time_zone"], other["frequency"]) == ("60", "1", None)


def test_inactive_task_without_start_time(hood: httpx.Client) -> None:
    task_id = create(hood, status=0, start_time=None)
    item = get(hood, task_id)
    assert (item["status"], item["start_time"], item["next_execution_time"]) == ("0", None, None)
    assert (
        hood.post("/push-tasks", json={"name": "bare"}).status_code == 201
    )  # status defaults to 0


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"name": None}, "name is required"),
        ({"name": ""}, "name is required"),
        ({"status": 2}, "status must be 0 or 1"),
        ({"status": "x"}, "status must be a number"),
        ({"status": True}, "status must be a number"),
        ({"start_time": None}, "without start_time can not be active"),
        ({"start_time": "2025-12-31 23:59:59"}, "can not be in the past"),
        ({"start_time": "soon"}, "start_time must be"),
        (
            {"start_time": LATER, "end_time": "2026-01-15 00:00:00"},
            "end_time can not be set to date before start_time",
        ),
        ({"end_time": "tomorrow"}, "end_time must be"),
        ({"frequency": 3630}, "multiple of 60"),
        ({"frequency": 3540}, "between 3600 and 94608000"),
        ({"frequency": 94_608_060}, "between 3600"),
        ({"frequency": "1h"}, "frequency must be a number"),
        ({"frequency": 3600, "cron": "0 12 * * 1"}, "either frequency or cron"),
        ({"cron": "0 12 * *"}, "cron must have 5 fields"),
        ({"cron": "*/5 12 * * *"}, "minute field must be a single value"),
        ({"cron": "0,30 12 * * *"}, "minute field must be a single value"),
        ({"cron": "0 9-17 * * *", "user_time_zone": 1}, "hour field must be a single value"),
        ({"custom_data": "x" * 4001}, "at most 4000 characters"),
        ({"user_time_zone": 2}, "user_time_zone must be 0 or 1"),
        ({"message": "hello"}, "message must be an object"),
        ({"colour": "red"}, "Unknown field 'colour'"),
    ],
)
def test_create_rules(hood: httpx.Client, fields: dict[str, Any], fragment: str) -> None:
    assert_error(hood.post("/push-tasks", json=task(**fields)), 400, fragment)
    assert hood.get("/push-tasks").json()["total"] == 0


@pytest.mark.parametrize(
    "fields",
    [
        {"frequency": 3600},
        {"frequency": "94608000"},
        {"cron": "0 12 * * 1,5"},
        {"cron": "0 9-17 * * *"},
        {"cron": "30 9 * * *", "user_time_zone": 1},
        {"custom_data": "x" * 4000},
        {"start_time": NOW},
        {"start_time": LATER, "end_time": LATER},
        {"quiet_time": {"from": "0", "to": "4"}, "ttl": "3600", "total_user": "0"},
    ],
)
def test_create_accepts_the_allowed_edges(hood: httpx.Client, fields: dict[str, Any]) -> None:
    create(hood, **fields)


def test_patch_leaves_unspecified_fields_and_merges_objects(
    hood: httpx.Client, fake_clock: FakeClock
) -> None:
    task_id = create(hood, frequency=3600, ttl=60)
    fake_clock.advance(10)
    patch = {"message": {"title": {"de": "Hallo"}}, "ttl": "120"}
    response = hood.patch(f"/push-tasks/{task_id}", json=patch)
    assert response.status_code == 204 and response.content == b""
    item = get(hood, task_id)
    assert item["message"]["title"] == {"en": "Hi", "de": "Hallo"}
    assert item["message"]["body"] == {"en": "There"}
    assert (item["ttl"], item["frequency"], item["name"]) == ("120", "3600", "Daily")
    # Switching from frequency to cron needs frequency cleared in the same call.
    assert_error(
        hood.patch(f"/push-tasks/{task_id}", json={"cron": "0 1 * * *"}),
        400,
        "either frequency or cron",
    )
    assert (
        hood.patch(
            f"/push-tasks/{task_id}", json={"cron": "0 1 * * *", "frequency": None}
        ).status_code
        == 204
    )
    item = get(hood, task_id)
    assert (item["cron"], item["frequency"]) == ("0 1 * * *", None)


def test_patch_status_rules(emu: EmulatorHandle, hood: httpx.Client) -> None:
    task_id = create(hood, status=0, start_time=None)
    assert_error(
        hood.patch(f"/push-tasks/{task_id}", json={"status": 1}), 400, "without start_time"
    )
    assert_error(
        hood.patch(f"/push-tasks/{task_id}", json={"status": 2}), 400, "status must be 0 or 1"
    )
    assert_error(
        hood.patch(f"/push-tasks/{task_id}", json={"status": None}), 400, "status must be 0 or 1"
    )
    assert (
        hood.patch(f"/push-tasks/{task_id}", json={"status": "1", "start_time": LATER}).status_code
        == 204
    )
    item = get(hood, task_id)
    assert (item["status"], item["next_execution_time"]) == ("1", LATER)
    assert hood.patch(f"/push-tasks/{task_id}", json={"status": 0}).status_code == 204
    assert get(hood, task_id)["status"] == "0"


@pytest.mark.parametrize(
    ("patch", "fragment"),
    [
        ({"start_time": "2025-06-01 00:00:00"}, "can not be in the past"),
        ({"end_time": "2025-06-01 00:00:00"}, "end_time can not be set to date before start_time"),
        ({"name": ""}, "name is required"),
        ({"frequency": 100}, "multiple of 60"),
        ({"what": 1}, "Unknown field"),
    ],
)
def test_patch_rules(hood: httpx.Client, patch: dict[str, Any], fragment: str) -> None:
    task_id = create(hood)
    assert_error(hood.patch(f"/push-tasks/{task_id}", json=patch), 400, fragment)


def test_finished_task_cannot_be_edited(emu: EmulatorHandle, hood: httpx.Client) -> None:
    task_id = create(hood)
    emu.store.set_push_task_status(task_id, 2)
    assert get(hood, task_id)["status"] == "2"
    assert_error(
        hood.patch(f"/push-tasks/{task_id}", json={"name": "x"}),
        400,
        "finished push task (status 2)",
    )


def test_unknown_task_is_a_400(hood: httpx.Client) -> None:
    assert_error(hood.get("/push-tasks/99"), 400, "Specified push task does not exist.")
    # Beyond the 64-bit integers SQLite stores (it was a 500 when bound to the query).
    assert_error(hood.get("/push-tasks/" + "9" * 300), 400, "does not exist")
    assert_error(hood.patch("/push-tasks/" + "9" * 300, json={"name": "a"}), 400, "does not exist")
    assert_error(hood.patch("/push-tasks/x", json={"name": "a"}), 400, "does not exist")
    assert_error(hood.delete("/push-tasks/1050"), 405, "DELETE is not allowed")


def test_list_paging_sorting_filters(hood: httpx.Client, fake_clock: FakeClock) -> None:
    ids = {}
    for name, status in (("b", 1), ("a", 0), ("c", 1)):
        ids[name] = create(hood, name=name, status=status)
        fake_clock.advance(1)
    body = hood.get("/push-tasks").json()
    assert body["total"] == 3
    assert [i["name"] for i in body["items"]] == ["c", "a", "b"]  # latest first
    assert [
        i["name"] for i in hood.get("/push-tasks", params={"sort": "name"}).json()["items"]
    ] == ["a", "b", "c"]
    active = hood.get("/push-tasks", params={"status": "1", "sort": "create_time"}).json()
    assert [i["name"] for i in active["items"]] == ["b", "c"] and active["total"] == 2
    assert [i["id"] for i in hood.get("/push-tasks", params={"name": "eq:a"}).json()["items"]] == [
        ids["a"]
    ]
    paged = hood.get("/push-tasks", params={"page": "2,2", "sort": "name"}).json()
    assert [i["name"] for i in paged["items"]] == ["c"] and paged["total"] == 3
    slim = hood.get("/push-tasks", params={"fields": "id,status"}).json()["items"]
    assert all(set(i) == {"id", "status"} for i in slim)
    assert_error(hood.get("/push-tasks", params={"sort": "ttl"}), 400, "not sortable")
    assert_error(hood.get("/push-tasks", params={"status": "x"}), 400, "Invalid value")
