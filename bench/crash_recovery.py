"""Crash recovery and fault convergence of ``hoodsync apply`` against a real emulator process.

``crash`` (default): for each trial, a fresh emulator server process (``python -m hoodsync
emulator --port 0 --db FILE`` with raised limits so a trial is quick), a repository of N campaign
definitions, and ``hoodsync apply --auto-approve`` as a subprocess killed with SIGKILL after a
random delay (measured from the moment the apply phase started writing its journal, so the kills
land while campaigns are being created; some land after the last create, which must be harmless
too). Then ``apply`` runs again to completion. Every trial must end with exactly N campaigns
remote, no name and no marker twice, and ``plan --detailed-exitcode`` exiting 0. When the kill
left creates unanswered, the re-run waits out the settle window before it plans (a server may
still commit them); ``--settle-window`` sets ``HOODSYNC_SETTLE_WINDOW`` for both runs (default:
hoodsync's own, 60 s), and each trial line says how long the re-run took.

``faults``: one apply of N campaigns against an emulator answering 10 % of requests with 500,
dropping 5 % of committed creates' answers and adding 200 ms to every request. It must either
converge (exit 0, N campaigns, none twice) or exit 1 with a result table that is exactly right
(every "applied" row exists remotely, every other row does not), after which one more apply
finishes the rest.

    python bench/crash_recovery.py                     # 20 trials of 100 campaigns
    python bench/crash_recovery.py crash --trials 3 --campaigns 20
    python bench/crash_recovery.py faults --campaigns 200

Not a test (tests/test_apply_crash.py runs a small crash version; tests/test_cli_apply.py a
small faults version). Exit status 0 when every trial held, 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

READY = re.compile(
    r"Emulator listening on (?P<url>http://\S+) .* token (?P<token>\S+), key (?P<key>\S+) "
)
CONFIG = """\
accounts:
  default:
    hood: {rate_limits: {per_second: %(rate)d, per_minute: %(minute)d}}
parallelism: %(parallelism)d
"""
CAMPAIGN = """\
kind: Campaign
key: bulk-%(i)03d
spec:
  name: Bulk campaign %(i)03d
  labels: [bulk, crash-test]
  scheduled_time: "2030-01-01 10:00:00"
  messages:
    - name: Hello
      channel: push
      push:
        title: {en: Hello number %(i)d}
        body: {en: One of many}
        landing_url: https://example.com/%(i)d
"""


@dataclass
class Emulator:
    """A running emulator server process and how to reach it."""

    process: subprocess.Popen[str]
    url: str
    token: str
    key: str
    #: More variables for the hoodsync processes (``HOODSYNC_SETTLE_WINDOW``).
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        """The environment a hoodsync process needs to use this emulator."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HOOD_", "FALCONYTE_"))}
        env.update(
            HOOD_API_URL=self.url + "/v1/hood",
            HOOD_API_TOKEN=self.token,
            FALCONYTE_API_URL=self.url + "/public/v1",
            FALCONYTE_API_KEY=self.key,
            NO_COLOR="1",
            **self.extra,
        )
        return env

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


def start_emulator(db: Path, *extra: str, rate: int = 1000, minute: int = 100_000) -> Emulator:
    """Start ``python -m hoodsync emulator`` on a free loopback port; wait for its ready line."""
    db.parent.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hoodsync",
            "emulator",
            "--port",
            "0",
            "--db",
            str(db),
            "--rate-burst",
            str(rate),
            "--rate-minute",
            str(minute),
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    match = READY.search(line)
    if match is None:
        process.kill()
        raise RuntimeError(f"the emulator did not start: {line!r}")
    return Emulator(process, match["url"], match["token"], match["key"])


