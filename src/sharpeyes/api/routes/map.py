"""Map: viewport points with server-side clustering, nearest cameras, coverage by
key-area category. All answers are scoped (``ledger.read``) and in WGS-84 unless
``crs=gcj02`` (Gaode/Tencent tiles), which applies to inputs and outputs alike."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from sharpeyes.api.deps import LedgerReader, NodeDep
from sharpeyes.api.params import Int64
from sharpeyes.api.routes.ledger.cameras import FilterQuery
from sharpeyes.ledger.mapquery import parse_bbox

router = APIRouter(prefix="/api/map", tags=["map"])

Crs = Annotated[str, Query(pattern="^(wgs84|gcj02)$")]


@router.get("/points")
async def map_points(
    principal: LedgerReader,
    node: NodeDep,
    filters: Annotated[FilterQuery, Depends()],
    bbox: Annotated[str, Query(description="minlon,minlat,maxlon,maxlat", max_length=128)],
    zoom: Annotated[Int64, Query(ge=0, le=22)],
    crs: Crs = "wgs84",
) -> dict[str, Any]:
    """Every on-map camera in the viewport exactly once: grid clusters (count,
    centroid, bbox; id/name/status when a cluster is one camera) below the point
    zoom, single points from it on."""
    return await node.ledger.map_points(
        principal, parse_bbox(bbox), zoom, crs=crs, filters=await filters.build(node)
    )


@router.get("/nearest")
async def map_nearest(
    principal: LedgerReader,
    node: NodeDep,
    filters: Annotated[FilterQuery, Depends()],
    lon: Annotated[float, Query(ge=-180, le=180)],
    lat: Annotated[float, Query(ge=-90, le=90)],
    limit: Annotated[Int64, Query(ge=1, le=200)] = 10,
    max_radius_m: Annotated[float, Query(gt=0, le=200_000)] = 50_000,
    crs: Crs = "wgs84",
) -> list[dict[str, Any]]:
    """The cameras nearest to a point, with their distance in metres."""
    return await node.ledger.nearest(
        principal,
        lon,
        lat,
        limit=limit,
        max_radius_m=max_radius_m,
        crs=crs,
        filters=await filters.build(node),
    )


@router.get("/categories")
async def map_categories(
    principal: LedgerReader,
    node: NodeDep,
    region: Annotated[str | None, Query(pattern=r"^\d{2,12}$")] = None,
    level: Annotated[str, Query(pattern="^(province|city|county|township)$")] = "county",
) -> dict[str, Any]:
    """Cameras per key-area category per region, and the categories with none."""
    return await node.ledger.category_counts(principal, region=region, level=level)
