"""Quality figures and map queries on small, known datasets: exact numbers."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import text

from sharpeyes.ledger.geo import cell_of, cell_size_deg, haversine_m, wgs84_to_gcj02
from sharpeyes.ledger.models import CameraRecord
from sharpeyes.ledger.queries import CameraFilters
from sharpeyes.sharing.principal import Principal, Role
from sharpeyes.store.db import Database
from tests.integration.ledger_helpers import ADMIN, Ledger, open_ledger

T1, T2 = "34152201", "34152202"


@pytest.fixture
async def ledger(database: Database) -> AsyncIterator[Ledger]:
    async with open_ledger(database) as led:
        yield led


def _code(township: str, serial: int) -> str:
    return f"{township}001320{serial:06d}"


def _base(
    township: str, serial: int, lon: float | None, lat: float | None, **over: Any
) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "code": _code(township, serial),
        "name": f"霍邱县测试点位{township[-2:]}号{serial}",
        "location_name": f"测试位置{serial}",
        "region_code": township,
        "status": "in_use",
        "point_class": 3,
        "network": "police_video",
        "build_date": "2021-05",
    }
    if lon is not None:
        rec |= {"longitude": f"{lon:.6f}", "latitude": f"{lat:.6f}"}
    rec.update(over)
    return rec


async def _known_dataset(led: Ledger) -> dict[str, int]:
    """Eight records whose figures are known by hand:

    T1: A complete; B class 1 without police station/category/maintainer/storage (incomplete,
        on map); C no coordinates (incomplete, off map); E 8 m from A, same direction, other
        owner (一机多用 with A); H 8 m from A, other direction (not a duplicate).
    T2: D complete; G 10 m from D, same direction, same owner (以迁代拆 with D); F 500 m
        away (no pair).
    """
    svc = led.service
    orgs = led.refs.org_ids
    owner1, owner2 = orgs["霍邱县公安局"], orgs["霍邱县教育局"]
    lon, lat = 116.281231, 32.352341
    dlon8 = 8 / (111_195 * 0.8446)  # ~8 m east at 32.35°N
    recs = {
        "A": _base(T1, 1, lon, lat, owner_org_id=owner1, direction=1),
        "B": _base(T1, 2, lon + 0.01, lat, owner_org_id=owner1, point_class=1),
        "C": _base(T1, 3, None, None, owner_org_id=owner2),
        "E": _base(T1, 4, lon + dlon8, lat, owner_org_id=owner2, direction=1),
        "H": _base(T1, 5, lon, lat + 0.000071, owner_org_id=owner1, direction=2),
        "D": _base(T2, 1, 116.205123, 32.211231, owner_org_id=owner2, direction=3),
        "G": _base(T2, 2, 116.205123, 32.211321, owner_org_id=owner2, direction=3),
        "F": _base(T2, 3, 116.210123, 32.211231, owner_org_id=owner2, direction=3),
    }
    # keep the hand-made coordinates valid (6 decimals, 6th not 0)
    for r in recs.values():
        for axis in ("longitude", "latitude"):
            if axis in r and r[axis].endswith("0"):
                r[axis] = r[axis][:-1] + "3"
    ids = {}
    for key, rec in recs.items():
        ids[key] = (await svc.create_camera(ADMIN, rec))["id"]
    return ids


async def test_completeness_and_on_map_rates_are_exact(ledger: Ledger) -> None:
    await _known_dataset(ledger)
    q = await ledger.service.quality(ADMIN, level="township")
    groups = {g["key"]: g for g in q["groups"]}
    assert groups[T1] | {"name": None} == {
        "key": T1,
        "name": None,
        "total": 5,
        "complete": 3,
        "completeness_rate": 0.6,
        "on_map": 4,
        "on_map_rate": 0.8,
    }
    assert groups[T2]["total"] == 3 and groups[T2]["complete"] == 3
    assert groups[T2]["on_map_rate"] == 1.0
    assert q["overall"] == {
        "total": 8,
        "complete": 6,
        "completeness_rate": 0.75,
        "on_map": 7,
        "on_map_rate": 0.875,
    }
    county = await ledger.service.quality(ADMIN, level="county")
    assert [(g["key"], g["name"], g["total"]) for g in county["groups"]] == [
        ("341522", "霍邱县", 8)
    ]
    by_org = await ledger.service.quality(ADMIN, group_by="org")
    orgs = {g["name"]: (g["total"], g["complete"], g["on_map"]) for g in by_org["groups"]}
    assert orgs == {"霍邱县公安局": (3, 2, 3), "霍邱县教育局": (5, 4, 4)}


async def test_duplicate_candidates_are_exact(ledger: Ledger) -> None:
    ids = await _known_dataset(ledger)
    dup = await ledger.service.duplicates(ADMIN, distance_m=30)
    pairs = {(p["a"], p["b"], p["label"]) for p in dup["pairs"]}
    assert pairs == {
        (ids["A"], ids["E"], "一机多用"),
        (ids["D"], ids["G"], "以迁代拆"),
    }
    for p in dup["pairs"]:
        assert 0 < p["distance_m"] <= 30
    assert dup["cameras_involved"] == 4
    # without the direction rule, H (8 m from A, facing elsewhere) joins A's group
    dup = await ledger.service.duplicates(ADMIN, distance_m=30, same_direction=False)
    groups = [sorted(m["id"] for m in g) for g in dup["groups"]]
    assert sorted([ids["A"], ids["E"], ids["H"]]) in groups


async def _random_points(led: Ledger, n: int, seed: int = 1) -> list[tuple[int, float, float]]:
    """``n`` on-map records spread over the county plus a few far away."""
    from sqlalchemy import insert

    rng = random.Random(seed)
    rows = []
    for i in range(n):
        if i % 50 == 0:  # some far from the county, in other cells at every zoom
            lon, lat = rng.uniform(100, 125), rng.uniform(22, 45)
        else:
            lon, lat = rng.uniform(116.0, 116.5), rng.uniform(32.0, 32.5)
        micro_lon, micro_lat = round(lon * 1e6), round(lat * 1e6)
        micro_lon += micro_lon % 10 == 0
        micro_lat += micro_lat % 10 == 0
        rows.append(
            {
                "code": _code(T1 if i % 2 else T2, i + 1),
                "name": f"点{i}",
                "region_code": T1 if i % 2 else T2,
                "longitude": micro_lon / 1e6,
                "latitude": micro_lat / 1e6,
                "on_map": True,
                "complete": False,
                "social": False,
                "status": "in_use",
            }
        )
    async with led.db.session() as s:
        await s.execute(insert(CameraRecord), rows)
        await s.commit()
        got = (await s.execute(text("SELECT id, longitude, latitude FROM camera_records"))).all()
    return [(r[0], r[1], r[2]) for r in got]


def _check_cover(
    res: dict[str, Any], points: list[tuple[int, float, float]], bbox: tuple[float, ...], zoom: int
) -> None:
    """Every point of the view in exactly one cluster; clusters are whole grid cells."""
    inside = [p for p in points if bbox[0] <= p[1] <= bbox[2] and bbox[1] <= p[2] <= bbox[3]]
    if res["mode"] == "points":
        assert sorted(i["id"] for i in res["items"]) == sorted(p[0] for p in inside)
        assert res["total"] == len(inside)
        return
    cell = cell_size_deg(zoom)
    cx0, cy0, cx1, cy1 = res["cells"]
    cells_of = {p[0]: cell_of(p[1], p[2], cell) for p in points}
    expected = Counter(
        xy for xy in cells_of.values() if cx0 <= xy[0] <= cx1 and cy0 <= xy[1] <= cy1
    )
    got = Counter({tuple(i["cell"]): i["count"] for i in res["items"]})
    assert len(got) == len(res["items"])  # one cluster per cell
    assert got == expected, zoom
    assert res["total"] == sum(expected.values())
    assert all(cells_of[p[0]] in got for p in inside)
    for item in res["items"]:
        lo_lon, lo_lat, hi_lon, hi_lat = item["bbox"]
        assert lo_lon <= item["lon"] <= hi_lon and lo_lat <= item["lat"] <= hi_lat
        if item["count"] == 1:
            assert item["name"].startswith("点")


VIEWS = [(-180.0, -90.0, 180.0, 90.0), (116.1, 32.05, 116.37, 32.31)]


@pytest.mark.parametrize("bbox", VIEWS)
async def test_clusters_cover_every_point_once_at_every_zoom(
    ledger: Ledger, bbox: tuple[float, ...]
) -> None:
    points = await _random_points(ledger, 600)
    for zoom in range(0, 21):
        res = await ledger.service.map_points(ADMIN, bbox, zoom)  # type: ignore[arg-type]
        _check_cover(res, points, bbox, zoom)


async def test_precomputed_cells_answer_like_the_live_query(database: Database) -> None:
    async with open_ledger(database, map_cells="on") as led:
        svc = led.service
        points = await _random_points(led, 600, seed=9)
        assert not await svc.map_cells.is_fresh()
        await svc.map_cells.rebuild()
        assert await svc.map_cells.is_fresh()
        t2 = Principal(user_id=5, username="t2", role=Role.VIEWER, region_codes=("341522",))
        for bbox in VIEWS:
            for zoom in range(0, 13):
                cached = await svc.map_points(ADMIN, bbox, zoom)  # type: ignore[arg-type]
                assert cached["source"] == "cells"
                _check_cover(cached, points, bbox, zoom)
                svc.map_cells.enabled = False
                live = await svc.map_points(ADMIN, bbox, zoom)  # type: ignore[arg-type]
                scoped_live = await svc.map_points(t2, bbox, zoom)  # type: ignore[arg-type]
                svc.map_cells.enabled = True
                assert live["source"] == "live"
                assert [(i["cell"], i["count"], i.get("id")) for i in cached["items"]] == [
                    (i["cell"], i["count"], i.get("id")) for i in live["items"]
                ]
                for a, b in zip(cached["items"], live["items"], strict=True):
                    assert a["lon"] == pytest.approx(b["lon"], abs=1e-9)
                    assert a["bbox"] == pytest.approx(b["bbox"], abs=1e-12)
                scoped = await svc.map_points(t2, bbox, zoom)  # type: ignore[arg-type]
                assert scoped["source"] == "cells"
                assert [(i["cell"], i["count"]) for i in scoped["items"]] == [
                    (i["cell"], i["count"]) for i in scoped_live["items"]
                ]
        # any change to a record's position makes the cells stale: answered live
        await svc.map_cells.stop()  # no rebuild from start() racing with this check
        await svc.update_camera(
            ADMIN, points[0][0], {"longitude": "116.412341", "name": "霍邱县测试点位"}
        )
        assert not await svc.map_cells.is_fresh()
        res = await svc.map_points(ADMIN, VIEWS[0], 5)  # type: ignore[arg-type]
        assert res["source"] == "live"
        await svc.map_cells.stop()
        await svc.map_cells.rebuild()
        assert (await svc.map_points(ADMIN, VIEWS[0], 5))["source"] == "cells"  # type: ignore[arg-type]
        # a filter is always answered live
        res = await svc.map_points(ADMIN, VIEWS[0], 5, filters=CameraFilters(status="in_use"))  # type: ignore[arg-type]
        assert res["source"] == "live" and res["total"] == 600


async def test_high_zoom_with_too_many_points_still_clusters(database: Database) -> None:
    async with open_ledger(database, map_max_points=50) as led:
        points = await _random_points(led, 200)
        bbox = (116.0, 32.0, 116.5, 32.5)
        res = await led.service.map_points(ADMIN, bbox, 18)
        assert res["mode"] == "clusters"
        _check_cover(res, points, bbox, 18)


async def test_map_respects_scope_filters_and_gcj02(ledger: Ledger) -> None:
    points = await _random_points(ledger, 200)
    t1_user = Principal(user_id=5, username="t1", role=Role.VIEWER, region_codes=(T1,))
    world = (-180.0, -90.0, 180.0, 90.0)
    res = await ledger.service.map_points(t1_user, world, 3)
    assert res["total"] == 100  # odd rows are in T1
    res = await ledger.service.map_points(ADMIN, world, 3, filters=CameraFilters(region=T2))
    assert res["total"] == 100
    # GCJ-02: the output is shifted, the set of points is the same
    pid, lon, lat = next(p for p in points if 116.0 < p[1] < 116.5)
    box = (lon - 0.0001, lat - 0.0001, lon + 0.0001, lat + 0.0001)
    wgs = await ledger.service.map_points(ADMIN, box, 18)
    assert [i["id"] for i in wgs["items"]] == [pid]
    glon, glat = wgs84_to_gcj02(lon, lat)
    gbox = (glon - 0.0001, glat - 0.0001, glon + 0.0001, glat + 0.0001)
    gcj = await ledger.service.map_points(ADMIN, gbox, 18, crs="gcj02")
    (item,) = gcj["items"]
    assert item["id"] == pid
    assert (item["lon"], item["lat"]) == pytest.approx((glon, glat), abs=1e-9)


async def test_nearest_matches_brute_force(ledger: Ledger) -> None:
    points = await _random_points(ledger, 400, seed=4)
    lon, lat = 116.25, 32.25
    got = await ledger.service.nearest(ADMIN, lon, lat, limit=7)
    brute = sorted(points, key=lambda p: (haversine_m(lon, lat, p[1], p[2]), p[0]))[:7]
    assert [g["id"] for g in got] == [p[0] for p in brute]
    assert got[0]["distance_m"] <= got[-1]["distance_m"]
    none = await ledger.service.nearest(ADMIN, 80.0, 40.0, limit=3, max_radius_m=1000)
    assert none == []


async def test_category_counts_and_gaps(ledger: Ledger) -> None:
    await _known_dataset(ledger)
    svc = ledger.service
    page = await svc.list_cameras(ADMIN, CameraFilters(region=T1))
    for i, item in enumerate(page.items):
        await svc.update_camera(ADMIN, item["id"], {"key_area_category": ("学校", "医院")[i % 2]})
    res = await svc.category_counts(ADMIN, region="341522", level="township")
    by = {r["region"]: r for r in res["regions"]}
    assert by[T1]["counts"]["school"] == 3 and by[T1]["counts"]["hospital"] == 2
    assert by[T1]["uncategorised"] == 0
    assert "school" not in by[T1]["missing"] and "government" in by[T1]["missing"]
    assert by[T2]["uncategorised"] == 3
    assert set(by[T2]["missing"]) == set(svc.rules.categories)
