"""Apply throughput against the emulator's real rate limits: hoodsync vs the fastest schedule.

For each size N and latency, a fresh emulator (documented limits: 10 requests/s and 150/min per
account, fixed windows on whole seconds of the clock) is served on 127.0.0.1, and N campaigns are
created through ``HoodClient`` from a thread pool of ``--parallelism`` workers, each create one
POST. Reported per run:

* ``makespan``  — first send to last answer;
* ``fastest``   — the fastest schedule the limits allow for the same N requests, computed from
  where in the emulator's minute (and second) window the first request arrived, plus one latency
  for the last answer (:func:`hoodsync.remote.ratelimit.fastest_schedule`);
* ``ratio``     — fastest / makespan (target >= 0.95);
* ``429s``      — throttled answers (target 0);
* ``wall``      — whether the limiter still assumed the emulator's windows follow the wall clock
  at the end of the run (``yes``), or something contradicted that and it fell back to learning
  the phase from the answers (``no``).

A baseline "user without hoodsync" — a sequential loop paced at 150/min (one request every
0.4 s) — is run once per size. Takes minutes; not part of the test suite.

    python bench/apply_throughput.py                       # 150 and 300 at 0/100/300 ms
    python bench/apply_throughput.py --sizes 150 --latencies 300 --repeat 3 --no-baseline
    python bench/apply_throughput.py --faults 200     # exactly-once creates under faults
"""

from __future__ import annotations

import argparse
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from hoodsync.emulator.app import EmulatorApp, EmulatorConfig
from hoodsync.emulator.server import EmulatorServer
from hoodsync.emulator.store import Store
from hoodsync.remote.hood import HoodClient
from hoodsync.remote.ratelimit import RateLimiter, fastest_schedule
from hoodsync.remote.transport import ApiTransport, RequestRecord, Secret

PER_SECOND = 10
PER_MINUTE = 150


@dataclass
class Run:
    label: str
    requests: int
    latency_ms: float
    parallelism: int
    phase: float
    makespan: float
    fastest: float
    throttled: int
    failures: int
    wall_aligned: bool

    @property
    def ratio(self) -> float:
        return self.fastest / self.makespan if self.makespan > 0 else 0.0


def campaign(i: int) -> dict[str, Any]:
    key = f"bench-{i:04d}"
    return {
        "name": f"Bench {i:04d}",
        "metadata": {"hoodsync_key": key},
        "messages": [
            {
                "name": "Hello",
                "channel": "push",
                "push": {
                    "title": {"en": "Hi"},
                    "body": {"en": "Bench"},
                    "landing_url": "https://example.com",
                },
            }
        ],
    }


class Recorder:
    """Collects every attempt (thread-safe); times are wall-clock seconds."""

    def __init__(self) -> None:
        self.records: list[RequestRecord] = []
        self._lock = threading.Lock()

    def __call__(self, record: RequestRecord) -> None:
        with self._lock:
            self.records.append(record)


def serve(latency_ms: float) -> tuple[EmulatorServer, Store, str]:
    store = Store.open(None)
    token, _key = store.ensure_account("default")
    config = EmulatorConfig(rate_burst=PER_SECOND, rate_minute=PER_MINUTE, latency_ms=latency_ms)
    server = EmulatorServer(EmulatorApp(store, config))
    server.start()
    return server, store, token


def measure(label: str, n: int, latency_ms: float, parallelism: int, *, paced: float | None) -> Run:
    """Create ``n`` campaigns on a fresh emulator; ``paced`` = seconds between sequential sends
    (the baseline) instead of the hoodsync limiter."""
    server, store, token = serve(latency_ms)
    recorder = Recorder()
    # Wall clock as the limiter's clock too, so send times can be placed in the emulator's
    # windows; it then also assumes (and checks) that those windows follow the wall clock.
    limits = (PER_SECOND, PER_MINUTE) if paced is None else (10**6, 10**9)
    limiter = RateLimiter(*limits, clock=time.time, wall_clock=time.time)
    transport = ApiTransport(
        server.url + "/v1/hood",
        Secret(token),
        limiter=limiter,
        parallelism=parallelism if paced is None else 1,
        clock=time.time,  # wall clock, so send times can be placed in the emulator's windows
        on_request=recorder,
    )
    client = HoodClient(transport)
    failures = 0
    try:
        if paced is None:
            with ThreadPoolExecutor(max_workers=parallelism) as pool:
                futures = [
                    pool.submit(client.create_campaign, campaign(i), key=f"bench-{i:04d}")
                    for i in range(n)
                ]
                failures = sum(1 for f in futures if f.exception() is not None)
        else:
            start = time.time()
            for i in range(n):
                delay = start + i * paced - time.time()
                if delay > 0:
                    time.sleep(delay)
                try:
                    client.create_campaign(campaign(i), key=f"bench-{i:04d}")
                except Exception:  # a benchmark counts failures rather than stopping
                    failures += 1
    finally:
        transport.close()
        server.shutdown()
        store.close()
    records = recorder.records
    first = min(r.sent_at for r in records)
    last = max(r.finished_at for r in records)
    phase = first % 60.0  # the emulator counts a request when it arrives: ~ when it is sent
    fastest = fastest_schedule(n, phase, per_second=PER_SECOND, per_minute=PER_MINUTE)[-1]
    return Run(
        label=label,
        requests=n,
        latency_ms=latency_ms,
        parallelism=parallelism if paced is None else 1,
        phase=phase,
        makespan=last - first,
        fastest=fastest + latency_ms / 1000.0,
        throttled=sum(1 for r in records if r.status == 429),
        failures=failures,
        wall_aligned=limiter.wall_aligned,
    )


