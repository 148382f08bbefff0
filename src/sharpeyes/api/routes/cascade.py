"""Cascade: upper-platform links (admin only; passwords write-only) and sharing."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Request, Response, status
from pydantic import BaseModel, Field

from sharpeyes.api.deps import Admin, NodeDep
from sharpeyes.api.params import Int64
from sharpeyes.live.audit import AuditRecord, audit
from sharpeyes.sharing.principal import Principal

router = APIRouter(prefix="/api/cascade", tags=["cascade"])

Id20 = Annotated[str, Field(pattern=r"^\d{20}$")]


class UpperIn(BaseModel):
    name: Annotated[str, Field(min_length=1, max_length=128)]
    server_id: Id20
    domain: Annotated[str, Field(pattern=r"^\d{10}(\d{10})?$")]
    host: Annotated[str, Field(min_length=1, max_length=255)]
    port: Annotated[int, Field(ge=1, le=65535)] = 5060
    transport: Literal["udp", "tcp"] = "udp"
    password: Annotated[str, Field(max_length=128)] = ""
    local_id: Id20 | None = None
    realm: Annotated[str, Field(max_length=64)] | None = None
    register_expires: Annotated[int, Field(ge=60, le=86400)] = 3600
    keepalive_interval: Annotated[int, Field(ge=1, le=3600)] = 60
    keepalive_timeout_count: Annotated[int, Field(ge=1, le=100)] = 3
    charset: Literal["GB2312", "UTF-8", "gb2312", "utf-8"] = "GB2312"
    catalog_group_size: Annotated[int, Field(ge=1, le=1000)] = 10
    enabled: bool = True


class UpperPatch(BaseModel):
    name: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    server_id: Id20 | None = None
    domain: Annotated[str, Field(pattern=r"^\d{10}(\d{10})?$")] | None = None
    host: Annotated[str, Field(min_length=1, max_length=255)] | None = None
    port: Annotated[int, Field(ge=1, le=65535)] | None = None
    transport: Literal["udp", "tcp"] | None = None
    password: Annotated[str, Field(max_length=128)] | None = None
    local_id: Id20 | None = None
    realm: Annotated[str, Field(max_length=64)] | None = None
    register_expires: Annotated[int, Field(ge=60, le=86400)] | None = None
    keepalive_interval: Annotated[int, Field(ge=1, le=3600)] | None = None
    keepalive_timeout_count: Annotated[int, Field(ge=1, le=100)] | None = None
    charset: Literal["GB2312", "UTF-8", "gb2312", "utf-8"] | None = None
    catalog_group_size: Annotated[int, Field(ge=1, le=1000)] | None = None
    enabled: bool | None = None


class ChannelsIn(BaseModel):
    channels: list[int] = Field(default_factory=list, max_length=100_000)
    all: bool | None = None
    device_ids: list[Id20] | None = None
    civil_code_prefixes: list[Annotated[str, Field(pattern=r"^\d{1,8}$")]] | None = None
    org_ids: list[str | int] | None = None


class ChannelPatch(BaseModel):
    custom_id: Annotated[str, Field(pattern=r"^(\d{20})?$")] | None = None
    custom_name: Annotated[str, Field(max_length=128)] | None = None


UpperId = Annotated[Int64, Path(ge=1)]


def _audit(
    node: Any, principal: Principal, request: Request, action: str, target: str, **detail: Any
) -> None:
    audit(
        node.bus,
        AuditRecord.by(
            principal,
            action=action,
            target_type="cascade_upper",
            target_id=target,
            device_id="",
            client_ip=request.client.host if request.client else None,
            detail={k: v for k, v in detail.items() if k != "password"},
        ),
    )


@router.get("/uppers")
async def list_uppers(principal: Admin, node: NodeDep) -> dict[str, Any]:
    return {"items": await node.cascade.list_uppers()}


@router.post("/uppers", status_code=status.HTTP_201_CREATED)
async def create_upper(
    body: UpperIn, principal: Admin, node: NodeDep, request: Request
) -> dict[str, Any]:
    out = await node.cascade.create_upper(body.model_dump())
    _audit(node, principal, request, "cascade.upper.create", str(out["id"]), **out)
    return out


@router.get("/uppers/{upper_id}")
async def get_upper(upper_id: UpperId, principal: Admin, node: NodeDep) -> dict[str, Any]:
    return await node.cascade.get_upper(upper_id)


@router.patch("/uppers/{upper_id}")
async def patch_upper(
    upper_id: UpperId, body: UpperPatch, principal: Admin, node: NodeDep, request: Request
) -> dict[str, Any]:
    values = body.model_dump(exclude_unset=True)
    out = await node.cascade.update_upper(upper_id, values)
    _audit(node, principal, request, "cascade.upper.update", str(upper_id), **values)
    return out


@router.delete("/uppers/{upper_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_upper(
    upper_id: UpperId, principal: Admin, node: NodeDep, request: Request
) -> Response:
    await node.cascade.delete_upper(upper_id)
    _audit(node, principal, request, "cascade.upper.delete", str(upper_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/uppers/{upper_id}/channels")
async def get_channels(upper_id: UpperId, principal: Admin, node: NodeDep) -> dict[str, Any]:
    items = await node.cascade.list_channels(upper_id)
    return {"items": items, "total": len(items)}


@router.put("/uppers/{upper_id}/channels")
async def put_channels(
    upper_id: UpperId, body: ChannelsIn, principal: Admin, node: NodeDep, request: Request
) -> dict[str, Any]:
    # PUT replaces the whole selection: rules left out are cleared.
    rules = body.model_dump(exclude={"channels"})
    items = await node.cascade.set_channels(upper_id, body.channels, rules)
    _audit(
        node,
        principal,
        request,
        "cascade.channels.set",
        str(upper_id),
        channels=len(body.channels),
        rules=rules,
    )
    return {"items": items, "total": len(items)}


@router.patch("/uppers/{upper_id}/channels/{channel_pk}")
async def patch_channel(
    upper_id: UpperId,
    channel_pk: Annotated[Int64, Path(ge=1)],
    body: ChannelPatch,
    principal: Admin,
    node: NodeDep,
    request: Request,
) -> dict[str, Any]:
    out = await node.cascade.patch_channel(upper_id, channel_pk, body.custom_id, body.custom_name)
    _audit(
        node,
        principal,
        request,
        "cascade.channel.update",
        str(upper_id),
        **out,
    )
    return out


@router.get("/forwards")
async def forwards(principal: Admin, node: NodeDep) -> dict[str, Any]:
    return {
        "items": node.upper_sip.describe_forwards(),
        "history": await node.cascade.forward_history(),
    }
