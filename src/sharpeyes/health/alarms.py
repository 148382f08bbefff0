"""Alarm centre (告警中心): platform conditions become alarms by rule, with dedup, flap
damping, auto-recovery and notification (webhook, SMTP e-mail).

Sources call :meth:`AlarmCentre.raise_condition` while a condition holds (a channel
offline, a VQD fault, clock drift…) and :meth:`AlarmCentre.clear_condition` when it
clears; ``source_key`` names the thing (``kind:device/channel``). Time is passed in
(``now``), so dedup and damping are tested without sleeping.

- Dedup: while an alarm for a key is active, raising again only counts; a key that
  recovered less than ``dedup_s`` ago is reopened rather than duplicated.
- Flap damping: more than ``flap_max_changes`` raise/clear changes of one key within
  ``flap_window_s`` mark the alarm *flapping*: no more notifications, and it recovers
  only after the condition stayed clear for a whole window (see :meth:`tick`).
- States: triggered → shown → acknowledged → handled, and recovered from any of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import smtplib
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from enum import StrEnum
from typing import Any

import httpx
from sqlalchemy import select

from sharpeyes.events import EventBus
from sharpeyes.health.models import AlarmRule, OmAlarm
from sharpeyes.health.settings import AlarmSettings
from sharpeyes.store.db import Database

log = logging.getLogger(__name__)


class Level(StrEnum):
    GENERAL = "general"  # 一般
    IMPORTANT = "important"  # 重要
    URGENT = "urgent"  # 紧急


class AlarmState(StrEnum):
    TRIGGERED = "triggered"
    SHOWN = "shown"
    ACKNOWLEDGED = "acknowledged"
    HANDLED = "handled"
    RECOVERED = "recovered"


class AlarmKind(StrEnum):
    DEVICE_OFFLINE = "device_offline"
    CHANNEL_OFFLINE = "channel_offline"
    VQD_FAULT = "vqd_fault"
    CLOCK_DRIFT = "clock_drift"
    LOCATION = "location"
    RECORDING_GAP = "recording_gap"
    DISK_LOW = "disk_low"
    UPLINK_DOWN = "uplink_down"
    MEDIA_TIMEOUTS = "media_timeouts"
    DEVICE_ALARM = "device_alarm"


DEFAULT_LEVELS: dict[str, Level] = {
    AlarmKind.DEVICE_OFFLINE: Level.IMPORTANT,
    AlarmKind.CHANNEL_OFFLINE: Level.GENERAL,
    AlarmKind.VQD_FAULT: Level.GENERAL,
    AlarmKind.CLOCK_DRIFT: Level.GENERAL,
    AlarmKind.LOCATION: Level.GENERAL,
    AlarmKind.RECORDING_GAP: Level.IMPORTANT,
    AlarmKind.DISK_LOW: Level.URGENT,
    AlarmKind.UPLINK_DOWN: Level.URGENT,
    AlarmKind.MEDIA_TIMEOUTS: Level.IMPORTANT,
    AlarmKind.DEVICE_ALARM: Level.IMPORTANT,
}

ACTIVE = (AlarmState.TRIGGERED, AlarmState.SHOWN, AlarmState.ACKNOWLEDGED, AlarmState.HANDLED)
_ORDER = [AlarmState.TRIGGERED, AlarmState.SHOWN, AlarmState.ACKNOWLEDGED, AlarmState.HANDLED]


class AlarmError(ValueError):
    """A transition the alarm's state does not allow (HTTP 409)."""


@dataclass
class Delivery:
    channel: str  # webhook | email
    target: str
    alarm_id: int
    event: str  # triggered | recovered
    ok: bool
    error: str | None = None


@dataclass
class _Flap:
    changes: deque[datetime] = field(default_factory=deque)
    cleared_at: datetime | None = None


def alarm_dict(a: OmAlarm) -> dict[str, Any]:
    return {
        "id": a.id,
        "rule_id": a.rule_id,
        "kind": a.kind,
        "level": a.level,
        "state": a.state,
        "source_key": a.source_key,
        "device_id": a.device_id,
        "channel_id": a.channel_id,
        "region_code": a.region_code,
        "message": a.message,
        "detail": a.detail,
        "count": a.count,
        "flapping": a.flapping,
        "first_at": a.first_at,
        "last_at": a.last_at,
        "shown_at": a.shown_at,
        "acknowledged_by": a.acknowledged_by,
        "acknowledged_at": a.acknowledged_at,
        "handled_by": a.handled_by,
        "handled_at": a.handled_at,
        "recovered_at": a.recovered_at,
    }


