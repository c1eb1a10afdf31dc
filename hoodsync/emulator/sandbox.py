"""The embedded ``sandbox`` account: the emulator app in-process, behind httpx transports.

No socket is opened: requests go through ``httpx.WSGITransport`` straight into
:class:`EmulatorApp`, with state in a SQLite file (``.hoodsync/sandbox.sqlite`` by default). The
sandbox applies the documented limits (10 requests/s and 150/min per account, fixed windows), so
what works against it works against a real account. A create whose response the app drops (the
drop-after-commit fault) surfaces as ``httpx.RemoteProtocolError``, exactly as over a socket.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from hoodsync.emulator.app import DropConnection, EmulatorApp, EmulatorConfig
from hoodsync.emulator.store import Store
from hoodsync.statedir import make_folder

__all__ = ["SANDBOX_HOOD_URL", "SANDBOX_FALCONYTE_URL", "Sandbox", "open_sandbox"]

SANDBOX_HOOD_URL = "http://sandbox.localhost/v1/hood"
SANDBOX_FALCONYTE_URL = "http://sandbox.localhost/public/v1"


class _SandboxTransport(httpx.BaseTransport):
    """``httpx.WSGITransport`` that turns :class:`DropConnection` into a protocol error."""

    def __init__(self, app: EmulatorApp) -> None:
        self._inner = httpx.WSGITransport(app=app)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return self._inner.handle_request(request)
        except DropConnection as exc:
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            ) from exc

    def close(self) -> None:
        self._inner.close()


@dataclass
class Sandbox:
    """An open sandbox account. Credentials are left out of ``repr``."""

    hood_transport: httpx.BaseTransport
    falconyte_transport: httpx.BaseTransport
    hood_token: str = field(repr=False)
    falconyte_key: str = field(repr=False)
    store: Store | None = field(default=None, repr=False)

    def close(self) -> None:
        """Close the transports and the database."""
        self.hood_transport.close()
        self.falconyte_transport.close()
        if self.store is not None:
            self.store.close()
            self.store = None


def open_sandbox(
    db_path: str | Path = ".hoodsync/sandbox.sqlite",
    *,
    config: EmulatorConfig | None = None,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> Sandbox:
    """Open (creating the folder and database if needed) the sandbox account at ``db_path``.

    ``config`` defaults to the documented limits with no faults. The same file keeps the same
    credentials and objects across runs.
    """
    path = Path(db_path)
    if str(db_path) != ":memory:":
        make_folder(path.parent)
    store = Store.open(path if str(db_path) != ":memory:" else None)
    hood_token, falconyte_key = store.ensure_account("default")
    app = EmulatorApp(store, config or EmulatorConfig(), clock=clock, sleep=sleep)
    return Sandbox(
        hood_transport=_SandboxTransport(app),
        falconyte_transport=_SandboxTransport(app),
        hood_token=hood_token,
        falconyte_key=falconyte_key,
        store=store,
    )
