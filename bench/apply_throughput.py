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
    python bench/apply_throughput.py --floor 1000     # the pipeline's own pace, no limits

**Server behaviours** (``--behaviours``, issue 17): the same creates against emulators that keep
the documented contract in different ways (``hoodsync emulator`` options, see the README):

    aligned      fixed windows aligned to the epoch (the emulator's default)
    phase        fixed windows shifted by 0.37 s / 23.37 s          (--window-phase 23.37)
    clock-behind the server's clock 0.6 s behind ours                (--clock-offset -0.6)
    sliding      a sliding-window log                                (--rate-algorithm sliding)
    bucket       token buckets: 10 at 10/s and 150 at 2.5/s         (--rate-algorithm bucket)
    jitter       20-250 ms of network delay each way                 (--jitter-min/max-ms)
    no-headers   no X-RateLimit-* headers at all                     (--no-rate-headers)
    background   another client using 3 requests/s of the account    (--background-rps 3)

Each run starts at a chosen second of the server's minute (``--start-seconds``, counted from
where its minute window starts; by default one run in the middle of the minute and one in its
last 15 s). Rather than waiting for that second, the run is moved in time: the emulator's and
the client's clocks are both ``time.time() + shift`` (the server's ``Date`` header follows), so
the client sees exactly what it would see starting then. Reported per run: ``makespan`` (first
send to last answer), ``fastest`` and ``makespan/fastest`` (1.00 is perfect; the issue's
"ratio"), 429s, failures, how many campaigns the server holds afterwards (each exactly
once: ``remote`` = N), and the CPU time per request of the client's process (``client``), of
its part spent in hoodsync's rate limiter (``limiter``, CPU of the calling threads: waits are
not counted) and of the emulator's process (``server``).

The emulator runs in a process of its own (spawned before the clock shift is chosen, and given
it), as a real server is never in its client's process: in a thread of the client's process
(``--in-process``, how these runs were made before) the two share one interpreter lock, and at
high limits (class E: ``--limits 350,3500``) that pipeline, not the limiter, bounds the run.

