"""Refused registrations, per device, with the reason the registrar gave.

A device refused with 403 (wrong password, pending approval, rejected, throttled)
never appears in the device table; operators still need to see it and why
(issue 17, defect 10). Kept in memory and bounded: it is a diagnosis aid, the
registrar's counters stay the source of ``/api/stats``.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

MAX_DEVICES = 5000


@dataclass(slots=True)
class RegistrationFailure:
    device_id: str
    reason: str  # the SIP reason phrase: "Forbidden", "Pending Approval", …
    status: int
    host: str
    port: int
    first_at: float
    last_at: float
    count: int = 1

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["first_at"] = datetime.fromtimestamp(self.first_at, UTC).isoformat()
        out["last_at"] = datetime.fromtimestamp(self.last_at, UTC).isoformat()
        return out


class RegistrationFailures:
    def __init__(self, max_devices: int = MAX_DEVICES) -> None:
        self.max_devices = max_devices
        self._by_device: OrderedDict[str, RegistrationFailure] = OrderedDict()

    def record(
        self, device_id: str, reason: str, status: int, host: str, port: int, now: float
    ) -> None:
        device_id = device_id[:32]
        cur = self._by_device.pop(device_id, None)
        if cur is None:
            cur = RegistrationFailure(device_id, reason, status, host, port, now, now, 0)
        cur.reason, cur.status, cur.host, cur.port, cur.last_at = reason, status, host, port, now
        cur.count += 1
        self._by_device[device_id] = cur
        while len(self._by_device) > self.max_devices:
            self._by_device.popitem(last=False)

    def clear(self, device_id: str) -> None:
        """A successful registration ends the device's failure story."""
        self._by_device.pop(device_id, None)

    def items(self) -> list[RegistrationFailure]:
        return sorted(self._by_device.values(), key=lambda f: f.last_at, reverse=True)
