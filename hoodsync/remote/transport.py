"""HTTP transport for one API and account: auth, rate limit, retries, size cap, redaction.

Every call hoodsync makes goes through :meth:`ApiTransport.request` (or :meth:`ApiTransport.create`
for the non-idempotent creates). Callers get a small :class:`Response`; no httpx object leaves
this module, and every httpx / json failure is translated into :mod:`hoodsync.errors`.

Retries (only when the caller says the call is safe to repeat, ``retry=True``): 429, 5xx and
transport errors, with jittered exponential backoff that honours ``Retry-After`` (seconds, or an
HTTP date measured against the answer's own ``Date``; ``-1`` means "wait until one of your
in-flight requests finishes"). A 429 and a connection that was never established are retried for every call, creates included: the server
did not execute them. Attempts and total time are bounded; the final error says what was tried.

Every wait is bounded (README, "Waiting, retries and bounds"), and every bound is a field of
one :class:`RetryPolicy`: each attempt has a total ``deadline`` besides httpx's per-read
timeouts (:mod:`hoodsync.remote.network`); a wait the server demands (``Retry-After``, or
``X-RateLimit-Reset`` through the limiter) beyond ``max_wait`` fails the request at once, naming
the header; an answer nested deeper than :data:`MAX_JSON_DEPTH` or otherwise unparseable is a
one-line error (for a create: an unknown outcome). A create whose outcome is unknown is looked
for over ``settle_window`` before it is sent again (:meth:`ApiTransport.create`). An httpx
failure becomes a :class:`~hoodsync.errors.NetworkError` whose ``__cause__`` is the httpx
exception, however many attempts later it is raised. A call that gives up with no attempt
having got past connecting (refused, connect timeout, no free connection: httpx raises those
before any byte of the request is written) or past the limiter raises an error marked
``not_sent``; a read timeout, a reset or a cut-off answer after sending never is.

Security: the token lives in a :class:`Secret` and is revealed only to build the auth header of
each request. It is refused over plain ``http://`` unless the host is loopback, and with a URL
that carries ``user:password@``; proxies come only from ``HTTPS_PROXY``/``ALL_PROXY`` and only
for ``https`` (:func:`~hoodsync.remote.network.proxy_for`); TLS verification is always on,
redirects are never followed (they would carry the header elsewhere), cookies an answer sets
are never kept or sent back, response bodies are capped, error bodies are never quoted raw, and
API-supplied text is cut to :data:`MAX_QUOTED` characters and scrubbed of the token
(:func:`quoted`) before it can reach a message. httpx logs requests
at INFO (method and URL only) and httpcore at DEBUG (no request headers), so neither shows the
header.
"""

from __future__ import annotations

import contextlib
import email.utils
import functools
import heapq
import html
import http.client
import http.cookiejar
import json as jsonlib
import logging
import os
import random
import re
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

import httpx

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
from hoodsync.remote.network import DeadlineBackend, is_loopback_host, network_transport
from hoodsync.remote.ratelimit import MAX_SERVER_WAIT, NoSlotInTime, RateLimiter, WaitTooLong
from hoodsync.remote.ratelimit.hypothesis import parse_http_date

__all__ = [
    "after_sent",
    "Api",
    "ApiTransport",
    "CreateResult",
    "MAX_CLOCK_SKEW",
    "RequestRecord",
    "Response",
    "RetryPolicy",
    "Secret",
    "backoff_delay",
    "falconyte_error",
    "header_safe",
    "hood_error",
    "is_loopback_host",
    "parse_retry_after",
    "quoted",
    "redact",
    "settle_pauses",
]

log = logging.getLogger(__name__)

Api = Literal["hood", "falconyte"]
T = TypeVar("T")

#: Default cap on a response body; a larger body is an error, never read into memory whole.
MAX_RESPONSE_BYTES = 16 * 1024 * 1024

#: Characters of one text a server or a library supplies (a title, a message, an exception's
#: text) that an error quotes; the rest is cut, saying how much. What is kept is redacted
#: (:func:`quoted`), so the work an error answer costs is bounded whatever its size.
MAX_QUOTED = 2000

#: Response headers kept on :class:`Response` (lower case).
_KEPT_HEADERS = frozenset(
    (
        "content-type",
        "date",
        "location",
        "retry-after",
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
    )
)

#: Distinct request paths whose parsed URL is kept (:meth:`ApiTransport._url`); a create or a
#: list repeats its path for every call, a read by id does not.
_URL_CACHE_SIZE = 256

#: Retry-After value meaning "too many concurrent requests; retry when one of yours finishes".
CONCURRENCY_RETRY = -1.0

#: Seconds one attempt may take from sending to the last byte of the answer, whatever the
#: per-read timeout (a server trickling one byte every few seconds never trips that one).
REQUEST_DEADLINE = 60.0

#: Seconds (either way) beyond which an answer's ``Date`` header is not believed
#: (:attr:`ApiTransport.clock_skew`): a server clock a day off is a broken one, or the header is a
#: proxy's or garbled, and believed it would make every time in a definition "passed" (or none).
MAX_CLOCK_SKEW = 24 * 3600.0

#: Nesting deeper than this in an answer is refused as malformed: no API object hoodsync reads
#: comes near it, and deeper structures only exhaust the recursion limit further on.
MAX_JSON_DEPTH = 64

#: Why a request of a stopping caller was not sent (:meth:`ApiTransport.within_stop`).
_STOP_SPENT = "stopping, and one request deadline ({deadline:g} s) has passed since the stop began"

#: First pause between two looks for a create whose outcome is unknown; each pause doubles, up
#: to ``_SETTLE_PAUSE_CAP``.
_SETTLE_FIRST_PAUSE = 1.0
_SETTLE_PAUSE_CAP = 15.0


@dataclass(frozen=True)
class RetryPolicy:
    """How long and how often one call may try: every bound :class:`ApiTransport` puts on
    waiting for a server (README, "Waiting, retries and bounds"). Seconds unless said otherwise.

    * ``timeout`` — one socket read (httpx); ``connect_timeout`` — opening a connection;
    * ``deadline`` — one whole attempt over the network, from sending to the last byte of the
      answer (:mod:`hoodsync.remote.network`), however the server trickles it;
    * ``max_attempts`` — attempts of one call that fail other than by a 429 (throttled attempts
      are bounded by ``max_retry_time`` and ``4 * max_attempts``); also the default number of
      sends of a create (:meth:`ApiTransport.create`);
    * ``max_retry_time`` — time one call may spend failing and backing off (waits for our own
      rate limiter do not count);
    * ``backoff_base`` / ``backoff_cap`` — the jittered exponential backoff between attempts
      (:func:`backoff_delay`);
    * ``max_wait`` — the longest ``Retry-After`` a server may demand before the call fails at
      once instead (the limiter has its own for ``X-RateLimit-Reset``);
    * ``settle_window`` — how long a create whose outcome is unknown is looked for before it is
      sent again; ``None``: the longer of ``deadline`` and ``timeout``
      (:attr:`settle_seconds`), so that a server that commits a create while its answer is
      still allowed to arrive is seen.

    Raises :class:`ValueError` for ``max_attempts < 1``, ``deadline <= 0`` or a negative
    ``max_wait`` or ``settle_window``.
    """

    timeout: float = 30.0
    connect_timeout: float = 10.0
    deadline: float = REQUEST_DEADLINE
    max_attempts: int = 5
    max_retry_time: float = 120.0
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    max_wait: float = MAX_SERVER_WAIT
    settle_window: float | None = None

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if (
            self.deadline <= 0
            or self.max_wait < 0
            or (self.settle_window is not None and self.settle_window < 0)
        ):
            raise ValueError("deadline must be positive; max_wait and settle_window not negative")

    @property
    def settle_seconds(self) -> float:
        """The settle window in force: ``settle_window``, or the longer of ``deadline`` and
        ``timeout`` when it is ``None``."""
        if self.settle_window is None:
            return max(self.deadline, self.timeout)
        return self.settle_window


