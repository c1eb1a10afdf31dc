"""Client-side rate limiting: one limiter per account, shared by every request.

(Being built out: the limiter class comes with the remote-client work. ``minimum_duration``
is used by the planner for its time estimate and keeps this signature.)
"""

from __future__ import annotations


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
