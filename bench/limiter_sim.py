"""The client's rate limiter against the emulator's server limiters, offline, on a fake clock.

``bench/apply_throughput.py --behaviours`` measures the real thing (HTTP over loopback, threads,
the emulator's server behaviours) and takes minutes. This replays the same runs as a
discrete-event simulation in a second or two, so that a change to the limiter can be judged
against every server behaviour at many start phases before the real benchmark confirms it:

* the client: ``--parallelism`` requests in flight at most, each sent the moment
  :class:`hoodsync.remote.ratelimit.RateLimiter` allows it; a 429 is passed to ``penalize`` and
  the request is sent again later, any other answer to ``observe`` (as the transport does);
* the network: a fixed added latency, plus a seeded jitter draw on each way;
* the server: the emulator's own limiter for the behaviour (:mod:`hoodsync.emulator.limits`:
  fixed windows with a phase, a sliding log, token buckets, a background client), judging each
  request when it *arrives* (in arrival order), on its own clock (``clock_offset_s``), with the
  ``X-RateLimit-*`` headers (unless switched off) and a ``Date`` header from its clock.

The yardstick is the benchmark's: the fastest schedule under the server's own rule, from the
first arrival (:func:`hoodsync.emulator.limits.fastest_arrivals`). Not part of the test suite;
the timings it prints are simulated seconds, not measured ones.

    python bench/limiter_sim.py                               # every behaviour, 150 and 300
    python bench/limiter_sim.py --behaviours jitter --sizes 150 --starts 10 --seeds 5
"""

from __future__ import annotations

import argparse
import email.utils
import heapq
import itertools
import random
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from apply_throughput import BEHAVIOURS  # noqa: E402

from hoodsync.emulator.app import EmulatorConfig, make_hood_limiter  # noqa: E402
from hoodsync.emulator.limits import fastest_arrivals  # noqa: E402
from hoodsync.remote.ratelimit import RateLimiter  # noqa: E402

#: A whole minute of the epoch: start phases are counted from here.
EPOCH = 1_767_225_600.0


