"""A county node (simulated camera registered there) registers up to a city node."""

from __future__ import annotations

import pytest

from .cascade_helpers import CITY, COUNTY, link_up, make_level, stop  # noqa: F401
from .conftest import login
from .devices_helpers import eventually
from .live_helpers import WsReader, camera, play


@pytest.mark.parametrize(
    ("transport", "media"), [("udp", "udp"), ("tcp", "tcp-passive"), ("udp", "tcp-active")]
)
async def test_county_camera_plays_at_city(make_level, transport: str, media: str) -> None:  # noqa: F811
    """Signalling over UDP/TCP; media UDP, TCP with the city listening, TCP with us listening."""
    city = await make_level("city", CITY)
    county = await make_level("county", COUNTY)
    city_api, county_api = await login(city), await login(county)
    cam = await camera(county, county_api, 1)
    upper = await link_up(county_api, city, transport=transport)

    async def registered() -> bool:
        r = await county_api.get(f"/api/cascade/uppers/{upper['id']}")
        return r.json()["state"] == "registered"

    await eventually(registered, 15)
    got = (await county_api.get(f"/api/cascade/uppers/{upper['id']}")).json()
    assert "password" not in got and got["shared_channel_count"] == 1

    cid = cam.device.channels[0].channel_id

    async def listed() -> bool:
        r = await city_api.get("/api/channels", params={"q": cid})
        return r.json()["total"] == 1 and r.json()["items"][0]["online"]

    await eventually(listed, 15)
    ch = (await city_api.get("/api/channels", params={"q": cid})).json()["items"][0]
    assert ch["device_id"] == COUNTY[0]
    if media != "udp":
        r = await city_api.patch(f"/api/devices/{COUNTY[0]}", json={"media_transport": media})
        assert r.status_code == 200, r.text
    grant = await play(city_api, ch["id"])
    ws = await WsReader(grant["ws_url"]).start()
    try:
        await ws.wait_frames(50, 30)
    finally:
        await ws.close()
    r = await city_api.post(f"/api/channels/{ch['id']}/ptz", json={"action": "left"})
    assert r.status_code == 200, r.text
    await eventually(lambda: any(c == cid for c, _, _ in cam.device.ptz_log), 10)
    fw = (await county_api.get("/api/cascade/forwards")).json()
    assert len(fw["items"]) == 1 and fw["items"][0]["bytes"] > 0
    # the city offered passive → we connect (tcp-active); offered active → we listen
    expect = {"udp": "udp", "tcp-passive": "tcp-active", "tcp-active": "tcp-passive"}[media]
    assert fw["items"][0]["transport"] == expect
    await stop(city)
    await stop(county)
