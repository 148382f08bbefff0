"""Simulated devices against a node on real loopback sockets (UDP and TCP)."""

from __future__ import annotations

import asyncio
import re

import pytest

from sharpeyes.node import Node

from .conftest import NodeFactory, login
from .devices_helpers import EventReader, eventually, fleet_for, ipc, nvr

pytestmark = pytest.mark.db


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_devices_register_go_online_and_sync_catalogs(
    make_node: NodeFactory, transport: str
) -> None:
    node = await make_node()
    api = await login(node)
    fleet = fleet_for(node, transport)
    configs = [ipc(1), ipc(2), ipc(3, charset="UTF-8"), nvr(4, 8), nvr(5, 16)]
    configs[2].channels[0].name = "萳湖路口𠀋枪机"  # rare characters, sent as UTF-8
    configs[3].channels[0].name = "萳河桥"  # and as GB18030
    for cfg in configs:
        fleet.add(cfg)
    await fleet.start()
    try:
        statuses = await fleet.register_all()
        assert statuses == {200: 5}
        fleet.start_keepalives()
        # time sync: the 200 carried Date as local time yyyy-MM-ddTHH:mm:ss.SSS (J.1)
        dev0 = fleet.get(configs[0].device_id)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}", dev0.server_date or "")

        async def all_channels() -> bool:
            r = await api.get("/api/channels", params={"limit": 1000})
            return r.json()["total"] == 3 + 8 + 16

        await eventually(all_channels, 15)
        devices = (await api.get("/api/devices")).json()
        assert devices["total"] == 5
        assert all(d["online"] and d["transport"] == transport for d in devices["items"])
        channels = (
            await api.get("/api/channels", params={"limit": 1000, "status": "online"})
        ).json()
        assert channels["total"] == 27
        nvr16 = configs[4]
        chans = (await api.get(f"/api/devices/{nvr16.device_id}/channels")).json()
        assert {c["channel_id"] for c in chans["items"]} == {c.channel_id for c in nvr16.channels}
        names = {c["name"] for c in chans["items"]}
        assert {c.name for c in nvr16.channels} == names  # Chinese names decoded intact
        one = next(c for c in chans["items"] if c["channel_id"] == nvr16.channels[0].channel_id)
        assert one["longitude"] == pytest.approx(nvr16.channels[0].longitude)
        assert one["ptz_type"] == 1

        for cfg in (configs[2], configs[3]):
            got = (await api.get("/api/channels", params={"q": cfg.channels[0].channel_id})).json()
            assert got["items"][0]["name"] == cfg.channels[0].name

        # name search, civil-code filter and pagination
        r = (await api.get("/api/channels", params={"q": "测试枪机2"})).json()
        assert [c["name"] for c in r["items"]] == ["测试枪机2号"]
        r = (
            await api.get(
                "/api/channels", params={"civil_code": "34020002", "limit": 5, "offset": 20}
            )
        ).json()
        assert r["total"] == 24 and len(r["items"]) == 4

        # DeviceInfo was asked after registration and stored
        await eventually(lambda: _has_model(api, nvr16.device_id), 10)
        info = (await api.get(f"/api/devices/{nvr16.device_id}/info")).json()
        assert info["Manufacturer"] == nvr16.manufacturer
        status = (await api.get(f"/api/devices/{nvr16.device_id}/status")).json()
        assert status["Online"] == "ONLINE"

        # unregister (Expires: 0): offline at once, with its reason
        assert await dev0.unregister() == 200
        assert (await api.get(f"/api/devices/{dev0.device_id}")).json()["online"] is False
        history = (await api.get(f"/api/devices/{dev0.device_id}/history")).json()
        assert history[0]["reason"] == "unregister"
    finally:
        await fleet.stop()
        await api.aclose()


async def _has_model(api, device_id: str) -> bool:  # type: ignore[no-untyped-def]
    return bool((await api.get(f"/api/devices/{device_id}")).json().get("model"))


