"""Ledger quality, duplicates and dictionaries routes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import (
    APIRouter,
    Depends,
    Query,
)

from sharpeyes.api.deps import LedgerReader, NodeDep
from sharpeyes.api.routes.ledger.cameras import FilterQuery

router = APIRouter(prefix="/api/ledger", tags=["ledger"])


# ------------------------------------------------------------------ quality
@router.get("/quality")
async def ledger_quality(
    principal: LedgerReader,
    node: NodeDep,
    filters: Annotated[FilterQuery, Depends()],
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
    filters: Annotated[FilterQuery, Depends()],
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
