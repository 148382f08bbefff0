"""The lower-platform side against ``SimUpper`` with each field quirk switched on."""

from __future__ import annotations

from typing import Any

import pytest

from sharpeyes.sim.upper import SimUpper

from .cascade_helpers import link_sim_upper
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
        us = await link_sim_upper(node, api, upper)
        if quirk == "early_subscribe":
            await eventually(lambda: upper.lowers[us].subscribed == 200, 10)
        items = await upper.query_catalog(us)
        cid = cam.channel["channel_id"]
        assert cid in {i["DeviceID"] for i in items}
        result = await upper.play(us, cid, seconds=15, min_frames=25)
        accepted = sum(s.hub.accepted for s in node.live.sessions.values())
        assert result.frames >= 25 and result.keyframes >= 1, result
        assert len(result.ssrcs) == 1
        sent = next(iter(result.ssrcs))
        assert result.answered_ssrc == sent  # the SSRC of our y= is the one we send
        if quirk != "no_y":
            assert sent == 100009999  # echoed
        # each access unit reaches the upper once: no more than the hub took in (a
        # second hub tap at INVITE time once fed every frame twice)
        assert 0 < result.markers <= accepted, (result.markers, accepted)
        await cam.fleet.stop()
    finally:
        await upper.stop()
        await api.aclose()
