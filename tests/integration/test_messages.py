"""The wider message set round-trips against the simulator, each action audited."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from sharpeyes.events import Event
from sharpeyes.node import Node
from sharpeyes.sim import messages as sim_messages
from sharpeyes.sim.device import SimDevice
from sharpeyes.sim.fleet import SimFleet

from .conftest import login
from .devices_helpers import eventually, fleet_for, ipc, nvr

pytestmark = pytest.mark.db


class BusTap:
    """Every event the node publishes while the tap is open."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.events: list[Event] = []

    @contextlib.asynccontextmanager
    async def open(self) -> AsyncIterator[BusTap]:
        with self.node.bus.subscribe(10_000) as sub:

            async def pump() -> None:
                while True:
                    self.events.append(await sub.get())

            task = asyncio.create_task(pump())
            try:
                yield self
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

    def audits(self, action_: str, **match: Any) -> list[dict[str, Any]]:
        return [
            e.data
            for e in self.events
            if e.type == "audit.view"
            and e.data["action"] == action_
            and all(e.data.get(k) == v or e.data["detail"].get(k) == v for k, v in match.items())
        ]

    def of(self, type_: str) -> list[dict[str, Any]]:
        return [e.data for e in self.events if e.type == type_]


async def _online(api, dev: SimDevice, channels: int) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    async def ready() -> bool:
        r = await api.get(f"/api/devices/{dev.device_id}/channels")
        items = r.json()["items"] if r.status_code == 200 else []
        return sum(1 for c in items if c["online"]) >= channels

    await eventually(ready, 15)
    return (await api.get(f"/api/devices/{dev.device_id}/channels")).json()["items"]


@pytest.fixture
async def fleet(node: Node) -> AsyncIterator[SimFleet]:
    f = fleet_for(node)
    yield f
    await f.stop()


async def test_whole_ptz_family_reaches_the_device_and_is_audited(node: Node, api, fleet) -> None:  # type: ignore[no-untyped-def]
    dev = fleet.add(nvr(61, 2))
    await fleet.start()
    assert await dev.register() == 200
    chans = await _online(api, dev, 2)
    ch = next(c for c in chans if c["channel_id"] == dev.channels[0].channel_id)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"action": "focus_near", "speed": 64}, "focus-near"),
        ({"action": "focus_far"}, "focus-far"),
        ({"action": "iris_open"}, "iris-open"),
        ({"action": "iris_close"}, "iris-close"),
        ({"action": "fi_stop"}, "fi-stop"),
        ({"action": "cruise_add", "group": 2, "preset": 1}, "cruise-add"),
        ({"action": "cruise_add", "group": 2, "preset": 3}, "cruise-add"),
        ({"action": "cruise_add", "group": 2, "preset": 4}, "cruise-add"),
        ({"action": "cruise_remove", "group": 2, "preset": 4}, "cruise-delete"),
        ({"action": "cruise_speed", "group": 2, "value": 300}, "cruise-speed"),
        ({"action": "cruise_dwell", "group": 2, "value": 15}, "cruise-dwell"),
        ({"action": "cruise_start", "group": 2}, "cruise-start"),
        ({"action": "cruise_stop"}, "stop"),
        ({"action": "scan_left", "group": 1}, "scan-left"),
        ({"action": "scan_right", "group": 1}, "scan-right"),
        ({"action": "scan_speed", "group": 1, "value": 100}, "scan-speed"),
        ({"action": "scan_start", "group": 1}, "scan-start"),
        ({"action": "scan_stop"}, "stop"),
        ({"action": "wiper_on"}, "aux-on"),
        ({"action": "wiper_off"}, "aux-off"),
        ({"action": "aux_on", "switch": 3}, "aux-on"),
        ({"action": "right", "speed": 255}, "right"),
    ]
    async with BusTap(node).open() as tap:
        for body, described in cases:
            before = len(dev.ptz_log)
            r = await api.post(f"/api/channels/{ch['id']}/ptz", json=body)
            assert r.status_code == 200, (body, r.text)
            cmd = r.json()["command"]
            await eventually(lambda b=before: len(dev.ptz_log) > b, 5)
            assert dev.ptz_log[-1] == (ch["channel_id"], cmd, described), body
            await eventually(lambda c=cmd: bool(tap.audits("device.ptz", command=c)), 5)
        rec = tap.audits("device.ptz", action="cruise_dwell")[0]
        assert rec["username"] == "admin" and rec["target_id"] == ch["channel_id"]
        assert rec["device_id"] == dev.device_id and rec["client_ip"] == "127.0.0.1"
    st = dev.state
    cruise = st.cruises[ch["channel_id"]][2]
    assert cruise.points == [1, 3] and cruise.speed == 300 and cruise.dwell == 15
    assert st.aux[ch["channel_id"]] == {1: False, 3: True}
    assert st.position[ch["channel_id"]][0] > 0  # panned right

    # the device's cruise track as the 2022 queries report it
    r = await api.get(
        f"/api/devices/{dev.device_id}/query/cruise_tracks",
        params={"channel_id": ch["channel_id"]},
    )
    assert r.status_code == 200 and r.json()["items"] == [{"Number": "2", "Name": "巡航2"}]
    r = await api.get(
        f"/api/devices/{dev.device_id}/query/cruise_track",
        params={"channel_id": ch["channel_id"], "number": 2},
    )
    assert [i["PresetIndex"] for i in r.json()["items"]] == ["1", "3"]
    assert r.json()["items"][0]["StayTime"] == "15"
    r = await api.get(
        f"/api/devices/{dev.device_id}/query/ptz_position",
        params={"channel_id": ch["channel_id"]},
    )
    assert float(r.json()["Pan"]) == st.position[ch["channel_id"]][0]

    # bad parameters: a clear 4xx, nothing sent
    before = len(dev.ptz_log)
    for bad in (
        {"action": "cruise_add", "group": 1},
        {"action": "cruise_speed", "group": 1, "value": 5000},
        {"action": "aux_on"},
        {"action": "warp"},
    ):
        r = await api.post(f"/api/channels/{ch['id']}/ptz", json=bad)
        assert r.status_code in (400, 422), bad
        assert "detail" in r.json()
    assert len(dev.ptz_log) == before


