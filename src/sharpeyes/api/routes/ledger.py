"""Resource ledger (一机一档): regions, police stations, organisations, platform and
internal-system records, camera records, survey-form import/export, quality.

Permissions: ``ledger.read`` (viewer+) for reads, exports and templates (exports
are recorded in the ledger history), ``ledger.write`` (operator+) for changes,
``ledger.import`` (operator+) for imports. Camera reads are scoped by region.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import (
    APIRouter,
    Depends,
    File,
    Form,
    HTTPException,
    Query,
    Response,
    UploadFile,
    status,
)

from sharpeyes.api.deps import LedgerImporter, LedgerReader, LedgerWriter, NodeDep
from sharpeyes.api.ledger_schemas import (
    CameraIn,
    CameraOut,
    CameraPageOut,
    ChangeOut,
    InternalSystemIn,
    InternalSystemOut,
    InternalSystemPatch,
    JobStartOut,
    OrganisationIn,
    OrganisationOut,
    OrganisationPatch,
    PlatformIn,
    PlatformOut,
    PlatformPatch,
    PoliceStationIn,
    PoliceStationOut,
    PoliceStationPatch,
    RegionBulkIn,
    RegionDetailOut,
    RegionIn,
    RegionOut,
    RegionPatch,
)
from sharpeyes.api.params import Int64, Limit, Offset
from sharpeyes.api.schemas import PageOut
from sharpeyes.ledger.queries import CameraFilters

router = APIRouter(prefix="/api/ledger", tags=["ledger"])

Fmt = Annotated[str, Query(alias="format", pattern="^(xlsx|csv)$")]
RegionQ = Annotated[str | None, Query(pattern=r"^\d{2,12}$", description="region subtree")]

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _file(data: bytes, fmt: str, stem: str, ascii_stem: str = "ledger") -> Response:
    mime = XLSX_MIME if fmt == "xlsx" else "text/csv; charset=utf-8"
    # RFC 6266/5987: the Chinese name for browsers, an ASCII one for old clients
    # (HTTP headers are Latin-1).
    disp = f"attachment; filename=\"{ascii_stem}.{fmt}\"; filename*=UTF-8''{quote(stem)}.{fmt}"
    return Response(data, media_type=mime, headers={"Content-Disposition": disp})


def _page(model: Any, page: Any) -> dict[str, Any]:
    return {
        "items": [model.model_validate(i) for i in page.items],
        "total": page.total,
        "offset": page.offset,
        "limit": page.limit,
    }


# ------------------------------------------------------------------ regions
@router.get("/regions", response_model=PageOut[RegionOut])
async def list_regions(
    principal: LedgerReader,
    node: NodeDep,
    parent: RegionQ = None,
    level: str | None = None,
    q: Annotated[str | None, Query(max_length=64)] = None,
    offset: Offset = 0,
    limit: Limit = 100,
) -> Any:
    """Children of ``parent`` (provinces when none), or a search by name."""
    return _page(
        RegionOut,
        await node.ledger.list_regions(parent=parent, level=level, q=q, offset=offset, limit=limit),
    )


@router.get("/regions/{code}", response_model=RegionDetailOut)
async def get_region(code: str, principal: LedgerReader, node: NodeDep) -> Any:
    return await node.ledger.get_region(code)


@router.post("/regions", response_model=list[RegionOut], status_code=201)
async def create_regions(
    body: RegionIn | RegionBulkIn, principal: LedgerWriter, node: NodeDep
) -> Any:
    """Add a township/village/community (or many, parents first)."""
    items = body.items if isinstance(body, RegionBulkIn) else [body]
    rows = await node.ledger.create_regions(principal, [i.model_dump() for i in items])
    return [RegionOut.model_validate(r) for r in rows]


@router.patch("/regions/{code}", response_model=RegionOut)
async def update_region(
    code: str, body: RegionPatch, principal: LedgerWriter, node: NodeDep
) -> Any:
    return await node.ledger.update_region(principal, code, body.model_dump(exclude_unset=True))


@router.delete("/regions/{code}", status_code=204)
async def delete_region(code: str, principal: LedgerWriter, node: NodeDep) -> Response:
    await node.ledger.delete_region(principal, code)
    return Response(status_code=204)


# ----------------------------------------------------------- police stations
@router.get("/police-stations", response_model=PageOut[PoliceStationOut])
async def list_police_stations(
    principal: LedgerReader,
    node: NodeDep,
    region: RegionQ = None,
    q: Annotated[str | None, Query(max_length=64)] = None,
    offset: Offset = 0,
    limit: Limit = 100,
) -> Any:
    return _page(
        PoliceStationOut,
        await node.ledger.list_police_stations(
            principal, region=region, q=q, offset=offset, limit=limit
        ),
    )


@router.post("/police-stations", response_model=PoliceStationOut, status_code=201)
async def create_police_station(
    body: PoliceStationIn, principal: LedgerWriter, node: NodeDep
) -> Any:
    return await node.ledger.create_police_station(principal, body.model_dump())


@router.get("/police-stations/{pk}", response_model=PoliceStationOut)
async def get_police_station(pk: Int64, principal: LedgerReader, node: NodeDep) -> Any:
    return await node.ledger.get_police_station(principal, pk)


@router.patch("/police-stations/{pk}", response_model=PoliceStationOut)
async def update_police_station(
    pk: Int64, body: PoliceStationPatch, principal: LedgerWriter, node: NodeDep
) -> Any:
    return await node.ledger.update_police_station(
        principal, pk, body.model_dump(exclude_unset=True)
    )


@router.delete("/police-stations/{pk}", status_code=204)
async def delete_police_station(pk: Int64, principal: LedgerWriter, node: NodeDep) -> Response:
    await node.ledger.delete_police_station(principal, pk)
    return Response(status_code=204)


# ------------------------------------------------------------ organisations
@router.get("/organisations", response_model=PageOut[OrganisationOut])
async def list_organisations(
    principal: LedgerReader,
    node: NodeDep,
    parent_id: Int64 | None = None,
    roots: bool = False,
    type: str | None = None,
    region: RegionQ = None,
    q: Annotated[str | None, Query(max_length=64)] = None,
    offset: Offset = 0,
    limit: Limit = 100,
) -> Any:
    return _page(
        OrganisationOut,
        await node.ledger.list_organisations(
            parent_id=parent_id,
            roots=roots,
            type_=type,
            region=region,
            q=q,
            offset=offset,
            limit=limit,
        ),
    )


@router.get("/organisations/tree")
async def organisation_tree(principal: LedgerReader, node: NodeDep) -> list[dict[str, Any]]:
    return await node.ledger.organisation_tree()


@router.post("/organisations", response_model=OrganisationOut, status_code=201)
async def create_organisation(body: OrganisationIn, principal: LedgerWriter, node: NodeDep) -> Any:
    return await node.ledger.create_organisation(principal, body.model_dump())


@router.get("/organisations/{pk}", response_model=OrganisationOut)
async def get_organisation(pk: Int64, principal: LedgerReader, node: NodeDep) -> Any:
    return await node.ledger.get_organisation(pk)


@router.patch("/organisations/{pk}", response_model=OrganisationOut)
async def update_organisation(
    pk: Int64, body: OrganisationPatch, principal: LedgerWriter, node: NodeDep
) -> Any:
    return await node.ledger.update_organisation(principal, pk, body.model_dump(exclude_unset=True))


@router.delete("/organisations/{pk}", status_code=204)
async def delete_organisation(pk: Int64, principal: LedgerWriter, node: NodeDep) -> Response:
    await node.ledger.delete_organisation(principal, pk)
    return Response(status_code=204)


# ------------------------------------------------- platforms / internal systems
@router.get("/platforms", response_model=PageOut[PlatformOut])
async def list_platforms(
    principal: LedgerReader,
    node: NodeDep,
    q: Annotated[str | None, Query(max_length=64)] = None,
    offset: Offset = 0,
    limit: Limit = 100,
) -> Any:
    return _page(
        PlatformOut, await node.ledger.list_platforms(principal, q=q, offset=offset, limit=limit)
    )


ImportMode = Annotated[
    str,
    Form(
        pattern="^(all_or_nothing|valid_rows|validate)$",
        description="validate: dry run, every row checked, nothing written",
    ),
]


async def _read_upload(node: Any, file: UploadFile) -> bytes:
    cap = node.ledger.settings.import_max_bytes
    data = await file.read(cap + 1)
    if len(data) > cap:
        raise HTTPException(status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, f"file exceeds {cap} bytes")
    return data


async def _form_import(
    principal: Any, node: Any, form: str, file: UploadFile, mode: str
) -> dict[str, Any]:
    data = await _read_upload(node, file)
    job = await node.ledger.start_form_import(principal, form, data, file.filename, mode=mode)
    return {"job_id": job.id, "state": job.state}


async def _form_export(principal: Any, node: Any, form: str, fmt: str, q: str | None) -> Response:
    from sharpeyes.ledger.survey_form import FORMS

    data, _ = await node.ledger.export_records(principal, form, fmt, q=q)
    return _file(data, fmt, FORMS[form].title, f"{form}-ledger")


@router.get("/platforms/export")
async def export_platforms(
    principal: LedgerReader,
    node: NodeDep,
    fmt: Fmt = "xlsx",
    q: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """Platform records in scope as the platform survey form; recorded in history."""
    return await _form_export(principal, node, "platform", fmt, q)


@router.post("/platforms/import", response_model=JobStartOut, status_code=202)
async def import_platforms(
    principal: LedgerImporter,
    node: NodeDep,
    file: Annotated[UploadFile, File(description=".xlsx or .csv platform survey form")],
    mode: ImportMode = "all_or_nothing",
) -> Any:
    """Like the camera import: 400 for a bad file, rows checked in a job."""
    return await _form_import(principal, node, "platform", file, mode)


@router.post("/platforms", response_model=PlatformOut, status_code=201)
async def create_platform(body: PlatformIn, principal: LedgerWriter, node: NodeDep) -> Any:
    return await node.ledger.create_platform(principal, body.model_dump())


@router.get("/platforms/{pk}", response_model=PlatformOut)
async def get_platform(pk: Int64, principal: LedgerReader, node: NodeDep) -> Any:
    return await node.ledger.get_platform(principal, pk)


@router.patch("/platforms/{pk}", response_model=PlatformOut)
async def update_platform(
    pk: Int64, body: PlatformPatch, principal: LedgerWriter, node: NodeDep
) -> Any:
    return await node.ledger.update_platform(principal, pk, body.model_dump(exclude_unset=True))


@router.delete("/platforms/{pk}", status_code=204)
async def delete_platform(pk: Int64, principal: LedgerWriter, node: NodeDep) -> Response:
    await node.ledger.delete_platform(principal, pk)
    return Response(status_code=204)


@router.get("/internal-systems", response_model=PageOut[InternalSystemOut])
async def list_internal_systems(
    principal: LedgerReader,
    node: NodeDep,
    q: Annotated[str | None, Query(max_length=64)] = None,
    offset: Offset = 0,
    limit: Limit = 100,
) -> Any:
    return _page(
        InternalSystemOut,
        await node.ledger.list_internal_systems(principal, q=q, offset=offset, limit=limit),
    )


@router.get("/internal-systems/export")
async def export_internal_systems(
    principal: LedgerReader,
    node: NodeDep,
    fmt: Fmt = "xlsx",
    q: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """Internal video systems in scope as their survey form; recorded in history."""
    return await _form_export(principal, node, "internal_system", fmt, q)


@router.post("/internal-systems/import", response_model=JobStartOut, status_code=202)
async def import_internal_systems(
    principal: LedgerImporter,
    node: NodeDep,
    file: Annotated[UploadFile, File(description=".xlsx or .csv internal-system survey form")],
    mode: ImportMode = "all_or_nothing",
) -> Any:
    """Like the camera import: 400 for a bad file, rows checked in a job."""
    return await _form_import(principal, node, "internal_system", file, mode)


@router.post("/internal-systems", response_model=InternalSystemOut, status_code=201)
async def create_internal_system(
    body: InternalSystemIn, principal: LedgerWriter, node: NodeDep
) -> Any:
    return await node.ledger.create_internal_system(principal, body.model_dump())


@router.get("/internal-systems/{pk}", response_model=InternalSystemOut)
async def get_internal_system(pk: Int64, principal: LedgerReader, node: NodeDep) -> Any:
    return await node.ledger.get_internal_system(principal, pk)


@router.patch("/internal-systems/{pk}", response_model=InternalSystemOut)
async def update_internal_system(
    pk: Int64, body: InternalSystemPatch, principal: LedgerWriter, node: NodeDep
) -> Any:
    return await node.ledger.update_internal_system(
        principal, pk, body.model_dump(exclude_unset=True)
    )


@router.delete("/internal-systems/{pk}", status_code=204)
async def delete_internal_system(pk: Int64, principal: LedgerWriter, node: NodeDep) -> Response:
    await node.ledger.delete_internal_system(principal, pk)
    return Response(status_code=204)


@router.get("/forms/{form}/template")
async def form_template(
    form: str,
    principal: LedgerReader,
    node: NodeDep,
    fmt: Fmt = "xlsx",
) -> Response:
    """Blank survey form (camera, platform or internal-system) with the seed's headers."""
    from sharpeyes.ledger.survey_form import FORMS

    if form not in FORMS:
        raise HTTPException(404, f"unknown form {form!r}; one of {', '.join(FORMS)}")
    return _file(node.ledger.template(fmt, form), fmt, FORMS[form].title, f"{form}-survey-form")


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


