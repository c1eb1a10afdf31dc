"""ApiTransport: security, retries, error translation and redaction.

Odd server behaviour (HTML 502s, truncated or oversized bodies, HTTP-date Retry-After) comes from
``httpx.MockTransport``; everything the emulator can do is tested against it over a real loopback
socket (which also exercises httpcore's own DEBUG logging).
"""

from __future__ import annotations

import email.utils
import json
import logging
import pickle
import random
import threading
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from conftest import FakeClock
from hostile_server import HostileServer, RecordingProxy, Reply, json_reply, wait_until

from hoodsync.errors import (
    ApiError,
    AuthError,
    ConfigError,
    InsecureTransportError,
    NetworkError,
    NotFoundError,
    OutcomeUnknownError,
    RateLimitedError,
    RemoteError,
    ServerError,
)
from hoodsync.remote.network import proxy_for
from hoodsync.remote.ratelimit import RateLimiter
from hoodsync.remote.transport import (
    MAX_QUOTED,
    ApiTransport,
    RequestRecord,
    Response,
    RetryPolicy,
    Secret,
    backoff_delay,
    falconyte_error,
    hood_error,
    is_loopback_host,
    parse_retry_after,
    redact,
    settle_pauses,
)

TOKEN = "tok-3b1f9c0e5d7a4e28"
BASE = "https://api.example.test/v1/hood"


Handler = Callable[[httpx.Request], httpx.Response]


def make(
    handler: Handler,
    *,
    api: str = "hood",
    base: str = BASE,
    clock: FakeClock | None = None,
    token: str = TOKEN,
    **kwargs: Any,
) -> tuple[ApiTransport, FakeClock]:
    clock = clock or FakeClock(1000.0)
    limiter = RateLimiter(1000, 100000, clock=clock, sleep=clock.sleep)
    transport = ApiTransport(
        base,
        Secret(token),
        api=api,  # type: ignore[arg-type]
        limiter=limiter,
        transport=httpx.MockTransport(handler),
        clock=clock,
        sleep=clock.sleep,
        rng=random.Random(1),
        **kwargs,
    )
    return transport, clock


