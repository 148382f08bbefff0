"""Scope and leak fixes from review (issue 15 "Hardening"): one test each, failing before.

- HLS playlists/segments re-check the user and the right; an HLS session's lifetime is bounded;
- organisation create/update/delete are scoped to the user's regions;
- audit events reach only their own user and admins on the events WebSocket, and
  /api/stats shows node internals to unrestricted users only;
- no ``assert`` for control flow in the device routes.
"""

from __future__ import annotations

import time
import types
from typing import Any

import pytest

from sharpeyes.ledger import sample
from sharpeyes.live import service as live_service
from sharpeyes.live.audit import AuditRecord, audit

from .conftest import NodeFactory, login
from .devices_helpers import EventReader, eventually, fleet_for, ipc
from .ledger_helpers import ADMIN
from .live_helpers import camera, live_node, play
from .sharing_helpers import DEPT_ORG, user

pytestmark = pytest.mark.db


async def test_hls_rechecks_the_user_and_bounds_the_session(
    make_node: NodeFactory, monkeypatch: Any
) -> None:
    node, admin = await live_node(make_node, hls_segment_s=1.0, hls_session_max_s=60)
    cam = await camera(node, admin)
    info = await node.users.create_user("watcher", "watcher-pass-1", "viewer")
    other = await node.users.create_user("watcher2", "watcher-pass-2", "viewer")
    try:
        api = await login(node, "watcher", "watcher-pass-1")
        p = await play(api, cam.pk)
        r = await api.get(p["hls_url"])
        assert r.status_code == 200 and "#EXTINF" in r.text
        segment = next(ln for ln in r.text.splitlines() if ln.startswith("seg"))
        seg_url = p["hls_url"].rsplit("/", 1)[0] + "/" + segment
        assert (await api.get(seg_url)).status_code == 200

        # The user loses the region: the very next playlist and segment are refused.
        await node.users.update_user(info.id, region_codes=["9999"])
        r = await api.get(p["hls_url"])
        assert r.status_code == 403 and "no longer" in r.json()["detail"]
        assert (await api.get(seg_url)).status_code == 403
        await node.users.update_user(info.id, region_codes=None)
        assert (await api.get(p["hls_url"])).status_code == 200
        # Disabled: refused.
        await node.users.update_user(info.id, disabled=True)
        assert (await api.get(p["hls_url"])).status_code == 403

        # Another user's grant keeps working until the configured lifetime is over.
        api2 = await login(node, "watcher2", "watcher-pass-2")
        p2 = await play(api2, cam.pk)
        assert (await api2.get(p2["hls_url"])).status_code == 200
        later = time.time() + 61  # injected clock: an hour of polling is not slept through
        fake = types.SimpleNamespace(
            time=lambda: later, monotonic=time.monotonic, perf_counter=time.perf_counter
        )
        monkeypatch.setattr(live_service, "time", fake)
        r = await api2.get(p2["hls_url"])
        assert r.status_code == 401 and "hls_session_max_s" in r.json()["detail"]
        assert other.id != info.id
    finally:
        await cam.fleet.stop()


async def test_organisation_writes_are_scoped(make_node: NodeFactory) -> None:
    node = await make_node()
    await sample.ensure_reference_data(node.ledger, ADMIN)
    await node.users.create_user("op_t1", "operator-pass-2", "operator", region_codes=["34152201"])
    township = await login(node, "op_t1", "operator-pass-2")
    admin = await login(node)
    county_org = (await admin.get("/api/ledger/organisations", params={"roots": True})).json()[
        "items"
    ][0]
    assert county_org["region_code"] == sample.COUNTY

    r = await township.post(
        "/api/ledger/organisations",
        json={"name": "县外单位", "type": "education", "region_code": sample.COUNTY},
    )
    assert r.status_code == 403, r.text
    r = await township.patch(
        f"/api/ledger/organisations/{county_org['id']}", json={"name": "被改名"}
    )
    assert r.status_code == 403, r.text
    assert (
        await township.delete(f"/api/ledger/organisations/{county_org['id']}")
    ).status_code == 403
    assert (await admin.get(f"/api/ledger/organisations/{county_org['id']}")).json()[
        "name"
    ] == county_org["name"]
    # Within the township: allowed.
    r = await township.post(
        "/api/ledger/organisations",
        json={"name": "城关镇中心小学", "type": "education", "region_code": "34152201"},
    )
    assert r.status_code == 201, r.text
    own = r.json()
    r = await township.patch(f"/api/ledger/organisations/{own['id']}", json={"name": "城关一小"})
    assert r.status_code == 200 and r.json()["name"] == "城关一小"
    r = await township.patch(
        f"/api/ledger/organisations/{own['id']}", json={"region_code": sample.COUNTY}
    )
    assert r.status_code == 403  # and not moved out of the township either
    assert (await township.delete(f"/api/ledger/organisations/{own['id']}")).status_code == 204


