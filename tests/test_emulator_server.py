"""The threaded loopback server and ``run``: raw HTTP, dropped connections, Ctrl-C."""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from conftest import EmulatorHandle, ctrl_c_reaches_it

from hoodsync.emulator.app import EmulatorApp
from hoodsync.emulator.server import EmulatorServer
from hoodsync.emulator.store import Store

RUNNER = """
import json, sys
from hoodsync.emulator.app import EmulatorConfig
from hoodsync.emulator.server import run

def ready(url, token, key):
    print(json.dumps([url, token, key]), flush=True)

run(EmulatorConfig(), port=0, db=sys.argv[1], on_ready=ready)
print("stopped", flush=True)
"""


def raw_request(url: str, request: bytes) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def read_answer(sock: socket.socket) -> tuple[bytes, bytes]:
    """One answer from a kept-open connection: (head, body), the body by its Content-Length;
    (b"", b"") when the server closed the connection instead."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            assert data == b"", data
            return b"", b""
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(
        next(line for line in head.split(b"\r\n") if line.startswith(b"Content-Length:"))[15:]
    )
    while len(body) < length:
        body += sock.recv(65536)
    return head, body


def list_request(
    token: str, *, version: str = "HTTP/1.1", close: bool = False, kind: str = "campaigns"
) -> bytes:
    connection = "Connection: close\r\n" if close else ""
    return (
        f"GET /v1/hood/{kind} {version}\r\nHost: x\r\n"
        f"Authorization: Bearer {token}\r\n{connection}\r\n"
    ).encode()


def create_request(token: str, name: str) -> bytes:
    """A raw HTTP/1.1 request creating a push task named ``name``."""
    payload = json.dumps({"name": name}).encode()
    return (
        "POST /v1/hood/push-tasks HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
    ).encode() + payload


def test_raw_http_request_gets_a_json_answer(emulator: EmulatorHandle) -> None:
    answer = raw_request(emulator.url, list_request(emulator.hood_token, close=True))
    head, _, body = answer.partition(b"\r\n\r\n")  # and the server closed the connection
    assert head.startswith(b"HTTP/1.1 200")
    assert b"X-RateLimit-Remaining: 9" in head
    assert json.loads(body) == {"items": [], "total": 0}


def test_an_http_1_0_request_gets_an_http_1_0_answer_and_the_connection_closed(
    emulator: EmulatorHandle,
) -> None:
    answer = raw_request(emulator.url, list_request(emulator.hood_token, version="HTTP/1.0"))
    assert answer.startswith(b"HTTP/1.0 200") and answer.endswith(b'{"items":[],"total":0}')


def test_an_http_1_1_connection_is_kept_open_for_the_next_requests(
    emulator: EmulatorHandle,
) -> None:
    host, port = emulator.url.removeprefix("http://").split(":")
    create = create_request(emulator.hood_token, "kept-alive")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(create)
        head, body = read_answer(sock)
        assert head.startswith(b"HTTP/1.1 201")
        for remaining in (b"8", b"7"):  # the body was read whole: the next request parses
            sock.sendall(list_request(emulator.hood_token, kind="push-tasks"))
            head, body = read_answer(sock)
            assert head.startswith(b"HTTP/1.1 200")
            assert b"X-RateLimit-Remaining: " + remaining in head
            assert [t["name"] for t in json.loads(body)["items"]] == ["kept-alive"]
        sock.sendall(list_request(emulator.hood_token, close=True))
        assert read_answer(sock)[0].startswith(b"HTTP/1.1 200")
        assert sock.recv(1) == b""  # closed, as asked


def test_a_chunked_request_is_answered_and_its_connection_closed(
    emulator: EmulatorHandle,
) -> None:
    request = (
        "POST /v1/hood/push-tasks HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {emulator.hood_token}\r\n"
        "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"
    ).encode()
    answer = raw_request(emulator.url, request)  # returns once the server closes
    assert answer.startswith(b"HTTP/1.1 4") and answer.count(b"HTTP/1.1") == 1


def test_stopping_the_server_closes_the_connections_kept_open() -> None:
    store = Store.open(None)
    token, _key = store.ensure_account("default")
    server = EmulatorServer(EmulatorApp(store))
    server.start()
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(list_request(token))
        assert read_answer(sock)[0].startswith(b"HTTP/1.1 200")
        server.shutdown()
        with contextlib.suppress(OSError):  # closed (b"") or reset: nothing more is answered
            sock.sendall(list_request(token))
            assert read_answer(sock) == (b"", b"")
    store.close()


def test_dropped_create_closes_the_socket_without_a_byte(
    make_emulator: Callable[..., EmulatorHandle],
) -> None:
    emu = make_emulator(drop_after_commit_rate=1.0)
    assert raw_request(emu.url, create_request(emu.hood_token, "t")) == b""
    assert emu.hood_client().get("/push-tasks").json()["total"] == 1


def test_oversized_body_is_refused_unread(emulator: EmulatorHandle) -> None:
    # In-process: over a socket, closing with the body unread may reset the connection first.
    transport = httpx.WSGITransport(app=emulator.app)
    with httpx.Client(transport=transport, base_url="http://emulator.localhost") as client:
        response = client.post("/v1/hood/campaigns", content=b"x" * (2 * 1024 * 1024 + 1))
    assert response.status_code == 413 and response.json()["code"] == 413


def test_server_binds_loopback_only(tmp_path: Path) -> None:
    store = Store.open(None)
    with pytest.raises(ValueError):
        EmulatorServer(EmulatorApp(store), host="0.0.0.0")
    server = EmulatorServer(EmulatorApp(store))
    assert server.url.startswith("http://127.0.0.1:") and server.port > 0
    server.shutdown()
    server.shutdown()  # idempotent
    store.close()


def test_run_serves_until_ctrl_c_and_keeps_state(tmp_path: Path) -> None:
    db = tmp_path / "emu.sqlite"
    tokens = []
    for round_ in range(2):
        proc = subprocess.Popen(
            [sys.executable, "-c", RUNNER, str(db)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=ctrl_c_reaches_it,
        )
        try:
            assert proc.stdout is not None
            url, token, key = json.loads(proc.stdout.readline())
            tokens.append((token, key))
            assert url.startswith("http://127.0.0.1:")
            auth = {"Authorization": f"Bearer {token}"}
            if round_ == 0:
                created = httpx.post(
                    url + "/v1/hood/push-tasks", headers=auth, json={"name": "kept"}
                )
                assert created.status_code == 201
            listed = httpx.get(url + "/v1/hood/push-tasks", headers=auth).json()
            assert [t["name"] for t in listed["items"]] == ["kept"]
            assert httpx.get(url + "/public/v1/ping", headers={"x-api-key": key}).json() == {
                "ok": True
            }
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode == 0, err
        assert out.strip() == "stopped"
        assert "Traceback" not in err
    assert tokens[0] == tokens[1]