**The fastest schedule under each behaviour's own rule.** The server's limiter decides which
request is counted when; so the yardstick is that limiter itself, replayed
(:func:`hoodsync.emulator.limits.fastest_arrivals`): a fresh limiter configured as the server
was, driven by an omniscient client that sends each request, with no delay, the moment the
server would count it — starting at the first send, in server time (so at the same phase of
the server's windows, with the same clock offset, and the background client's requests at the
same instants: they are periodic on the server's clock). Greedy is optimal for each rule (a
request counted earlier never delays a later one). Then ``fastest = (last arrival - first
arrival) + added latency + 2 x the least jitter`` (the first request's way in and the last
answer's way out). Per behaviour that is: aligned, phase, clock-behind and no-headers — fixed
windows at the server's phase and clock; sliding — the 1 s / 60 s log; bucket — the two buckets,
full at the start; jitter — aligned windows plus 2 x 20 ms; background — fixed windows minus
what the background client's requests take (a slot freed at the instant one of them arrives goes
to it; its throttled requests take nothing).
"""

from __future__ import annotations

import argparse
import email.utils
import multiprocessing
import multiprocessing.connection
import resource
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from hoodsync.emulator.app import EmulatorApp, EmulatorConfig, make_hood_limiter
from hoodsync.emulator.limits import fastest_arrivals
from hoodsync.emulator.server import EmulatorServer
from hoodsync.emulator.store import ListQuery, Store
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


def create_all(client: HoodClient, n: int, *, parallelism: int, paced: float | None) -> int:
    """Create campaigns ``0..n-1``: from ``parallelism`` threads through the client's limiter, or
    (``paced``: seconds between sends) one after another at that pace. Returns how many failed
    (a benchmark counts failures rather than stopping)."""
    if paced is None:
        with ThreadPoolExecutor(max_workers=parallelism) as pool:
            futures = [
                pool.submit(client.create_campaign, campaign(i), key=f"bench-{i:04d}")
                for i in range(n)
            ]
            return sum(1 for f in futures if f.exception() is not None)
    failures = 0
    begin = time.monotonic()
    for i in range(n):
        delay = begin + i * paced - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        try:
            client.create_campaign(campaign(i), key=f"bench-{i:04d}")
        except Exception:  # counted, not raised
            failures += 1
    return failures


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
    try:
        failures = create_all(client, n, parallelism=parallelism, paced=paced)
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


# --------------------------------------------------------------------------- server behaviours

#: Each behaviour of issue 17 as emulator settings (on top of the limits and latency of the run).
BEHAVIOURS: dict[str, dict[str, Any]] = {
    "aligned": {},
    "phase": {"window_phase_s": 23.37},
    "clock-behind": {"clock_offset_s": -0.6},
    "sliding": {"rate_algorithm": "sliding"},
    "bucket": {"rate_algorithm": "bucket"},
    "jitter": {"jitter_min_ms": 20.0, "jitter_max_ms": 250.0, "seed": 17},
    "no-headers": {"rate_headers": False},
    "background": {"background_rps": 3.0},
}


@dataclass
class BehaviourRun:
    behaviour: str
    label: str
    requests: int
    limits: tuple[int, int]
    latency_ms: float
    start_second: float  # where in the server's minute window the first send was
    makespan: float
    fastest: float
    throttled: int
    failures: int
    remote: int
    wall_aligned: bool | None
    client_cpu: float = 0.0  # CPU seconds of this process during the run (with an in-process
    server_cpu: float | None = None  # emulator, its CPU too; then server_cpu is None)
    limiter_cpu: float = 0.0  # CPU seconds in the client's rate limiter (part of client_cpu)

    @property
    def ratio(self) -> float:
        """makespan / fastest: 1.00 is perfect (issue 17's "ratio")."""
        return self.makespan / self.fastest if self.fastest > 0 else 0.0


class _Dated:
    """WSGI wrapper: the ``Date`` header from the server's (shifted) clock, not the machine's."""

    def __init__(self, app: EmulatorApp, clock: Callable[[], float]) -> None:
        self.app = app
        self.clock = clock

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        def start(status: str, headers: list[tuple[str, str]], *exc_info: Any) -> Any:
            kept = [(k, v) for k, v in headers if k.lower() != "date"]
            kept.append(("Date", email.utils.formatdate(self.clock(), usegmt=True)))
            return start_response(status, kept, *exc_info)

        return self.app(environ, start)


def _shift_for(second: float | None, config: EmulatorConfig) -> float:
    """Seconds to add to both clocks so that the server is ``second`` s into its minute window
    now (0 for ``None``: start whenever this is)."""
    if second is None:
        return 0.0
    server_now = time.time() + config.clock_offset_s
    position = (server_now - config.window_phase_s) % 60.0
    return (second - position) % 60.0


def _cpu_seconds() -> float:
    """CPU time (user + system) this process has used so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _serve(config: EmulatorConfig, shift: float) -> tuple[EmulatorServer, Store, str]:
    """A fresh emulator on 127.0.0.1 whose clock (and ``Date`` header) is ours plus ``shift``."""

    def clock() -> float:  # the server adds its clock offset itself
        return time.time() + shift

    store = Store.open(None)
    token, _key = store.ensure_account("default")
    app = EmulatorApp(store, config, clock=clock)
    server = EmulatorServer(app)
    server._server.set_app(_Dated(app, lambda: clock() + config.clock_offset_s))
    server.start()
    return server, store, token


def _emulator_child(conn: Connection, config: EmulatorConfig) -> None:
    """The emulator's process: once imported, say so; given the clock shift, serve and say
    where; on "stop" answer (campaigns held, CPU seconds this process spent serving) and exit."""
    conn.send("ready")
    shift = conn.recv()
    server, store, token = _serve(config, shift)
    conn.send((server.url, token))
    cpu_before = _cpu_seconds()
    conn.recv()
    cpu = _cpu_seconds() - cpu_before
    remote = store.list_campaigns("default", ListQuery(limit=1))[0]
    server.shutdown()
    store.close()
    conn.send((remote, cpu))


class _ChildEmulator:
    """The emulator in its own process (spawned: nothing of this process's state is shared).
    The process is started (its imports take a while) before the clock shift is chosen, so that
    the run still starts at the chosen second."""

    def __init__(self, config: EmulatorConfig) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child_end = context.Pipe()
        self._process = context.Process(target=_emulator_child, args=(child_end, config))
        self._process.daemon = True
        self._process.start()
        self._receive("start")

    def _receive(self, what: str) -> Any:
        """The child's next message; it has 60 s (and fails at once if it died)."""
        if not multiprocessing.connection.wait([self._conn, self._process.sentinel], 60):
            self._process.kill()
            raise SystemExit(f"the emulator process did not {what} within 60 s")
        if not self._conn.poll():
            raise SystemExit(f"the emulator process died before it could {what}")
        return self._conn.recv()

    def start(self, shift: float) -> tuple[str, str]:
        self._conn.send(shift)
        url, token = self._receive("serve")
        return str(url), str(token)

    def stop(self) -> tuple[int, float | None]:
        """(campaigns the server holds, CPU seconds it spent)."""
        self._conn.send("stop")
        remote, cpu = self._receive("stop")
        self._process.join(timeout=10)
        return int(remote), float(cpu)


class _TimedLimiter(RateLimiter):
    """hoodsync's limiter, unchanged, with the CPU time (of the calling thread: waits and sleeps
    are not CPU) spent in its methods added up in :attr:`cpu`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cpu = 0.0
        self._cpu_lock = threading.Lock()

    def _timed(self, since: float) -> None:
        spent = time.thread_time() - since
        with self._cpu_lock:
            self.cpu += spent

    def acquire(self, within: float | None = None) -> int:
        since = time.thread_time()
        try:
            return super().acquire(within)
        finally:
            self._timed(since)

    def observe(self, headers: Mapping[str, str], ticket: int | None = None) -> None:
        since = time.thread_time()
        try:
            super().observe(headers, ticket)
        finally:
            self._timed(since)

    def penalize(self, retry_after: float, ticket: int | None = None) -> None:
        since = time.thread_time()
        try:
            super().penalize(retry_after, ticket)
        finally:
            self._timed(since)

    def discard(self, ticket: int) -> None:
        since = time.thread_time()
        try:
            super().discard(ticket)
        finally:
            self._timed(since)


class _ThreadEmulator:
    """The emulator in a thread of this process (its CPU cannot be told apart from ours)."""

    def __init__(self, config: EmulatorConfig) -> None:
        self._config = config

    def start(self, shift: float) -> tuple[str, str]:
        self._server, self._store, token = _serve(self._config, shift)
        return self._server.url, token

    def stop(self) -> tuple[int, float | None]:
        remote = self._store.list_campaigns("default", ListQuery(limit=1))[0]
        self._server.shutdown()
        self._store.close()
        return remote, None


def _emulator(config: EmulatorConfig, *, in_process: bool) -> _ChildEmulator | _ThreadEmulator:
    return _ThreadEmulator(config) if in_process else _ChildEmulator(config)


def measure_behaviour(
    behaviour: str,
    n: int,
    *,
    limits: tuple[int, int],
    latency_ms: float,
    parallelism: int,
    start_second: float | None,
    paced: float | None = None,
    in_process: bool = False,
) -> BehaviourRun:
    """Create ``n`` campaigns on a fresh emulator showing ``behaviour``, starting at
    ``start_second`` of its minute; ``paced`` = seconds between sequential sends (the baseline)
    instead of the hoodsync limiter. The emulator runs in a process of its own, as a real server
    would (``in_process``: in a thread of this one, sharing its interpreter lock)."""
    config = EmulatorConfig(
        rate_burst=limits[0],
        rate_minute=limits[1],
        latency_ms=latency_ms,
        **BEHAVIOURS[behaviour],
    )
    emulator = _emulator(config, in_process=in_process)
    shift = _shift_for(start_second, config)

    def clock() -> float:  # ours; the server adds its clock offset itself
        return time.time() + shift

    url, token = emulator.start(shift)
    recorder = Recorder()
    client_limits = limits if paced is None else (10**6, 10**9)
    limiter = _TimedLimiter(*client_limits, clock=clock, wall_clock=clock)
    transport = ApiTransport(
        url + "/v1/hood",
        Secret(token),
        limiter=limiter,
        parallelism=parallelism if paced is None else 1,
        clock=clock,
        on_request=recorder,
    )
    client = HoodClient(transport)
    cpu_before = _cpu_seconds()
    try:
        failures = create_all(client, n, parallelism=parallelism, paced=paced)
        client_cpu = _cpu_seconds() - cpu_before
    finally:
        transport.close()
        remote, server_cpu = emulator.stop()
    records = recorder.records
    first = min(r.sent_at for r in records)
    last = max(r.finished_at for r in records)
    least_way = config.jitter_min_ms / 1000.0  # the least jitter on each way
    server_start = first + config.clock_offset_s + least_way
    arrivals = fastest_arrivals(make_hood_limiter(config, clock), n, server_start, within=3600)
    fastest = least_way + (arrivals[-1] - server_start) + latency_ms / 1000.0 + least_way
    return BehaviourRun(
        behaviour=behaviour,
        label="hoodsync" if paced is None else "baseline",
        requests=n,
        limits=limits,
        latency_ms=latency_ms,
        start_second=(first + config.clock_offset_s - config.window_phase_s) % 60.0,
        makespan=last - first,
        fastest=fastest,
        throttled=sum(1 for r in records if r.status == 429),
        failures=failures,
        remote=remote,
        wall_aligned=getattr(limiter, "wall_aligned", None),
        client_cpu=client_cpu,
        server_cpu=server_cpu,
        limiter_cpu=limiter.cpu,
    )


def behaviour_table(runs: list[BehaviourRun]) -> str:
    header = (
        "behaviour",
        "run",
        "N",
        "limits",
        "latency",
        "start@min",
        "makespan",
        "fastest",
        "makespan/fastest",
        "429s",
        "failed",
        "remote",
        "wall",
        "CPU/req client",
        "limiter",
        "server",
    )
    rows = [
        (
            r.behaviour,
            r.label,
            str(r.requests),
            f"{r.limits[0]}/s {r.limits[1]}/min",
            f"{r.latency_ms:.0f} ms",
            f"{r.start_second:5.2f} s",
            f"{r.makespan:7.2f} s",
            f"{r.fastest:7.2f} s",
            f"{r.ratio:.3f}" if r.fastest > 0 else "-",
            str(r.throttled),
            str(r.failures),
            str(r.remote),
            {True: "yes", False: "no", None: "-"}[r.wall_aligned],
            f"{r.client_cpu / r.requests * 1000:.2f} ms",
            f"{r.limiter_cpu / r.requests * 1000:.2f} ms",
            "in-process" if r.server_cpu is None else f"{r.server_cpu / r.requests * 1000:.2f} ms",
        )
        for r in runs
    ]
    return _format(header, rows)


def _format(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
    lines = [" | ".join(h.ljust(w) for h, w in zip(header, widths))]
    lines.append("-|-".join("-" * w for w in widths))
    lines += [" | ".join(c.ljust(w) for c, w in zip(row, widths)) for row in rows]
    return "\n".join(lines)


def _bare_creates(url: str, token: str, n: int, parallelism: int) -> None:
    """``n`` campaign creates from ``parallelism`` threads, each through its own httpx client
    (one per thread, kept alive): no hoodsync client, no limiter, no journal."""
    import json

    import httpx

    bodies = [json.dumps(campaign(i)).encode() for i in range(n)]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    todo = iter(range(n))
    lock = threading.Lock()

    def worker() -> None:
        with httpx.Client(base_url=url + "/v1/hood", headers=headers, timeout=30) as http:
            while True:
                with lock:
                    i = next(todo, None)
                if i is None:
                    return
                answer = http.post("/campaigns", content=bodies[i])
                if answer.status_code >= 300:
                    raise SystemExit(f"bare create {i}: HTTP {answer.status_code}")

    threads = [threading.Thread(target=worker) for _ in range(parallelism)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def floor(n: int, parallelism: int, repeat: int) -> str:
    """The pipeline's own pace on this machine: ``n`` creates with the limits out of reach,
    against the emulator in a process of its own, through hoodsync's client (``HoodClient``,
    its transport and limiter, as the behaviour runs use them) and through bare httpx clients.
    No client on this machine gets closer to the fastest schedule than this pace allows: at
    high limits (class E) that schedule has a whole window's requests served at one instant."""
    lines = [
        "client   | N     | par | wall     | creates/s | CPU/req client | CPU/req server | remote",
        "---------|-------|-----|----------|-----------|----------------|----------------|-------",
    ]
    config = EmulatorConfig(rate_burst=10**6, rate_minute=10**9)
    for _ in range(repeat):
        for label in ("hoodsync", "httpx"):
            emulator = _ChildEmulator(config)
            url, token = emulator.start(0.0)
            cpu_before, started = _cpu_seconds(), time.perf_counter()
            try:
                if label == "httpx":
                    _bare_creates(url, token, n, parallelism)
                else:
                    limiter = RateLimiter(10**6, 10**9)
                    transport = ApiTransport(
                        url + "/v1/hood", Secret(token), limiter=limiter, parallelism=parallelism
                    )
                    try:
                        failures = create_all(
                            HoodClient(transport), n, parallelism=parallelism, paced=None
                        )
                    finally:
                        transport.close()
                    if failures:
                        raise SystemExit(f"{failures} of {n} creates failed")
                wall = time.perf_counter() - started
                client_cpu = _cpu_seconds() - cpu_before
            finally:
                remote, server_cpu = emulator.stop()
            lines.append(
                f"{label:<8} | {n:<5} | {parallelism:<3} | {wall:6.2f} s | {n / wall:9.0f} | "
                f"{client_cpu / n * 1000:11.2f} ms | {(server_cpu or 0.0) / n * 1000:11.2f} ms | "
                f"{remote}"
            )
            print(lines[-1], flush=True)
    return "\n".join(lines)


def run_behaviours(args: argparse.Namespace) -> None:
    names = list(BEHAVIOURS) if args.behaviours == "all" else args.behaviours.split(",")
    unknown = [b for b in names if b not in BEHAVIOURS]
    if unknown:
        raise SystemExit(
            f"unknown behaviour(s) {', '.join(unknown)}; known: {', '.join(BEHAVIOURS)}"
        )
    sizes = [int(x) for x in args.sizes.split(",") if x]
    latencies = [float(x) for x in (args.latencies or "0").split(",") if x]
    starts = [None if x == "now" else float(x) for x in args.start_seconds.split(",") if x]
    limits = tuple(int(x) for x in args.limits.split(","))
    assert len(limits) == 2, "--limits PER_SECOND,PER_MINUTE"
    runs: list[BehaviourRun] = []

    def record(run: BehaviourRun) -> None:
        runs.append(run)
        print(behaviour_table(runs[-1:]).splitlines()[-1], flush=True)

    for n in sizes:
        for behaviour in names:
            for latency in latencies:
                for start in starts:
                    for _ in range(args.repeat):
                        record(
                            measure_behaviour(
                                behaviour,
                                n,
                                limits=(limits[0], limits[1]),
                                latency_ms=latency,
                                parallelism=args.parallelism,
                                start_second=start,
                                in_process=args.in_process,
                            )
                        )
        if args.baseline:
            record(
                measure_behaviour(
                    "aligned",
                    n,
                    limits=(limits[0], limits[1]),
                    latency_ms=args.baseline_latency,
                    parallelism=1,
                    start_second=starts[0],
                    paced=60.0 / limits[1],
                    in_process=args.in_process,
                )
            )
    print()
    print(behaviour_table(runs))


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
        "--latencies",
        default=None,
        help="comma list of added latencies, ms (default 0,100,300; with --behaviours 0)",
    )
    parser.add_argument(
        "--behaviours",
        default=None,
        metavar="LIST",
        help=f"instead: comma list of server behaviours, or all ({', '.join(BEHAVIOURS)})",
    )
    parser.add_argument(
        "--start-seconds",
        default="25,50",
        metavar="LIST",
        help="with --behaviours: where in the server's minute each run starts, comma list of "
        "seconds (0 to 60) or now (default 25,50)",
    )
    parser.add_argument(
        "--limits",
        default=f"{PER_SECOND},{PER_MINUTE}",
        metavar="PS,PM",
        help="with --behaviours: requests per second and per minute, on both sides "
        "(class E: 350,3500)",
    )
    parser.add_argument(
        "--parallelism", type=int, default=10, help="requests in flight (default 10)"
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs per size and latency")
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="with --behaviours: serve the emulator from a thread of this process instead of a "
        "process of its own (then both share one interpreter lock, as before issue 17)",
    )
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
    parser.add_argument(
        "--floor",
        type=int,
        default=0,
        metavar="N",
        help="instead: N creates with the limits out of reach, through hoodsync's client and "
        "through bare httpx clients (the pace of the pipeline itself)",
    )
    args = parser.parse_args()
    if args.floor:
        print()
        print(floor(args.floor, args.parallelism, args.repeat))
        return
    if args.faults:
        print(faults(args.faults, args.parallelism))
        return
    if args.behaviours:
        run_behaviours(args)
        return
    sizes = [int(x) for x in args.sizes.split(",") if x]
    latencies = [float(x) for x in (args.latencies or "0,100,300").split(",") if x]
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
