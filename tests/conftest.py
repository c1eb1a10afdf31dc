"""Shared fixtures: the Hood + Falconyte emulator over a real loopback socket, and a fake clock.

``emulator``       default config (documented limits, no faults), fresh file db, server started.
``make_emulator``  ``make_emulator(db_path=None, clock=..., sleep=..., **config_overrides)``;
                   every server it starts is shut down at teardown.
``fake_clock``     a :class:`FakeClock` (callable clock whose ``sleep`` advances it, no waiting;
                   the only fake clock: tests that need another start make ``FakeClock(start)``).

An :class:`EmulatorHandle` has ``url``, ``hood_url`` (``url + "/v1/hood"``), ``falconyte_url``,
``hood_token``, ``falconyte_key``, ``store``, ``app``, ``server``, plus ``hood_client()`` /
``falconyte_client()`` returning ``httpx.Client``\\ s with the base URL and credentials set
(closed at teardown).

Helpers importable with ``from conftest import ...``: ``FakeClock``, ``EmulatorHandle``,
``assert_hood_error`` and ``assert_falconyte_error`` (check the documented error bodies).
"""

from __future__ import annotations

import itertools
import signal
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import httpx
import pytest

from hoodsync.emulator.app import EmulatorApp, EmulatorConfig
from hoodsync.emulator.server import EmulatorServer
from hoodsync.emulator.store import Store

# One TLS context for every test client: building one per client costs ~30 ms (CA bundle load).
_SSL_CONTEXT = ssl.create_default_context()

#: 2026-01-01 00:00:00.250 UTC: a quarter of a second into a fresh second and minute window.
FAKE_EPOCH = 1_767_225_600.25


class FakeClock:
    """A settable, thread-safe clock, the one fake clock of the test suite. ``clock()`` (or
    ``.now``) reads it; ``advance(s)`` and ``sleep(s)`` move it forward, ``set(t)`` anywhere, and
    ``at_least(t)`` forward only (for simulations in which several actors move one clock).

    ``sleeps`` records every ``sleep`` call, so tests can assert injected latency without waiting.
    """

    def __init__(self, start: float = FAKE_EPOCH) -> None:
        self._now = start
        self._lock = threading.Lock()
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        with self._lock:
            return self._now

    @property
    def now(self) -> float:
        """The current reading (``clock()`` says the same)."""
        return self()

    @now.setter
    def now(self, when: float) -> None:
        self.set(when)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds

    def set(self, when: float) -> None:
        with self._lock:
            self._now = when

    def at_least(self, when: float) -> None:
        """Move to ``when`` unless the clock is already past it: never backwards."""
        with self._lock:
            self._now = max(self._now, when)

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self._now += seconds


@dataclass
class EmulatorHandle:
    """One running emulator (server + app + store) and how to reach it."""

    url: str
    hood_url: str
    falconyte_url: str
    hood_token: str = field(repr=False)
    falconyte_key: str = field(repr=False)
    store: Store = field(repr=False)
    app: EmulatorApp = field(repr=False)
    server: EmulatorServer = field(repr=False)
    _clients: list[httpx.Client] = field(default_factory=list, repr=False)
    _closed: bool = field(default=False, repr=False)

    def hood_client(
        self, token: str | None = None, *, authenticated: bool = True, **kwargs: Any
    ) -> httpx.Client:
        """An ``httpx.Client`` on ``hood_url``; bearer ``token`` (default: the account's own),
        or no ``Authorization`` header at all with ``authenticated=False``."""
        headers = {"Authorization": f"Bearer {token or self.hood_token}"} if authenticated else {}
        return self._client(self.hood_url, headers, kwargs)

    def falconyte_client(
        self, key: str | None = None, *, authenticated: bool = True, **kwargs: Any
    ) -> httpx.Client:
        """An ``httpx.Client`` on ``falconyte_url``; ``x-api-key`` ``key`` (default: the
        account's own), or none with ``authenticated=False``."""
        headers = {"x-api-key": key or self.falconyte_key} if authenticated else {}
        return self._client(self.falconyte_url, headers, kwargs)

    def _client(
        self, base_url: str, headers: dict[str, str], kwargs: dict[str, Any]
    ) -> httpx.Client:
        headers.update(kwargs.pop("headers", {}))
        kwargs.setdefault("timeout", 10)
        kwargs.setdefault("verify", _SSL_CONTEXT)
        kwargs.setdefault("base_url", base_url)
        client = httpx.Client(headers=headers, **kwargs)
        self._clients.append(client)
        return client

    def close(self) -> None:
        """Close clients, stop the server, close the store (idempotent)."""
        if self._closed:
            return
        self._closed = True
        for client in self._clients:
            client.close()
        self.server.shutdown()
        self.store.close()


