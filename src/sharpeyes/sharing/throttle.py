"""Lock out a key (username, client IP, SIP source IP) after repeated failures.

Sans-IO: the caller passes ``now`` (monotonic seconds). Memory is bounded by
``max_keys``: the least recently touched key is forgotten first. An attacker who
sprays more than ``max_keys`` distinct keys can therefore push an old lockout out;
the bound exists so that such a spray cannot exhaust memory instead.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Hashable
from dataclasses import dataclass, field


@dataclass(slots=True)
class _Entry:
    failures: deque[float] = field(default_factory=deque)
    locked_until: float = 0.0


class FailureThrottle:
    """``max_failures`` failures within ``window_s`` lock the key for ``lockout_s``."""

    def __init__(
        self,
        max_failures: int,
        window_s: float,
        lockout_s: float,
        max_keys: int = 100_000,
    ) -> None:
        if max_failures < 1 or window_s <= 0 or lockout_s < 0 or max_keys < 1:
            raise ValueError("invalid throttle parameters")
        self.max_failures = max_failures
        self.window_s = window_s
        self.lockout_s = lockout_s
        self.max_keys = max_keys
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def is_locked(self, key: Hashable, now: float) -> float:
        """Seconds until ``key`` may try again; 0.0 if it is not locked."""
        entry = self._entries.get(key)
        if entry is None:
            return 0.0
        if entry.locked_until > now:
            return entry.locked_until - now
        if entry.locked_until and not entry.failures:
            del self._entries[key]  # lock expired and nothing else to remember
        return 0.0

    def record_failure(self, key: Hashable, now: float) -> float:
        """Count a failure; returns the lockout now in force (0.0 if none).

        Failures while locked are not counted, so a locked key is never extended
        past ``lockout_s`` by its own retries.
        """
        entry = self._entries.get(key)
        if entry is None:
            entry = self._entries[key] = _Entry()
            if len(self._entries) > self.max_keys:
                self._entries.popitem(last=False)
        else:
            self._entries.move_to_end(key)
            if entry.locked_until > now:
                return entry.locked_until - now
        failures = entry.failures
        horizon = now - self.window_s
        while failures and failures[0] <= horizon:
            failures.popleft()
        failures.append(now)
        if len(failures) >= self.max_failures:
            failures.clear()
            entry.locked_until = now + self.lockout_s
            return self.lockout_s
        return 0.0

    def record_success(self, key: Hashable) -> None:
        """Forget the key entirely (failures and lock); callers check is_locked first."""
        self._entries.pop(key, None)
