"""Serving the emulator over a real socket: a threaded ``wsgiref`` server on 127.0.0.1.

One thread per connection (``socketserver.ThreadingMixIn``); connections are HTTP/1.0 style (one
request each). When the app raises :class:`DropConnection`, the handler closes the socket without
writing anything, which a client sees as "server disconnected without sending a response".
Access logging goes to ``logging`` at debug level, never to stderr. Request threads are daemon
threads: stopping the server does not wait for requests still in flight.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import socket
import socketserver
import sys
import threading
from collections.abc import Callable
from typing import IO, Any, cast
from wsgiref.simple_server import ServerHandler, WSGIRequestHandler, WSGIServer

from hoodsync.emulator.app import DropConnection, EmulatorApp, EmulatorConfig
from hoodsync.emulator.store import Store

__all__ = ["EmulatorServer", "run"]

logger = logging.getLogger(__name__)


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
    """One connection: parse, run the app, and drop the socket when the app says so."""

    def handle(self) -> None:
        self.raw_requestline = self.rfile.readline(65537)
        if len(self.raw_requestline) > 65536:
            self.requestline = ""
            self.request_version = ""
            self.command = ""
            self.send_error(414)
            return
        if not self.parse_request():
            return
        handler = _Handler(
            self.rfile,
            cast(IO[bytes], self.wfile),
            self.get_stderr(),
            self.get_environ(),
            multithread=True,
        )
        handler.request_handler = self  # type: ignore[attr-defined]
        try:
            handler.run(self.server.get_app())  # type: ignore[attr-defined]
        except DropConnection:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base-class signature
        logger.debug("%s - " + format, self.address_string(), *args)


class _ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # 8+ concurrent clients must not overflow the accept backlog

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
