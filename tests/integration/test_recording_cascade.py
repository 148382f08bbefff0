"""An upper platform's ``s=Playback`` INVITE for a shared channel is served from the device.

SimUpper (an independent upper) asks for a range of the camera's own recording;
the lower opens a device playback session (s=Playback, t= the same range) and
forwards its PS to the upper; the upper's BYE ends the device session too.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from sharpeyes.cascade.sdp import plan_for
from sharpeyes.gb28181.sdp import SdpError, parse_sdp, play_offer
from sharpeyes.live.session import SessionKind
from sharpeyes.sim.upper import SimUpper

from .conftest import NodeFactory, login
from .devices_helpers import eventually
from .recording_helpers import fast, recorded_range, recording_camera

pytestmark = pytest.mark.db

UPPER = ("34020000002000000007", "3402000000")


async def test_upper_playback_invite_is_forwarded_from_the_device(
    make_node: NodeFactory, tmp_path: Path
) -> None:
    node = await make_node(media=fast())
    api = await login(node)
    upper = SimUpper(server_id=UPPER[0], domain=UPPER[1], password="city-pass")
    await upper.start()
    cam = await recording_camera(node, api)
    try:
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
        cid = cam.channel["channel_id"]
        start, end = recorded_range(cam, 60)
        seen: list[tuple[SessionKind, int | None, int | None]] = []

        def spy() -> None:
            for s in node.live.sessions.values():
                seen.append((s.key.kind, s.key.start, s.key.end))

        invites = cam.invites()
        play = asyncio.ensure_future(
            upper.play(us, cid, seconds=20, min_frames=25, playback=(start, end))
        )
        await eventually(lambda: bool(node.live.sessions) or play.done(), 15)
        spy()
        result = await play
        assert result.frames >= 25 and result.keyframes >= 1, result
        assert (SessionKind.PLAYBACK, start, end) in seen  # the device's recording, that range
        assert cam.invites() == invites + 1
        # the upper's BYE ends the device playback session as well
        await eventually(lambda: not node.live.sessions, 10)
        await eventually(lambda: cam.byes() >= 1, 10)
    finally:
        await cam.fleet.stop()
        await upper.stop()
        await api.aclose()


def test_playback_offer_plan_carries_the_range_and_bad_ranges_are_refused() -> None:
    offer = play_offer(
        local_id=UPPER[0],
        address="127.0.0.1",
        port=30000,
        ssrc="1100000001",
        session_name="Playback",
        channel_id="34020000001310000001",
        start=1_700_000_000,
        stop=1_700_000_600,
    )
    plan = plan_for(parse_sdp(offer.to_bytes()), domain=UPPER[1], serial=1)
    assert (plan.operation, plan.start, plan.stop) == ("playback", 1_700_000_000, 1_700_000_600)
    text = offer.to_text().replace("t=1700000000 1700000600", "t=0 0")
    with pytest.raises(SdpError, match="Playback"):
        plan_for(parse_sdp(text.encode()), domain=UPPER[1], serial=1)
    with pytest.raises(SdpError, match="unsupported"):
        plan_for(
            parse_sdp(text.replace("s=Playback", "s=Talk").encode()), domain=UPPER[1], serial=1
        )
