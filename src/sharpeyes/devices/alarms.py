"""Device alarms (A.2.5 Notify Alarm): stored before the 200 OK, then published."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sharpeyes.events import EventBus
from sharpeyes.gb28181.manscdp import ManscdpMessage
from sharpeyes.store.db import Database
from sharpeyes.store.models import Alarm

_KNOWN = {
    "AlarmPriority",
    "AlarmMethod",
    "AlarmTime",
    "AlarmDescription",
    "Longitude",
    "Latitude",
    "AlarmType",
}


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text not in (None, "") else None  # type: ignore[arg-type]
    except ValueError:
        return None


def _float(text: str | None) -> float | None:
    try:
        value = float(text) if text not in (None, "") else None  # type: ignore[arg-type]
    except ValueError:
        return None
    return value if value is not None and -1000 < value < 1000 else None


class AlarmService:
    def __init__(self, db: Database, bus: EventBus, timezone: str = "Asia/Shanghai") -> None:
        self.db = db
        self.bus = bus
        self.tz = ZoneInfo(timezone)

    def _device_time(self, text: str | None) -> datetime | None:
        """Device clocks send local time without a zone (GB convention)."""
        if not text:
            return None
        try:
            dt = datetime.fromisoformat(text.strip().replace(" ", "T"))
        except ValueError:
            return None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=self.tz)
        return dt.astimezone(UTC)

    async def record(self, device_id: str, msg: ManscdpMessage, now: float) -> int:
        f = msg.fields
        extra: dict[str, Any] = {k: v for k, v in f.items() if k not in _KNOWN}
        alarm = Alarm(
            device_id=device_id,
            alarm_device_id=(msg.device_id or device_id)[:32],
            priority=_int(f.get("AlarmPriority")),
            method=_int(f.get("AlarmMethod")),
            alarm_type=_int(f.get("AlarmType")),
            alarm_time=self._device_time(f.get("AlarmTime")),
            received_at=datetime.fromtimestamp(now, UTC),
            description=(f.get("AlarmDescription") or None),
            longitude=_float(f.get("Longitude")),
            latitude=_float(f.get("Latitude")),
            extra=extra or None,
        )
        async with self.db.session() as s:
            s.add(alarm)
            await s.commit()
        from sharpeyes.devices.alarm_views import alarm_source

        source = await alarm_source(self.db, device_id, alarm.alarm_device_id)
        self.bus.publish(
            "alarm",
            **source,
            id=alarm.id,
            device_id=device_id,
            alarm_device_id=alarm.alarm_device_id,
            priority=alarm.priority,
            method=alarm.method,
            alarm_type=alarm.alarm_type,
            description=alarm.description,
            alarm_time=alarm.alarm_time.isoformat() if alarm.alarm_time else None,
        )
        return alarm.id
