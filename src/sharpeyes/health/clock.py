"""Clock check (校时): a device's ``DeviceTime`` against the server's clock.

GB ``DeviceTime`` is local time without an offset (``yyyy-MM-ddTHH:mm:ss``, some
devices add milliseconds); it is read in the configured zone at this edge.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo


def parse_device_time(text: str, tz: str = "Asia/Shanghai") -> datetime:
    """``DeviceTime`` as an aware UTC datetime; ValueError when it is not a time."""
    value = text.strip().replace(" ", "T")
    try:
        local = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"DeviceTime {text!r} is not yyyy-MM-ddTHH:mm:ss") from exc
    if local.tzinfo is None:
        local = local.replace(tzinfo=ZoneInfo(tz))
    return local.astimezone(UTC)


def drift_seconds(device_time: str, now: datetime, tz: str = "Asia/Shanghai") -> float:
    """Device clock minus server clock, in seconds (positive: the device is ahead)."""
    return round((parse_device_time(device_time, tz) - now).total_seconds(), 3)