def replies(*responses: httpx.Response) -> tuple[Handler, list[httpx.Request]]:
    """A handler answering the given responses in turn (the last one repeats)."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return responses[min(len(seen), len(responses)) - 1]

    return handler, seen


def ok(
    data: Any = None, status: int = 200, headers: dict[str, str] | None = None
) -> httpx.Response:
    return httpx.Response(status, json=data, headers=headers or {})


# ------------------------------------------------------------------------------ secrets & URLs


def test_secret_never_shows_its_value() -> None:
    secret = Secret(TOKEN)
    assert repr(secret) == str(secret) == f"{secret}" == "Secret('****')"
    assert TOKEN not in repr([secret, {"k": secret}])
    assert secret.reveal() == TOKEN
    with pytest.raises(TypeError):
        pickle.dumps(secret)
    with pytest.raises(ValueError):
        Secret("  ")


@pytest.mark.parametrize(
    "url",
    [
        "http://api.example.test/v1",
        "http://10.0.0.1/v1",
        "ftp://localhost/x",
        "http://localhost.evil.test/",
    ],
)
def test_token_is_refused_over_insecure_urls_and_nothing_is_sent(url: str) -> None:
    handler, seen = replies(ok({}))
    with pytest.raises(InsecureTransportError) as info:
        make(handler, base=url)
    assert seen == []
    assert TOKEN not in str(info.value)


@pytest.mark.parametrize(
    "url",
    [
        "https://api.example.test/v1",
        "http://127.0.0.1:8080/v1",
        "http://127.9.9.9/",
        "http://localhost/",
        "http://sandbox.localhost/v1/hood",
        "http://[::1]:1234/",
    ],
)
def test_https_and_loopback_are_accepted(url: str) -> None:
    handler, seen = replies(ok({"total": 0, "items": []}))
    transport, _ = make(handler, base=url)
    transport.request("GET", "/campaigns", retry=True)
    assert len(seen) == 1
    assert str(seen[0].url).startswith(url.rstrip("/") + "/campaigns")


def test_is_loopback_host() -> None:
    assert is_loopback_host("LOCALHOST")
    assert is_loopback_host("a.b.localhost.")
    assert is_loopback_host("127.0.0.1") and is_loopback_host("[::1]")
    assert not is_loopback_host("localhost.example.com")
    assert not is_loopback_host("128.0.0.1")


def test_auth_headers_per_api() -> None:
    handler, seen = replies(ok({"ok": True}))
    hood, _ = make(handler)
    hood.request("GET", "/campaigns", retry=True)
    assert seen[-1].headers["authorization"] == f"Bearer {TOKEN}"
    falconyte, _ = make(handler, api="falconyte")
    falconyte.request("GET", "/email/campaigns", retry=True)
    assert seen[-1].headers["x-api-key"] == TOKEN
    assert "authorization" not in seen[-1].headers
    assert TOKEN not in repr(hood) and TOKEN not in repr(falconyte)


@pytest.mark.parametrize("path", ["campaigns", "//evil.test/x", "/a/../b", "/http://x"])
def test_paths_cannot_leave_the_base_url(path: str) -> None:
    handler, seen = replies(ok({}))
    transport, _ = make(handler)
    with pytest.raises(ValueError):
        transport.request("GET", path, retry=True)
    assert seen == []


def test_redirects_are_not_followed() -> None:
    handler, seen = replies(httpx.Response(302, headers={"location": "https://elsewhere.test/"}))
    transport, _ = make(handler)
    with pytest.raises(ApiError) as info:
        transport.request("GET", "/campaigns", retry=True)
    assert info.value.status == 302
    assert len(seen) == 1


def test_a_cookie_an_answer_sets_is_never_sent_back() -> None:
    # Both APIs authenticate by header alone: nothing an answer sets may travel with later calls.
    handler, seen = replies(ok({}, headers={"set-cookie": "session=abc; Path=/"}), ok({}))
    transport, _ = make(handler)
    transport.request("GET", "/campaigns", retry=True)
    transport.request("GET", "/campaigns", retry=True)
    assert len(seen) == 2 and "cookie" not in seen[1].headers


def test_each_request_goes_to_its_path_under_the_base_url_with_its_own_query() -> None:
    handler, seen = replies(ok({}))
    transport, _ = make(handler, base="https://api.example.test/v1/hood/")
    transport.request("GET", "/campaigns", params={"page": "1,100"}, retry=True)
    transport.request("GET", "/campaigns", retry=True)
    transport.request("GET", "/campaigns/a%2Fb", params={"view": "full"}, retry=True)
    assert [str(r.url) for r in seen] == [
        "https://api.example.test/v1/hood/campaigns?page=1%2C100",
        "https://api.example.test/v1/hood/campaigns",
        "https://api.example.test/v1/hood/campaigns/a%2Fb?view=full",
    ]


# ------------------------------------------------------------------------------ responses


def test_success_returns_a_plain_response() -> None:
    handler, seen = replies(
        ok({"total": 1, "items": [{"id": 1}]}, headers={"x-ratelimit-limit": "10", "x-other": "y"})
    )
    transport, _ = make(handler)
    response = transport.request("GET", "/campaigns", params={"page": "1,100"}, retry=True)
    assert isinstance(response, Response)
    assert response.data == {"total": 1, "items": [{"id": 1}]}
    assert response.headers["x-ratelimit-limit"] == "10"
    assert "x-other" not in response.headers
    assert response.attempts == 1
    assert seen[0].url.params["page"] == "1,100"


def test_json_bodies_are_sent_with_sorted_keys() -> None:
    handler, seen = replies(httpx.Response(204))
    transport, _ = make(handler)
    response = transport.request("PATCH", "/campaigns/1", json={"b": 1, "a": None}, retry=True)
    assert response.data is None and response.status == 204
    assert seen[0].content == b'{"a":null,"b":1}'
    assert seen[0].headers["content-type"] == "application/json"


# ------------------------------------------------------------------------------ retries


def test_5xx_is_retried_with_backoff_when_safe() -> None:
    handler, seen = replies(
        ok({"code": 500, "title": "Internal"}, 500), ok({"code": 503}, 503), ok({"ok": 1})
    )
    transport, clock = make(handler)
    response = transport.request("GET", "/campaigns", retry=True)
    assert response.attempts == 3 and len(seen) == 3
    assert len(clock.sleeps) == 2
    assert 0.25 <= clock.sleeps[0] <= 0.5 and 0.5 <= clock.sleeps[1] <= 1.0


def test_5xx_is_not_retried_when_not_safe() -> None:
    handler, seen = replies(ok({"code": 500, "title": "Internal"}, 500))
    transport, _ = make(handler)
    with pytest.raises(ServerError):
        transport.request("POST", "/campaigns", json={}, retry=False)
    assert len(seen) == 1


def test_final_error_says_what_was_tried() -> None:
    handler, seen = replies(ok({"code": 502, "title": "Bad gateway.", "trace_id": "t-1"}, 502))
    transport, _ = make(handler, policy=RetryPolicy(max_attempts=4))
    with pytest.raises(ServerError) as info:
        transport.request("GET", "/campaigns", retry=True, operation="list campaigns")
    err = info.value
    assert len(seen) == 4 and err.attempts == 4
    message = str(err)
    assert message.startswith(
        "list campaigns: HTTP 502 Bad gateway. (trace_id t-1) after 4 attempts over "
    )
    assert message.endswith(" s")


def test_total_retry_time_is_bounded() -> None:
    handler, seen = replies(ok({}, 500))
    policy = RetryPolicy(max_attempts=50, max_retry_time=5.0, backoff_base=1.0)
    transport, clock = make(handler, policy=policy)
    with pytest.raises(ServerError):
        transport.request("GET", "/campaigns", retry=True)
    assert sum(clock.sleeps) <= 5.0
    assert 2 <= len(seen) < 50


def test_network_errors_are_retried_and_translated() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) == 1:
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        if len(calls) == 2:
            raise httpx.ReadTimeout("timed out", request=request)
        return ok({"total": 0, "items": []})

    transport, _ = make(handler)
    assert transport.request("GET", "/campaigns", retry=True).attempts == 3

    def always_down(request: httpx.Request) -> httpx.Response:
        raise httpx.RemoteProtocolError(
            "Server disconnected without sending a response.", request=request
        )

    transport, _ = make(always_down, policy=RetryPolicy(max_attempts=3))
    with pytest.raises(NetworkError) as info:
        transport.request("GET", "/campaigns", retry=True)
    assert "after 3 attempts over" in str(info.value)
    assert "RemoteProtocolError" in str(info.value) and TOKEN not in str(info.value)


def test_a_translated_httpx_error_keeps_it_as_its_cause() -> None:
    """The httpx exception is translated where it enters but raised only after the retries:
    the error raised then is still chained to it (``raise ... from exc``), for one attempt or
    several, and for a non-retried call whose outcome is unknown."""

    def always_down(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    for attempts in (1, 3):
        transport, _ = make(always_down, policy=RetryPolicy(max_attempts=attempts))
        with pytest.raises(NetworkError) as info:
            transport.request("GET", "/campaigns", retry=True)
        assert isinstance(info.value.__cause__, httpx.ReadTimeout), attempts
    transport, _ = make(always_down)
    with pytest.raises(NetworkError) as unknown:
        transport.request("POST", "/campaigns", json={}, retry=False)
    assert isinstance(unknown.value.__cause__, httpx.ReadTimeout)


def test_retry_policy_bounds_are_checked_and_the_settle_window_follows_the_timeouts() -> None:
    assert RetryPolicy().settle_seconds == max(RetryPolicy().deadline, RetryPolicy().timeout)
    assert RetryPolicy(timeout=90.0).settle_seconds == 90.0
    assert RetryPolicy(settle_window=0.0).settle_seconds == 0.0
    for bad in (
        {"max_attempts": 0},
        {"deadline": 0.0},
        {"max_wait": -1.0},
        {"settle_window": -1.0},
    ):
        with pytest.raises(ValueError):
            RetryPolicy(**bad)
    handler, _ = replies(ok({}))
    transport, _ = make(handler, policy=RetryPolicy(timeout=75.0, deadline=10.0))
    assert transport.settle_window == 75.0


def test_refused_connections_are_retried_even_for_creates() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) == 1:
            raise httpx.ConnectError("refused", request=request)
        return ok({"id": "1"}, 201)

    transport, _ = make(handler)
    assert transport.request("POST", "/campaigns", json={}, retry=False).status == 201
    assert len(calls) == 2


def _refused(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("[Errno 111] Connection refused", request=request)


def _connect_timeout(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectTimeout("timed out", request=request)


def _read_timeout(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("timed out", request=request)


def _reset(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadError("[Errno 104] Connection reset by peer", request=request)


def _throttled(request: httpx.Request) -> httpx.Response:
    return ok({"code": 429}, 429, headers={"retry-after": "1"})


@pytest.mark.parametrize(
    ("attempts", "not_sent"),
    [
        ([_refused], True),
        ([_refused, _connect_timeout, _refused], True),
        ([_throttled, _refused], False),  # the 429 reached the server
        ([_refused, _read_timeout, _refused], False),  # may have been executed
        ([_reset, _refused], False),
    ],
)
def test_a_create_is_marked_not_sent_only_when_no_attempt_got_past_connecting(
    attempts: list[Handler], not_sent: bool
) -> None:
    """Only a failure to connect proves nothing reached the server (httpx raises it before
    any byte of the request is written); a read timeout, a reset or a 429 after sending does
    not, and one such attempt is enough to leave the outcome in doubt. A create whose first
    send's outcome was unknown is not ``not_sent`` either, whatever its next send does."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return attempts[min(len(seen), len(attempts)) - 1](request)

    policy = RetryPolicy(max_attempts=4, settle_window=2.0)
    transport, _ = make(handler, policy=policy)
    with pytest.raises(RemoteError) as info:
        transport.create("/campaigns", {"name": "A"}, find=lambda: None, max_sends=2)
    assert info.value.not_sent is not_sent, str(info.value)


