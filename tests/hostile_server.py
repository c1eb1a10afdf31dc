"""A tiny HTTP/1.1 server on loopback that answers however a test tells it to: for server
behaviour the emulator cannot produce (trickled bytes, absurd rate-limit headers, list answers of
the wrong shape, endless paging, deeply nested JSON) — and a tiny recording "proxy".

``HostileServer(answer)`` calls ``answer(request)`` for every request; it returns a
:class:`Reply` (status, headers, body, and optionally a pause between bytes). Every request is
recorded (``requests``). Use it as a context manager; it serves on ``url``.
"""

from __future__ import annotations

import json
import socket
import socketserver
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    #: Seconds between two bytes of the whole answer (status line included); 0: all at once.
    trickle: float = 0.0
    #: Trickle only the body (headers at once).
    trickle_body_only: bool = False


def json_reply(
    data: Any, status: int = 200, headers: dict[str, str] | None = None, **kwargs: Any
) -> Reply:
    return Reply(
        status,
        json.dumps(data).encode(),
        {"Content-Type": "application/json", **(headers or {})},
        **kwargs,
    )


def _read_request(conn: socket.socket) -> Request | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])}
    length = int(headers.get("content-length", "0") or 0)
    while len(rest) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        rest += chunk
    parts = urlsplit(target)
    return Request(method, parts.path, dict(parse_qsl(parts.query)), headers, rest[:length])


class HostileServer:
    """See the module docstring."""

    def __init__(self, answer: Callable[[Request], Reply]) -> None:
        self.answer = answer
        self.requests: list[Request] = []
        self.stopped = threading.Event()
        outer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                conn: socket.socket = self.request
                while not outer.stopped.is_set():
                    request = _read_request(conn)
                    if request is None:
                        return
                    outer.requests.append(request)
                    if not outer._send(conn, outer.answer(request)):
                        return

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )

    def _send(self, conn: socket.socket, reply: Reply) -> bool:
        body = reply.body
        head = [f"HTTP/1.1 {reply.status} X"] + [f"{k}: {v}" for k, v in reply.headers.items()]
        head.append(f"Content-Length: {len(body)}")
        raw_head = ("\r\n".join(head) + "\r\n\r\n").encode()
        try:
            if not reply.trickle:
                conn.sendall(raw_head + body)
                return True
            slow = body if reply.trickle_body_only else raw_head + body
            if reply.trickle_body_only:
                conn.sendall(raw_head)
            for byte in slow:
                if self.stopped.wait(reply.trickle):
                    return False
                conn.sendall(bytes([byte]))
        except OSError:
            return False
        return True

    @property
    def writes(self) -> list[Request]:
        """Every request that could change something."""
        return [r for r in self.requests if r.method not in ("GET", "HEAD")]

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self._server.shutdown()
        self._server.server_close()


class RecordingProxy:
    """A loopback "proxy" that records what reaches it and refuses everything (502)."""

    def __init__(self) -> None:
        self.received: list[bytes] = []
        outer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                conn: socket.socket = self.request
                conn.settimeout(2.0)
                data = b""
                try:
                    while b"\r\n\r\n" not in data:
                        chunk = conn.recv(65536)
                        if not chunk:
                            break
                        data += chunk
                    outer.received.append(data)
                    conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                except OSError:
                    outer.received.append(data)

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )

    def __enter__(self) -> RecordingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def wait_until(predicate: Callable[[], bool], timeout: float = 2.0) -> bool:
    """Poll ``predicate`` (a server thread records asynchronously)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()