def header_safe(value: str) -> bool:
    """Whether ``value`` can be a credential in an HTTP header as it is: visible ASCII only.
    Anything else (a line end pasted with it, a typographic quote) makes the HTTP library
    refuse the header — quoting it, credential and all, in its error — or fail to encode it."""
    return bool(value) and all("!" <= c <= "~" for c in value)


class Secret:
    """A token or API key. ``repr``/``str`` show ``Secret('****')``; :meth:`reveal` gives the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str) or not value.strip():
            raise ValueError("a secret must be a non-empty string")
        self._value = value

    def reveal(self) -> str:
        """The raw value. Only the transport calls this, to build the auth header."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('****')"

    __str__ = __repr__

    def __reduce__(self) -> Any:
        raise TypeError("a Secret cannot be pickled")


@dataclass(frozen=True)
class Response:
    """A successful answer: HTTP ``status``, the ``headers`` in ``_KEPT_HEADERS`` (lower-case
    names), the parsed JSON ``data`` (``None`` for an empty body) and how many ``attempts`` it took.
    """

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    data: Any = None
    attempts: int = 1


@dataclass(frozen=True)
class RequestRecord:
    """What one attempt did, for hooks (progress, benchmarks). No headers, no bodies.

    ``status`` is ``None`` when no response arrived; ``error`` then names the failure class.
    ``sent_at`` / ``finished_at`` are transport-clock times.
    """

    method: str
    path: str
    attempt: int
    status: int | None
    sent_at: float
    finished_at: float
    error: str | None = None


@dataclass(frozen=True)
class CreateResult(Generic[T]):
    """How a create ended: the server's ``response``, or — when the first answer was lost — the
    object found by listing again (``existing``). Exactly one of the two is set."""

    response: Response | None = None
    existing: T | None = None
    sends: int = 1


class _NoCookies(http.cookiejar.CookieJar):
    """A cookie jar that keeps nothing. Both APIs authenticate by header alone, so an answer
    must not make hoodsync send anything back on later requests (a ``Set-Cookie`` is ignored);
    it also spares parsing cookies out of every answer."""

    def extract_cookies(
        self, response: http.client.HTTPResponse, request: urllib.request.Request
    ) -> None:
        return None

    def set_cookie(self, cookie: http.cookiejar.Cookie) -> None:
        return None


class _Oversized(Exception):
    """Internal: the response body is larger than the cap."""


class _MaybeExecuted(Exception):
    """Internal: a non-retried request failed after its body may have reached the server."""

    def __init__(self, error: RemoteError) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass
class _Failure:
    """One failed attempt, classified."""

    error: RemoteError
    retryable: bool  # safe and useful to send again (for this kind of call)
    maybe_executed: bool  # the server may have acted on it
    never_sent: bool = False  # certainly never reached the server (it failed to connect)
    delay: float | None = None  # server-requested wait (Retry-After), seconds
    wait_for_inflight: bool = False
    queued: float = 0.0  # seconds this attempt waited for the rate limiter before sending


# ---------------------------------------------------------------------------------- helpers