@pytest.mark.parametrize(
    ("attempts", "not_sent"), [([_refused], True), ([_read_timeout, _refused], False)]
)
def test_a_retried_call_is_not_sent_only_if_no_attempt_may_have_reached_the_server(
    attempts: list[Handler], not_sent: bool
) -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return attempts[min(len(calls), len(attempts)) - 1](request)

    transport, _ = make(handler, policy=RetryPolicy(max_attempts=3))
    with pytest.raises(NetworkError) as info:
        transport.request("POST", "/campaigns/1/pause", json={}, retry=True)
    assert info.value.not_sent is not_sent and len(calls) == 3


def test_429_honours_retry_after_seconds_for_every_call() -> None:
    handler, seen = replies(
        ok({"code": 429}, 429, headers={"retry-after": "3"}), ok({"id": "9"}, 201)
    )
    transport, clock = make(handler)
    start = clock()
    response = transport.request("POST", "/campaigns", json={}, retry=False)
    assert response.status == 201 and response.attempts == 2
    assert clock() - start >= 3.0  # the limiter held the retry back


def test_429_with_an_http_date() -> None:
    when = email.utils.formatdate(2_000_000_010, usegmt=True)
    handler, seen = replies(ok({}, 429, headers={"retry-after": when}), ok({"ok": True}))
    transport, clock = make(handler, wall_clock=lambda: 2_000_000_000.0)
    start = clock()
    transport.request("GET", "/campaigns", retry=True)
    assert clock() - start >= 10.0


def test_429_with_an_http_date_is_measured_against_the_answers_own_date() -> None:
    """A server whose clock is 5 min ahead: ``Date: T``, ``Retry-After: T + 3 s`` means 3 s,
    not the 303 s the local clock would make of it (over the 120 s cap: a failed request)."""
    server_now = 2_000_000_300
    headers = {
        "date": email.utils.formatdate(server_now, usegmt=True),
        "retry-after": email.utils.formatdate(server_now + 3, usegmt=True),
    }
    handler, seen = replies(ok({}, 429, headers=headers), ok({"ok": True}))
    transport, clock = make(handler, wall_clock=lambda: 2_000_000_000.0)
    start = clock()
    assert transport.request("GET", "/campaigns", retry=True).data == {"ok": True}
    assert 3.0 <= clock() - start < 10.0 and len(seen) == 2


def test_429_minus_one_waits_for_our_own_in_flight_request() -> None:
    release = threading.Event()
    order: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/slow"):
            release.wait(5)
            order.append("slow done")
            return ok({"slow": True})
        if not order or order[-1] != "slow done":
            order.append("throttled")
            release.set()
            return ok({}, 429, headers={"retry-after": "-1"})
        order.append("fast done")
        return ok({"fast": True})

    transport, _ = make(handler, parallelism=2)
    slow = threading.Thread(target=transport.request, args=("GET", "/slow"), kwargs={"retry": True})
    slow.start()
    time.sleep(0.05)
    assert transport.request("GET", "/fast", retry=True).data == {"fast": True}
    slow.join()
    assert order == ["throttled", "slow done", "fast done"]


def test_repeated_429s_are_bounded_by_time() -> None:
    handler, seen = replies(ok({}, 429, headers={"retry-after": "10"}))
    transport, clock = make(handler, policy=RetryPolicy(max_retry_time=35.0))
    with pytest.raises(RateLimitedError) as info:
        transport.request("GET", "/campaigns", retry=True)
    assert 3 <= len(seen) <= 5
    assert "after" in str(info.value) and "attempts over" in str(info.value)


