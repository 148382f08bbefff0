"""Work orders (工单): every fault becomes a tracked order with a deadline.

States and who moves them (every transition is stored as a ``WorkOrderEvent`` with
its actor)::

    reported ─confirm→ confirmed ─dispatch→ dispatched ─feedback→ feedback
        │                                       ▲                   │ confirm_feedback
        └reject→ rejected ─close→ closed        └──reject (rework)──┤
                                                                    ▼
                                  closed ←close─ feedback_confirmed
    confirmed / dispatched / feedback ─suspend→ suspended ─resume→ (back)
    closed / rejected ─reopen→ dispatched

The SLA deadline is ``opened_at + sla_hours[level]``; time suspended does not count
(resuming moves the deadline by it); an approved extension moves it by the asked
time. :meth:`WorkOrders.tick` marks open orders past their deadline overdue. Orders
opened from an alarm get ``close_suggested`` when the alarm recovers.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select, update

from sharpeyes.events import EventBus
from sharpeyes.health.models import WorkOrder, WorkOrderEvent
from sharpeyes.sharing.principal import Principal
from sharpeyes.sharing.scope import scope_by_region
from sharpeyes.store.db import Database

MAX_ATTACHMENT = 8 * 1024 * 1024


class OrderState(StrEnum):
    REPORTED = "reported"
    CONFIRMED = "confirmed"
    DISPATCHED = "dispatched"
    FEEDBACK = "feedback"
    FEEDBACK_CONFIRMED = "feedback_confirmed"
    CLOSED = "closed"
    REJECTED = "rejected"
    SUSPENDED = "suspended"


S = OrderState
OPEN = frozenset(
    {S.REPORTED, S.CONFIRMED, S.DISPATCHED, S.FEEDBACK, S.FEEDBACK_CONFIRMED, S.SUSPENDED}
)

# action → {from state: to state}
TRANSITIONS: dict[str, dict[OrderState, OrderState]] = {
    "confirm": {S.REPORTED: S.CONFIRMED},
    "dispatch": {S.CONFIRMED: S.DISPATCHED, S.DISPATCHED: S.DISPATCHED},  # re-dispatch
    "feedback": {S.DISPATCHED: S.FEEDBACK},
    "confirm_feedback": {S.FEEDBACK: S.FEEDBACK_CONFIRMED},
    "reject": {S.REPORTED: S.REJECTED, S.FEEDBACK: S.DISPATCHED},
    "close": {S.FEEDBACK_CONFIRMED: S.CLOSED, S.REJECTED: S.CLOSED},
    "suspend": {S.CONFIRMED: S.SUSPENDED, S.DISPATCHED: S.SUSPENDED, S.FEEDBACK: S.SUSPENDED},
    "resume": {},  # back to the state it was suspended in
    "reopen": {S.CLOSED: S.DISPATCHED, S.REJECTED: S.DISPATCHED},
    "extend": {},  # asks for more time; the state does not change
    "approve_extension": {},
    "deny_extension": {},
}
ACTIONS = tuple(TRANSITIONS)


class WorkOrderError(ValueError):
    """A transition the order's state does not allow, or bad input (HTTP 409/422)."""


def order_dict(o: WorkOrder) -> dict[str, Any]:
    return {
        "id": o.id,
        "title": o.title,
        "state": o.state,
        "level": o.level,
        "alarm_id": o.alarm_id,
        "device_id": o.device_id,
        "channel_id": o.channel_id,
        "region_code": o.region_code,
        "maintainer_org_id": o.maintainer_org_id,
        "assignee": o.assignee,
        "opened_by": o.opened_by,
        "opened_at": o.opened_at,
        "deadline": o.deadline,
        "overdue": o.overdue,
        "suspended_at": o.suspended_at,
        "closed_at": o.closed_at,
        "closed_in_time": o.closed_in_time,
        "close_suggested": o.close_suggested,
        "pending_extension_s": o.pending_extension_s,
        "note": o.note,
    }


def event_dict(e: WorkOrderEvent) -> dict[str, Any]:
    return {
        "id": e.id,
        "at": e.at,
        "actor": e.actor,
        "action": e.action,
        "from_state": e.from_state,
        "to_state": e.to_state,
        "note": e.note,
        "attachment_name": e.attachment_name,
        "has_attachment": e.attachment is not None,
    }


