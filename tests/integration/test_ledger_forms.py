"""Platform and internal-system survey forms (import/export), dry runs, and the
linked channel's state on the camera list and the map."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import insert, select

from sharpeyes.ledger import sample
from sharpeyes.ledger.importer import form_fields
from sharpeyes.ledger.models import CameraRecord, InternalSystemRecord, LedgerChange, PlatformRecord
from sharpeyes.ledger.queries import CameraFilters
from sharpeyes.ledger.survey_form import FORMS, render_row, write_csv
from sharpeyes.node import Node
from sharpeyes.store.db import Database
from sharpeyes.store.models import Channel, Device
from tests.integration.ledger_helpers import (
    ADMIN,
    FIRST_DATA_ROW,
    Ledger,
    import_file,
    import_form,
    open_ledger,
    wait_job,
)
from tests.integration.test_ledger_import import _file_with_bad_rows

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MODELS = {"platform": PlatformRecord, "internal_system": InternalSystemRecord}


@pytest.fixture
async def ledger(database: Database) -> AsyncIterator[Ledger]:
    async with open_ledger(database) as led:
        yield led


async def _make_records(led: Ledger, form: str) -> None:
    refs = led.refs
    if form == "platform":
        for i in range(12):
            await led.service.create_platform(
                ADMIN,
                {
                    "name": f"平台{i}号",
                    "vendor": "华为" if i % 2 else None,
                    "gb28181": [True, False, None][i % 3],
                    "gat1400": "1.视图库",
                    "address": f"霍邱县人民路{i}号",
                    "network_mode": "公安视频专网",
                    "security": "-防火墙 XX型" if i == 3 else "有",
                    "storage_days": 30 + i,
                    "description": "=危险文本" if i == 4 else "管理景区出入口视频",
                    "model_version": "V2.1",
                    "sharing_capability": "支持GB/T 28181级联",
                    "connected": "已对接",
                    "code": f"3415220100200000{i:04d}"[:20] if i % 2 else None,
                    "cascade": "县级",
                    "build_date": "2020-03" if i % 2 else "2019-11-05",
                    "build_cost": 12.5 + i,
                    "om_cost": None if i == 5 else 1.25,
                    "region_code": refs.townships[i % 6][0] if i % 4 else "341522",
                    "org_id": list(refs.org_ids.values())[i % 6] if i != 7 else None,
                },
            )
    else:
        police = list(refs.police_ids.values())
        for i in range(9):
            await led.service.create_internal_system(
                ADMIN,
                {
                    "name": f"单位内部视频系统{i}",
                    "address": f"霍邱县解放路{i}号",
                    "police_station_id": police[i % 6],
                    "build_date": "2021-06",
                    "camera_count": 100 + i,
                    "front_end_models": "海康 DS-2CD",
                    "system_model": "iVMS-8700",
                    "gb28181": bool(i % 2),
                    "codec": "H.265",
                    "key_entrance_count": i,
                    "network_mode": "局域网",
                    "data_description": "人脸抓拍",
                    "data_system_model": "XX数据平台",
                    "data_front_end": "人脸卡口",
                    "data_volume": "日均1万条",
                    "data_network_mode": "互联网" if i % 3 else None,
                    "remark": "+备注" if i == 2 else None,
                    "region_code": refs.townships[i % 6][0],
                    "org_id": list(refs.org_ids.values())[i % 6],
                },
            )


async def _snapshot(led: Ledger, form: str) -> dict[str, dict[str, Any]]:
    model = MODELS[form]
    cols = [getattr(model, f) for f in form_fields(FORMS[form])]
    async with led.db.session() as s:
        rows = (await s.execute(select(model.id, *cols))).all()
    return {r.name: {k: v for k, v in r._mapping.items() if k != "id"} for r in rows}


@pytest.mark.parametrize("form", ["platform", "internal_system"])
@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
async def test_export_reimport_round_trip_is_lossless(ledger: Ledger, form: str, fmt: str) -> None:
    await _make_records(ledger, form)
    before = await _snapshot(ledger, form)
    n = len(before)
    exported, rows = await ledger.service.export_records(ADMIN, form, fmt)
    assert rows == n
    # the same file over the ledger it came from: every row matched by 台账ID, no change
    job = await import_form(ledger.service, form, exported, f"e.{fmt}")
    assert job["state"] == "done", job
    assert (job["created"], job["updated"], job["errors"]) == (0, n, [])
    assert await _snapshot(ledger, form) == before
    # into an empty ledger: created again, identical
    async with ledger.db.session() as s:
        for r in (await s.execute(select(MODELS[form]))).scalars():
            await s.delete(r)
        await s.commit()
    job = await import_form(ledger.service, form, exported, f"e.{fmt}", mode="valid_rows")
    # the 台账IDs no longer exist: reported, nothing else
    assert job["error_count"] == n and job["imported"] == 0
    assert {e["column"] for e in job["errors"]} == {"台账ID"}
    stripped = _without_ids(form, exported, fmt)
    job = await import_form(ledger.service, form, stripped, f"e.{fmt}")
    assert job["state"] == "done", job
    assert job["created"] == n
    assert await _snapshot(ledger, form) == before
    # every export is recorded
    async with ledger.db.session() as s:
        exports = (
            await s.execute(
                select(LedgerChange).where(
                    LedgerChange.action == "export", LedgerChange.entity == form
                )
            )
        ).scalars()
        assert [e.changes["rows"] for e in exports] == [n]


def _without_ids(form: str, data: bytes, fmt: str) -> bytes:
    """The export with its 台账ID column emptied (a file from another node)."""
    import io

    import openpyxl

    spec = FORMS[form]
    idx = [c.field for c in spec.columns].index("id")
    if fmt == "csv":
        import csv

        rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
        return write_csv(spec, [[*r[:idx], "", *r[idx + 1 :]] for r in rows[1:]])
    wb = openpyxl.load_workbook(io.BytesIO(data))
    ws = wb.active
    for r in range(FIRST_DATA_ROW, ws.max_row + 1):
        ws.cell(r, idx + 1).value = None
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _platform_rows() -> list[dict[str, Any]]:
    return [
        {"name": f"平台{i}", "vendor": "大华", "storage_days": 30, "region_code": "霍邱县城关镇"}
        for i in range(6)
    ]


async def test_bad_platform_and_internal_system_rows(ledger: Ledger) -> None:
    spec = FORMS["platform"]
    values = _platform_rows()
    values[1]["storage_days"] = "三十"
    values[3]["name"] = None
    values[4]["region_code"] = "火星"
    values[5]["build_date"] = "去年"
    data = write_csv(spec, [render_row(spec, v | {"serial": n}) for n, v in enumerate(values, 1)])
    job = await import_form(ledger.service, "platform", data, "p.csv")
    assert job["state"] == "failed" and job["imported"] == 0
    errors = sorted(job["errors"], key=lambda e: e["row"])
    # CSV: one header row, data from row 2
    assert [(e["row"], e["column"]) for e in errors] == [
        (3, "视频存储时长"),
        (5, "项目名称"),
        (6, "所属区划"),
        (7, "建设时间"),
    ]
    assert errors[0]["value"] == "三十" and errors[0]["reason"] == "须为整数"
    assert errors[1]["reason"] == "项目名称不能为空"
    assert (await ledger.service.list_platforms(ADMIN)).total == 0
    job = await import_form(ledger.service, "platform", data, "p.csv", mode="valid_rows")
    assert job["state"] == "done" and job["imported"] == 2
    # internal systems: an unknown police station
    spec = FORMS["internal_system"]
    rows = [
        render_row(spec, {"serial": 1, "name": "系统A", "police_station_id": "城关派出所"}),
        render_row(spec, {"serial": 2, "name": "系统B", "police_station_id": "无此所"}),
    ]
    job = await import_form(ledger.service, "internal_system", write_csv(spec, rows), "i.csv")
    assert job["state"] == "failed"
    assert job["errors"] == [
        {"row": 3, "column": "所属派出所", "value": "无此所", "reason": "派出所“无此所”不存在"}
    ]


async def test_dry_run_validates_and_writes_nothing(ledger: Ledger) -> None:
    data, expected = _file_with_bad_rows()
    real = await import_file(ledger.service, data)
    dry = await import_file(ledger.service, data, mode="validate")
    assert dry["state"] == "done" and dry["imported"] == 0 and dry["dry_run"]
    assert sorted(dry["errors"], key=lambda e: e["row"]) == expected
    assert dry["errors"] == real["errors"] and dry["error_count"] == real["error_count"]
    good = sample.survey_file(sample.camera_values(20), "xlsx")
    dry = await import_file(ledger.service, good, mode="validate")
    assert (dry["state"], dry["imported"], dry["total_rows"], dry["errors"]) == (
        "done",
        0,
        20,
        [],
    )
    assert (await ledger.service.list_cameras(ADMIN, CameraFilters())).total == 0
    spec = FORMS["platform"]
    values = _platform_rows()
    values[2]["storage_days"] = -1
    data = write_csv(spec, [render_row(spec, v | {"serial": n}) for n, v in enumerate(values, 1)])
    dry = await import_form(ledger.service, "platform", data, "p.csv", mode="validate")
    assert dry["state"] == "done" and dry["imported"] == 0
    assert dry["errors"] == [
        {"row": 4, "column": "视频存储时长", "value": -1, "reason": "不能为负数"}
    ]
    assert (await ledger.service.list_platforms(ADMIN)).total == 0


async def test_form_routes_permissions_and_history(node: Node, api: httpx.AsyncClient) -> None:
    from tests.integration.conftest import login

    await sample.ensure_reference_data(node.ledger, ADMIN)
    spec = FORMS["platform"]
    rows = [render_row(spec, v | {"serial": n}) for n, v in enumerate(_platform_rows(), 1)]
    data = write_csv(spec, rows)
    r = await api.post(
        "/api/ledger/platforms/import",
        files={"file": ("p.csv", data)},
        data={"mode": "validate"},
    )
    assert r.status_code == 202, r.text
    job = await wait_job(api, r.json()["job_id"])
    assert job["state"] == "done" and job["imported"] == 0 and job["total_rows"] == 6
    r = await api.post("/api/ledger/platforms/import", files={"file": ("p.csv", data)})
    job = await wait_job(api, r.json()["job_id"])
    assert job["state"] == "done" and job["created"] == 6
    r = await api.post(
        "/api/ledger/internal-systems/import", files={"file": ("p.csv", data)}
    )  # the wrong form
    assert r.status_code == 400 and "内部视频监控系统调研表" in r.json()["detail"]
    for path, n in (("platforms", 6), ("internal-systems", 0)):
        for fmt in ("xlsx", "csv"):
            r = await api.get(f"/api/ledger/{path}/export", params={"format": fmt})
            assert r.status_code == 200, r.text
            if fmt == "csv":
                assert r.content.decode("utf-8-sig").count("\r\n") == 1 + n
            else:
                assert r.headers["content-type"] == XLSX
    hist = (await api.get("/api/ledger/history", params={"entity": "platform"})).json()
    assert [h["action"] for h in hist].count("export") == 2
    assert [h["action"] for h in hist].count("import") == 6
    await node.users.create_user("viewer1", "viewer-pass-1", "viewer")
    await node.users.create_user("op_t1", "operator-pass-2", "operator", region_codes=["34152202"])
    viewer = await login(node, "viewer1", "viewer-pass-1")
    op_t1 = await login(node, "op_t1", "operator-pass-2")
    try:
        r = await viewer.post("/api/ledger/platforms/import", files={"file": ("p.csv", data)})
        assert r.status_code == 403
        r = await viewer.get("/api/ledger/platforms/export", params={"format": "csv"})
        assert r.status_code == 200
        # a township operator outside 城关镇: sees none, may not import there
        r = await op_t1.get("/api/ledger/platforms/export", params={"format": "csv"})
        assert r.content.decode("utf-8-sig").count("\r\n") == 1
        r = await op_t1.post("/api/ledger/platforms/import", files={"file": ("p.csv", data)})
        job = await wait_job(op_t1, r.json()["job_id"])
        assert job["state"] == "failed" and job["error_count"] == 6
        assert {e["reason"] for e in job["errors"]} == {"区划超出您的权限范围"}
    finally:
        await viewer.aclose()
        await op_t1.aclose()


async def test_linked_channel_state_on_list_and_map(node: Node, api: httpx.AsyncClient) -> None:
    await sample.ensure_reference_data(node.ledger, ADMIN)
    values = sample.camera_values(3)
    r = await api.post(
        "/api/ledger/cameras/import",
        files={"file": ("c.xlsx", sample.survey_file(values, "xlsx"), XLSX)},
    )
    assert (await wait_job(api, r.json()["job_id"]))["imported"] == 3
    codes = [v["code"] for v in values]
    device = "34152201001180000001"
    async with node.db.session() as s:
        await s.execute(
            insert(Device),
            [
                {
                    "id": device,
                    "admission": "admitted",
                    "transport": "udp",
                    "charset": "GB2312",
                    "media_transport": "udp",
                    "online": True,
                    "keepalive_interval": 60,
                    "keepalive_timeout_count": 3,
                    "channel_count": 2,
                }
            ],
        )
        await s.execute(
            insert(Channel),
            [
                {"device_id": device, "channel_id": codes[0], "online": True, "kind": "channel"},
                {"device_id": device, "channel_id": codes[1], "online": False, "kind": "channel"},
            ],
        )
        await s.commit()
        pks = {
            c.channel_id: c.id
            for c in (await s.execute(select(Channel).where(Channel.device_id == device))).scalars()
        }
        recs = {
            r.code: r
            for r in (
                await s.execute(
                    select(CameraRecord.code, CameraRecord.longitude, CameraRecord.latitude)
                )
            ).all()
        }
    items = {i["code"]: i for i in (await api.get("/api/ledger/cameras")).json()["items"]}
    assert items[codes[0]]["online"] is True
    assert items[codes[0]]["channel_pk"] == pks[codes[0]]
    assert items[codes[0]]["device_id"] == device
    assert (items[codes[1]]["online"], items[codes[1]]["channel_pk"]) == (False, pks[codes[1]])
    assert (items[codes[2]]["online"], items[codes[2]]["channel_pk"]) == (None, None)
    assert items[codes[2]]["device_id"] is None
    # the map: single points at point zoom, and one-camera clusters below it
    want = {codes[0]: True, codes[1]: False, codes[2]: None}
    for zoom, mode in ((18, "points"), (3, "clusters")):
        for code in codes:
            lon, lat = recs[code].longitude, recs[code].latitude
            bbox = f"{lon - 0.0001},{lat - 0.0001},{lon + 0.0001},{lat + 0.0001}"
            params = {"bbox": bbox, "zoom": zoom, "q": code}
            m = (await api.get("/api/map/points", params=params)).json()
            assert m["mode"] == mode and len(m["items"]) == 1, m
            p = m["items"][0]
            assert (p["count"], p["code"], p["online"]) == (1, code, want[code])
            assert p["channel_pk"] == pks.get(code)
    # clusters of several cameras carry no per-camera fields
    m = (await api.get("/api/map/points", params={"bbox": "115,31,117,33", "zoom": 3})).json()
    assert m["mode"] == "clusters" and m["items"][0]["count"] == 3
    assert "online" not in m["items"][0]
