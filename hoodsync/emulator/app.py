"""The emulator's WSGI application: routing to the two APIs, auth, limits, faults, JSON errors.

Per request, in this order:

1. Pick the API by path prefix (``/v1/hood`` or ``/public/v1``); anything else is a 404.
2. Authenticate (Hood bearer token / Falconyte ``x-api-key``). A 401 is not counted by the
   rate limiter.
3. Concurrency gate (``max_concurrent`` per account and API): over it → 429 ``Retry-After: -1``,
   not executed, not counted.
4. Rate limiter (fixed 1 s and 60 s windows per account and API, see :mod:`.limits`): throttled →
   429 with ``Retry-After``, not executed, not counted.
5. Added latency (``latency_ms``), for every request.
6. ``fail_rate``: answer 500 without executing.
7. Execute. A committed create may then be "lost" (``drop_after_commit_rate``): the app raises
   :class:`DropConnection`, which the server turns into closing the socket with no response and
   the sandbox transport into ``httpx.RemoteProtocolError``.

Hood's non-throttled answers carry ``X-RateLimit-Limit/Remaining/Reset``; Falconyte's do not
(its docs name no such headers).
"""

from __future__ import annotations

import http
import logging
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Protocol
from urllib.parse import parse_qsl

from hoodsync.emulator.falconyte import FalconyteApi
from hoodsync.emulator.faults import Faults
from hoodsync.emulator.hood import HoodApi, hood_error
from hoodsync.emulator.limits import ConcurrencyGate, FixedWindowLimiter
from hoodsync.emulator.store import Store
from hoodsync.emulator.wire import Request, Response, dump_json

__all__ = ["EmulatorConfig", "EmulatorApp", "DropConnection", "MAX_BODY_BYTES"]

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 2 * 1024 * 1024

StartResponse = Callable[..., Any]


class DropConnection(Exception):
    """Raised by the app after committing a create, to drop the connection."""


@dataclass(frozen=True)
class EmulatorConfig:
    """Limits and faults of one emulator instance. Every fault is off by default."""

    rate_burst: int = 10  # Hood requests per fixed 1 s window, per account
    rate_minute: int = 150  # Hood requests per fixed 60 s window, per account
    falconyte_rate_burst: int = 10  # Falconyte limits are undocumented: configurable, same defaults
    falconyte_rate_minute: int = 150
    page_max: int = 100  # Hood list page size cap (M in page=N,M); larger M is silently capped
    latency_ms: float = 0.0  # added to every request (sleep, injected)
    fail_rate: float = 0.0  # share of requests answered 500 WITHOUT executing
    drop_after_commit_rate: float = 0.0  # share of creates committed, then connection closed
    async_delay_s: float = 0.0  # pause/resume/cancel take effect this long after the 204
    max_concurrent: int | None = None  # per account; over it -> 429 Retry-After: -1
    seed: int | None = None

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
        """``clock`` drives timestamps, rate windows and async transitions; ``sleep`` latency."""
        self.store = store
        self.config = config
        self._apis: tuple[_Api, ...] = (
            HoodApi(
                store,
                page_max=config.page_max,
                async_delay_s=config.async_delay_s,
                clock=clock,
            ),
            FalconyteApi(store, clock=clock),
        )
        self._limiters = {
            "hood": FixedWindowLimiter(config.rate_burst, config.rate_minute, clock),
            "falconyte": FixedWindowLimiter(
                config.falconyte_rate_burst, config.falconyte_rate_minute, clock
            ),
        }
        self._gate = ConcurrencyGate(config.max_concurrent)
        self._faults = Faults(
            latency_ms=config.latency_ms,
            fail_rate=config.fail_rate,
            drop_after_commit_rate=config.drop_after_commit_rate,
            seed=config.seed,
            sleep=sleep,
        )

    def __repr__(self) -> str:
        return f"EmulatorApp({self.store!r}, {self.config!r})"

    # -- WSGI ------------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """Serve one request. Raises :class:`DropConnection` for a lost create response."""
        try:
            request, api = self._read(environ)
        except _BodyTooLarge:
            response = hood_error(413, f"The request body is larger than {MAX_BODY_BYTES} bytes.")
            return self._send(response, start_response)
        response = self._dispatch(request, api)
        logger.debug("%s %s -> %d", request.method, environ.get("PATH_INFO", ""), response.status)
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
        if api.sends_rate_headers:
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