async def test_device_without_keepalive_goes_offline_with_its_channels(
    make_node: NodeFactory,
) -> None:
    node = await make_node(sip={"keepalive_interval": 1, "keepalive_timeout_count": 2})
    api = await login(node)
    token = api.headers["Authorization"].split()[1]
    fleet = fleet_for(node)
    quiet = fleet.add(nvr(7, 4, keepalive_interval=0.5))
    healthy = fleet.add(ipc(8, keepalive_interval=0.5))
    await fleet.start()
    try:
        async with EventReader(node, token) as events:
            assert await fleet.register_all() == {200: 2}
            fleet.start_keepalives()
            await eventually(lambda: _channels_online(api, quiet.device_id, 4), 10)
            quiet.set_fault("no_keepalive")
            await eventually(
                lambda: bool(events.of("device.offline", device_id=quiet.device_id)), 8
            )
            await eventually(
                lambda: len(events.of("channel.offline", device_id=quiet.device_id)) == 4, 5
            )
        dev = (await api.get(f"/api/devices/{quiet.device_id}")).json()
        assert dev["online"] is False
        chans = (await api.get(f"/api/devices/{quiet.device_id}/channels")).json()["items"]
        assert chans and not any(c["online"] for c in chans)
        history = (await api.get(f"/api/devices/{quiet.device_id}/history")).json()
        device_rows = [h for h in history if h["channel_id"] is None]
        assert [h["reason"] for h in device_rows[:2]] == ["keepalive_timeout", "register"]
        assert (
            sum(1 for h in history if h["channel_id"] and h["reason"] == "keepalive_timeout") == 4
        )
        assert (await api.get(f"/api/devices/{healthy.device_id}")).json()["online"] is True

        # the device resumes keepalives while still registered: back online
        quiet.set_fault("no_keepalive", False)
        await eventually(lambda: _channels_online(api, quiet.device_id, 4), 8)
    finally:
        await fleet.stop()
        await api.aclose()


async def _channels_online(api, device_id: str, n: int) -> bool:  # type: ignore[no-untyped-def]
    r = (await api.get(f"/api/devices/{device_id}/channels")).json()
    return sum(c["online"] for c in r["items"]) == n


async def test_wrong_password_is_refused_and_repeated_failures_lock_out(
    make_node: NodeFactory,
) -> None:
    node = await make_node(sip={"auth_max_failures": 3, "auth_ip_max_failures": 6})
    fleet = fleet_for(node)
    bad = fleet.add(ipc(11, password="wrong-password"))
    good = fleet.add(ipc(12))
    other = fleet.add(ipc(13, password="also-wrong"))
    await fleet.start()
    try:
        assert await bad.register() == 403
        assert (
            node.registry.get(bad.device_id) is None or not node.registry.get(bad.device_id).online
        )
        assert await bad.register() == 403
        assert await bad.register() == 403
        # that device at that address is now refused even with the right password...
        bad.config.password = "12345678"
        assert await bad.register() == 403
        assert node.registrar is not None and node.registrar.stats["throttled"] >= 1
        # ...while another device behind the same address still gets in
        assert await good.register() == 200
        # an address that keeps failing for many devices is refused as a whole
        for _ in range(3):
            assert await other.register() == 403
        fresh = fleet.add(ipc(14))
        assert await fresh.register() == 403
    finally:
        await fleet.stop()


async def test_per_device_password_overrides_the_global_one(node: Node, api) -> None:  # type: ignore[no-untyped-def]
    fleet = fleet_for(node)
    dev = fleet.add(ipc(13))
    await fleet.start()
    try:
        assert await dev.register() == 200
        r = await api.patch(f"/api/devices/{dev.device_id}", json={"password": "device-own-pw"})
        assert r.status_code == 200 and r.json()["has_password_override"] is True
        assert await dev.register() == 403  # global password no longer accepted
        dev.config.password = "device-own-pw"
        assert await dev.register() == 200
    finally:
        await fleet.stop()