async def test_device_controls_round_trip_and_are_audited(node: Node, api, fleet) -> None:  # type: ignore[no-untyped-def]
    dev = fleet.add(ipc(62))
    await fleet.start()
    assert await dev.register() == 200
    chans = await _online(api, dev, 1)
    cam = chans[0]["channel_id"]
    url = f"/api/devices/{dev.device_id}/control"
    drag = {"length": 1920, "width": 1080, "mid_x": 800, "mid_y": 400}
    drag |= {"length_x": 200, "length_y": 100}
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"command": "record_start", "channel_id": cam}, "RecordCmd", "OK"),
        ({"command": "record_stop", "channel_id": cam}, "RecordCmd", "OK"),
        ({"command": "guard_set"}, "GuardCmd", "OK"),
        ({"command": "alarm_reset", "alarm_method": 5, "alarm_type": 2}, "AlarmCmd", "OK"),
        (
            {"command": "home_position", "enabled": True, "reset_time": 60, "preset_index": 2},
            "HomePosition",
            "OK",
        ),
        ({"command": "iframe", "channel_id": cam}, "IFameCmd", "SENT"),
        ({"command": "drag_zoom_in", "channel_id": cam, **drag}, "DragZoomIn", "SENT"),
        ({"command": "drag_zoom_out", "channel_id": cam, **drag}, "DragZoomOut", "SENT"),
        ({"command": "guard_reset"}, "GuardCmd", "OK"),
        ({"command": "teleboot"}, "TeleBoot", "SENT"),
    ]
    async with BusTap(node).open() as tap:
        for body, tag, result in cases:
            before = len(dev.state.controls)
            r = await api.post(url, json=body)
            assert r.status_code == 200, (body, r.text)
            assert r.json()["result"] == result
            await eventually(lambda b=before: len(dev.state.controls) > b, 5)
            assert dev.state.controls[-1][0] == tag
            assert tap.audits("device.control", control=body["command"]), body
    st = dev.state
    assert st.recording == {cam: False} and st.guard is False
    assert ("AlarmCmd", cam, {"AlarmMethod": "5", "AlarmType": "2"}) in st.controls
    zoom = next(c for c in st.controls if c[0] == "DragZoomIn")
    assert zoom[2] == {
        "Length": "1920",
        "Width": "1080",
        "MidPointX": "800",
        "MidPointY": "400",
        "LengthX": "200",
        "LengthY": "100",
    }
    # HomePosition went to the device, and the 2022 query reads it back
    r = await api.get(f"/api/devices/{dev.device_id}/query/home_position")
    assert r.json() == {"Enabled": "1", "ResetTime": "60", "PresetIndex": "2", "items": []}

    # missing drag-box values are refused before anything is sent
    r = await api.post(url, json={"command": "drag_zoom_in", "length": 10})
    assert r.status_code == 400
    # a viewer may not control; an operator without scope sees nothing
    r = await api.post(
        "/api/users", json={"username": "v1", "password": "viewer-pass", "role": "viewer"}
    )
    viewer = await login(node, "v1", "viewer-pass")
    try:
        assert (await viewer.post(url, json={"command": "teleboot"})).status_code == 403
        r = await viewer.post(f"/api/devices/{dev.device_id}/config", json={"basic": {}})
        assert r.status_code == 403
    finally:
        await viewer.aclose()


