"""Shared pieces of the ledger routes: file responses, pages, form import/export."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import (
    Form,
    HTTPException,
    Query,
    Response,
    UploadFile,
    status,
)

from sharpeyes.ledger.survey_form import FORMS

Fmt = Annotated[str, Query(alias="format", pattern="^(xlsx|csv)$")]
RegionQ = Annotated[str | None, Query(pattern=r"^\d{2,12}$", description="region subtree")]

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def file_response(data: bytes, fmt: str, stem: str, ascii_stem: str = "ledger") -> Response:
    mime = XLSX_MIME if fmt == "xlsx" else "text/csv; charset=utf-8"
    # RFC 6266/5987: the Chinese name for browsers, an ASCII one for old clients
    # (HTTP headers are Latin-1).
    disp = f"attachment; filename=\"{ascii_stem}.{fmt}\"; filename*=UTF-8''{quote(stem)}.{fmt}"
    return Response(data, media_type=mime, headers={"Content-Disposition": disp})


def page_of(model: Any, page: Any) -> dict[str, Any]:
    return {
        "items": [model.model_validate(i) for i in page.items],
        "total": page.total,
        "offset": page.offset,
        "limit": page.limit,
    }


async def read_upload(node: Any, file: UploadFile) -> bytes:
    cap = node.ledger.settings.import_max_bytes
    data = await file.read(cap + 1)
    if len(data) > cap:
        raise HTTPException(status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, f"file exceeds {cap} bytes")
    return data


async def form_import(
    principal: Any, node: Any, form: str, file: UploadFile, mode: str
) -> dict[str, Any]:
    data = await read_upload(node, file)
    job = await node.ledger.start_form_import(principal, form, data, file.filename, mode=mode)
    return {"job_id": job.id, "state": job.state}


async def form_export(principal: Any, node: Any, form: str, fmt: str, q: str | None) -> Response:
    data, _ = await node.ledger.export_records(principal, form, fmt, q=q)
    return file_response(data, fmt, FORMS[form].title, f"{form}-ledger")


ImportMode = Annotated[
    str,
    Form(
        pattern="^(all_or_nothing|valid_rows|validate)$",
        description="validate: dry run, every row checked, nothing written",
    ),
]
