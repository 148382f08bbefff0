"""Hostile media on real sockets: the node keeps serving other streams and says why one ended.

The test itself plays the camera for the victim session (the simulated device is
told not to send: ``no_media``), sending garbage, wrong SSRCs, truncated PS packs,
absurd PES lengths, packets from the wrong address, or a stream that stops
mid-frame to the RTP port the node put in its SDP.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import socket
import struct
from collections.abc import Iterable
from typing import Any

import httpx
import pytest

from tests.media_fixtures import clip, ps_rtp

from .conftest import NodeFactory
from .devices_helpers import eventually
from .live_helpers import Camera, WsReader, add_cameras, live_node, play, streams

pytestmark = pytest.mark.db


class Attacker:
    """Sends datagrams to a session's RTP port, paced so loopback buffers do not overflow."""

    def __init__(self, port: int, host: str = "127.0.0.1", source: str = "127.0.0.1") -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((source, 0))
        self.sock.setblocking(False)
        self.dest = (host, port)

    async def send(self, packets: Iterable[bytes], per_tick: int = 20) -> None:
        for i, p in enumerate(packets):
            self.sock.sendto(p, self.dest)
            if i % per_tick == per_tick - 1:
                await asyncio.sleep(0.01)

    def close(self) -> None:
        self.sock.close()


async def victim_session(api: httpx.AsyncClient, cam: Camera) -> tuple[asyncio.Task[Any], dict]:  # type: ignore[type-arg]
    """Start play for a camera that sends nothing; return the pending request and the session."""
    task = asyncio.create_task(api.post(f"/api/channels/{cam.pk}/play", json={}))
    found: dict[str, Any] = {}

    async def starting() -> bool:
        for s in (await streams(api))["items"]:
            if s["channel_pk"] == cam.pk and s["remote"]:
                found.update(s)
                return True
        return False

    await eventually(starting, 5)
    return task, found


def rtp(frames: int, ssrc: int, seq: int = 0) -> list[bytes]:
    return ps_rtp(clip("h264", frames=frames), ssrc=ssrc, seq=seq)


def rtp_payload_mutate(packets: list[bytes], fn: Any) -> list[bytes]:
    return [p[:12] + fn(p[12:]) for p in packets]


@pytest.fixture
async def setup(make_node: NodeFactory) -> Any:
    node, api = await live_node(make_node)
    good, bad = await add_cameras(node, api, [1, 2], faults=None)
    bad.device.config.faults.add("no_media")
    yield node, api, good, bad
    await good.fleet.stop()
    await bad.fleet.stop()


async def test_ssrc_mismatch_is_the_recorded_reason(make_node: NodeFactory) -> None:
    node, api = await live_node(make_node)
    (cam,) = await add_cameras(node, api, [1], faults={"wrong_ssrc"})
    try:
        r = await api.post(f"/api/channels/{cam.pk}/play", json={})
        assert r.status_code == 502, r.text
        body = r.json()
        assert body["reason"] == "ssrc_mismatch"
        assert "SSRC 0200000002, expected 0200000001" in body["detail"]
        (ended,) = (await streams(api))["ended"]
        assert ended["wrong_ssrc"] > 10 and ended["packets"] == 0
        await eventually(lambda: cam.byes() == 1, 5)
    finally:
        await cam.fleet.stop()


async def test_decode_failure_is_the_recorded_reason(setup: Any) -> None:
    _, api, _, bad = setup
    task, s = await victim_session(api, bad)
    ssrc = int(s["ssrc"])
    attacker = Attacker(s["port"])
    rng = random.Random(7)
    try:
        # valid RTP headers with the right SSRC, payloads that are no known format
        async def noise() -> None:
            for i in itertools.count():
                header = struct.pack("!BBHII", 0x80, 96, i & 0xFFFF, i * 3600, ssrc)
                await attacker.send([header + rng.randbytes(rng.randint(1, 1400))], per_tick=1)

        sender = asyncio.create_task(noise())  # keeps arriving until the node gives up
        r = await task
        sender.cancel()
        assert r.status_code == 502, r.text
        assert r.json()["reason"] == "decode_failure"
        assert "while RTP kept arriving" in r.json()["detail"]
    finally:
        attacker.close()


async def test_wrong_source_is_the_recorded_reason(setup: Any) -> None:
    _, api, _, bad = setup
    task, s = await victim_session(api, bad)
    attacker = Attacker(s["port"], source="127.0.0.2")  # the right stream, the wrong sender
    packets = rtp(100, int(s["ssrc"]))

    async def keep_sending() -> None:
        while True:
            await attacker.send(packets)

    try:
        sender = asyncio.create_task(keep_sending())  # until the node gives up
        r = await task
        sender.cancel()
        assert r.status_code == 502 and r.json()["reason"] == "wrong_source"
        assert "127.0.0.2" in r.json()["detail"]
    finally:
        attacker.close()


