"""Share requests, reviews, grants and sharing statistics (按需共享·授权使用)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request, status
from pydantic import BaseModel, Field

from sharpeyes.api.deps import NodeDep, Requester, Reviewer, SharingAdmin, SharingReader
from sharpeyes.api.params import Int64
from sharpeyes.errors import NotFoundError
from sharpeyes.sharing.catalogue import list_catalogue
from sharpeyes.sharing.principal import Permission, Right, has_permission
from sharpeyes.sharing.requests import GrantNotFound, RequestNotFound, StateConflict

router = APIRouter(prefix="/api/sharing", tags=["sharing"])


class SelectorIn(BaseModel):
    civil_code_prefixes: list[str] | None = None
    point_classes: list[int] | None = None
    categories: list[str] | None = None
    org_ids: list[int] | None = None


class RequestIn(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    purpose: str = Field(min_length=1, max_length=4000)
    requester_org_id: int | None = None
    channels: list[int] = Field(default_factory=list, max_length=10_000)
    selector: SelectorIn | None = None
    rights: list[Right] = Field(min_length=1)
    starts_at: datetime
    ends_at: datetime
    attachments: list[Any] | None = Field(default=None, max_length=20)
    draft: bool = False


class ReviewIn(BaseModel):
    stage: Literal["police", "data"]
    decision: Literal["approve", "reject"]
    comment: str | None = Field(default=None, max_length=2000)


class RevokeIn(BaseModel):
    reason: str | None = Field(default=None, max_length=200)


def _ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def _aware(dt: datetime) -> datetime:
    if dt.tzinfo is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, "times need a UTC offset")
    return dt


@router.post("/requests", status_code=status.HTTP_201_CREATED)
async def create_request(
    body: RequestIn, request: Request, principal: Requester, node: NodeDep
) -> dict[str, Any]:
    org = body.requester_org_id if body.requester_org_id is not None else principal.org_id
    r = await node.sharing.create(
        principal,
        title=body.title,
        purpose=body.purpose,
        requester_org_id=org,
        channels=body.channels,
        selector=body.selector.model_dump(exclude_none=True) if body.selector else None,
        rights=[r.value for r in body.rights],
        starts_at=_aware(body.starts_at),
        ends_at=_aware(body.ends_at),
        attachments=body.attachments,
        draft=body.draft,
        client_ip=_ip(request),
    )
    return {"id": r.id, "state": r.state}


@router.get("/requests")
async def list_requests(
    principal: SharingReader,
    node: NodeDep,
    box: Annotated[Literal["mine", "review", "all"], Query()] = "mine",
    state: Annotated[str | None, Query(max_length=16)] = None,
) -> dict[str, Any]:
    items = await node.sharing.list(principal, box=box, state=state)
    return {"items": items, "total": len(items)}


@router.get("/catalogue")
async def channel_catalogue(
    principal: Requester,
    node: NodeDep,
    q: Annotated[str | None, Query(max_length=64)] = None,
    civil_code: Annotated[str | None, Query(max_length=20, pattern=r"^[0-9]*$")] = None,
    limit: Annotated[Int64, Query(ge=1, le=5000)] = 1000,
) -> dict[str, Any]:
    """Shareable channels a requester may ask for: id, name, civil code, position; no video."""
    items = await list_catalogue(node.db, q=q, civil_code_prefix=civil_code, limit=limit)
    return {"items": items, "total": len(items)}


@router.get("/requests/{request_id}/channels")
async def request_channels(
    request_id: Int64, principal: SharingReader, node: NodeDep
) -> dict[str, Any]:
    """The catalogue entries of a request's explicit channels (the review map)."""
    try:
        req = await node.sharing.get(principal, request_id)
    except RequestNotFound as exc:
        raise NotFoundError("no such request") from exc
    items = await list_catalogue(node.db, ids=list(req.get("channels") or []), limit=5000)
    return {"items": items, "total": len(items)}


@router.get("/requests/{request_id}")
async def get_request(request_id: Int64, principal: SharingReader, node: NodeDep) -> dict[str, Any]:
    try:
        return await node.sharing.get(principal, request_id)
    except RequestNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such request") from exc


@router.post("/requests/{request_id}/submit")
async def submit_request(request_id: Int64, principal: Requester, node: NodeDep) -> dict[str, Any]:
    return await _guard(node.sharing.submit(principal, request_id))


@router.post("/requests/{request_id}/withdraw")
async def withdraw_request(
    request_id: Int64, principal: Requester, node: NodeDep
) -> dict[str, Any]:
    return await _guard(node.sharing.withdraw(principal, request_id))


@router.post("/requests/{request_id}/reviews")
async def review_request(
    request_id: Int64, body: ReviewIn, request: Request, principal: Reviewer, node: NodeDep
) -> dict[str, Any]:
    return await _guard(
        node.sharing.review(
            principal,
            request_id,
            stage=body.stage,
            decision=body.decision,
            comment=body.comment,
            client_ip=_ip(request),
        )
    )


@router.get("/grants")
async def list_grants(
    principal: SharingReader,
    node: NodeDep,
    state: Annotated[Literal["active", "expired", "revoked"] | None, Query()] = None,
) -> dict[str, Any]:
    items = await node.sharing.grants(principal, state=state)
    return {"items": items, "total": len(items)}


@router.post("/grants/{grant_id}/revoke")
async def revoke_grant(
    grant_id: Int64,
    request: Request,
    principal: SharingAdmin,
    node: NodeDep,
    body: RevokeIn | None = None,
) -> dict[str, Any]:
    return await _guard(
        node.sharing.revoke(principal, grant_id, body.reason if body else None, _ip(request))
    )


@router.get("/stats")
async def sharing_stats(principal: SharingAdmin, node: NodeDep) -> dict[str, Any]:
    """共享率 per region and organisation, requests by state, usage per grant."""
    assert has_permission(principal, Permission.SHARING_ADMIN)
    return await node.sharing.stats()


async def _guard(coro: Any) -> dict[str, Any]:
    try:
        return await coro  # type: ignore[no-any-return]
    except (RequestNotFound, GrantNotFound) as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "not found") from exc
    except StateConflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
