"""Ledger camera record routes: list (capped totals), CRUD, import/export, history."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import (
    APIRouter,
    Depends,
    File,
    Form,
    Query,
    Response,
    UploadFile,
)

from sharpeyes.api.deps import LedgerImporter, LedgerReader, LedgerWriter, NodeDep
from sharpeyes.api.ledger_schemas import (
    CameraIn,
    CameraOut,
    CameraPageOut,
    ChangeOut,
    JobStartOut,
)
from sharpeyes.api.params import Int64, Limit, Offset
from sharpeyes.api.routes.ledger.common import (
    Fmt,
    ImportMode,
    RegionQ,
    file_response,
    read_upload,
)
from sharpeyes.ledger.queries import CameraFilters

router = APIRouter(prefix="/api/ledger", tags=["ledger"])


# ------------------------------------------------------------------ cameras
async def camera_filters(
    node: Any,
    *,
    region: str | None,
    org: int | None,
    org_role: str,
    point_class: int | None,
    category: str | None,
    status_: str | None,
    network: str | None,
    complete: bool | None,
    on_map: bool | None,
    social: bool | None,
    linked: bool | None,
    police_station_id: Int64 | None,
    platform_id: Int64 | None,
    integration_method: str | None,
    q: str | None,
) -> CameraFilters:
    f = CameraFilters(
        region=region,
        org_role=org_role,
        point_class=point_class,
        category=category,
        status=status_,
        network=network,
        complete=complete,
        on_map=on_map,
        social=social,
        linked=linked,
        police_station_id=police_station_id,
        platform_id=platform_id,
        integration_method=integration_method,
        q=q,
    )
    return await node.ledger.resolve_filters(f, org)


class FilterQuery:
    """The camera filter query parameters, shared by list, export, quality and map."""

    def __init__(
        self,
        region: RegionQ = None,
        org: Annotated[
            Int64 | None, Query(description="owner/maintainer unit, with its sub-units")
        ] = None,
        org_role: Annotated[str, Query(pattern="^(owner|maintainer|any)$")] = "any",
        point_class: Annotated[Int64 | None, Query(ge=1, le=3, alias="class")] = None,
        category: Annotated[str | None, Query(max_length=32)] = None,
        status: Annotated[str | None, Query(pattern="^(in_use|disabled|faulty|removed)$")] = None,
        network: Annotated[
            str | None, Query(pattern="^(police_video|gov_extranet|industry|internet|social)$")
        ] = None,
        complete: bool | None = None,
        on_map: bool | None = None,
        social: bool | None = None,
        linked: bool | None = None,
        police_station_id: Int64 | None = None,
        platform_id: Int64 | None = None,
        integration_method: Annotated[str | None, Query(max_length=24)] = None,
        q: Annotated[str | None, Query(max_length=64)] = None,
    ) -> None:
        self.kw = {
            "region": region,
            "org": org,
            "org_role": org_role,
            "point_class": point_class,
            "category": category,
            "status_": status,
            "network": network,
            "complete": complete,
            "on_map": on_map,
            "social": social,
            "linked": linked,
            "police_station_id": police_station_id,
            "platform_id": platform_id,
            "integration_method": integration_method,
            "q": q,
        }

    async def build(self, node: Any) -> CameraFilters:
        return await camera_filters(node, **self.kw)


@router.get("/cameras/template")
async def camera_template(principal: LedgerReader, node: NodeDep, fmt: Fmt = "xlsx") -> Response:
    """The camera survey form (seed 004 附件1 摄像机) with its Chinese headers."""
    return file_response(
        node.ledger.template(fmt, "camera"), fmt, "公共场所视频监控资源整合接入调研表（摄像机）"
    )


@router.get("/cameras/export")
async def export_cameras(
    principal: LedgerReader,
    node: NodeDep,
    filters: Annotated[FilterQuery, Depends()],
    fmt: Fmt = "xlsx",
) -> Response:
    """The records in scope (and filters) as the survey form; recorded in history."""
    data, _ = await node.ledger.export_cameras(principal, await filters.build(node), fmt)
    return file_response(data, fmt, "视频监控点位台账", "camera-ledger")


@router.post("/cameras/import", response_model=JobStartOut, status_code=202)
async def import_cameras(
    principal: LedgerImporter,
    node: NodeDep,
    file: Annotated[UploadFile, File(description=".xlsx or .csv camera survey form")],
    mode: ImportMode = "all_or_nothing",
    crs: Annotated[str, Form(pattern="^(wgs84|gcj02)$")] = "wgs84",
) -> Any:
    """Check the file's shape now (400 names what is wrong), import in a background
    job: poll ``GET /api/jobs/{job_id}``. ``mode=validate`` checks every row the
    same way and writes nothing."""
    data = await read_upload(node, file)
    job = await node.ledger.start_camera_import(principal, data, file.filename, mode=mode, crs=crs)
    return {"job_id": job.id, "state": job.state}


@router.post("/cameras/sync-from-channels")
async def sync_from_channels(principal: LedgerWriter, node: NodeDep) -> dict[str, int]:
    """Create records for camera channels reported by devices that have none yet."""
    return await node.ledger.sync_from_channels(principal)


@router.post("/cameras/revalidate", response_model=JobStartOut, status_code=202)
async def revalidate(principal: LedgerWriter, node: NodeDep) -> Any:
    """Recompute completeness / on-map flags of every record (after rule changes)."""
    job = await node.ledger.revalidate(principal)
    return {"job_id": job.id, "state": job.state}


@router.get("/cameras", response_model=CameraPageOut)
async def list_cameras(
    principal: LedgerReader,
    node: NodeDep,
    filters: Annotated[FilterQuery, Depends()],
    sort: Annotated[str, Query(pattern="^-?(id|code|name|updated_at)$")] = "id",
    offset: Offset = 0,
    limit: Limit = 100,
) -> Any:
    page = await node.ledger.list_cameras(
        principal, await filters.build(node), offset=offset, limit=limit, sort=sort
    )
    return {
        "items": page.items,
        "total": page.total,
        "total_estimated": page.total_estimated,
        "offset": offset,
        "limit": limit,
    }


@router.post("/cameras", response_model=CameraOut, status_code=201)
async def create_camera(
    body: CameraIn,
    principal: LedgerWriter,
    node: NodeDep,
    crs: Annotated[str, Query(pattern="^(wgs84|gcj02)$")] = "wgs84",
) -> Any:
    return await node.ledger.create_camera(principal, body.model_dump(exclude_unset=True), crs=crs)


@router.get("/cameras/{pk}", response_model=CameraOut)
async def get_camera(pk: Int64, principal: LedgerReader, node: NodeDep) -> Any:
    return await node.ledger.get_camera(principal, pk)


@router.patch("/cameras/{pk}", response_model=CameraOut)
async def update_camera(
    pk: Int64,
    body: CameraIn,
    principal: LedgerWriter,
    node: NodeDep,
    crs: Annotated[str, Query(pattern="^(wgs84|gcj02)$")] = "wgs84",
) -> Any:
    return await node.ledger.update_camera(
        principal, pk, body.model_dump(exclude_unset=True), crs=crs
    )


@router.delete("/cameras/{pk}", status_code=204)
async def delete_camera(pk: Int64, principal: LedgerWriter, node: NodeDep) -> Response:
    await node.ledger.delete_camera(principal, pk)
    return Response(status_code=204)


@router.get("/cameras/{pk}/history", response_model=list[ChangeOut])
async def camera_history(pk: Int64, principal: LedgerReader, node: NodeDep) -> Any:
    return await node.ledger.history(principal, entity="camera", entity_id=str(pk))


@router.get("/history", response_model=list[ChangeOut])
async def ledger_history(
    principal: LedgerReader,
    node: NodeDep,
    entity: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[Int64, Query(ge=1, le=5000)] = 200,
) -> Any:
    """Recent ledger changes and exports (restricted users: their own)."""
    return await node.ledger.history(principal, entity=entity, limit=limit)
