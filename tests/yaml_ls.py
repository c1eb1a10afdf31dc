"""A small Language Server Protocol client for yaml-language-server, over stdio (JSON-RPC).

Used by tests/test_editors.py to see definition files the way an editor does: start the real
server (npm package ``yaml-language-server``) with node, open documents, collect the diagnostics
it publishes. Settings keep it offline: no JSON Schema Store, no Kubernetes CRD store; schemas are
read from ``file:`` paths only.

The server is looked up, never downloaded: in ``$HOODSYNC_NODE_TOOLS`` (an npm ``--prefix``
folder), else in ``.ci/tools`` (where ``.ci/run`` installs :data:`SERVER_VERSION`). Every wait is
bounded by a timeout.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import subprocess
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: The version .ci/run installs (keep the two in step).
SERVER_VERSION = "1.25.0"
INSTALL_HINT = f"yaml-language-server@{SERVER_VERSION}: npm ci --prefix .ci/tools, as .ci/run does"

#: Editor settings: validate, and resolve schemas only from the modelines (file paths).
SETTINGS: Mapping[str, Any] = {
    "yaml": {
        "validate": True,
        "hover": False,
        "completion": False,
        "format": {"enable": False},
        "schemas": {},
        "schemaStore": {"enable": False, "url": ""},
        "kubernetesCRDStore": {"enable": False},
    },
    "http": {"proxy": "", "proxyStrictSSL": True},
    "[yaml]": {},
    "editor": {},
}

Diagnostic = dict[str, Any]


def tools_prefix() -> Path:
    """The npm prefix the server is looked up in."""
    return Path(os.environ.get("HOODSYNC_NODE_TOOLS") or ROOT / ".ci" / "tools")


def find_server() -> tuple[list[str], str]:
    """``(command, "")`` to start the server over stdio, or ``([], reason)`` when node or the
    package is missing."""
    node = shutil.which("node")
    if node is None:
        return [], f"node is not installed, so yaml-language-server cannot run ({INSTALL_HINT})"
    package = tools_prefix() / "node_modules" / "yaml-language-server"
    script = package / "bin" / "yaml-language-server"
    if not script.is_file():
        return [], f"yaml-language-server is not installed in {tools_prefix()} ({INSTALL_HINT})"
    return [node, str(script), "--stdio"], ""


@contextlib.contextmanager
def language_server(root: Path) -> Iterator[YamlLanguageServer]:
    """A started server for the workspace ``root``; skips the test, saying what is missing, when
    node or the package is absent — or fails it when ``HOODSYNC_REQUIRE_YAML_LANGUAGE_SERVER=1``
    (set by .ci/run after installing it, so a broken install cannot pass as a skip)."""
    command, missing = find_server()
    if missing:
        if os.environ.get("HOODSYNC_REQUIRE_YAML_LANGUAGE_SERVER") == "1":
            pytest.fail(missing)
        pytest.skip(missing)
    with YamlLanguageServer(command, root) as server:
        yield server


class LanguageServerError(AssertionError):
    """The server did not answer in time, died, or answered an error."""


class YamlLanguageServer:
    """One server process. Use as a context manager; :meth:`diagnostics` is the whole API."""

    def __init__(self, command: Sequence[str], root: Path, timeout: float = 30.0) -> None:
        self._timeout = timeout
        self._root = root
        self._proc = subprocess.Popen(
            list(command),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert self._proc.stdin and self._proc.stdout and self._proc.stderr
        self._stdin: IO[bytes] = self._proc.stdin
        self._next_id = 0
        self._responses: dict[int, queue.Queue[dict[str, Any]]] = {}
        self._published: dict[str, list[Diagnostic]] = {}
        self._lock = threading.Condition()
        # The reader thread answers the server's requests while the test thread sends: one
        # message at a time on the pipe.
        self._send_lock = threading.Lock()
        self._configured = threading.Event()
        self._stderr: list[bytes] = []
        threading.Thread(target=self._read, args=(self._proc.stdout,), daemon=True).start()
        threading.Thread(target=self._drain, args=(self._proc.stderr,), daemon=True).start()

    # -- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> YamlLanguageServer:
        try:
            self._request(
                "initialize",
                {
                    "processId": os.getpid(),
                    "rootUri": self._root.as_uri(),
                    "workspaceFolders": [{"uri": self._root.as_uri(), "name": self._root.name}],
                    "capabilities": {
                        "workspace": {"configuration": True, "workspaceFolders": True},
                        "textDocument": {"publishDiagnostics": {"relatedInformation": False}},
                    },
                },
            )
            self._notify("initialized", {})
            # The server pulls its settings after `initialized`; documents opened before they
            # arrive would be validated with the defaults (JSON Schema Store on).
            if not self._configured.wait(self._timeout):
                raise self._error("the server never asked for its settings")
        except BaseException:
            self._stop()
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if self._proc.poll() is None:
                self._request("shutdown", None)
                self._notify("exit", None)
                self._proc.wait(self._timeout)
        except (LanguageServerError, OSError, subprocess.TimeoutExpired):
            pass
        finally:
            self._stop()

    def _stop(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait(self._timeout)
        for stream in (self._proc.stdin, self._proc.stdout, self._proc.stderr):
            if stream is not None:
                stream.close()

    # -- documents ---------------------------------------------------------------------------

    def diagnostics(self, documents: Iterable[tuple[Path, str]]) -> dict[Path, list[Diagnostic]]:
        """Open every ``(path, text)`` (the file need not exist: ``text`` is what the editor
        holds, ``path`` where it sits, which is what relative ``$schema`` paths resolve against),
        wait for the diagnostics published for each, close them, and return them by path."""
        opened = {path.resolve().as_uri(): (path, text) for path, text in documents}
        with self._lock:
            for uri in opened:
                self._published.pop(uri, None)
        for uri, (_path, text) in opened.items():
            self._notify(
                "textDocument/didOpen",
                {
                    "textDocument": {
                        "uri": uri,
                        "languageId": "yaml",
                        "version": 1,
                        "text": text,
                    }
                },
            )
        with self._lock:
            done = self._lock.wait_for(
                lambda: all(u in self._published for u in opened) or self._proc.poll() is not None,
                self._timeout,
            )
            result = {opened[u][0]: self._published.get(u, []) for u in opened}
            missing = [str(opened[u][0]) for u in opened if u not in self._published]
        if not done or missing:
            raise self._error(f"no diagnostics published for {', '.join(missing)}")
        for uri in opened:
            self._notify("textDocument/didClose", {"textDocument": {"uri": uri}})
        return result

    # -- JSON-RPC ----------------------------------------------------------------------------

    def _send(self, message: Mapping[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode("utf-8")
        try:
            with self._send_lock:
                self._stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
                self._stdin.flush()
        except (OSError, ValueError) as exc:  # ValueError: the pipe is already closed
            raise self._error(f"cannot write to the server: {exc}") from exc

    def _notify(self, method: str, params: Any) -> None:
        self._send({"method": method, "params": params})

    def _request(self, method: str, params: Any) -> Any:
        with self._lock:
            self._next_id += 1
            ident = self._next_id
            answer: queue.Queue[dict[str, Any]] = queue.Queue()
            self._responses[ident] = answer
        self._send({"id": ident, "method": method, "params": params})
        try:
            reply = answer.get(timeout=self._timeout)
        except queue.Empty:
            raise self._error(f"no answer to {method} within {self._timeout:g} s") from None
        if "error" in reply:
            raise self._error(f"{method} failed: {reply['error']}")
        return reply.get("result")

    def _answer(self, message: Mapping[str, Any]) -> None:
        """Requests from the server: its settings, and capability registrations (accepted)."""
        result: Any = None
        if message["method"] == "workspace/configuration":
            items = message["params"]["items"]
            result = [SETTINGS.get(item.get("section", ""), {}) for item in items]
        self._send({"id": message["id"], "result": result})
        if message["method"] == "workspace/configuration":
            self._configured.set()

    def _handle(self, message: dict[str, Any]) -> None:
        if "method" in message and "id" in message:
            self._answer(message)
        elif message.get("method") == "textDocument/publishDiagnostics":
            with self._lock:
                self._published[message["params"]["uri"]] = message["params"]["diagnostics"]
                self._lock.notify_all()
        elif "id" in message:
            with self._lock:
                waiting = self._responses.pop(message["id"], None)
            if waiting is not None:
                waiting.put(message)

    def _read(self, stream: IO[bytes]) -> None:
        try:
            while True:
                length = None
                while (line := stream.readline()) not in (b"\r\n", b""):
                    name, _, value = line.decode("ascii").partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                if not line or length is None:
                    break
                self._handle(json.loads(stream.read(length)))
        except (OSError, ValueError):
            pass
        finally:
            with self._lock:
                self._lock.notify_all()

    def _drain(self, stream: IO[bytes]) -> None:
        try:
            for chunk in iter(lambda: stream.read(4096), b""):
                self._stderr.append(chunk)
        except (OSError, ValueError):
            pass

    def _error(self, what: str) -> LanguageServerError:
        tail = b"".join(self._stderr).decode("utf-8", "replace")[-2000:]
        shown = f"\nstderr:\n{tail}" if tail else ""
        return LanguageServerError(f"yaml-language-server: {what}{shown}")
