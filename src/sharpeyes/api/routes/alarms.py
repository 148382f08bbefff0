"""Device alarms: history, acknowledge, reset (ResetAlarm to the device)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from sharpeyes.api.deps import AlarmHandler, NodeDep, Reader
from sharpeyes.api.params import Int64
from sharpeyes.api.schemas import AlarmOut, PageOut
from sharpeyes.devices import alarm_views
from sharpeyes.devices.alarm_views import AlarmFilters, AlarmState

router = APIRouter(prefix="/api/alarms", tags=["alarms"])


class AlarmSourceOut(AlarmOut):
    """An alarm with its source camera's name and place (the console shows these)."""

    source_channel_pk: int | None = None
    source_name: str | None = None
    source_address: str | None = None
    source_civil_code: str | None = None


class UnreadOut(BaseModel):
    count: int


@router.get("", response_model=PageOut[AlarmSourceOut])
async def list_alarms(
    principal: Reader,
    node: NodeDep,
    device_id: Annotated[str | None, Query(max_length=20)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    priority: Annotated[list[Annotated[int, Field(ge=1, le=4)]] | None, Query()] = None,
    state: AlarmState | None = None,
    region: Annotated[str | None, Query(pattern=r"^[0-9]{2,20}$")] = None,
    alarm_type: Annotated[int | None, Query(ge=0, le=99)] = None,
    method: Annotated[int | None, Query(ge=0, le=9)] = None,
    offset: Annotated[Int64, Query(ge=0)] = 0,
    limit: Annotated[Int64, Query(ge=1, le=1000)] = 100,
) -> PageOut[AlarmSourceOut]:
    filters = AlarmFilters(
        device_id=device_id,
        since=since,
        until=until,
        priorities=tuple(priority or ()),
        state=state,
        region=region,
        alarm_type=alarm_type,
        method=method,
    )
    page = await alarm_views.list_alarms(node.db, principal, filters, offset=offset, limit=limit)
    return PageOut[AlarmSourceOut](
        items=[AlarmSourceOut.model_validate(a) for a in page.items],
        total=page.total,
        offset=offset,
        limit=limit,
    )


@router.get("/unread", response_model=UnreadOut)
async def unread(principal: Reader, node: NodeDep) -> UnreadOut:
    """Unacknowledged alarms in the caller's scope: the header bell's number."""
    return UnreadOut(count=await alarm_views.unread_count(node.db, principal))


@router.post("/{alarm_id}/ack", response_model=AlarmOut)
async def acknowledge(alarm_id: Int64, principal: AlarmHandler, node: NodeDep) -> AlarmOut:
    return AlarmOut.model_validate(
        await node.devices.acknowledge_alarm(principal, alarm_id, principal.username)
    )


@router.post("/{alarm_id}/reset", response_model=AlarmOut)
async def reset(
    alarm_id: Int64, principal: AlarmHandler, node: NodeDep, request: Request
) -> AlarmOut:
    ip = request.client.host if request.client else None
    return AlarmOut.model_validate(
        await node.devices.reset_alarm(principal, alarm_id, principal.username, client_ip=ip)
    )
