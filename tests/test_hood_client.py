"""HoodClient against the emulator over a real loopback socket (MockTransport only for list
behaviour the emulator cannot produce)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from conftest import FakeClock

from hoodsync.errors import ApiError, AuthError, NotFoundError, OutcomeUnknownError, ServerError
from hoodsync.remote.hood import (
    MAX_LIST_PAGES,
    HoodClient,
    normalize_campaign,
    normalize_push_task,
    parse_total,
    unwrap_items,
)
from hoodsync.remote.ratelimit import RateLimiter
from hoodsync.remote.transport import ApiTransport, RequestRecord, RetryPolicy, Secret

FAST = {"rate_burst": 1000, "rate_minute": 100_000}


def campaign_body(key: str, name: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "name": name or f"Campaign {key}",
        "labels": ["spring", "sale"],
        "metadata": {"hoodsync_key": key},
        "messages": [
            {
                "name": "Hello",
                "channel": "push",
                "push": {
                    "title": {"en": "Hi"},
                    "body": {"en": "Body"},
                    "landing_url": "https://example.com",
                },
            }
        ],
        **extra,
    }


def push_task_body(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "status": 0,
        "ttl": 3600,
        "quiet_time": {"from": 2, "to": 12},
        "message": {"title": {"en": "Hi"}, "landing_url": "https://example.com"},
        **extra,
    }


#: Retries as the transport makes them, with backoffs short enough for tests.
FAST_RETRIES = RetryPolicy(backoff_base=0.01)


def client_for(
    emulator: Any,
    *,
    records: list[RequestRecord] | None = None,
    transport: httpx.BaseTransport | None = None,
    limiter: RateLimiter | None = None,
    token: str | None = None,
    policy: RetryPolicy = FAST_RETRIES,
    **kwargs: Any,
) -> HoodClient:
    api = ApiTransport(
        emulator.hood_url,
        Secret(token or emulator.hood_token),
        limiter=limiter or RateLimiter(1000, 100_000),
        transport=transport,
        on_request=records.append if records is not None else None,
        policy=policy,
        **kwargs,
    )
    return HoodClient(api)


class LoseAnswers(httpx.BaseTransport):
    """Real HTTP to the emulator, but for requests ``lose(request)`` picks, the server's answer
    is thrown away and a 503 returned instead: the server acted, the client cannot know."""

    def __init__(self, lose: Callable[[httpx.Request], bool]) -> None:
        self._inner = httpx.HTTPTransport()
        self._lose = lose
        self.lost = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._inner.handle_request(request)
        if self._lose(request):
            response.read()
            response.close()
            self.lost += 1
            return httpx.Response(503, json={"code": 503, "title": "Service unavailable."})
        return response

    def close(self) -> None:
        self._inner.close()


# ------------------------------------------------------------------------------ normalising


def test_normalize_campaign_one_shape() -> None:
    raw = {
        "id": 1017164,
        "company_id": "6761337",
        "creator_id": 12,
        "deal_id": 5.0,
        "labels": " cars, bmw,,audi ,",
        "creator": {"id": 12, "company_id": 6761337, "name": "A"},
        "messages": [
            {
                "id": 26,
                "campaign_id": 1017164,
                "integration_id": 0,
                "template_id": None,
                "name": "m",
            }
        ],
        "metadata": {"hoodsync_key": "k", "n": 1},
        "run_counter": "3",
    }
    obj = normalize_campaign(raw)
    assert obj["id"] == "1017164" and obj["creator_id"] == "12" and obj["deal_id"] == "5"
    assert obj["labels"] == ["cars", "bmw", "audi"]
    assert obj["creator"] == {"id": "12", "company_id": "6761337", "name": "A"}
    assert obj["messages"][0] == {
        "id": "26",
        "campaign_id": "1017164",
        "integration_id": "0",
        "template_id": None,
        "name": "m",
    }
    assert obj["metadata"] == {"hoodsync_key": "k", "n": 1}  # untouched
    assert obj["run_counter"] == 3  # a documented integer (hoodsync.wire), as the kinds read it
    assert normalize_campaign({"labels": None})["labels"] == []
    assert normalize_campaign({"labels": ["a", "b"]})["labels"] == ["a", "b"]
    assert "labels" not in normalize_campaign({"id": "1"})  # nothing is added
    assert raw["labels"] == " cars, bmw,,audi ,"  # the input is not modified


def test_normalize_push_task_numbers() -> None:
    raw = {
        "id": 1057,
        "status": "1",
        "ttl": "3600",
        "frequency": 86400.0,
        "user_time_zone": "0",
        "total_user": "12",
        "quiet_time": {"from": "2", "to": 12},
        "name": "007",
        "adex": {
            "zone_id": "3002371",
            "account_id": 123456,
            "campaign_id": ["1011086"],
            "number_of_messages": "1",
            "repeat_on_click": "0",
            "default_campaign_id": "1011086",
        },
        "custom_data": "12",
    }
    obj = normalize_push_task(raw)
    assert obj["id"] == "1057"
    assert (
        obj["status"],
        obj["ttl"],
        obj["frequency"],
        obj["user_time_zone"],
        obj["total_user"],
    ) == (1, 3600, 86400, 0, 12)
    assert obj["quiet_time"] == {"from": 2, "to": 12}
    assert obj["adex"] == {
        "zone_id": 3002371,
        "account_id": 123456,
        "campaign_id": ["1011086"],
        "number_of_messages": 1,
        "repeat_on_click": 0,
        "default_campaign_id": 1011086,
    }
    assert obj["name"] == "007" and obj["custom_data"] == "12"  # strings that are not numbers stay
    assert normalize_push_task({"ttl": "soon", "frequency": None})["ttl"] == "soon"


def test_parse_total_and_unwrap() -> None:
    assert (
        parse_total(5) == 5
        and parse_total("10") == 10
        and parse_total(" 7 ") == 7
        and parse_total(3.0) == 3
    )
    assert (
        parse_total("ten") is None
        and parse_total(None) is None
        and parse_total(True) is None
        and parse_total(-1) is None
    )
    assert unwrap_items({"total": "2", "items": [{"id": 1}, "junk", {"id": 2}]}) == (
        [{"id": 1}, {"id": 2}],
        2,
    )
    assert unwrap_items(None) == ([], None)


# ------------------------------------------------------------------------------ campaigns


def test_campaign_lifecycle(make_emulator: Callable[..., Any]) -> None:
    emulator = make_emulator(**FAST)
    hood = client_for(emulator)
    created = hood.create_campaign(campaign_body("spring"), key="spring")
    assert isinstance(created["id"], str) and created["status"] == "scheduled"
    assert created["labels"] == ["spring", "sale"]
    assert created["metadata"] == {"hoodsync_key": "spring"}
    assert all(
        isinstance(m["id"], str) and m["campaign_id"] == created["id"] for m in created["messages"]
    )

    fetched = hood.get_campaign(created["id"])
    assert fetched["labels"] == ["spring", "sale"]  # the emulator returns "spring,sale"
    assert fetched["messages"][0]["push"]["title"] == {"en": "Hi"}  # full view

    hood.patch_campaign(created["id"], {"description": "new", "labels": ["a"]})
    assert hood.get_campaign(created["id"])["description"] == "new"
    hood.pause_campaign(created["id"], reason="edit")
    assert hood.get_campaign(created["id"])["status"] == "paused"
    hood.resume_campaign(created["id"], {"run_immediately": 1})
    assert hood.get_campaign(created["id"])["status"] == "running"
    with pytest.raises(ApiError) as refused:
        hood.patch_campaign(created["id"], {"description": "running campaigns are not editable"})
    assert refused.value.status == 400 and refused.value.attempts == 1
    hood.cancel_campaign(created["id"])
    assert hood.get_campaign(created["id"])["status"] == "canceled"
    with pytest.raises(ApiError) as again:
        hood.resume_campaign(created["id"])  # from canceled: refused on the first attempt
    assert again.value.status == 400 and not isinstance(again.value, NotFoundError)


def test_unknown_campaign_is_not_found(make_emulator: Callable[..., Any]) -> None:
    hood = client_for(make_emulator(**FAST))
    with pytest.raises(NotFoundError) as info:
        hood.get_campaign("424242")
    assert info.value.status == 400 and "does not exist" in str(info.value)


def test_create_validation_error_carries_the_api_message(make_emulator: Callable[..., Any]) -> None:
    hood = client_for(make_emulator(**FAST))
    body = campaign_body("bad")
    body["messages"][0]["channel"] = "sms"
    with pytest.raises(ApiError) as info:
        hood.create_campaign(body, key="bad")
    assert info.value.status == 400 and "integration_id" in str(info.value) and info.value.trace_id
    assert hood.list_campaigns() == []


def test_list_pages_through_a_capped_page_size(make_emulator: Callable[..., Any]) -> None:
    emulator = make_emulator(page_max=7, **FAST)
    records: list[RequestRecord] = []
    hood = client_for(emulator, records=records)
    keys = [f"c{i:02d}" for i in range(20)]
    for key in keys:
        hood.create_campaign(campaign_body(key), key=key)
    records.clear()
    listed = hood.list_campaigns()
    assert [c["metadata"]["hoodsync_key"] for c in listed] == keys  # oldest first, none missing
    assert len({c["id"] for c in listed}) == 20
    assert all(isinstance(c["labels"], list) for c in listed)
    assert [r.status for r in records] == [200, 200, 200]  # 7 + 7 + 6: the cap was detected


def test_list_survives_shifting_items_and_a_string_total() -> None:
    """A server that returns total as a string, caps the page size, and gets a new item while
    the client pages (so the first pass is inconsistent)."""
    items = [
        {"id": str(i), "create_time": f"2026-01-01 00:00:{i:02d}", "labels": "x"}
        for i in range(1, 6)
    ]
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        page, size = (int(x) for x in request.url.params["page"].split(","))
        size = min(size, 2)
        calls.append(f"{page},{size}")
        if len(calls) == 2:
            items.append({"id": "6", "create_time": "2026-01-01 00:00:06", "labels": ""})
        chunk = items[(page - 1) * size : page * size]
        return httpx.Response(200, json={"total": str(len(items)), "items": chunk})

    api = ApiTransport(
        "https://api.example.test/v1/hood",
        Secret("t0ken"),
        limiter=RateLimiter(1000, 100000),
        transport=httpx.MockTransport(handler),
    )
    listed = HoodClient(api).list_campaigns()
    assert [c["id"] for c in listed] == ["1", "2", "3", "4", "5", "6"]
    assert listed[5]["labels"] == []
    assert calls[0] == "1,2" and len(calls) > 3  # read again after total changed


def test_list_with_an_unparseable_total_stops_at_an_empty_page() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        page, size = (int(x) for x in request.url.params["page"].split(","))
        data = [{"id": str(i)} for i in range(1, 4)]
        return httpx.Response(
            200,
            json={"total": "many", "items": data[(page - 1) * 3 : page * 3] if size >= 3 else []},
        )

    api = ApiTransport(
        "https://api.example.test/v1/hood",
        Secret("t0ken"),
        limiter=RateLimiter(1000, 100000),
        transport=httpx.MockTransport(handler),
    )
    assert [c["id"] for c in HoodClient(api).list_campaigns()] == ["1", "2", "3"]


def test_wrong_token_is_an_auth_error_without_the_token(make_emulator: Callable[..., Any]) -> None:
    emulator = make_emulator(**FAST)
    wrong = "not-" + emulator.hood_token
    hood = client_for(emulator, token=wrong)
    with pytest.raises(AuthError) as info:
        hood.list_campaigns()
    assert info.value.status == 401
    assert wrong not in str(info.value) and emulator.hood_token not in repr(info.value)


# ------------------------------------------------------------------------------ exactly-once creates


def test_create_whose_connection_drops_after_commit_is_not_duplicated(
    make_emulator: Callable[..., Any],
) -> None:
    emulator = make_emulator(drop_after_commit_rate=1.0, **FAST)
    records: list[RequestRecord] = []
    hood = client_for(emulator, records=records)
    created = hood.create_campaign(campaign_body("once"), key="once")
    assert created["metadata"]["hoodsync_key"] == "once"
    posts = [r for r in records if r.method == "POST"]
    assert len(posts) == 1 and posts[0].error == "NetworkError"  # dropped, then found by listing
    assert [c["id"] for c in hood.list_campaigns()] == [created["id"]]


def test_create_lost_as_a_5xx_is_found_by_its_marker(make_emulator: Callable[..., Any]) -> None:
    emulator = make_emulator(**FAST)
    lose = LoseAnswers(lambda r: r.method == "POST")
    hood = client_for(emulator, transport=lose)
    created = hood.create_campaign(campaign_body("m1", name="Same name"), key="m1")
    assert lose.lost == 1 and created["metadata"]["hoodsync_key"] == "m1"
    assert len(client_for(emulator).list_campaigns()) == 1


def test_create_answered_500_without_executing_is_sent_again(
    make_emulator: Callable[..., Any],
) -> None:
    emulator = make_emulator(fail_rate=1.0, **FAST)
    hood = client_for(emulator)
    with pytest.raises(OutcomeUnknownError) as info:
        hood.create_campaign(campaign_body("x"), key="x")  # the listing fails too (500s)
    assert "listing to check failed" in str(info.value)


def test_a_create_names_no_resolved_name_in_its_operation(
    make_emulator: Callable[..., Any],
) -> None:
    # A name may hold an ${env:...} value: errors name the kind (and a campaign's key) only.
    hood = client_for(make_emulator(fail_rate=1.0, **FAST))
    with pytest.raises(OutcomeUnknownError) as task:
        hood.create_push_task(push_task_body("Task SECRET123"))
    with pytest.raises(OutcomeUnknownError) as campaign:
        hood.create_campaign(campaign_body("k", name="Camp SECRET123"), key="k")
    assert task.value.operation == "create push task"
    assert campaign.value.operation == "create campaign k"
    assert "SECRET123" not in str(task.value) + str(campaign.value)


def test_create_that_never_shows_up_fails_after_bounded_sends(
    make_emulator: Callable[..., Any],
) -> None:
    emulator = make_emulator(**FAST)
    records: list[RequestRecord] = []

    # Every create is answered 500 and not executed (no way to tell from the client side).
    class NeverCreates(httpx.BaseTransport):
        def __init__(self) -> None:
            self.inner = httpx.HTTPTransport()

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            if request.method == "POST":
                return httpx.Response(500, json={"code": 500, "title": "Internal server error."})
            return self.inner.handle_request(request)

    clock = FakeClock()
    policy = RetryPolicy(backoff_base=0.01, max_attempts=4, settle_window=60.0)
    hood = client_for(
        emulator,
        transport=NeverCreates(),
        records=records,
        policy=policy,
        clock=clock,
        sleep=clock.sleep,
    )
    with pytest.raises(ServerError):
        hood.create_campaign(campaign_body("y"), key="y")
    methods = [r.method for r in records]
    # Bounded: 4 sends, each followed by 8 looks over the 60 s settle window, with pauses that
    # grow (1, 2, 4, 8, then 15 s) instead of a re-send 0.4 s after one look.
    assert methods.count("POST") == 4
    assert methods == (["POST"] + ["GET"] * 8) * 4
    assert [s for s in clock.sleeps if s >= 1.0] == [1.0, 2.0, 4.0, 8.0, 15.0, 15.0, 15.0] * 4
    assert hood.unknown_outcomes == 4


def test_creates_under_faults_yield_exactly_one_campaign_each(
    make_emulator: Callable[..., Any],
) -> None:
    """The issue's fault scenario, scaled down: 500s, commit-then-drop creates and latency."""
    emulator = make_emulator(
        fail_rate=0.1, drop_after_commit_rate=0.05, latency_ms=20, seed=11, **FAST
    )
    clock = FakeClock()  # the settle window's pauses pass at once
    policy = RetryPolicy(backoff_base=0.01, max_attempts=8)
    hood = client_for(emulator, parallelism=4, policy=policy, clock=clock, sleep=clock.sleep)
    keys = [f"f{i:03d}" for i in range(40)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        created = list(pool.map(lambda k: hood.create_campaign(campaign_body(k), key=k), keys))
    assert sorted(c["metadata"]["hoodsync_key"] for c in created) == keys
    remote = client_for(emulator, policy=policy).list_campaigns()
    assert sorted(c["metadata"]["hoodsync_key"] for c in remote) == keys  # exactly N, no duplicates


# ------------------------------------------------------------------------------ state actions


def test_state_action_whose_answer_was_lost_counts_as_done(
    make_emulator: Callable[..., Any],
) -> None:
    emulator = make_emulator(**FAST)
    hood = client_for(emulator)
    campaign = hood.create_campaign(campaign_body("p"), key="p")
    first = threading.Event()

    def lose_first_pause(request: httpx.Request) -> bool:
        if request.url.path.endswith("/pause") and not first.is_set():
            first.set()
            return True
        return False

    lossy = client_for(emulator, transport=LoseAnswers(lose_first_pause))
    lossy.pause_campaign(campaign["id"])  # 503 (but paused), retry → 400, re-read → paused: done
    assert hood.get_campaign(campaign["id"])["status"] == "paused"


def test_state_action_refused_on_retry_and_not_in_the_wanted_state_raises(
    make_emulator: Callable[..., Any],
) -> None:
    emulator = make_emulator(**FAST)
    hood = client_for(emulator)
    campaign = hood.create_campaign(campaign_body("q"), key="q")
    hood.pause_campaign(campaign["id"])
    emulator.store.set_campaign_status(campaign["id"], "sent")

    # First resume attempt fails with a 503 that did not execute; the retry is refused (sent).
    class FailFirst(httpx.BaseTransport):
        def __init__(self) -> None:
            self.inner = httpx.HTTPTransport()
            self.failed = False

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            if request.url.path.endswith("/resume") and not self.failed:
                self.failed = True
                return httpx.Response(503, json={"code": 503, "title": "Service unavailable."})
            return self.inner.handle_request(request)

    with pytest.raises(ApiError) as info:
        client_for(emulator, transport=FailFirst()).resume_campaign(campaign["id"])
    assert info.value.status == 400 and info.value.attempts == 2


# ------------------------------------------------------------------------------ push tasks


def test_push_task_lifecycle(make_emulator: Callable[..., Any]) -> None:
    emulator = make_emulator(**FAST)
    hood = client_for(emulator)
    task = hood.create_push_task(push_task_body("Daily"))
    assert isinstance(task["id"], str) and task["name"] == "Daily"
    assert (
        task["status"] == 0 and task["ttl"] == 3600 and task["quiet_time"] == {"from": 2, "to": 12}
    )
    hood.patch_push_task(task["id"], {"ttl": 7200})
    fetched = hood.get_push_task(task["id"])
    assert fetched["ttl"] == 7200 and fetched["name"] == "Daily"
    assert [t["id"] for t in hood.list_push_tasks()] == [task["id"]]
    with pytest.raises(NotFoundError):
        hood.get_push_task("999999")


def test_push_task_create_lost_is_found_by_name_excluding_older_ones(
    make_emulator: Callable[..., Any],
) -> None:
    emulator = make_emulator(**FAST)
    hood = client_for(emulator)
    older = hood.create_push_task(push_task_body("Weekly"))
    lossy = client_for(emulator, transport=LoseAnswers(lambda r: r.method == "POST"))
    created = lossy.create_push_task(push_task_body("Weekly"), exclude_ids=[older["id"]])
    assert created["id"] != older["id"] and created["name"] == "Weekly"
    assert len(hood.list_push_tasks()) == 2


# ------------------------------------------------------------------------------ shared account


@pytest.mark.parametrize("rate_headers", [True, False], ids=["headers", "no-headers"])
def test_two_clients_sharing_one_account_recover_from_429s(
    make_emulator: Callable[..., Any], rate_headers: bool
) -> None:
    """Like two hoodsync processes: two limiters, each believing it has the whole budget (and
    more: the account allows 5/s, each limiter 10/s).

    With ``X-RateLimit-*`` headers each limiter may learn the other from ``Remaining`` before
    it is throttled, so 429s are possible there but not certain. Without them nothing shows
    the other client before a 429: 12 requests within about a second against 5 a second
    must be throttled, and every call must still succeed."""
    emulator = make_emulator(rate_burst=5, rate_minute=100_000, rate_headers=rate_headers)
    records: list[RequestRecord] = []
    lock = threading.Lock()

    def record(r: RequestRecord) -> None:
        with lock:
            records.append(r)

    clients = [
        HoodClient(
            ApiTransport(
                emulator.hood_url, Secret(emulator.hood_token), parallelism=4, on_request=record
            )
        )
        for _ in range(2)
    ]
    with ThreadPoolExecutor(max_workers=8) as pool:
        jobs = [pool.submit(c.list_campaigns) for c in clients for _ in range(6)]
        results = [j.result() for j in jobs]
    assert results == [[]] * 12  # every call succeeded in the end
    statuses = [r.status for r in records]
    assert statuses.count(200) == 12
    assert set(statuses) <= {200, 429}
    if not rate_headers:
        assert 429 in statuses  # they were throttled, and recovered


# ------------------------------------------------------------------------------ late commits


class LateCommitServer:
    """A Hood campaigns endpoint (for ``httpx.MockTransport``) that commits each create
    ``lag`` seconds after receiving it — after the client's ``timeout`` has made it give up
    on the answer. Time is the injected ``clock``; the handler moves it like a real wait."""

    def __init__(self, clock: FakeClock, *, lag: float = 33.0, timeout: float = 30.0) -> None:
        self.clock = clock
        self.lag = lag
        self.timeout = timeout
        self.pending: list[tuple[float, dict[str, Any]]] = []
        self.campaigns: list[dict[str, Any]] = []
        self.posts = 0
        self.lock = threading.Lock()

    def _commit_due(self) -> None:
        due = [p for p in self.pending if p[0] <= self.clock()]
        self.pending = [p for p in self.pending if p[0] > self.clock()]
        for _, body in due:
            self.campaigns.append(
                {**body, "id": str(1000 + len(self.campaigns)), "status": "scheduled"}
            )

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            return self._answer(request)

    def _answer(self, request: httpx.Request) -> httpx.Response:
        self._commit_due()
        if request.method == "POST":
            self.posts += 1
            self.pending.append((self.clock() + self.lag, json.loads(request.content)))
            self.clock.advance(self.timeout)  # the client waits its whole timeout, in vain
            raise httpx.ReadTimeout("timed out", request=request)
        return httpx.Response(200, json={"total": len(self.campaigns), "items": self.campaigns})

    def settled(self) -> list[dict[str, Any]]:
        """Every campaign once all pending creates have been committed."""
        self.clock.advance(10 * self.lag)
        self._commit_due()
        return self.campaigns


def late_client(server: LateCommitServer, **kwargs: Any) -> HoodClient:
    clock = server.clock
    return HoodClient(
        ApiTransport(
            "https://api.example.test/v1/hood",
            Secret("t0ken"),
            limiter=RateLimiter(1000, 100_000, clock=clock, sleep=clock.sleep),
            transport=httpx.MockTransport(server),
            clock=clock,
            sleep=clock.sleep,
            **kwargs,
        )
    )


def test_a_create_committed_after_the_client_timed_out_is_sent_once() -> None:
    """The server commits the POST 33 s after receiving it, 3 s after the client's 30 s timeout:
    the client keeps looking over its settle window and finds it, instead of sending it again."""
    server = LateCommitServer(FakeClock(), lag=33.0, timeout=30.0)
    hood = late_client(server, policy=RetryPolicy(timeout=30.0))
    created = hood.create_campaign(campaign_body("late"), key="late")
    assert created["metadata"]["hoodsync_key"] == "late"
    assert server.posts == 1
    assert [c["metadata"]["hoodsync_key"] for c in server.settled()] == ["late"]
    assert hood.unknown_outcomes == 1


def test_the_settle_window_defaults_to_at_least_the_request_timeout() -> None:
    server = LateCommitServer(FakeClock())

    def settle_window(**policy: Any) -> float:
        return late_client(server, policy=RetryPolicy(**policy)).transport.settle_window

    assert settle_window(timeout=30.0) >= 30.0
    assert settle_window(timeout=90.0) >= 90.0
    assert settle_window(settle_window=5.0) == 5.0


def test_a_create_committed_after_the_settle_window_is_sent_again_and_counted() -> None:
    """Past the window the create is taken as not made and sent again: the unknown outcome is
    counted, so that apply's final listing can find the duplicate (tests/test_apply.py)."""
    server = LateCommitServer(FakeClock(), lag=100.0, timeout=30.0)
    hood = late_client(server, policy=RetryPolicy(timeout=30.0, settle_window=20.0))
    hood.create_campaign(campaign_body("slow"), key="slow")
    assert server.posts == 2 and hood.unknown_outcomes == 2
    assert len(server.settled()) == 2  # what a window shorter than the server's lag risks


# ------------------------------------------------------------------------------ strict lists


def mock_client(handler: Callable[[httpx.Request], httpx.Response], **kwargs: Any) -> HoodClient:
    return HoodClient(
        ApiTransport(
            "https://api.example.test/v1/hood",
            Secret("t0ken"),
            limiter=RateLimiter(1000, 100_000),
            transport=httpx.MockTransport(handler),
            sleep=lambda s: None,
        ),
        **kwargs,
    )


@pytest.mark.parametrize(
    "body, got",
    [
        (None, "got null"),
        ({}, "got an empty object"),
        ({"data": [{"id": "1"}]}, "got an object with keys data"),
        ({"total": 1, "items": {"id": "1"}}, "got items as an object with keys id"),
        ({"total": 1, "items": "1"}, "got items as a string"),
        ("", "got a string"),
        ({"total": 2, "items": [{"id": "1"}, "junk"]}, "item 1 is a string"),
        ({"total": 1, "items": [{"name": "no id"}]}, "item 0 is an object without an id"),
    ],
)
def test_a_list_answer_of_another_shape_is_an_error_not_an_empty_account(
    body: Any, got: str
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=json.dumps(body).encode())

    with pytest.raises(ApiError) as info:
        mock_client(handler).list_campaigns()
    message = str(info.value)
    assert message.startswith("list campaigns (GET /campaigns, page 1): ")
    assert "expected" in message and got in message and "\n" not in message


@pytest.mark.parametrize("body", [{"total": 0, "items": []}, [], {"total": "0", "items": []}])
def test_an_empty_account_is_an_empty_envelope_or_array(body: Any) -> None:
    assert mock_client(lambda r: httpx.Response(200, json=body)).list_campaigns() == []


def test_a_server_that_ignores_paging_is_an_error_after_two_pages() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.params["page"])
        return httpx.Response(200, json={"total": 20, "items": [{"id": str(i)} for i in range(10)]})

    with pytest.raises(ApiError) as info:
        mock_client(handler).list_campaigns()
    assert calls == ["1,500", "2,10"]
    assert "page 2" in str(info.value) and "ignore paging" in str(info.value)