def parse_retry_after(
    value: str | None, *, now: float | None = None, date: str | None = None
) -> float | None:
    """Seconds to wait from a ``Retry-After`` header; ``-1.0`` for the concurrency signal.

    Accepts delay-seconds (``"3"``, leniently ``"2.5"``), ``"-1"``, and an HTTP date
    (``"Wed, 21 Oct 2026 07:28:00 GMT"``; a date in the past gives 0). A date is measured
    against ``date``, the same response's ``Date`` header, when that is a valid HTTP date: both
    come from the server's clock, so a server whose clock is off still means what it says
    (RFC 9110 §10.2.3). Otherwise it is measured against ``now`` (POSIX seconds, default the
    wall clock). Anything else gives ``None`` (use the backoff).
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        when = _http_date(text)
        if when is None:
            return None
        sent = _http_date(date) if date is not None else None
        current = sent if sent is not None else (time.time() if now is None else now)
        return max(when - current, 0.0)
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        return None
    if seconds < 0:
        return CONCURRENCY_RETRY if seconds == -1 else None
    return seconds


def _http_date(text: str) -> float | None:
    """An HTTP date (with its zone) as POSIX seconds, else None."""
    try:
        when = email.utils.parsedate_to_datetime(text.strip())
    except (TypeError, ValueError, IndexError):
        return None
    return when.timestamp() if when.tzinfo is not None else None


def settle_pauses(window: float) -> list[float]:
    """The pauses between looks for a create whose outcome is unknown: 1, 2, 4, 8, then 15 s
    each, the last one shortened so that they add up to ``window`` (none for a window of 0)."""
    pauses: list[float] = []
    pause = _SETTLE_FIRST_PAUSE
    left = window
    while left > 1e-9:
        pauses.append(min(pause, left))
        left -= pauses[-1]
        pause = min(pause * 2.0, _SETTLE_PAUSE_CAP)
    return pauses


def backoff_delay(
    attempt: int, rng: random.Random, *, base: float = 0.5, cap: float = 30.0
) -> float:
    """Jittered exponential backoff before attempt ``attempt + 1`` ("equal jitter").

    With ``d = min(cap, base * 2 ** (attempt - 1))`` the result is uniform in ``[d / 2, d]``:
    never less than half the exponential step (so retries spread out) and never more than it.
    """
    step = min(cap, base * (2.0 ** max(attempt - 1, 0)))
    return step / 2.0 + rng.uniform(0.0, step / 2.0)


def _text(value: Any, quote: Callable[[str], str]) -> str:
    """A string field of an error body as an error may quote it (``quote``), else ''."""
    return quote(value.strip()) if isinstance(value, str) else ""


def _cut(text: str) -> str:
    """``text`` cut to :data:`MAX_QUOTED` characters (:func:`quoted` with no credential)."""
    return quoted(text, "")


def hood_error(
    status: int,
    data: Any,
    *,
    operation: str = "",
    attempts: int = 1,
    lookup: bool = False,
    reason: str = "",
    quote: Callable[[str], str] = _cut,
) -> ApiError:
    """Translate a Hood error answer (``{code, title, message, trace_id}``) into the error tree.

    401/403 → :class:`AuthError`; 404, or a 400 saying the object "does not exist" on a lookup
    by id (``lookup=True``) → :class:`NotFoundError`; 429 → :class:`RateLimitedError`; 5xx →
    :class:`ServerError`; anything else → :class:`ApiError`. A body that is not the documented
    shape (an HTML 502 from a proxy, nothing at all) yields the HTTP ``reason`` phrase only.

    Only those fields (and the reason) are quoted, each as ``quote`` gives it: by default cut
    to :data:`MAX_QUOTED` characters; the transport's :func:`quoted` redacts the credential
    from what it keeps. The rest of the body is never looked at.
    """
    body = data if isinstance(data, dict) else {}
    title = _text(body.get("title"), quote) or (_text(reason, quote) if not body else "")
    message = _text(body.get("message"), quote)
    trace_id = _text(body.get("trace_id"), quote)
    missing = lookup and status == 400 and "does not exist" in f"{title} {message}".lower()
    cls = _error_class(status, missing=missing)
    return cls(
        status,
        operation=operation,
        title=title,
        message=message,
        trace_id=trace_id,
        attempts=attempts,
    )


def falconyte_error(
    status: int,
    data: Any,
    *,
    operation: str = "",
    attempts: int = 1,
    lookup: bool = False,
    reason: str = "",
    quote: Callable[[str], str] = _cut,
) -> ApiError:
    """Translate a Falconyte error answer into the error tree.

    Understands ``{ok: false, error: {code, message}}`` and the Laravel-style
    ``{message, errors: {field: [...]}}`` (field errors are appended, sorted by field). Status
    mapping as in :func:`hood_error` (404 → :class:`NotFoundError`; ``lookup`` is accepted for
    symmetry). Each text quoted goes through ``quote`` (see :func:`hood_error`); at most
    :data:`_MAX_FIELDS` field errors are listed.
    """
    del lookup  # Falconyte says 404 for unknown ids
    body = data if isinstance(data, dict) else {}
    envelope = body.get("error")
    code = ""
    message = ""
    if isinstance(envelope, dict):
        code = _text(envelope.get("code"), quote)
        message = _text(envelope.get("message"), quote)
    elif isinstance(envelope, str):
        message = _text(envelope, quote)
    if not message:
        message = _text(body.get("message"), quote)
    details = _field_errors(body.get("errors"), quote)
    if details:
        message = f"{message} ({details})" if message else details
    title = _text(reason, quote) if not body else ""
    cls = _error_class(status, missing=False)
    return cls(
        status, operation=operation, title=title, message=message, code=code, attempts=attempts
    )


#: Field errors of one Falconyte answer listed at most (by field name); more are counted.
_MAX_FIELDS = 20


def _field_errors(errors: Any, quote: Callable[[str], str]) -> str:
    """``field: text text; other: text``, sorted by field, each field's entry as ``quote``
    gives it; past :data:`_MAX_FIELDS` fields, ``… (N more fields)``. The work is bounded
    whatever the body holds: the first fields are picked without sorting them all, and a
    field's texts are joined only until they pass :data:`MAX_QUOTED` characters."""
    if not isinstance(errors, dict):
        return ""
    names = heapq.nsmallest(_MAX_FIELDS, errors, key=str)
    parts: list[str] = []
    for name in names:
        value = errors[name]
        parts.append(quote(f"{name}: {_joined(value if isinstance(value, list) else [value])}"))
    if len(errors) > len(names):
        parts.append(f"… ({len(errors) - len(names)} more fields)")
    return "; ".join(parts)


def _joined(values: list[Any]) -> str:
    """``values`` as text, joined by spaces, up to the first that passes :data:`MAX_QUOTED`
    characters in all (the rest could not be quoted; :func:`quoted` cuts what is joined)."""
    texts: list[str] = []
    size = 0
    for at, value in enumerate(values):
        if size > MAX_QUOTED:
            texts.append(f"… ({len(values) - at} more)")
            break
        texts.append(str(value))
        size += len(texts[-1]) + 1
    return " ".join(texts)


def _error_class(status: int, *, missing: bool) -> type[ApiError]:
    if status in (401, 403):
        return AuthError
    if status == 404 or missing:
        return NotFoundError
    if status == 429:
        return RateLimitedError
    if status >= 500:
        return ServerError
    return ApiError


_TRANSLATORS: dict[str, Callable[..., ApiError]] = {
    "hood": hood_error,
    "falconyte": falconyte_error,
}


# ---------------------------------------------------------------------------------- transport


@contextlib.contextmanager
def after_sent() -> Iterator[None]:
    """Around the requests a client makes after its mutating request may have reached the server
    (the read-back of a created object, the re-read after a refused retry, the look for an
    object an answer did not name): their failure says nothing about whether the mutation was
    sent, so it leaves as an error never marked ``not_sent`` — which would let apply journal the
    mutation as not done, and the next plan skip the wait for a create that may exist."""
    try:
        yield
    except RemoteError as exc:
        exc.not_sent = False
        raise


