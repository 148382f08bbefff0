"""Ledger routes for platform and internal-system records and the form templates."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import (
    APIRouter,
    File,
    HTTPException,
    Query,
    Response,
    UploadFile,
)

from sharpeyes.api.deps import LedgerImporter, LedgerReader, LedgerWriter, NodeDep
from sharpeyes.api.ledger_schemas import (
    InternalSystemIn,
    InternalSystemOut,
    InternalSystemPatch,
    JobStartOut,
    PlatformIn,
    PlatformOut,
    PlatformPatch,
)
from sharpeyes.api.params import Int64, Limit, Offset
from sharpeyes.api.routes.ledger.common import (
    Fmt,
    ImportMode,
    file_response,
    form_export,
    form_import,
    page_of,
)
from sharpeyes.api.schemas import PageOut
from sharpeyes.ledger.survey_form import FORMS

router = APIRouter(prefix="/api/ledger", tags=["ledger"])


# ------------------------------------------------- platforms / internal systems
@router.get("/platforms", response_model=PageOut[PlatformOut])
async def list_platforms(
    principal: LedgerReader,
    node: NodeDep,
    q: Annotated[str | None, Query(max_length=64)] = None,
    offset: Offset = 0,
    limit: Limit = 100,
) -> Any:
    return page_of(
        PlatformOut, await node.ledger.list_platforms(principal, q=q, offset=offset, limit=limit)
    )


@router.get("/platforms/export")
async def export_platforms(
    principal: LedgerReader,
    node: NodeDep,
    fmt: Fmt = "xlsx",
    q: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """Platform records in scope as the platform survey form; recorded in history."""
    return await form_export(principal, node, "platform", fmt, q)


@router.post("/platforms/import", response_model=JobStartOut, status_code=202)
async def import_platforms(
    principal: LedgerImporter,
    node: NodeDep,
    file: Annotated[UploadFile, File(description=".xlsx or .csv platform survey form")],
    mode: ImportMode = "all_or_nothing",
) -> Any:
    """Like the camera import: 400 for a bad file, rows checked in a job."""
    return await form_import(principal, node, "platform", file, mode)


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
    return page_of(
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
    return await form_export(principal, node, "internal_system", fmt, q)


@router.post("/internal-systems/import", response_model=JobStartOut, status_code=202)
async def import_internal_systems(
    principal: LedgerImporter,
    node: NodeDep,
    file: Annotated[UploadFile, File(description=".xlsx or .csv internal-system survey form")],
    mode: ImportMode = "all_or_nothing",
) -> Any:
    """Like the camera import: 400 for a bad file, rows checked in a job."""
    return await form_import(principal, node, "internal_system", file, mode)


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
    if form not in FORMS:
        raise HTTPException(404, f"unknown form {form!r}; one of {', '.join(FORMS)}")
    return file_response(
        node.ledger.template(fmt, form), fmt, FORMS[form].title, f"{form}-survey-form"
    )
