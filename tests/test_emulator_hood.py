"""The emulated Hood campaign API over a real loopback socket: shapes, rules, lists, transitions."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from conftest import EmulatorHandle, FakeClock
from conftest import assert_hood_error as assert_error

NOW = "2026-01-01 00:00:00"  # the fake clock's start, formatted


@pytest.fixture
def emu(make_emulator: Callable[..., EmulatorHandle], fake_clock: FakeClock) -> EmulatorHandle:
    """Functional tests are about rules, not limits: raise the limits out of the way."""
    return make_emulator(clock=fake_clock, rate_burst=100_000, rate_minute=1_000_000)


@pytest.fixture
def hood(emu: EmulatorHandle) -> httpx.Client:
    return emu.hood_client()


def push(name: str = "m", **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "channel": "push",
        "push": {"title": {"en": "Hello"}, "landing_url": "https://example.com"},
        **extra,
    }


def campaign(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"name": "Welcome", "messages": [push()]}
    body.update(fields)
    return body


def create(hood: httpx.Client, **fields: Any) -> dict[str, Any]:
    response = hood.post("/campaigns", json=campaign(**fields))
    assert response.status_code == 201, response.text
    return dict(response.json())


def get(hood: httpx.Client, cid: str, **params: str) -> dict[str, Any]:
    response = hood.get(f"/campaigns/{cid}", params={"view": "full", **params})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == 1 and len(body["items"]) == 1
    return dict(body["items"][0])


# -- create: shape and derived state ---------------------------------------------------------------


def test_create_returns_full_object_as_documented(hood: httpx.Client) -> None:
    body = create(
        hood,
        description="First",
        labels=["cars", "audi"],
        metadata={"hoodsync_key": "welcome", "n": {"deep": [1, 2]}},
    )
    assert re.fullmatch(r"10170\d\d", body["id"])
    assert isinstance(body["company_id"], str) and body["company_id"].isdigit()
    assert isinstance(body["creator_id"], str) and body["creator_id"].isdigit()
    assert body["labels"] == ["cars", "audi"]  # the create response may keep the array
    assert body["metadata"] == {"hoodsync_key": "welcome", "n": {"deep": [1, 2]}}
    assert (body["status"], body["effective_status"], body["send_strategy"]) == (
        "scheduled",
        "scheduled",
        "manual",
    )
    assert body["run_immediately"] is None and body["is_draft"] is False
    assert body["run_counter"] == 0 and body["score"] == 0
    assert body["send_in_profile_time_zone"] is False
    assert body["send_if_profile_time_passed"] is False
    assert body["utm_tracking"] == {
        "enabled": 1,
        "utm_source": "${OCMH_UTM_SOURCE}",
        "utm_medium": "${OCMH_UTM_MEDIUM}",
        "utm_campaign": "${OCMH_CAMPAIGN_NAME}",
    }
    assert body["create_time"] == body["update_time"] == NOW
    (message,) = body["messages"]
    assert message["campaign_id"] == body["id"]
    assert message["company_id"] == body["company_id"]
    assert message["integration_id"] == "0"
    assert message["winner"] == 0 and message["primary_lang"] == "en"
    assert isinstance(message["id"], str) and message["id"].isdigit()
    assert message["push"] == {"title": {"en": "Hello"}, "landing_url": "https://example.com"}


def test_ids_increase_and_messages_get_distinct_ids(hood: httpx.Client) -> None:
    first = create(hood)
    second = create(hood, messages=[push("a"), push("b")], ab_test={"name": "t", "test_split": 30})
    assert int(second["id"]) == int(first["id"]) + 1
    ids = [m["id"] for m in first["messages"] + second["messages"]]
    assert len(set(ids)) == 3


def test_get_returns_labels_as_comma_string_and_keeps_given_utm(hood: httpx.Client) -> None:
    created = create(hood, labels=["a", "b", "c"], utm_tracking={"enabled": 0})
    item = get(hood, created["id"])
    assert item["labels"] == "a,b,c"
    assert item["utm_tracking"] == {"enabled": 0}


@pytest.mark.parametrize(
    ("fields", "status", "strategy", "next_run"),
    [
        ({"is_draft": True}, "draft", "manual", None),
        ({"status": "draft"}, "draft", "manual", None),
        ({"run_immediately": True}, "running", "immediate", NOW),
        ({"run_immediately": 1}, "running", "immediate", NOW),
        (
            {"scheduled_time": "2026-03-22 10:00:00"},
            "scheduled",
            "scheduled",
            "2026-03-22 10:00:00",
        ),
        ({"recurrence": {"pattern": {"hour": 12, "minute": 30}}}, "scheduled", "recurring", None),
        ({"recurrence": {"cron": "5 4 2 4 4"}}, "scheduled", "recurring", None),
        ({}, "scheduled", "manual", None),
        ({"run_immediately": None, "is_draft": False}, "scheduled", "manual", None),
    ],
)
def test_create_derives_status_and_send_strategy(
    hood: httpx.Client, fields: dict[str, Any], status: str, strategy: str, next_run: str | None
) -> None:
    body = create(hood, **fields)
    item = get(hood, body["id"])
    assert (item["status"], item["effective_status"], item["send_strategy"]) == (
        status,
        status,
        strategy,
    )
    assert item["is_draft"] is (status == "draft")
    assert item["next_run_time"] == next_run
    assert item["run_immediately"] is None  # a trigger, not state


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"messages": [push()]}, "name is required"),
        ({"name": "  ", "messages": [push()]}, "name is required"),
        ({"name": 5, "messages": [push()]}, "name is required"),
        ({"name": "x"}, "messages is required"),
        ({"name": "x", "messages": []}, "messages is required"),
        ({"name": "x", "messages": ["text"]}, "messages[0] must be an object"),
        (
            {"name": "x", "messages": [push(channel="fax")]},
            "channel must be one of push, email, sms",
        ),
        ({"name": "x", "messages": [push(channel=None)]}, "channel must be one of"),
        ({"name": "x", "messages": [push("a"), push("b")]}, "ab_test is required"),
        (
            {"name": "x", "messages": [push(str(i)) for i in range(5)], "ab_test": {"name": "t"}},
            "At most 4 messages",
        ),
        (
            {
                "name": "x",
                "messages": [{"name": "s", "channel": "sms", "sms": {"content": {"en": "hi"}}}],
            },
            "integration_id is required for sms messages",
        ),
        (
            {"name": "x", "messages": [{"name": "e", "channel": "email", "integration_id": ""}]},
            "integration_id is required for email messages",
        ),
        (
            {
                "name": "x",
                "messages": [push()],
                "run_immediately": True,
                "scheduled_time": "2026-03-22 10:00:00",
            },
            "Only one of run_immediately, scheduled_time and recurrence",
        ),
        (
            {
                "name": "x",
                "messages": [push()],
                "scheduled_time": "2026-03-22 10:00:00",
                "recurrence": {"cron": "0 1 * * *"},
            },
            "Only one of",
        ),
        (
            {
                "name": "x",
                "messages": [push()],
                "run_immediately": 1,
                "recurrence": {"cron": "0 1 * * *"},
            },
            "Only one of",
        ),
        (
            {"name": "x", "messages": [push()], "scheduled_time": "2026-03-22T10:00:00"},
            "scheduled_time must be",
        ),
        (
            {"name": "x", "messages": [push()], "scheduled_time": "2026-13-40 10:00:00"},
            "scheduled_time must be",
        ),
        (
            {
                "name": "x",
                "messages": [push()],
                "recurrence": {"pattern": {"hour": 1}, "cron": "0 1 * * *"},
            },
            "exactly one of pattern or cron",
        ),
        ({"name": "x", "messages": [push()], "recurrence": {}}, "exactly one of pattern or cron"),
        ({"name": "x", "messages": [push()], "colour": "red"}, "Unknown field 'colour'"),
        (
            {"name": "x", "messages": [push()], "labels": "a,b"},
            "labels must be an array of strings",
        ),
        ({"name": "x", "messages": [push()], "metadata": []}, "metadata must be an object"),
        ({"name": "x", "messages": [push()], "run_immediately": "yes"}, "run_immediately must be"),
        ({"name": "x", "messages": [push()], "status": "running"}, "status may only be 'draft'"),
        ({"name": "x", "messages": [push()], "is_draft": "yes"}, "is_draft must be a boolean"),
    ],
)
def test_create_rules_are_enforced(hood: httpx.Client, body: dict[str, Any], fragment: str) -> None:
    assert_error(hood.post("/campaigns", json=body), 400, fragment)
    assert hood.get("/campaigns").json()["total"] == 0  # nothing was stored


@pytest.mark.parametrize(
    "body",
    [
        {
            "name": "x",
            "messages": [push(str(i)) for i in range(4)],
            "ab_test": {"name": "t", "test_split": 30},
        },
        {
            "name": "x",
            "messages": [
                push(),
                {"name": "s", "channel": "sms", "integration_id": 1996, "sms": {}},
            ],
        },
        {
            "name": "x",
            "messages": [
                {"name": "e", "channel": "email", "integration_id": "1830", "primary_lang": "de"}
            ],
        },
    ],
)
def test_create_accepts_the_allowed_edges(hood: httpx.Client, body: dict[str, Any]) -> None:
    response = hood.post("/campaigns", json=body)
    assert response.status_code == 201, response.text
    for message in response.json()["messages"]:
        if message["channel"] in ("sms", "email"):
            assert isinstance(message["integration_id"], str) and message["integration_id"] != "0"
    langs = [m["primary_lang"] for m in response.json()["messages"]]
    assert all(lang in ("en", "de") for lang in langs)


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b""])
def test_create_rejects_bodies_that_are_not_objects(hood: httpx.Client, raw: bytes) -> None:
    response = hood.post("/campaigns", content=raw, headers={"Content-Type": "application/json"})
    assert_error(response, 400, "The request body is not valid")


# -- reads -------------------------------------------------------------------------------------


def test_get_by_id_envelope_views_and_fields(hood: httpx.Client) -> None:
    created = create(hood, targeting={"countries": {"op": "in", "items": ["FR"]}})
    default = hood.get(f"/campaigns/{created['id']}").json()
    assert default["total"] == 1
    item = default["items"][0]
    for heavy in (
        "messages",
        "targeting",
        "ab_test",
        "recurrence",
        "utm_tracking",
        "quiet_hours",
        "callbacks",
    ):
        assert heavy not in item
    assert item["name"] == "Welcome" and item["id"] == created["id"]
    full = get(hood, created["id"])
    assert full["targeting"] == {"countries": {"op": "in", "items": ["FR"]}}
    assert len(full["messages"]) == 1
    only = hood.get(f"/campaigns/{created['id']}", params={"fields": "id,name,messages"}).json()
    assert set(only["items"][0]) == {"id", "name", "messages"}  # fields beats the default view


# The last: beyond the 64-bit integers SQLite stores (it was a 500 when bound to the query).
@pytest.mark.parametrize("cid", ["999", "abc", "1017000", "9" * 300])
def test_unknown_campaign_is_a_400(hood: httpx.Client, cid: str) -> None:
    assert_error(hood.get(f"/campaigns/{cid}"), 400, "Specified campaign does not exist.")
    assert_error(hood.patch(f"/campaigns/{cid}", json={"name": "x"}), 400, "does not exist")
    assert_error(hood.post(f"/campaigns/{cid}/pause"), 400, "does not exist")


@pytest.mark.parametrize("resource", ["campaigns", "push-tasks"])
def test_numbers_beyond_64_bits_in_a_list_query_match_nothing(
    hood: httpx.Client, resource: str
) -> None:
    """A page, page size or id filter no stored integer reaches is an empty page, not a 500."""
    create(hood)
    huge = "9" * 300
    for params in ({"page": huge}, {"page": f"{huge},5"}, {"id": huge}, {"id": f"-{huge}"}):
        response = hood.get(f"/{resource}", params=params)
        assert response.status_code == 200, (params, response.text)
        assert response.json()["items"] == [], params
    if resource == "campaigns":  # a page size beyond them is the largest page, as any is
        assert len(hood.get("/campaigns", params={"page": f"1,{huge}"}).json()["items"]) == 1


def test_bad_view_and_unknown_parameters_are_rejected(hood: httpx.Client) -> None:
    created = create(hood)
    assert_error(hood.get("/campaigns", params={"view": "huge"}), 400, "Invalid view")
    assert_error(
        hood.get(f"/campaigns/{created['id']}", params={"page": "1"}), 400, "Unknown parameter"
    )
    assert_error(
        hood.get("/campaigns", params={"colour": "red"}), 400, "unfilterable field 'colour'"
    )


def test_accounts_are_isolated(emu: EmulatorHandle, hood: httpx.Client) -> None:
    created = create(hood)
    other_token, _ = emu.store.ensure_account("other")
    other = emu.hood_client(other_token)
    assert other.get("/campaigns").json() == {"total": 0, "items": []}
    assert_error(other.get(f"/campaigns/{created['id']}"), 400, "does not exist")


# -- lists: paging, sorting, filters, search ----------------------------------------------------


def _make_many(hood: httpx.Client, clock: FakeClock, count: int) -> list[str]:
    ids = []
    for i in range(count):
        ids.append(create(hood, name=f"c{i:02d}", description=f"desc {i}")["id"])
        clock.advance(1)
    return ids


def test_default_list_is_ten_latest_first(hood: httpx.Client, fake_clock: FakeClock) -> None:
    ids = _make_many(hood, fake_clock, 25)
    body = hood.get("/campaigns").json()
    assert body["total"] == 25
    assert [i["id"] for i in body["items"]] == ids[::-1][:10]


def test_paging_with_page_and_size(hood: httpx.Client, fake_clock: FakeClock) -> None:
    ids = _make_many(hood, fake_clock, 25)
    third = hood.get("/campaigns", params={"page": "3", "sort": "create_time"}).json()
    assert [i["id"] for i in third["items"]] == ids[20:]
    sized = hood.get("/campaigns", params={"page": "2,7", "sort": "create_time"}).json()
    assert [i["id"] for i in sized["items"]] == ids[7:14]
    assert sized["total"] == 25
    beyond = hood.get("/campaigns", params={"page": "9,10"}).json()
    assert beyond == {"total": 25, "items": []}


def test_page_size_is_capped_silently(
    make_emulator: Callable[..., EmulatorHandle], fake_clock: FakeClock
) -> None:
    emu = make_emulator(clock=fake_clock, rate_burst=1000, rate_minute=10_000, page_max=5)
    hood = emu.hood_client()
    ids = _make_many(hood, fake_clock, 12)
    body = hood.get("/campaigns", params={"page": "2,500", "sort": "create_time"}).json()
    assert body["total"] == 12
    assert [i["id"] for i in body["items"]] == ids[5:10]  # size capped to 5, page 2 = items 6..10


@pytest.mark.parametrize("page", ["0", "a", "1,0", "1,x", "-1", "1,2,3", ""])
def test_bad_page_values_are_rejected(hood: httpx.Client, page: str) -> None:
    assert_error(hood.get("/campaigns", params={"page": page}), 400, "Invalid page")


def test_sorting(hood: httpx.Client, fake_clock: FakeClock) -> None:
    names = ["delta", "alpha", "charlie", "bravo"]
    ids = {}
    for name in names:
        ids[name] = create(hood, name=name)["id"]  # same create_time: ties
    by_name = hood.get("/campaigns", params={"sort": "name"}).json()["items"]
    assert [i["name"] for i in by_name] == sorted(names)
    by_name_desc = hood.get("/campaigns", params={"sort": "-name"}).json()["items"]
    assert [i["name"] for i in by_name_desc] == sorted(names, reverse=True)
    # Default order: -create_time, ties broken by id descending (latest created first).
    default = hood.get("/campaigns").json()["items"]
    assert [i["id"] for i in default] == sorted(ids.values(), reverse=True)
    # Explicit create_time: ties broken by id ascending, so paging is stable.
    ascending = hood.get("/campaigns", params={"sort": "create_time"}).json()["items"]
    assert [i["id"] for i in ascending] == sorted(ids.values())
    # Several keys: status first, then name.
    hood.post(f"/campaigns/{ids['delta']}/pause")
    multi = hood.get("/campaigns", params={"sort": "status,-name"}).json()["items"]
    assert [i["name"] for i in multi] == ["delta", "charlie", "bravo", "alpha"]
    for field in ("next_run_time", "run_counter", "update_time", "-create_time"):
        assert hood.get("/campaigns", params={"sort": field}).status_code == 200
    assert_error(hood.get("/campaigns", params={"sort": "description"}), 400, "not sortable")


@pytest.fixture
def mixed(hood: httpx.Client) -> dict[str, str]:
    ids = {
        "draft": create(hood, name="Draft one", is_draft=True)["id"],
        "running": create(hood, name="Runner", run_immediately=True)["id"],
        "scheduled": create(hood, name="Later", scheduled_time="2026-05-01 10:00:00")["id"],
        "paused": create(hood, name="Sleeper", description="winter sale")["id"],
    }
    assert hood.post(f"/campaigns/{ids['paused']}/pause").status_code == 204
    return ids


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": "paused"}, {"paused"}),
        ({"status": "eq:paused"}, {"paused"}),
        ({"status": "neq:paused"}, {"draft", "running", "scheduled"}),
        ({"status": "in:scheduled,running"}, {"running", "scheduled"}),
        ({"status": "nin:scheduled,running"}, {"draft", "paused"}),
        ({"is_draft": "true"}, {"draft"}),
        ({"is_draft": "eq:false"}, {"running", "scheduled", "paused"}),
        ({"is_draft": "eq:false", "status": "neq:paused"}, {"running", "scheduled"}),
        ({"name": "Runner"}, {"running"}),
        ({"name": "eq:Later"}, {"scheduled"}),
        ({"name": "in:Later,Runner"}, {"running", "scheduled"}),
        ({"q": "sleep"}, {"paused"}),
        ({"q": "WINTER"}, {"paused"}),
        ({"q": "winter", "q_fields": "name"}, set()),
        ({"q": "e"}, {"draft", "running", "scheduled", "paused"}),
    ],
)
def test_filters_and_search(
    hood: httpx.Client, mixed: dict[str, str], params: dict[str, str], expected: set[str]
) -> None:
    body = hood.get("/campaigns", params=params).json()
    found = {key for key, cid in mixed.items() if cid in {i["id"] for i in body["items"]}}
    assert found == expected
    assert body["total"] == len(expected)


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"is_draft": "maybe"}, "Invalid value"),
        ({"q": "x", "q_fields": "labels"}, "q_fields may only name"),
        ({"status": "r:a"}, "needs exactly two values"),
    ],
)
def test_bad_filters_are_rejected(
    hood: httpx.Client, params: dict[str, str], fragment: str
) -> None:
    assert_error(hood.get("/campaigns", params=params), 400, fragment)


def test_list_default_view_and_fields(hood: httpx.Client, mixed: dict[str, str]) -> None:
    items = hood.get("/campaigns").json()["items"]
    assert all("messages" not in i and "utm_tracking" not in i for i in items)
    full = hood.get("/campaigns", params={"view": "full"}).json()["items"]
    assert all(len(i["messages"]) == 1 for i in full)
    slim = hood.get("/campaigns", params={"fields": "id,status"}).json()["items"]
    assert all(set(i) == {"id", "status"} for i in slim)


# -- PATCH -------------------------------------------------------------------------------------


def test_patch_is_a_json_merge_patch(hood: httpx.Client, fake_clock: FakeClock) -> None:
    created = create(
        hood,
        description="old",
        labels=["a", "b"],
        metadata={"hoodsync_key": "k", "keep": 1},
        targeting={
            "countries": {"op": "in", "items": ["FR"]},
            "languages": {"op": "in", "items": ["fr"]},
        },
    )
    fake_clock.advance(5)
    response = hood.patch(
        f"/campaigns/{created['id']}",
        json={
            "description": None,  # null removes
            "labels": ["c"],  # arrays replace
            "metadata": {"owner": "ops"},  # objects merge
            "targeting": {"languages": None, "countries": {"items": ["DE"]}},
        },
    )
    assert response.status_code == 204 and response.content == b""
    item = get(hood, created["id"])
    assert "description" not in item
    assert item["labels"] == "c"
    assert item["metadata"] == {"hoodsync_key": "k", "keep": 1, "owner": "ops"}
    assert item["targeting"] == {"countries": {"op": "in", "items": ["DE"]}}
    assert item["update_time"] == "2026-01-01 00:00:05" and item["create_time"] == NOW


def test_patch_messages_replaces_array_and_keeps_known_ids(hood: httpx.Client) -> None:
    created = create(hood)
    old = created["messages"][0]
    body = {
        "messages": [dict(old, name="renamed"), push("new")],
        "ab_test": {"name": "t", "test_split": 30},
    }
    assert hood.patch(f"/campaigns/{created['id']}", json=body).status_code == 204
    messages = get(hood, created["id"])["messages"]
    assert [m["name"] for m in messages] == ["renamed", "new"]
    assert messages[0]["id"] == old["id"]
    assert messages[1]["id"] != old["id"] and messages[1]["campaign_id"] == created["id"]


@pytest.mark.parametrize(
    ("patch", "fragment"),
    [
        ({"messages": []}, "messages is required"),
        ({"name": ""}, "name is required"),
        ({"name": None}, "name is required"),
        ({"recurrence": {"cron": "0 1 * * *"}}, "Only one of"),
        ({"shade": "blue"}, "Unknown field 'shade'"),
        ({"messages": [push("a"), push("b")]}, "ab_test is required"),
    ],
)
def test_patch_revalidates_the_merged_campaign(
    hood: httpx.Client, patch: dict[str, Any], fragment: str
) -> None:
    created = create(hood, scheduled_time="2026-02-01 08:00:00")
    assert_error(hood.patch(f"/campaigns/{created['id']}", json=patch), 400, fragment)
    assert get(hood, created["id"])["name"] == "Welcome"  # unchanged


def test_patch_switching_schedule_kind_updates_send_strategy(hood: httpx.Client) -> None:
    created = create(hood, scheduled_time="2026-02-01 08:00:00")
    patch = {"scheduled_time": None, "recurrence": {"cron": "0 1 * * *"}}
    assert hood.patch(f"/campaigns/{created['id']}", json=patch).status_code == 204
    item = get(hood, created["id"])
    assert item["send_strategy"] == "recurring" and "scheduled_time" not in item
    assert item["next_run_time"] is None
    back = {"recurrence": None, "scheduled_time": "2026-03-01 08:00:00"}
    assert hood.patch(f"/campaigns/{created['id']}", json=back).status_code == 204
    item = get(hood, created["id"])
    assert (item["send_strategy"], item["next_run_time"]) == ("scheduled", "2026-03-01 08:00:00")


@pytest.mark.parametrize("status", ["running", "canceled", "sent", "needs_decision"])
def test_patch_is_refused_in_locked_states(
    emu: EmulatorHandle, hood: httpx.Client, status: str
) -> None:
    created = create(hood)
    emu.store.set_campaign_status(created["id"], status)
    response = hood.patch(f"/campaigns/{created['id']}", json={"description": "x"})
    assert_error(response, 400, f"status '{status}' cannot be edited")


@pytest.mark.parametrize("status", ["draft", "scheduled", "paused"])
def test_patch_is_allowed_in_editable_states(
    emu: EmulatorHandle, hood: httpx.Client, status: str
) -> None:
    created = create(hood)
    emu.store.set_campaign_status(created["id"], status)
    assert hood.patch(f"/campaigns/{created['id']}", json={"description": "x"}).status_code == 204
    item = get(hood, created["id"])
    assert (item["description"], item["status"]) == ("x", status)


def test_patch_status_only_from_draft_and_never_into_draft(hood: httpx.Client) -> None:
    draft = create(hood, is_draft=True)
    assert_error(
        hood.patch(f"/campaigns/{draft['id']}", json={"status": "draft"}), 400, "into draft"
    )
    assert_error(
        hood.patch(f"/campaigns/{draft['id']}", json={"status": "paused"}),
        400,
        "only be changed to",
    )
    assert hood.patch(f"/campaigns/{draft['id']}", json={"status": "scheduled"}).status_code == 204
    item = get(hood, draft["id"])
    assert (item["status"], item["is_draft"], item["send_strategy"]) == (
        "scheduled",
        False,
        "manual",
    )
    assert_error(
        hood.patch(f"/campaigns/{draft['id']}", json={"status": "running"}),
        400,
        "only be changed while",
    )
    assert_error(
        hood.patch(f"/campaigns/{draft['id']}", json={"is_draft": True}), 400, "into draft"
    )


def test_patch_draft_to_running_and_publishing_with_is_draft(hood: httpx.Client) -> None:
    one = create(hood, is_draft=True)
    assert hood.patch(f"/campaigns/{one['id']}", json={"status": "running"}).status_code == 204
    assert get(hood, one["id"])["status"] == "running"
    two = create(hood, is_draft=True, scheduled_time="2026-04-01 00:00:00")
    assert hood.patch(f"/campaigns/{two['id']}", json={"is_draft": False}).status_code == 204
    item = get(hood, two["id"])
    assert (item["status"], item["send_strategy"], item["next_run_time"]) == (
        "scheduled",
        "scheduled",
        "2026-04-01 00:00:00",
    )


@pytest.mark.parametrize("start", ["draft", "scheduled", "paused"])
def test_patch_run_immediately_starts_the_campaign(
    emu: EmulatorHandle, hood: httpx.Client, start: str
) -> None:
    created = create(hood)
    emu.store.set_campaign_status(created["id"], start)
    assert (
        hood.patch(f"/campaigns/{created['id']}", json={"run_immediately": True}).status_code == 204
    )
    item = get(hood, created["id"])
    assert (item["status"], item["send_strategy"], item["run_immediately"]) == (
        "running",
        "immediate",
        None,
    )
    assert item["was_launched"] is True


# -- pause / resume / cancel ---------------------------------------------------------------------


def _in_status(emu: EmulatorHandle, hood: httpx.Client, status: str, **fields: Any) -> str:
    cid = str(create(hood, **fields)["id"])
    emu.store.set_campaign_status(cid, status)
    return cid


@pytest.mark.parametrize("start", ["running", "scheduled"])
def test_pause_from_running_or_scheduled(
    emu: EmulatorHandle, hood: httpx.Client, start: str
) -> None:
    cid = _in_status(emu, hood, start)
    response = hood.post(f"/campaigns/{cid}/pause", json={"reason": "budget"})
    assert response.status_code == 204 and response.content == b""
    assert get(hood, cid)["status"] == "paused"


@pytest.mark.parametrize("start", ["draft", "paused", "canceled", "sent", "needs_decision"])
def test_pause_refused_elsewhere(emu: EmulatorHandle, hood: httpx.Client, start: str) -> None:
    cid = _in_status(emu, hood, start)
    assert_error(hood.post(f"/campaigns/{cid}/pause"), 400, f"status '{start}' cannot be paused")
    assert get(hood, cid)["status"] == start


@pytest.mark.parametrize("start", ["running", "scheduled"])
def test_resume_with_empty_body_returns_to_previous_status(
    emu: EmulatorHandle, hood: httpx.Client, start: str
) -> None:
    cid = _in_status(emu, hood, start)
    assert hood.post(f"/campaigns/{cid}/pause").status_code == 204
    assert hood.post(f"/campaigns/{cid}/resume").status_code == 204
    assert get(hood, cid)["status"] == start


def test_resume_with_run_immediately_or_scheduled_time(
    hood: httpx.Client, fake_clock: FakeClock
) -> None:
    first = create(hood, scheduled_time="2026-02-01 08:00:00")["id"]
    hood.post(f"/campaigns/{first}/pause")
    assert hood.post(f"/campaigns/{first}/resume", json={"run_immediately": 1}).status_code == 204
    item = get(hood, first)
    assert (item["status"], item["send_strategy"], item["was_launched"]) == (
        "running",
        "immediate",
        True,
    )
    second = create(hood, run_immediately=True)["id"]
    hood.post(f"/campaigns/{second}/pause")
    when = "2026-06-01 09:00:00"
    assert (
        hood.post(f"/campaigns/{second}/resume", json={"scheduled_time": when}).status_code == 204
    )
    item = get(hood, second)
    assert (item["status"], item["scheduled_time"], item["next_run_time"]) == (
        "scheduled",
        when,
        when,
    )


def test_resume_at_a_time_keeps_a_recurrence(hood: httpx.Client) -> None:
    """Nothing documented says a resume changes how a campaign repeats: a recurring campaign
    resumed at a time waits for that time and keeps its recurrence (and stays a campaign with
    one execution option, as the create rule asks)."""
    recurrence = {"pattern": {"hour": 12, "minute": 30}}
    cid = create(hood, recurrence=recurrence)["id"]
    hood.post(f"/campaigns/{cid}/pause")
    when = "2026-06-01 12:30:00"
    assert hood.post(f"/campaigns/{cid}/resume", json={"scheduled_time": when}).status_code == 204
    item = get(hood, cid)
    assert (item["status"], item["next_run_time"], item["send_strategy"]) == (
        "scheduled",
        when,
        "recurring",
    )
    assert item["recurrence"] == recurrence and "scheduled_time" not in item
    # it can be edited again: it holds one execution option
    assert hood.patch(f"/campaigns/{cid}", json={"labels": ["x"]}).status_code == 204


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (
            {"run_immediately": 1, "scheduled_time": "2026-06-01 09:00:00"},
            "either run_immediately or scheduled_time",
        ),
        ({"scheduled_time": "tomorrow"}, "scheduled_time must be"),
        ({"when": "now"}, "Unknown field 'when'"),
    ],
)
def test_resume_body_rules(hood: httpx.Client, body: dict[str, Any], fragment: str) -> None:
    cid = create(hood)["id"]
    hood.post(f"/campaigns/{cid}/pause")
    assert_error(hood.post(f"/campaigns/{cid}/resume", json=body), 400, fragment)
    assert get(hood, cid)["status"] == "paused"


@pytest.mark.parametrize(
    "start", ["draft", "scheduled", "running", "canceled", "sent", "needs_decision"]
)
def test_resume_only_from_paused(emu: EmulatorHandle, hood: httpx.Client, start: str) -> None:
    cid = _in_status(emu, hood, start)
    assert_error(
        hood.post(f"/campaigns/{cid}/resume"), 400, "Only a paused campaign can be resumed"
    )


@pytest.mark.parametrize("start", ["running", "scheduled", "paused"])
def test_cancel_is_irreversible(emu: EmulatorHandle, hood: httpx.Client, start: str) -> None:
    cid = _in_status(emu, hood, start)
    assert hood.post(f"/campaigns/{cid}/cancel", json={"reason": "done"}).status_code == 204
    assert get(hood, cid)["status"] == "canceled"
    assert_error(hood.post(f"/campaigns/{cid}/resume"), 400, "resumed")
    assert_error(hood.post(f"/campaigns/{cid}/cancel"), 400, "cannot be canceled")
    assert_error(hood.patch(f"/campaigns/{cid}", json={"name": "again"}), 400, "cannot be edited")


@pytest.mark.parametrize("start", ["draft", "sent", "needs_decision"])
def test_cancel_refused_elsewhere(emu: EmulatorHandle, hood: httpx.Client, start: str) -> None:
    cid = _in_status(emu, hood, start)
    assert_error(hood.post(f"/campaigns/{cid}/cancel"), 400, f"status '{start}' cannot be canceled")


def test_action_bodies_are_checked(hood: httpx.Client) -> None:
    cid = create(hood)["id"]
    assert_error(
        hood.post(f"/campaigns/{cid}/pause", json={"reason": 5}), 400, "reason must be a string"
    )
    assert_error(
        hood.post(f"/campaigns/{cid}/pause", json={"why": "x"}), 400, "Unknown field 'why'"
    )
    assert_error(hood.post(f"/campaigns/{cid}/pause", content=b"{oops"), 400, "not valid")


def test_set_winner_only_when_awaiting_decision(emu: EmulatorHandle, hood: httpx.Client) -> None:
    created = create(
        hood,
        messages=[push("a"), push("b")],
        ab_test={"name": "t", "winner_delivery_mode": "manual"},
    )
    cid = created["id"]
    second = created["messages"][1]["id"]
    assert_error(hood.post(f"/campaigns/{cid}/messages/{second}/set-winner"), 400, "testing phase")
    emu.store.set_campaign_status(cid, "needs_decision")
    assert_error(hood.post(f"/campaigns/{cid}/messages/999/set-winner"), 400, "testing phase")
    assert hood.post(f"/campaigns/{cid}/messages/{second}/set-winner").status_code == 204
    item = get(hood, cid)
    assert item["status"] == "running"
    assert [m["winner"] for m in item["messages"]] == [0, 1]


# -- statuses the docs show without rules, and statuses they do not name (issue 13 §4) -----------


def _seeded(
    emu: EmulatorHandle,
    hood: httpx.Client,
    status: str,
    effective: str | None = None,
    **fields: Any,
) -> str:
    cid = str(create(hood, **fields)["id"])
    emu.store.set_campaign_status(
        cid, status, effective_status=effective, undocumented=status not in ("active", "manual")
    )
    return cid


@pytest.mark.parametrize(
    ("status", "effective"), [("active", "active"), ("active", None), ("manual", None)]
)
def test_active_and_manual_behave_like_scheduled(
    emu: EmulatorHandle, hood: httpx.Client, status: str, effective: str | None
) -> None:
    cid = _seeded(emu, hood, status, effective)
    item = get(hood, cid)
    assert (item["status"], item["effective_status"]) == (status, effective or status)
    assert hood.patch(f"/campaigns/{cid}", json={"labels": ["x", "y"]}).status_code == 204
    item = get(hood, cid)
    assert (item["labels"], item["status"], item["effective_status"]) == (
        "x,y",
        status,
        effective or status,
    )
    assert hood.post(f"/campaigns/{cid}/pause").status_code == 204
    item = get(hood, cid)
    assert (item["status"], item["effective_status"]) == ("paused", "paused")
    assert hood.post(f"/campaigns/{cid}/resume").status_code == 204  # back to where it was
    item = get(hood, cid)
    assert (item["status"], item["effective_status"]) == (status, effective or status)
    assert hood.post(f"/campaigns/{cid}/cancel").status_code == 204
    assert get(hood, cid)["status"] == "canceled"


def test_active_with_a_documented_effective_status_is_judged_as_that_status(
    emu: EmulatorHandle, hood: httpx.Client
) -> None:
    cid = _seeded(emu, hood, "active", "running")
    item = get(hood, cid)
    assert (item["status"], item["effective_status"]) == ("active", "running")
    assert_error(
        hood.patch(f"/campaigns/{cid}", json={"labels": ["x"]}),
        400,
        "status 'running' cannot be edited",
    )
    assert hood.post(f"/campaigns/{cid}/pause").status_code == 204
    assert hood.patch(f"/campaigns/{cid}", json={"labels": ["x"]}).status_code == 204
    assert hood.post(f"/campaigns/{cid}/resume").status_code == 204
    item = get(hood, cid)
    assert (item["status"], item["effective_status"], item["labels"]) == ("active", "running", "x")
    paused = _seeded(emu, hood, "active", "paused")
    assert_error(hood.post(f"/campaigns/{paused}/pause"), 400, "status 'paused' cannot be paused")


def test_a_new_status_clears_the_effective_status(emu: EmulatorHandle, hood: httpx.Client) -> None:
    cid = _seeded(emu, hood, "active", "active")
    assert hood.patch(f"/campaigns/{cid}", json={"run_immediately": True}).status_code == 204
    item = get(hood, cid)
    assert (item["status"], item["effective_status"]) == ("running", "running")


def test_an_undocumented_status_accepts_patch_and_refuses_every_action(
    emu: EmulatorHandle, hood: httpx.Client
) -> None:
    cid = _seeded(emu, hood, "archived")
    assert get(hood, cid)["status"] == "archived"
    assert hood.patch(f"/campaigns/{cid}", json={"labels": ["z"]}).status_code == 204
    item = get(hood, cid)
    assert (item["labels"], item["status"]) == ("z", "archived")
    assert_error(hood.post(f"/campaigns/{cid}/pause"), 400, "status 'archived' cannot be paused")
    assert_error(hood.post(f"/campaigns/{cid}/cancel"), 400, "status 'archived' cannot be canceled")
    assert_error(hood.post(f"/campaigns/{cid}/resume"), 400, "this one is 'archived'")
    with pytest.raises(ValueError):
        emu.store.set_campaign_status(cid, "archived")  # without undocumented=True: a typo guard


# -- routing and auth ----------------------------------------------------------------------------


def test_unknown_routes_and_methods(hood: httpx.Client, emu: EmulatorHandle) -> None:
    cid = create(hood)["id"]
    assert_error(hood.get("/segments"), 404, "No such endpoint")
    assert_error(hood.delete(f"/campaigns/{cid}"), 405, "DELETE is not allowed")
    assert_error(hood.get(f"/campaigns/{cid}/pause"), 405, "GET is not allowed")
    assert_error(emu.hood_client(base_url=emu.url).get("/v2/other"), 404, "No such endpoint")


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer"},
    ],
)
def test_missing_or_wrong_token_is_401(emu: EmulatorHandle, headers: dict[str, str]) -> None:
    response = emu.hood_client(authenticated=False, headers=headers).get("/campaigns")
    body = assert_error(response, 401, "bearer token")
    assert emu.hood_token not in response.text and body["title"] == "Unauthorized."
    assert "x-ratelimit-limit" not in response.headers
