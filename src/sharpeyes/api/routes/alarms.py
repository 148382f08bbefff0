"""Device alarms: history, acknowledge, reset (ResetAlarm to the device)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from sharpeyes.api.deps import AlarmHandler, NodeDep, Reader
from sharpeyes.api.params import Int64
from sharpeyes.api.schemas import AlarmOut, PageOut

router = APIRouter(prefix="/api/alarms", tags=["alarms"])


@router.get("", response_model=PageOut[AlarmOut])
async def list_alarms(
    principal: Reader,
    node: NodeDep,
    device_id: Annotated[str | None, Query(max_length=20)] = None,
    offset: Annotated[Int64, Query(ge=0)] = 0,
    limit: Annotated[Int64, Query(ge=1, le=1000)] = 100,
) -> PageOut[AlarmOut]:
    page = await node.devices.list_alarms(
        principal, device_id=device_id, offset=offset, limit=limit
    )
    return PageOut[AlarmOut](
        items=[AlarmOut.model_validate(a) for a in page.items],
        total=page.total,
        offset=offset,
        limit=limit,
    )


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