class ApiTransport:
    """One API (``"hood"`` or ``"falconyte"``) and account: thread-safe, at most ``parallelism``
    requests in flight, every send cleared by ``limiter``.

    ``transport`` replaces the network (tests: ``httpx.MockTransport``; the sandbox: an
    in-process WSGI transport). ``clock``/``sleep``/``rng`` are injected so retry timing is
    testable without waiting (without a ``limiter``, the one made here gets the same ``clock``
    and ``sleep``); ``wall_clock`` (POSIX seconds) is only used for HTTP-date ``Retry-After``
    values and for :attr:`clock_skew`. ``on_request`` is called after every attempt with a
    :class:`RequestRecord` (from the calling thread; keep it fast).

    Bounds (every wait on a server has one): the fields of ``policy`` (default
    ``RetryPolicy()``). ``environ`` (default :data:`os.environ`) is where proxies are read from
    (:func:`~hoodsync.remote.network.proxy_for`).
    """

    def __init__(
        self,
        base_url: str,
        token: Secret,
        *,
        api: Api = "hood",
        limiter: RateLimiter | None = None,
        parallelism: int = 4,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        wall_clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        policy: RetryPolicy | None = None,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        on_request: Callable[[RequestRecord], None] | None = None,
        user_agent: str = "hoodsync",
        environ: Mapping[str, str] | None = None,
    ) -> None:
        if api not in _TRANSLATORS:
            raise ValueError(f"unknown api {api!r}")
        if not isinstance(token, Secret):
            raise TypeError("token must be a Secret")
        if parallelism < 1:
            raise ValueError("parallelism must be at least 1")
        url = _parsed(base_url)
        _check_secure(url)
        if not header_safe(token.reveal()):
            # Checked (naming the variable) when the configuration is read; this is the last
            # line, so that no caller can make the HTTP library quote the credential.
            raise ConfigError(
                f"the {'Hood API token' if api == 'hood' else 'Falconyte API key'} holds "
                "whitespace, a line break or a character other than visible ASCII, which an "
                "HTTP header cannot carry; nothing was sent"
            )
        self.api: Api = api
        self.base_url = str(url).rstrip("/")
        self._host = url.host + (f":{url.port}" if url.port else "")
        self.limiter = limiter if limiter is not None else RateLimiter(clock=clock, sleep=sleep)
        self.parallelism = parallelism
        self.policy = policy if policy is not None else RetryPolicy()
        self.max_response_bytes = max_response_bytes
        #: Creates whose outcome was unknown at least once (a sent POST with no usable answer).
        self.unknown_outcomes = 0
        #: See :attr:`clock_skew` and :attr:`implausible_skew`.
        self._clock_skew: float | None = None
        self._implausible_skew: float | None = None
        self._count_lock = threading.Lock()
        self._token = token
        self._auth_header = "Authorization" if api == "hood" else "x-api-key"
        self._translate = _TRANSLATORS[api]
        self._clock = clock
        self._sleep = sleep
        self._wall_clock = wall_clock
        self._rng = rng if rng is not None else random.Random()
        self._rng_lock = threading.Lock()
        self._on_request = on_request
        self._slots = threading.BoundedSemaphore(parallelism)
        #: Per thread: the stops of the :meth:`within_stop` blocks it is in (``stops``).
        self._bounds = threading.local()
        self._done = threading.Condition()
        self._in_flight = 0
        self._finished = 0
        limits = httpx.Limits(
            max_connections=parallelism + 2, max_keepalive_connections=parallelism
        )
        # Over the network, sockets come from a backend that enforces ``deadline``; given a
        # transport (tests, the in-process sandbox) there are no sockets to bound.
        self._backend: DeadlineBackend | None = None
        if transport is None:
            self._backend = DeadlineBackend()
            transport = network_transport(
                url, os.environ if environ is None else environ, limits, self._backend
            )
        self._client = httpx.Client(
            base_url=self.base_url + "/",
            transport=transport,
            timeout=httpx.Timeout(self.policy.timeout, connect=self.policy.connect_timeout),
            verify=True,
            follow_redirects=False,
            trust_env=False,  # proxies are chosen by network.proxy_for, never by httpx
            limits=limits,
            headers={"Accept": "application/json", "User-Agent": user_agent},
            cookies=_NoCookies(),
        )
        # Per transport (it holds this instance): the same path always gives the same URL.
        self._url = functools.lru_cache(maxsize=_URL_CACHE_SIZE)(self._absolute_url)

    def __repr__(self) -> str:
        return f"ApiTransport({self.api}, {self.base_url})"

    @property
    def clock_skew(self) -> float | None:
        """How many seconds the server's clock is ahead of this machine's (negative: behind), as
        the ``Date`` header of the latest answer that carried a valid one showed it when the
        answer arrived (``wall_clock``); ``None`` until then. ``Date`` holds the whole second
        the server wrote it in, before the answer travelled, so a server in step with this
        machine reads 0 to about a second behind: this never puts ahead a server that is not.
        A ``Date`` more than :data:`MAX_CLOCK_SKEW` seconds from this machine's clock is
        ignored, as if the answer had none (:attr:`implausible_skew`). Times in definitions are
        judged by the later of the two clocks (:meth:`hoodsync.session.Session.judging_time`)."""
        return self._clock_skew

    @property
    def implausible_skew(self) -> float | None:
        """What the latest ``Date`` header ignored for being more than :data:`MAX_CLOCK_SKEW`
        seconds from this machine's clock said of the server's (as :attr:`clock_skew`);
        ``None`` when no answer carried such a one."""
        return self._implausible_skew

    @property
    def settle_window(self) -> float:
        """Seconds :meth:`settle` looks for a create whose outcome is unknown
        (:attr:`RetryPolicy.settle_seconds`)."""
        return self.policy.settle_seconds

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def __enter__(self) -> ApiTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def within_stop(self, stop_elapsed: Callable[[], float | None] | None) -> Iterator[None]:
        """Bound the requests this thread makes inside the block by the caller's stop:
        ``stop_elapsed()`` is how many seconds ago the caller began stopping (a first Ctrl-C
        or SIGTERM), ``None`` while it has not. Until then, nothing changes. From then on,
        each request is sent at most once (an attempt already on the wire is not cut short,
        but not retried), and it ends by one request ``deadline`` after the stop began: its
        own deadline, its wait for an in-flight slot and for the rate limiter are cut to the
        time left, and with none left it is not sent, raising :class:`RemoteError`
        (``not sent: ...``). For the lookups a stopping apply still makes (README, "Apply":
        a stop takes at most about one request deadline). Blocks nest; ``None``: no bound."""
        if stop_elapsed is None:
            yield
            return
        outer: tuple[Callable[[], float | None], ...] = getattr(self._bounds, "stops", ())
        self._bounds.stops = (*outer, stop_elapsed)
        try:
            yield
        finally:
            self._bounds.stops = outer

    def _stop_remaining(self) -> float | None:
        """Seconds left (perhaps none, or fewer) for a request of a :meth:`within_stop` block
        whose stop has begun; ``None`` when there is no such stop."""
        stops: tuple[Callable[[], float | None], ...] = getattr(self._bounds, "stops", ())
        elapsed = [e for e in (stop() for stop in stops) if e is not None]
        return self.policy.deadline - max(elapsed) if elapsed else None

    def _stop_left(self, op: str) -> float | None:
        """:meth:`_stop_remaining`, raising :class:`RemoteError` (nothing sent) when no time
        is left."""
        left = self._stop_remaining()
        if left is not None and left <= 0:
            raise RemoteError(
                f"not sent: {_STOP_SPENT.format(deadline=self.policy.deadline)}",
                operation=op,
                not_sent=True,
            )
        return left

    # ------------------------------------------------------------------------------ public

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        retry: bool,
        lookup: bool = False,
        operation: str | None = None,
    ) -> Response:
        """Send ``method path`` and return the successful :class:`Response`.

        ``retry=True`` only for calls that are safe to repeat (GET, merge-patch PATCH, state
        actions). ``lookup=True`` marks a read of one object by id (a Hood 400 "does not exist"
        then means :class:`NotFoundError`). Raises :class:`ApiError` subclasses for error
        answers, :class:`NetworkError` when no usable answer came, each saying how many attempts
        were made over how long.
        """
        try:
            return self._call(
                method, path, params, json, retry=retry, lookup=lookup, operation=operation
            )
        except _MaybeExecuted as unknown:
            # The internal wrapper is no part of the story; the error's own cause (the httpx
            # exception, if any) is.
            raise unknown.error from unknown.error.__cause__

    def create(
        self,
        path: str,
        body: Any,
        *,
        find: Callable[[], T | None],
        operation: str | None = None,
        max_sends: int | None = None,
        on_resend: Callable[[int], None] | None = None,
        stopping: Callable[[], bool] | None = None,
        stop_elapsed: Callable[[], float | None] | None = None,
    ) -> CreateResult[T]:
        """POST a create exactly once, whatever the network does.

        Creates are not idempotent in these APIs, so a create is never blindly repeated. A 429 or
        a refused connection means the server did not act, and those are retried as usual. When
        the outcome is *unknown* — a timeout, a connection dropped before the answer, a 5xx after
        the body was sent, an unreadable 2xx body — the object is looked for with ``find()``
        (campaign: its ``metadata.hoodsync_key`` marker; push task / email campaign: its exact
        name) again and again over the settle window (:meth:`settle`), since a server may commit
        a create well after the client stopped waiting for its answer. Found: that is the result.
        Not found by the end of the window: the create did not happen, and it is sent again (at
        most ``max_sends`` sends in all, default the policy's ``max_attempts``). If listing
        fails, nothing can be told: :class:`OutcomeUnknownError`. If the last send's outcome is
        unknown and it never shows, its failure is raised. A failure marked ``not_sent`` (every
        attempt failed to connect) is one of the first send only: after a send whose outcome
        was unknown, the create may have happened whatever the next send does. Every unknown outcome is counted in
        :attr:`unknown_outcomes`, so that the caller can check for duplicates at the end.
        ``on_resend(n)`` is called just before the ``n``-th send (n >= 2): apply journals it, so
        that a later run knows how recently a create may still have been sent.

        ``stopping()`` says whether the caller is winding down (apply after a first Ctrl-C or
        SIGTERM). Once it is true, the create is not sent again and no settle window is waited
        out: after an unknown outcome the object is looked for once, and if it is not there the
        last send's failure is raised at once (the outcome stays unknown; the next run waits
        for it through the journal). A send already on the wire is still waited for.
        ``stop_elapsed()`` says how long ago the caller began stopping (``None``: it has not;
        see :meth:`within_stop`): from then on the look is one listing, each of its requests
        sent once and ending by one request ``deadline`` after the stop began — not sent at
        all once that has passed (the look then fails: :class:`OutcomeUnknownError`). So a
        stop costs at most about one request ``deadline``, whatever the server does.
        """
        op = operation or f"POST {path}"
        sends = max_sends if max_sends is not None else self.policy.max_attempts
        last: RemoteError | None = None
        for send in range(1, sends + 1):
            if send > 1 and stopping is not None and stopping():
                assert last is not None
                log.info("%s: stopping, so not sent again; its outcome is unknown", op)
                raise last
            if send > 1 and on_resend is not None:
                on_resend(send)
            try:
                response = self._call(
                    "POST", path, None, body, retry=False, lookup=False, operation=op
                )
                return CreateResult(response=response, sends=send)
            except RemoteError as exc:
                # This send never reached the server, but an earlier one did, with an
                # unknown outcome: the create may still have happened.
                exc.not_sent = exc.not_sent and send == 1
                raise
            except _MaybeExecuted as unknown:
                last = unknown.error
                with self._count_lock:
                    self.unknown_outcomes += 1
                log.info("%s: outcome unknown (%s); looking for it", op, type(last).__name__)
            with self.within_stop(stop_elapsed):
                existing = self.settle(find, operation=op, cause=last, stopping=stopping)
            if existing is not None:
                log.info("%s: found after an unknown outcome; not sending again", op)
                return CreateResult(existing=existing, sends=send)
        assert last is not None
        raise last

    def settle(
        self,
        find: Callable[[], T | None],
        *,
        operation: str,
        cause: RemoteError | str = "the answer named no object",
        stopping: Callable[[], bool] | None = None,
    ) -> T | None:
        """Look for an object a create may have made: ``find()`` at once, then after pauses of
        1, 2, 4, 8 and then 15 s until ``settle_window`` seconds have passed (the last look
        at its end; one look when the window is 0). Returns what ``find()`` found, or ``None``
        if it never found anything. The number of looks is fixed by the window, so a ``sleep``
        that does not advance ``clock`` cannot make it spin. A failed listing is
        :class:`OutcomeUnknownError` (naming ``cause``). Once ``stopping()`` is true, no pause
        is waited out: the look already made is the last.
        """
        started = self._clock()
        for pause in [*settle_pauses(self.settle_window), 0.0]:
            try:
                found = find()
            except RemoteError as exc:
                raise OutcomeUnknownError(
                    f"the create may have happened ({cause}); listing to check failed: {exc}",
                    operation=operation,
                ) from exc
            if found is not None:
                return found
            left = self.settle_window - (self._clock() - started)
            if left <= 0 or pause <= 0 or (stopping is not None and stopping()):
                break
            self._sleep(min(pause, left))
        return None

    # ------------------------------------------------------------------------------ internals

    def _call(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None,
        body: Any,
        *,
        retry: bool,
        lookup: bool,
        operation: str | None,
    ) -> Response:
        """The retry loop. Raises RemoteError, or _MaybeExecuted for a non-retried call whose
        failure leaves the outcome unknown."""
        _check_path(path)
        op = operation or f"{method} {path}"
        started = self._clock()
        attempt = 0
        failed = 0  # attempts that failed for a reason other than being throttled
        queued = 0.0  # time spent waiting for our own limiter: not retrying, so not budgeted
        reached = False  # some attempt may have reached the server
        while True:
            attempt += 1
            try:
                result = self._attempt(
                    method, path, params, body, attempt=attempt, op=op, lookup=lookup
                )
            except RemoteError as exc:  # this attempt sent nothing; an earlier one may have
                exc.not_sent = exc.not_sent and not reached
                raise
            if isinstance(result, Response):
                return result
            failure = result
            queued += failure.queued
            reached = reached or not failure.never_sent
            throttled = isinstance(failure.error, RateLimitedError)
            if not throttled:
                failed += 1
            retryable = failure.retryable and (retry or not failure.maybe_executed)
            if self._stop_remaining() is not None:
                retryable = False  # the caller is stopping: see within_stop()
            if not retryable:
                raise self._ending(failure, attempt, started, reached=reached, retry=retry)
            delay = self._retry_delay(failure, failed if not throttled else attempt)
            elapsed = self._clock() - started - queued
            # A 429 was not executed and says when to come back, so throttled attempts are
            # bounded by the time budget (and a generous count); other failures by max_attempts.
            limit = self.policy.max_attempts
            exhausted = failed >= limit or attempt >= 4 * limit
            if exhausted or elapsed + delay > self.policy.max_retry_time:
                raise self._ending(failure, attempt, started, reached=reached, retry=retry)
            if failure.wait_for_inflight:
                self._wait_for_inflight(delay)
            elif delay > 0:
                self._sleep(delay)

    def _attempt(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None,
        body: Any,
        *,
        attempt: int,
        op: str,
        lookup: bool,
    ) -> Response | _Failure:
        """One send: take an in-flight slot, clear the limiter, send, classify. Inside a
        :meth:`within_stop` block whose stop has begun, each of these waits is cut to the time
        left (:meth:`_stop_left`)."""
        left = self._stop_left(op)
        if not self._slots.acquire(timeout=left):
            raise RemoteError(
                f"not sent: stopping, and no connection was free within one request deadline "
                f"({self.policy.deadline:g} s) of the stop",
                operation=op,
                not_sent=True,
            )
        try:
            return self._attempt_in_slot(
                method, path, params, body, attempt=attempt, op=op, lookup=lookup
            )
        finally:
            self._slots.release()

    def _attempt_in_slot(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None,
        body: Any,
        *,
        attempt: int,
        op: str,
        lookup: bool,
    ) -> Response | _Failure:
        """:meth:`_attempt`, holding an in-flight slot."""
        asked = self._clock()
        try:
            ticket = self.limiter.acquire(within=self._stop_left(op))
        except WaitTooLong as exc:
            raise RemoteError(f"{exc}; nothing was sent", operation=op, not_sent=True) from exc
        except NoSlotInTime as exc:
            raise RemoteError(
                f"not sent: stopping, and {exc}", operation=op, not_sent=True
            ) from exc
        try:
            limit = self._stop_left(op)
        except RemoteError:
            self.limiter.discard(ticket)  # granted, but not sent after all
            raise
        with self._done:
            self._in_flight += 1
        sent_at = self._clock()
        status: int | None = None
        error_name: str | None = None
        try:
            outcome = self._send(
                method,
                path,
                params,
                body,
                ticket=ticket,
                op=op,
                lookup=lookup,
                attempt=attempt,
                limit=limit,
            )
            if isinstance(outcome, Response):
                status = outcome.status
            else:
                outcome.queued = sent_at - asked
                status = getattr(outcome.error, "status", None)
                if status is None:
                    error_name = type(outcome.error).__name__
            return outcome
        finally:
            finished = self._clock()
            with self._done:
                self._in_flight -= 1
                self._finished += 1
                self._done.notify_all()
            # Every request at debug; at info only the ones worth a look (retries, errors).
            notable = attempt > 1 or status is None or status >= 400
            log.log(
                logging.INFO if notable else logging.DEBUG,
                "%s %s -> %s (attempt %d, %.0f ms)",
                method,
                path,
                status if status is not None else (error_name or "error"),
                attempt,
                (finished - sent_at) * 1000.0,
            )
            if self._on_request is not None:
                self._on_request(
                    RequestRecord(method, path, attempt, status, sent_at, finished, error_name)
                )

    def _send(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None,
        body: Any,
        *,
        ticket: int,
        op: str,
        lookup: bool,
        attempt: int,
        limit: float | None = None,
    ) -> Response | _Failure:
        with self._deadline(limit):
            return self._send_within_deadline(
                method, path, params, body, ticket=ticket, op=op, lookup=lookup, attempt=attempt
            )

    def _deadline(self, limit: float | None = None) -> contextlib.AbstractContextManager[None]:
        """Bound every socket operation of this attempt by the policy's ``deadline``, or by
        ``limit`` seconds when that is shorter (network only)."""
        if self._backend is None:
            return contextlib.nullcontext()
        seconds = self.policy.deadline
        if limit is not None:
            # Tenths of a second: the deadline is named in the error when it passes.
            seconds = min(seconds, max(0.1, round(limit, 1)))
        return self._backend.deadline(seconds)

    def _send_within_deadline(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None,
        body: Any,
        *,
        ticket: int,
        op: str,
        lookup: bool,
        attempt: int,
    ) -> Response | _Failure:
        headers = {self._auth_header: self._auth_value()}
        content: bytes | None = None
        if body is not None:
            content = jsonlib.dumps(body, sort_keys=True, separators=(",", ":")).encode("utf-8")
            headers["Content-Type"] = "application/json"
        try:
            request = self._client.build_request(
                method,
                self._url(path),
                params=dict(params) if params else None,
                content=content,
                headers=headers,
            )
            response = self._client.send(request, stream=True)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            # Nothing reached the server: safe to send again, even for a create.
            self.limiter.discard(ticket)
            return _Failure(
                self._network_error(exc, "could not connect", op),
                retryable=True,
                maybe_executed=False,
                never_sent=True,
            )
        except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            return _Failure(
                self._network_error(exc, "no answer", op),
                retryable=True,
                maybe_executed=True,
            )
        except httpx.HTTPError as exc:
            return _Failure(
                self._network_error(exc, "request failed", op),
                retryable=False,
                maybe_executed=False,
            )
        try:
            return self._read(response, ticket=ticket, op=op, lookup=lookup, attempt=attempt)
        finally:
            response.close()

    def _saw_date(self, skew: float) -> None:
        """Keep what an answer's ``Date`` says of the server's clock (``skew``: seconds ahead
        of this machine's): a plain store, whichever answer arrived last wins, unless it is
        implausible (:attr:`clock_skew`)."""
        if abs(skew) <= MAX_CLOCK_SKEW:
            self._clock_skew = skew
        else:
            self._implausible_skew = skew

    def _read(
        self, response: httpx.Response, *, ticket: int, op: str, lookup: bool, attempt: int
    ) -> Response | _Failure:
        status = response.status_code
        # One pass over the headers (each lookup by name would decode them all again); repeated
        # names are joined with ", " as a lookup by name joins them.
        kept = {name: value for name, value in response.headers.items() if name in _KEPT_HEADERS}
        date = parse_http_date(kept.get("date"))
        if date is not None:
            self._saw_date(date - self._wall_clock())
        if status == 429:
            return self._throttled(kept, ticket=ticket, op=op, attempt=attempt)
        self.limiter.observe(kept, ticket)
        try:
            raw = self._read_body(response)
        except _Oversized as exc:
            # Asking again would not make it smaller; a 2xx still happened on the server.
            return _Failure(
                NetworkError(str(exc), operation=op),
                retryable=False,
                maybe_executed=200 <= status < 300,
            )
        except httpx.HTTPError as exc:  # cut off, timed out, or undecodable while reading
            return _Failure(
                self._network_error(exc, "answer cut off", op),
                retryable=True,
                maybe_executed=True,
            )
        data, parse_error = _parse_json(raw)
        if 200 <= status < 300:
            if parse_error:
                return _Failure(
                    NetworkError(
                        f"HTTP {status} with a malformed JSON body ({parse_error})", operation=op
                    ),
                    retryable=True,
                    maybe_executed=True,
                )
            return Response(status=status, headers=kept, data=data, attempts=attempt)
        error = self._translate(
            status,
            data,
            operation=op,
            attempts=attempt,
            lookup=lookup,
            reason=response.reason_phrase,
            quote=self._quote,
        )
        if status >= 500:
            return _Failure(error, retryable=True, maybe_executed=True)
        return _Failure(error, retryable=False, maybe_executed=False)

    def _throttled(
        self, kept: Mapping[str, str], *, ticket: int, op: str, attempt: int
    ) -> _Failure:
        """A 429 was not executed (the server says so), so it is retried for every kind of call."""
        wait = parse_retry_after(
            kept.get("retry-after"), now=self._wall_clock(), date=kept.get("date")
        )
        max_wait = self.policy.max_wait
        if wait is not None and wait > max_wait:
            # Not waited for: fail now, naming the header. The limiter remembers the demand, so
            # later requests fail at once too instead of sleeping for it.
            self.limiter.penalize(wait, ticket)
            message = (
                f"the server asks for a {wait:.0f} s wait (Retry-After), more than the "
                f"{max_wait:g} s hoodsync waits at most"
            )
            return _Failure(
                RateLimitedError(
                    429, operation=op, title="Too Many Requests", message=message, attempts=attempt
                ),
                retryable=False,
                maybe_executed=False,
            )
        error = RateLimitedError(429, operation=op, title="Too Many Requests", attempts=attempt)
        if wait == CONCURRENCY_RETRY:
            self.limiter.discard(ticket)
            return _Failure(error, retryable=True, maybe_executed=False, wait_for_inflight=True)
        self.limiter.penalize(wait if wait is not None else 1.0, ticket)
        return _Failure(error, retryable=True, maybe_executed=False, delay=wait)

    def _read_body(self, response: httpx.Response) -> bytes:
        """The body, read in chunks and abandoned as soon as it exceeds the cap."""
        cap = self.max_response_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            raise _Oversized(f"response body over the {cap}-byte limit ({declared} bytes declared)")
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > cap:
                raise _Oversized(f"response body over the {cap}-byte limit")
            chunks.append(chunk)
        return b"".join(chunks)

    def _retry_delay(self, failure: _Failure, attempt: int) -> float:
        with self._rng_lock:
            if failure.delay is not None:
                # The limiter already blocks sends until Retry-After has passed; a little jitter
                # keeps two clients that were told the same thing from colliding again.
                return failure.delay + self._rng.uniform(0.0, 0.1)
            base, cap = self.policy.backoff_base, self.policy.backoff_cap
            return backoff_delay(attempt, self._rng, base=base, cap=cap)

    def _wait_for_inflight(self, limit: float) -> None:
        """Retry-After: -1 — wait until another of our requests finishes (or ``limit`` seconds)."""
        with self._done:
            if self._in_flight == 0:
                waited = False
            else:
                seen = self._finished
                waited = self._done.wait_for(lambda: self._finished != seen, timeout=limit)
        if not waited:
            self._sleep(limit)

    def _ending(
        self, failure: _Failure, attempts: int, started: float, *, reached: bool, retry: bool
    ) -> Exception:
        """What a call that gives up after ``failure`` raises: the final error, marked
        ``not_sent`` only when no attempt may have ``reached`` the server; wrapped in
        :class:`_MaybeExecuted` for a call not safe to repeat whose outcome is unknown."""
        final = self._final(failure.error, attempts, started)
        final.not_sent = not reached
        if failure.maybe_executed and not retry:
            return _MaybeExecuted(final)
        return final

    def _final(self, error: RemoteError, attempts: int, started: float) -> RemoteError:
        """The error to raise, saying what was tried when there was more than one attempt."""
        if attempts <= 1:
            return error
        elapsed = self._clock() - started
        note = f" over {elapsed:.1f} s"
        if isinstance(error, ApiError):
            # Built with attempts=attempts, its message already ends "after N attempts".
            error.args = (str(error) + note,)
            return error
        final = type(error)(
            f"{_strip_op(error)} after {attempts} attempts{note}", operation=error.operation
        )
        final.__cause__ = error.__cause__  # the httpx exception the last attempt ended with
        return final

    def _absolute_url(self, path: str) -> httpx.URL:
        """The URL of ``path`` under the base URL: what httpx would merge from the base URL and
        the relative path, parsed once per path instead of twice per request."""
        return httpx.URL(f"{self.base_url}/{path.lstrip('/')}")

    def _auth_value(self) -> str:
        token = self._token.reveal()
        return f"Bearer {token}" if self.api == "hood" else token

    def _network_error(self, exc: httpx.HTTPError, what: str, op: str) -> NetworkError:
        """The :class:`NetworkError` an httpx failure becomes, chained to it: what ``raise ...
        from exc`` would do, for an error that is raised only after the retries, if at all."""
        error = NetworkError(self._describe(exc, what), operation=op)
        error.__cause__ = exc
        return error

    def _quote(self, text: str) -> str:
        """Foreign text as an error may quote it: cut to :data:`MAX_QUOTED` characters, then
        without the credential in any form it may hold (:func:`quoted`, the one rule). Every
        text a server or a library supplies passes here before it reaches a message."""
        return quoted(text, self._token.reveal())

    def _describe(self, exc: Exception, what: str) -> str:
        """``could not connect to api.example.com (ConnectError: …)``: the host is named, since
        "Name or service not known" alone does not say which URL was wrong.

        The foreign text is cut and scrubbed of the credential (:meth:`_quote`); that of an error
        about the request as hoodsync built it (``LocalProtocolError``: an illegal header,
        say) is left out whole, since the header it would quote is the credential's."""
        name = type(exc).__name__
        if isinstance(exc, httpx.LocalProtocolError):
            detail = "the request was refused before it was sent; its detail is withheld"
        else:
            detail = self._quote(str(exc).strip())
        where = (
            f"{what} to {self._host}"
            if what == "could not connect"
            else f"{what} from {self._host}"
        )
        return f"{where} ({name}: {detail})" if detail else f"{where} ({name})"


