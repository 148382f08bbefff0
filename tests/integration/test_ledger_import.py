"""Survey-form imports and exports: volume, round trip, bad rows, hostile files."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from typing import Any

import openpyxl
import pytest

from sharpeyes.jobs import FAILED, Job, JobRunner
from sharpeyes.ledger import sample
from sharpeyes.ledger.fields import CAMERA_FIELDS
from sharpeyes.ledger.models import CameraRecord
from sharpeyes.ledger.queries import CameraFilters
from sharpeyes.ledger.survey_form import CAMERA_FORM, FormError, render_row, write_csv
from sharpeyes.sharing.principal import Principal, Role
from sharpeyes.store.db import Database
from sharpeyes.store.models import utcnow
from tests.integration.ledger_helpers import (
    ADMIN,
    FIRST_DATA_ROW,
    Ledger,
    import_file,
    open_ledger,
)


@pytest.fixture
async def ledger(database: Database) -> AsyncIterator[Ledger]:
    async with open_ledger(database) as led:
        yield led


async def _snapshot(led: Ledger) -> dict[str, dict[str, Any]]:
    """Every record's ledger fields, keyed by code (or name for records without one)."""
    from sqlalchemy import select

    cols = [getattr(CameraRecord, f) for f in CAMERA_FIELDS]
    extra = [CameraRecord.complete, CameraRecord.on_map, CameraRecord.issues]
    async with led.db.session() as s:
        rows = (await s.execute(select(*cols, *extra))).all()
    out = {}
    for r in rows:
        m = dict(r._mapping)
        out[m["code"] or f"name:{m['name']}"] = m
    return out


async def test_import_10000_row_workbook(ledger: Ledger) -> None:
    values = sample.camera_values(10_000, seed=3)
    data = sample.survey_file(values, "xlsx")
    job = await import_file(ledger.service, data)
    assert job["state"] == "done", job["message"]
    assert job["imported"] == 10_000 and job["created"] == 10_000
    assert job["errors"] == [] and job["progress"] == 1.0
    page = await ledger.service.list_cameras(ADMIN, CameraFilters(), limit=1)
    if ledger.db.is_sqlite:
        assert (page.total, page.total_estimated) == (10_000, False)
    else:  # beyond ledger.queries.COUNT_CAP: the planner's estimate, flagged (exact below)
        assert page.total_estimated and page.total > 2_000
    q = await ledger.service.quality(ADMIN, level="township")
    assert q["overall"] == {
        "total": 10_000,
        "complete": 10_000,
        "completeness_rate": 1.0,
        "on_map": 10_000,
        "on_map_rate": 1.0,
    }
    assert {g["key"]: g["total"] for g in q["groups"]} == {
        t[0]: 10_000 // 6 + (1 if i < 10_000 % 6 else 0) for i, t in enumerate(sample.TOWNSHIPS)
    }
    # every row's values arrived: spot-check one against the generator
    snap = await _snapshot(ledger)
    v = values[4321]
    rec = snap[v["code"]]
    assert rec["longitude"] == v["longitude"] and rec["latitude"] == v["latitude"]
    assert rec["name"] == v["name"] and rec["pole_height_m"] == v["pole_height_m"]
    assert rec["region_code"] == v["code"][:8]
    assert rec["police_station_id"] == ledger.refs.police_ids[v["police_station_id"]]


