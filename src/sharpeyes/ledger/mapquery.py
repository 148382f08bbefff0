"""Map queries: viewport with server-side grid clustering, nearest cameras, coverage
by key-area category.

Clustering is a GROUP BY in SQL over grid cells ``floor((lon+180)/cell)``,
``floor((lat+90)/cell)`` whose size follows the zoom (``geo.cell_size_deg``), so
every point in the viewport falls in exactly one cluster and a cluster does not
move while the map pans. From ``map_point_zoom`` on, single points are returned,
unless the viewport still holds more than ``map_max_points`` (then it clusters).

The viewport is narrowed by an index before aggregating: the R*Tree on SQLite, a
GiST index over ``point(longitude, latitude)`` on PostgreSQL (built-in geometric
types; PostGIS is not needed). Only records on the map (valid coordinates) count.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, case, cast, func, literal_column, select, text
from sqlalchemy.sql import ColumnElement

from sharpeyes.ledger.geo import (
    GRID_ORIGIN_LAT,
    GRID_ORIGIN_LON,
    cell_of,
    cell_size_deg,
    degrees_for_metres,
    gcj02_bbox_to_wgs84,
    gcj02_to_wgs84,
    haversine_m,
    wgs84_to_gcj02,
)
from sharpeyes.ledger.mapcells import MAX_ZOOM, MapCells, cell_exprs, usable_for
from sharpeyes.ledger.models import RTREE_TABLE, CameraRecord
from sharpeyes.ledger.queries import CameraFilters, apply_filters, channel_links
from sharpeyes.sharing.principal import Principal
from sharpeyes.sharing.scope import scope_camera_records
from sharpeyes.store.db import Database

BBox = tuple[float, float, float, float]


def parse_bbox(text_value: str) -> BBox:
    parts = text_value.split(",")
    if len(parts) != 4:
        raise ValueError("bbox must be minlon,minlat,maxlon,maxlat")
    try:
        a, b, c, d = (float(p) for p in parts)
    except ValueError as exc:
        raise ValueError("bbox values must be numbers") from exc
    if not (-180 <= a < c <= 180 and -90 <= b < d <= 90):
        raise ValueError("bbox must satisfy -180<=minlon<maxlon<=180 and -90<=minlat<maxlat<=90")
    return a, b, c, d


# Viewports wider than this (degrees of longitude) are read through the covering
# (on_map, longitude, latitude) index rather than the R*Tree: when most of the
# data is in view, walking the index beats collecting ids from the R*Tree first
# (measured at 100k records: 63 ms vs 155 ms for the whole province).
RTREE_MAX_WIDTH_DEG = 1.0


def _viewport_where(db: Database, stmt: Any, bbox: BBox) -> Any:
    c = CameraRecord
    min_lon, min_lat, max_lon, max_lat = bbox
    stmt = stmt.where(
        c.on_map.is_(True),
        c.longitude >= min_lon,
        c.longitude <= max_lon,
        c.latitude >= min_lat,
        c.latitude <= max_lat,
    )
    if db.is_sqlite:
        if max_lon - min_lon <= RTREE_MAX_WIDTH_DEG:
            rtree = text(
                f"SELECT id FROM {RTREE_TABLE} WHERE max_lon >= :rt_a AND min_lon <= :rt_c "
                "AND max_lat >= :rt_b AND min_lat <= :rt_d"
            ).bindparams(rt_a=min_lon, rt_b=min_lat, rt_c=max_lon, rt_d=max_lat)
            stmt = stmt.where(c.id.in_(rtree.columns(literal_column("id"))))
    else:
        # The GiST index over point(longitude, latitude) (partial: on_map); the
        # planner may still prefer the b-tree for viewports holding most rows.
        stmt = stmt.where(
            text(
                "point(camera_records.longitude, camera_records.latitude) "
                "<@ box(point(:gb_a, :gb_b), point(:gb_c, :gb_d))"
            ).bindparams(gb_a=min_lon, gb_b=min_lat, gb_c=max_lon, gb_d=max_lat)
        )
    return stmt


def _out_xy(lon: float, lat: float, crs: str) -> tuple[float, float]:
    if crs == "gcj02":
        return wgs84_to_gcj02(lon, lat)
    return lon, lat


async def viewport(
    db: Database,
    principal: Principal,
    bbox: BBox,
    zoom: int,
    *,
    filters: CameraFilters | None = None,
    crs: str = "wgs84",
    point_zoom: int = 16,
    max_points: int = 5000,
    cells: MapCells | None = None,
) -> dict[str, Any]:
    """Clusters (or points) covering every on-map record in ``bbox`` exactly once."""
    if crs not in ("wgs84", "gcj02"):
        raise ValueError("crs must be wgs84 or gcj02")
    if not 0 <= zoom <= 22:
        raise ValueError("zoom must be 0..22")
    query_bbox = gcj02_bbox_to_wgs84(bbox) if crs == "gcj02" else bbox
    c = CameraRecord
    filters = filters or CameraFilters()
    items: list[dict[str, Any]] = []
    mode = "points"
    if zoom >= point_zoom:
        stmt = select(c.id, c.name, c.status, c.code, c.longitude, c.latitude)
        stmt = _viewport_where(
            db, apply_filters(scope_camera_records(stmt, principal), filters), query_bbox
        )
        async with db.session() as s:
            rows = (await s.execute(stmt.order_by(c.id).limit(max_points + 1))).all()
            links = (
                await channel_links(s, (r.code for r in rows)) if len(rows) <= max_points else {}
            )
        if len(rows) <= max_points:
            for r in rows:
                x, y = _out_xy(r.longitude, r.latitude, crs)
                items.append(
                    {
                        "count": 1,
                        "lon": x,
                        "lat": y,
                        "bbox": [x, y, x, y],
                        "id": r.id,
                        "name": r.name,
                        "status": r.status,
                        "code": r.code,
                        **_link(links, r.code),
                    }
                )
            return _answer(zoom, crs, None, mode, items)
    mode = "clusters"
    cell = cell_size_deg(zoom)
    # Clusters are whole grid cells: the view is widened to the cells it touches,
    # so a cluster at the edge counts all its cameras and panning never changes it.
    lo_lon, lo_lat, hi_lon, hi_lat = query_bbox
    cx0, cy0 = cell_of(lo_lon, lo_lat, cell)
    cx1, cy1 = cell_of(hi_lon, hi_lat, cell)
    rows: list[Any] = []
    use_cells = (
        cells is not None
        and cells.enabled
        and zoom <= MAX_ZOOM
        and not filters.as_dict()
        and usable_for(principal)
    )
    if use_cells and cells is not None and await cells.is_fresh():
        rows = await cells.clusters(principal, zoom, (cx0, cy0, cx1, cy1))
        source = "cells"
    else:
        if use_cells and cells is not None:
            cells.schedule()
        rows = await _live_clusters(db, principal, filters, zoom, (cx0, cy0, cx1, cy1))
        source = "live"
    async with db.session() as s:
        single_ids = [r.id for r in rows if r.n == 1]
        details: dict[int, Any] = {}
        for start in range(0, len(single_ids), 1000):
            part = single_ids[start : start + 1000]
            stmt = select(c.id, c.name, c.status, c.code).where(c.id.in_(part))
            for d in (await s.execute(stmt)).all():
                details[d.id] = d
        # the linked channel only for the single points drawn, never for clusters
        links = await channel_links(s, (d.code for d in details.values()))
    for r in rows:
        x, y = _out_xy(r.lon, r.lat, crs)
        if r.n == 1:
            d = details.get(r.id)
            items.append(
                {
                    "count": 1,
                    "lon": x,
                    "lat": y,
                    "bbox": [x, y, x, y],
                    "cell": [r.cx, r.cy],
                    "id": r.id,
                    "name": d.name if d else None,
                    "status": d.status if d else None,
                    "code": d.code if d else None,
                    **_link(links, d.code if d else None),
                }
            )
        else:
            x0, y0 = _out_xy(r.min_lon, r.min_lat, crs)
            x1, y1 = _out_xy(r.max_lon, r.max_lat, crs)
            items.append(
                {"count": r.n, "lon": x, "lat": y, "bbox": [x0, y0, x1, y1], "cell": [r.cx, r.cy]}
            )
    items.sort(key=lambda i: (i["cell"][1], i["cell"][0]))
    out = _answer(zoom, crs, cell, mode, items)
    out["source"] = source
    out["cells"] = [cx0, cy0, cx1, cy1]
    return out


async def _live_clusters(
    db: Database,
    principal: Principal,
    filters: CameraFilters,
    zoom: int,
    cell_range: tuple[int, int, int, int],
) -> list[Any]:
    """GROUP BY grid cell over the records of the cells in range (exactly)."""
    c = CameraRecord
    cell = cell_size_deg(zoom)
    cx0, cy0, cx1, cy1 = cell_range
    cx, cy = cell_exprs(db, zoom)
    # Only columns of the covering index: names of single-camera clusters are
    # fetched afterwards by id (few of them where clustering matters).
    stmt = select(
        cx.label("cx"),
        cy.label("cy"),
        func.count().label("n"),
        cast(func.avg(c.longitude), Float).label("lon"),
        cast(func.avg(c.latitude), Float).label("lat"),
        func.min(c.longitude).label("min_lon"),
        func.min(c.latitude).label("min_lat"),
        func.max(c.longitude).label("max_lon"),
        func.max(c.latitude).label("max_lat"),
        func.min(c.id).label("id"),
    )
    snapped = (
        GRID_ORIGIN_LON + cx0 * cell,
        GRID_ORIGIN_LAT + cy0 * cell,
        GRID_ORIGIN_LON + (cx1 + 1) * cell,
        GRID_ORIGIN_LAT + (cy1 + 1) * cell,
    )
    stmt = _viewport_where(
        db, apply_filters(scope_camera_records(stmt, principal), filters), snapped
    )
    stmt = stmt.where(cx.between(cx0, cx1), cy.between(cy0, cy1))
    stmt = stmt.group_by(literal_column("cx"), literal_column("cy"))
    async with db.session() as s:
        return list((await s.execute(stmt)).all())


def _link(links: dict[str, dict[str, Any]], code: str | None) -> dict[str, Any]:
    """``online`` (effective channel state) and ``channel_pk``; None when unlinked."""
    link = links.get(code) if code else None
    if link is None:
        return {"online": None, "channel_pk": None}
    return {"online": link["online"], "channel_pk": link["channel_pk"]}


def _answer(
    zoom: int, crs: str, cell: float | None, mode: str, items: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "zoom": zoom,
        "crs": crs,
        "mode": mode,
        "cell_deg": cell,
        "total": sum(i["count"] for i in items),
        "items": items,
    }


async def nearest(
    db: Database,
    principal: Principal,
    lon: float,
    lat: float,
    *,
    limit: int = 10,
    max_radius_m: float = 50_000,
    crs: str = "wgs84",
    filters: CameraFilters | None = None,
) -> list[dict[str, Any]]:
    """Up to ``limit`` on-map cameras nearest to a point, within ``max_radius_m``.

    Searches a box that grows ×4 from 500 m until it holds ``limit`` records, then
    ranks by great-circle distance (a box may hold farther points than a closer
    one outside it, so the last box is widened to the k-th distance and re-read).
    """
    if crs == "gcj02":
        lon, lat = gcj02_to_wgs84(lon, lat)
    c = CameraRecord
    filters = filters or CameraFilters()
    radius = 500.0
    found: list[Any] = []
    while True:
        r = min(radius, max_radius_m)
        dlon, dlat = degrees_for_metres(r, lat)
        box = (lon - dlon, lat - dlat, lon + dlon, lat + dlat)
        stmt = select(c.id, c.name, c.status, c.longitude, c.latitude, c.code)
        stmt = _viewport_where(
            db, apply_filters(scope_camera_records(stmt, principal), filters), box
        )
        async with db.session() as s:
            found = list((await s.execute(stmt)).all())
        within = [f for f in found if haversine_m(lon, lat, f.longitude, f.latitude) <= r]
        if len(within) >= limit or r >= max_radius_m:
            break
        radius *= 4
    ranked = sorted(
        ((haversine_m(lon, lat, f.longitude, f.latitude), f) for f in found),
        key=lambda t: (t[0], t[1].id),
    )
    kept = [(d, f) for d, f in ranked if d <= max_radius_m][:limit]
    async with db.session() as s:  # the channel of each: a radius select opens live video
        links = await channel_links(s, (f.code for _, f in kept))
    out = []
    for dist, f in kept:
        x, y = _out_xy(f.longitude, f.latitude, crs)
        out.append(
            {
                "id": f.id,
                "code": f.code,
                "name": f.name,
                "status": f.status,
                "lon": x,
                "lat": y,
                "distance_m": round(dist, 2),
                **_link(links, f.code),
            }
        )
    return out


LEVEL_LEN = {"province": 2, "city": 4, "county": 6}


def region_key(level: str) -> ColumnElement[Any]:
    """The region a record counts under at ``level`` (its own region below county)."""
    c = CameraRecord
    if level == "township":
        return c.region_code
    n = LEVEL_LEN.get(level)
    if n is None:
        raise ValueError("level must be province, city, county or township")
    return case((c.region_code.is_(None), None), else_=func.substr(c.region_code, 1, n))


async def category_counts(
    db: Database,
    principal: Principal,
    categories: dict[str, str],
    *,
    region: str | None = None,
    level: str = "county",
    region_names: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Cameras per key-area category per region, and the categories with none."""
    c = CameraRecord
    key = region_key(level).label("k")
    stmt = select(key, c.key_area_category, func.count().label("n"))
    stmt = apply_filters(scope_camera_records(stmt, principal), CameraFilters(region=region))
    stmt = stmt.group_by(literal_column("k"), c.key_area_category)
    async with db.session() as s:
        rows = (await s.execute(stmt)).all()
    groups: dict[str | None, dict[str, int]] = {}
    for k, cat, n in rows:
        groups.setdefault(k, {})[cat or "_none"] = n
    names = region_names or {}
    out = []
    for k in sorted(groups, key=lambda x: (x is None, x or "")):
        counts = groups[k]
        out.append(
            {
                "region": k,
                "name": names.get(k) if k else "未指定区划",
                "counts": {cat: counts.get(cat, 0) for cat in categories},
                "uncategorised": counts.get("_none", 0),
                "missing": [cat for cat in categories if not counts.get(cat)],
            }
        )
    return {
        "level": level,
        "categories": categories,
        "regions": out,
    }