def make_repo(
    root: Path, campaigns: int, *, parallelism: int = 4, rate: int = 1000, minute: int = 100_000
) -> None:
    """``root/hoodsync.yaml`` (client limits matching the emulator's) and N definitions."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "hoodsync.yaml").write_text(
        CONFIG % {"rate": rate, "minute": minute, "parallelism": parallelism}
    )
    folder = root / "campaigns"
    folder.mkdir(exist_ok=True)
    for i in range(campaigns):
        (folder / f"bulk-{i:03d}.yaml").write_text(CAMPAIGN % {"i": i})


def hoodsync(
    root: Path, emulator: Emulator, *argv: str, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m hoodsync ARGV`` in ``root`` to completion."""
    return subprocess.run(
        [sys.executable, "-m", "hoodsync", *argv],
        cwd=root,
        env=emulator.env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def remote_campaigns(emulator: Emulator) -> list[dict[str, Any]]:
    """Every campaign in the emulator's account (plain HTTP, pages of 100)."""
    out: list[dict[str, Any]] = []
    with httpx.Client(
        base_url=emulator.url + "/v1/hood",
        timeout=30,
        headers={"Authorization": f"Bearer {emulator.token}"},
    ) as client:
        page = 1
        while True:
            params = {"page": f"{page},100", "view": "full", "sort": "create_time"}
            for _ in range(20):  # the emulator's injected 500s hit this look at it too
                response = client.get("/campaigns", params=params)
                if response.status_code < 500:
                    break
            response.raise_for_status()
            items = response.json()["items"]
            out += items
            if len(items) < 100:
                return out
            page += 1


def duplicates(campaigns: Sequence[dict[str, Any]]) -> list[str]:
    """Names or markers that occur more than once."""
    names = Counter(c["name"] for c in campaigns)
    markers = Counter((c.get("metadata") or {}).get("hoodsync_key") for c in campaigns)
    return sorted(
        [n for n, k in names.items() if k > 1]
        + [f"marker {m}" for m, k in markers.items() if k > 1]
    )


def _journal_started(root: Path) -> bool:
    folder = root / ".hoodsync" / "journal"
    return folder.is_dir() and any(p.stat().st_size > 0 for p in folder.glob("*.jsonl"))


def kill_during_apply(
    root: Path, emulator: Emulator, delay: float, *argv: str
) -> tuple[float, int | None]:
    """Start ``apply --auto-approve``; SIGKILL it ``delay`` s after its journal appears (or
    earlier if it never gets there). Returns (seconds after start of the kill, the exit code if
    it had already finished by itself)."""
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "hoodsync", "apply", "--auto-approve", *argv],
        cwd=root,
        env=emulator.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    while not _journal_started(root) and process.poll() is None and time.monotonic() - started < 30:
        time.sleep(0.005)
    time.sleep(delay)
    code = process.poll()
    if code is None:
        process.send_signal(signal.SIGKILL)
        process.wait()
    return time.monotonic() - started, code


@dataclass
class Trial:
    """What one crash trial saw."""

    delay: float
    killed_at: float
    finished_before_kill: bool
    remote_after_kill: int
    remote_after_reapply: int
    duplicates: list[str]
    reapply_code: int
    plan_code: int
    reapply_seconds: float = 0.0

    def ok(self, campaigns: int) -> bool:
        return (
            self.remote_after_reapply == campaigns
            and not self.duplicates
            and self.reapply_code == 0
            and self.plan_code == 0
        )


def crash_trial(
    work: Path,
    campaigns: int,
    rng: random.Random,
    *,
    latency_ms: float,
    max_delay: float,
    parallelism: int,
    settle_window: float | None = None,
) -> Trial:
    """One trial in a fresh emulator and repository under ``work``."""
    emulator = start_emulator(work / "emulator.sqlite", "--latency-ms", str(latency_ms))
    if settle_window is not None:
        emulator.extra["HOODSYNC_SETTLE_WINDOW"] = f"{settle_window:g}"
    try:
        root = work / "repo"
        make_repo(root, campaigns, parallelism=parallelism)
        delay = rng.uniform(0.0, max_delay)
        killed_at, code = kill_during_apply(root, emulator, delay)
        after_kill = len(remote_campaigns(emulator))
        t0 = time.monotonic()
        again = hoodsync(root, emulator, "apply", "--auto-approve")
        took = time.monotonic() - t0
        remote = remote_campaigns(emulator)
        plan = hoodsync(root, emulator, "plan", "--detailed-exitcode")
        return Trial(
            delay,
            killed_at,
            code is not None,
            after_kill,
            len(remote),
            duplicates(remote),
            again.returncode,
            plan.returncode,
            took,
        )
    finally:
        emulator.stop()