async def test_audit_events_reach_only_their_user_and_admins(make_node: NodeFactory) -> None:
    node = await make_node()
    viewer = await node.users.create_user("viewer1", "viewer-pass-1", "viewer")
    v_api = await login(node, "viewer1", "viewer-pass-1")
    a_api = await login(node)
    v_token = v_api.headers["Authorization"].split()[1]
    a_token = a_api.headers["Authorization"].split()[1]
    async with EventReader(node, v_token) as v_events, EventReader(node, a_token) as a_events:

        async def subscribed() -> bool:
            node.bus.publish("test.marker", n=0)
            return bool(v_events.of("test.marker")) and bool(a_events.of("test.marker"))

        await eventually(subscribed, 10)
        for user_id, username in ((1, "admin"), (viewer.id, "viewer1")):
            audit(
                node.bus,
                AuditRecord(
                    action="live.play",
                    user_id=user_id,
                    username=username,
                    target_type="channel",
                    target_id="34020000001310000001",
                    device_id="34020000001320000001",
                    client_ip="10.9.8.7",
                ),
            )
        node.bus.publish("test.marker", n=1)
        await eventually(lambda: v_events.of("test.marker", n=1), 10)
        await eventually(lambda: a_events.of("test.marker", n=1), 10)
    assert [e["data"]["username"] for e in v_events.of("audit.view")] == ["viewer1"]
    assert sorted(e["data"]["username"] for e in a_events.of("audit.view")) == [
        "admin",
        "viewer1",
    ]


async def test_stats_internals_only_for_unrestricted_users(make_node: NodeFactory) -> None:
    node = await make_node()
    await node.users.create_user("t1", "viewer-pass-1", "viewer", region_codes=["34020001"])
    limited = await login(node, "t1", "viewer-pass-1")
    admin = await login(node)
    fleet = fleet_for(node)
    fleet.add(ipc(1))  # channel civil code 34020001: inside t1's region
    await fleet.start()
    try:
        assert await fleet.register_all() == {200: 1}

        async def counted() -> bool:
            return (await admin.get("/api/stats")).json()["channels_online"] == 1

        await eventually(counted, 15)
        full = (await admin.get("/api/stats")).json()
        assert {"sip", "registrar", "messaging", "interop", "loop_lag"} <= set(full)
        # every component's own stats(), by name (the composition root's lifecycle)
        assert {"sip", "registrar", "messaging", "loop_lag", "streams"} <= set(full["components"])
        assert full["components"]["registrar"]["ok"] >= 1
        # a department user has no region scope of its own, whatever region_codes says
        dept = await user(node, "dep1", "department", org_id=DEPT_ORG)
        assert "sip" not in (await dept.get("/api/stats")).json()
        mine = (await limited.get("/api/stats")).json()
        assert set(mine) == {
            "devices_online",
            "devices_offline",
            "channels_online",
            "channels_offline",
        }
        assert mine["channels_online"] == 1
    finally:
        await fleet.stop()


async def test_catalog_sync_without_a_result_is_a_clear_error(
    make_node: NodeFactory, monkeypatch: Any
) -> None:
    """No ``assert`` in the route: the case answers 502 with a message (also under -O)."""
    node = await make_node()
    api = await login(node)
    fleet = fleet_for(node)
    dev = fleet.add(ipc(1))
    await fleet.start()
    try:
        assert await fleet.register_all() == {200: 1}

        async def nothing(*_a: Any, **_k: Any) -> None:
            return None

        monkeypatch.setattr(node.devices, "sync_catalog", nothing)
        r = await api.post(f"/api/devices/{dev.device_id}/sync")
        assert r.status_code == 502 and "no catalog" in r.json()["detail"]
    finally:
        await fleet.stop()
