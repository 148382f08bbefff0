"""The audit trail: search, export (itself audited) and chain verification."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response

from sharpeyes.api.deps import Auditor, NodeDep
from sharpeyes.api.params import Int64, Offset
from sharpeyes.audit.service import Actor, record

router = APIRouter(prefix="/api/audit", tags=["audit"])


def _row(e: Any) -> dict[str, Any]:
    import json

    return {
        "id": e.id,
        "at": e.at,
        "actor": e.actor,
        "actor_name": e.actor_name,
        "org_id": e.org_id,
        "action": e.action,
        "target_type": e.target_type,
        "target_id": e.target_id,
        "outcome": e.outcome,
        "client_ip": e.client_ip,
        "detail": json.loads(e.detail or "{}"),
        "hash": e.hash,
    }


@router.get("")
async def search(
    principal: Auditor,
    node: NodeDep,
    actor: Annotated[str | None, Query(max_length=128)] = None,
    org_id: Int64 | None = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    target: Annotated[str | None, Query(max_length=128)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    offset: Offset = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    rows, total = await node.audit.search(
        actor=actor,
        org_id=org_id,
        action=action,
        target=target,
        since=since,
        until=until,
        offset=offset,
        limit=limit,
    )
    return {"items": [_row(r) for r in rows], "total": total, "offset": offset, "limit": limit}


@router.get("/verify")
async def verify(principal: Auditor, node: NodeDep) -> dict[str, Any]:
    """{ok, rows, first_bad}: the first row (id) where the hash chain breaks."""
    v = await node.audit.verify()
    return {"ok": v.ok, "rows": v.rows, "first_bad": v.first_bad, "reason": v.reason}


@router.get("/export")
async def export(
    request: Request,
    principal: Auditor,
    node: NodeDep,
    format: Literal["csv", "xlsx"] = "csv",
    actor: Annotated[str | None, Query(max_length=128)] = None,
    org_id: Int64 | None = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    target: Annotated[str | None, Query(max_length=128)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Response:
    filters = {
        "actor": actor,
        "org_id": org_id,
        "action": action,
        "target": target,
        "since": since,
        "until": until,
    }
    data = await node.audit.export(format, **filters)
    async with node.db.session() as s:
        await record(
            s,
            Actor.of(principal),
            "audit.export",
            "audit",
            format,
            client_ip=request.client.host if request.client else None,
            detail={k: str(v) for k, v in filters.items() if v is not None},
        )
        await s.commit()
    media = (
        "text/csv; charset=utf-8"
        if format == "csv"
        else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    return Response(
        data,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="audit.{format}"'},
    )
