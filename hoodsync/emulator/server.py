"""Serving the emulator over a real socket: a threaded ``wsgiref`` server on 127.0.0.1.

One thread per connection (``socketserver.ThreadingMixIn``). An HTTP/1.1 request is answered in
HTTP/1.1 and its connection kept open for the next request (keep-alive, as real servers do),
unless it says ``Connection: close``, its body cannot be read ahead (chunked, or over the app's
size cap: the app refuses it unread), or the connection stays idle for :data:`IDLE_TIMEOUT`
seconds; an HTTP/1.0 request gets an HTTP/1.0 answer and the connection is closed. Each answer
leaves in one write. When the app raises :class:`DropConnection`, the handler closes the socket
without writing anything, which a client sees as "server disconnected without sending a
response". Access logging goes to ``logging`` at debug level, never to stderr. Request threads
are daemon threads: stopping the server does not wait for requests still in flight, and it
closes the connections kept open.
"""

from __future__ import annotations

import contextlib
import errno
import io
import logging
import socket
import socketserver
import sys
import threading
from collections.abc import Callable
from typing import IO, Any, cast
from wsgiref.simple_server import ServerHandler, WSGIRequestHandler, WSGIServer

from hoodsync.emulator.app import MAX_BODY_BYTES, DropConnection, EmulatorApp, EmulatorConfig
from hoodsync.emulator.store import Store

__all__ = ["EmulatorServer", "run"]

logger = logging.getLogger(__name__)

#: Seconds a kept-open connection may wait for its next request (or one socket read or write
#: may take) before the server closes it. httpx gives up idle connections after 5 s.
IDLE_TIMEOUT = 30.0


class _Handler(ServerHandler):
    """wsgiref handler that lets :class:`DropConnection` through instead of answering 500."""

    def handle_error(self) -> None:
        if isinstance(sys.exc_info()[1], DropConnection):
            raise DropConnection()
        super().handle_error()

    def log_exception(self, exc_info: Any) -> None:
        logger.error("emulator request failed", exc_info=exc_info)

    def close(self) -> None:
        # A dropped connection never got a status line; wsgiref's ServerHandler.close would
        # fail logging it (status is None) and print a traceback. Skip the access log then.
        if getattr(self, "status", None) is None:
            super(ServerHandler, self).close()
        else:
            super().close()


class _RequestHandler(WSGIRequestHandler):
    """One connection: its requests one after another (parse, run the app, answer), until the
    client or :meth:`parse_request` closes it; drop the socket when the app says so."""

    protocol_version = "HTTP/1.1"  # keep-alive for HTTP/1.1 requests (parse_request decides)
    timeout = IDLE_TIMEOUT
    wbufsize = -1  # buffered: an answer leaves in one write, flushed once it is complete
    disable_nagle_algorithm = True  # and at once, not held back waiting for the last ACK

    def setup(self) -> None:
        super().setup()
        cast(_ThreadingServer, self.server).track(self.connection, open_=True)

    def finish(self) -> None:
        cast(_ThreadingServer, self.server).track(self.connection, open_=False)
        with contextlib.suppress(OSError):  # the client may already be gone
            super().finish()

    def handle(self) -> None:
        self.close_connection = True
        while True:
            try:
                self.raw_requestline = self.rfile.readline(65537)
            except OSError:  # idle past the timeout, reset, or closed by shutdown()
                return
            if not self.raw_requestline or not self._handle_one() or self.close_connection:
                return

    def handle_expect_100(self) -> bool:
        sent = super().handle_expect_100()
        self.wfile.flush()  # "100 Continue" must leave now: the client waits for it to send
        return sent

    def _handle_one(self) -> bool:
        """Answer one request; False when the connection must close at once."""
        if len(self.raw_requestline) > 65536:
            self.requestline = ""
            self.request_version = ""
            self.command = ""
            self.send_error(414)
            return False
        if not self.parse_request():
            return False
        environ = self.get_environ()
        body = self._read_body(environ)
        if body is None:
            self.close_connection = True  # what follows the request is not known to be unread
        handler = _Handler(
            self.rfile if body is None else body,
            cast(IO[bytes], self.wfile),
            self.get_stderr(),
            environ,
            multithread=True,
        )
        handler.http_version = "1.1" if self.request_version == "HTTP/1.1" else "1.0"
        handler.request_handler = self  # type: ignore[attr-defined]
        try:
            handler.run(self.server.get_app())  # type: ignore[attr-defined]
            self.wfile.flush()
        except DropConnection:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return False
        except OSError:  # the client went away mid-answer
            return False
        return True

    def _read_body(self, environ: dict[str, Any]) -> io.BytesIO | None:
        """The request body, read whole so that the next request on the connection starts
        where this one ends; ``None`` when it is not read here (chunked, a bad length, or over
        the app's cap: the app refuses it unread) or the client stopped sending it."""
        if environ.get("HTTP_TRANSFER_ENCODING"):
            return None
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return None
        if not 0 <= length <= MAX_BODY_BYTES:
            return None
        try:
            data = self.rfile.read(length) if length else b""
        except OSError:
            return None
        return io.BytesIO(data) if len(data) == length else None

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base-class signature
        logger.debug("%s - " + format, self.address_string(), *args)