async def test_device_config_and_config_download(node: Node, api, fleet) -> None:  # type: ignore[no-untyped-def]
    dev = fleet.add(ipc(63))
    await fleet.start()
    assert await dev.register() == 200
    await _online(api, dev, 1)
    base = f"/api/devices/{dev.device_id}"
    async with BusTap(node).open() as tap:
        r = await api.post(
            f"{base}/config",
            json={
                "basic": {
                    "name": "东门卡口",
                    "expiration": 7200,
                    "heartbeat_interval": 30,
                    "heartbeat_count": 4,
                }
            },
        )
        assert r.status_code == 200 and r.json()["result"] == "OK", r.text
        assert dev.config.name == "东门卡口" and dev.config.register_expires == 7200
        assert dev.config.keepalive_interval == 30
        assert tap.audits("device.config", device_id=dev.device_id)

        snap = {"snap_num": 3, "interval": 5, "upload_url": "http://127.0.0.1:1/snap"}
        r = await api.post(f"{base}/config", json={"snapshot": {**snap, "session_id": "s1"}})
        assert r.status_code == 200
        assert dev.state.snapshot == {
            "SnapNum": "3",
            "Interval": "5",
            "UploadURL": "http://127.0.0.1:1/snap",
            "SessionID": "s1",
        }
        # an H.264 camera has no SVAC: the device's ERROR becomes a 502, still audited
        r = await api.post(f"{base}/config", json={"svac_encode": {"ROIParam": {"ROIFlag": 1}}})
        assert r.status_code == 502
        assert tap.audits("device.config", result="ERROR")

    r = await api.get(f"{base}/config", params={"type": "BasicParam/VideoParamOpt"})
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["BasicParam"]["Name"] == "东门卡口"
    assert got["BasicParam"]["HeartBeatInterval"] == "30"
    assert got["BasicParam"]["PositionCapability"] == "1"
    assert got["VideoParamOpt"] == {"DownloadSpeed": "1/2/4", "Resolution": "5/6"}
    assert (await api.get(f"{base}/config", params={"type": "Nonsense"})).status_code == 400

    r = await api.get(f"{base}/query/sd_card_status")
    assert r.status_code == 200 and r.json()["items"][0]["HddName"] == "SD1"