async def test_stream_stopping_mid_frame_ends_with_no_packets(setup: Any) -> None:
    node, api, _, bad = setup
    task, s = await victim_session(api, bad)
    attacker = Attacker(s["port"])
    try:
        packets = rtp(30, int(s["ssrc"]))
        frames_26 = len(rtp(26, int(s["ssrc"])))
        await attacker.send(packets[: frames_26 + 3])  # keyframe 25 arrives, frame 26 is cut
        r = await task
        assert r.status_code == 200, r.text  # the first keyframe made it
        reader = await WsReader(r.json()["ws_url"]).start()
        await eventually(lambda: reader.ended is not None, 8)
        assert reader.ended["reason"] == "no_packets"  # type: ignore[index]
        assert "RTP stopped" in reader.ended["detail"]  # type: ignore[index]
        await eventually(lambda: bad.byes() == 1, 5)
        assert node.live.ports.in_use == 0 or all(
            x["channel_pk"] != bad.pk for x in (await streams(api))["items"]
        )
    finally:
        attacker.close()


async def test_hostile_barrage_leaves_other_streams_untouched(setup: Any) -> None:
    _, api, good, bad = setup
    p = await play(api, good.pk)
    viewer = await WsReader(p["ws_url"]).start()
    await viewer.wait_frames(10)
    task, s = await victim_session(api, bad)
    ssrc = int(s["ssrc"])
    rng = random.Random(1)
    attacker = Attacker(s["port"])
    try:
        before = viewer.frames()
        garbage = [rng.randbytes(rng.randint(0, 1500)) for _ in range(500)]
        wrong = rtp(50, ssrc + 17)
        truncated = rtp_payload_mutate(rtp(50, ssrc, seq=1000), lambda b: b[: len(b) // 3])

        def absurd(b: bytes) -> bytes:
            i = b.find(b"\x00\x00\x01\xe0")
            if i < 0 or i + 6 > len(b):
                return b
            return b[: i + 4] + b"\xff\xff" + b[i + 6 :]

        huge_pes = rtp_payload_mutate(rtp(50, ssrc, seq=3000), absurd)
        tiny = [b"", b"\x80", struct.pack("!BBHII", 0x80, 96, 1, 1, ssrc)]  # headers only
        bad_version = [b"\x40" + p[1:] for p in rtp(5, ssrc, seq=5000)]
        padded = [bytes([p[0] | 0x20]) + p[1:-1] + b"\xff" for p in rtp(5, ssrc, seq=6000)]
        for batch in (garbage, wrong, truncated, huge_pes, tiny, bad_version, padded):
            await attacker.send(batch)
        # a TCP client speaking nonsense to the node's RTP range is harmless too
        r = await task
        assert r.status_code in (200, 502), r.text
        await viewer.wait_frames(before + 50, 15)
        info = await streams(api)
        good_s = next(x for x in info["items"] if x["channel_pk"] == good.pk)
        assert good_s["lost"] == 0 and good_s["wrong_ssrc"] == 0 and good_s["malformed"] == 0
        assert (await api.get("/api/health")).status_code == 200
        # the victim is counted, not crashed: either ended with a reason or still live
        victim = [x for x in info["items"] if x["channel_pk"] == bad.pk]
        ended = [x for x in info["ended"] if x["channel_pk"] == bad.pk]
        if victim:
            assert victim[0]["malformed"] > 0 and victim[0]["wrong_ssrc"] >= 50
        else:
            assert ended and ended[0]["end_reason"] in ("decode_failure", "no_packets")
    finally:
        attacker.close()
        await viewer.close()


async def test_tcp_framing_garbage_closes_only_that_connection(make_node: NodeFactory) -> None:
    node, api = await live_node(make_node)
    good, bad = await add_cameras(node, api, [1, 2], transport="tcp-passive")
    bad.device.config.faults.add("no_media")
    try:
        p = await play(api, good.pk)
        viewer = await WsReader(p["ws_url"]).start()
        await viewer.wait_frames(10)
        task, s = await victim_session(api, bad)
        reader, writer = await asyncio.open_connection("127.0.0.1", s["port"])
        writer.write(b"\x00\x00" + b"junk" * 100)  # RFC 4571 length 0: framing is lost
        await writer.drain()
        assert await asyncio.wait_for(reader.read(), 5) == b""  # the node hung up
        writer.close()
        r = await task
        assert r.status_code == 502 and r.json()["reason"] == "no_packets"
        assert "framing lost" in r.json()["detail"]
        before = viewer.frames()
        await viewer.wait_frames(before + 10)
        await viewer.close()
    finally:
        await good.fleet.stop()
        await bad.fleet.stop()
