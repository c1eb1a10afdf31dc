"""`hoodsync emulator` as users run it: subprocess, banner, curl, concurrent clients, Ctrl-C."""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from conftest import ctrl_c_reaches_it

BANNER = re.compile(
    r"Emulator listening on (?P<url>http://127\.0\.0\.1:\d+) — Hood: (?P=url)/v1/hood, "
    r"Falconyte: (?P=url)/public/v1; token (?P<token>\S+), key (?P<key>[^\s,]+)"
)


class Running:
    """A ``hoodsync emulator`` subprocess and what its banner said."""

    def __init__(self, proc: subprocess.Popen[str], url: str, token: str, key: str) -> None:
        self.proc, self.url, self.token, self.key = proc, url, token, key

    def stop(self) -> tuple[int, str, str]:
        """Ctrl-C, then ``(exit code, rest of stdout, stderr)``."""
        self.proc.send_signal(signal.SIGINT)
        out, err = self.proc.communicate(timeout=10)
        return self.proc.returncode, out, err


@pytest.fixture
def start_cli() -> Iterator[Callable[..., Running]]:
    procs: list[subprocess.Popen[str]] = []

    def start(*args: str) -> Running:
        proc = subprocess.Popen(
            [sys.executable, "-m", "hoodsync", "emulator", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=ctrl_c_reaches_it,
        )
        procs.append(proc)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = BANNER.search(line)
        assert match, line + (proc.stderr.read() if proc.poll() is not None and proc.stderr else "")
        return Running(proc, match["url"], match["token"], match["key"])

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_cli_serves_answers_curl_survives_concurrency_and_stops_cleanly(
    start_cli: Callable[..., Running], tmp_path: Path
) -> None:
    db = tmp_path / "emu.sqlite"
    limits = ("--rate-burst", "100000", "--rate-minute", "1000000")
    run = start_cli("--db", str(db), *limits)
    auth = {"Authorization": f"Bearer {run.token}"}

    curl = shutil.which("curl")
    if curl:  # the way the issue describes it; httpx below checks the same without curl
        out = subprocess.run(
            [
                curl,
                "-s",
                "-H",
                f"Authorization: Bearer {run.token}",
                run.url + "/v1/hood/campaigns",
            ],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
        assert json.loads(out) == {"items": [], "total": 0}
    assert httpx.get(run.url + "/v1/hood/campaigns", headers=auth).status_code == 200
    assert httpx.get(run.url + "/v1/hood/campaigns").status_code == 401

    created: list[str] = []
    lock = threading.Lock()

    def client(n: int) -> None:
        with httpx.Client(base_url=run.url + "/v1/hood", headers=auth, timeout=30) as c:
            for i in range(25):
                body = {"name": f"c{n}-{i}", "messages": [{"name": "m", "channel": "push"}]}
                response = c.post("/campaigns", json=body)
                assert response.status_code == 201
                with lock:
                    created.append(response.json()["id"])

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(created) == len(set(created)) == 200

    code, out, err = run.stop()
    assert code == 0, err
    assert "Emulator stopped." in out
    assert "Traceback" not in err

    again = start_cli("--db", str(db), *limits)
    assert again.token == run.token and again.key == run.key
    listed = httpx.get(
        again.url + "/v1/hood/campaigns", params={"page": "1,1"}, headers=auth
    ).json()
    assert listed["total"] == 200
    assert again.stop()[0] == 0


# ------------------------------------------------------------------------------ bad option values

#: Every numeric option with values outside its bounds (or not numbers at all).
BAD_VALUES = [
    ("--fail-rate", "2"),
    ("--fail-rate", "-0.1"),
    ("--fail-rate", "nan"),
    ("--fail-rate", "abc"),
    ("--drop-after-commit-rate", "1.5"),
    ("--drop-after-commit-rate", "-inf"),
    ("--rate-burst", "0"),
    ("--rate-burst", "-3"),
    ("--rate-burst", "ten"),
    ("--rate-minute", "0"),
    ("--rate-minute", "1.5"),
    ("--latency-ms", "-5"),
    ("--async-delay", "-1"),
    ("--max-concurrent", "0"),
    ("--page-max", "0"),
    ("--page-max", "-1"),
    ("--port", "99999"),
    ("--port", "-1"),
    ("--seed", "x"),
]


def _in_process(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    from hoodsync.cli import main

    with pytest.raises(SystemExit) as info:
        main(["emulator", *argv])
    out, err = capsys.readouterr()
    code = info.value.code
    return (code if isinstance(code, int) else 1), out, err


@pytest.mark.parametrize(("option", "value"), BAD_VALUES, ids=[" ".join(b) for b in BAD_VALUES])
def test_a_bad_option_value_is_one_error_line_and_exit_1(
    capsys: pytest.CaptureFixture[str],
    option: str,
    value: str,
) -> None:
    code, out, err = _in_process(capsys, "--port", "0", option, value)
    assert code == 1 and "listening" not in out
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith(f"error: {option}: ") and value.lstrip("-") in lines[0], err


#: Values that passed before and started a server that could not work (every request would wait
#: forever, or sleep() would overflow): run as users do, so a regression fails instead of hanging.
NON_FINITE = [
    ("--latency-ms", "nan"),
    ("--latency-ms", "inf"),
    ("--latency-ms", "1e9"),
    ("--async-delay", "inf"),
    ("--async-delay", "1e12"),
]


@pytest.mark.parametrize(("option", "value"), NON_FINITE, ids=[" ".join(b) for b in NON_FINITE])
def test_an_unbounded_wait_is_refused_before_the_server_starts(option: str, value: str) -> None:
    try:
        done = subprocess.run(
            [sys.executable, "-m", "hoodsync", "emulator", "--port", "0", option, value],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except subprocess.TimeoutExpired as exc:  # it started serving: the value got through
        pytest.fail(f"{option} {value} was accepted: {exc.stdout!r}")
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.splitlines() == [done.stderr.strip()], done.stderr
    assert done.stderr.startswith(f"error: {option}: "), done.stderr


def test_the_bounds_are_stated_in_help(capsys: pytest.CaptureFixture[str]) -> None:
    from hoodsync.cli import main

    with pytest.raises(SystemExit):
        main(["emulator", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for stated in ("0 to 1.", "0 to 600,000 ms", "0 to 3600", "(at least 1)"):
        assert stated in text, text


# ------------------------------------------------------------------------ server behaviours

#: The server-behaviour options with values outside their bounds (or not of their kind).
BAD_BEHAVIOUR_VALUES = [
    ("--rate-algorithm", "leaky"),
    ("--window-phase", "-1"),
    ("--window-phase", "61"),
    ("--window-phase", "nan"),
    ("--clock-offset", "-3601"),
    ("--clock-offset", "inf"),
    ("--bucket-second-refill", "0"),
    ("--bucket-minute-refill", "nan"),
    ("--bucket-minute-refill", "200000"),
    ("--jitter-min-ms", "-1"),
    ("--jitter-max-ms", "700000"),
    ("--background-rps", "-1"),
    ("--background-rps", "1001"),
    ("--background-rps", "x"),
]


@pytest.mark.parametrize(
    ("option", "value"), BAD_BEHAVIOUR_VALUES, ids=[" ".join(b) for b in BAD_BEHAVIOUR_VALUES]
)
def test_a_bad_behaviour_value_is_one_error_line_and_exit_1(
    capsys: pytest.CaptureFixture[str],
    option: str,
    value: str,
) -> None:
    code, out, err = _in_process(capsys, "--port", "0", option, value)
    assert code == 1 and "listening" not in out
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith(f"error: {option}: ") and value.lstrip("-") in lines[0], err


#: Options that are each fine but do not go together, and the option the error names.
BAD_COMBINATIONS = [
    (("--rate-algorithm", "sliding", "--window-phase", "0.37"), "--window-phase"),
    (("--bucket-minute-refill", "5"), "--bucket-minute-refill"),
    (("--rate-algorithm", "sliding", "--bucket-second-refill", "5"), "--bucket-second-refill"),
    (("--jitter-min-ms", "300", "--jitter-max-ms", "200"), "--jitter-min-ms"),
]


@pytest.mark.parametrize(
    ("args", "option"), BAD_COMBINATIONS, ids=[" ".join(a) for a, _ in BAD_COMBINATIONS]
)
def test_options_that_do_not_go_together_are_one_error_line(
    capsys: pytest.CaptureFixture[str],
    args: tuple[str, ...],
    option: str,
) -> None:
    code, out, err = _in_process(capsys, "--port", "0", *args)
    assert code == 1 and "listening" not in out
    assert err.splitlines() == [err.strip()] and err.startswith(f"error: {option}: "), err


def test_the_server_behaviours_run_from_the_command_line(start_cli: Callable[..., Running]) -> None:
    run = start_cli(
        "--rate-algorithm",
        "bucket",
        "--bucket-second-refill",
        "20",
        "--bucket-minute-refill",
        "5",
        "--clock-offset",
        "-0.6",
        "--jitter-min-ms",
        "1",
        "--jitter-max-ms",
        "2",
        "--no-rate-headers",
        "--background-rps",
        "3",
        "--seed",
        "1",
    )
    auth = {"Authorization": f"Bearer {run.token}"}
    answer = httpx.get(run.url + "/v1/hood/campaigns", headers=auth)
    assert answer.status_code == 200
    assert not [h for h in answer.headers if h.lower().startswith("x-ratelimit")]
    assert "date" in answer.headers
    code, _out, err = run.stop()
    assert code == 0 and "Traceback" not in err
    phased = start_cli("--window-phase", "23.37")
    assert (
        httpx.get(
            phased.url + "/v1/hood/campaigns", headers={"Authorization": f"Bearer {phased.token}"}
        ).status_code
        == 200
    )
    assert phased.stop()[0] == 0