async def test_alarm_query_and_alarm_subscription_with_refresh(make_node) -> None:  # type: ignore[no-untyped-def]
    node = await make_node()
    node.messages.subscriber.table.fraction = 0.2  # refresh after a fifth of the expiry
    api = await login(node)
    fleet = fleet_for(node)
    try:
        dev = fleet.add(ipc(64))
        await fleet.start()
        assert await dev.register() == 200
        chans = await _online(api, dev, 1)
        cam = chans[0]["channel_id"]
        base = f"/api/devices/{dev.device_id}"
        dev.active_alarms.add(cam)
        r = await api.get(f"{base}/query/alarm", params={"start_priority": 1, "end_priority": 4})
        assert r.status_code == 200 and r.json()["Result"] == "OK"
        await eventually(lambda: ("MESSAGE", "Alarm") in dev.received, 5)

        async with BusTap(node).open() as tap:
            r = await api.post(f"{base}/subscriptions", json={"kind": "alarm", "expires": 10})
            assert r.status_code == 200, r.text
            assert r.json()["active"] is True and r.json()["kind"] == "Alarm"
            assert "Alarm" in dev.state.events
            assert tap.audits("device.subscribe", kind="Alarm")
            # refreshed in the same dialog before it lapses
            await eventually(lambda: dev.state.events["Alarm"].refreshes >= 1, 8)
            subs = (await api.get(f"{base}/subscriptions")).json()
            assert subs[0]["refreshes"] >= 1 and subs[0]["last_error"] is None
            # an alarm NOTIFY in the dialog is stored like any alarm
            assert await sim_messages.notify_alarm(dev, cam) == 200
            await eventually(lambda: bool(tap.of("alarm")), 5)
            alarms = (await api.get("/api/alarms", params={"device_id": dev.device_id})).json()
            assert any(a["alarm_type"] == 6 for a in alarms["items"])
            # resetting an alarm changes the device: audited too
            r = await api.post(f"/api/alarms/{alarms['items'][0]['id']}/reset")
            assert r.status_code == 200
            await eventually(lambda: bool(tap.audits("device.alarm_reset")), 5)
            assert tap.audits("device.alarm_reset")[0]["client_ip"] == "127.0.0.1"
        r = await api.delete(f"{base}/subscriptions/alarm")
        assert r.json() == {"unsubscribed": True}
        assert "Alarm" not in dev.state.events
    finally:
        await fleet.stop()
        await api.aclose()


async def test_mobile_position_subscription_stores_a_track(node: Node, api, fleet) -> None:  # type: ignore[no-untyped-def]
    dev = fleet.add(ipc(65))
    await fleet.start()
    assert await dev.register() == 200
    await _online(api, dev, 1)
    base = f"/api/devices/{dev.device_id}"
    async with BusTap(node).open() as tap:
        r = await api.post(
            f"{base}/subscriptions", json={"kind": "mobile_position", "interval": 1, "expires": 60}
        )
        assert r.status_code == 200 and r.json()["fields"] == {"Interval": 1}
        await eventually(lambda: len(tap.of("mobile.position")) >= 3, 10)
    rows = (await api.get(f"{base}/positions")).json()
    assert len(rows) >= 3
    assert rows[0]["at"] <= rows[-1]["at"]
    assert rows[-1]["latitude"] > rows[0]["latitude"] and rows[0]["speed"] == 36.0
    track = (await api.get(f"{base}/track")).json()
    assert track["geometry"]["type"] == "LineString"
    assert len(track["geometry"]["coordinates"]) == len(rows)
    await api.delete(f"{base}/subscriptions/mobile_position")
    assert "MobilePosition" not in dev.state.events

    # a hostile position is counted, never stored
    before = node.messages.stats["bad_positions"]
    from sharpeyes.gb28181 import manscdp

    body = manscdp.build_manscdp(
        "Notify", "MobilePosition", 9, dev.device_id, [("Longitude", "nan"), ("Latitude", 999)]
    )
    assert await dev._send_message(body) == 200
    assert node.messages.stats["bad_positions"] == before + 1


async def test_media_status_published_unknown_cmdtypes_counted(node: Node, api, fleet) -> None:  # type: ignore[no-untyped-def]
    dev = fleet.add(ipc(66))
    await fleet.start()
    assert await dev.register() == 200
    chans = await _online(api, dev, 1)
    async with BusTap(node).open() as tap:
        assert await sim_messages.send_media_status(dev, chans[0]["channel_id"]) == 200
        await eventually(lambda: bool(tap.of("media.status")), 5)
    ev = tap.of("media.status")[0]
    assert ev["ended"] is True and ev["notify_type"] == "121"
    assert ev["device_id"] == dev.device_id and ev["source_id"] == chans[0]["channel_id"]

    # unknown Notify: acknowledged; unknown Query/Control: refused with 501; both counted
    assert await sim_messages.send_unknown(dev, "Notify") == 200
    assert await sim_messages.send_unknown(dev, "Query") == 501
    r = await api.get(f"/api/devices/{dev.device_id}/messages")
    assert r.json() == {"unknown_cmd": 2}


