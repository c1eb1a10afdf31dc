"""The network under :class:`~hoodsync.remote.transport.ApiTransport`: sockets with a total
deadline per request, and the one proxy rule.

**Deadline.** httpx's timeouts bound each socket operation, not a request: a server that sends
one byte every 20 s never trips a 30 s read timeout and can hold a request for hours. Every
socket operation here is given ``min(its own timeout, time left before the deadline)``, where the
deadline is set per request by :meth:`DeadlineBackend.deadline` in the thread that sends it
(httpx's synchronous client reads and writes in the calling thread). Past it, the operation
fails with a timeout that says the deadline passed — headers, body, TLS handshake and connect
alike.

**Proxies** (:func:`proxy_for`). The token must never reach a proxy in clear text, so:

* a proxy is used only for an ``https`` URL (through ``CONNECT``: the proxy sees the host name,
  never the request), from ``HTTPS_PROXY`` / ``ALL_PROXY`` (lower-case names first) unless
  ``NO_PROXY`` names the host;
* a loopback host is never proxied, and plain ``http`` (allowed only for loopback) never is;
* a proxy URL carrying a user name or password is refused, as are schemes other than
  ``http``/``https`` (SOCKS is not supported).

httpx's own proxy handling is switched off (``trust_env=False`` on the client); this module is
the only place proxies are chosen. Only public httpx / httpcore interfaces are used: the
transport adapter below is httpx's ``HTTPTransport`` reduced to what hoodsync needs, so that the
connection pool can be given the deadline-aware network backend.
"""

from __future__ import annotations

import contextlib
import ipaddress
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import httpcore
import httpx

from hoodsync.errors import ConfigError

__all__ = ["DeadlineBackend", "is_loopback_host", "network_transport", "proxy_for"]

#: Environment variables naming a proxy for https URLs, most specific first; for each, the
#: lower-case spelling wins over the upper-case one (as curl and urllib do).
_PROXY_VARS = ("https_proxy", "all_proxy")
_NO_PROXY_VAR = "no_proxy"


def is_loopback_host(host: str) -> bool:
    """True for ``localhost``, ``*.localhost``, 127.0.0.0/8 and ``::1``."""
    host = host.strip("[]").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# ---------------------------------------------------------------------------------- deadline


class DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's synchronous backend whose streams honour a per-thread deadline.

    ``clock`` is a real monotonic clock: the deadline is about real sockets, whatever clock the
    transport's retry logic was given.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._inner = httpcore.SyncBackend()
        self._clock = clock
        self._local = threading.local()

    @contextlib.contextmanager
    def deadline(self, seconds: float) -> Iterator[None]:
        """Every socket operation of this thread inside the block ends ``seconds`` from now."""
        previous = getattr(self._local, "until", None)
        self._local.until = self._clock() + seconds
        self._local.seconds = seconds
        try:
            yield
        finally:
            self._local.until = previous

    def bound(self, timeout: float | None, what: type[Exception]) -> float | None:
        """``timeout`` shortened to the time left; raises ``what`` once the deadline passed."""
        left = self._left()
        if left is None:
            return timeout
        if left <= 0:
            raise what(self._passed())
        return left if timeout is None else min(timeout, left)

    @contextlib.contextmanager
    def expiring(self, what: type[Exception]) -> Iterator[None]:
        """A timeout inside the block that came from the deadline (not from the operation's own
        timeout) is re-raised as ``what`` saying so."""
        try:
            yield
        except httpcore.TimeoutException as exc:
            left = self._left()
            if left is not None and left <= 0:
                raise what(self._passed()) from exc
            raise

    def _left(self) -> float | None:
        until: float | None = getattr(self._local, "until", None)
        return None if until is None else until - self._clock()

    def _passed(self) -> str:
        return f"the {self._local.seconds:g} s deadline for the whole request passed"

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        bounded = self.bound(timeout, httpcore.ConnectTimeout)
        with self.expiring(httpcore.ConnectTimeout):
            stream = self._inner.connect_tcp(host, port, bounded, local_address, socket_options)
        return _DeadlineStream(stream, self)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        bounded = self.bound(timeout, httpcore.ConnectTimeout)
        with self.expiring(httpcore.ConnectTimeout):
            stream = self._inner.connect_unix_socket(path, bounded, socket_options)
        return _DeadlineStream(stream, self)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _DeadlineStream(httpcore.NetworkStream):
    """A network stream whose every operation is bounded by the backend's deadline."""

    def __init__(self, inner: httpcore.NetworkStream, backend: DeadlineBackend) -> None:
        self._inner = inner
        self._backend = backend

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        bounded = self._backend.bound(timeout, httpcore.ReadTimeout)
        with self._backend.expiring(httpcore.ReadTimeout):
            return self._inner.read(max_bytes, bounded)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        bounded = self._backend.bound(timeout, httpcore.WriteTimeout)
        with self._backend.expiring(httpcore.WriteTimeout):
            self._inner.write(buffer, bounded)

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        bounded = self._backend.bound(timeout, httpcore.ConnectTimeout)
        with self._backend.expiring(httpcore.ConnectTimeout):
            inner = self._inner.start_tls(ssl_context, server_hostname, bounded)
        return _DeadlineStream(inner, self._backend)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


