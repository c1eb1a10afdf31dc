"""Schedule maths: when requests may be sent under window rules. Pure functions, no clock.

* :func:`minimum_duration` — the planner's (phase-independent) time estimate: the sliding-window
  rule a client that does not know the server's window phase can rely on.
* :func:`fastest_schedule` — the yardstick for benchmarks: the earliest times at which N
  requests can be counted under the server's fixed windows, given the phase at which a run
  starts.
* :func:`sliding_earliest`, :func:`fixed_earliest`, :func:`budget_earliest` — the earliest send
  time one more request may have under one rule, given the sends so far; the limiter combines
  them (:class:`~hoodsync.remote.ratelimit.limiter.RateLimiter`).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

from hoodsync.remote.ratelimit.windows import NUDGE_S, Budget, Send, Window, count_in

__all__ = [
    "budget_earliest",
    "fastest_schedule",
    "fixed_earliest",
    "minimum_duration",
    "sliding_earliest",
]


def minimum_duration(requests: int, per_second: int = 10, per_minute: int = 150) -> float:
    """Seconds from the first send to the last in the fastest schedule the limits allow.

    Counts sliding windows (no more than ``per_second`` sends in any 1 s span and no more than
    ``per_minute`` in any 60 s span), which is what a client that does not know the server's
    window phase can rely on. ``requests <= 1`` takes 0 s.
    """
    if requests <= 1:
        return 0.0
    times: list[float] = []
    for k in range(requests):
        t = 0.0
        if k >= per_second:
            t = max(t, times[k - per_second] + 1.0)
        if k >= per_minute:
            t = max(t, times[k - per_minute] + 60.0)
        times.append(t)
    return times[-1]


def fastest_schedule(
    requests: int,
    phase: float,
    *,
    per_second: int = 10,
    per_minute: int = 150,
    used_second: int = 0,
    used_minute: int = 0,
) -> list[float]:
    """Earliest arrival offsets (seconds from the start) of ``requests`` requests under fixed windows.

    The server counts fixed 1 s windows and 60 s windows whose boundaries coincide (both start
    at whole seconds of its clock). ``phase`` is how far into the current minute window the run
    starts (``0 <= phase < 60``; the position in the current second is ``phase % 1``);
    ``used_second`` / ``used_minute`` are requests already counted in the current windows.
    Greedy is optimal here: send as many as both windows allow as early as possible. The result
    is sorted; its last element is the shortest possible span from the start to the last request.
    """
    if requests <= 0:
        return []
    if not 0.0 <= phase < 60.0:
        raise ValueError("phase must be in [0, 60)")
    out: list[float] = []
    t = 0.0
    second_end = 1.0 - (phase % 1.0)
    minute_end = 60.0 - phase
    second_left = max(per_second - used_second, 0)
    minute_left = max(per_minute - used_minute, 0)
    while len(out) < requests:
        batch = min(second_left, minute_left, requests - len(out))
        out.extend([t] * batch)
        second_left -= batch
        minute_left -= batch
        if len(out) >= requests:
            break
        # Jump to the next boundary of whichever window is exhausted (the minute one if both).
        t = minute_end if minute_left == 0 else second_end
        if t >= minute_end:
            minute_end += 60.0
            minute_left = per_minute
        second_end = t + 1.0
        second_left = per_second
    return out


def sliding_earliest(sends: Sequence[Send], limit: int, span: float, at: float) -> float:
    """Earliest time >= ``at`` at which one more send leaves no more than ``limit`` sends in any
    ``span`` (``sends`` in time order)."""
    # Sends in time order: the ones in the span are a suffix, found by bisection (no scan, so
    # the cost does not grow with the limits).
    first = bisect.bisect_right(sends, at - span, key=_send_time)
    recent = len(sends) - first
    allowed = limit - 1
    if recent <= allowed:
        return at
    # The oldest sends must leave the span: wait until the (recent - allowed)-th oldest is out.
    return sends[first + recent - allowed - 1].at + span


def _send_time(send: Send) -> float:
    return send.at


def fixed_earliest(
    window: Window, sends: Sequence[Send], limit: int, at: float, *, whole_windows: bool = False
) -> float:
    """Earliest time >= ``at`` at which one more send puts no more than ``limit`` requests (ours
    and others', as far as ``window`` can place them) into any server window it may land in.
    ``window`` must be :attr:`~Window.known`.

    ``whole_windows``: where a send at ``at`` may be counted in either of two windows, wait for
    the later one to have surely begun instead of charging the send to both. Used while the
    wall-clock hypothesis holds: that uncertain span is then narrow (skew + delay + margin), and
    a burst fills one whole window, as a schedule knowing the phase exactly would.
    """
    assert window.hi is not None
    ks = window.indices(at)
    if whole_windows and len(ks) > 1:
        return max(at, window.hi + ks[-1] * window.size + NUDGE_S)
    for k in ks:
        used = window.foreign_in(k) + count_in(window, sends, k)
        if used + 1 > limit:
            return max(at, window.hi + (k + 1) * window.size)
    return at


def budget_earliest(budgets: Sequence[Budget], sends: Sequence[Send], at: float) -> float:
    """Earliest time >= ``at`` at which no budget that other clients left us is overspent."""
    for budget in budgets:
        if at >= budget.until:
            continue
        if budget.exhausted(sends, at):
            at = budget.until
    return at