def faults(n: int, parallelism: int) -> str:
    """Create ``n`` campaigns with the emulator's faults on (10 % 500s, 5 % commit-then-drop
    creates, 200 ms latency, documented limits); say how many exist afterwards."""
    store = Store.open(None)
    token, _key = store.ensure_account("default")
    config = EmulatorConfig(fail_rate=0.1, drop_after_commit_rate=0.05, latency_ms=200.0, seed=4)
    server = EmulatorServer(EmulatorApp(store, config))
    server.start()
    recorder = Recorder()
    transport = ApiTransport(
        server.url + "/v1/hood", Secret(token), parallelism=parallelism, on_request=recorder
    )
    client = HoodClient(transport)
    start = time.monotonic()
    try:
        with ThreadPoolExecutor(max_workers=parallelism) as pool:
            futures = [
                pool.submit(client.create_campaign, campaign(i), key=f"bench-{i:04d}")
                for i in range(n)
            ]
            failed = sum(1 for f in futures if f.exception() is not None)
        elapsed = time.monotonic() - start
        keys = [c["metadata"]["hoodsync_key"] for c in client.list_campaigns()]
    finally:
        transport.close()
        server.shutdown()
        store.close()
    statuses = [r.status for r in recorder.records]
    return (
        f"faults: {n} creates in {elapsed:.1f} s -> {len(keys)} remote campaigns, "
        f"{len(set(keys))} distinct markers, {len(keys) - len(set(keys))} duplicates, "
        f"{failed} failed; {len(statuses)} requests: {statuses.count(500)} answered 500, "
        f"{statuses.count(None)} without an answer, {statuses.count(429)} throttled"
    )


def table(runs: list[Run]) -> str:
    header = (
        "run",
        "N",
        "latency",
        "par",
        "start@min",
        "makespan",
        "fastest",
        "ratio",
        "429s",
        "failed",
        "wall",
    )
    rows = [
        (
            r.label,
            str(r.requests),
            f"{r.latency_ms:.0f} ms",
            str(r.parallelism),
            f"{r.phase:5.2f} s",
            f"{r.makespan:7.2f} s",
            f"{r.fastest:7.2f} s",
            f"{r.ratio:.3f}",
            str(r.throttled),
            str(r.failures),
            "yes" if r.wall_aligned else "no",
        )
        for r in runs
    ]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
    lines = [" | ".join(h.ljust(w) for h, w in zip(header, widths))]
    lines.append("-|-".join("-" * w for w in widths))
    lines += [" | ".join(c.ljust(w) for c, w in zip(row, widths)) for row in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="150,300", help="comma list of campaign counts")
    parser.add_argument(
        "--latencies", default="0,100,300", help="comma list of added latencies, ms"
    )
    parser.add_argument(
        "--parallelism", type=int, default=10, help="requests in flight (default 10)"
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs per size and latency")
    parser.add_argument(
        "--baseline",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also run the paced sequential baseline once per size",
    )
    parser.add_argument("--baseline-latency", type=float, default=300.0)
    parser.add_argument(
        "--faults",
        type=int,
        default=0,
        metavar="N",
        help="instead: create N campaigns with the emulator's faults on",
    )
    args = parser.parse_args()
    if args.faults:
        print(faults(args.faults, args.parallelism))
        return
    sizes = [int(x) for x in args.sizes.split(",") if x]
    latencies = [float(x) for x in args.latencies.split(",") if x]
    runs: list[Run] = []
    for n in sizes:
        for latency in latencies:
            for _ in range(args.repeat):
                runs.append(measure("hoodsync", n, latency, args.parallelism, paced=None))
                print(table(runs[-1:]).splitlines()[-1], flush=True)
        if args.baseline:
            runs.append(measure("baseline", n, args.baseline_latency, 1, paced=60.0 / PER_MINUTE))
            print(table(runs[-1:]).splitlines()[-1], flush=True)
    print()
    print(table(runs))


if __name__ == "__main__":
    main()
