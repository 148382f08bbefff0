"""Bulk import of proxies from a CSV and from survey-form rows (.xlsx) with a stream URL."""

from __future__ import annotations

import io

import httpx
import openpyxl
import pytest

pytestmark = pytest.mark.db


async def test_csv_import(api: httpx.AsyncClient) -> None:
    csv_text = (
        "name,url,username,password,transport,on_demand,civil_code,longitude,latitude\n"
        "东门,rtsp://192.0.2.21:554/live,admin,pw1,udp,yes,340202,118.376512,31.326034\n"
        "西门,rtsp://op:p%40ss@192.0.2.22/live,,,tcp,no,340202,,\n"
        ",,,,,,,,\n"
        "坏行,ftp://192.0.2.23/live,,,,,,,\n"
        "无地址,,,,,,,,\n"
    )
    files = {"file": ("cams.csv", csv_text.encode(), "text/csv")}
    r = await api.post("/api/proxies/import", params={"validate_only": "true"}, files=files)
    assert r.status_code == 200, r.text
    dry = r.json()
    assert dry["created"] == 0 and dry["valid"] == 2 and len(dry["errors"]) == 1
    assert (await api.get("/api/proxies")).json()["total"] == 0

    r = await api.post("/api/proxies/import", files=files)
    out = r.json()
    assert out["created"] == 2 and out["skipped_without_url"] == 1, out
    assert out["errors"] == [{"line": 5, "error": out["errors"][0]["error"]}]
    assert "rtsp" in out["errors"][0]["error"]
    items = {p["name"]: p for p in (await api.get("/api/proxies")).json()["items"]}
    assert items["东门"]["transport"] == "udp" and items["东门"]["on_demand"] is True
    assert items["东门"]["has_password"] and items["东门"]["latitude"] == pytest.approx(31.326034)
    assert items["西门"]["on_demand"] is False and items["西门"]["username"] == "op"
    assert items["西门"]["url"] == "rtsp://192.0.2.22/live"
    for p in items.values():
        assert p["gb_id"][10:14] == "1328"


async def test_survey_form_rows_with_a_stream_url(api: httpx.AsyncClient) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["视频监控摄像机基础信息采集表"])  # a title row above the header, as in the form
    ws.append(["序号", "20位编码", "视频图像命名及视频图像文字标注", "经度（保留后六位）",
               "纬度（保留后六位）", "取流地址"])  # fmt: skip
    ws.append([1, "34020200001318000101", "医院大厅", 118.376512, 31.326034,
               "rtsp://192.0.2.31/Streaming/Channels/101"])  # fmt: skip
    ws.append([2, "34020200001318000102", "医院停车场", None, None, None])
    buf = io.BytesIO()
    wb.save(buf)
    files = {"file": ("form.xlsx", buf.getvalue(), "application/octet-stream")}
    r = await api.post("/api/proxies/import", files=files)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["created"] == 1 and out["skipped_without_url"] == 1, out
    p = (await api.get("/api/proxies")).json()["items"][0]
    assert p["gb_id"] == "34020200001318000101" and p["name"] == "医院大厅"


async def test_import_without_url_column_is_refused(api: httpx.AsyncClient) -> None:
    files = {"file": ("x.csv", b"name,foo\na,b\n", "text/csv")}
    r = await api.post("/api/proxies/import", files=files)
    assert r.status_code == 400 and "URL" in r.json()["detail"]
