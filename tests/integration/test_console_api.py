"""APIs behind the console's day-one workflows (issue 17): pre-provisioning, batch
actions, refused registrations with reasons, reconciliation (应接未接), alarm
filters, source names and the unread count."""

from __future__ import annotations

import pytest

from sharpeyes.sim.demo import SEEDER
from tests.integration.conftest import NodeFactory, login
from tests.integration.devices_helpers import device_id, eventually, fleet_for, ipc

pytestmark = pytest.mark.db


async def test_provision_failures_and_reconciliation(make_node: NodeFactory) -> None:
    node = await make_node()
    api = await login(node)
    fleet = fleet_for(node)
    good = fleet.add(ipc(1))
    wrong = fleet.add(ipc(2, password="not-the-password"))
    own = fleet.add(ipc(3, password="own-secret-9"))
    await fleet.start()
    try:
        # pre-provision: one device with its own password (registers), one that never calls
        r = await api.post(
            "/api/devices",
            json={"device_id": own.device_id, "password": "own-secret-9", "name": "自带密码"},
        )
        assert r.status_code == 201, r.text
        assert r.json()["online"] is False and r.json()["admission"] == "admitted"
        silent = device_id(9)
        r = await api.post(
            "/api/devices", json={"device_id": silent, "media_transport": "tcp-passive"}
        )
        assert r.status_code == 201 and r.json()["media_transport"] == "tcp-passive"
        assert (await api.post("/api/devices", json={"device_id": silent})).status_code == 409
        bad = await api.post("/api/devices", json={"device_id": "12345"})
        assert bad.status_code == 422
        bad = await api.post("/api/devices", json={"device_id": "1" * 20, "transport": "sctp"})
        assert bad.status_code == 422

        codes = await fleet.register_all()
        assert codes == {200: 2, 403: 1}
        assert own.registered and good.registered and not wrong.registered

        fails = (await api.get("/api/registration-failures")).json()
        assert [f["device_id"] for f in fails["items"]] == [wrong.device_id]
        assert fails["items"][0]["reason"] == "Forbidden" and fails["items"][0]["count"] >= 1

        await eventually(lambda: _channels(api, 2), 10)
        await node.ledger.sync_from_channels(SEEDER)
        rec = await api.get("/api/reconciliation")
        data = rec.json()
        assert data["counts"]["never_registered"] == 1
        assert data["items"]["never_registered"][0]["id"] == silent
        assert data["counts"]["channel_no_record"] == 0
        assert data["counts"]["record_no_channel"] == 0

        # a ledger record nobody connected: 应接未接
        r = await api.post(
            "/api/ledger/cameras",
            json={"code": "34020000001310099999", "name": "应接未接测试点位"},
        )
        assert r.status_code in (200, 201), r.text
        data = (await api.get("/api/reconciliation")).json()
        assert data["counts"]["record_no_channel"] == 1
        assert data["items"]["record_no_channel"][0]["code"] == "34020000001310099999"

        # device list filters
        r = await api.get("/api/devices", params={"transport": "udp", "region": "3402"})
        assert r.status_code == 200 and r.json()["total"] == 3
        r = await api.get("/api/devices", params={"transport": "tcp"})
        assert r.json()["total"] == 0

        # batch: sync two, delete the silent one
        r = await api.post(
            "/api/devices/batch",
            json={"action": "sync", "device_ids": [good.device_id, own.device_id]},
        )
        assert r.json()["ok"] == 2
        r = await api.post(
            "/api/devices/batch", json={"action": "delete", "device_ids": [silent, "1" * 20]}
        )
        assert [x["ok"] for x in r.json()["results"]] == [True, False]
        assert (await api.get(f"/api/devices/{silent}")).status_code == 404
    finally:
        await fleet.stop()
        await api.aclose()


async def _channels(api: object, n: int) -> bool:
    r = await api.get("/api/channels")  # type: ignore[attr-defined]
    return r.json()["total"] >= n


