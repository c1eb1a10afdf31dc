"""The emulator's WSGI application: routing to the two APIs, auth, limits, faults, JSON errors.

Per request, in this order:

1. Network jitter, inbound (``jitter_min_ms``..``jitter_max_ms``, a seeded draw): the request
   reaches the server that much later, so it is counted that much later.
2. Pick the API by path prefix (``/v1/hood`` or ``/public/v1``); anything else is a 404.
3. Authenticate (Hood bearer token / Falconyte ``x-api-key``). A 401 is not counted by the
   rate limiter.
4. Concurrency gate (``max_concurrent`` per account and API): over it → 429 ``Retry-After: -1``,
   not executed, not counted.
5. Rate limiter (per account and API, see :mod:`.limits`): throttled → 429 with
   ``Retry-After``, not executed, not counted.
6. Added latency (``latency_ms``), for every request.
7. ``fail_rate``: answer 500 without executing.
8. Execute. A committed create may then be "lost" (``drop_after_commit_rate``): the app raises
   :class:`DropConnection`, which the server turns into closing the socket with no response and
   the sandbox transport into ``httpx.RemoteProtocolError``.
9. Network jitter, outbound: a second, independent draw before the answer leaves.

Hood's non-throttled answers carry ``X-RateLimit-Limit/Remaining/Reset`` (unless
``rate_headers`` is off); Falconyte's do not (its docs name no such headers).

Server behaviours beyond the documented contract, for testing clients against servers that keep
the contract differently (all off by default; see :class:`EmulatorConfig`): where Hood's fixed
windows start (``window_phase_s``), how far the server's clock is from the caller's
(``clock_offset_s``: the server runs on ``clock() + clock_offset_s`` — its windows, timestamps
and a ``Date`` header on every answer), the rate algorithm (``rate_algorithm``: fixed windows,
sliding-window log, token bucket), jitter, no rate headers, and a background client spending
Hood's budget (``background_rps``).
"""

from __future__ import annotations

import email.utils
import http
import logging
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qsl

from hoodsync.emulator.falconyte import FalconyteApi
from hoodsync.emulator.faults import Faults
from hoodsync.emulator.hood import HoodApi, hood_error
from hoodsync.emulator.limits import (
    ALGORITHMS,
    Algorithm,
    ConcurrencyGate,
    FixedWindowLimiter,
    RateLimiter,
    make_limiter,
)
from hoodsync.emulator.store import Store
from hoodsync.emulator.wire import Request, Response, dump_json

__all__ = [
    "EmulatorConfig",
    "EmulatorApp",
    "DropConnection",
    "MAX_BODY_BYTES",
    "make_hood_limiter",
]

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 2 * 1024 * 1024

StartResponse = Callable[..., Any]


class DropConnection(Exception):
    """Raised by the app after committing a create, to drop the connection."""


#: Bounds of the server behaviours: past them a setting is a typo, not a test.
MAX_CLOCK_OFFSET_S = 3600.0
MAX_JITTER_MS = 600_000.0
MAX_BACKGROUND_RPS = 1000.0
MAX_REFILL_PER_S = 100_000.0


