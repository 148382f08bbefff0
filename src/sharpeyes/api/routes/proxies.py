"""Proxies (社会资源接入): RTSP/ONVIF cameras pulled by the node and served as GB channels.

Thin: parse, check permission, call ``proxies.service``. Passwords are write-only
(the answer says ``has_password``). Live video of a proxy is the channel's own
``POST /api/channels/{channel}/play`` and ``/snapshot``; PTZ is the channel's
``/ptz`` (mapped onto ONVIF PTZ when the camera has it).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Query, Request, UploadFile
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from sharpeyes.api.deps import NodeDep, Reader, Writer
from sharpeyes.api.params import Int64

router = APIRouter(prefix="/api/proxies", tags=["proxies"])


class ProxyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=128)
    url: str = Field(min_length=8, max_length=1024, description="rtsp://, rtsps:// (http(s) too)")
    sub_url: str | None = Field(default=None, max_length=1024)
    username: str | None = Field(default=None, max_length=128)
    password: str | None = Field(default=None, max_length=128, description="write-only")
    transport: Literal["tcp", "udp"] = "tcp"
    on_demand: bool = Field(default=True, description="pull only while consumed; false: always")
    gb_id: str | None = Field(default=None, pattern=r"^\d{20}$")
    civil_code: str | None = Field(default=None, pattern=r"^\d{2,12}$")
    org: str | None = Field(default=None, max_length=128)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    latitude: float | None = Field(default=None, ge=-90, le=90)


class ProxyPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=128)
    url: str | None = Field(default=None, min_length=8, max_length=1024)
    sub_url: str | None = Field(default=None, max_length=1024)
    username: str | None = Field(default=None, max_length=128)
    password: str | None = Field(default=None, max_length=128)
    transport: Literal["tcp", "udp"] | None = None
    on_demand: bool | None = None
    gb_id: str | None = Field(default=None, pattern=r"^\d{20}$")
    civil_code: str | None = Field(default=None, pattern=r"^\d{2,12}$")
    org: str | None = Field(default=None, max_length=128)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    latitude: float | None = Field(default=None, ge=-90, le=90)


class OnvifIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    xaddr: str = Field(min_length=3, max_length=512, description="device service URL or host:port")
    username: str | None = Field(default=None, max_length=128)
    password: str | None = Field(default=None, max_length=128)
    name: str | None = Field(default=None, max_length=128)
    transport: Literal["tcp", "udp"] = "tcp"
    on_demand: bool = True
    gb_id: str | None = Field(default=None, pattern=r"^\d{20}$")
    civil_code: str | None = Field(default=None, pattern=r"^\d{2,12}$")
    org: str | None = Field(default=None, max_length=128)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    latitude: float | None = Field(default=None, ge=-90, le=90)


class OnvifProbeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    xaddr: str = Field(min_length=3, max_length=512)
    username: str | None = Field(default=None, max_length=128)
    password: str | None = Field(default=None, max_length=128)


def _ip(request: Request) -> str | None:
    return request.client.host if request.client else None


@router.get("")
async def list_proxies(principal: Reader, node: NodeDep) -> dict[str, Any]:
    items = await node.proxies.list(principal)
    return {"items": items, "total": len(items)}


@router.post("", status_code=201)
async def create_proxy(
    body: ProxyIn, request: Request, principal: Writer, node: NodeDep
) -> dict[str, Any]:
    return await node.proxies.create(
        principal, body.model_dump(exclude_none=True), client_ip=_ip(request)
    )


@router.get("/discover")
async def discover(
    principal: Writer,
    node: NodeDep,
    timeout: Annotated[float, Query(ge=1, le=10)] = 3,
    address: Annotated[
        str | None,
        Query(pattern=r"^\d{1,3}(\.\d{1,3}){3}$", description="probe this host (unicast)"),
    ] = None,
) -> dict[str, Any]:
    """ONVIF devices on the local segment (WS-Discovery) that are not yet added."""
    items = await node.proxies.onvif.discover(timeout, address)
    return {"items": items, "total": len(items)}


@router.post("/onvif/probe")
async def onvif_probe(body: OnvifProbeIn, principal: Writer, node: NodeDep) -> dict[str, Any]:
    """Read an ONVIF camera (device info, time, profiles, stream URIs, PTZ) without adding it."""
    return await node.proxies.onvif.probe(body.xaddr, body.username, body.password)


@router.post("/onvif", status_code=201)
async def add_onvif(
    body: OnvifIn, request: Request, principal: Writer, node: NodeDep
) -> dict[str, Any]:
    """Add an ONVIF camera: its profiles' stream URIs become the proxy's main/sub URLs."""
    return await node.proxies.onvif.add(
        principal, body.model_dump(exclude_none=True), client_ip=_ip(request)
    )


@router.post("/import")
async def import_proxies(
    principal: Writer,
    node: NodeDep,
    request: Request,
    file: Annotated[UploadFile, File(description="CSV or the ledger's survey form (.xlsx)")],
    validate_only: Annotated[bool, Query()] = False,
) -> dict[str, Any]:
    """Bulk add: rows with a stream URL (CSV, or survey-form .xlsx rows)."""
    from sharpeyes.proxies.importer import import_rows, read_rows

    data = await file.read(8 * 1024 * 1024 + 1)
    if len(data) > 8 * 1024 * 1024:
        raise ValueError("file larger than 8 MiB")
    rows = read_rows(file.filename or "", data)
    return await import_rows(
        node.proxies, principal, rows, validate_only=validate_only, client_ip=_ip(request)
    )


@router.get("/{proxy_id}")
async def get_proxy(proxy_id: Int64, principal: Reader, node: NodeDep) -> dict[str, Any]:
    return await node.proxies.get(principal, proxy_id)


@router.patch("/{proxy_id}")
async def patch_proxy(
    proxy_id: Int64, body: ProxyPatch, request: Request, principal: Writer, node: NodeDep
) -> dict[str, Any]:
    return await node.proxies.update(
        principal, proxy_id, body.model_dump(exclude_unset=True), client_ip=_ip(request)
    )


@router.delete("/{proxy_id}", status_code=204)
async def delete_proxy(
    proxy_id: Int64, request: Request, principal: Writer, node: NodeDep
) -> JSONResponse:
    await node.proxies.delete(principal, proxy_id, client_ip=_ip(request))
    return JSONResponse(None, status_code=204)