class _Filters:
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
    return _file(
        node.ledger.template(fmt, "camera"), fmt, "公共场所视频监控资源整合接入调研表（摄像机）"
    )


@router.get("/cameras/export")
async def export_cameras(
    principal: LedgerReader,
    node: NodeDep,
    filters: Annotated[_Filters, Depends()],
    fmt: Fmt = "xlsx",
) -> Response:
    """The records in scope (and filters) as the survey form; recorded in history."""
    data, _ = await node.ledger.export_cameras(principal, await filters.build(node), fmt)
    return _file(data, fmt, "视频监控点位台账", "camera-ledger")


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
    data = await _read_upload(node, file)
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
    filters: Annotated[_Filters, Depends()],
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


# ------------------------------------------------------------------ quality
@router.get("/quality")
async def ledger_quality(
    principal: LedgerReader,
    node: NodeDep,
    filters: Annotated[_Filters, Depends()],
    group_by: Annotated[str, Query(pattern="^(region|org)$")] = "region",
    level: Annotated[str, Query(pattern="^(province|city|county|township)$")] = "county",
    org_field: Annotated[str, Query(pattern="^(owner|maintainer)$")] = "owner",
) -> dict[str, Any]:
    """完整率 and 上图率 per region (at ``level``) or per unit."""
    return await node.ledger.quality(
        principal,
        group_by=group_by,
        level=level,
        org_field=org_field,
        filters=await filters.build(node),
    )


@router.get("/quality/duplicates")
async def ledger_duplicates(
    principal: LedgerReader,
    node: NodeDep,
    filters: Annotated[_Filters, Depends()],
    distance_m: Annotated[
        float | None, Query(ge=0.1, le=1000, description="metres; 0.1 to 1000")
    ] = None,
    same_direction: bool = True,
) -> dict[str, Any]:
    """Overlapping cameras: 一机多用 / 以迁代拆 candidates."""
    return await node.ledger.duplicates(
        principal,
        distance_m=distance_m,
        same_direction=same_direction,
        filters=await filters.build(node),
    )


@router.get("/dictionaries")
async def dictionaries(principal: LedgerReader, node: NodeDep) -> dict[str, Any]:
    """Closed lists (codes and Chinese labels), key-area categories, rules in force."""
    return node.ledger.dictionaries()
