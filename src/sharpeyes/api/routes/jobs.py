"""Background jobs (imports, revalidation): state, progress, outcome.

Only the user who started a job, or an admin, may read it; to anyone else it does
not exist (404)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from sharpeyes.api.deps import AnyUser, NodeDep
from sharpeyes.api.ledger_schemas import JobOut
from sharpeyes.api.params import Int64

router = APIRouter(prefix="/api/jobs", tags=["jobs"])


@router.get("", response_model=list[JobOut])
async def list_jobs(
    principal: AnyUser, node: NodeDep, limit: Annotated[Int64, Query(ge=1, le=500)] = 50
) -> Any:
    return [j.as_dict() for j in await node.jobs.list(principal, limit)]


@router.get("/{job_id}", response_model=JobOut)
async def get_job(job_id: str, principal: AnyUser, node: NodeDep) -> Any:
    """``{state: queued|running|done|failed, progress: 0..1, imported, errors: [{row,
    column, value, reason}]}``; row is the spreadsheet row number as the user sees it."""
    return (await node.jobs.get(principal, job_id)).as_dict()
