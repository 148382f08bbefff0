"""Alarm lists for operators: filters (time, level, state, region, type) and the
source camera's name, place and channel, so the console shows "城关镇人民路…球机"
rather than a 20-digit code and can open its live video in one click (issue 17).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, func, or_, select

from sharpeyes.sharing.principal import Principal
from sharpeyes.sharing.scope import scope_devices
from sharpeyes.store.db import Database
from sharpeyes.store.models import Alarm, Channel, Device
from sharpeyes.store.paging import Page


class AlarmState(StrEnum):
    NEW = "new"  # not yet acknowledged
    ACKED = "acked"


@dataclass(frozen=True, slots=True)
class AlarmFilters:
    device_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    priorities: tuple[int, ...] = ()
    state: AlarmState | None = None
    region: str | None = None  # civil-code prefix of the source channel (or its code)
    alarm_type: int | None = None
    method: int | None = None


def _source_join() -> Any:
    return and_(Channel.device_id == Alarm.device_id, Channel.channel_id == Alarm.alarm_device_id)


def _filtered(principal: Principal, f: AlarmFilters) -> Any:
    stmt = (
        select(Alarm, Channel.id, Channel.name, Channel.address, Channel.civil_code)
        .join(Device, Device.id == Alarm.device_id)
        .outerjoin(Channel, _source_join())
    )
    stmt = scope_devices(stmt, principal)
    if f.device_id:
        stmt = stmt.where(Alarm.device_id == f.device_id)
    if f.since:
        stmt = stmt.where(Alarm.received_at >= f.since)
    if f.until:
        stmt = stmt.where(Alarm.received_at < f.until)
    if f.priorities:
        stmt = stmt.where(Alarm.priority.in_(f.priorities))
    if f.state is AlarmState.NEW:
        stmt = stmt.where(Alarm.acknowledged_at.is_(None))
    elif f.state is AlarmState.ACKED:
        stmt = stmt.where(Alarm.acknowledged_at.is_not(None))
    if f.region:
        stmt = stmt.where(
            or_(
                Channel.civil_code.startswith(f.region, autoescape=True),
                Alarm.alarm_device_id.startswith(f.region, autoescape=True),
            )
        )
    if f.alarm_type is not None:
        stmt = stmt.where(Alarm.alarm_type == f.alarm_type)
    if f.method is not None:
        stmt = stmt.where(Alarm.method == f.method)
    return stmt


def _row(alarm: Alarm, pk: int | None, name: str | None, address: str | None, civil: str | None):
    out = {c.name: getattr(alarm, c.name) for c in Alarm.__table__.columns}
    out |= {
        "source_channel_pk": pk,
        "source_name": name,
        "source_address": address,
        "source_civil_code": civil,
    }
    return out


async def list_alarms(
    db: Database, principal: Principal, f: AlarmFilters, *, offset: int = 0, limit: int = 100
) -> Page:
    stmt = _filtered(principal, f)
    async with db.session() as s:
        total = (
            await s.execute(select(func.count()).select_from(stmt.order_by(None).subquery()))
        ).scalar_one()
        rows = (
            await s.execute(
                stmt.order_by(Alarm.received_at.desc(), Alarm.id.desc()).offset(offset).limit(limit)
            )
        ).all()
    return Page([_row(*r) for r in rows], total, offset, limit)


async def unread_count(db: Database, principal: Principal) -> int:
    """Alarms in the principal's scope nobody has acknowledged (the header bell)."""
    stmt = scope_devices(
        select(func.count(Alarm.id))
        .join(Device, Device.id == Alarm.device_id)
        .where(Alarm.acknowledged_at.is_(None)),
        principal,
    )
    async with db.session() as s:
        return int((await s.execute(stmt)).scalar_one())


async def alarm_source(db: Database, device_id: str, alarm_device_id: str) -> dict[str, Any]:
    """Name, place and channel pk of an alarm's source (for the live ``alarm`` event)."""
    stmt = select(Channel.id, Channel.name, Channel.address).where(
        Channel.device_id == device_id, Channel.channel_id == alarm_device_id
    )
    async with db.session() as s:
        row = (await s.execute(stmt)).first()
        if row is None:  # the alarm names the device itself: its name, no channel
            dev = await s.get(Device, device_id)
            return {"source_channel_pk": None, "source_name": dev.name if dev else None}
    return {"source_channel_pk": row[0], "source_name": row[1], "source_address": row[2]}