@dataclass(frozen=True)
class EmulatorConfig:
    """Limits, faults and server behaviours of one emulator instance. Every fault and every
    behaviour beyond the documented contract is off by default."""

    rate_burst: int = 10  # Hood requests per 1 s, per account
    rate_minute: int = 150  # Hood requests per 60 s, per account
    falconyte_rate_burst: int = 10  # Falconyte limits are undocumented: configurable, same defaults
    falconyte_rate_minute: int = 150
    page_max: int = 100  # Hood list page size cap (M in page=N,M); larger M is silently capped
    latency_ms: float = 0.0  # added to every request (sleep, injected)
    fail_rate: float = 0.0  # share of requests answered 500 WITHOUT executing
    drop_after_commit_rate: float = 0.0  # share of creates committed, then connection closed
    async_delay_s: float = 0.0  # pause/resume/cancel take effect this long after the 204
    max_concurrent: int | None = None  # per account; over it -> 429 Retry-After: -1
    seed: int | None = None
    # -- server behaviours (Hood's rate limit unless said otherwise) --
    rate_algorithm: Algorithm = "fixed"  # "fixed" windows, "sliding" log, token "bucket"
    window_phase_s: float = 0.0  # fixed windows start this far past whole minutes (0 to 60)
    clock_offset_s: float = 0.0  # server clock minus ours (negative: behind); whole server
    bucket_second_refill: float | None = None  # tokens/s into the rate_burst bucket (rate_burst)
    bucket_minute_refill: float | None = None  # tokens/s into the rate_minute bucket (/60)
    jitter_min_ms: float = 0.0  # each way, per request: a seeded draw in [min, max]; both APIs
    jitter_max_ms: float = 0.0
    rate_headers: bool = True  # False: no X-RateLimit-* headers (429s keep Retry-After)
    background_rps: float = 0.0  # another client's requests per second on every Hood account

    def __post_init__(self) -> None:
        """Refuse settings that cannot work (``ValueError`` naming the field)."""
        for name in ("rate_burst", "rate_minute", "falconyte_rate_burst", "falconyte_rate_minute"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.page_max < 1:
            raise ValueError("page_max must be at least 1")
        for name in ("fail_rate", "drop_after_commit_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        if self.latency_ms < 0 or self.async_delay_s < 0:
            raise ValueError("latency_ms and async_delay_s must not be negative")
        if self.max_concurrent is not None and self.max_concurrent < 1:
            raise ValueError("max_concurrent must be at least 1 (or None for no limit)")
        self._check_behaviours()

    def _check_behaviours(self) -> None:
        if self.rate_algorithm not in ALGORITHMS:
            raise ValueError(f"rate_algorithm must be one of {', '.join(ALGORITHMS)}")
        _bounded("window_phase_s", self.window_phase_s, 0.0, 60.0)
        if self.window_phase_s % 60.0 and self.rate_algorithm != "fixed":
            raise ValueError("window_phase_s applies to the fixed-window algorithm only")
        _bounded("clock_offset_s", self.clock_offset_s, -MAX_CLOCK_OFFSET_S, MAX_CLOCK_OFFSET_S)
        for name in ("bucket_second_refill", "bucket_minute_refill"):
            value = getattr(self, name)
            if value is None:
                continue
            if self.rate_algorithm != "bucket":
                raise ValueError(f"{name} applies to the token-bucket algorithm only")
            _bounded(name, value, 0.0, MAX_REFILL_PER_S)
            if value <= 0:
                raise ValueError(f"{name} must be above 0")
        _bounded("jitter_min_ms", self.jitter_min_ms, 0.0, MAX_JITTER_MS)
        _bounded("jitter_max_ms", self.jitter_max_ms, 0.0, MAX_JITTER_MS)
        if self.jitter_min_ms > self.jitter_max_ms:
            raise ValueError("jitter_min_ms must not be larger than jitter_max_ms")
        _bounded("background_rps", self.background_rps, 0.0, MAX_BACKGROUND_RPS)


def _bounded(name: str, value: float, low: float, high: float) -> None:
    if not (math.isfinite(value) and low <= value <= high):
        raise ValueError(f"{name} must be a number from {low:g} to {high:g}")


def make_hood_limiter(config: EmulatorConfig, clock: Callable[[], float]) -> RateLimiter:
    """Hood's rate limiter as ``config`` sets it up, on the server's ``clock``."""
    return make_limiter(
        config.rate_algorithm,
        config.rate_burst,
        config.rate_minute,
        clock,
        phase=config.window_phase_s % 60.0,
        second_refill=config.bucket_second_refill,
        minute_refill=config.bucket_minute_refill,
        background_rps=config.background_rps,
    )


class _Api(Protocol):
    """What the app needs from each emulated API."""

    name: str
    prefix: str
    sends_rate_headers: bool

    def authenticate(self, request: Request) -> str | None: ...

    def failure(
        self, status: int, message: str, headers: list[tuple[str, str]] | None = None
    ) -> Response: ...

    def unauthorized(self) -> Response: ...

    def handle(self, request: Request, account: str) -> Response: ...


class _BodyTooLarge(Exception):
    pass


class EmulatorApp:
    """A WSGI callable serving the emulated Hood and Falconyte APIs from one :class:`Store`."""

    def __init__(
        self,
        store: Store,
        config: EmulatorConfig = EmulatorConfig(),
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """``clock`` (plus ``config.clock_offset_s``: the server's clock) drives timestamps, rate
        windows and async transitions; ``sleep`` latency and jitter."""
        self.store = store
        self.config = config
        offset = config.clock_offset_s
        self._clock: Callable[[], float] = (lambda: clock() + offset) if offset else clock
        self._apis: tuple[_Api, ...] = (
            HoodApi(
                store,
                page_max=config.page_max,
                async_delay_s=config.async_delay_s,
                clock=self._clock,
            ),
            FalconyteApi(store, clock=self._clock),
        )
        self._limiters: dict[str, RateLimiter] = {
            "hood": make_hood_limiter(config, self._clock),
            "falconyte": FixedWindowLimiter(
                config.falconyte_rate_burst, config.falconyte_rate_minute, self._clock
            ),
        }
        self._gate = ConcurrencyGate(config.max_concurrent)
        self._faults = Faults(
            latency_ms=config.latency_ms,
            fail_rate=config.fail_rate,
            drop_after_commit_rate=config.drop_after_commit_rate,
            jitter_ms=(config.jitter_min_ms, config.jitter_max_ms),
            seed=config.seed,
            sleep=sleep,
        )

    @property
    def hood_limiter(self) -> RateLimiter:
        """The Hood rate limiter (e.g. for its background client's counts)."""
        return self._limiters["hood"]

    def __repr__(self) -> str:
        return f"EmulatorApp({self.store!r}, {self.config!r})"

    # -- WSGI ------------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """Serve one request. Raises :class:`DropConnection` for a lost create response."""
        self._faults.jitter()  # on its way in
        try:
            request, api = self._read(environ)
        except _BodyTooLarge:
            response = hood_error(413, f"The request body is larger than {MAX_BODY_BYTES} bytes.")
        else:
            response = self._dispatch(request, api)
            logger.debug(
                "%s %s -> %d", request.method, environ.get("PATH_INFO", ""), response.status
            )
        if self.config.clock_offset_s:  # the server's own clock; else the HTTP server's Date
            response.headers.append(("Date", email.utils.formatdate(self._clock(), usegmt=True)))
        self._faults.jitter()  # on its way out
        return self._send(response, start_response)

    @staticmethod
    def _send(response: Response, start_response: StartResponse) -> list[bytes]:
        phrase = http.HTTPStatus(response.status).phrase
        headers = [("Content-Type", "application/json"), *response.headers]
        if response.body is None:
            start_response(f"{response.status} {phrase}", headers)
            return []
        payload = dump_json(response.body)
        headers.append(("Content-Length", str(len(payload))))
        start_response(f"{response.status} {phrase}", headers)
        return [payload]

    def _read(self, environ: dict[str, Any]) -> tuple[Request, _Api | None]:
        path = str(environ.get("PATH_INFO", "") or "/")
        api = next(
            (a for a in self._apis if path == a.prefix or path.startswith(a.prefix + "/")), None
        )
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > MAX_BODY_BYTES:
            raise _BodyTooLarge()
        body = environ["wsgi.input"].read(length) if length > 0 else b""
        headers = {
            key[5:].replace("_", "-").lower(): str(value)
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        query = tuple(parse_qsl(str(environ.get("QUERY_STRING", "")), keep_blank_values=True))
        sub_path = path[len(api.prefix) :] if api else path
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        return Request(method, sub_path or "/", query, headers, body), api

    # -- pipeline --------------------------------------------------------------------------------

    def _dispatch(self, request: Request, api: _Api | None) -> Response:
        if api is None:
            self._faults.delay()
            return hood_error(404, f"No such endpoint: {request.path}.")
        account = api.authenticate(request)
        if account is None:
            self._faults.delay()
            return api.unauthorized()
        key = (api.name, account)
        if not self._gate.try_enter(key):
            self._faults.delay()
            return api.failure(429, "Too many concurrent requests.", [("Retry-After", "-1")])
        try:
            return self._limited(request, api, account)
        finally:
            self._gate.leave(key)

    def _limited(self, request: Request, api: _Api, account: str) -> Response:
        decision = self._limiters[api.name].hit(account)
        self._faults.delay()
        if not decision.allowed:
            return api.failure(429, "Too many requests; retry later.", decision.headers())
        if self._faults.should_fail():
            response = api.failure(500, "Internal server error.")
        else:
            response = self._execute(request, api, account)
        if api.sends_rate_headers and self.config.rate_headers:
            response.headers.extend(decision.headers())
        if response.created and self._faults.should_drop():
            logger.debug("dropping the response to a committed create")
            raise DropConnection()
        return response

    @staticmethod
    def _execute(request: Request, api: _Api, account: str) -> Response:
        try:
            return api.handle(request, account)
        except Exception:  # any bug surfaces as a documented 500, never as a stack trace
            logger.exception("emulator failed on %s %s", request.method, request.path)
            return api.failure(500, "Internal server error.")
