"""Device management for operators: pre-provision a device, batch catalog sync and
delete, refused registrations with their reason, access reconciliation (应接未接)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request, status
from pydantic import BaseModel, Field

from sharpeyes.api.deps import LedgerReader, NodeDep, Reader, Writer
from sharpeyes.api.schemas import DeviceOut
from sharpeyes.devices.messaging import DeviceUnavailable
from sharpeyes.devices.provision import DeviceExists, batch_result, provision
from sharpeyes.devices.service import NotFound
from sharpeyes.ledger.reconcile import reconciliation
from sharpeyes.live.audit import AuditRecord, audit
from sharpeyes.store.models import MediaTransport, SignalTransport

router = APIRouter(tags=["device management"])


class ProvisionIn(BaseModel):
    device_id: str = Field(pattern=r"^[0-9]{20}$")
    name: str | None = Field(default=None, max_length=64)
    password: str | None = Field(default=None, min_length=1, max_length=64)
    transport: SignalTransport = SignalTransport.UDP
    media_transport: MediaTransport = MediaTransport.UDP
    charset: Literal["GB2312", "GB18030", "UTF-8"] = "GB2312"


class BatchIn(BaseModel):
    action: Literal["sync", "delete"]
    device_ids: list[str] = Field(min_length=1, max_length=500)


def _client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


@router.post("/api/devices", response_model=DeviceOut, status_code=status.HTTP_201_CREATED)
async def create_device(
    body: ProvisionIn, principal: Writer, node: NodeDep, request: Request
) -> DeviceOut:
    """Add a device before it registers, with its own password and media transport."""
    try:
        row = await provision(
            node.registry,
            body.device_id,
            name=body.name,
            password=body.password,
            transport=body.transport,
            media_transport=body.media_transport,
            charset=body.charset,
        )
    except DeviceExists as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, f"device {exc} already exists") from exc
    audit(
        node.bus,
        AuditRecord.by(
            principal,
            action="device.provision",
            target_type="device",
            target_id=body.device_id,
            device_id=body.device_id,
            client_ip=_client_ip(request),
            detail={"transport": body.transport, "media_transport": body.media_transport},
        ),
    )
    return DeviceOut.model_validate(row)


@router.post("/api/devices/batch")
async def batch(
    body: BatchIn, principal: Writer, node: NodeDep, request: Request
) -> dict[str, Any]:
    """Catalog sync or delete for many devices; one result per device."""

    async def one(device_id: str) -> dict[str, Any]:
        try:
            if body.action == "sync":
                res = await node.devices.sync_catalog(principal, device_id, wait=False)
                return batch_result(device_id, True, getattr(res, "sn", None))
            await node.devices.delete_device(principal, device_id)
            return batch_result(device_id, True)
        except (NotFound, DeviceUnavailable, PermissionError) as exc:
            return batch_result(device_id, False, str(exc) or type(exc).__name__)

    results = await asyncio.gather(*(one(d) for d in dict.fromkeys(body.device_ids)))
    if body.action == "delete":
        audit(
            node.bus,
            AuditRecord.by(
                principal,
                action="device.batch_delete",
                target_type="device",
                target_id=",".join(r["device_id"] for r in results if r["ok"])[:512],
                device_id="",
                client_ip=_client_ip(request),
            ),
        )
    return {"results": results, "ok": sum(r["ok"] for r in results)}


@router.get("/api/registration-failures")
async def registration_failures(
    principal: Reader,
    node: NodeDep,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> dict[str, Any]:
    """Devices refused at REGISTER (403 and why), newest first; admins see all,
    region-scoped users those whose code starts with one of their regions."""
    items = node.registrar.failures.items()
    if principal.region_codes is not None:
        items = [f for f in items if f.device_id.startswith(tuple(principal.region_codes))]
    return {"total": len(items), "items": [f.as_dict() for f in items[:limit]]}


@router.get("/api/reconciliation")
async def get_reconciliation(
    principal: LedgerReader,
    node: NodeDep,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> dict[str, Any]:
    """应接未接: records without a channel, channels without a record, silent devices."""
    camera_types = [str(t) for t in node.ledger.rules.camera_types]
    return await reconciliation(node.db, principal, camera_types, limit=limit)