def _special_values() -> list[dict[str, Any]]:
    """Rows that exercise every column kind, empty cells and the injection guard."""
    base = sample.camera_values(3, seed=11, start=500)
    base[0] |= {
        "remark": "-人工核对",
        "osd_text": "霍邱县城关镇OSD-1",
        "leased": None,
        "pole_number": None,
        "pole_height_m": None,
        "build_date": "2019-07-21",
    }
    base[1] |= {
        "social": True,
        "network": "social",
        "code": base[1]["code"][:13] + "8" + base[1]["code"][14:],
        "position_type": 5,
        "room_type": 1,
        "use_type": 2,
        "direction": None,
    }
    # a social point without a 20-digit code and with few fields
    base.append(
        {
            "name": "霍邱县城关镇某小区大门",
            "location_name": "某小区大门",
            "social": True,
            "region_code": "霍邱县城关镇",
            "point_class": "3",
            "status": "in_use",
            "longitude": 116.281234,
            "latitude": 32.351234,
        }
    )
    return base


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
async def test_export_reimport_round_trip_is_lossless(ledger: Ledger, fmt: str) -> None:
    values = sample.camera_values(300, seed=5) + _special_values()
    job = await import_file(ledger.service, sample.survey_file(values, fmt), f"in.{fmt}")
    assert job["state"] == "done", job
    assert job["imported"] == len(values)
    before = await _snapshot(ledger)
    exported, n = await ledger.service.export_cameras(ADMIN, CameraFilters(), fmt)
    assert n == len(values)
    assert await ledger.service.clear_cameras(ADMIN) == len(values)
    assert await _snapshot(ledger) == {}
    job = await import_file(ledger.service, exported, f"export.{fmt}")
    assert job["state"] == "done", job
    assert job["created"] == len(values)
    after = await _snapshot(ledger)
    assert after == before
    # a fresh export imported over the ledger it came from matches every row (the
    # one without a code by its 台账ID) and changes nothing
    exported, _ = await ledger.service.export_cameras(ADMIN, CameraFilters(), fmt)
    job = await import_file(ledger.service, exported, f"export2.{fmt}")
    assert job["state"] == "done", job
    assert (job["created"], job["updated"]) == (0, len(values))
    assert await _snapshot(ledger) == after


def _file_with_bad_rows() -> tuple[bytes, list[dict[str, Any]]]:
    values = sample.camera_values(12, seed=9)
    expected: list[dict[str, Any]] = []

    def bad(i: int, field: str, value: Any, column: str, reason: str, shown: Any = None) -> None:
        values[i][field] = value
        expected.append(
            {
                "row": FIRST_DATA_ROW + i,
                "column": column,
                "value": value if shown is None else shown,
                "reason": reason,
            }
        )

    bad(1, "code", "3415220100132000001", "20位编码", "20位编码须为20位数字")
    bad(2, "longitude", 116.26657, "经度（保留后六位）", "小数点后不少于6位")
    bad(3, "police_station_id", "不存在派出所", "所属派出所", "派出所“不存在派出所”不存在")
    bad(
        4,
        "name",
        '=HYPERLINK("x")',
        "视频图像命名及视频图像文字标注",
        "不接受公式，请填写数值或文本",
    )
    bad(5, "status", "坏了", "状态", "应为在用/停用/故障/拆除之一")
    bad(6, "code", values[0]["code"], "20位编码", "与第5行编码重复")
    # the township in the file is not the one the code (河口镇, 34152202) names
    bad(
        7,
        "region_code",
        "霍邱县周集镇",
        "20位编码",
        "编码所属区划34152202与点位区划34152203不一致",
        shown=values[7]["code"],
    )
    bad(8, "latitude", 32.123450, "纬度（保留后六位）", "小数点后不少于6位")
    bad(9, "key_area_category", "月球基地", "重点区域类别", "不在重点区域类别列表中")
    rows = []
    for n, v in enumerate(values, start=1):
        rows.append(render_row(CAMERA_FORM, v | {"serial": n}))
    # the formula must reach the file as a formula, not as guarded text
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append([CAMERA_FORM.title])
    ws.append([CAMERA_FORM.unit_line])
    ws.append([c.group for c in CAMERA_FORM.columns])
    ws.append([c.header for c in CAMERA_FORM.columns])
    for row in rows:
        ws.append([v[1:] if isinstance(v, str) and v.startswith("'=") else v for v in row])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue(), sorted(expected, key=lambda e: e["row"])


async def test_bad_rows_are_reported_exactly_and_nothing_is_imported(ledger: Ledger) -> None:
    data, expected = _file_with_bad_rows()
    job = await import_file(ledger.service, data)
    assert job["state"] == "failed"
    assert job["imported"] == 0
    got = sorted(job["errors"], key=lambda e: e["row"])
    assert got == expected
    assert "9行有错误" in job["message"]
    assert (await ledger.service.list_cameras(ADMIN, CameraFilters())).total == 0


async def test_valid_rows_mode_imports_the_rest(ledger: Ledger) -> None:
    data, expected = _file_with_bad_rows()
    job = await import_file(ledger.service, data, mode="valid_rows")
    assert job["state"] == "done"
    assert job["imported"] == 12 - 9
    assert sorted(job["errors"], key=lambda e: e["row"]) == expected
    assert (await ledger.service.list_cameras(ADMIN, CameraFilters())).total == 3