def run_crash(
    trials: int,
    campaigns: int,
    *,
    seed: int,
    latency_ms: float,
    parallelism: int,
    out: Any = sys.stdout,
    settle_window: float | None = None,
) -> list[Trial]:
    """``trials`` crash trials; prints one line per trial and a summary. ``settle_window``:
    ``HOODSYNC_SETTLE_WINDOW`` for the hoodsync runs (``None``: hoodsync's default)."""
    rng = random.Random(seed)
    # The apply phase takes about campaigns / parallelism round trips; kill anywhere in it
    # and a little after.
    max_delay = 1.2 * campaigns * (latency_ms / 1000.0 + 0.004) / parallelism
    print(
        f"crash recovery: {trials} trials x {campaigns} campaigns, emulator latency "
        f"{latency_ms:g} ms, parallelism {parallelism}, kill within {max_delay:.2f} s of the "
        f"apply phase starting (seed {seed})",
        file=out,
    )
    results = []
    for n in range(1, trials + 1):
        with tempfile.TemporaryDirectory(prefix="hoodsync-crash-") as tmp:
            trial = crash_trial(
                Path(tmp),
                campaigns,
                rng,
                latency_ms=latency_ms,
                max_delay=max_delay,
                parallelism=parallelism,
                settle_window=settle_window,
            )
        results.append(trial)
        print(
            f"  trial {n:2d}: SIGKILL {trial.delay:5.2f} s into the apply phase "
            f"({'had already finished' if trial.finished_before_kill else 'mid-apply'}); "
            f"{trial.remote_after_kill:3d} campaigns remote after the kill -> "
            f"{trial.remote_after_reapply} after re-apply (exit {trial.reapply_code}, "
            f"{trial.reapply_seconds:.1f} s), "
            f"duplicates: {trial.duplicates or 'none'}, plan --detailed-exitcode "
            f"exit {trial.plan_code}  {'OK' if trial.ok(campaigns) else 'FAILED'}",
            file=out,
        )
    good = sum(t.ok(campaigns) for t in results)
    mid = sum(not t.finished_before_kill for t in results)
    print(
        f"{good}/{trials} trials converged to exactly {campaigns} campaigns with no duplicates "
        f"and a clean plan ({mid} killed mid-apply).",
        file=out,
    )
    return results


# ------------------------------------------------------------------------------------ faults


_ROW = re.compile(r"^(campaign\.\S+)\s+(\S+)\s+(applied|failed|not attempted)\b", re.M)


def table_rows(stdout: str) -> dict[str, str]:
    """address → result, from the result table ``apply`` printed."""
    return {m[1]: m[3] for m in _ROW.finditer(stdout)}


def check_table(stdout: str, remote: Sequence[dict[str, Any]], wanted: set[str]) -> list[str]:
    """What is wrong with a result table: every change listed, "applied" rows present remotely,
    other rows absent. Empty when the table is exactly right."""
    rows = table_rows(stdout)
    present = {f"campaign.{(c.get('metadata') or {}).get('hoodsync_key')}" for c in remote}
    problems = []
    if set(rows) != wanted:
        problems.append(f"the table lists {len(rows)} changes, not {len(wanted)}")
    for address, result in sorted(rows.items()):
        if (result == "applied") != (address in present):
            problems.append(
                f"{address} is {result!r} but is {'' if address in present else 'not '}remote"
            )
    return problems