#: A piece of the credential this long or longer is redacted wherever it appears (a prefix a
#: server quotes, "starts s3cr3t/TOKEN+abc..."). Shorter pieces are left: 8 characters of a
#: random credential do not turn up in an error text by chance, fewer might (a 4-character
#: piece of ``hood_...`` would blank every "hood" in a URL). A credential shorter than this
#: is redacted whole only.
REDACT_MIN = 8
#: The escapes foreign text may quote a credential's characters in, each decoded to the one
#: character it stands for: percent-encoding (either case), an HTML entity (named, decimal,
#: hex), a JSON or Python escape (``\\u002f``, ``\\x2f``, ``\\/``, ``\\\\``, ``\\'``, ``\\"``).
_ESCAPE = re.compile(
    r"%[0-9A-Fa-f]{2}|&(?:#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});"
    r"|\\(?:u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|x[0-9A-Fa-f]{2}|[\\/'\"])"
)


def quoted(text: str, secret: str, limit: int = MAX_QUOTED) -> str:
    """``text`` as an error may quote it: its first ``limit`` characters, then ``… (N more
    characters)`` when it is longer, with ``secret`` redacted (:func:`redact`) from what is
    kept. Cut before redacting: an error body may be :data:`MAX_RESPONSE_BYTES` long, and only
    what is shown needs the work. A piece of the credential the cut leaves shorter than
    :data:`REDACT_MIN` at the end is left, as such a piece is anywhere."""
    if len(text) <= limit:
        return redact(text, secret)
    return f"{redact(text[:limit], secret)}… ({len(text) - limit} more characters)"