class WorkOrders:
    def __init__(self, db: Database, bus: EventBus, sla_hours: dict[str, float]) -> None:
        self.db = db
        self.bus = bus
        self.sla_hours = sla_hours

    def _sla(self, level: str) -> timedelta:
        if level not in self.sla_hours:
            raise WorkOrderError(f"level must be one of {', '.join(self.sla_hours)}")
        return timedelta(hours=self.sla_hours[level])

    async def open(
        self,
        *,
        title: str,
        level: str,
        actor: str,
        now: datetime | None = None,
        alarm_id: int | None = None,
        device_id: str | None = None,
        channel_id: str | None = None,
        region_code: str | None = None,
        maintainer_org_id: int | None = None,
        assignee: str | None = None,
        note: str | None = None,
    ) -> dict[str, Any]:
        now = now or datetime.now(UTC)
        if not title.strip():
            raise WorkOrderError("title is required")
        order = WorkOrder(
            title=title[:256],
            state=S.REPORTED.value,
            level=level,
            alarm_id=alarm_id,
            device_id=device_id,
            channel_id=channel_id,
            region_code=region_code,
            maintainer_org_id=maintainer_org_id,
            assignee=assignee,
            opened_by=actor,
            opened_at=now,
            deadline=now + self._sla(level),
            overdue=False,
            suspended_s=0.0,
            close_suggested=False,
            note=note,
        )
        async with self.db.session() as s:
            s.add(order)
            await s.flush()
            s.add(
                WorkOrderEvent(
                    order_id=order.id,
                    at=now,
                    actor=actor,
                    action="report",
                    from_state=None,
                    to_state=order.state,
                    note=note,
                )
            )
            await s.commit()
            out = order_dict(order)
        self.bus.publish("om.workorder", id=out["id"], state=out["state"], action="report")
        return out

    async def open_from_alarm(
        self,
        alarm: dict[str, Any],
        maintainer_org_id: int | None = None,
        now: datetime | None = None,
    ) -> dict[str, Any]:
        """Auto-open (by rule): one open order per alarm, whatever the alarm repeats."""
        async with self.db.session() as s:
            existing = (
                await s.execute(
                    select(WorkOrder).where(
                        WorkOrder.alarm_id == alarm["id"],
                        WorkOrder.state.in_([x.value for x in OPEN]),
                    )
                )
            ).scalar_one_or_none()
            if existing is not None:
                return order_dict(existing)
        return await self.open(
            title=f"{alarm['kind']}: {alarm.get('message') or alarm['source_key']}",
            level=alarm["level"],
            actor="system",
            now=now or alarm.get("last_at"),
            alarm_id=alarm["id"],
            device_id=alarm.get("device_id"),
            channel_id=alarm.get("channel_id"),
            region_code=alarm.get("region_code"),
            maintainer_org_id=maintainer_org_id,
        )

    async def suggest_close(self, alarm_id: int, now: datetime | None = None) -> list[int]:
        """The alarm recovered: suggest closing its open orders (people still decide)."""
        now = now or datetime.now(UTC)
        async with self.db.session() as s:
            rows = (
                (
                    await s.execute(
                        select(WorkOrder).where(
                            WorkOrder.alarm_id == alarm_id,
                            WorkOrder.state.in_([x.value for x in OPEN]),
                        )
                    )
                )
                .scalars()
                .all()
            )
            for o in rows:
                o.close_suggested = True
                s.add(
                    WorkOrderEvent(
                        order_id=o.id,
                        at=now,
                        actor="system",
                        action="suggest_close",
                        from_state=o.state,
                        to_state=o.state,
                        note="the alarm recovered",
                    )
                )
            await s.commit()
        return [o.id for o in rows]

    async def act(
        self,
        order_id: int,
        action: str,
        actor: str,
        *,
        now: datetime | None = None,
        note: str | None = None,
        assignee: str | None = None,
        extend_s: float | None = None,
        attachment_name: str | None = None,
        attachment: bytes | None = None,
    ) -> dict[str, Any]:
        now = now or datetime.now(UTC)
        if action not in TRANSITIONS:
            raise WorkOrderError(f"action must be one of {', '.join(ACTIONS)}")
        if attachment is not None and len(attachment) > MAX_ATTACHMENT:
            raise WorkOrderError("attachment larger than 8 MiB")
        async with self.db.session() as s:
            o = await s.get(WorkOrder, order_id)
            if o is None:
                raise LookupError(f"work order {order_id}")
            before = S(o.state)
            after = self._apply(o, action, before, now, note, assignee, extend_s)
            o.state = after.value
            s.add(
                WorkOrderEvent(
                    order_id=o.id,
                    at=now,
                    actor=actor,
                    action=action,
                    from_state=before.value,
                    to_state=after.value,
                    note=note,
                    attachment_name=attachment_name,
                    attachment=attachment,
                )
            )
            await s.commit()
            out = order_dict(o)
        self.bus.publish("om.workorder", id=order_id, state=out["state"], action=action)
        return out

    def _apply(
        self,
        o: WorkOrder,
        action: str,
        before: OrderState,
        now: datetime,
        note: str | None,
        assignee: str | None,
        extend_s: float | None,
    ) -> OrderState:
        if action == "resume":
            if before != S.SUSPENDED or o.suspended_at is None:
                raise WorkOrderError("only a suspended order resumes")
            paused = now - o.suspended_at
            o.suspended_s += paused.total_seconds()
            o.deadline = o.deadline + paused  # the SLA clock stood still
            o.suspended_at = None
            return S(o.resume_state or S.DISPATCHED)
        if action == "extend":
            if before not in OPEN:
                raise WorkOrderError("only an open order can be extended")
            if not extend_s or extend_s <= 0 or not note:
                raise WorkOrderError("an extension needs extend_s > 0 and a reason (note)")
            o.pending_extension_s = float(extend_s)
            return before
        if action in ("approve_extension", "deny_extension"):
            if o.pending_extension_s is None:
                raise WorkOrderError("no extension is waiting for approval")
            if action == "approve_extension":
                o.deadline = o.deadline + timedelta(seconds=o.pending_extension_s)
                if o.overdue and now <= o.deadline:
                    o.overdue = False
            o.pending_extension_s = None
            return before
        table = TRANSITIONS[action]
        if before not in table:
            raise WorkOrderError(f"cannot {action} an order that is {before.value}")
        after = table[before]
        if action == "dispatch":
            if not (assignee or o.assignee):
                raise WorkOrderError("dispatch needs an assignee")
            o.assignee = assignee or o.assignee
        elif action == "feedback" and not note:
            raise WorkOrderError("feedback needs a note")
        elif action == "suspend":
            if not note:
                raise WorkOrderError("suspending needs a reason (note)")
            o.suspended_at = now
            o.resume_state = before.value
        elif action == "close":
            o.closed_at = now
            o.closed_in_time = now <= o.deadline
        elif action == "reopen":
            o.closed_at = None
            o.closed_in_time = None
            o.close_suggested = False
        return after

    async def tick(self, now: datetime) -> list[int]:
        """Mark open orders past their deadline overdue (suspended ones are paused)."""
        running = [x.value for x in OPEN if x != S.SUSPENDED]
        async with self.db.session() as s:
            ids = list(
                (
                    await s.execute(
                        select(WorkOrder.id).where(
                            WorkOrder.state.in_(running),
                            WorkOrder.overdue.is_(False),
                            WorkOrder.deadline < now,
                        )
                    )
                ).scalars()
            )
            if ids:
                await s.execute(update(WorkOrder).where(WorkOrder.id.in_(ids)).values(overdue=True))
                await s.commit()
        for i in ids:
            self.bus.publish("om.workorder", id=i, state=None, action="overdue")
        return ids

    async def get(self, order_id: int) -> dict[str, Any]:
        async with self.db.session() as s:
            o = await s.get(WorkOrder, order_id)
            if o is None:
                raise LookupError(f"work order {order_id}")
            events = (
                (
                    await s.execute(
                        select(WorkOrderEvent)
                        .where(WorkOrderEvent.order_id == order_id)
                        .order_by(WorkOrderEvent.id)
                    )
                )
                .scalars()
                .all()
            )
            return {**order_dict(o), "events": [event_dict(e) for e in events]}

    async def attachment(self, order_id: int, event_id: int) -> tuple[str, bytes]:
        async with self.db.session() as s:
            e = await s.get(WorkOrderEvent, event_id)
            if e is None or e.order_id != order_id or e.attachment is None:
                raise LookupError(f"attachment {event_id}")
            return e.attachment_name or "attachment", e.attachment

    async def list(
        self,
        *,
        state: str | None = None,
        overdue: bool | None = None,
        principal: Principal | None = None,
        limit: int = 500,
    ) -> list[dict[str, Any]]:
        """Board order: overdue first, then the nearest deadline (the principal's regions)."""
        stmt = select(WorkOrder).order_by(WorkOrder.overdue.desc(), WorkOrder.deadline)
        if state:
            stmt = stmt.where(WorkOrder.state == state)
        if overdue is not None:
            stmt = stmt.where(WorkOrder.overdue.is_(overdue))
        async with self.db.session() as s:
            rows = (await s.execute(_scoped(stmt, principal).limit(limit))).scalars().all()
        return [order_dict(o) for o in rows]

    async def stats(
        self, since: datetime, until: datetime, principal: Principal | None = None
    ) -> dict[str, Any]:
        """Timeliness, workload per maintainer/assignee, repeat faults per camera — of
        the orders in the principal's regions only (None: all)."""
        stmt = select(WorkOrder).where(WorkOrder.opened_at >= since, WorkOrder.opened_at < until)
        async with self.db.session() as s:
            rows = (await s.execute(_scoped(stmt, principal))).scalars().all()
        closed = [o for o in rows if o.closed_at is not None]
        in_time = sum(1 for o in closed if o.closed_in_time)
        workload: dict[str, dict[str, int]] = {}
        for o in rows:
            w = workload.setdefault(o.assignee or "-", {"open": 0, "closed": 0, "overdue": 0})
            w["closed" if o.closed_at else "open"] += 1
            w["overdue"] += int(o.overdue)
        per_camera = Counter(o.channel_id for o in rows if o.channel_id)
        return {
            "orders": len(rows),
            "closed": len(closed),
            "closed_in_time": in_time,
            "timeliness": round(100.0 * in_time / len(closed), 2) if closed else None,
            "overdue": sum(1 for o in rows if o.overdue),
            "workload": workload,
            "repeat_faults": {k: n for k, n in per_camera.most_common() if n > 1},
        }

    async def repair_counts(self, since: datetime, until: datetime) -> list[dict[str, Any]]:
        """Faults (orders) opened in the range and whether each was closed in time."""
        async with self.db.session() as s:
            rows = (
                await s.execute(
                    select(
                        WorkOrder.region_code,
                        WorkOrder.channel_id,
                        WorkOrder.maintainer_org_id,
                        WorkOrder.closed_in_time,
                        WorkOrder.opened_at,
                        WorkOrder.state,
                    ).where(
                        WorkOrder.opened_at >= since,
                        WorkOrder.opened_at < until,
                        WorkOrder.state != S.REJECTED.value,
                    )
                )
            ).all()
        return [
            {
                "region_code": r[0],
                "channel_id": r[1],
                "maintainer_org_id": r[2],
                "fixed_in_time": bool(r[3]),
                "opened_at": r[4],
            }
            for r in rows
        ]


