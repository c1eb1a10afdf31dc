"""How close to the fastest schedule a client can come under network jitter, whatever its limiter.

Issue 17 asks for makespan ÷ fastest ≤ 1.10 under 20–250 ms of jitter each way. The yardstick
(:func:`hoodsync.emulator.limits.fastest_arrivals`, as ``bench/apply_throughput.py`` and
``bench/limiter_sim.py`` use it) is a client that places every request exactly where the server
counts it, with the least jitter on every way. No client can: it learns where a request landed
only after sending it. This replays, on a fake clock, an **informed client** that is better
placed than any real one:

* it knows the server's windows exactly (fixed, on whole seconds and minutes of its clock);
* it learns where each request landed the moment the request *arrives* (a real client learns it
  half a round trip later, from the answer);
* it never risks a 429: a request goes only when every window it could land in, given the
  jitter bounds, has room for it whatever the requests still on their way do.

It does not know a request's delay before sending it. With ``--lead`` (the default, as
hoodsync's limiter does) its first request goes alone and the rest follow that request's
answer: without it, a first burst sent blind into a window another client has spent draws 429s
(``python bench/limiter_sim.py --behaviours background``: up to 10 a run without the lead,
1 with it).

The printed ratios are therefore a floor for hoodsync's limiter at each start phase, not a
measurement of it. Simulated seconds; not part of the test suite.

    python bench/limiter_bound.py                        # the 12 starts of limiter_sim.py, 200 draws
    python bench/limiter_bound.py --start-seconds 25.5,52.3 --draws 1000
    python bench/limiter_bound.py --no-lead
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
from pathlib import Path
from typing import NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parent))

from apply_throughput import BEHAVIOURS  # noqa: E402
from limiter_sim import EPOCH  # noqa: E402

from hoodsync.emulator.app import EmulatorConfig, make_hood_limiter  # noqa: E402
from hoodsync.emulator.limits import fastest_arrivals  # noqa: E402


class InformedRun(NamedTuple):
    makespan: float  # first send to last answer, as the benchmarks measure it
    fastest: float  # the yardstick, from the first send
    arrivals: list[float]  # of every request, in the order sent
    ready_to_end: float  # from ``start`` (the client ready to send) to the last answer


def informed_run(
    n: int,
    start: float,
    rng: random.Random,
    *,
    lead: bool,
    hold: bool = False,
    limits: tuple[int, int] = (10, 150),
    way: tuple[float, float] = (0.020, 0.250),
    latency: float = 0.002,
    parallelism: int = 10,
) -> InformedRun:
    """The informed client's ``n`` creates, ready to send ``start`` s into the server's minute
    (windows aligned to the epoch, the server's clock ours). ``hold``: the first request waits
    until it surely lands in the next server second, where the lead's answer always comes in
    time to fill that second."""
    least, most = way
    ready = EPOCH + start
    t0 = ready
    if hold:
        t0 = max(ready, math.ceil(ready + least) - least)
    config = EmulatorConfig(rate_burst=limits[0], rate_minute=limits[1], **BEHAVIOURS["jitter"])
    yard = make_hood_limiter(config, lambda: 0.0)
    arrivals = fastest_arrivals(yard, n, t0 + least, within=3600)
    fastest = least + (arrivals[-1] - (t0 + least)) + latency + least

    windows = ((1.0, limits[0]), (60.0, limits[1]))
    landed: dict[tuple[float, int], int] = {}
    on_way: list[tuple[float, float]] = []  # (sent, arrives) of requests not yet arrived
    answers: list[float] = []  # when each request still in flight is answered
    now, left, last = t0, n, t0
    sent_arrivals: list[float] = []
    lead_answer: float | None = None

    def room(at: float) -> bool:
        """Whether a send at ``at`` surely finds room in every window it may land in."""
        for size, limit in windows:
            for k in range(math.floor((at + least) / size), math.floor((at + most) / size) + 1):
                may = sum(
                    1
                    for sent, _ in on_way
                    if math.floor(max(at, sent + least) / size)
                    <= k
                    <= math.floor((sent + most) / size)
                )
                if landed.get((size, k), 0) + may >= limit:
                    return False
        return True

    while left:
        for sent, arrives in [w for w in on_way if w[1] <= now]:
            on_way.remove((sent, arrives))
            for size, _ in windows:
                key = (size, math.floor(arrives / size))
                landed[key] = landed.get(key, 0) + 1
        answers = [a for a in answers if a > now]
        waiting_for_lead = lead_answer is not None and now < lead_answer
        if not waiting_for_lead and len(answers) < parallelism and room(now):
            arrives = now + rng.uniform(least, most)
            answered = arrives + latency + rng.uniform(least, most)
            on_way.append((now, arrives))
            sent_arrivals.append(arrives)
            answers.append(answered)
            last = max(last, answered)
            left -= 1
            if lead and left == n - 1:
                lead_answer = answered
            continue
        # Next moment anything can change: an arrival, an answer, or a send's landing span
        # moving past a window boundary.
        candidates = [w[1] for w in on_way] + answers
        for size, _ in windows:
            for edge in (least, most):
                candidates.append((math.floor((now + edge) / size) + 1) * size - edge)
        now = min(c for c in candidates if c > now)
    return InformedRun(last - t0, fastest, sent_arrivals, last - ready)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="150")
    parser.add_argument("--starts", type=int, default=12, help="as bench/limiter_sim.py")
    parser.add_argument("--start-seconds", default=None, metavar="LIST")
    parser.add_argument("--draws", type=int, default=200, help="jitter draws per start")
    parser.add_argument("--no-lead", action="store_true", help="the first burst goes at once")
    parser.add_argument(
        "--hold", action="store_true", help="the first request waits for the next server second"
    )
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    half = max(args.starts // 2, 1)
    starts = [((i * 0.618034) % 1.0) * 45.0 for i in range(1, half + 1)]
    starts += [45.0 + ((i * 0.618034) % 1.0) * 15.0 for i in range(1, args.starts - half + 1)]
    if args.start_seconds:
        starts = [float(x) for x in args.start_seconds.split(",") if x]
    rng = random.Random(args.seed)
    lead = not args.no_lead
    how = "first request alone" if lead else "first burst at once"
    print(f"informed client, {how}{', held for the next second' if args.hold else ''}")
    print(
        f"{'N':>4} | {'start':>6} | ratio median (min-max) | share above 1.10 "
        "| ready to last answer, median"
    )
    for size in (int(x) for x in args.sizes.split(",")):
        every: list[float] = []
        for s in sorted(starts):
            ratios, ends = [], []
            for _ in range(args.draws):
                run = informed_run(size, s, rng, lead=lead, hold=args.hold)
                ratios.append(run.makespan / run.fastest)
                ends.append(run.ready_to_end)
            every += ratios
            above = sum(r > 1.10 for r in ratios) / len(ratios)
            print(
                f"{size:4} | {s:6.2f} | {statistics.median(ratios):.3f} "
                f"({min(ratios):.3f}-{max(ratios):.3f})  | {above:16.0%} "
                f"| {statistics.median(ends):6.2f} s"
            )
        above = sum(r > 1.10 for r in every) / len(every)
        print(
            f"{size:4} |    all | {statistics.median(every):.3f} "
            f"({min(every):.3f}-{max(every):.3f})  | {above:16.0%} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