async def test_alarm_filters_sources_and_unread(make_node: NodeFactory) -> None:
    node = await make_node()
    api = await login(node)
    fleet = fleet_for(node)
    cam = fleet.add(ipc(1))
    await fleet.start()
    try:
        assert await fleet.register_all() == {200: 1}
        await eventually(lambda: _channels(api, 1), 10)
        ch = cam.channels[0]
        assert await cam.send_alarm(ch.channel_id, description="一级告警", priority=1) == 200
        assert await cam.send_alarm(ch.channel_id, description="四级告警", priority=4) == 200
        assert (await api.get("/api/alarms/unread")).json() == {"count": 2}

        items = (await api.get("/api/alarms")).json()["items"]
        by_desc = {a["description"]: a for a in items}
        first = by_desc["一级告警"]
        assert first["source_name"] == ch.name and first["source_channel_pk"] is not None
        assert first["source_civil_code"] == ch.civil_code

        r = await api.get("/api/alarms", params={"priority": [1, 2]})
        assert [a["description"] for a in r.json()["items"]] == ["一级告警"]
        r = await api.get("/api/alarms", params={"region": "34020001"})
        assert r.json()["total"] == 2
        r = await api.get("/api/alarms", params={"region": "34020002"})
        assert r.json()["total"] == 0
        assert (await api.get("/api/alarms", params={"region": "x1"})).status_code == 422
        assert (await api.get("/api/alarms", params={"priority": 9})).status_code == 422

        await api.post(f"/api/alarms/{first['id']}/ack")
        assert (await api.get("/api/alarms/unread")).json() == {"count": 1}
        r = await api.get("/api/alarms", params={"state": "new"})
        assert [a["description"] for a in r.json()["items"]] == ["四级告警"]
        r = await api.get("/api/alarms", params={"state": "acked"})
        assert [a["description"] for a in r.json()["items"]] == ["一级告警"]
        r = await api.get("/api/alarms", params={"since": "2999-01-01T00:00:00Z"})
        assert r.json()["total"] == 0
    finally:
        await fleet.stop()
        await api.aclose()


async def test_saved_views_are_per_user(make_node: NodeFactory) -> None:
    node = await make_node()
    admin = await login(node)
    try:
        r = await admin.post(
            "/api/users",
            json={"username": "op1", "password": "op1-password-9", "role": "operator"},
        )
        assert r.status_code in (200, 201), r.text
        op = await login(node, "op1", "op1-password-9")
        body = {"kind": "layout", "name": "早班", "layout": 4, "channels": [1, None, 2]}
        r = await admin.put("/api/console/views", json=body)
        assert r.status_code == 200, r.text
        saved = r.json()
        assert saved["data"] == {"channels": [1, None, 2], "layout": 4}
        # same name again replaces, does not duplicate
        r = await admin.put("/api/console/views", json=body | {"channels": [3]})
        assert r.json()["id"] == saved["id"] and r.json()["data"]["channels"] == [3]
        group = {"kind": "group", "name": "城关镇", "channels": [1, 2, 3], "dwell": 5}
        assert (await admin.put("/api/console/views", json=group)).status_code == 200
        assert len((await admin.get("/api/console/views?kind=layout")).json()) == 1
        assert len((await admin.get("/api/console/views?kind=group")).json()) == 1
        # another user sees none of them and cannot delete them
        assert (await op.get("/api/console/views?kind=layout")).json() == []
        assert (await op.delete(f"/api/console/views/{saved['id']}")).status_code == 404
        # bad input is a 422 with a message
        bad = await admin.put("/api/console/views", json=body | {"layout": 5})
        assert bad.status_code == 422
        bad = await admin.put("/api/console/views", json=group | {"channels": []})
        assert bad.status_code == 422
        bad = await admin.put("/api/console/views", json=group | {"dwell": 1})
        assert bad.status_code == 422
        assert (await admin.delete(f"/api/console/views/{saved['id']}")).status_code == 204
        assert (await admin.get("/api/console/views?kind=layout")).json() == []
        await op.aclose()
    finally:
        await admin.aclose()