def _scoped(stmt: Any, principal: Principal | None) -> Any:
    """Orders of the principal's regions: by region code, else by the channel's ID
    (whose first digits are its civil code), as the board and detail routes judge."""
    if principal is None:
        return stmt
    region = func.coalesce(func.nullif(WorkOrder.region_code, ""), WorkOrder.channel_id, "")
    return scope_by_region(stmt, region, principal)


def link_alarms(centre: Any, orders: WorkOrders, maintainer_of: Any = None) -> None:
    """Open orders for alarms whose rule says so; suggest closing them on recovery.

    ``maintainer_of(channel_id)`` (async, optional) assigns the order to the camera's
    maintainer organisation from the ledger.
    """

    async def on_triggered(alarm: dict[str, Any], rule: Any) -> None:
        if rule is None or not rule.auto_work_order:
            return
        org = await maintainer_of(alarm.get("channel_id")) if maintainer_of else None
        await orders.open_from_alarm(alarm, maintainer_org_id=org)

    async def on_recovered(alarm: dict[str, Any], rule: Any) -> None:
        await orders.suggest_close(alarm["id"], alarm.get("recovered_at"))

    centre.on_triggered.append(on_triggered)
    centre.on_recovered.append(on_recovered)


__all__ = ["ACTIONS", "OrderState", "WorkOrderError", "WorkOrders", "link_alarms"]
