"""ONVIF: a device double answering with captured-style SOAP responses.

Adding by ONVIF reads GetCapabilities (GetServices is refused, as older firmware
does), device information, time, profiles and their stream URIs; the console's PTZ
actions on the proxy's channel arrive as ContinuousMove/Stop/GotoPreset/SetPreset/
RemovePreset with the right profile, velocities and preset tokens.
"""

from __future__ import annotations

import httpx
import pytest

from sharpeyes.node import Node

from ..onvif.double import DiscoveryResponder, OnvifDouble
from .conftest import NodeFactory, login

pytestmark = pytest.mark.db


async def test_onvif_add_reads_profiles_and_maps_ptz(node: Node, api: httpx.AsyncClient) -> None:
    async with OnvifDouble(rtsp="127.0.0.1:18554") as cam:
        r = await api.post(
            "/api/proxies/onvif/probe",
            json={"xaddr": cam.xaddr, "username": "admin", "password": "hik12345"},
        )
        assert r.status_code == 200, r.text
        info = r.json()
        assert info["device"]["manufacturer"] == "HIKVISION"
        assert info["device"]["model"] == "DS-2DE2A404IW-DE3"
        assert info["time"]["timezone"] == "CST-8:00:00" and info["time"]["utc"].endswith("Z")
        assert [p["token"] for p in info["profiles"]] == ["Profile_1", "Profile_2"]
        assert info["profiles"][0]["stream_uri"] == "rtsp://127.0.0.1:18554/cam"
        assert info["profiles"][0]["width"] == 1920 and info["profiles"][1]["height"] == 360
        assert info["ptz"] is True
        assert "GetCapabilities" in cam.ops()
        uri_calls = cam.of("GetStreamUri")
        assert [c.text("ProfileToken") for c in uri_calls] == ["Profile_1", "Profile_2"]
        assert uri_calls[0].text("Stream") == "RTP-Unicast"
        assert uri_calls[0].text("Protocol") == "RTSP"

        r = await api.post(
            "/api/proxies/onvif",
            json={
                "xaddr": cam.xaddr,
                "username": "admin",
                "password": "hik12345",
                "name": "学校操场球机",
            },
        )
        assert r.status_code == 201, r.text
        p = r.json()
        assert p["source"] == "onvif" and p["url"] == "rtsp://127.0.0.1:18554/cam"
        assert p["sub_url"] == "rtsp://127.0.0.1:18554/cam?sub=1"
        assert p["onvif"] == {"xaddr": cam.xaddr, "profile": "Profile_1", "ptz": True}
        assert p["manufacturer"] == "HIKVISION" and p["gb_id"][10:14] == "1328"
        ch = (await api.get(f"/api/channels/{p['channel']}")).json()
        assert ch["manufacturer"] == "HIKVISION" and ch["ptz_type"] == 1

        pk = p["channel"]
        cam.calls.clear()
        r = await api.post(f"/api/channels/{pk}/ptz", json={"action": "left", "speed": 255})
        assert r.status_code == 200, r.text
        move = cam.of("ContinuousMove")[-1]
        assert move.text("ProfileToken") == "Profile_1"
        assert move.attrs("PanTilt") == {"x": "-1.0", "y": "0.0"}

        await api.post(f"/api/channels/{pk}/ptz", json={"action": "upright", "speed": 51})
        assert cam.of("ContinuousMove")[-1].attrs("PanTilt") == {"x": "0.2", "y": "0.2"}
        await api.post(f"/api/channels/{pk}/ptz", json={"action": "zoomin", "speed": 128})
        zoom = cam.of("ContinuousMove")[-1]
        assert zoom.attrs("Zoom") == {"x": "0.502"} and zoom.attrs("PanTilt") == {}

        r = await api.post(f"/api/channels/{pk}/ptz", json={"action": "stop"})
        assert r.status_code == 200
        stop = cam.of("Stop")[-1]
        assert stop.text("ProfileToken") == "Profile_1"
        assert stop.text("PanTilt") == "true" and stop.text("Zoom") == "true"

        r = await api.post(f"/api/channels/{pk}/ptz", json={"action": "preset_call", "preset": 3})
        assert r.status_code == 200
        goto = cam.of("GotoPreset")[-1]
        assert goto.text("ProfileToken") == "Profile_1" and goto.text("PresetToken") == "3"
        await api.post(f"/api/channels/{pk}/ptz", json={"action": "preset_set", "preset": 4})
        assert cam.of("SetPreset")[-1].text("PresetToken") == "4"
        await api.post(f"/api/channels/{pk}/ptz", json={"action": "preset_delete", "preset": 4})
        assert cam.of("RemovePreset")[-1].text("PresetToken") == "4"

        presets = (await api.get(f"/api/channels/{pk}/presets")).json()
        assert presets[0] == {"PresetID": "1", "PresetName": "门口"}


async def test_onvif_wrong_password_is_a_clear_error(api: httpx.AsyncClient) -> None:
    async with OnvifDouble() as cam:
        r = await api.post(
            "/api/proxies/onvif",
            json={"xaddr": cam.xaddr, "username": "admin", "password": "nope"},
        )
        assert r.status_code == 502, r.text
        assert r.json()["reason"] == "auth_failed"
        assert (await api.get("/api/proxies")).json()["total"] == 0


async def test_onvif_unreachable(api: httpx.AsyncClient) -> None:
    r = await api.post("/api/proxies/onvif", json={"xaddr": "127.0.0.1:9", "username": "a"})
    assert r.status_code == 502, r.text
    assert r.json()["detail"]


async def test_ptz_on_a_plain_rtsp_proxy_is_refused(api: httpx.AsyncClient) -> None:
    r = await api.post("/api/proxies", json={"name": "plain-cam", "url": "rtsp://192.0.2.1/a"})
    pk = r.json()["channel"]
    r = await api.post(f"/api/channels/{pk}/ptz", json={"action": "left"})
    assert r.status_code == 400 and "ONVIF" in r.json()["detail"]


async def test_ws_discovery_lists_devices_not_yet_added(make_node: NodeFactory) -> None:
    cams = [
        {"xaddr": "http://192.0.2.61/onvif/device_service", "name": "HIKVISION",
         "hardware": "DS-2CD2T47G1-L"},
        {"xaddr": "http://192.0.2.62:8000/onvif/device_service", "name": "Dahua",
         "hardware": "IPC-HFW2431S"},
    ]  # fmt: skip
    async with DiscoveryResponder(cams) as responder:
        node = await make_node(proxies={"discovery_port": responder.port})
        api = await login(node)
        r = await api.post(
            "/api/proxies", json={"name": "already", "url": "rtsp://192.0.2.62:554/cam/realmonitor"}
        )
        assert r.status_code == 201
        r = await api.get("/api/proxies/discover", params={"address": "127.0.0.1", "timeout": 1})
        assert r.status_code == 200, r.text
        assert responder.probes and "NetworkVideoTransmitter" in responder.probes[0]
        items = r.json()["items"]
        assert [i["xaddrs"] for i in items] == [["http://192.0.2.61/onvif/device_service"]]
        assert items[0]["name"] == "HIKVISION" and items[0]["hardware"] == "DS-2CD2T47G1-L"
        await api.aclose()
