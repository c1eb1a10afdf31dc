"""The threaded loopback server and ``run``: raw HTTP, dropped connections, Ctrl-C."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from conftest import EmulatorHandle

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


def test_raw_http_request_gets_a_json_answer(emulator: EmulatorHandle) -> None:
    request = (
        "GET /v1/hood/campaigns HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {emulator.hood_token}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    answer = raw_request(emulator.url, request)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 200")
    assert b"X-RateLimit-Remaining: 9" in head
    assert json.loads(body) == {"items": [], "total": 0}


def test_dropped_create_closes_the_socket_without_a_byte(
    make_emulator: Callable[..., EmulatorHandle],
) -> None:
    emu = make_emulator(drop_after_commit_rate=1.0)
    payload = json.dumps({"name": "t"}).encode()
    request = (
        "POST /v1/hood/push-tasks HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {emu.hood_token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
    ).encode() + payload
    assert raw_request(emu.url, request) == b""
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