def test_a_total_the_pages_never_reach_is_an_error_not_a_partial_list() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        page, size = (int(x) for x in request.url.params["page"].split(","))
        calls.append(f"{page},{size}")
        items = [{"id": str(i)} for i in range(10)][(page - 1) * size : page * size]
        return httpx.Response(200, json={"total": 20, "items": items})

    with pytest.raises(ApiError) as info:
        mock_client(handler).list_campaigns()
    assert "reports 20 campaigns but its pages hold only 10" in str(info.value)
    assert len(calls) == 6  # three passes of two pages, then it stops


def test_a_huge_total_does_not_raise_the_page_bound() -> None:
    """Full pages, each adding one new id, under a total of a billion: the bound is
    ``max_pages`` pages, not ceil(total / page size) (which was ten million pages of 100)."""
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"].split(",")[0])
        calls.append(page)
        items = [{"id": "a"}, {"id": "b"}, {"id": f"p{page}"}] if len(calls) < 50 else []
        return httpx.Response(200, json={"total": 1_000_000_000, "items": items})

    with pytest.raises(ApiError) as info:
        mock_client(handler, page_size=3, max_pages=5).list_campaigns()
    assert calls == [1, 2, 3, 4, 5]
    assert "after 5 pages of 3, the most hoodsync reads of one list" in str(info.value)