async def test_pending_admission_until_an_operator_admits(make_node: NodeFactory) -> None:
    node = await make_node(sip={"admission": "approve"})
    api = await login(node)
    fleet = fleet_for(node)
    dev = fleet.add(ipc(21))
    await fleet.start()
    try:
        assert await dev.register() == 403
        pending = (await api.get("/api/devices", params={"admission": "pending"})).json()
        assert [d["id"] for d in pending["items"]] == [dev.device_id]
        assert pending["items"][0]["online"] is False
        assert await dev.register() == 403  # still held
        r = await api.post(
            f"/api/devices/{dev.device_id}/admission", json={"admission": "admitted"}
        )
        assert r.status_code == 200
        assert await dev.register() == 200
        assert (await api.get(f"/api/devices/{dev.device_id}")).json()["online"] is True
        # rejecting takes it offline and refuses it
        await api.post(f"/api/devices/{dev.device_id}/admission", json={"admission": "rejected"})
        assert (await api.get(f"/api/devices/{dev.device_id}")).json()["online"] is False
        assert await dev.register() == 403
    finally:
        await fleet.stop()
        await api.aclose()


async def test_restart_keeps_devices_online_until_their_own_deadline(
    make_node: NodeFactory, db_url: str
) -> None:
    first = await make_node(sip={"keepalive_interval": 2, "keepalive_timeout_count": 2})
    fleet = fleet_for(first)
    dev = fleet.add(ipc(31, keepalive_interval=100))
    await fleet.start()
    try:
        assert await dev.register() == 200
        await eventually(lambda: first.registry.get(dev.device_id).online, 5)
        await first.stop()
        second = await make_node(sip={"keepalive_interval": 2, "keepalive_timeout_count": 2})
        live = second.registry.get(dev.device_id)
        assert live is not None and live.online  # not flipped offline by the restart
        # with no keepalive it goes offline at its stored deadline (≈4 s after register)
        await eventually(lambda: not second.registry.get(dev.device_id).online, 8)
        api = await login(second)
        history = (await api.get(f"/api/devices/{dev.device_id}/history")).json()
        assert history[0]["reason"] == "keepalive_timeout"
        await api.aclose()
    finally:
        await fleet.stop()


async def test_queries_ptz_presets_alarms_and_catalog_notify(node: Node, api) -> None:  # type: ignore[no-untyped-def]
    token = api.headers["Authorization"].split()[1]
    fleet = fleet_for(node)
    dev = fleet.add(nvr(41, 4))
    await fleet.start()
    try:
        async with EventReader(node, token) as events:
            assert await dev.register() == 200
            await eventually(lambda: _channels_online(api, dev.device_id, 4), 10)
            chans = (await api.get(f"/api/devices/{dev.device_id}/channels")).json()["items"]
            first = next(c for c in chans if c["channel_id"] == dev.channels[0].channel_id)

            r = await api.post(
                f"/api/channels/{first['id']}/ptz", json={"action": "right", "speed": 128}
            )
            assert r.status_code == 200 and r.json()["command"] == "A50F010180000036"
            await eventually(lambda: any(e[2] == "right" for e in dev.ptz_log), 5)
            assert dev.ptz_log[-1][0] == first["channel_id"]

            presets = (await api.get(f"/api/channels/{first['id']}/presets")).json()
            assert presets and all("PresetID" in p for p in presets)

            await dev.send_alarm(
                first["channel_id"], priority=1, method=5, alarm_type=2, description="移动侦测"
            )
            await eventually(lambda: bool(events.of("alarm", device_id=dev.device_id)), 5)
            alarms = (await api.get("/api/alarms")).json()["items"]
            assert alarms[0]["alarm_device_id"] == first["channel_id"]
            assert (
                alarms[0]["priority"] == 1
                and alarms[0]["method"] == 5
                and alarms[0]["alarm_type"] == 2
            )
            assert alarms[0]["description"] == "移动侦测"
            r = await api.post(f"/api/alarms/{alarms[0]['id']}/reset")
            assert r.status_code == 200 and r.json()["reset_sent_at"]
            await eventually(
                lambda: any(m == ("MESSAGE", "DeviceControl") for m in dev.received), 5
            )
            r = await api.post(f"/api/alarms/{alarms[0]['id']}/ack")
            assert r.json()["acknowledged_by"] == "admin"

            # the device reports a channel lost through its catalog subscription (NOTIFY)
            await eventually(lambda: dev.subscription is not None, 15)
            await dev.set_channel_status(first["channel_id"], "OFF")
            await eventually(
                lambda: bool(events.of("channel.offline", channel_id=first["channel_id"])), 5
            )
            got = (await api.get(f"/api/channels/{first['id']}")).json()
            assert got["online"] is False and got["status"] == "OFF"
            assert (await api.get(f"/api/devices/{dev.device_id}")).json()["online"] is True
    finally:
        await fleet.stop()