def rule_dict(r: AlarmRule) -> dict[str, Any]:
    return {
        "id": r.id,
        "name": r.name,
        "kind": r.kind,
        "level": r.level,
        "threshold": r.threshold,
        "dedup_s": r.dedup_s,
        "flap_window_s": r.flap_window_s,
        "flap_max_changes": r.flap_max_changes,
        "auto_work_order": r.auto_work_order,
        "notify": r.notify or [],
        "enabled": r.enabled,
    }


class Notifier:
    """Sends alarm notices; every attempt is kept in ``deliveries`` (newest last)."""

    def __init__(self, settings: AlarmSettings) -> None:
        self.settings = settings
        self.deliveries: deque[Delivery] = deque(maxlen=500)
        self._tasks: set[asyncio.Task[None]] = set()

    def send(self, targets: list[dict[str, str]], alarm: dict[str, Any], event: str) -> None:
        for t in targets:
            task = asyncio.create_task(self._send_one(t, alarm, event))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Until every notice in flight was delivered or failed (tests, shutdown)."""
        while self._tasks:
            await asyncio.wait(list(self._tasks), timeout=10)

    async def _send_one(self, target: dict[str, str], alarm: dict[str, Any], event: str) -> None:
        kind = target.get("type", "")
        dest = target.get("url") or target.get("to") or ""
        try:
            if kind == "webhook":
                payload = {"event": event, "alarm": alarm}
                async with httpx.AsyncClient(timeout=self.settings.webhook_timeout_s) as c:
                    r = await c.post(dest, json=_jsonable(payload))
                    r.raise_for_status()
            elif kind == "email":
                await asyncio.to_thread(self._mail, dest, alarm, event)
            else:
                raise ValueError(f"unknown notification type {kind!r}")
        except Exception as exc:
            log.warning("alarm %s: %s notice to %s failed: %s", alarm["id"], kind, dest, exc)
            self.deliveries.append(Delivery(kind, dest, alarm["id"], event, False, str(exc)))
            return
        self.deliveries.append(Delivery(kind, dest, alarm["id"], event, True))

    def _mail(self, to: str, alarm: dict[str, Any], event: str) -> None:
        msg = EmailMessage()
        what = "告警恢复" if event == "recovered" else "告警"
        msg["Subject"] = (
            f"[sharpeyes {what}] {alarm['level']} {alarm['kind']} {alarm['source_key']}"
        )
        msg["From"] = self.settings.smtp_from
        msg["To"] = to
        msg.set_content(
            f"{what}: {alarm['message'] or alarm['kind']}\n"
            f"level: {alarm['level']}\nstate: {alarm['state']}\n"
            f"device: {alarm['device_id']}\nchannel: {alarm['channel_id']}\n"
            f"first: {alarm['first_at']}\nlast: {alarm['last_at']}\ncount: {alarm['count']}\n"
        )
        with smtplib.SMTP(self.settings.smtp_host, self.settings.smtp_port, timeout=10) as smtp:
            smtp.send_message(msg)


def _jsonable(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_jsonable(x) for x in v]
    if isinstance(v, datetime):
        return v.isoformat()
    return v


AlarmHook = Callable[[dict[str, Any], AlarmRule | None], Awaitable[None]]


class AlarmCentre:
    def __init__(self, db: Database, bus: EventBus, settings: AlarmSettings) -> None:
        self.db = db
        self.bus = bus
        self.settings = settings
        self.notifier = Notifier(settings)
        self._flaps: dict[str, _Flap] = {}
        self._lock = asyncio.Lock()
        self.on_triggered: list[AlarmHook] = []
        self.on_recovered: list[AlarmHook] = []

    # ------------------------------------------------------------ rules
    async def create_rule(self, data: dict[str, Any]) -> dict[str, Any]:
        kind = str(data.get("kind", ""))
        if kind not in set(AlarmKind):
            raise AlarmError(f"unknown alarm kind {kind!r}; known: {', '.join(AlarmKind)}")
        level = str(data.get("level") or DEFAULT_LEVELS[kind])
        if level not in set(Level):
            raise AlarmError(f"level must be one of {', '.join(Level)}")
        for t in data.get("notify") or []:
            if t.get("type") not in ("webhook", "email") or not (t.get("url") or t.get("to")):
                raise AlarmError("notify entries are {type: webhook, url} or {type: email, to}")
        rule = AlarmRule(
            name=str(data.get("name") or kind),
            kind=kind,
            level=level,
            threshold=data.get("threshold"),
            dedup_s=float(data.get("dedup_s", 300.0)),
            flap_window_s=float(data.get("flap_window_s", self.settings.flap_window_s)),
            flap_max_changes=int(data.get("flap_max_changes", self.settings.flap_max_changes)),
            auto_work_order=bool(data.get("auto_work_order", False)),
            notify=list(data.get("notify") or []),
            enabled=bool(data.get("enabled", True)),
        )
        async with self.db.session() as s:
            s.add(rule)
            await s.commit()
        return rule_dict(rule)

    async def list_rules(self) -> list[dict[str, Any]]:
        async with self.db.session() as s:
            return [rule_dict(r) for r in (await s.execute(select(AlarmRule))).scalars()]

    async def _rule_for(self, s: Any, kind: str) -> AlarmRule | None:
        stmt = select(AlarmRule).where(AlarmRule.kind == kind, AlarmRule.enabled.is_(True))
        return (await s.execute(stmt.order_by(AlarmRule.id).limit(1))).scalar_one_or_none()

    # ------------------------------------------------------------ conditions
    async def raise_condition(
        self,
        kind: str,
        source_key: str,
        *,
        now: datetime,
        value: float | None = None,
        device_id: str | None = None,
        channel_id: str | None = None,
        region_code: str | None = None,
        message: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> dict[str, Any] | None:
        """The condition holds now; returns the alarm (None when below the threshold)."""
        notify: tuple[AlarmRule | None, dict[str, Any]] | None = None
        async with self._lock, self.db.session() as s:
            rule = await self._rule_for(s, kind)
            threshold = rule.threshold if rule is not None else None
            if threshold is not None and value is not None and abs(value) < threshold:
                return None
            level = rule.level if rule else DEFAULT_LEVELS.get(kind, Level.GENERAL).value
            flap = self._flap(source_key, now, rule)
            alarm = await self._latest(s, source_key)
            if alarm is not None and alarm.state in ACTIVE:
                was_clear = flap.cleared_at is not None
                flap.cleared_at = None
                if was_clear:
                    self._change(flap, now)
                alarm.count += 1
                alarm.last_at = now
                alarm.flapping = alarm.flapping or self._is_flapping(flap, rule)
            elif (
                alarm is not None
                and alarm.recovered_at is not None
                and (now - alarm.recovered_at).total_seconds() < (rule.dedup_s if rule else 300.0)
            ):
                flap.cleared_at = None
                self._change(flap, now)
                alarm.state = AlarmState.TRIGGERED.value
                alarm.recovered_at = None
                alarm.count += 1
                alarm.last_at = now
                alarm.flapping = alarm.flapping or self._is_flapping(flap, rule)
                if not alarm.flapping:
                    notify = (rule, {})
            else:
                flap.cleared_at = None
                self._change(flap, now)
                alarm = OmAlarm(
                    rule_id=rule.id if rule else None,
                    kind=kind,
                    level=level,
                    state=AlarmState.TRIGGERED.value,
                    source_key=source_key,
                    device_id=device_id,
                    channel_id=channel_id,
                    region_code=region_code,
                    message=message,
                    detail=detail,
                    count=1,
                    flapping=False,
                    first_at=now,
                    last_at=now,
                )
                s.add(alarm)
                notify = (rule, {})
            if detail is not None:
                alarm.detail = detail
            await s.commit()
            out = alarm_dict(alarm)
        if notify is not None:
            await self._announce(out, notify[0], "triggered")
        return out

    async def clear_condition(self, source_key: str, *, now: datetime) -> dict[str, Any] | None:
        """The condition cleared: recover now, or later when the key is flapping."""
        async with self._lock, self.db.session() as s:
            alarm = await self._latest(s, source_key)
            if alarm is None or alarm.state not in ACTIVE:
                return None
            rule = await s.get(AlarmRule, alarm.rule_id) if alarm.rule_id else None
            flap = self._flap(source_key, now, rule)
            if flap.cleared_at is None:
                self._change(flap, now)
                flap.cleared_at = now
            alarm.flapping = alarm.flapping or self._is_flapping(flap, rule)
            if alarm.flapping:
                await s.commit()
                return None
            out = await self._recover(s, alarm, now)
        await self._announce(out, rule, "recovered")
        return out

    async def tick(self, now: datetime) -> list[dict[str, Any]]:
        """Recover flapping alarms whose condition stayed clear for a whole window."""
        recovered: list[tuple[dict[str, Any], AlarmRule | None]] = []
        async with self._lock, self.db.session() as s:
            for key, flap in list(self._flaps.items()):
                if flap.cleared_at is None:
                    continue
                alarm = await self._latest(s, key)
                if alarm is None or alarm.state not in ACTIVE:
                    continue
                rule = await s.get(AlarmRule, alarm.rule_id) if alarm.rule_id else None
                window = rule.flap_window_s if rule else self.settings.flap_window_s
                if (now - flap.cleared_at).total_seconds() >= window:
                    recovered.append((await self._recover(s, alarm, now), rule))
                    self._flaps.pop(key, None)
        for out, rule in recovered:
            await self._announce(out, rule, "recovered")
        return [r[0] for r in recovered]

    async def _recover(self, s: Any, alarm: OmAlarm, now: datetime) -> dict[str, Any]:
        alarm.state = AlarmState.RECOVERED.value
        alarm.recovered_at = now
        await s.commit()
        return alarm_dict(alarm)

    def _flap(self, key: str, now: datetime, rule: AlarmRule | None) -> _Flap:
        flap = self._flaps.setdefault(key, _Flap())
        window = timedelta(seconds=rule.flap_window_s if rule else self.settings.flap_window_s)
        while flap.changes and now - flap.changes[0] > window:
            flap.changes.popleft()
        return flap

    @staticmethod
    def _change(flap: _Flap, now: datetime) -> None:
        flap.changes.append(now)

    def _is_flapping(self, flap: _Flap, rule: AlarmRule | None) -> bool:
        limit = rule.flap_max_changes if rule else self.settings.flap_max_changes
        return len(flap.changes) > limit

    async def _latest(self, s: Any, key: str) -> OmAlarm | None:
        stmt = select(OmAlarm).where(OmAlarm.source_key == key).order_by(OmAlarm.id.desc())
        return (await s.execute(stmt.limit(1))).scalar_one_or_none()

    async def _announce(self, alarm: dict[str, Any], rule: AlarmRule | None, event: str) -> None:
        self.bus.publish(f"om.alarm.{event}", **_jsonable(alarm))
        if rule is not None and rule.notify:
            self.notifier.send(list(rule.notify), alarm, event)
        hooks = self.on_triggered if event == "triggered" else self.on_recovered
        for hook in hooks:
            try:
                await hook(alarm, rule)
            except Exception:  # a failing consumer must not lose the alarm
                log.exception("alarm hook failed for alarm %s", alarm["id"])

    # ------------------------------------------------------------ people
    async def transition(
        self, alarm_id: int, to: str, user: str, now: datetime | None = None
    ) -> dict[str, Any]:
        """Move an alarm forward: shown, acknowledged or handled (never backwards)."""
        now = now or datetime.now(UTC)
        try:
            target = AlarmState(to)
        except ValueError as exc:
            raise AlarmError(f"state must be shown, acknowledged or handled, not {to!r}") from exc
        if target not in _ORDER[1:]:
            raise AlarmError("only shown, acknowledged and handled are set by people")
        async with self.db.session() as s:
            alarm = await s.get(OmAlarm, alarm_id)
            if alarm is None:
                raise LookupError(f"alarm {alarm_id}")
            if alarm.state == AlarmState.RECOVERED:
                if target == AlarmState.HANDLED and alarm.handled_at is None:
                    alarm.handled_by, alarm.handled_at = user, now
                    await s.commit()
                    return alarm_dict(alarm)
                raise AlarmError("the alarm has recovered")
            if _ORDER.index(AlarmState(alarm.state)) >= _ORDER.index(target):
                raise AlarmError(f"alarm is already {alarm.state}")
            alarm.state = target.value
            if target == AlarmState.SHOWN:
                alarm.shown_at = now
            elif target == AlarmState.ACKNOWLEDGED:
                alarm.acknowledged_by, alarm.acknowledged_at = user, now
                alarm.shown_at = alarm.shown_at or now
            else:
                alarm.handled_by, alarm.handled_at = user, now
            await s.commit()
            return alarm_dict(alarm)

    async def list(
        self,
        *,
        state: str | None = None,
        kind: str | None = None,
        limit: int = 200,
        region_codes: tuple[str, ...] | None = None,
    ) -> list[dict[str, Any]]:
        stmt = select(OmAlarm).order_by(OmAlarm.id.desc()).limit(limit)
        if state == "active":
            stmt = stmt.where(OmAlarm.state.in_([s.value for s in ACTIVE]))
        elif state:
            stmt = stmt.where(OmAlarm.state == state)
        if kind:
            stmt = stmt.where(OmAlarm.kind == kind)
        async with self.db.session() as s:
            rows = (await s.execute(stmt)).scalars().all()
        out = [alarm_dict(a) for a in rows]
        if region_codes is not None:
            out = [
                a
                for a in out
                if any(
                    (a["region_code"] or a["channel_id"] or a["device_id"] or "").startswith(p)
                    for p in region_codes
                )
            ]
        return out

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            await self.notifier.drain()


__all__ = ["AlarmCentre", "AlarmKind", "AlarmState", "Level"]