def redact(text: str, secret: str) -> str:
    """``text`` with every piece of ``secret`` in it replaced by ``****`` (runs of pieces,
    one ``****``): the one redaction rule of everything a server or a library says.

    A piece is ``secret`` itself, or any run of :data:`REDACT_MIN` or more of its characters
    (a prefix, a suffix, a middle; for a credential shorter than that, the whole of it only),
    matched without regard to case (a server that upper-cases what it echoes), and in any of
    these forms, each character on its own, so forms may mix: as is; percent-encoded (``%2F``
    or ``%2f``); as an HTML entity (``&#x2F;``, ``&#47;``, ``&sol;``); as a JSON or Python
    escape (``\\u002F``, ``\\x2f``, ``\\/``, and the ``\\\\``, ``\\'`` of a str's or bytes' repr).
    Escapes are decoded once: text encoded twice over is not recognised. What is replaced is
    the text as written, escapes and all. Errs on the side of redacting: a run of overlapping
    pieces is redacted whole.

    Text that cannot hold a piece in any form (the common case) is returned as it is after a
    few substring searches (:func:`_may_hold`); only text that may goes through the exact pass,
    which works character by character."""
    if not secret:
        return text
    size = min(REDACT_MIN, len(secret))
    wanted = secret.lower()
    pieces = {wanted[i : i + size] for i in range(len(wanted) - size + 1)}
    if wanted.isascii() and not _may_hold(text, pieces):
        return text
    hidden = [False] * len(text)
    for decoded, spans in (_lowered(text), _decoded(text)):
        for i in range(len(decoded) - size + 1):
            if decoded[i : i + size] in pieces:
                for start, end in spans[i : i + size]:
                    hidden[start:end] = [True] * (end - start)
    if not any(hidden):
        return text
    out: list[str] = []
    for i, char in enumerate(text):
        if not hidden[i]:
            out.append(char)
        elif i == 0 or not hidden[i - 1]:
            out.append("****")
    return "".join(out)


