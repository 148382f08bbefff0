"""Channels: scoped search across devices, PTZ and presets."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from sharpeyes.api.deps import NodeDep, PtzUser, Reader
from sharpeyes.api.params import Int64
from sharpeyes.api.schemas import ChannelOut, PageOut, PtzIn, PtzOut

router = APIRouter(prefix="/api/channels", tags=["channels"])


@router.get("", response_model=PageOut[ChannelOut])
async def list_channels(
    principal: Reader,
    node: NodeDep,
    device_id: Annotated[str | None, Query(max_length=20)] = None,
    status: Annotated[str | None, Query(pattern="^(online|offline)$")] = None,
    q: Annotated[str | None, Query(max_length=64, description="text in name or channel ID")] = None,
    civil_code: Annotated[str | None, Query(pattern=r"^\d{2,12}$")] = None,
    kind: Annotated[
        str | None, Query(pattern="^(channel|region|business_group|virtual_org|device|other|all)$")
    ] = "channel",
    offset: Annotated[Int64, Query(ge=0)] = 0,
    limit: Annotated[Int64, Query(ge=1, le=1000)] = 100,
) -> PageOut[ChannelOut]:
    page = await node.devices.list_channels(
        principal,
        device_id=device_id,
        online=None if status is None else status == "online",
        q=q,
        civil_code=civil_code,
        kind=None if kind == "all" else kind,
        offset=offset,
        limit=limit,
    )
    return PageOut[ChannelOut](
        items=[ChannelOut.model_validate(c) for c in page.items],
        total=page.total,
        offset=offset,
        limit=limit,
    )


@router.get(
    "/by-code/{channel_id}",
    response_model=ChannelOut,
    responses={409: {"description": "the code is reported by several devices: add device_id"}},
)
async def get_channel_by_code(
    channel_id: Annotated[str, Path(min_length=1, max_length=64)],
    principal: Reader,
    node: NodeDep,
    device_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
) -> ChannelOut:
    """A channel by its GB code. Codes are meant to be unique; when several devices
    report the same one the answer is 409 listing them (``candidates``), and
    ``?device_id=`` picks one."""
    return ChannelOut.model_validate(
        await node.devices.get_channel_by_code(principal, channel_id, device_id)
    )


@router.get("/{channel_pk}", response_model=ChannelOut)
async def get_channel(channel_pk: Int64, principal: Reader, node: NodeDep) -> ChannelOut:
    return ChannelOut.model_validate(await node.devices.get_channel(principal, channel_pk))


@router.post("/{channel_pk}/ptz", response_model=PtzOut)
async def ptz(
    channel_pk: Int64, body: PtzIn, principal: PtzUser, node: NodeDep, request: Request
) -> PtzOut:
    """The whole A.3 family: motion, focus/iris, presets, cruise, scan, wiper/aux (audited)."""
    cmd = await node.messages.ptz(
        principal,
        channel_pk,
        body.action,
        body.model_dump(exclude={"action"}),
        client_ip=request.client.host if request.client else None,
    )
    return PtzOut(command=cmd)


@router.get("/{channel_pk}/presets")
async def presets(channel_pk: Int64, principal: Reader, node: NodeDep) -> list[dict[str, str]]:
    return await node.devices.presets(principal, channel_pk)