async def test_sha256_digest_is_offered_and_used_by_devices_that_support_it(make_node) -> None:  # type: ignore[no-untyped-def]
    node = await make_node()
    fleet = fleet_for(node)
    try:
        modern = fleet.add(ipc(67, digest_algorithms=("SHA-256", "MD5")))
        legacy = fleet.add(ipc(68))
        only_sha = fleet.add(ipc(69, digest_algorithms=("SHA-256",)))
        await fleet.start()
        assert await modern.register() == 200
        assert await legacy.register() == 200
        assert await only_sha.register() == 200
        reg = node.registrar
        assert reg is not None
        assert reg.stats["sha256"] == 2
        assert reg.sha256_devices == {modern.device_id, only_sha.device_id}
        # a device seen using SHA-256 is challenged with SHA-256 first from now on
        assert reg._algorithms(modern.device_id) == ["SHA-256", "MD5"]
        assert reg._algorithms(legacy.device_id) == ["MD5", "SHA-256"]
    finally:
        await fleet.stop()

    off = await make_node(sip={"digest_sha256": "off"})
    fleet = fleet_for(off)
    try:
        only_sha = fleet.add(ipc(70, digest_algorithms=("SHA-256",)))
        legacy = fleet.add(ipc(71))
        await fleet.start()
        assert await legacy.register() == 200
        assert await only_sha.register() == 401  # nothing it can answer
    finally:
        await fleet.stop()


async def test_bad_input_and_scope_get_clear_errors(node: Node, api, fleet) -> None:  # type: ignore[no-untyped-def]
    dev = fleet.add(ipc(72))
    await fleet.start()
    assert await dev.register() == 200
    (ch,) = await _online(api, dev, 1)
    base = f"/api/devices/{dev.device_id}"
    bad: list[tuple[str, str, dict[str, Any] | None, int]] = [
        ("post", f"{base}/config", {"svac_encode": {"<x>": 1}}, 400),
        ("post", f"{base}/config", {"svac_encode": {"ROI": [1, 2]}}, 400),
        ("post", f"{base}/config", {}, 400),
        ("post", f"{base}/config", {"basic": {"expiration": 1}}, 422),
        ("post", f"{base}/config", {"snapshot": {"upload_url": "javascript:alert(1)"}}, 400),
        ("post", f"{base}/control", {"command": "self_destruct"}, 422),
        ("post", f"{base}/control", {"command": "record_start", "channel_id": "1" * 20}, 404),
        ("get", f"{base}/query/everything", None, 422),
        ("get", f"{base}/query/cruise_track", None, 400),
        ("post", f"{base}/subscriptions", {"kind": "weather"}, 422),
        ("post", f"{base}/subscriptions", {"kind": "alarm", "expires": 1}, 422),
        ("get", "/api/devices/34020000001329999999/positions", None, 404),
        ("delete", f"{base}/subscriptions/alarm", None, 200),
        ("post", "/api/channels/999999/talk", None, 404),
    ]
    for method, url, body, status in bad:
        kw = {"json": body} if body is not None else {}
        r = await getattr(api, method)(url, **kw)
        assert r.status_code == status, (url, body, r.status_code, r.text)
        assert "detail" in r.json() or status == 200
    assert dev.state.controls == [] and dev.state.configs == []

    # an operator limited to another region sees nothing of this device
    r = await api.post(
        "/api/users",
        json={
            "username": "op2",
            "password": "operator-pass",
            "role": "operator",
            "region_codes": ["110000"],
        },
    )
    assert r.status_code == 201
    other = await login(node, "op2", "operator-pass")
    try:
        for method, url, body in (
            ("post", f"{base}/control", {"command": "teleboot"}),
            ("post", f"{base}/config", {"basic": {"name": "x"}}),
            ("post", f"/api/channels/{ch['id']}/ptz", {"action": "wiper_on"}),
            ("post", f"{base}/subscriptions", {"kind": "alarm"}),
            ("get", f"{base}/positions", None),
            ("post", f"/api/channels/{ch['id']}/talk", None),
        ):
            kw = {"json": body} if body is not None else {}
            r = await getattr(other, method)(url, **kw)
            assert r.status_code == 404, (url, r.status_code)
    finally:
        await other.aclose()
    assert dev.state.controls == [] and not dev.state.events and not dev.state.talks
    assert not any(a == "aux-on" for _c, _h, a in dev.ptz_log)
