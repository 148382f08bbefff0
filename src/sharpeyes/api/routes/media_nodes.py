"""``GET /api/media/nodes``: the media nodes this control node sees (``media.mode = nodes``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from sharpeyes.api.deps import NodeDep, require
from sharpeyes.sharing.principal import Permission, Principal

router = APIRouter(tags=["media"])

MediaOps = Annotated[Principal, Depends(require(Permission.MEDIA_NODES))]


@router.get("/api/media/nodes")
async def media_nodes(principal: MediaOps, node: NodeDep) -> dict[str, Any]:
    """Each media node's state (``up``/``down``: down after missed heartbeats) and load.
    Embedded media (the default) has no media nodes: the list is empty."""
    plane = node.media_plane
    return {"items": plane.registry.items() if plane is not None else []}
