"""Devices: list, detail, delete, admission, catalog sync, live DeviceInfo/DeviceStatus."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Response, status

from sharpeyes.api.deps import NodeDep, Reader, Writer
from sharpeyes.api.params import Int64, Limit, Offset
from sharpeyes.api.schemas import (
    AdmissionIn,
    CatalogSyncOut,
    ChannelOut,
    DeviceDetailOut,
    DeviceOut,
    DeviceUpdateIn,
    PageOut,
    StatusEventOut,
)
from sharpeyes.devices.service import describe_device_id

if TYPE_CHECKING:
    from sharpeyes.services import Services as Node

router = APIRouter(prefix="/api/devices", tags=["devices"])


@router.get("", response_model=PageOut[DeviceOut])
async def list_devices(
    principal: Reader,
    node: NodeDep,
    online: bool | None = None,
    admission: Annotated[str | None, Query(pattern="^(admitted|pending|rejected)$")] = None,
    q: Annotated[str | None, Query(max_length=64)] = None,
    offset: Offset = 0,
    limit: Limit = 100,
    region: Annotated[str | None, Query(pattern=r"^[0-9]{2,20}$")] = None,
    manufacturer: Annotated[str | None, Query(max_length=64)] = None,
    transport: Annotated[str | None, Query(pattern="^(udp|tcp)$")] = None,
) -> PageOut[DeviceOut]:
    page = await node.devices.list_devices(
        principal,
        online=online,
        admission=admission,
        q=q,
        offset=offset,
        limit=limit,
        region=region,
        manufacturer=manufacturer,
        transport=transport,
    )
    return PageOut[DeviceOut](
        items=[DeviceOut.model_validate(d) for d in page.items],
        total=page.total,
        offset=offset,
        limit=limit,
    )


def _detail(device: object, node: Node) -> DeviceDetailOut:
    out = DeviceDetailOut.model_validate(device)
    out.id_info = describe_device_id(out.id)
    out.has_password_override = bool(getattr(device, "password", None))
    out.interop = node.interop.for_device(out.id)
    return out


@router.get("/{device_id}", response_model=DeviceDetailOut)
async def get_device(device_id: str, principal: Reader, node: NodeDep) -> DeviceDetailOut:
    return _detail(await node.devices.get_device(principal, device_id), node)


@router.patch("/{device_id}", response_model=DeviceDetailOut)
async def update_device(
    device_id: str, body: DeviceUpdateIn, principal: Writer, node: NodeDep
) -> DeviceDetailOut:
    changes = body.model_dump(exclude_unset=True)
    return _detail(await node.devices.update_device(principal, device_id, changes), node)


@router.delete("/{device_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_device(device_id: str, principal: Writer, node: NodeDep) -> Response:
    await node.devices.delete_device(principal, device_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{device_id}/admission", response_model=DeviceDetailOut)
async def set_admission(
    device_id: str, body: AdmissionIn, principal: Writer, node: NodeDep
) -> DeviceDetailOut:
    await node.devices.admit(principal, device_id, body.admission)
    return _detail(await node.devices.get_device(principal, device_id), node)


@router.post("/{device_id}/sync", response_model=CatalogSyncOut)
async def sync_catalog(device_id: str, principal: Writer, node: NodeDep) -> CatalogSyncOut:
    result = await node.devices.sync_catalog(principal, device_id, wait=True)
    if result is None:  # not with wait=True; a clear 502 rather than an AssertionError/-O pass
        raise HTTPException(status.HTTP_502_BAD_GATEWAY, "the device returned no catalog")
    return CatalogSyncOut(
        complete=result.complete, items=len(result.items), expected=result.expected
    )


@router.get("/{device_id}/info")
async def device_info(device_id: str, principal: Reader, node: NodeDep) -> dict[str, str]:
    return await node.devices.device_info(principal, device_id)


@router.get("/{device_id}/status")
async def device_status(device_id: str, principal: Reader, node: NodeDep) -> dict[str, object]:
    return await node.devices.device_status(principal, device_id)


@router.get("/{device_id}/channels", response_model=PageOut[ChannelOut])
async def device_channels(
    device_id: str,
    principal: Reader,
    node: NodeDep,
    kind: Annotated[
        str | None, Query(pattern="^(channel|region|business_group|virtual_org|device|other|all)$")
    ] = "all",
    offset: Offset = 0,
    limit: Limit = 1000,
) -> PageOut[ChannelOut]:
    await node.devices.get_device(principal, device_id)
    page = await node.devices.list_channels(
        principal,
        device_id=device_id,
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


@router.get("/{device_id}/tree")
async def device_tree(device_id: str, principal: Reader, node: NodeDep) -> dict[str, Any]:
    """The device's catalog as a tree: for a lower platform its regions (civil-code nodes),
    business groups (215), virtual organisations (216) and channels by ParentID; each node
    ``{id, channel_id, kind, name, online, parent, children}``. Only channels in the
    caller's scope appear."""
    return await node.devices.device_tree(principal, device_id)


@router.get("/{device_id}/history", response_model=list[StatusEventOut])
async def device_history(
    device_id: str,
    principal: Reader,
    node: NodeDep,
    limit: Annotated[Int64, Query(ge=1, le=5000)] = 200,
) -> list[StatusEventOut]:
    rows = await node.devices.status_history(principal, device_id, limit)
    return [StatusEventOut.model_validate(r) for r in rows]