def test_in_flight_requests_are_capped_at_parallelism() -> None:
    active = 0
    peak = 0
    cond = threading.Condition()

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal active, peak
        with cond:
            active += 1
            peak = max(peak, active)
            cond.notify_all()
            # Hold the slot until as many requests as allowed are in flight (bounded), so the
            # peak does not depend on how busy the machine is.
            cond.wait_for(lambda: peak >= 3, timeout=2.0)
            active -= 1
        return ok({})

    transport = ApiTransport(
        BASE,
        Secret(TOKEN),
        limiter=RateLimiter(1000, 100000),
        transport=httpx.MockTransport(handler),
        parallelism=3,
    )
    threads = [
        threading.Thread(target=transport.request, args=("GET", "/x"), kwargs={"retry": True})
        for _ in range(12)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak == 3


# ------------------------------------------------------------------------------ error translation


def test_hood_error_bodies() -> None:
    body = {
        "code": 400,
        "title": "Bad request.",
        "message": "The request body is not valid.",
        "trace_id": "99a8",
    }
    err = hood_error(400, body, operation="create campaign")
    assert type(err) is ApiError
    assert (err.status, err.title, err.api_message, err.trace_id) == (
        400,
        "Bad request.",
        "The request body is not valid.",
        "99a8",
    )
    assert (
        str(err)
        == "create campaign: HTTP 400 Bad request. The request body is not valid. (trace_id 99a8)"
    )
    missing = {
        "code": 400,
        "title": "Bad request.",
        "message": "Specified campaign does not exist.",
    }
    assert type(hood_error(400, missing, lookup=True)) is NotFoundError
    assert type(hood_error(400, missing)) is ApiError
    assert type(hood_error(404, None)) is NotFoundError
    assert type(hood_error(401, {"code": 401, "title": "Unauthorized."})) is AuthError
    assert type(hood_error(403, {})) is AuthError
    assert type(hood_error(429, {})) is RateLimitedError
    assert type(hood_error(500, {"code": 500, "title": "Internal server error."})) is ServerError


def test_falconyte_error_bodies() -> None:
    err = falconyte_error(
        401,
        {
            "ok": False,
            "error": {"code": "UNAUTHENTICATED", "message": "Valid team API key required."},
        },
    )
    assert isinstance(err, AuthError) and err.code == "UNAUTHENTICATED"
    assert "Valid team API key required." in str(err)
    laravel = {
        "message": "The given data was invalid.",
        "errors": {"name": ["The name field is required."], "events": ["Bad.", "Worse."]},
    }
    err = falconyte_error(422, laravel)
    assert (
        err.api_message
        == "The given data was invalid. (events: Bad. Worse.; name: The name field is required.)"
    )
    both = {
        "ok": False,
        "error": {"code": "VALIDATION_FAILED", "message": "Invalid."},
        "errors": {"x": ["y"]},
    }
    err = falconyte_error(422, both)
    assert err.code == "VALIDATION_FAILED" and err.api_message == "Invalid. (x: y)"
    assert isinstance(
        falconyte_error(404, {"ok": False, "error": {"code": "NOT_FOUND", "message": "No."}}),
        NotFoundError,
    )
    assert (
        falconyte_error(422, {"ok": False, "error": {"code": "INVALID_STATE", "message": "m"}}).code
        == "INVALID_STATE"
    )


def test_html_502_from_a_proxy_is_a_server_error_without_the_html() -> None:
    page = b"<html><body><h1>502 Bad Gateway</h1>" + TOKEN.encode() + b"</body></html>"
    handler, seen = replies(
        httpx.Response(502, content=page, headers={"content-type": "text/html"})
    )
    transport, _ = make(handler, policy=RetryPolicy(max_attempts=2))
    with pytest.raises(ServerError) as info:
        transport.request("GET", "/campaigns", retry=True)
    assert info.value.title == "Bad Gateway"
    assert "<html>" not in str(info.value) and TOKEN not in str(info.value)


def test_truncated_json_on_success_is_a_network_error_and_retried() -> None:
    handler, seen = replies(httpx.Response(200, content=b'{"total": 3, "items": [{"id"'))
    transport, _ = make(handler, policy=RetryPolicy(max_attempts=2))
    with pytest.raises(NetworkError) as info:
        transport.request("GET", "/campaigns", retry=True)
    assert "malformed JSON" in str(info.value)
    assert len(seen) == 2


def test_oversized_bodies_are_refused_and_not_retried() -> None:
    big = json.dumps({"items": ["x" * 2000]}).encode()
    handler, seen = replies(httpx.Response(200, content=big))
    transport, _ = make(handler, max_response_bytes=1024)
    with pytest.raises(NetworkError) as info:
        transport.request("GET", "/campaigns", retry=True)
    assert "1024-byte limit" in str(info.value)
    assert len(seen) == 1

    def streamed(request: httpx.Request) -> httpx.Response:  # no Content-Length to trust
        return httpx.Response(200, content=iter([b"[" + b"1," * 600, b"1]"]))

    transport, _ = make(streamed, max_response_bytes=1024)
    with pytest.raises(NetworkError):
        transport.request("GET", "/campaigns", retry=True)


def test_api_text_echoing_the_token_is_scrubbed() -> None:
    handler, _ = replies(
        ok({"code": 401, "title": "Unauthorized.", "message": f"token {TOKEN} is unknown"}, 401)
    )
    transport, _ = make(handler)
    with pytest.raises(AuthError) as info:
        transport.request("GET", "/campaigns", retry=True)
    assert TOKEN not in str(info.value) and "token **** is unknown" in str(info.value)


@pytest.mark.parametrize("api", ["hood", "falconyte"])
@pytest.mark.parametrize(
    "token", [TOKEN + "\n", TOKEN + "\t", " " + TOKEN, "\u201c" + TOKEN + "\u201d", "a b"]
)
def test_a_credential_a_header_cannot_carry_is_refused_before_anything_is_sent(
    api: str, token: str
) -> None:
    # Before, it reached the header: httpx refused it with an error quoting the whole header
    # (a line end), or failed to encode it (a traceback). The configuration refuses it first,
    # naming its variable; this is the last line for any other caller.
    handler, seen = replies(ok({}))
    with pytest.raises(ConfigError) as info:
        ApiTransport(
            BASE,
            Secret(token),
            api=api,
            transport=httpx.MockTransport(handler),  # type: ignore[arg-type]
        )
    assert "HTTP header cannot carry" in str(info.value) and TOKEN not in str(info.value)
    assert seen == []


def test_foreign_error_text_quoting_the_credential_in_any_form_is_scrubbed() -> None:
    # A header-safe credential Python escapes in a repr (a backslash, a quote): an exception
    # quoting the header as bytes or the token as a str shows it escaped, which a plain
    # replace of the credential did not catch.
    token = "tok\\3b1f'9c0e\"5d7a"
    forms = [repr(f"Bearer {token}".encode()), repr(token), ascii(token)]
    assert all(token not in form for form in forms)  # escaped, each of them
    for form in forms:

        def refuse(request: httpx.Request, form: str = form) -> httpx.Response:
            raise httpx.ConnectError(f"cannot send {form}", request=request)

        transport, _ = make(refuse, token=token)
        with pytest.raises(NetworkError) as info:
            transport.request("GET", "/campaigns", retry=False)
        message = str(info.value)
        assert "3b1f" not in message and "cannot send" in message and "****" in message


ECHOED = "s3cr3t/TOKEN+abc=="


def _echoed(text: str) -> str:
    """The error a 401 whose message is ``text`` becomes, with the credential ``ECHOED``."""
    handler, _ = replies(ok({"title": "Unauthorized", "message": text}, 401))
    transport, _ = make(handler, token=ECHOED)
    with pytest.raises(AuthError) as info:
        transport.request("GET", "/campaigns", retry=False)
    return str(info.value)


@pytest.mark.parametrize(
    "form",
    [
        "s3cr3t%2FTOKEN%2Babc%3D%3D",  # percent-encoded, as a URL carries it
        "s3cr3t%2ftoken%2babc%3d%3d",  # ... lower case
        "S3CR3T/TOKEN+ABC==",  # upper-cased
        "s3cr3t&#x2F;TOKEN&#43;abc&#61;&#61;",  # HTML entities
        "s3cr3t&sol;TOKEN&plus;abc&equals;=",  # ... named
        "s3cr3t\\u002FTOKEN\\u002babc==",  # JSON escapes, as the text of a JSON body
        "s3cr3t\\/TOKEN+abc==",  # JSON's escaped slash
        "s3cr3t/TOKEN+abc",  # a prefix
        "3t/TOKEN+abc==",  # a suffix
        "cr3t/TOKE",  # nine characters from the middle
    ],
)
def test_api_text_quoting_the_credential_encoded_or_in_part_is_scrubbed(form: str) -> None:
    # Before, only the credential as is (and Python's escapes of it) was caught: a server
    # quoting it URL-encoded or by its first 16 characters had it printed, and the GitHub
    # template copies a failed plan's error into the PR comment.
    message = _echoed(f"token {form} is not valid")
    assert "token **** is not valid" in message, message
    for piece in ("s3cr3t", "cr3t", "abc", "token+", "token%"):
        assert piece.lower() not in message.lower(), message


def test_redaction_leaves_text_sharing_less_than_8_characters_with_the_credential() -> None:
    # Shorter pieces are common words ("TOKEN", "/v1/hood"): blanking them would hide what
    # the error says, not the credential.
    message = _echoed("TOKEN s3cr3t is unknown; see https://x.test/abc== and s3cr3t/")
    assert "TOKEN s3cr3t is unknown; see https://x.test/abc== and s3cr3t/" in message
    assert redact("a key abcd, ABC and abc", "abc") == "a key ****d, **** and ****"
    assert redact("the start s3cr3t/TOKEN+ab and the rest", ECHOED) == "the start **** and the rest"


def test_a_large_error_body_is_quoted_cut_to_its_bound_and_redacted() -> None:
    # Before, every string of the body (up to the 16 MiB cap) was redacted character by
    # character, on each retry of a 5xx: about 5 GB of memory and 20 s of CPU an error. Now
    # only the fields quoted are looked at, each cut to MAX_QUOTED characters before it is
    # redacted, and the cut says so.
    filler = "y" * (3 * 1024 * 1024)
    body = {
        "title": f"Bad {TOKEN.upper()} " + filler,
        "message": f"token {TOKEN} is unknown " + filler,
        "trace_id": "t-1",
        "detail": filler,  # never quoted
    }
    handler, seen = replies(ok(body, 503))
    transport, _ = make(handler, policy=RetryPolicy(max_attempts=3))
    with pytest.raises(ServerError) as info:
        transport.request("GET", "/campaigns", retry=True)
    error = info.value
    assert len(seen) == 3
    for text, whole in ((error.title, body["title"]), (error.api_message, body["message"])):
        assert len(text) < MAX_QUOTED + 40
        kept = len(whole) - MAX_QUOTED  # what the cut left out, counted
        assert text.endswith(f"… ({kept} more characters)"), text[-60:]
    assert error.api_message.startswith("token **** is unknown yyy")
    assert error.title.startswith("Bad **** yyy")
    message = str(error)
    assert TOKEN.lower() not in message.lower() and len(message) < 3 * MAX_QUOTED


def test_a_falconyte_error_with_many_field_errors_lists_a_bounded_few() -> None:
    fields = {f"f{i:06d}": [f"{TOKEN} is not valid", "y" * 50] for i in range(100_000)}
    fields["a_huge"] = ["x" * 100_000] * 30
    handler, _ = replies(ok({"message": "The given data was invalid.", "errors": fields}, 422))
    transport, _ = make(handler, api="falconyte")
    with pytest.raises(ApiError) as info:
        transport.request("GET", "/campaigns", retry=False)
    message = info.value.api_message
    assert message.startswith("The given data was invalid. (a_huge: xxx")
    assert f"… ({100_001 - 20} more fields))" in message
    assert "f000000: **** is not valid yyy" in message and "f000018:" in message  # 20 in all
    assert "f000019:" not in message and TOKEN not in message
    assert len(message) < 21 * (MAX_QUOTED + 40)


def test_a_reason_phrase_quoting_the_credential_is_redacted() -> None:
    # The HTTP reason phrase is the server's text too; before, it became the title as it was.
    reason = f"Token {TOKEN} Revoked".encode()
    handler, _ = replies(httpx.Response(401, extensions={"reason_phrase": reason}))
    transport, _ = make(handler)
    with pytest.raises(AuthError) as info:
        transport.request("GET", "/campaigns", retry=False)
    assert info.value.title == "Token **** Revoked"


def test_redacting_text_that_holds_no_piece_of_the_credential_costs_no_per_character_work() -> None:
    # Before, redact built a list entry and a span tuple per character, twice: some 200 bytes
    # of memory a character. Text in which no piece of the credential can be, escapes and
    # all, is now returned after a few substring searches.
    text = ("x" * 100 + " %41 &amp; \\/ ") * 10_000  # about 1.1 MB, escapes everywhere
    tracemalloc.start()
    try:
        out = redact(text, TOKEN)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert out is text
    assert peak < 5 * len(text), peak
    # ... and text that may hold one still goes through the exact pass
    assert redact(f"{text}{TOKEN[:8].upper()}", TOKEN) == f"{text}****"
    encoded = "".join(f"%{ord(c):02x}" for c in TOKEN[3:12])
    assert redact(f"{text}{encoded}.", TOKEN) == f"{text}****."


def test_an_error_about_the_request_as_built_keeps_its_detail_back() -> None:
    # LocalProtocolError is about the request hoodsync built, whose headers carry the
    # credential: its text is left out whole, whatever form the credential takes in it.
    def refuse(request: httpx.Request) -> httpx.Response:
        value = request.headers["authorization"].encode()
        raise httpx.LocalProtocolError(f"Illegal header value {value[:12]!r}…")

    transport, _ = make(refuse)
    with pytest.raises(NetworkError) as info:
        transport.request("GET", "/campaigns", retry=True)
    message = str(info.value)
    assert "LocalProtocolError" in message and "withheld" in message
    assert TOKEN[:5] not in message and "Illegal header" not in message


# ------------------------------------------------------------------------------ helpers


def test_parse_retry_after() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(" 2.5 ") == 2.5
    assert parse_retry_after("-1") == -1.0
    assert parse_retry_after("-7") is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None and parse_retry_after("") is None
    assert parse_retry_after("nan") is None
    date = email.utils.formatdate(1_000_000_030, usegmt=True)
    assert parse_retry_after(date, now=1_000_000_000) == pytest.approx(30.0)
    assert parse_retry_after(date, now=1_000_000_100) == 0.0
    # Against the answer's own Date when it is a valid HTTP date, else against ``now``.
    sent = email.utils.formatdate(1_000_000_320, usegmt=True)
    assert parse_retry_after(date, now=1_000_000_000, date=sent) == 0.0
    sent = email.utils.formatdate(1_000_000_027, usegmt=True)
    assert parse_retry_after(date, now=0, date=sent) == pytest.approx(3.0)
    assert parse_retry_after(date, now=1_000_000_000, date="yesterday") == pytest.approx(30.0)
    assert parse_retry_after("5", now=0, date=sent) == 5.0


def test_backoff_bounds() -> None:
    rng = random.Random(0)
    for attempt in range(1, 12):
        step = min(30.0, 0.5 * 2 ** (attempt - 1))
        for _ in range(50):
            delay = backoff_delay(attempt, rng)
            assert step / 2 <= delay <= step
    delays = {round(backoff_delay(3, rng), 6) for _ in range(20)}
    assert len(delays) > 10  # jittered


def test_each_attempt_is_reported_to_the_hook_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    records: list[RequestRecord] = []
    handler, _ = replies(ok({}, 503), ok({"ok": True}))
    transport, _ = make(handler, on_request=records.append)
    with caplog.at_level(logging.DEBUG, logger="hoodsync.remote.transport"):
        transport.request("GET", "/campaigns", params={"q": "secret-ish"}, retry=True)
    assert [(r.method, r.path, r.status, r.attempt) for r in records] == [
        ("GET", "/campaigns", 503, 1),
        ("GET", "/campaigns", 200, 2),
    ]
    lines = [r.getMessage() for r in caplog.records if r.name == "hoodsync.remote.transport"]
    assert lines[0].startswith("GET /campaigns -> 503 (attempt 1, ")
    assert lines[1].startswith("GET /campaigns -> 200 (attempt 2, ")
    assert not any("secret-ish" in line for line in lines)  # paths only, no query strings


# ------------------------------------------------------------------------------ real socket


def test_token_appears_in_no_log_line_error_or_repr(
    make_emulator: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    """Everything httpx, httpcore and hoodsync log at DEBUG over a real socket, plus every error
    message and repr, is grepped for the token."""
    emulator = make_emulator(rate_burst=1000, rate_minute=100000)
    good = Secret(emulator.hood_token)
    bad = Secret("wrong-" + emulator.hood_token)
    seen: list[str] = []
    with caplog.at_level(logging.DEBUG):
        transport = ApiTransport(emulator.hood_url, good, limiter=RateLimiter(1000, 100000))
        transport.request("GET", "/campaigns", retry=True)
        with pytest.raises(NotFoundError) as missing:
            transport.request("GET", "/campaigns/1", retry=True, lookup=True)
        seen += [str(missing.value), repr(missing.value)]
        wrong = ApiTransport(emulator.hood_url, bad, limiter=RateLimiter(1000, 100000))
        with pytest.raises(AuthError) as denied:
            wrong.request("GET", "/campaigns", retry=True)
        seen += [str(denied.value), repr(denied.value), repr(wrong), repr(transport)]
        down = ApiTransport(
            "http://127.0.0.1:9", good, policy=RetryPolicy(max_attempts=2, backoff_base=0.01)
        )
        with pytest.raises(NetworkError) as refused:
            down.request("GET", "/campaigns", retry=True)
        seen += [str(refused.value), repr(refused.value), str(refused.value.__cause__)]
    assert any(r.name.startswith("httpcore") for r in caplog.records)  # the loggers were on
    text = caplog.text + "\n".join(seen)
    for secret in (emulator.hood_token, bad.reveal()):
        assert secret not in text


def test_real_limits_over_loopback_give_no_429(make_emulator: Callable[..., Any]) -> None:
    """A small version of the throughput bench: 25 reads at the documented 10/s."""
    emulator = make_emulator()
    records: list[RequestRecord] = []
    transport = ApiTransport(
        emulator.hood_url, Secret(emulator.hood_token), parallelism=10, on_request=records.append
    )
    threads = [
        threading.Thread(
            target=transport.request, args=("GET", "/campaigns"), kwargs={"retry": True}
        )
        for _ in range(25)
    ]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    assert [r.status for r in records].count(200) == 25
    assert all(r.status == 200 for r in records)  # no 429
    assert elapsed < 3.0  # 25 requests need 2 boundaries of the 1 s window at most


# ------------------------------------------------------------------------------ bounded waits


def test_a_retry_after_beyond_the_cap_fails_at_once_naming_the_header() -> None:
    handler, seen = replies(ok({}, 429, headers={"retry-after": "99999"}), ok({"ok": True}))
    transport, clock = make(handler, parallelism=1)
    start = clock()
    with pytest.raises(RateLimitedError) as info:
        transport.request("GET", "/campaigns", retry=True)
    message = str(info.value)
    assert "Retry-After" in message and "99999 s" in message and "120 s" in message
    assert len(seen) == 1 and clock() - start < 1.0  # not waited for, not retried
    # Every later request fails at once too (the server said so), instead of waiting 27 h.
    with pytest.raises(RemoteError) as later:
        transport.request("POST", "/campaigns", json={}, retry=False)
    assert "Retry-After" in str(later.value) and "nothing was sent" in str(later.value)
    assert len(seen) == 1 and clock() - start < 1.0


def test_a_rate_limit_reset_beyond_the_cap_fails_the_next_request_naming_the_header() -> None:
    exhausted = {
        "x-ratelimit-limit": "150",
        "x-ratelimit-remaining": "0",
        "x-ratelimit-reset": "99999",
    }
    handler, seen = replies(ok({"total": 0, "items": []}, headers=exhausted))
    transport, clock = make(handler)
    start = clock()
    transport.request("GET", "/campaigns", retry=True)  # this one was answered
    with pytest.raises(RemoteError) as info:
        transport.request("GET", "/push-tasks", retry=True)
    assert "X-RateLimit-Reset" in str(info.value) and "120 s" in str(info.value)
    assert str(info.value).startswith("GET /push-tasks: ")
    assert len(seen) == 1 and clock() - start < 1.0


def test_waits_up_to_the_cap_are_honoured() -> None:
    handler, seen = replies(ok({}, 429, headers={"retry-after": "100"}), ok({"ok": True}))
    transport, clock = make(handler)
    start = clock()
    assert transport.request("GET", "/campaigns", retry=True).data == {"ok": True}
    assert 100.0 <= clock() - start < 101.0


@pytest.mark.parametrize("depth", [50_000, 200])
def test_deeply_nested_json_is_one_malformed_answer_not_a_recursion_error(depth: int) -> None:
    nested = b"[" * depth + b"]" * depth
    handler, seen = replies(httpx.Response(200, content=nested))
    transport, _ = make(handler, policy=RetryPolicy(max_attempts=2))
    with pytest.raises(NetworkError) as info:
        transport.request("GET", "/campaigns", retry=True)
    assert "malformed JSON" in str(info.value) and "nested deeper than 64" in str(info.value)
    assert "\n" not in str(info.value)


def test_deeply_nested_json_answering_a_create_is_an_unknown_outcome() -> None:
    nested = b'{"id": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"
    handler, seen = replies(httpx.Response(201, content=nested))
    transport, clock = make(handler, policy=RetryPolicy(settle_window=10.0))
    looks: list[float] = []

    def find() -> dict[str, str] | None:
        looks.append(clock())
        return {"id": "7"} if len(looks) == 3 else None

    result = transport.create("/campaigns", {"name": "x"}, find=find)
    assert result.existing == {"id": "7"} and len(seen) == 1  # looked again, not sent again
    assert transport.unknown_outcomes == 1


def test_a_create_sent_again_tells_the_caller_before_each_new_send() -> None:
    """A create whose outcome was unknown and that never showed is sent again; ``on_resend``
    hears of each new send first (apply journals it: a later run waits from the last send)."""
    handler, seen = replies(httpx.Response(503), httpx.Response(503), ok({"id": "9"}, 201))
    transport, clock = make(handler, policy=RetryPolicy(settle_window=2.0, max_attempts=3))
    resent: list[tuple[int, int]] = []  # (send number, requests made before it)
    result = transport.create(
        "/campaigns",
        {"name": "x"},
        find=lambda: None,
        on_resend=lambda n: resent.append((n, len(seen))),
    )
    assert result.sends == 3 and len(seen) == 3
    assert resent == [(2, 1), (3, 2)]


def test_a_stopping_caller_gets_no_new_send_and_no_settle_wait_for_an_unanswered_create() -> None:
    """Once ``stopping()`` is true, an unanswered create is looked for once and its failure
    raised: not sent again, and no settle window waited out (a CI grace period is short)."""
    posts: list[httpx.Request] = []
    looks: list[float] = []
    stop = threading.Event()

    def handler(request: httpx.Request) -> httpx.Response:
        posts.append(request)
        stop.set()  # the SIGTERM arrives while the POST waits for its answer
        raise httpx.ReadTimeout("timed out", request=request)

    transport, clock = make(handler, policy=RetryPolicy(settle_window=60.0, max_attempts=5))
    started = clock()
    resent: list[int] = []

    def find() -> None:
        looks.append(clock())
        return None

    with pytest.raises(NetworkError):
        transport.create(
            "/push-tasks", {"name": "x"}, find=find, on_resend=resent.append, stopping=stop.is_set
        )
    assert len(posts) == 1 and resent == []
    assert len(looks) == 1 and clock() - started < 1.0  # one look, no pause waited out
    assert transport.unknown_outcomes == 1


def test_a_stop_during_a_settle_window_ends_it_at_the_next_look_and_sends_nothing_more() -> None:
    handler, seen = replies(httpx.Response(503))
    transport, clock = make(handler, policy=RetryPolicy(settle_window=60.0, max_attempts=5))
    looks: list[float] = []
    stop = threading.Event()

    def find() -> None:
        looks.append(clock())
        if len(looks) == 3:
            stop.set()
        return None

    started = clock()
    with pytest.raises(ApiError):
        transport.create("/push-tasks", {"name": "x"}, find=find, stopping=stop.is_set)
    assert len(seen) == 1 and len(looks) == 3
    assert clock() - started < 4.0  # the pauses before the 2nd and 3rd looks (1 + 2 s) only


def test_a_stopping_caller_looks_for_an_unanswered_create_with_one_listing_sent_once() -> None:
    """Once the caller is stopping (``stop_elapsed``), the one look is one listing whose
    requests are not retried (a hung server would otherwise hold the stop for minutes)."""
    lists: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            raise httpx.ReadTimeout("timed out", request=request)
        lists.append(request)
        return httpx.Response(503)

    transport, _ = make(handler, policy=RetryPolicy(settle_window=60.0, max_attempts=5))

    def find() -> None:
        transport.request("GET", "/push-tasks", retry=True)

    with pytest.raises(OutcomeUnknownError) as info:
        transport.create(
            "/push-tasks", {"name": "x"}, find=find, stopping=lambda: True, stop_elapsed=lambda: 5.0
        )
    assert len(lists) == 1 and "HTTP 503" in str(info.value)


def test_once_a_stop_is_one_request_deadline_old_the_look_sends_nothing() -> None:
    posts: list[httpx.Request] = []
    lists: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            posts.append(request)
            raise httpx.ReadTimeout("timed out", request=request)
        lists.append(request)
        return ok({"total": 0, "items": []})

    transport, _ = make(handler, policy=RetryPolicy(deadline=60.0, max_attempts=5))

    def find() -> None:
        transport.request("GET", "/push-tasks", retry=True)

    with pytest.raises(OutcomeUnknownError) as info:
        transport.create(
            "/push-tasks",
            {"name": "x"},
            find=find,
            stopping=lambda: True,
            stop_elapsed=lambda: 60.5,
        )
    assert (len(posts), len(lists)) == (1, 0)
    assert "not sent: stopping, and one request deadline (60 s) has passed" in str(info.value)
    assert transport.unknown_outcomes == 1


def test_within_a_stop_that_has_not_begun_requests_retry_as_usual() -> None:
    handler, seen = replies(httpx.Response(503), httpx.Response(503), ok({"ok": True}))
    transport, _ = make(handler)
    with transport.within_stop(lambda: None):
        assert transport.request("GET", "/campaigns", retry=True).data == {"ok": True}
    assert len(seen) == 3


def test_a_stop_beginning_between_attempts_ends_the_retries() -> None:
    began: list[float] = []
    handler, seen = replies(httpx.Response(503))

    def stop_elapsed() -> float | None:
        return 1.0 if began else None

    def counting(request: httpx.Request) -> httpx.Response:
        began.append(1.0)  # the signal arrives while the first attempt waits for its answer
        return handler(request)

    transport, _ = make(counting)
    with transport.within_stop(stop_elapsed), pytest.raises(ApiError):
        transport.request("GET", "/campaigns", retry=True)
    assert len(seen) == 1


def test_within_a_stop_the_rate_limiter_holds_a_request_only_as_long_as_is_left() -> None:
    handler, seen = replies(
        ok(
            {"total": 0, "items": []},
            headers={
                "x-ratelimit-limit": "150",
                "x-ratelimit-remaining": "0",
                "x-ratelimit-reset": "50",
            },
        )
    )
    transport, clock = make(handler, policy=RetryPolicy(deadline=60.0))
    transport.request("GET", "/campaigns", retry=True)  # the minute's budget is spent
    started = clock()
    with transport.within_stop(lambda: 30.0), pytest.raises(RemoteError) as info:
        transport.request("GET", "/campaigns", retry=True)
    assert len(seen) == 1 and clock() == started  # not sent, nothing slept
    assert "not sent: stopping, and the rate limits allow the next request only in" in str(
        info.value
    )


def test_within_a_stop_a_request_gets_what_is_left_of_one_request_deadline() -> None:
    """A server that never finishes its answer: the request ends when one deadline (5 s here)
    since the stop has passed (0.2 s left), and it is not sent again."""
    slow = Reply(200, b'{"total": 0, "items": []}' * 20, trickle=0.05)
    with HostileServer(lambda request: slow) as server:
        transport = ApiTransport(
            server.url + "/v1/hood",
            Secret(TOKEN),
            policy=RetryPolicy(timeout=5.0, deadline=5.0, max_attempts=5),
        )
        with (
            transport,
            transport.within_stop(lambda: 4.8),
            pytest.raises(NetworkError) as info,
        ):
            transport.request("GET", "/campaigns", retry=True)
        assert len(server.requests) == 1
    assert "0.2 s deadline for the whole request passed" in str(info.value)


def test_settle_pauses_grow_and_fill_the_window() -> None:
    assert settle_pauses(60.0) == [1.0, 2.0, 4.0, 8.0, 15.0, 15.0, 15.0]
    assert settle_pauses(5.0) == [1.0, 2.0, 2.0]
    assert settle_pauses(0.0) == []


def test_settle_looks_a_fixed_number_of_times_even_if_sleep_does_not_pass_time() -> None:
    handler, _ = replies(ok({}))
    transport = ApiTransport(
        BASE,
        Secret(TOKEN),
        transport=httpx.MockTransport(handler),
        sleep=lambda s: None,
        policy=RetryPolicy(settle_window=60.0),
    )
    looks: list[int] = []
    assert transport.settle(lambda: looks.append(1), operation="create x") is None
    assert len(looks) == 8


# ------------------------------------------------------------------------------ total deadline


@pytest.mark.parametrize("body_only", [False, True])
def test_a_trickling_server_is_cut_off_at_the_deadline(body_only: bool) -> None:
    """One byte every 50 ms never trips the 5 s read timeout; the 0.3 s deadline ends it."""
    slow = Reply(
        200,
        b'{"total": 0, "items": []}' * 20,
        {"Content-Type": "application/json"},
        trickle=0.05,
        trickle_body_only=body_only,
    )
    with HostileServer(lambda request: slow) as server:
        transport = ApiTransport(
            server.url + "/v1/hood",
            Secret(TOKEN),
            policy=RetryPolicy(timeout=5.0, deadline=0.3, max_attempts=1),
        )
        with transport, pytest.raises(NetworkError) as info:
            transport.request("GET", "/campaigns", retry=True)
    assert "0.3 s deadline for the whole request passed" in str(info.value)
    assert TOKEN not in str(info.value)


def test_the_deadline_does_not_cut_a_prompt_answer() -> None:
    prompt = json_reply({"total": 0, "items": []})
    with (
        HostileServer(lambda request: prompt) as server,
        ApiTransport(server.url, Secret(TOKEN), policy=RetryPolicy(deadline=0.5)) as transport,
    ):
        for _ in range(3):  # the deadline is per request, not per connection
            data = transport.request("GET", "/campaigns", retry=True).data
            assert data == {"total": 0, "items": []}


# ------------------------------------------------------------------------------ proxies


PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


def test_a_url_with_a_user_and_password_is_refused_without_repeating_them() -> None:
    handler, seen = replies(ok({}))
    with pytest.raises(InsecureTransportError) as info:
        make(handler, base="https://alice:pa55word@api.example.test/v1/hood")
    assert "user name or password" in str(info.value) and "api.example.test" in str(info.value)
    assert "pa55word" not in str(info.value) and "alice" not in str(info.value)
    assert seen == []


def test_proxies_apply_to_https_only_never_to_loopback_and_honour_no_proxy() -> None:
    env = {"HTTPS_PROXY": "http://proxy.internal:3128", "HTTP_PROXY": "http://other:1"}
    assert (
        str(proxy_for(httpx.URL("https://api.example.test/v1"), env))
        == "http://proxy.internal:3128"
    )
    assert proxy_for(httpx.URL("http://127.0.0.1:8080/v1"), env) is None  # plain http: never
    assert proxy_for(httpx.URL("https://localhost/v1"), env) is None  # loopback: never
    assert proxy_for(httpx.URL("https://[::1]:9/v1"), env) is None
    assert proxy_for(httpx.URL("https://api.example.test"), {"HTTP_PROXY": "http://p:1"}) is None
    assert str(proxy_for(httpx.URL("https://a.test"), {"all_proxy": "p:8"})) == "http://p:8"
    assert (
        str(
            proxy_for(
                httpx.URL("https://a.test"),
                {"https_proxy": "http://lower:1", "HTTPS_PROXY": "http://upper:1"},
            )
        )
        == "http://lower:1"
    )
    for no_proxy in (
        "*",
        "example.test",
        ".example.test",
        "api.example.test:443",
        "x.test, *.example.test",
    ):
        assert (
            proxy_for(httpx.URL("https://api.example.test"), {**env, "NO_PROXY": no_proxy}) is None
        ), no_proxy
    assert proxy_for(httpx.URL("https://10.1.2.3"), {**env, "no_proxy": "10.0.0.0/8"}) is None
    assert (
        proxy_for(
            httpx.URL("https://api.example.test"),
            {**env, "NO_PROXY": "xample.test,api.example.test:8443"},
        )
        is not None
    )


@pytest.mark.parametrize(
    "value, fragment",
    [
        ("http://bob:s3cret@proxy.internal:3128", "user name or password"),
        ("socks5://proxy.internal:1080", "only http:// and https:// proxies"),
    ],
)
def test_unsafe_or_unsupported_proxy_urls_are_refused(value: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        ApiTransport(BASE, Secret(TOKEN), environ={"HTTPS_PROXY": value})
    assert str(info.value).startswith("HTTPS_PROXY: ") and fragment in str(info.value)
    assert "s3cret" not in str(info.value)


def test_a_loopback_api_never_goes_through_a_proxy(make_emulator: Callable[..., Any]) -> None:
    emulator = make_emulator()
    with RecordingProxy() as proxy:
        env = {name: proxy.url for name in PROXY_VARS}
        with ApiTransport(emulator.hood_url, Secret(emulator.hood_token), environ=env) as transport:
            data = transport.request("GET", "/campaigns", retry=True).data
    assert data["total"] == 0 and proxy.received == []


def test_an_https_api_goes_through_the_proxy_by_connect_only_and_the_token_does_not() -> None:
    with RecordingProxy() as proxy:
        transport = ApiTransport(
            "https://api.example.test/v1/hood",
            Secret(TOKEN),
            environ={"HTTPS_PROXY": proxy.url},
            policy=RetryPolicy(max_attempts=1),
        )
        with transport, pytest.raises(NetworkError):
            transport.request("GET", "/campaigns", retry=True)
        assert wait_until(lambda: bool(proxy.received))
    [seen] = proxy.received
    assert seen.startswith(b"CONNECT api.example.test:443 ")  # a tunnel: TLS end to end
    assert TOKEN.encode() not in seen and b"Authorization" not in seen


def test_an_api_errors_title_and_message_read_as_one_line() -> None:
    """The API's title and message are joined as a sentence would be: after a title that ends
    a sentence, a space; after one that does not, a colon."""
    refused = ApiError(400, operation="x", title="Bad request.", message="labels must be …")
    assert str(refused).endswith("HTTP 400 Bad request. labels must be …")
    slow = ApiError(429, operation="x", title="Too Many Requests", message="the server asks …")
    assert str(slow).endswith("HTTP 429 Too Many Requests: the server asks …")
    assert str(ApiError(500, operation="x", title="Oops")).endswith("HTTP 500 Oops")


# -- a mutation that went through is never "not sent" because a later read failed -----------------


def _gone_after(
    answer: Callable[[httpx.Request, int], httpx.Response],
) -> tuple[Handler, list[int]]:
    """A server that answers each POST with ``answer(request, n)`` (n: the POSTs so far; it may
    raise) and refuses the connection of every other request: it went away right after."""
    posts: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            posts.append(1)
            return answer(request, len(posts))
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    return handler, posts


def _lost_then_refused(request: httpx.Request, n: int) -> httpx.Response:
    """The first POST acts but its answer is lost; the retry is refused as the state changed."""
    if n == 1:
        raise httpx.ReadTimeout("timed out", request=request)
    return httpx.Response(400, json={"code": 400, "message": "campaign is not running"})


def _created(request: httpx.Request, n: int) -> httpx.Response:
    return httpx.Response(201, json={"id": 4242})


@pytest.mark.parametrize(
    ("answer", "act"),
    [
        (_created, lambda c: c.create_push_task({"name": "T"})),  # read back after the 201
        (_lost_then_refused, lambda c: c.pause_campaign("77")),  # re-read after a refused retry
    ],
    ids=["push task read-back", "campaign action re-read"],
)
def test_a_hood_mutation_that_reached_the_server_is_never_marked_not_sent(
    answer: Callable[[httpx.Request, int], httpx.Response], act: Callable[[Any], object]
) -> None:
    # Before: the read's connection failure came out as not_sent, apply journaled the create
    # (or the pause) as not done, and the next plan did not wait for it (nor resume the pause).
    from hoodsync.remote.hood import HoodClient

    handler, posts = _gone_after(answer)
    transport, _ = make(handler, policy=RetryPolicy(max_attempts=3))
    with pytest.raises(RemoteError) as info:
        act(HoodClient(transport))
    assert posts and info.value.not_sent is False, str(info.value)


def test_a_falconyte_action_that_reached_the_server_is_never_marked_not_sent() -> None:
    from hoodsync.remote.falconyte import FalconyteClient

    def answer(request: httpx.Request, n: int) -> httpx.Response:
        if n == 1:
            raise httpx.ReadTimeout("timed out", request=request)
        body = {"ok": False, "error": {"code": "INVALID_STATE", "message": "already stopped"}}
        return httpx.Response(422, json=body)

    handler, posts = _gone_after(answer)
    transport, _ = make(handler, api="falconyte", policy=RetryPolicy(max_attempts=3))
    with pytest.raises(RemoteError) as info:
        FalconyteClient(transport).stop_campaign("c1")
    assert len(posts) == 2 and info.value.not_sent is False, str(info.value)
