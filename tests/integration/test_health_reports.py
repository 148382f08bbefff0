"""Report: the xlsx opens with openpyxl with the expected figures; the PDF is valid.

Also the HTTP contract of the rates and assessment reads and their scope.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import openpyxl
import pypdf

from .conftest import NodeFactory, login

SH = ZoneInfo("Asia/Shanghai")
DEV = "34152200001320000001"
A = "34152200001310000001"
B = "34152200001310000002"


def t(day: int, hh: int, mm: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hh, mm, tzinfo=SH).astimezone(UTC)


async def test_monthly_report_xlsx_and_pdf_with_expected_figures(make_node: NodeFactory) -> None:
    node = await make_node()
    api = await login(node)
    h = node.health
    # Scripted March: A online 07:12 of two observed days, B never online.
    await h.rates.transition(DEV, A, True, t(1, 0))
    await h.rates.transition(DEV, B, False, t(1, 0))
    await h.rates.transition(DEV, A, False, t(1, 7, 12))
    await h.rates.record_probe(DEV, A, t(1, 3), frame_ok=True, diagnosed=True, intact=True)
    await h.rates.checkpoint(t(3, 0))
    await h.rates.resume(datetime.now(UTC))  # as if the node had been down since 3 March
    o = await h.orders.open(
        title="离线", level="general", actor="op", now=t(1, 8), channel_id=B, region_code="341522"
    )
    for step, kw in (
        ("confirm", {}),
        ("dispatch", {"assignee": "m"}),
        ("feedback", {"note": "ok"}),
        ("confirm_feedback", {}),
        ("close", {}),
    ):
        await h.orders.act(o["id"], step, "op", now=t(1, 9), **kw)

    r = await api.get(
        "/api/health/rates", params={"group_by": "region", "from": "2026-03-01", "to": "2026-03-31"}
    )
    assert r.status_code == 200, r.text
    [g] = r.json()["groups"]
    assert g["key"] == "341522" and g["online_rate"] == 7.5  # 0.3 day of 4 channel-days
    assert (g["image_rate"], g["intact_rate"], g["repair_rate"]) == (100.0, 100.0, 100.0)
    # no record plan names these channels: 录像完好率 has no figure (null), never zero
    assert g["recording_rate"] is None

    r = await api.get("/api/health/reports", params={"month": "2026-03", "format": "xlsx"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
    wb = openpyxl.load_workbook(io.BytesIO(r.content))
    ws = wb["考核排名"]
    header = [c.value for c in ws[2]]
    row = dict(zip(header, [c.value for c in ws[3]], strict=False))
    # score: (0.25·7.5/70 + 0.2 + 0.2 + 0.1) / 0.75 (录像完好率 and ledger KPIs absent)
    expected = round(100 * (0.25 * 7.5 / 70 + 0.2 + 0.2 + 0.1) / 0.75, 2)
    assert (row["排名"], row["区域/单位"], row["得分"], row["在线率"]) == (
        1,
        "341522",
        expected,
        7.5,
    )
    assert row["录像完好率"] == "—"
    assert ws._charts, "the ranking sheet has a chart"
    trend = wb["每日趋势"]
    days = {r[0].value: r[1].value for r in trend.iter_rows(min_row=2)}
    assert days["2026-03-01"] == 15.0 and days["2026-03-02"] == 0.0

    r = await api.get("/api/health/reports", params={"month": "2026-03", "format": "pdf"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    pdf = pypdf.PdfReader(io.BytesIO(r.content), strict=True)
    assert len(pdf.pages) >= 1
    assert "2026-03" in (pdf.metadata.title or "")

    assert (await api.get("/api/health/reports", params={"month": "2026-13"})).status_code == 422
    assert (
        await api.get("/api/health/reports", params={"month": "2026-03", "format": "doc"})
    ).status_code == 422
    bad = await api.get("/api/health/rates", params={"group_by": "colour"})
    assert bad.status_code == 422
    a = await api.get("/api/health/assessment", params={"month": "2026-03"})
    assert a.json()["ranking"][0]["score"] == expected
    await api.aclose()


async def test_health_reads_need_a_login_and_are_scoped(make_node: NodeFactory) -> None:
    node = await make_node()
    api = await login(node)
    import httpx

    anon = httpx.AsyncClient(base_url=f"http://127.0.0.1:{node.http_port}", timeout=30)
    for path in (
        "/api/health/rates",
        "/api/vqd/results",
        "/api/health/alarms",
        "/api/health/workorders",
        "/api/health/reports?month=2026-03",
    ):
        assert (await anon.get(path)).status_code == 401, path
    await anon.aclose()
    await node.health.rates.transition(DEV, A, True, t(1, 0))
    await node.health.rates.transition(
        "34150000001320000001", "34150000001310000001", True, t(1, 0)
    )
    await node.health.rates.checkpoint(t(2, 0))
    r = await api.post(
        "/api/users",
        json={
            "username": "hq",
            "password": "county-pass-1",
            "role": "viewer",
            "region_codes": ["341522"],
        },
    )
    assert r.status_code in (200, 201), r.text
    viewer = await login(node, "hq", "county-pass-1")
    r = await viewer.get(
        "/api/health/rates",
        params={"group_by": "channel", "from": "2026-03-01", "to": "2026-03-01"},
    )
    assert [g["key"] for g in r.json()["groups"]] == [A]
    r = await viewer.post("/api/vqd/runs", json={"channels": [1]})
    assert r.status_code == 403  # viewers do not start patrols
    await viewer.aclose()
    await api.aclose()


async def test_rates_group_by_the_ledger_attributes_of_the_camera(make_node: NodeFactory) -> None:
    from sharpeyes.ledger import sample
    from tests.integration.ledger_helpers import ADMIN

    node = await make_node()
    api = await login(node)
    await sample.ensure_reference_data(node.ledger, ADMIN)
    code = "34152201001310000777"
    r = await api.post(
        "/api/ledger/cameras",
        json={
            "code": code,
            "name": "霍邱县城关镇人民路777号",
            "location_name": "城关镇人民路777号",
            "region_code": "34152201",
            "longitude": "116.281231",
            "latitude": "32.351234",
            "status": "在用",
            "point_class": "三类",
            "network": "公安视频专网",
            "build_date": "2020.03",
        },
    )
    assert r.status_code == 201, r.text
    h = node.health
    h.attributes.invalidate()
    await h.rates.transition(DEV, code, True, t(5, 0))
    await h.rates.transition(DEV, code, False, t(5, 12))
    await h.rates.checkpoint(t(6, 0))
    await h.rates.resume(datetime.now(UTC))
    q = {"from": "2026-03-05", "to": "2026-03-05"}
    by_class = (await api.get("/api/health/rates", params={**q, "group_by": "class"})).json()
    assert [(g["key"], g["online_rate"]) for g in by_class["groups"]] == [(3, 50.0)]
    town = (
        await api.get("/api/health/rates", params={**q, "group_by": "region", "level": 8})
    ).json()
    assert [g["key"] for g in town["groups"]] == ["34152201"]
    net = (await api.get("/api/health/rates", params={**q, "group_by": "network"})).json()
    assert len(net["groups"]) == 1 and net["groups"][0]["key"] is not None
    await api.aclose()


async def test_targets_per_region_level_and_ranking_per_organisation(
    make_node: NodeFactory,
) -> None:
    node = await make_node(
        health={
            "weights": {"online": 1.0},
            "targets": {"online": 50.0},
            "level_targets": {"town": {"online": 100.0}},
            "level_weights": {"town": {"image": 1.0}},
        }
    )
    api = await login(node)
    h = node.health
    # Two channels of one town, online half of one observed day; one probe with a frame.
    await h.rates.transition(DEV, A, True, t(1, 0))
    await h.rates.transition(DEV, B, True, t(1, 0))
    await h.rates.transition(DEV, A, False, t(1, 12))
    await h.rates.transition(DEV, B, False, t(1, 12))
    await h.rates.record_probe(DEV, A, t(1, 3), frame_ok=True, diagnosed=False, intact=False)
    await h.rates.checkpoint(t(2, 0))
    await h.rates.resume(datetime.now(UTC))

    county = (await api.get("/api/health/assessment", params={"month": "2026-03"})).json()
    assert county["level"] == 6 and county["targets"]["online"] == 50.0
    [c] = county["ranking"]
    assert (c["key"], c["online_rate"], c["score"]) == ("341522", 50.0, 100.0)  # 50 of 50
    town = await api.get("/api/health/assessment", params={"month": "2026-03", "level": 9})
    assert town.status_code == 200, town.text
    body = town.json()
    assert body["targets"]["online"] == 100.0 and body["weights"]["image"] == 1.0
    [w] = body["ranking"]
    # town: online 50/100 weighed 1, 出图 100 % weighed 1 → (0.5 + 1) / 2
    assert (w["key"], w["score"], w["rank"]) == ("341522000", 75.0, 1)
    orgs = await api.get("/api/health/assessment", params={"month": "2026-03", "group_by": "org"})
    assert orgs.status_code == 200 and orgs.json()["targets"]["online"] == 50.0  # general ones
    assert [r["rank"] for r in orgs.json()["ranking"]] == [1]
    for bad in ({"level": 5}, {"group_by": "day"}, {"level": "9999999999999999999999"}):
        r = await api.get("/api/health/assessment", params={"month": "2026-03", **bad})
        assert r.status_code == 422, bad
    xlsx = await api.get("/api/health/reports", params={"month": "2026-03", "format": "xlsx"})
    wb = openpyxl.load_workbook(io.BytesIO(xlsx.content))
    org_rows = list(wb["单位排名"].iter_rows(min_row=3, values_only=True))
    assert len(org_rows) == 1 and org_rows[0][0] == 1 and org_rows[0][4] == 100.0
    pdf = await api.get("/api/health/reports", params={"month": "2026-03", "format": "pdf"})
    assert pdf.status_code == 200
    assert len(pypdf.PdfReader(io.BytesIO(pdf.content), strict=True).pages) >= 1
    await api.aclose()