def run_faults(
    campaigns: int,
    *,
    seed: int,
    latency_ms: float,
    fail_rate: float,
    drop_rate: float,
    parallelism: int,
    out: Any = sys.stdout,
) -> bool:
    """One faulty apply (and, if it exited 1, one more); True when the issue's rule held."""
    with tempfile.TemporaryDirectory(prefix="hoodsync-faults-") as tmp:
        work = Path(tmp)
        emulator = start_emulator(
            work / "emulator.sqlite",
            "--latency-ms",
            str(latency_ms),
            "--fail-rate",
            str(fail_rate),
            "--drop-after-commit-rate",
            str(drop_rate),
            "--seed",
            str(seed),
        )
        try:
            root = work / "repo"
            make_repo(root, campaigns, parallelism=parallelism)
            wanted = {f"campaign.bulk-{i:03d}" for i in range(campaigns)}
            t0 = time.monotonic()
            first = hoodsync(root, emulator, "apply", "--auto-approve")
            took = time.monotonic() - t0
            remote = remote_campaigns(emulator)
            table = check_table(first.stdout, remote, wanted)
            dup = duplicates(remote)
            print(
                f"faults: {campaigns} campaigns, {fail_rate:.0%} 500s, {drop_rate:.0%} "
                f"drop-after-commit, {latency_ms:g} ms latency, parallelism {parallelism}",
                file=out,
            )
            print(
                f"  first apply: exit {first.returncode} in {took:.1f} s; {len(remote)} "
                f"campaigns remote; duplicates: {dup or 'none'}; table "
                f"{'exactly right' if not table else 'WRONG: ' + '; '.join(table)}",
                file=out,
            )
            summary = [ln for ln in first.stdout.splitlines() if ln.startswith("Apply complete")]
            print(f"  {summary[0] if summary else '(no result table)'}", file=out)
            ok = not dup and not table
            if first.returncode == 0:
                ok = ok and len(remote) == campaigns
            else:
                second = hoodsync(root, emulator, "apply", "--auto-approve")
                remote = remote_campaigns(emulator)
                dup = duplicates(remote)
                print(
                    f"  second apply: exit {second.returncode}; {len(remote)} campaigns remote; "
                    f"duplicates: {dup or 'none'}",
                    file=out,
                )
                ok = ok and second.returncode == 0 and len(remote) == campaigns and not dup
            plan = hoodsync(root, emulator, "plan", "--detailed-exitcode")
            print(f"  plan --detailed-exitcode: exit {plan.returncode}", file=out)
            ok = ok and plan.returncode == 0
            print("OK" if ok else "FAILED", file=out)
            return ok
        finally:
            emulator.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", nargs="?", choices=("crash", "faults"), default="crash")
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument(
        "--campaigns", type=int, default=None, help="default: 100 (crash), 200 (faults)"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--latency-ms", type=float, default=None, help="default: 20 (crash), 200 (faults)"
    )
    parser.add_argument("--parallelism", type=int, default=4)
    parser.add_argument(
        "--settle-window",
        type=float,
        default=None,
        help="HOODSYNC_SETTLE_WINDOW for the hoodsync runs (default: hoodsync's, 60 s)",
    )
    args = parser.parse_args(argv)
    if args.mode == "crash":
        campaigns = args.campaigns or 100
        results = run_crash(
            args.trials,
            campaigns,
            seed=args.seed,
            latency_ms=20.0 if args.latency_ms is None else args.latency_ms,
            parallelism=args.parallelism,
            settle_window=args.settle_window,
        )
        return 0 if all(t.ok(campaigns) for t in results) else 1
    ok = run_faults(
        args.campaigns or 200,
        seed=args.seed,
        latency_ms=200.0 if args.latency_ms is None else args.latency_ms,
        fail_rate=0.10,
        drop_rate=0.05,
        parallelism=args.parallelism,
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