async def test_api_requires_auth_and_applies_roles_and_scope(node: Node, api) -> None:  # type: ignore[no-untyped-def]
    import httpx

    fleet = fleet_for(node)
    a = fleet.add(ipc(51))
    b = fleet.add(nvr(52, 2))
    await fleet.start()
    try:
        await fleet.register_all()
        await eventually(lambda: _channels_online(api, b.device_id, 2), 10)
        # a viewer limited to civil code 34020002 (the NVR's channels)
        r = await api.post(
            "/api/users",
            json={
                "username": "viewer1",
                "password": "viewer-pass",
                "role": "viewer",
                "region_codes": ["34020002"],
            },
        )
        assert r.status_code == 201
        viewer = await login(node, "viewer1", "viewer-pass")
        chans = (await viewer.get("/api/channels")).json()
        assert {c["device_id"] for c in chans["items"]} == {b.device_id}
        devices = (await viewer.get("/api/devices")).json()
        assert [d["id"] for d in devices["items"]] == [b.device_id]
        assert (await viewer.get(f"/api/devices/{a.device_id}")).status_code == 404
        ch = chans["items"][0]
        assert (
            await viewer.post(f"/api/channels/{ch['id']}/ptz", json={"action": "left"})
        ).status_code == 403
        assert (await viewer.delete(f"/api/devices/{b.device_id}")).status_code == 403
        assert (await viewer.get("/api/users")).status_code == 403
        await viewer.aclose()

        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{node.http_port}", timeout=30
        ) as anon:
            assert (await anon.get("/api/health")).status_code == 200
            for path in (
                "/api/devices",
                "/api/channels",
                "/api/alarms",
                "/api/users",
                "/api/stats",
            ):
                assert (await anon.get(path)).status_code == 401, path
            bad = {"Authorization": "Bearer not-a-token"}
            assert (await anon.get("/api/devices", headers=bad)).status_code == 401
            spec = (await anon.get("/api/openapi.json")).json()
            assert "/api/channels/{channel_pk}/ptz" in spec["paths"]
    finally:
        await fleet.stop()


async def test_login_is_throttled(node: Node) -> None:
    import httpx

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{node.http_port}", timeout=30) as c:
        codes = [
            (
                await c.post("/api/auth/login", json={"username": "admin", "password": f"wrong{i}"})
            ).status_code
            for i in range(6)
        ]
        assert codes[:5] == [401] * 5 and codes[5] == 429
        r = await c.post("/api/auth/login", json={"username": "admin", "password": "admin-pass-1"})
        assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0


async def test_delete_device_removes_it_and_its_channels(node: Node, api) -> None:  # type: ignore[no-untyped-def]
    fleet = fleet_for(node)
    dev = fleet.add(nvr(61, 2))
    await fleet.start()
    try:
        await fleet.register_all()
        await eventually(lambda: _channels_online(api, dev.device_id, 2), 10)
        assert (await api.delete(f"/api/devices/{dev.device_id}")).status_code == 204
        assert (await api.get(f"/api/devices/{dev.device_id}")).status_code == 404
        assert (await api.get("/api/channels", params={"device_id": dev.device_id})).json()[
            "total"
        ] == 0
        assert (await api.post(f"/api/devices/{dev.device_id}/sync")).status_code == 404
        await asyncio.sleep(0)
    finally:
        await fleet.stop()