def _may_hold(text: str, pieces: set[str]) -> bool:
    """Whether a piece may be in ``text`` as :func:`redact` reads it (for ASCII pieces): in the
    text lower-cased, or, when it has a ``%``, ``&`` or ``\\`` that may start an escape, in
    the text with its escapes decoded and lower-cased. Lower-casing the whole text finds every
    match the exact pass finds (it lower-cases as :func:`_lower` does, but for characters that
    become several or a final sigma, none of which lower-case to ASCII), and may find more
    (then the exact pass decides). Substring searches run in C: no per-character work here."""
    lowered = text.lower()
    if any(piece in lowered for piece in pieces):
        return True
    if "%" not in text and "&" not in text and "\\" not in text:
        return False  # no escape, so the decoded text is the text
    decoded = _ESCAPE.sub(lambda m: _unescape(m.group()), text).lower()
    return any(piece in decoded for piece in pieces)


def _lowered(text: str) -> tuple[str, list[tuple[int, int]]]:
    """``text`` lower-cased character by character, and the span each character came from."""
    chars = [_lower(c) for c in text]
    return "".join(chars), [(i, i + 1) for i in range(len(text))]


def _decoded(text: str) -> tuple[str, list[tuple[int, int]]]:
    """``text`` with each escape of :data:`_ESCAPE` decoded and lower-cased, and the span of
    ``text`` each character came from."""
    chars: list[str] = []
    spans: list[tuple[int, int]] = []
    at = 0
    for m in _ESCAPE.finditer(text):
        for i in range(at, m.start()):
            chars.append(_lower(text[i]))
            spans.append((i, i + 1))
        chars.append(_lower(_unescape(m.group())))
        spans.append((m.start(), m.end()))
        at = m.end()
    for i in range(at, len(text)):
        chars.append(_lower(text[i]))
        spans.append((i, i + 1))
    return "".join(chars), spans