def test_endless_pages_stop_at_the_absolute_default_bound() -> None:
    """No total, every page new: one read of a list stops after MAX_LIST_PAGES (2,000) pages
    with one error naming the bound."""
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"].split(",")[0])
        calls.append(page)
        return httpx.Response(200, json={"items": [{"id": f"{page}-{i}"} for i in range(2)]})

    with pytest.raises(ApiError) as info:
        mock_client(handler, page_size=2).list_push_tasks()
    assert MAX_LIST_PAGES == 2_000 and len(calls) == MAX_LIST_PAGES
    assert str(info.value).startswith("list push tasks (GET /push-tasks): ")
    assert "after 2,000 pages of 2, the most hoodsync reads of one list" in str(info.value)


def test_pages_without_a_total_are_bounded_by_max_pages() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"].split(",")[0])
        return httpx.Response(200, json={"items": [{"id": f"{page}-{i}"} for i in range(2)]})

    with pytest.raises(ApiError) as info:
        mock_client(handler, page_size=2, max_pages=5).list_campaigns()
    assert "after 5 pages of 2" in str(info.value)


class LaggingTotal:
    """A Hood server that caps the page size at ``cap`` and whose ``total`` is wrong: ``lag``
    below the real count (a cached count), or (``lag`` None) the number of items on the page."""

    def __init__(self, count: int, cap: int, lag: int | None) -> None:
        self.items = [
            {"id": str(1000 + i), "name": f"T{i}", "create_time": f"2026-01-01 00:{i:02d}:00"}
            for i in range(count)
        ]
        self.cap, self.lag = cap, lag
        self.calls: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        page, size = (int(x) for x in request.url.params["page"].split(","))
        size = min(size, self.cap)
        self.calls.append(f"{page},{size}")
        chunk = self.items[(page - 1) * size : page * size]
        total = len(chunk) if self.lag is None else max(0, len(self.items) - self.lag)
        return httpx.Response(200, json={"total": total, "items": chunk})


