"""Client-side rate limiting: one limiter per account, shared by every request.

The simple path first: :class:`RateLimiter` hands out one permit per request, never more than
the account's limits allow, and learns from the answers' ``X-RateLimit-*`` headers and 429s.
What makes it fast lives in files of its own:

* :mod:`.schedule` — the schedule maths (pure): the planner's estimate
  (:func:`minimum_duration`), the benchmarks' yardstick (:func:`fastest_schedule`), and the
  earliest send time under each window rule;
* :mod:`.windows` — the server's fixed windows as the limiter models them, and how each answer
  narrows where their boundaries lie (phase learning, other clients' use);
* :mod:`.hypothesis` — the assumption that the server's windows follow the wall clock, the one
  probe at a time that tests it, and what drops it;
* :mod:`.limiter` — :class:`RateLimiter` itself: which rules apply, permits, waiting on a
  condition that answers notify, and the bound on waits a server demands (:data:`MAX_SERVER_WAIT`,
  :class:`WaitTooLong`), and a caller's own bound on a wait (:class:`NoSlotInTime`).
"""

from hoodsync.remote.ratelimit.limiter import (
    MAX_SERVER_WAIT,
    NoSlotInTime,
    RateLimiter,
    WaitTooLong,
)
from hoodsync.remote.ratelimit.schedule import fastest_schedule, minimum_duration

__all__ = [
    "MAX_SERVER_WAIT",
    "NoSlotInTime",
    "RateLimiter",
    "WaitTooLong",
    "fastest_schedule",
    "minimum_duration",
]
