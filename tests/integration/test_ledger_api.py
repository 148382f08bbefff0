"""The ledger over HTTP: contract routes, permissions, scope, history, device view."""

from __future__ import annotations

import io

import httpx
import openpyxl
from sqlalchemy import insert, select, text

from sharpeyes.ledger import sample
from sharpeyes.ledger.models import RTREE_TABLE, LedgerChange
from sharpeyes.node import Node
from sharpeyes.store.models import Channel, Device
from tests.integration.conftest import login
from tests.integration.ledger_helpers import ADMIN, wait_job

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def _users(node: Node) -> None:
    await node.users.create_user("viewer1", "viewer-pass-1", "viewer")
    await node.users.create_user("op1", "operator-pass-1", "operator")
    await node.users.create_user("op_t1", "operator-pass-2", "operator", region_codes=["34152201"])


async def _import(api: httpx.AsyncClient, data: bytes, name: str = "c.xlsx", **form: str) -> dict:
    r = await api.post("/api/ledger/cameras/import", files={"file": (name, data, XLSX)}, data=form)
    assert r.status_code == 202, r.text
    return await wait_job(api, r.json()["job_id"])


async def test_contract_routes_end_to_end(node: Node, api: httpx.AsyncClient) -> None:
    await sample.ensure_reference_data(node.ledger, ADMIN)
    # template in both formats, with the seed's headers
    r = await api.get("/api/ledger/cameras/template", params={"format": "xlsx"})
    assert r.status_code == 200 and r.headers["content-type"] == XLSX
    ws = openpyxl.load_workbook(io.BytesIO(r.content))["调研表"]
    assert ws.cell(4, 2).value == "20位编码" and ws.cell(4, 19).value == "杆件状况"
    r = await api.get("/api/ledger/cameras/template", params={"format": "csv"})
    assert r.status_code == 200 and r.content.startswith(b"\xef\xbb\xbf")
    assert "filename*=UTF-8''" in r.headers["content-disposition"]
    # import as a job
    job = await _import(api, sample.survey_file(sample.camera_values(60), "xlsx"))
    assert job["state"] == "done" and job["imported"] == 60 and job["errors"] == []
    # list with filters and pagination
    r = await api.get("/api/ledger/cameras", params={"class": 1, "limit": 5})
    body = r.json()
    assert r.status_code == 200 and body["total"] == 20 and len(body["items"]) == 5
    assert body["total_estimated"] is False  # 20 matches: counted exactly
    r = await api.get("/api/ledger/cameras", params={"region": "34152202", "status": "in_use"})
    assert all(
        i["region_code"] == "34152202" and i["status"] == "in_use" for i in r.json()["items"]
    )
    org = (await api.get("/api/ledger/organisations", params={"q": "公安局"})).json()["items"][0]
    r = await api.get("/api/ledger/cameras", params={"org": org["id"], "limit": 1})
    assert r.json()["total"] == 60  # 公安局 is the root of the sample units: its subtree owns all
    # detail, patch, history
    cam = body["items"][0]
    r = await api.patch(
        f"/api/ledger/cameras/{cam['id']}", json={"status": "故障", "storage_days": 90}
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "faulty" and r.json()["updated_by"] == "admin"
    hist = (await api.get(f"/api/ledger/cameras/{cam['id']}/history")).json()
    assert hist[0]["action"] == "update" and hist[0]["username"] == "admin"
    assert hist[0]["changes"]["status"] == ["in_use", "faulty"]
    assert hist[-1]["action"] == "import"
    # quality and map
    q = (
        await api.get("/api/ledger/quality", params={"group_by": "region", "level": "township"})
    ).json()
    assert q["overall"]["total"] == 60 and len(q["groups"]) == 6
    q = (await api.get("/api/ledger/quality", params={"group_by": "org"})).json()
    assert sum(g["total"] for g in q["groups"]) == 60
    m = (await api.get("/api/map/points", params={"bbox": "115,31,117,33", "zoom": 9})).json()
    assert m["total"] == 60 and m["mode"] == "clusters"
    r = await api.get("/api/map/points", params={"bbox": "117,31,115,33", "zoom": 9})
    assert r.status_code == 400
    n = (await api.get("/api/map/nearest", params={"lon": 116.28, "lat": 32.35, "limit": 3})).json()
    assert len(n) == 3
    assert all(x["channel_pk"] is None and x["online"] is None for x in n)  # imported, unlinked
    c = (await api.get("/api/map/categories", params={"region": "341522"})).json()
    assert c["regions"][0]["region"] == "341522"
    # export, audited in the history
    r = await api.get("/api/ledger/cameras/export", params={"format": "csv", "region": "34152201"})
    assert r.status_code == 200
    assert r.content.decode("utf-8-sig").count("\r\n") == 1 + 10
    async with node.db.session() as s:
        exports = list(
            (await s.execute(select(LedgerChange).where(LedgerChange.action == "export"))).scalars()
        )
    assert len(exports) == 1
    assert exports[0].username == "admin" and exports[0].changes["rows"] == 10
    assert exports[0].changes["filters"]["region"] == "34152201"
    d = (await api.get("/api/ledger/dictionaries")).json()
    assert {"code": "in_use", "label": "在用"} in d["status"]


async def test_permissions_and_scope(node: Node, api: httpx.AsyncClient) -> None:
    await sample.ensure_reference_data(node.ledger, ADMIN)
    await _users(node)
    job = await _import(api, sample.survey_file(sample.camera_values(12), "xlsx"))
    assert job["imported"] == 12
    viewer = await login(node, "viewer1", "viewer-pass-1")
    op_t1 = await login(node, "op_t1", "operator-pass-2")
    try:
        assert (await viewer.get("/api/ledger/cameras")).json()["total"] == 12
        r = await viewer.patch("/api/ledger/cameras/1", json={"status": "在用"})
        assert r.status_code == 403 and "ledger.write" in r.json()["detail"]
        data = sample.survey_file(sample.camera_values(1), "csv")
        r = await viewer.post("/api/ledger/cameras/import", files={"file": ("a.csv", data)})
        assert r.status_code == 403
        # a township operator sees, exports and maps only its township
        items = (await op_t1.get("/api/ledger/cameras")).json()["items"]
        assert len(items) == 2 and {i["region_code"] for i in items} == {"34152201"}
        outside = (await api.get("/api/ledger/cameras", params={"region": "34152202"})).json()[
            "items"
        ][0]
        assert (await op_t1.get(f"/api/ledger/cameras/{outside['id']}")).status_code == 404
        r = await op_t1.patch(f"/api/ledger/cameras/{outside['id']}", json={"remark": "x"})
        assert r.status_code == 404
        r = await op_t1.patch(
            f"/api/ledger/cameras/{items[0]['id']}", json={"region_code": "34152202"}
        )
        assert r.status_code == 403
        r = await op_t1.get("/api/ledger/cameras/export", params={"format": "csv"})
        assert r.content.decode("utf-8-sig").count("\r\n") == 1 + 2
        m = (
            await op_t1.get("/api/map/points", params={"bbox": "-180,-90,180,90", "zoom": 2})
        ).json()
        assert m["total"] == 2
        q = (await op_t1.get("/api/ledger/quality")).json()
        assert q["overall"]["total"] == 2
        # jobs belong to whoever started them
        r = await op_t1.get(f"/api/jobs/{job['job_id']}")
        assert r.status_code == 404
        assert (await api.get(f"/api/jobs/{job['job_id']}")).status_code == 200
    finally:
        await viewer.aclose()
        await op_t1.aclose()


async def test_bad_files_are_answered_400(node: Node, api: httpx.AsyncClient) -> None:
    r = await api.post("/api/ledger/cameras/import", files={"file": ("x.xlsx", b"not a workbook")})
    assert r.status_code == 400 and "不是有效的 .xlsx" in r.json()["detail"]
    wb = openpyxl.Workbook()
    wb.active.append(["20位编码", "位置名称", "品牌", "颜色"])
    buf = io.BytesIO()
    wb.save(buf)
    r = await api.post("/api/ledger/cameras/import", files={"file": ("x.xlsx", buf.getvalue())})
    assert r.status_code == 400
    detail = r.json()["detail"]
    assert "缺少列：管理平台名称" in detail and "无法识别的列：颜色" in detail
    r = await api.post(
        "/api/ledger/cameras/import", files={"file": ("x.csv", b"a,b")}, data={"mode": "some"}
    )
    assert r.status_code == 422


async def test_camera_crud_validation_and_device_view(node: Node, api: httpx.AsyncClient) -> None:
    await sample.ensure_reference_data(node.ledger, ADMIN)
    code = "34152201001320000777"
    body = {
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
    }
    r = await api.post("/api/ledger/cameras", json=body | {"longitude": "116.281230"})
    assert r.status_code == 400
    assert r.json()["issues"][0] == {
        "field": "longitude",
        "reason": "小数点后第6位不能为0",
        "value": "116.281230",
    }
    r = await api.post("/api/ledger/cameras", json=body | {"region_code": "34152202"})
    assert r.status_code == 400 and "不一致" in r.json()["detail"]
    r = await api.post("/api/ledger/cameras", json=body)
    assert r.status_code == 201, r.text
    cam = r.json()
    assert cam["on_map"] and cam["device"] is None and not cam["linked"]
    assert not cam["complete"]  # no owner unit yet
    assert {"field": "owner_org_id", "reason": "必填项缺失"} in cam["issues"]
    assert (await api.post("/api/ledger/cameras", json=body)).status_code == 409
    # the device reports the same camera: shown beside the ledger, never written
    async with node.db.session() as s:
        await s.execute(
            insert(Device),
            [
                {
                    "id": "34152201001180000001",
                    "admission": "admitted",
                    "transport": "udp",
                    "charset": "GB2312",
                    "media_transport": "udp",
                    "online": True,
                    "keepalive_interval": 60,
                    "keepalive_timeout_count": 3,
                    "channel_count": 1,
                }
            ],
        )
        await s.execute(
            insert(Channel),
            [
                {
                    "device_id": "34152201001180000001",
                    "channel_id": code,
                    "name": "IPC-777",
                    "longitude": 116.281331,
                    "latitude": 32.351234,
                    "ptz_type": 1,
                    "online": True,
                    "kind": "channel",
                    "civil_code": "34152201",
                }
            ],
        )
        await s.commit()
    cam = (await api.get(f"/api/ledger/cameras/{cam['id']}")).json()
    assert cam["linked"] and cam["device"]["name"] == "IPC-777"
    assert cam["compare"]["name"] == {"ledger": body["name"], "device": "IPC-777", "same": False}
    assert cam["compare"]["region_code"]["same"] is True
    assert 9 < cam["compare"]["coordinates"]["distance_m"] < 10
    org = (await api.get("/api/ledger/organisations", params={"q": "公安局"})).json()["items"][0]
    r = await api.patch(f"/api/ledger/cameras/{cam['id']}", json={"owner_org_id": org["id"]})
    assert r.json()["complete"] is True
    # coordinates picked on a GCJ-02 map are stored as WGS-84
    r = await api.patch(
        f"/api/ledger/cameras/{cam['id']}",
        params={"crs": "gcj02"},
        json={"longitude": "116.286891", "latitude": "32.349213"},
    )
    stored = r.json()
    assert abs(stored["longitude"] - 116.2812) < 0.002 and stored["on_map"]
    # sync from channels creates nothing new for an already-recorded code
    assert (await api.post("/api/ledger/cameras/sync-from-channels")).json()["created"] == 0
    assert (await api.delete(f"/api/ledger/cameras/{cam['id']}")).status_code == 204
    assert (await api.post("/api/ledger/cameras/sync-from-channels")).json()["created"] == 1
    synced = (await api.get("/api/ledger/cameras", params={"q": code})).json()["items"][0]
    assert synced["name"] == "IPC-777" and synced["camera_type"] == 1
    assert synced["region_code"] == "34152201" and synced["on_map"]


async def test_reference_data_api(node: Node, api: httpx.AsyncClient) -> None:
    provinces = (await api.get("/api/ledger/regions")).json()
    assert provinces["total"] >= 31 and provinces["items"][0]["code"] == "11"
    kids = (await api.get("/api/ledger/regions", params={"parent": "341500"})).json()["items"]
    assert "霍邱县" in [k["name"] for k in kids]
    r = await api.post(
        "/api/ledger/regions",
        json={"code": "341522101", "name": "城关镇", "parent_code": "341522", "kind": "镇"},
    )
    assert r.status_code == 201 and r.json()[0]["level"] == "township"
    r = await api.post(
        "/api/ledger/regions",
        json={
            "items": [
                {
                    "code": "341522101001",
                    "name": "东关社区",
                    "parent_code": "341522101",
                    "level": "community",
                },
                {
                    "code": "341522101201",
                    "name": "城东村",
                    "parent_code": "341522101",
                    "level": "village",
                },
            ]
        },
    )
    assert r.status_code == 201 and len(r.json()) == 2
    detail = (await api.get("/api/ledger/regions/341522101001")).json()
    assert [p["name"] for p in detail["path"]] == [
        "安徽省",
        "六安市",
        "霍邱县",
        "城关镇",
        "东关社区",
    ]
    assert (
        await api.post(
            "/api/ledger/regions", json={"code": "341522101", "name": "x", "parent_code": "341522"}
        )
    ).status_code == 409
    assert (
        await api.post(
            "/api/ledger/regions", json={"code": "341599101", "name": "x", "parent_code": "341522"}
        )
    ).status_code == 400
    assert (await api.delete("/api/ledger/regions/341522")).status_code == 409
    assert (await api.delete("/api/ledger/regions/341522101")).status_code == 409  # has children
    r = await api.post(
        "/api/ledger/police-stations", json={"name": "城关派出所", "region_code": "341522101"}
    )
    assert r.status_code == 201
    station = r.json()
    assert (
        await api.post(
            "/api/ledger/police-stations", json={"name": "城关派出所", "region_code": "341522101"}
        )
    ).status_code == 409
    root = (
        await api.post(
            "/api/ledger/organisations",
            json={
                "name": "霍邱县人民政府",
                "type": "党政机关",
                "level": "county",
                "region_code": "341522",
            },
        )
    ).json()
    child = (
        await api.post(
            "/api/ledger/organisations",
            json={"name": "霍邱县教育局", "type": "education", "parent_id": root["id"]},
        )
    ).json()
    assert child["type"] == "education"
    r = await api.patch(f"/api/ledger/organisations/{root['id']}", json={"parent_id": child["id"]})
    assert r.status_code == 400
    tree = (await api.get("/api/ledger/organisations/tree")).json()
    assert tree[0]["children"][0]["name"] == "霍邱县教育局"
    p = (
        await api.post(
            "/api/ledger/platforms",
            json={
                "name": "全县旅游视频管理平台",
                "vendor": "华为",
                "gb28181": True,
                "storage_days": 30,
                "region_code": "341522",
            },
        )
    ).json()
    assert p["vendor"] == "华为"
    r = await api.patch(f"/api/ledger/platforms/{p['id']}", json={"storage_days": 90})
    assert r.json()["storage_days"] == 90
    i = (
        await api.post(
            "/api/ledger/internal-systems",
            json={
                "name": "县医院视频监控系统",
                "camera_count": 200,
                "police_station_id": station["id"],
                "region_code": "341522",
            },
        )
    ).json()
    assert i["camera_count"] == 200
    r = await api.get("/api/ledger/forms/platform/template", params={"format": "xlsx"})
    assert r.status_code == 200
    hist = (await api.get("/api/ledger/history", params={"entity": "organisation"})).json()
    assert [h["action"] for h in hist] == ["create", "create"]


async def test_rtree_follows_the_records(node: Node, api: httpx.AsyncClient) -> None:
    """The SQLite R*Tree is kept by triggers (PostgreSQL uses its GiST index)."""
    if not node.db.is_sqlite:
        async with node.db.session() as s:
            found = await s.scalar(
                text(
                    "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_camera_records_geo_gist'"
                )
            )
        assert found is not None and "gist" in found
        return
    await sample.ensure_reference_data(node.ledger, ADMIN)
    job = await _import(api, sample.survey_file(sample.camera_values(6), "csv"), "a.csv")
    assert job["imported"] == 6

    async def rtree_ids() -> set[int]:
        async with node.db.session() as s:
            return set((await s.execute(text(f"SELECT id FROM {RTREE_TABLE}"))).scalars())

    assert await rtree_ids() == set(range(1, 7))
    await api.patch("/api/ledger/cameras/1", json={"longitude": None, "latitude": None})
    await api.delete("/api/ledger/cameras/2")
    assert await rtree_ids() == {3, 4, 5, 6}
    await api.patch(
        "/api/ledger/cameras/1", json={"longitude": "116.212341", "latitude": "32.212341"}
    )
    assert await rtree_ids() == {1, 3, 4, 5, 6}