class SimClock:
    """The one clock of a simulation: read by the limiter, moved only by the event loop."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:  # the event loop never lets the limiter wait
        raise AssertionError(f"the limiter tried to wait {seconds:.3f} s inside acquire")


@dataclass
class SimRun:
    behaviour: str
    requests: int
    start: float  # seconds into the server's minute at the first send
    makespan: float
    fastest: float
    throttled: int

    @property
    def ratio(self) -> float:
        return self.makespan / self.fastest if self.fastest > 0 else 0.0


def simulate(
    behaviour: str,
    n: int,
    *,
    start: float,
    limits: tuple[int, int] = (10, 150),
    latency: float = 0.0,
    parallelism: int = 10,
    seed: int = 0,
    **limiter_args: Any,
) -> SimRun:
    """``n`` creates under ``behaviour``, the first sent ``start`` s into the server's minute."""
    config = EmulatorConfig(
        rate_burst=limits[0],
        rate_minute=limits[1],
        latency_ms=latency * 1000.0,
        **BEHAVIOURS[behaviour],
    )
    offset = config.clock_offset_s
    # Our clock at the first send, so that the server is ``start`` s into its minute window.
    t0 = EPOCH + config.window_phase_s + start - offset
    clock = SimClock(t0)
    server = make_hood_limiter(config, lambda: clock.now + offset)
    limiter_args.setdefault("wall_clock", clock)
    limiter = RateLimiter(*limits, clock=clock, sleep=clock.sleep, **limiter_args)
    rng = random.Random(seed)
    jitter = (config.jitter_min_ms / 1000.0, config.jitter_max_ms / 1000.0)

    def way() -> float:
        return rng.uniform(*jitter) if jitter[1] > 0 else 0.0

    events: list[tuple[float, int, str, int]] = []  # (time, order, kind, ticket)
    order = itertools.count()
    queued, in_flight, done, throttled = n, 0, 0, 0
    first_send: float | None = None
    last_answer = t0
    answers: dict[int, dict[str, str]] = {}
    while done < n:
        send_at = limiter.next_send_time() if queued and in_flight < parallelism else float("inf")
        if events and events[0][0] <= send_at:
            at, _, kind, ticket = heapq.heappop(events)
            clock.now = max(clock.now, at)
            if kind == "arrive":
                decision = server.hit_at("default", clock.now + offset)
                headers = dict(decision.headers()) if decision.allowed else {}
                if not decision.allowed:
                    headers["Retry-After"] = str(decision.retry_after)
                elif not config.rate_headers:
                    headers = {}
                headers["Date"] = email.utils.formatdate(clock.now + offset, usegmt=True)
                answers[ticket] = {k.lower(): v for k, v in headers.items()}
                back = clock.now + latency + way()
                heapq.heappush(events, (back, next(order), "answer", ticket))
            else:
                headers = answers.pop(ticket)
                in_flight -= 1
                last_answer = clock.now
                if "retry-after" in headers:
                    throttled += 1
                    queued += 1
                    limiter.penalize(float(headers["retry-after"]), ticket)
                else:
                    done += 1
                    limiter.observe(headers, ticket)
            continue
        clock.now = max(clock.now, send_at)
        ticket = limiter.acquire()
        if first_send is None:
            first_send = clock.now
        queued -= 1
        in_flight += 1
        heapq.heappush(events, (clock.now + way(), next(order), "arrive", ticket))
    assert first_send is not None
    least = jitter[0]
    yard = make_hood_limiter(config, lambda: 0.0)
    server_start = first_send + offset + least
    arrivals = fastest_arrivals(yard, n, server_start, within=3600)
    fastest = least + (arrivals[-1] - server_start) + latency + least
    return SimRun(
        behaviour=behaviour,
        requests=n,
        start=start,
        makespan=last_answer - first_send,
        fastest=fastest,
        throttled=throttled,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--behaviours", default="all")
    parser.add_argument("--sizes", default="150,300")
    parser.add_argument(
        "--starts",
        type=int,
        default=12,
        help="start phases per run: spread over the server minute, half in its last 15 s",
    )
    parser.add_argument(
        "--start-seconds",
        default=None,
        metavar="LIST",
        help="instead of --starts: these start seconds of the server minute, comma list",
    )
    parser.add_argument("--seeds", type=int, default=1, help="jitter seeds per start")
    parser.add_argument(
        "--latency", type=float, default=0.002, help="round trip beyond the jitter, seconds"
    )
    parser.add_argument("--limits", default="10,150")
    parser.add_argument("--parallelism", type=int, default=10)
    parser.add_argument("--verbose", action="store_true", help="one line per run")
    parser.add_argument("--no-wall", action="store_true", help="no wall-clock hypothesis")
    parser.add_argument("--margin", type=float, default=None, help="the limiter's margin")
    parser.add_argument("--spread", type=float, default=None, help="the limiter's burst split")
    args = parser.parse_args()
    names = list(BEHAVIOURS) if args.behaviours == "all" else args.behaviours.split(",")
    per_second, per_minute = (int(x) for x in args.limits.split(","))
    half = max(args.starts // 2, 1)
    # Spread over the minute and over the second (golden-ratio steps), half in the last 15 s.
    starts = [((i * 0.618034) % 1.0) * 45.0 for i in range(1, half + 1)]
    starts += [45.0 + ((i * 0.618034) % 1.0) * 15.0 for i in range(1, args.starts - half + 1)]
    if args.start_seconds:
        starts = [float(x) for x in args.start_seconds.split(",") if x]
    extra: dict[str, Any] = {}
    if args.no_wall:
        extra["wall_clock"] = None
    if args.margin is not None:
        extra["margin"] = args.margin
    if args.spread is not None:
        extra["spread"] = args.spread
    print(
        f"{'behaviour':12} | {'N':>4} | ratio median (min-max)   | 429s/run max (total) "
        "| CPU per send (limiter and simulated server)"
    )
    for size in (int(x) for x in args.sizes.split(",")):
        for name in names:
            cpu_before = time.process_time()
            runs = [
                simulate(
                    name,
                    size,
                    start=s,
                    limits=(per_second, per_minute),
                    latency=args.latency,
                    parallelism=args.parallelism,
                    seed=seed,
                    **extra,
                )
                for s in starts
                for seed in range(args.seeds)
            ]
            cpu = (time.process_time() - cpu_before) / (size * len(runs))
            throttled = f"{max(r.throttled for r in runs)} ({sum(r.throttled for r in runs)})"
            if args.verbose:
                for r in runs:
                    print(
                        f"  {name:12} start {r.start:6.2f}  {r.makespan:7.2f} / {r.fastest:7.2f}"
                        f" = {r.ratio:.3f}  429s {r.throttled}"
                    )
            ratios = [r.ratio for r in runs]
            print(
                f"{name:12} | {size:4} | {statistics.median(ratios):.3f}"
                f" ({min(ratios):.3f}-{max(ratios):.3f})     | "
                f"{throttled:20} | {cpu * 1000:.3f} ms",
                flush=True,
            )


if __name__ == "__main__":
    main()