async def test_hostile_cells(ledger: Ledger) -> None:
    values = sample.camera_values(4, seed=2)
    values[0]["location_name"] = "长" * 5000
    values[1]["code"] = None
    values[1]["name"] = "霍邱县城关镇无编码点位"
    values[1]["region_code"] = "不存在的乡镇"
    values[2]["remark"] = "bad\x01char"
    values[3]["storage_days"] = "三十"
    job = await import_file(ledger.service, sample.survey_file(values, "csv"), "x.csv")
    assert job["state"] == "failed"
    reasons = {(e["row"], e["column"]): e["reason"] for e in job["errors"]}
    assert reasons[(2, "位置名称")] == "单元格超过1000个字符"
    assert "不在区划表中" in reasons[(3, "所在县（市、区、乡镇街道）")]
    assert reasons[(4, "备注")] == "含控制字符"
    assert reasons[(5, "存储天数")] == "须为整数"
    long_value = next(e["value"] for e in job["errors"] if e["column"] == "位置名称")
    assert len(long_value) <= 101  # errors never echo a huge cell back


async def test_excel_numbers_for_codes_and_dates(ledger: Ledger) -> None:
    values = sample.camera_values(2, seed=4)
    rows = [render_row(CAMERA_FORM, v | {"serial": i}) for i, v in enumerate(values, 1)]
    code_col = [c.field for c in CAMERA_FORM.columns].index("code")
    date_col = [c.field for c in CAMERA_FORM.columns].index("build_date")
    rows[0][code_col] = float(values[0]["code"])  # what Excel does to an untyped 20-digit cell
    rows[1][date_col] = 2020.10  # "2020.10" typed into a General cell
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append([c.header for c in CAMERA_FORM.columns])
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    job = await import_file(ledger.service, buf.getvalue(), mode="valid_rows")
    assert [e["reason"] for e in job["errors"]] == [
        "20位编码被存为数字，精度已丢失；请将该列设为文本后重新填写"
    ]
    snap = await _snapshot(ledger)
    assert snap[values[1]["code"]]["build_date"] == "2020-10"


async def test_import_limits_and_shape_errors(database: Database) -> None:
    async with open_ledger(database, import_max_rows=5) as led:
        job = await import_file(led.service, sample.survey_file(sample.camera_values(8), "xlsx"))
        assert job["state"] == "failed" and "超过5行上限" in job["message"]
        assert job["imported"] == 0
        with pytest.raises(FormError, match="缺少列"):
            bad = write_csv(CAMERA_FORM, []).decode("utf-8-sig").replace("所属派出所", "派出所名")
            await led.service.start_camera_import(ADMIN, bad.encode(), "x.csv")
        with pytest.raises(FormError, match=r"不是有效的 \.xlsx"):
            await led.service.start_camera_import(ADMIN, b"not a workbook", "x.xlsx")


async def test_restricted_user_imports_only_inside_scope(ledger: Ledger) -> None:
    township = Principal(
        user_id=7, username="chengguan", role=Role.OPERATOR, region_codes=("34152201",)
    )
    values = sample.camera_values(12, seed=8)  # 2 rows per township
    job = await import_file(
        ledger.service, sample.survey_file(values, "xlsx"), mode="valid_rows", principal=township
    )
    assert job["imported"] == 2
    assert {e["reason"] for e in job["errors"]} == {"区划超出您的权限范围"}
    assert len(job["errors"]) == 10
    # and the job is the importer's own
    other = Principal(user_id=8, username="other", role=Role.OPERATOR)
    from sharpeyes.jobs import JobNotFound

    with pytest.raises(JobNotFound):
        await ledger.service.jobs.get(other, job["id"])
    assert (await ledger.service.jobs.get(ADMIN, job["id"])).state == "done"


async def test_jobs_outlive_the_runner_and_interrupted_ones_fail(database: Database) -> None:
    async with open_ledger(database) as led:
        job = await import_file(
            led.service, sample.survey_file(sample.camera_values(3), "csv"), "a.csv"
        )
    async with database.session() as s:
        s.add(
            Job(
                id="f" * 32,
                kind="ledger.import",
                state="running",
                progress=0.4,
                user_id=ADMIN.user_id,
                username="admin",
                created_at=utcnow(),
            )
        )
        await s.commit()
    runner = JobRunner(database)  # a restarted node
    await runner.start()
    again = (await runner.get(ADMIN, job["id"])).as_dict()
    assert again["state"] == "done" and again["imported"] == 3
    interrupted = await runner.get(ADMIN, "f" * 32)
    assert interrupted.state == FAILED and "restart" in (interrupted.message or "")
