"""Counters and latency samples shared by every device of a fleet.

Latencies go into a bounded reservoir (Vitter's algorithm R) so a 10,000-device
fleet running for hours keeps a fixed amount of memory while its percentiles
stay an unbiased sample of the whole run.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field


class Reservoir:
    """Uniform random sample of at most ``capacity`` values out of everything added."""

    __slots__ = ("_rng", "_values", "capacity", "count", "total")

    def __init__(self, capacity: int = 10_000, *, seed: int | None = None) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self.count = 0
        self.total = 0.0
        self._values: list[float] = []
        self._rng = random.Random(seed)

    def add(self, value: float) -> None:
        self.count += 1
        self.total += value
        if len(self._values) < self.capacity:
            self._values.append(value)
            return
        j = self._rng.randrange(self.count)
        if j < self.capacity:
            self._values[j] = value

    def __len__(self) -> int:
        return len(self._values)

    def values(self) -> list[float]:
        return list(self._values)

    def mean(self) -> float | None:
        return self.total / self.count if self.count else None

    def percentile(self, p: float) -> float | None:
        """The p-th percentile (0..100, linear interpolation); None when empty."""
        if not 0 <= p <= 100:
            raise ValueError("percentile must be within 0..100")
        if not self._values:
            return None
        data = sorted(self._values)
        pos = (len(data) - 1) * p / 100
        lo, hi = math.floor(pos), math.ceil(pos)
        return data[lo] + (data[hi] - data[lo]) * (pos - lo)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.1f}"


@dataclass
class FleetStats:
    """What a load run reports; latencies are in seconds."""

    registrations_ok: int = 0
    registrations_failed: int = 0
    unregistrations: int = 0
    register_latency: Reservoir = field(default_factory=Reservoir)
    keepalive_sent: int = 0
    keepalive_ok: int = 0
    keepalive_failed: int = 0
    keepalive_latency: Reservoir = field(default_factory=Reservoir)
    messages_sent: int = 0
    messages_failed: int = 0
    requests_received: int = 0

    def percentile(self, p: float) -> float | None:
        """Keepalive latency percentile in seconds (the figure a load run is judged by)."""
        return self.keepalive_latency.percentile(p)

    def summary(self, registered: int | None = None, total: int | None = None) -> str:
        """One status line for a console."""
        head = f"registered {registered}/{total} " if registered is not None else ""
        return (
            f"{head}reg ok {self.registrations_ok} failed {self.registrations_failed} | "
            f"keepalive sent {self.keepalive_sent} ok {self.keepalive_ok} "
            f"failed {self.keepalive_failed} p50 {_ms(self.percentile(50))} ms "
            f"p99 {_ms(self.percentile(99))} ms | "
            f"register p50 {_ms(self.register_latency.percentile(50))} ms | "
            f"requests in {self.requests_received}"
        )