class _ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # 8+ concurrent clients must not overflow the accept backlog

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def track(self, connection: socket.socket, *, open_: bool) -> None:
        """Note a connection as open (or closed again), for :meth:`close_connections`."""
        with self._connections_lock:
            if open_:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def close_connections(self) -> None:
        """End every connection still open (a kept-open one waits in a read): a stopped server
        answers nothing more, not even on a connection opened before it stopped."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host name (getfqdn), which can stall offline.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)
        self.setup_environ()


class EmulatorServer:
    """A threaded WSGI server for an :class:`EmulatorApp`, bound to loopback only."""

    def __init__(self, app: EmulatorApp, host: str = "127.0.0.1", port: int = 0) -> None:
        """Bind at once (``port=0`` picks a free port; see :attr:`url`). Loopback hosts only."""
        if host not in ("127.0.0.1", "localhost"):
            raise ValueError("the emulator only binds to loopback (127.0.0.1)")
        self.app = app
        self._server = _ThreadingServer(("127.0.0.1", port), _RequestHandler)
        self._server.set_app(app)
        self.port = int(self._server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"EmulatorServer({self.url})"

    def start(self) -> None:
        """Serve in a background daemon thread (for tests); returns at once."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.01},  # shutdown() waits up to one poll interval
            daemon=True,
            name=f"emulator-{self.port}",
        )
        self._thread.start()

    def serve_forever(self) -> None:
        """Serve in the calling thread until :meth:`shutdown` (or an exception such as Ctrl-C)."""
        self._server.serve_forever(poll_interval=0.2)

    def shutdown(self) -> None:
        """Stop serving and release the socket. Safe to call more than once."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()
        self._server.close_connections()


def run(
    config: EmulatorConfig,
    *,
    port: int,
    db: str | None,
    on_ready: Callable[[str, str, str], None],
) -> None:
    """Serve until KeyboardInterrupt; on_ready(base_url, hood_token, falconyte_key) is called once
    listening (the CLI prints the one-line banner from it). Returns cleanly on Ctrl-C.

    A port that cannot be bound (in use, out of range) raises :class:`OSError` whose
    ``filename`` is the address; a database that cannot be opened raises ``StoreError``."""
    store = Store.open(db)
    try:
        hood_token, falconyte_key = store.ensure_account("default")
        try:
            server = EmulatorServer(EmulatorApp(store, config), port=port)
        except OverflowError as exc:  # a port outside 0-65535
            raise OSError(errno.EINVAL, "port must be 0-65535", f"127.0.0.1:{port}") from exc
        except OSError as exc:
            # Name the address: a bare "[Errno 98] Address already in use" says not which.
            raise OSError(exc.errno, exc.strerror or str(exc), f"127.0.0.1:{port}") from exc
        try:
            on_ready(server.url, hood_token, falconyte_key)
            server.serve_forever()
        except KeyboardInterrupt:
            logger.info("emulator stopped")
        finally:
            server.shutdown()
    finally:
        store.close()