@pytest.mark.parametrize(
    "count, cap, page_size, lag",
    [
        (12, 10, 500, 2),  # capped first page of 10, total 10: the last 2 were hidden
        (12, 10, 500, None),  # total = the page's own count
        (12, 100, 5, 2),  # full pages of the size asked, total lagging by 2
        (10, 100, 5, 5),  # total equal to the first full page
    ],
)
def test_a_total_too_low_never_ends_the_list_early(
    count: int, cap: int, page_size: int, lag: int | None
) -> None:
    server = LaggingTotal(count, cap, lag)
    listed = mock_client(server, page_size=page_size).list_push_tasks()
    assert [t["name"] for t in listed] == [f"T{i}" for i in range(count)]
    assert [c["name"] for c in mock_client(server, page_size=page_size).list_campaigns()] == [
        f"T{i}" for i in range(count)
    ]


def test_a_short_first_page_is_confirmed_by_the_next_page() -> None:
    """A first page shorter than asked may be a capped page: the next one (of that size) is
    read even when ``total`` agrees; it comes back empty for a small account."""
    server = LaggingTotal(3, 100, 0)
    assert len(mock_client(server).list_campaigns()) == 3
    assert server.calls == ["1,100", "2,3"]


# ------------------------------------------------------------------------------ malformed create ids

