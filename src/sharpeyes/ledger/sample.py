"""A synthetic county ledger: reference data and survey-form rows that pass the rules.

Used by the tests, the benchmark and demos. The county is 霍邱县 (341522), the one
seed 004 was written for; townships get GB/T 28181-style 8-digit grassroots codes
(3415220x), and every camera's 20-digit code names its township, so the rows are
consistent by construction. Deterministic for a given seed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from sharpeyes.ledger.models import Organisation, PoliceStation, Region
from sharpeyes.sharing.principal import Principal

COUNTY = "341522"
COUNTY_NAME = "霍邱县"
# (code, name, police station, centre lon, centre lat)
TOWNSHIPS: tuple[tuple[str, str, str, float, float], ...] = (
    ("34152201", "城关镇", "城关派出所", 116.278, 32.353),
    ("34152202", "河口镇", "河口派出所", 116.205, 32.211),
    ("34152203", "周集镇", "周集派出所", 116.356, 32.116),
    ("34152204", "临水镇", "临水派出所", 116.402, 32.423),
    ("34152205", "新店镇", "新店派出所", 116.151, 32.398),
    ("34152206", "石店镇", "石店派出所", 116.098, 32.287),
)
ORGS: tuple[tuple[str, str], ...] = (
    ("霍邱县公安局", "public_security"),
    ("霍邱县数据资源管理局", "data_bureau"),
    ("霍邱县教育局", "education"),
    ("霍邱县卫生健康委员会", "health"),
    ("霍邱县交通运输局", "transport"),
    ("霍邱县城市管理局", "urban_management"),
)
MAINTAINER = ("霍邱县雪亮工程运维中心", "operator")
ROADS = ("人民路", "解放路", "建设路", "淮河路", "城西大道", "蓼城大道", "光明街", "东湖路")
CORNERS = ("东南角", "西南角", "东北角", "西北角", "北侧", "南侧", "路口", "东侧")


@dataclass
class SampleRefs:
    townships: list[tuple[str, str, str, float, float]] = field(default_factory=list)
    police_ids: dict[str, int] = field(default_factory=dict)
    org_ids: dict[str, int] = field(default_factory=dict)


async def ensure_reference_data(service: Any, principal: Principal) -> SampleRefs:
    """Townships, police stations and units of the sample county (idempotent)."""
    async with service.db.session() as s:
        have = set(
            (
                await s.execute(
                    select(Region.code).where(Region.code.in_([t[0] for t in TOWNSHIPS]))
                )
            ).scalars()
        )
    missing = [
        {"code": code, "name": name, "parent_code": COUNTY, "level": "township", "kind": "镇"}
        for code, name, *_ in TOWNSHIPS
        if code not in have
    ]
    if missing:
        await service.create_regions(principal, missing)
    refs = SampleRefs(townships=list(TOWNSHIPS))
    async with service.db.session() as s:
        stations = dict((await s.execute(select(PoliceStation.name, PoliceStation.id))).all())
        orgs = dict((await s.execute(select(Organisation.name, Organisation.id))).all())
    for code, _name, station, *_ in TOWNSHIPS:
        if station not in stations:
            row = await service.create_police_station(
                principal, {"name": station, "region_code": code}
            )
            stations[station] = row.id
        refs.police_ids[station] = stations[station]
    root_id = orgs.get(ORGS[0][0])
    for name, type_ in (*ORGS, MAINTAINER):
        if name not in orgs:
            row = await service.create_organisation(
                principal,
                {
                    "name": name,
                    "type": type_,
                    "level": "county",
                    "region_code": COUNTY,
                    "parent_id": None if name == ORGS[0][0] else root_id,
                },
            )
            orgs[name] = row.id
            if name == ORGS[0][0]:
                root_id = row.id
        refs.org_ids[name] = orgs[name]
    return refs


def _coord(rng: random.Random, centre: float, spread: float) -> float:
    """A coordinate with exactly 6 decimals whose 6th digit is not 0."""
    micro = round((centre + rng.uniform(-spread, spread)) * 1_000_000)
    if micro % 10 == 0:
        micro += rng.randint(1, 9)
    return micro / 1_000_000


def camera_values(n: int, *, seed: int = 1, start: int = 0) -> list[dict[str, Any]]:
    """``n`` camera rows in survey-form terms (names for references, codes for lists)."""
    rng = random.Random(seed)
    cats = ("government", "square", "transport_hub", "commercial", "school", "hospital", "road")
    out: list[dict[str, Any]] = []
    for i in range(start, start + n):
        t_code, t_name, station, lon0, lat0 = TOWNSHIPS[i % len(TOWNSHIPS)]
        serial = i // len(TOWNSHIPS) + 1
        code = f"{t_code}00132{'0'}{serial:06d}"
        cls = 1 + (i % 3)
        owner = ORGS[i % len(ORGS)][0]
        road = ROADS[(i // 7) % len(ROADS)]
        name = f"{COUNTY_NAME}{t_name}{road}{serial}号{CORNERS[i % len(CORNERS)]}"
        out.append(
            {
                "code": code,
                "location_name": f"{t_name}{road}{serial}号",
                "platform_name": "霍邱县雪亮工程平台",
                "brand": ("海康威视", "大华", "宇视", "华为")[i % 4],
                "region_code": f"{COUNTY_NAME}{t_name}",
                "police_station_id": station,
                "longitude": _coord(rng, lon0, 0.08),
                "latitude": _coord(rng, lat0, 0.06),
                "build_date": f"20{15 + i % 9:02d}-{1 + i % 12:02d}",
                "name": name,
                "leased": i % 5 == 0,
                "status": ("in_use", "in_use", "in_use", "disabled", "faulty")[i % 5],
                "integration_method": ("keep", "migrate", "multi_use", "pole_reuse")[i % 4],
                "pole_build_date": f"20{15 + i % 9:02d}-{1 + (i + 3) % 12:02d}",
                "pole_number": f"GJ-{t_code[-2:]}-{serial:05d}",
                "pole_height_m": (4.5, 6.0, 7.5, 8.0)[i % 4],
                "pole_arms": 1 + i % 3,
                "pole_condition": ("intact", "intact", "worn", "damaged")[i % 4],
                "point_class": str(cls),
                "key_area_category": cats[i % len(cats)],
                "place": ("路口", "广场", "校门", "医院门口")[i % 4],
                "network": "police_video",
                "owner_org_id": owner,
                "maintainer_org_id": MAINTAINER[0],
                "shareable": i % 2 == 0,
                "storage_days": (30, 60, 90)[i % 3],
                "camera_type": str(1 + i % 4),
                "direction": str(1 + i % 8),
                "resolution": ("1080P", "400万像素", "4K")[i % 3],
                "codec": ("H.264", "H.265")[i % 2],
                "social": False,
            }
        )
    return out


def record_values(
    n: int, refs: SampleRefs, *, seed: int = 1, start: int = 0
) -> list[dict[str, Any]]:
    """The same rows as stored values (ids, codes), for bulk-loading benchmarks."""
    rows = []
    for v in camera_values(n, seed=seed, start=start):
        t_code = v["code"][:8]
        rows.append(
            v
            | {
                "region_code": t_code,
                "police_station_id": refs.police_ids[v["police_station_id"]],
                "owner_org_id": refs.org_ids[v["owner_org_id"]],
                "maintainer_org_id": refs.org_ids[v["maintainer_org_id"]],
                "point_class": int(v["point_class"]),
                "camera_type": int(v["camera_type"]),
                "direction": int(v["direction"]),
                "complete": True,
                "on_map": True,
                "issues": None,
            }
        )
    return rows


def survey_file(
    values: list[dict[str, Any]], fmt: str = "xlsx", *, like_excel: bool = True
) -> bytes:
    """A filled-in camera survey form, as a person would upload it.

    ``like_excel`` writes the workbook the way Excel does (shared strings); else it
    is streamed like our own exports (inline strings, slower to read back).
    """
    from sharpeyes.ledger.survey_form import CAMERA_FORM, render_row, write_csv, write_xlsx

    cats = dict(
        government="党政机关",
        square="广场",
        transport_hub="车站码头机场等交通场站",
        commercial="商贸中心",
        school="学校",
        hospital="医院",
        road="主要道路路口",
    )
    rows = []
    for n, v in enumerate(values, start=1):
        v = dict(v)
        v["serial"] = n
        if v.get("key_area_category") in cats:
            v["key_area_category"] = cats[v["key_area_category"]]
        rows.append(render_row(CAMERA_FORM, v))
    if fmt != "xlsx":
        return write_csv(CAMERA_FORM, rows)
    if not like_excel:
        return write_xlsx(CAMERA_FORM, rows)
    import io

    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append([CAMERA_FORM.title])
    ws.append([CAMERA_FORM.unit_line])
    ws.append([c.group for c in CAMERA_FORM.columns])
    ws.append([c.header for c in CAMERA_FORM.columns])
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
