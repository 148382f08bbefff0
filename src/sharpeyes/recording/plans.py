"""Record plans: which channels the platform records, when, and for how long.

A plan names channels directly and/or by selectors (devices, civil-code regions,
ledger organisations and point classes). A channel may be in several plans: it is
recorded whenever any of its enabled plans' schedules is on (the union) and kept
for the longest ``storage_days``. Schedules are local time (``sip.timezone``);
an empty schedule means always. The schedule rules are pure functions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from pydantic import BaseModel, Field, field_validator
from sqlalchemy import or_, select

from sharpeyes.ledger.models import CameraRecord
from sharpeyes.recording.models import RecordPlan
from sharpeyes.store.db import Database
from sharpeyes.store.models import Channel, ChannelKind

_HHMM = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]|24:00")


class PlanNotFound(LookupError):
    pass


class Window(BaseModel):
    weekday: int = Field(ge=0, le=6, description="Monday 0 … Sunday 6")
    start: str = "00:00"
    end: str = "24:00"

    @field_validator("start", "end")
    @classmethod
    def _hhmm(cls, v: str) -> str:
        if not _HHMM.fullmatch(v):
            raise ValueError("times are HH:MM (00:00–24:00)")
        return v


class Selectors(BaseModel):
    devices: list[str] = Field(default_factory=list, max_length=10_000)
    regions: list[str] = Field(default_factory=list, max_length=1000)
    orgs: list[int] = Field(default_factory=list, max_length=1000)
    classes: list[int] = Field(default_factory=list, max_length=10)


class PlanIn(BaseModel):
    name: str = Field(min_length=1, max_length=128)
    schedule: list[Window] | None = None
    storage_days: int = Field(default=30, ge=1, le=3650)
    stream: str = Field(default="main", pattern="^(main|sub)$")
    channels: list[int] = Field(default_factory=list, max_length=100_000)
    selectors: Selectors = Field(default_factory=Selectors)
    enabled: bool = True

    @field_validator("schedule")
    @classmethod
    def _windows(cls, v: list[Window] | None) -> list[Window] | None:
        for w in v or []:
            if _minutes(w.end) <= _minutes(w.start):
                raise ValueError("a schedule window must end after it starts")
        return v


def _minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def active(schedule: Sequence[dict[str, Any]] | None, at: datetime) -> bool:
    """Whether a schedule is on at local time ``at`` (empty: always)."""
    if not schedule:
        return True
    minute = at.hour * 60 + at.minute
    wd = at.weekday()
    return any(
        w["weekday"] == wd and _minutes(w["start"]) <= minute < _minutes(w["end"]) for w in schedule
    )


def scheduled_windows(
    schedules: Iterable[Sequence[dict[str, Any]] | None], day: date, tz: tzinfo
) -> list[tuple[float, float]]:
    """The union of the schedules on a local day, as Unix-second spans."""
    midnight = datetime.combine(day, time(0), tz)
    spans: list[tuple[float, float]] = []
    for schedule in schedules:
        if not schedule:
            next_day = datetime.combine(day + timedelta(days=1), time(0), tz)
            spans.append((midnight.timestamp(), next_day.timestamp()))
            continue
        for w in schedule:
            if w["weekday"] == day.weekday():
                begin = midnight + timedelta(minutes=_minutes(w["start"]))
                finish = midnight + timedelta(minutes=_minutes(w["end"]))
                spans.append((begin.timestamp(), finish.timestamp()))
    spans.sort()
    out: list[list[float]] = []
    for s, e in spans:
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [(s, e) for s, e in out]


@dataclass(frozen=True, slots=True)
class Wanted:
    """A channel some plan wants recorded now."""

    channel_pk: int
    stream: str
    storage_days: int


def plan_dict(p: RecordPlan) -> dict[str, Any]:
    return {
        "id": p.id,
        "name": p.name,
        "schedule": p.schedule or [],
        "storage_days": p.storage_days,
        "stream": p.stream,
        "channels": p.channels or [],
        "selectors": p.selectors or {},
        "enabled": p.enabled,
        "created_by": p.created_by,
        "created_at": p.created_at,
        "updated_at": p.updated_at,
    }


class PlanStore:
    def __init__(self, db: Database, tz: tzinfo) -> None:
        self.db = db
        self.tz = tz

    async def create(self, body: PlanIn, by: str) -> dict[str, Any]:
        async with self.db.session() as s:
            plan = RecordPlan(created_by=by, **self._columns(body))
            s.add(plan)
            await s.commit()
            await s.refresh(plan)
            return plan_dict(plan)

    async def update(self, plan_id: int, body: PlanIn) -> dict[str, Any]:
        async with self.db.session() as s:
            plan = await s.get(RecordPlan, plan_id)
            if plan is None:
                raise PlanNotFound(plan_id)
            for k, v in self._columns(body).items():
                setattr(plan, k, v)
            await s.commit()
            await s.refresh(plan)
            return plan_dict(plan)

    async def delete(self, plan_id: int) -> None:
        async with self.db.session() as s:
            plan = await s.get(RecordPlan, plan_id)
            if plan is None:
                raise PlanNotFound(plan_id)
            await s.delete(plan)
            await s.commit()

    async def get(self, plan_id: int) -> dict[str, Any]:
        async with self.db.session() as s:
            plan = await s.get(RecordPlan, plan_id)
            if plan is None:
                raise PlanNotFound(plan_id)
            return plan_dict(plan)

    async def list_all(self) -> list[dict[str, Any]]:
        async with self.db.session() as s:
            rows = (await s.execute(select(RecordPlan).order_by(RecordPlan.id))).scalars()
            return [plan_dict(p) for p in rows]

    @staticmethod
    def _columns(body: PlanIn) -> dict[str, Any]:
        return {
            "name": body.name,
            "schedule": [w.model_dump() for w in body.schedule or []],
            "storage_days": body.storage_days,
            "stream": body.stream,
            "channels": sorted(set(body.channels)),
            "selectors": body.selectors.model_dump(),
            "enabled": body.enabled,
        }

    async def members(self, plan: RecordPlan) -> set[int]:
        """The channel pks a plan covers (explicit list plus selectors)."""
        pks = set(plan.channels or [])
        sel = plan.selectors or {}
        conds: list[Any] = []
        if sel.get("devices"):
            conds.append(Channel.device_id.in_(sel["devices"]))
        for prefix in sel.get("regions") or []:
            conds.append(Channel.civil_code.startswith(prefix))
        ledger: list[Any] = []
        if sel.get("orgs"):
            ledger.append(CameraRecord.owner_org_id.in_(sel["orgs"]))
        if sel.get("classes"):
            ledger.append(CameraRecord.point_class.in_(sel["classes"]))
        async with self.db.session() as s:
            if conds:
                stmt = select(Channel.id).where(
                    Channel.kind == ChannelKind.CHANNEL.value, or_(*conds)
                )
                pks.update((await s.execute(stmt)).scalars())
            if ledger:
                stmt = (
                    select(Channel.id)
                    .join(CameraRecord, CameraRecord.code == Channel.channel_id)
                    .where(Channel.kind == ChannelKind.CHANNEL.value, or_(*ledger))
                )
                pks.update((await s.execute(stmt)).scalars())
        return pks

    async def wanted(self, now: float) -> dict[int, Wanted]:
        """Channels to record now: union of active schedules, longest retention, main first."""
        at = datetime.fromtimestamp(now, self.tz)
        out: dict[int, Wanted] = {}
        async with self.db.session() as s:
            plans = list((await s.execute(select(RecordPlan).where(RecordPlan.enabled))).scalars())
        for plan in plans:
            if not active(plan.schedule, at):
                continue
            for pk in await self.members(plan):
                prev = out.get(pk)
                days = max(plan.storage_days, prev.storage_days if prev else 0)
                stream = (
                    "main" if plan.stream == "main" or (prev and prev.stream == "main") else "sub"
                )
                out[pk] = Wanted(pk, stream, days)
        return out

    async def schedules_of(self, channel_pk: int) -> list[list[dict[str, Any]] | None]:
        async with self.db.session() as s:
            plans = list((await s.execute(select(RecordPlan).where(RecordPlan.enabled))).scalars())
        return [p.schedule for p in plans if channel_pk in await self.members(p)]


__all__ = [
    "PlanIn",
    "PlanNotFound",
    "PlanStore",
    "Wanted",
    "active",
    "plan_dict",
    "scheduled_windows",
]
