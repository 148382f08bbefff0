"""Coordinates: WGS-84 ⇄ GCJ-02, distances, China bounds, map grid cells.

The ledger stores WGS-84 (what GB devices and survey GPS report). Chinese tile
sources (AutoNavi/Gaode, Tencent, Tianditu's GCJ layers) draw GCJ-02, so the map
API converts on the way out, and a GCJ-02 viewport on the way in. The forward
transform is the ``coordtransform`` package (MIT; a C batch path); its inverse is
the usual one-step approximation (metres off), so :func:`gcj02_to_wgs84` refines it
by fixed-point iteration to well under a millimetre.
"""

from __future__ import annotations

import math

import coordTransform as _ct

EARTH_RADIUS_M = 6_371_008.8

# Mainland China plus islands, as a rough rectangle (the same box the GCJ-02
# algorithm itself uses to decide whether to shift); points outside are rejected.
CHINA_BOUNDS = (73.66, 3.86, 135.05, 53.55)  # min lon, min lat, max lon, max lat


def in_china(lon: float, lat: float) -> bool:
    min_lon, min_lat, max_lon, max_lat = CHINA_BOUNDS
    return min_lon < lon < max_lon and min_lat < lat < max_lat


def wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    out = _ct.wgs84_to_gcj02(lon, lat)
    return float(out[0]), float(out[1])


def wgs84_to_gcj02_many(lons: list[float], lats: list[float]) -> tuple[list[float], list[float]]:
    """Batch form (C loop inside the package when it is compiled)."""
    if not lons:
        return [], []
    out_lons, out_lats = _ct.wgs84_to_gcj02(lons, lats)
    return list(out_lons), list(out_lats)


def gcj02_to_wgs84(lon: float, lat: float, *, tolerance: float = 1e-9) -> tuple[float, float]:
    """Inverse of :func:`wgs84_to_gcj02` to ``tolerance`` degrees (~0.1 mm at 1e-9)."""
    if not in_china(lon, lat):
        return lon, lat
    w_lon, w_lat = _ct.gcj02_to_wgs84(lon, lat)  # first guess, metres off
    for _ in range(10):
        g_lon, g_lat = wgs84_to_gcj02(w_lon, w_lat)
        d_lon, d_lat = g_lon - lon, g_lat - lat
        w_lon, w_lat = w_lon - d_lon, w_lat - d_lat
        if abs(d_lon) < tolerance and abs(d_lat) < tolerance:
            break
    return float(w_lon), float(w_lat)


def haversine_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in metres (exact enough for tens of metres to 100 km)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def degrees_for_metres(metres: float, lat: float) -> tuple[float, float]:
    """(Δlon, Δlat) in degrees spanning ``metres`` at latitude ``lat``: for search boxes."""
    dlat = math.degrees(metres / EARTH_RADIUS_M)
    coslat = max(0.01, math.cos(math.radians(lat)))
    return dlat / coslat, dlat


# Grid clustering: cells are square in degrees, aligned on (-180, -90) so a cell's
# identity does not depend on the viewport (clusters stay put while panning).
# Four cells per 256-px tile width ≈ one cluster per 64 px at every zoom.
CELLS_PER_TILE = 4
GRID_ORIGIN_LON = -180.0
GRID_ORIGIN_LAT = -90.0


def cell_size_deg(zoom: int) -> float:
    """Grid cell edge (degrees) for a web-map zoom level."""
    return 360.0 / (2**zoom) / CELLS_PER_TILE


def cell_of(lon: float, lat: float, cell: float) -> tuple[int, int]:
    """Grid cell of a point; the same arithmetic as the SQL (see ``ledger.mapquery``)."""
    return (
        int((lon - GRID_ORIGIN_LON) / cell),
        int((lat - GRID_ORIGIN_LAT) / cell),
    )


def gcj02_bbox_to_wgs84(
    bbox: tuple[float, float, float, float],
) -> tuple[float, float, float, float]:
    """A GCJ-02 viewport as the WGS-84 box that contains it (corners and edge midpoints)."""
    min_lon, min_lat, max_lon, max_lat = bbox
    mid_lon, mid_lat = (min_lon + max_lon) / 2, (min_lat + max_lat) / 2
    pts = [
        gcj02_to_wgs84(x, y)
        for x in (min_lon, mid_lon, max_lon)
        for y in (min_lat, mid_lat, max_lat)
    ]
    return (
        min(p[0] for p in pts),
        min(p[1] for p in pts),
        max(p[0] for p in pts),
        max(p[1] for p in pts),
    )
