"""A deadline queue: O(log n) scheduling and O(k log n) for the k entries due.

The device watchdog used to scan every device every second; at 20,000 devices that
scan stalled the event loop (docs/benchmarks.md). Here each key has at most one live
heap entry, at its earliest scheduled time. Moving a deadline *later* (a keepalive)
costs nothing: when the old entry comes due the owner sees the deadline moved and
schedules it again. Moving it earlier pushes a new entry; the old one is skipped as
stale when popped. Sans-IO: the caller passes ``now``.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class DeadlineQueue(Generic[K]):
    def __init__(self) -> None:
        self._heap: list[tuple[float, int, K]] = []
        self._at: dict[K, float] = {}
        self._seq = itertools.count()

    def __len__(self) -> int:
        return len(self._at)

    def scheduled_at(self, key: K) -> float | None:
        return self._at.get(key)

    def schedule(self, key: K, when: float) -> None:
        """Make sure ``key`` comes due no later than ``when``."""
        current = self._at.get(key)
        if current is not None and current <= when:
            return
        self._at[key] = when
        heapq.heappush(self._heap, (when, next(self._seq), key))

    def discard(self, key: K) -> None:
        self._at.pop(key, None)

    def pop_due(self, now: float) -> list[K]:
        """Keys whose time has come (each once), removed from the queue."""
        heap, at, out = self._heap, self._at, []
        while heap and heap[0][0] <= now:
            when, _, key = heapq.heappop(heap)
            if at.get(key) == when:
                del at[key]
                out.append(key)
        return out

    def next_at(self) -> float | None:
        """When the earliest live entry comes due (drops stale entries on the way)."""
        heap, at = self._heap, self._at
        while heap and at.get(heap[0][2]) != heap[0][0]:
            heapq.heappop(heap)
        return heap[0][0] if heap else None
