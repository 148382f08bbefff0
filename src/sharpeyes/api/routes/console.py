"""Saved live layouts and camera groups of the signed-in user (``/api/console/views``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Response, status
from pydantic import BaseModel, Field, model_validator

from sharpeyes.api.deps import NodeDep, Reader
from sharpeyes.api.params import Int64
from sharpeyes.console import service
from sharpeyes.console.models import ViewKind

router = APIRouter(prefix="/api/console", tags=["console"])


class ViewIn(BaseModel):
    kind: ViewKind
    name: str = Field(min_length=1, max_length=64)
    channels: list[int | None] = Field(default_factory=list, max_length=64)
    layout: int | None = None
    dwell: int | None = Field(default=None, ge=3, le=3600)

    @model_validator(mode="after")
    def check(self) -> ViewIn:
        if self.kind is ViewKind.LAYOUT:
            if self.layout not in (1, 4, 9, 16):
                raise ValueError("a layout needs layout 1, 4, 9 or 16")
            if len(self.channels) > self.layout:
                raise ValueError("more channels than cells")
        elif not [c for c in self.channels if c is not None]:
            raise ValueError("a group needs at least one channel")
        return self


class ViewOut(BaseModel):
    id: int
    kind: ViewKind
    name: str
    data: dict[str, Any]
    updated_at: datetime


@router.get("/views", response_model=list[ViewOut])
async def list_views(principal: Reader, node: NodeDep, kind: ViewKind) -> list[dict[str, Any]]:
    return await service.list_views(node.db, principal, kind)


@router.put("/views", response_model=ViewOut)
async def save_view(body: ViewIn, principal: Reader, node: NodeDep) -> dict[str, Any]:
    """Create or replace one of the caller's layouts or groups (by kind and name)."""
    data: dict[str, Any] = {"channels": body.channels}
    if body.kind is ViewKind.LAYOUT:
        data["layout"] = body.layout
    else:
        data["channels"] = [c for c in body.channels if c is not None]
        data["dwell"] = body.dwell or 10
    return await service.save_view(node.db, principal, body.kind, body.name.strip(), data)


@router.delete("/views/{view_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_view(view_id: Int64, principal: Reader, node: NodeDep) -> Response:
    if not await service.delete_view(node.db, principal, view_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such saved view")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
