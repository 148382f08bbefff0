"""Coordinates (GCJ-02, distances, grid) and the region list (GB/T 2260 seed, lookup)."""

from __future__ import annotations

import random

import pytest

from sharpeyes.ledger.geo import (
    cell_of,
    cell_size_deg,
    gcj02_bbox_to_wgs84,
    gcj02_to_wgs84,
    haversine_m,
    in_china,
    wgs84_to_gcj02,
    wgs84_to_gcj02_many,
)
from sharpeyes.ledger.regions import RegionIndex, gb2260_regions


def test_gcj02_known_shift_and_precise_inverse() -> None:
    # Tiananmen: the GCJ-02 shift there is about +0.0062 lon, +0.0014 lat (~600 m).
    lon, lat = wgs84_to_gcj02(116.391275, 39.906217)
    assert 0.005 < lon - 116.391275 < 0.0075
    assert 0.0005 < lat - 39.906217 < 0.0025
    rng = random.Random(7)
    for _ in range(200):
        w = (rng.uniform(75, 134), rng.uniform(18, 53))
        g = wgs84_to_gcj02(*w)
        back = gcj02_to_wgs84(*g)
        assert haversine_m(w[0], w[1], back[0], back[1]) < 0.001  # under a millimetre


def test_gcj02_outside_china_is_identity_and_batch_matches() -> None:
    assert wgs84_to_gcj02(2.35, 48.85) == (2.35, 48.85)
    assert gcj02_to_wgs84(2.35, 48.85) == (2.35, 48.85)
    lons, lats = [116.1, 121.5], [32.3, 31.2]
    bl, bt = wgs84_to_gcj02_many(lons, lats)
    for i in range(2):
        assert (bl[i], bt[i]) == pytest.approx(wgs84_to_gcj02(lons[i], lats[i]), abs=1e-12)


def test_gcj_viewport_contains_the_converted_points() -> None:
    bbox = (116.2, 32.2, 116.4, 32.4)
    w = gcj02_bbox_to_wgs84(bbox)
    for lon, lat in ((116.2, 32.2), (116.4, 32.4), (116.3, 32.3)):
        wl, wt = gcj02_to_wgs84(lon, lat)
        assert w[0] <= wl <= w[2] and w[1] <= wt <= w[3]


def test_haversine_and_bounds() -> None:
    # one degree of latitude ≈ 111.2 km
    assert haversine_m(116.0, 32.0, 116.0, 33.0) == pytest.approx(111_195, rel=1e-3)
    assert in_china(116.3, 32.3) and not in_china(2.35, 48.85)


def test_grid_cells() -> None:
    assert cell_size_deg(0) == 90.0
    assert cell_size_deg(10) == pytest.approx(360 / 1024 / 4)
    c = cell_size_deg(12)
    a, b = cell_of(116.3, 32.3, c)
    assert (116.3 + 180) // c == a and (32.3 + 90) // c == b


def test_gb2260_seed_from_the_package() -> None:
    regions = {r.code: r for r in gb2260_regions()}
    assert regions["34"].name == "安徽省" and regions["34"].level == "province"
    assert regions["3415"].name == "六安市" and regions["3415"].parent_code == "34"
    assert regions["341522"].name == "霍邱县" and regions["341522"].parent_code == "3415"
    # municipalities have no city level: districts hang under the province
    assert regions["110105"].parent_code == "11"
    assert len([r for r in regions.values() if r.level == "province"]) >= 31
    assert len([r for r in regions.values() if r.level == "county"]) > 2800
    # parents come before children (the seed inserts in this order)
    seen: set[str] = set()
    for r in gb2260_regions():
        assert r.parent_code is None or r.parent_code in seen
        seen.add(r.code)


def _index() -> RegionIndex:
    rows = [
        ("34", "安徽省", None, "province"),
        ("3415", "六安市", "34", "city"),
        ("341522", "霍邱县", "3415", "county"),
        ("341523", "舒城县", "3415", "county"),
        ("34152201", "城关镇", "341522", "township"),
        ("34152301", "城关镇", "341523", "township"),
        ("11", "北京市", None, "province"),
        ("110105", "朝阳区", "11", "county"),
        ("22", "吉林省", None, "province"),
        ("2201", "长春市", "22", "city"),
        ("220104", "朝阳区", "2201", "county"),
    ]
    return RegionIndex(rows)


def test_region_lookup_by_name_path_and_code() -> None:
    idx = _index()
    assert idx.resolve("霍邱县城关镇") == ("34152201", None)
    assert idx.resolve("霍邱县 / 城关镇") == ("34152201", None)
    assert idx.resolve("六安市霍邱县城关镇") == ("34152201", None)
    assert idx.resolve("341522") == ("341522", None)
    assert idx.resolve("341500") == ("3415", None)
    # a township name repeats across counties: the row's 20-digit code narrows it
    code, why = idx.resolve("城关镇")
    assert code is None and why and "不唯一" in why
    assert idx.resolve("城关镇", within="34152201") == ("34152201", None)
    assert idx.resolve("城关镇", within="341523") == ("34152301", None)
    code, why = idx.resolve("朝阳区")
    assert code is None
    assert idx.resolve("北京市朝阳区") == ("110105", None)
    code, why = idx.resolve("新店镇")
    assert code is None and why and "不在区划表" in why
    assert idx.path_name("34152201") == "霍邱县城关镇"