def _unescape(escape: str) -> str:
    """The character one escape of :data:`_ESCAPE` stands for (``\\0`` for one that stands
    for none, or for several: it matches no credential's character)."""
    if escape[0] == "%":
        return chr(int(escape[1:], 16))
    if escape[0] == "&":
        char = html.unescape(escape)
        return char if len(char) == 1 and char != escape else "\0"
    if escape[1] in "uUx":
        code = int(escape[2:], 16)
        return chr(code) if code <= 0x10FFFF else "\0"
    return escape[1]


def _lower(char: str) -> str:
    """``char`` lower-cased, when that keeps it one character (as it does for ASCII)."""
    low = char.lower()
    return low if len(low) == 1 else char


def _strip_op(error: RemoteError) -> str:
    text = str(error)
    prefix = f"{error.operation}: "
    return text[len(prefix) :] if error.operation and text.startswith(prefix) else text


def _parse_json(raw: bytes) -> tuple[Any, str]:
    """Parsed body (``None`` when empty) and an error description ('' when fine). Nesting
    deeper than :data:`MAX_JSON_DEPTH` is an error, however the parser copes with it."""
    if not raw.strip():
        return None, ""
    try:
        data = jsonlib.loads(raw)
    except RecursionError:
        return None, f"nested deeper than {MAX_JSON_DEPTH} levels"
    except (ValueError, UnicodeDecodeError) as exc:
        return None, f"{type(exc).__name__} at byte {getattr(exc, 'pos', '?')}"
    if _too_deep(data, MAX_JSON_DEPTH):
        return None, f"nested deeper than {MAX_JSON_DEPTH} levels"
    return data, ""


def _too_deep(data: Any, limit: int) -> bool:
    """Whether the arrays/objects of parsed JSON nest more than ``limit`` levels. Level by
    level, without recursion; about as fast as parsing was (plain ``dict``/``list`` only, which
    is all :func:`json.loads` makes)."""
    level = [data] if type(data) is dict or type(data) is list else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return True
        below: list[Any] = []
        for value in level:
            below += [
                c
                for c in (value.values() if type(value) is dict else value)
                if type(c) is dict or type(c) is list
            ]
        level = below
    return False


def _parsed(base_url: str) -> httpx.URL:
    """``base_url`` parsed; :class:`ConfigError` for one that is not a URL (a bad port, an
    unresolved ``${env:...}`` in it), before anything is sent. The message names the problem,
    not the URL (a user name or password is refused before this, but say less anyway)."""
    try:
        return httpx.URL(base_url)
    except httpx.InvalidURL as exc:
        raise ConfigError(f"the API URL is not a valid URL ({exc}); nothing was sent") from exc


def _check_secure(url: httpx.URL) -> None:
    """Refuse a base URL over which the token would travel in clear text, or that carries a
    user name or password (nothing is sent; the credentials are not repeated)."""
    if url.userinfo:
        raise InsecureTransportError(
            f"refusing an API URL with a user name or password in it ({url.scheme}://…@"
            f"{url.host}): the token goes only in its environment variable"
        )
    scheme = url.scheme.lower()
    if scheme == "https":
        return
    if scheme == "http" and is_loopback_host(url.host):
        return
    raise InsecureTransportError(
        f"refusing to send credentials to {scheme}://{url.host}: use https "
        "(plain http is allowed only for loopback hosts such as localhost)"
    )


def _check_path(path: str) -> None:
    """Paths are relative to the base URL; anything that could leave it is a programming error."""
    if (
        not path.startswith("/")
        or path.startswith("//")
        or "://" in path
        or ".." in path.split("/")
    ):
        raise ValueError(f"invalid API path {path!r}")
