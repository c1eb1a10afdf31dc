"""`HOODSYNC_LOG` shows what the README says each level shows, and nothing reaches stderr when
logging is off (issue 15 §6). hoodsync runs in a subprocess (logging is configured once per
process) against the emulator over loopback."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import EmulatorHandle
from test_cli_plan import FAST, FAST_YAML, campaign_yaml, write


def _plan(
    root: Path, emulator: EmulatorHandle, level: str | None
) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("HOOD_", "FALCONYTE_", "HOODSYNC_LOG"))
    }
    env.update(HOOD_API_URL=emulator.hood_url, HOOD_API_TOKEN=emulator.hood_token)
    if level is not None:
        env["HOODSYNC_LOG"] = level
    return subprocess.run(
        [sys.executable, "-m", "hoodsync", "plan"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    (root / "hoodsync.yaml").write_text(FAST_YAML % {"max_removals": 10})
    write(root, "c/one.yaml", campaign_yaml("one", "One"))
    return root


def test_nothing_reaches_stderr_when_logging_is_off_or_nothing_went_wrong(
    repo: Path,
    make_emulator: Callable[..., EmulatorHandle],
) -> None:
    emulator = make_emulator(**FAST)
    for level in (None, "", "warning", "info"):
        done = _plan(repo, emulator, level)
        assert done.returncode == 0, done.stderr
        assert done.stderr == "", level
        assert '+ campaign "one"' in done.stdout


def test_info_shows_retried_requests_and_debug_every_request(
    repo: Path,
    make_emulator: Callable[..., EmulatorHandle],
) -> None:
    # Seeded: the first request is answered 500 (not executed), the retry succeeds.
    failing = make_emulator(**FAST, fail_rate=0.5, seed=1)
    info = _plan(repo, failing, "info")
    assert info.returncode == 0, info.stderr
    lines = info.stderr.splitlines()
    assert any(
        " INFO hoodsync.remote.transport: GET /campaigns -> 500 (attempt 1," in line
        for line in lines
    ), info.stderr
    assert not any(" DEBUG " in line for line in lines)
    debug = _plan(repo, make_emulator(**FAST), "debug")
    assert any(
        " DEBUG hoodsync.remote.transport: GET /campaigns -> 200 (attempt 1," in line
        for line in debug.stderr.splitlines()
    ), debug.stderr
    assert failing.hood_token not in info.stderr + debug.stderr
