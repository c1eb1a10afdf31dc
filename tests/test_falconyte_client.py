"""FalconyteClient against the emulator over a real loopback socket."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from hoodsync.errors import ApiError, AuthError, NotFoundError
from hoodsync.remote.falconyte import (
    FalconyteClient,
    normalize_email_campaign,
)
from hoodsync.remote.hood import MAX_LIST_PAGES
from hoodsync.remote.ratelimit import RateLimiter
from hoodsync.remote.transport import ApiTransport, RequestRecord, RetryPolicy, Secret
from hoodsync.wire import email_campaign_enabled

FAST = {"falconyte_rate_burst": 1000, "falconyte_rate_minute": 100_000}
TEMPLATE = str(uuid.UUID(int=1))
ACCOUNT = str(uuid.UUID(int=2))


def body(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "template_ids": [TEMPLATE],
        "mail_account_ids": [ACCOUNT],
        "events": ["contact.saved"],
        **extra,
    }


def client_for(
    emulator: Any,
    *,
    transport: httpx.BaseTransport | None = None,
    records: list[RequestRecord] | None = None,
    key: str | None = None,
    page_size: int = 100,
) -> FalconyteClient:
    api = ApiTransport(
        emulator.falconyte_url,
        Secret(key or emulator.falconyte_key),
        api="falconyte",
        limiter=RateLimiter(1000, 100_000),
        transport=transport,
        on_request=records.append if records is not None else None,
        policy=RetryPolicy(backoff_base=0.01),
    )
    return FalconyteClient(api, page_size=page_size)


class LoseAnswers(httpx.BaseTransport):
    """Real HTTP, but the answers to the requests ``lose`` picks are replaced by a 503."""

    def __init__(self, lose: Callable[[httpx.Request], bool]) -> None:
        self._inner = httpx.HTTPTransport()
        self._lose = lose

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._inner.handle_request(request)
        if self._lose(request):
            response.read()
            response.close()
            return httpx.Response(
                503, json={"ok": False, "error": {"code": "UNAVAILABLE", "message": "x"}}
            )
        return response


def test_normalize_and_enabled() -> None:
    raw = {
        "id": 7,
        "team_id": 3,
        "campaign_sends": [{"id": 9, "campaign_id": 7, "status": "stopped"}],
        "meta": [],
    }
    obj = normalize_email_campaign(raw)
    assert obj["id"] == "7" and obj["team_id"] == "3"
    assert obj["campaign_sends"] == [{"id": "9", "campaign_id": "7", "status": "stopped"}]
    assert email_campaign_enabled(obj) is False
    on = {
        "draft_data": {"send_data": {"event_triggered_send": {"enabled": True}}},
        "campaign_sends": [],
    }
    assert email_campaign_enabled(on) is True
    assert email_campaign_enabled({}) is None


def test_create_list_start_stop(make_emulator: Callable[..., Any]) -> None:
    emulator = make_emulator(**FAST)
    falconyte = client_for(emulator)
    created = falconyte.create_campaign(body("Welcome"))
    assert created["name"] == "Welcome" and isinstance(created["id"], str)
    assert email_campaign_enabled(created) is True  # new campaigns start enabled
    falconyte.stop_campaign(created["id"])
    assert email_campaign_enabled(falconyte.find_campaign(created["id"])) is False
    with pytest.raises(ApiError) as twice:
        falconyte.stop_campaign(created["id"])  # refused on the first attempt: a real error
    assert twice.value.status == 422 and twice.value.code == "INVALID_STATE"
    falconyte.start_campaign(created["id"])
    assert email_campaign_enabled(falconyte.find_campaign(created["id"])) is True
    with pytest.raises(NotFoundError):
        falconyte.start_campaign(str(uuid.uuid4()))
    with pytest.raises(NotFoundError):
        falconyte.find_campaign("nope")


def test_list_pages_until_a_short_page(make_emulator: Callable[..., Any]) -> None:
    emulator = make_emulator(**FAST)
    records: list[RequestRecord] = []
    falconyte = client_for(emulator, records=records, page_size=2)
    names = [f"C{i}" for i in range(5)]
    for name in names:
        falconyte.create_campaign(body(name))
    records.clear()
    assert [c["name"] for c in falconyte.list_campaigns()] == names  # oldest first
    assert len(records) == 3  # 2 + 2 + 1


def test_validation_errors_list_the_fields(make_emulator: Callable[..., Any]) -> None:
    falconyte = client_for(make_emulator(**FAST))
    with pytest.raises(ApiError) as info:
        falconyte.create_campaign(
            {"name": "", "template_ids": ["x"], "mail_account_ids": [ACCOUNT], "events": ["nope"]}
        )
    err = info.value
    assert err.status == 422 and err.code == "VALIDATION_FAILED"
    assert "name: The name field is required." in err.api_message
    assert "template_ids.0:" in err.api_message and "events.0:" in err.api_message


def test_wrong_key_is_an_auth_error(make_emulator: Callable[..., Any]) -> None:
    emulator = make_emulator(**FAST)
    wrong = "wrong-" + emulator.falconyte_key
    with pytest.raises(AuthError) as info:
        client_for(emulator, key=wrong).list_campaigns()
    assert info.value.code == "UNAUTHENTICATED" and wrong not in str(info.value)


def test_dropped_create_is_found_by_name_not_duplicated(make_emulator: Callable[..., Any]) -> None:
    emulator = make_emulator(drop_after_commit_rate=1.0, **FAST)
    records: list[RequestRecord] = []
    falconyte = client_for(emulator, records=records)
    created = falconyte.create_campaign(body("Once"))
    assert created["name"] == "Once"
    assert [r.method for r in records].count("POST") == 1
    assert [c["id"] for c in falconyte.list_campaigns()] == [created["id"]]


def test_lost_create_ignores_the_campaign_it_replaces(make_emulator: Callable[..., Any]) -> None:
    emulator = make_emulator(**FAST)
    falconyte = client_for(emulator)
    old = falconyte.create_campaign(body("Flow"))
    falconyte.stop_campaign(old["id"])
    lossy = client_for(
        emulator,
        transport=LoseAnswers(lambda r: r.method == "POST" and r.url.path.endswith("/campaigns")),
    )
    new = lossy.create_campaign(body("Flow"), exclude_ids=[old["id"]])
    assert new["id"] != old["id"] and email_campaign_enabled(new) is True
    assert len(falconyte.list_campaigns()) == 2


def test_stop_whose_answer_was_lost_counts_as_done(make_emulator: Callable[..., Any]) -> None:
    emulator = make_emulator(**FAST)
    created = client_for(emulator).create_campaign(body("Lossy"))
    first = threading.Event()

    def lose_first_stop(request: httpx.Request) -> bool:
        if request.url.path.endswith("/stop") and not first.is_set():
            first.set()
            return True
        return False

    client_for(emulator, transport=LoseAnswers(lose_first_stop)).stop_campaign(created["id"])
    assert first.is_set()
    assert email_campaign_enabled(client_for(emulator).find_campaign(created["id"])) is False


# ------------------------------------------------------------------------------ strict lists


def mock_client(
    handler: Callable[[httpx.Request], httpx.Response], **kwargs: Any
) -> FalconyteClient:
    api = ApiTransport(
        "https://api.example.test/public/v1",
        Secret("k3y"),
        api="falconyte",
        limiter=RateLimiter(1000, 100_000),
        transport=httpx.MockTransport(handler),
        sleep=lambda s: None,
    )
    return FalconyteClient(api, **kwargs)


@pytest.mark.parametrize(
    "payload, got",
    [
        (None, "got null"),
        ({}, "got an empty object"),
        ({"data": [{"id": 1}]}, "got an object with keys data"),
        ({"ok": True, "campaigns": {"id": 1}}, "got campaigns as an object with keys id"),
        ({"ok": True, "campaigns": None}, "got campaigns as null"),
        ({"ok": False, "campaigns": []}, 'got "ok": false'),
        ({"ok": True, "campaigns": [{"id": 1}, 7]}, "item 1 is a number"),
    ],
)
def test_a_list_answer_of_another_shape_is_an_error_not_an_empty_team(
    payload: Any, got: str
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=payload)

    with pytest.raises(ApiError) as info:
        mock_client(handler).list_campaigns()
    message = str(info.value)
    assert message.startswith("list email campaigns (GET /email/campaigns, page 1): ")
    assert "expected" in message and got in message


@pytest.mark.parametrize(
    "payload",
    [
        {"ok": True, "campaigns": []},
        [],
        {"ok": True, "campaigns": {"data": []}},
    ],
)
def test_an_empty_team_is_an_empty_list_in_a_documented_shape(payload: Any) -> None:
    assert mock_client(lambda r: httpx.Response(200, json=payload)).list_campaigns() == []


def test_a_server_that_ignores_paging_is_an_error_after_two_pages() -> None:
    pages: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        pages.append(request.url.params["page"])
        campaigns = [{"id": i, "name": f"C{i}"} for i in range(2)]
        return httpx.Response(200, json={"ok": True, "campaigns": campaigns})

    with pytest.raises(ApiError) as info:
        mock_client(handler, page_size=2).list_campaigns()
    assert pages == ["1", "2"] and "ignore paging" in str(info.value)


def test_endless_fresh_pages_are_bounded_by_max_pages() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        page = request.url.params["page"]
        return httpx.Response(
            200, json={"ok": True, "campaigns": [{"id": f"{page}-{i}"} for i in range(2)]}
        )

    with pytest.raises(ApiError) as info:
        mock_client(handler, page_size=2, max_pages=4).list_campaigns()
    assert "after 4 pages of 2" in str(info.value)


class CappedTeam:
    """A Falconyte server that pages by ``per_page`` but caps it at ``cap`` (the cap is not
    documented; Falconyte's own client asks for 15). A POST creates, and its answer can be lost
    (503 after the campaign is made)."""

    def __init__(self, count: int, cap: int = 15) -> None:
        self.campaigns: list[dict[str, Any]] = [
            {"id": str(uuid.UUID(int=100 + i)), "name": f"C{i:02d}", "created_at": f"t{i:03d}"}
            for i in range(count)
        ]
        self.cap = cap
        self.pages: list[str] = []
        self.posts = 0
        self.lose_posts = False

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            self.posts += 1
            made = {"id": str(uuid.uuid4()), "name": "New", "created_at": "t999"}
            self.campaigns.append(made)
            if self.lose_posts:
                return httpx.Response(503, json={"ok": False, "error": {"code": "UNAVAILABLE"}})
            return httpx.Response(201, json={"ok": True, "campaign": made})
        page = int(request.url.params["page"])
        size = min(int(request.url.params["per_page"]), self.cap)
        self.pages.append(f"{page}")
        chunk = self.campaigns[(page - 1) * size : page * size]
        return httpx.Response(200, json={"ok": True, "campaigns": chunk})


@pytest.mark.parametrize(
    "count, pages", [(20, ["1", "2"]), (15, ["1", "2"]), (31, ["1", "2", "3"])]
)
def test_a_server_capping_per_page_is_read_to_the_end(count: int, pages: list[str]) -> None:
    server = CappedTeam(count)
    listed = mock_client(server).list_campaigns()
    assert [c["name"] for c in listed] == [f"C{i:02d}" for i in range(count)]
    assert server.pages == pages  # 15 + 5 / 15 + an empty page / 15 + 15 + 1


def test_a_lost_create_is_found_beyond_a_capped_first_page() -> None:
    """The create-outcome lookup lists too: the new campaign (the 21st) is on page 2."""
    server = CappedTeam(20)
    server.lose_posts = True
    created = mock_client(server).create_campaign(body("New"))
    assert created["name"] == "New" and server.posts == 1


def test_endless_fresh_pages_stop_at_the_absolute_default_bound() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.params["page"])
        page = calls[-1]
        return httpx.Response(
            200, json={"ok": True, "campaigns": [{"id": f"{page}-{i}"} for i in range(2)]}
        )

    with pytest.raises(ApiError) as info:
        mock_client(handler, page_size=2).list_campaigns()
    assert len(calls) == MAX_LIST_PAGES == 2_000
    assert "after 2,000 pages of 2, the most hoodsync reads of one list" in str(info.value)


class BadIdAnswers(httpx.BaseTransport):
    """Real HTTP to the emulator (the create happens), but a create's answer carries ``bad`` as
    the campaign's id."""

    def __init__(self, bad: Any) -> None:
        self._inner = httpx.HTTPTransport()
        self._bad = bad

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._inner.handle_request(request)
        if request.method != "POST":
            return response
        data = json.loads(response.read())
        data["campaign"]["id"] = self._bad
        return httpx.Response(response.status_code, json=data)

    def close(self) -> None:
        self._inner.close()


@pytest.mark.parametrize("bad", [None, True, {"a": 1}, "", " ", 1.5, 1e300, [1]], ids=repr)
def test_a_create_answered_with_a_malformed_id_is_looked_for_not_taken(
    make_emulator: Callable[..., Any], bad: Any
) -> None:
    emulator = make_emulator(**FAST)
    records: list[RequestRecord] = []
    created = client_for(emulator, transport=BadIdAnswers(bad), records=records).create_campaign(
        body("Bad id")
    )
    assert [c["id"] for c in client_for(emulator).list_campaigns()] == [created["id"]]
    assert uuid.UUID(created["id"]) and [r.method for r in records].count("POST") == 1
