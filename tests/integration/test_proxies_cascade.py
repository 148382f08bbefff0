"""A proxy channel (RTSP pull) shared to an upper platform: catalog entry and PS video.

The upper is ``SimUpper`` (its own SIP stack, digest REGISTER, Catalog query, INVITE,
PS demux of the RTP it receives); the camera is GStreamer's RTSP server.
"""

from __future__ import annotations

import pytest

from sharpeyes.sim.upper import SimUpper

from .conftest import NodeFactory
from .devices_helpers import eventually
from .proxies_helpers import RtspServer, needs_gst
from .test_proxies_rtsp import add_proxy, proxy, proxy_node

pytestmark = [needs_gst, pytest.mark.db]

UPPER = ("34020000002000000007", "3402000000")


async def test_proxy_channel_shared_to_upper_plays_ps(make_node: NodeFactory) -> None:
    node, api = await proxy_node(make_node)
    upper = SimUpper(server_id=UPPER[0], domain=UPPER[1], password="city-pass")
    await upper.start()
    try:
        async with RtspServer() as srv:
            p = await add_proxy(api, url=srv.url, name="学校门口")
            gb = p["gb_id"]
            body = {
                "name": "sim city",
                "server_id": UPPER[0],
                "domain": UPPER[1],
                "host": "127.0.0.1",
                "port": upper.port,
                "password": "city-pass",
                "enabled": False,
            }
            r = await api.post("/api/cascade/uppers", json=body)
            assert r.status_code == 201, r.text
            uid = r.json()["id"]
            r = await api.put(
                f"/api/cascade/uppers/{uid}/channels", json={"channels": [p["channel"]]}
            )
            assert r.status_code == 200, r.text
            r = await api.patch(f"/api/cascade/uppers/{uid}", json={"enabled": True})
            assert r.status_code == 200, r.text
            us = node.settings.sip.id
            await eventually(lambda: us in upper.lowers, 15)

            items = await upper.query_catalog(us)
            mine = [i for i in items if i.get("DeviceID") == gb]
            assert mine, items
            assert mine[0].get("Name") == "学校门口"
            assert mine[0].get("Status", "ON").upper() == "ON"
            assert srv.connected == 0  # on demand: nothing pulled until the upper plays

            result = await upper.play(us, gb, seconds=30, min_frames=25)
            assert result.frames >= 25 and result.keyframes >= 1, result
            assert len(result.ssrcs) == 1 and result.answered_ssrc in result.ssrcs
            assert srv.connected == 1

            async def idle() -> bool:
                return (await proxy(api, p["id"]))["state"] == "idle"

            await eventually(idle, 20)  # the upper's BYE ends the only consumer
    finally:
        await upper.stop()
        await api.aclose()
