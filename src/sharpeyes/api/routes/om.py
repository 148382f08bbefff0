"""Health and O&M (运维): rates, channel timelines, VQD plans/runs/results, the alarm
centre, work orders, assessment and monthly reports. A thin layer over
``health.service``; reads are scoped (分域) like every other read.

Permissions: reads ``devices.read``; VQD runs ``devices.write``; alarm and work-order
handling ``alarms.ack``; alarm rules and patrol plans (configuration) ``users.admin``
— configuration changes and report exports are audited.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from pydantic import BaseModel, Field

from sharpeyes.api.deps import Admin, AlarmHandler, NodeDep, Reader, Writer
from sharpeyes.api.params import Int64
from sharpeyes.health.alarms import AlarmError
from sharpeyes.health.service import HealthError
from sharpeyes.health.workorders import WorkOrderError
from sharpeyes.live.audit import AuditRecord, audit
from sharpeyes.sharing.principal import Principal
from sharpeyes.sharing.scope import region_in_scope

router = APIRouter(tags=["health"])


def _audit(
    node: Any,
    p: Principal,
    action: str,
    target_type: str,
    target_id: str,
    request: Request,
    **detail: Any,
) -> None:
    audit(
        node.bus,
        AuditRecord(
            action=action,
            user_id=p.user_id,
            username=p.username,
            target_type=target_type,
            target_id=target_id,
            device_id="",
            client_ip=request.client.host if request.client else None,
            detail=detail,
        ),
    )


def _svc(node: Any) -> Any:
    svc = getattr(node, "health", None)
    if svc is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "health domain not running")
    return svc


# ------------------------------------------------------------------ rates
@router.get("/api/health/rates")
async def rates(
    node: NodeDep,
    principal: Reader,
    group_by: Annotated[str, Query()] = "region",
    from_: Annotated[str | None, Query(alias="from", description="YYYY-MM-DD")] = None,
    to: Annotated[str | None, Query(description="YYYY-MM-DD")] = None,
    level: Annotated[int, Query(ge=2, le=12, description="region code digits")] = 6,
) -> dict[str, Any]:
    svc = _svc(node)
    now = datetime.now().astimezone()
    today = svc.rates.local_day(now)
    from_day, to_day = from_ or today, to or today
    try:
        groups = await svc.rates.rates(
            principal, group_by=group_by, from_day=from_day, to_day=to_day, now=now, level=level
        )
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc
    return {
        "group_by": group_by,
        "from": from_day,
        "to": to_day,
        "groups": groups,
        "targets": svc.settings.targets,
    }


@router.get("/api/health/channels/{pk}")
async def channel_timeline(
    node: NodeDep, principal: Reader, pk: Int64, days: Annotated[int, Query(ge=1, le=366)] = 7
) -> dict[str, Any]:
    return await _svc(node).channel_timeline(principal, pk, days)  # type: ignore[no-any-return]


@router.post("/api/health/clock/{device_id}")
async def check_clock(node: NodeDep, principal: Writer, device_id: str) -> dict[str, Any]:
    try:
        return await _svc(node).check_device_clock(principal, device_id)  # type: ignore[no-any-return]
    except HealthError as exc:
        raise HTTPException(422, str(exc)) from exc


@router.get("/api/health/locations")
async def location_problems(node: NodeDep, principal: Reader) -> dict[str, Any]:
    """Cameras whose ledger position lies outside their county (real boundary data)."""
    from sharpeyes.health.location import check_location

    svc = _svc(node)
    await svc.attributes([])
    items = []
    for code, a in svc.attributes._cache.items():
        region = a.get("region_code") or code
        if not region_in_scope(principal, region) or a.get("longitude") is None:
            continue
        problems = check_location(region, (a["longitude"], a["latitude"]), None)
        if problems:
            items.append(
                {
                    "channel_id": code,
                    "region_code": region,
                    "problems": problems,
                    "longitude": a["longitude"],
                    "latitude": a["latitude"],
                }
            )
    return {"items": items}


# ------------------------------------------------------------------ assessment
@router.get("/api/health/assessment")
async def assessment(
    node: NodeDep, principal: Reader, month: str, group_by: str = "region", level: Int64 = 6
) -> dict[str, Any]:
    try:
        return await _svc(node).assessment(  # type: ignore[no-any-return]
            principal, month, group_by, level
        )
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc


@router.get("/api/health/reports")
async def report(
    node: NodeDep, principal: Reader, request: Request, month: str, format: str = "xlsx"
) -> Response:
    try:
        data = await _svc(node).report(principal, month, format)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from exc
    _audit(node, principal, "health.report.export", "report", month, request, format=format)
    media = (
        "application/pdf"
        if format == "pdf"
        else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    return Response(
        data,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="om-report-{month}.{format}"'},
    )


# ------------------------------------------------------------------ VQD
class PlanIn(BaseModel):
    name: str = Field(max_length=128)
    channels: list[int] | None = None
    selector: dict[str, Any] | None = None
    checks: list[str] | None = None
    interval_s: int | None = None
    concurrency: int | None = Field(default=None, ge=1, le=64)
    enabled: bool = True


class RunIn(BaseModel):
    channels: list[int] | None = None
    selector: dict[str, Any] | None = None
    plan_id: int | None = None
    checks: list[str] | None = None


@router.post("/api/vqd/plans", status_code=201)
async def create_plan(
    node: NodeDep, principal: Admin, body: PlanIn, request: Request
) -> dict[str, Any]:
    try:
        plan = await _svc(node).create_plan(principal, body.model_dump())
    except HealthError as exc:
        raise HTTPException(422, str(exc)) from exc
    _audit(node, principal, "config.vqd_plan.create", "vqd_plan", str(plan["id"]), request)
    return plan  # type: ignore[no-any-return]


@router.get("/api/vqd/plans")
async def list_plans(node: NodeDep, principal: Reader) -> dict[str, Any]:
    return {"items": await _svc(node).list_plans()}


@router.post("/api/vqd/runs", status_code=202)
async def start_run(node: NodeDep, principal: Writer, body: RunIn) -> dict[str, Any]:
    try:
        return await _svc(node).start_run(  # type: ignore[no-any-return]
            principal,
            channels=body.channels,
            selector=body.selector,
            plan_id=body.plan_id,
            checks=body.checks,
        )
    except HealthError as exc:
        raise HTTPException(422, str(exc)) from exc
    except LookupError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"not found: {exc}") from exc


@router.get("/api/vqd/results")
async def results(
    node: NodeDep,
    principal: Reader,
    run_id: str | None = None,
    channel: Int64 | None = None,
    verdict: str | None = None,
    from_: Annotated[datetime | None, Query(alias="from")] = None,
    to: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> dict[str, Any]:
    try:
        items = await _svc(node).results(
            principal,
            run_id=run_id,
            channel=channel,
            verdict=verdict,
            since=from_,
            until=to,
            limit=limit,
        )
    except HealthError as exc:
        raise HTTPException(422, str(exc)) from exc
    return {"items": items}


@router.get("/api/vqd/results/{result_id}/thumbnail")
async def result_thumbnail(
    node: NodeDep, principal: Reader, result_id: Int64, request: Request
) -> Response:
    try:
        jpeg, channel_id, device_id = await _svc(node).thumbnail(principal, result_id)
    except LookupError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"not found: {exc}") from exc
    _audit(
        node,
        principal,
        "vqd.thumbnail",
        "channel",
        channel_id,
        request,
        result_id=result_id,
        device=device_id,
    )  # a picture of the camera: a view
    return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "private"})


@router.delete("/api/vqd/baselines/{pk}", status_code=204)
async def reset_baseline(node: NodeDep, principal: Writer, pk: Int64) -> Response:
    await _svc(node).reset_baseline(principal, pk)
    return Response(status_code=204)


# ------------------------------------------------------------------ alarm centre
class RuleIn(BaseModel):
    name: str | None = None
    kind: str
    level: str | None = None
    threshold: float | None = None
    dedup_s: float = Field(default=300.0, ge=0)
    flap_window_s: float = Field(default=600.0, gt=0)
    flap_max_changes: int = Field(default=4, ge=1)
    auto_work_order: bool = False
    notify: list[dict[str, str]] = []
    enabled: bool = True


class AlarmStateIn(BaseModel):
    state: str


@router.get("/api/health/alarm-rules")
async def list_rules(node: NodeDep, principal: Reader) -> dict[str, Any]:
    return {"items": await _svc(node).alarms.list_rules()}


@router.post("/api/health/alarm-rules", status_code=201)
async def create_rule(
    node: NodeDep, principal: Admin, body: RuleIn, request: Request
) -> dict[str, Any]:
    try:
        rule = await _svc(node).alarms.create_rule(body.model_dump())
    except AlarmError as exc:
        raise HTTPException(422, str(exc)) from exc
    _audit(node, principal, "config.alarm_rule.create", "alarm_rule", str(rule["id"]), request)
    return rule  # type: ignore[no-any-return]


@router.get("/api/health/alarms")
async def list_alarms(
    node: NodeDep, principal: Reader, state: str | None = None, kind: str | None = None
) -> dict[str, Any]:
    items = await _svc(node).alarms.list(
        state=state, kind=kind, region_codes=principal.region_codes
    )
    return {"items": items}


@router.post("/api/health/alarms/{alarm_id}/state")
async def alarm_state(
    node: NodeDep, principal: AlarmHandler, alarm_id: Int64, body: AlarmStateIn
) -> dict[str, Any]:
    svc = _svc(node)
    visible = await svc.alarms.list(region_codes=principal.region_codes, limit=100000)
    if not any(a["id"] == alarm_id for a in visible):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"not found: alarm {alarm_id}")
    try:
        return await svc.alarms.transition(alarm_id, body.state, principal.username)  # type: ignore[no-any-return]
    except AlarmError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc


# ------------------------------------------------------------------ work orders
class OrderIn(BaseModel):
    title: str = Field(min_length=1, max_length=256)
    level: str = "general"
    channel: int | None = None
    alarm_id: int | None = None
    assignee: str | None = None
    maintainer_org_id: int | None = None
    note: str | None = Field(default=None, max_length=1024)


class ActionIn(BaseModel):
    action: str
    note: str | None = Field(default=None, max_length=1024)
    assignee: str | None = None
    extend_s: float | None = None
    attachment_name: str | None = Field(default=None, max_length=128)
    attachment_b64: str | None = None


async def _visible_order(svc: Any, principal: Principal, order_id: int) -> dict[str, Any]:
    try:
        order = await svc.orders.get(order_id)
    except LookupError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"not found: {exc}") from exc
    if principal.region_codes is not None and not region_in_scope(
        principal, order["region_code"] or order["channel_id"]
    ):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"not found: work order {order_id}")
    return order  # type: ignore[no-any-return]


@router.get("/api/health/workorders")
async def list_orders(
    node: NodeDep, principal: Reader, state: str | None = None, overdue: bool | None = None
) -> dict[str, Any]:
    items = await _svc(node).orders.list(state=state, overdue=overdue, principal=principal)
    return {"items": items}


@router.get("/api/health/workorders/stats")
async def order_stats(
    node: NodeDep, principal: Reader, from_: Annotated[datetime, Query(alias="from")], to: datetime
) -> dict[str, Any]:
    return await _svc(node).orders.stats(from_, to, principal)  # type: ignore[no-any-return]


@router.post("/api/health/workorders", status_code=201)
async def open_order(node: NodeDep, principal: AlarmHandler, body: OrderIn) -> dict[str, Any]:
    svc = _svc(node)
    device_id = channel_id = region = None
    if body.channel is not None:
        assert svc.devices is not None
        ch = await svc.devices.get_channel(principal, body.channel)  # 404 outside scope
        device_id, channel_id, region = ch.device_id, ch.channel_id, ch.civil_code
    try:
        return await svc.orders.open(  # type: ignore[no-any-return]
            title=body.title,
            level=body.level,
            actor=principal.username,
            alarm_id=body.alarm_id,
            device_id=device_id,
            channel_id=channel_id,
            region_code=region,
            maintainer_org_id=body.maintainer_org_id,
            assignee=body.assignee,
            note=body.note,
        )
    except WorkOrderError as exc:
        raise HTTPException(422, str(exc)) from exc


@router.get("/api/health/workorders/{order_id}")
async def get_order(node: NodeDep, principal: Reader, order_id: Int64) -> dict[str, Any]:
    return await _visible_order(_svc(node), principal, order_id)


@router.post("/api/health/workorders/{order_id}/actions")
async def order_action(
    node: NodeDep, principal: AlarmHandler, order_id: Int64, body: ActionIn
) -> dict[str, Any]:
    svc = _svc(node)
    await _visible_order(svc, principal, order_id)
    attachment = None
    if body.attachment_b64 is not None:
        try:
            attachment = base64.b64decode(body.attachment_b64, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise HTTPException(422, "bad base64") from exc
    try:
        return await svc.orders.act(  # type: ignore[no-any-return]
            order_id,
            body.action,
            principal.username,
            note=body.note,
            assignee=body.assignee,
            extend_s=body.extend_s,
            attachment_name=body.attachment_name,
            attachment=attachment,
        )
    except WorkOrderError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc


@router.get("/api/health/workorders/{order_id}/events/{event_id}/attachment")
async def order_attachment(
    node: NodeDep, principal: Reader, order_id: Int64, event_id: Int64
) -> Response:
    svc = _svc(node)
    await _visible_order(svc, principal, order_id)
    try:
        name, data = await svc.orders.attachment(order_id, event_id)
    except LookupError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"not found: {exc}") from exc
    return Response(
        data,
        media_type="application/octet-stream",
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"},
    )