# ---------------------------------------------------------------------------------- transport

#: httpcore's exceptions and the httpx ones the transport layer catches (most specific first).
_EXCEPTIONS: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.ProxyError, httpx.ProxyError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


@contextlib.contextmanager
def _httpx_errors(request: httpx.Request) -> Iterator[None]:
    """Re-raise httpcore's exceptions as the matching httpx ones."""
    try:
        yield
    except Exception as exc:
        for core, mapped in _EXCEPTIONS:
            if isinstance(exc, core):
                raise mapped(str(exc), request=request) from exc
        raise


class _ResponseStream(httpx.SyncByteStream):
    def __init__(self, inner: Any, request: httpx.Request) -> None:
        self._inner = inner
        self._request = request

    def __iter__(self) -> Iterator[bytes]:
        with _httpx_errors(self._request):
            yield from self._inner

    def close(self) -> None:
        self._inner.close()


class _PoolTransport(httpx.BaseTransport):
    """An httpx transport over an httpcore pool (direct or through a proxy)."""

    def __init__(self, pool: httpcore.ConnectionPool) -> None:
        self._pool = pool

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.SyncByteStream)
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _httpx_errors(request):
            response = self._pool.handle_request(core_request)
        assert isinstance(response.stream, Iterable)
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_ResponseStream(response.stream, request),
            extensions=response.extensions,
        )

    def close(self) -> None:
        self._pool.close()


def network_transport(
    url: httpx.URL, env: Mapping[str, str], limits: httpx.Limits, backend: DeadlineBackend
) -> httpx.BaseTransport:
    """The transport for requests to ``url``'s host: TLS verified with the default CA bundle,
    no HTTP/2, through the proxy :func:`proxy_for` picks (if any), sockets from ``backend``."""
    ssl_context = httpx.create_ssl_context(verify=True)
    common: dict[str, Any] = {
        "ssl_context": ssl_context,
        "max_connections": limits.max_connections,
        "max_keepalive_connections": limits.max_keepalive_connections,
        "keepalive_expiry": limits.keepalive_expiry,
        "network_backend": backend,
    }
    proxy = proxy_for(url, env)
    if proxy is None:
        return _PoolTransport(httpcore.ConnectionPool(**common))
    pool = httpcore.HTTPProxy(
        proxy_url=httpcore.URL(
            scheme=proxy.raw_scheme, host=proxy.raw_host, port=proxy.port, target=b"/"
        ),
        **common,
    )
    return _PoolTransport(pool)


# ---------------------------------------------------------------------------------- proxies


def _env(env: Mapping[str, str], name: str) -> str:
    for spelling in (name, name.upper()):
        value = env.get(spelling, "").strip()
        if value:
            return value
    return ""


def proxy_for(url: httpx.URL, env: Mapping[str, str]) -> httpx.URL | None:
    """The proxy requests to ``url`` go through, or ``None`` (see the module docstring).

    Raises :class:`ConfigError`, naming the variable but never its value, for a proxy URL with a
    user name or password or with a scheme other than ``http``/``https``.
    """
    if url.scheme != "https" or is_loopback_host(url.host):
        return None
    for name in _PROXY_VARS:
        value = _env(env, name)
        if value:
            break
    else:
        return None
    if _bypassed(url, _env(env, _NO_PROXY_VAR)):
        return None
    variable = name.upper()
    proxy = httpx.URL(value if "://" in value else f"http://{value}")
    if proxy.userinfo:
        raise ConfigError(
            f"{variable}: a proxy URL with a user name or password is not supported "
            "(credentials in a URL end up in logs and process lists); nothing was sent"
        )
    if proxy.scheme not in ("http", "https") or not proxy.host:
        raise ConfigError(
            f"{variable}: only http:// and https:// proxies are supported "
            f"(got {proxy.scheme}://); nothing was sent"
        )
    return proxy


def _bypassed(url: httpx.URL, no_proxy: str) -> bool:
    """``NO_PROXY``: ``*``, host names (a leading ``.`` or ``*.`` allowed; sub-domains match),
    optionally with ``:port``, and IP addresses or networks."""
    host = url.host.lower().rstrip(".")
    for raw in no_proxy.split(","):
        entry = raw.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return True
        name, _, port = entry.rpartition(":") if entry.count(":") == 1 else (entry, "", "")
        if port and port.isdigit():
            if int(port) != (url.port or 443):
                continue
            entry = name
        entry = entry.removeprefix("*").lstrip(".").rstrip(".")
        if host == entry or host.endswith("." + entry) or _in_network(host, entry):
            return True
    return False


def _in_network(host: str, entry: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")) in ipaddress.ip_network(
            entry.strip("[]"), strict=False
        )
    except ValueError:
        return False
