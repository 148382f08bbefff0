"""The lower-platform side against ``SimUpper`` with each field quirk switched on."""

from __future__ import annotations

from typing import Any

import pytest

from sharpeyes.sim.upper import SimUpper

from .conftest import login
from .devices_helpers import eventually
from .live_helpers import camera

UPPER = ("34020000002000000007", "3402000000")


@pytest.mark.parametrize("quirk", ["none", "no_y", "tcp_passive", "own_sn", "early_subscribe"])
async def test_lower_against_sim_upper(node: Any, quirk: str) -> None:
    api = await login(node)
    upper = SimUpper(
        server_id=UPPER[0],
        domain=UPPER[1],
        password="city-pass",
        quirks=set() if quirk == "none" else {quirk},
    )
    await upper.start()
    try:
        cam = await camera(node, api, 1)
        body = {
            "name": "sim city",
            "server_id": UPPER[0],
            "domain": UPPER[1],
            "host": "127.0.0.1",
            "port": upper.port,
            "password": "city-pass",
            "enabled": False,
        }
        uid = (await api.post("/api/cascade/uppers", json=body)).json()["id"]
        await api.put(f"/api/cascade/uppers/{uid}/channels", json={"all": True})
        await api.patch(f"/api/cascade/uppers/{uid}", json={"enabled": True})
        us = node.settings.sip.id
        await eventually(lambda: us in upper.lowers, 10)
        if quirk == "early_subscribe":
            await eventually(lambda: upper.lowers[us].subscribed == 200, 10)
        items = await upper.query_catalog(us)
        cid = cam.channel["channel_id"]
        assert cid in {i["DeviceID"] for i in items}
        result = await upper.play(us, cid, seconds=15, min_frames=25)
        assert result.frames >= 25 and result.keyframes >= 1, result
        assert len(result.ssrcs) == 1
        sent = next(iter(result.ssrcs))
        assert result.answered_ssrc == sent  # the SSRC of our y= is the one we send
        if quirk != "no_y":
            assert sent == 100009999  # echoed
        await cam.fleet.stop()
    finally:
        await upper.stop()
        await api.aclose()