def ctrl_c_reaches_it() -> None:
    """``preexec_fn`` for a subprocess a test stops with SIGINT, as Ctrl-C at a terminal would:
    a shell without job control starts its background commands with SIGINT ignored, and the
    child would inherit that (a CI script run with ``&``, ``nohup`` under ``sh -c``), so the
    signal is given back its default in the child, where Python makes it KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def assert_hood_error(response: httpx.Response, status: int, fragment: str = "") -> dict[str, Any]:
    """Assert a documented Hood error: ``{code, title, message, trace_id}`` (no message on 500)."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == status
    assert isinstance(body["title"], str) and body["title"]
    uuid.UUID(body["trace_id"])
    if status == 500:
        assert "message" not in body
    else:
        assert fragment in body["message"], body["message"]
    return dict(body)


def assert_falconyte_error(
    response: httpx.Response, status: int, code: str, fragment: str = ""
) -> dict[str, Any]:
    """Assert a Falconyte error envelope ``{ok: false, error: {code, message}}``."""
    assert response.status_code == status, response.text
    payload = response.json()
    assert payload["ok"] is False
    assert payload["error"]["code"] == code
    assert fragment in payload["error"]["message"], payload["error"]["message"]
    return dict(payload)


_CONFIG_FIELDS = {f.name for f in fields(EmulatorConfig)}


@pytest.fixture
def make_emulator(tmp_path: Path) -> Iterator[Callable[..., EmulatorHandle]]:
    """Factory: ``make_emulator(db_path=None, clock=time.time, sleep=time.sleep, **config)``."""
    handles: list[EmulatorHandle] = []
    counter = itertools.count()

    def make(
        *,
        db_path: str | Path | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        **overrides: Any,
    ) -> EmulatorHandle:
        unknown = set(overrides) - _CONFIG_FIELDS
        if unknown:
            raise TypeError(f"unknown EmulatorConfig field(s): {sorted(unknown)}")
        path = db_path if db_path is not None else tmp_path / f"emulator-{next(counter)}.sqlite"
        store = Store.open(path)
        hood_token, falconyte_key = store.ensure_account("default")
        app = EmulatorApp(store, EmulatorConfig(**overrides), clock=clock, sleep=sleep)
        server = EmulatorServer(app)
        server.start()
        handle = EmulatorHandle(
            url=server.url,
            hood_url=server.url + "/v1/hood",
            falconyte_url=server.url + "/public/v1",
            hood_token=hood_token,
            falconyte_key=falconyte_key,
            store=store,
            app=app,
            server=server,
        )
        handles.append(handle)
        return handle

    yield make
    for handle in handles:
        handle.close()


@pytest.fixture
def emulator(make_emulator: Callable[..., EmulatorHandle]) -> EmulatorHandle:
    """An emulator with the default config (documented limits, no faults) and a fresh db."""
    return make_emulator()


@pytest.fixture
def fake_clock() -> FakeClock:
    """A fresh :class:`FakeClock` at 2026-01-01 00:00:00.25 UTC."""
    return FakeClock()


@pytest.fixture(autouse=True)
def _private_lock_dir(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each test takes apply locks in a folder of its own, never in the user's state folder."""
    monkeypatch.setenv("HOODSYNC_LOCK_DIR", str(tmp_path_factory.mktemp("locks")))
