"""Seeded fault injection: latency, jitter, 500s without executing, creates dropped after commit.

All faults are off by default. One ``random.Random(seed)`` drives every failure draw, under a
lock, and a draw is only made for a fault whose rate is above zero, so with a fixed seed and a
fixed request order the same requests fail in every run. Jitter draws come from a second
generator derived from the same seed, so turning jitter on does not change which requests fail.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable

__all__ = ["Faults"]


class Faults:
    """Decides, per request, whether and how to misbehave."""

    def __init__(
        self,
        *,
        latency_ms: float = 0.0,
        fail_rate: float = 0.0,
        drop_after_commit_rate: float = 0.0,
        jitter_ms: tuple[float, float] = (0.0, 0.0),
        seed: int | None = None,
        sleep: Callable[[float], None],
    ) -> None:
        """Rates are probabilities in ``[0, 1]``; ``jitter_ms`` is ``(min, max)`` of each jitter
        draw; ``sleep`` is used for the added latency and jitter."""
        for name, rate in (
            ("fail_rate", fail_rate),
            ("drop_after_commit_rate", drop_after_commit_rate),
        ):
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, not {rate}")
        if latency_ms < 0:
            raise ValueError(f"latency_ms must not be negative, not {latency_ms}")
        if not 0.0 <= jitter_ms[0] <= jitter_ms[1]:
            raise ValueError(f"jitter_ms must be (min, max) with 0 <= min <= max, not {jitter_ms}")
        self._jitter_s = (jitter_ms[0] / 1000.0, jitter_ms[1] / 1000.0)
        self._jitter_rng = random.Random(None if seed is None else f"jitter:{seed}")
        self._latency_s = latency_ms / 1000.0
        self._fail_rate = fail_rate
        self._drop_rate = drop_after_commit_rate
        self._sleep = sleep
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def _draw(self, rate: float) -> bool:
        if rate <= 0.0:
            return False
        with self._lock:
            return self._rng.random() < rate

    def delay(self) -> None:
        """Sleep the configured latency (nothing when it is zero)."""
        if self._latency_s > 0:
            self._sleep(self._latency_s)

    def jitter(self) -> None:
        """Sleep one jitter draw, uniform in ``[min, max]`` (nothing when jitter is off)."""
        low, high = self._jitter_s
        if high <= 0:
            return
        with self._lock:
            seconds = self._jitter_rng.uniform(low, high)
        self._sleep(seconds)

    def should_fail(self) -> bool:
        """Whether this request is answered 500 without being executed."""
        return self._draw(self._fail_rate)

    def should_drop(self) -> bool:
        """Whether this committed create loses its response (connection closed)."""
        return self._draw(self._drop_rate)
