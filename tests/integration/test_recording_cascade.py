"""An upper platform's ``s=Playback`` INVITE for a shared channel is served from the device.

SimUpper (an independent upper) asks for a range of the camera's own recording;
the lower opens a device playback session (s=Playback, t= the same range) and
forwards its PS to the upper; the upper's BYE ends the device session too.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from sharpeyes.cascade.sdp import plan_for
from sharpeyes.gb28181 import mansrtsp
from sharpeyes.gb28181.sdp import SdpError, parse_sdp, play_offer
from sharpeyes.live.session import SessionKind
from sharpeyes.sim.upper import SimUpper

from .cascade_helpers import link_sim_upper
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
        us = await link_sim_upper(node, api, upper)
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


async def test_upper_mansrtsp_steers_the_device_playback(
    make_node: NodeFactory, tmp_path: Path
) -> None:
    """The upper's INFO (MANSRTSP seek, speed) reaches the device; garbage gets a 400."""
    node = await make_node(media=fast())
    api = await login(node)
    upper = SimUpper(server_id=UPPER[0], domain=UPPER[1], password="city-pass")
    await upper.start()
    cam = await recording_camera(node, api)
    try:
        us = await link_sim_upper(node, api, upper)
        start, end = recorded_range(cam, 60)
        calls: list[Any] = []

        def grab() -> bool:
            calls.extend(c for c in cam.device.media_calls.values() if c not in calls)
            return bool(calls)

        controls = [
            mansrtsp.play(1, position_s=30).to_bytes(),
            mansrtsp.play(2, scale=2.0).to_bytes(),
            b"NONSENSE\r\n\r\n",
        ]
        play = asyncio.ensure_future(
            upper.play(
                us,
                cam.channel["channel_id"],
                seconds=20,
                min_frames=25,
                playback=(start, end),
                controls=controls,
            )
        )
        await eventually(lambda: grab() or play.done(), 15)
        result = await play
        assert result.control_statuses == [200, 200, 400], result.control_statuses
        (call,) = calls
        assert call.playback is not None
        got = [(c.method, c.position_s, c.scale) for c in call.playback.controls]
        assert got == [
            (mansrtsp.Method.PLAY, 30.0, None),
            (mansrtsp.Method.PLAY, None, 2.0),
        ], got
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