#: Create answers whose ``id`` is not an id (the JSON of each is what the server sent).
BAD_IDS = [None, True, {"a": 1}, "", " ", 1.5, 1e300, [1]]


class BadIdAnswers(httpx.BaseTransport):
    """Real HTTP to the emulator (the create happens), but a create's answer carries ``bad`` as
    its id, wherever the object's id is in the answer."""

    def __init__(self, bad: Any) -> None:
        self._inner = httpx.HTTPTransport()
        self._bad = bad

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._inner.handle_request(request)
        if request.method != "POST":
            return response
        data = json.loads(response.read())
        target = data.get("campaign", data) if isinstance(data, dict) else data
        target["id"] = self._bad
        return httpx.Response(response.status_code, json=data)

    def close(self) -> None:
        self._inner.close()


@pytest.mark.parametrize("bad", BAD_IDS, ids=repr)
def test_a_create_answered_with_a_malformed_id_is_looked_for_not_taken(
    make_emulator: Callable[..., Any], bad: Any
) -> None:
    emulator = make_emulator(**FAST)
    records: list[RequestRecord] = []
    hood = client_for(emulator, transport=BadIdAnswers(bad), records=records)
    campaign = hood.create_campaign(campaign_body("bad-id"), key="bad-id")
    task = hood.create_push_task(push_task_body("Bad id task"))
    plain = client_for(emulator)
    assert [c["id"] for c in plain.list_campaigns()] == [campaign["id"]]
    assert [t["id"] for t in plain.list_push_tasks()] == [task["id"]]
    assert campaign["id"].isdigit() and task["id"].isdigit()
    assert [r.method for r in records].count("POST") == 2  # found, never sent again


def test_a_malformed_id_whose_object_never_shows_is_an_unknown_outcome() -> None:
    posts: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            posts.append(request.url.path)
            return httpx.Response(201, json={"id": None})
        return httpx.Response(200, json={"total": 0, "items": []})

    with pytest.raises(OutcomeUnknownError) as info:
        mock_client(handler).create_push_task(push_task_body("Never listed"))
    assert posts == ["/v1/hood/push-tasks"]  # one send: the create may exist, never re-sent
    assert "None" not in str(info.value)
