"""Sound in the browser: a G.711 camera's audio reaches an fMP4 viewer as AAC."""

from __future__ import annotations

import io
import itertools
import struct
import time

import av
import pytest

from sharpeyes.sim.media import SimMediaConfig

from .conftest import NodeFactory
from .devices_helpers import eventually
from .live_helpers import WsReader, camera, live_node, play

pytestmark = pytest.mark.db


def _audio_frames(data: bytes) -> tuple[str, int, list[av.AudioFrame]]:
    with av.open(io.BytesIO(data), format="mp4") as c:
        stream = c.streams.audio[0]
        return stream.codec_context.name, stream.codec_context.sample_rate, list(c.decode(audio=0))


async def test_g711_camera_sound_on_carries_aac_that_decodes(make_node: NodeFactory) -> None:
    node, api = await live_node(make_node)
    cam = await camera(node, api, media=SimMediaConfig(audio=True))
    try:
        p = await play(api, cam.pk)
        muted = await WsReader(p["ws_url"]).start()
        await muted.wait_frames(5, 20)
        (session,) = node.live.sessions.values()
        hub = session.hub
        assert hub.audio_codec == "pcma" and not hub.audio_active  # nobody listens: no work
        assert muted.texts[0]["audio"] is False

        loud = await WsReader(p["ws_url"] + "&audio=1").start()
        await loud.wait_frames(5, 20)
        assert hub.audio_active and hub.audio_transcoding
        init = loud.texts[0]
        assert init["audio"] is True and init["mime"].endswith(',mp4a.40.2"')

        async def enough_audio() -> bool:
            try:
                return len(_audio_frames(b"".join(loud.binaries))[2]) >= 20
            except (av.FFmpegError, IndexError):
                return False

        await eventually(enough_audio, 20)
        name, rate, frames = _audio_frames(b"".join(loud.binaries))
        assert name == "aac" and rate == 16000
        assert sum(f.samples for f in frames) >= 20 * 1024
        # a 1 kHz-ish tone, not silence: the transcoder carried the signal
        samples = [
            x
            for f in frames[5:10]
            for (x,) in struct.iter_unpack("<f", bytes(f.planes[0])[: f.samples * 4])
        ]
        assert max(abs(x) for x in samples) > 0.1
        # the video in the same file still decodes
        assert len(loud.decode()) >= 5
        # the muted viewer's file has no audio track at all
        with av.open(io.BytesIO(b"".join(muted.binaries)), format="mp4") as c:
            assert not c.streams.audio

        await loud.close()
        await eventually(lambda: not hub.audio_active, 10)  # transcoding stops with the last
        assert hub.consumers == 1
        await muted.close()
    finally:
        await cam.fleet.stop()
        await api.aclose()


async def test_talk_sends_browser_pcm_as_g711_rtp_to_the_device(make_node: NodeFactory) -> None:
    import math

    import websockets

    from .devices_helpers import fleet_for, ipc
    from .test_messages import BusTap, _online

    node, api = await live_node(make_node)
    fleet = fleet_for(node)
    try:
        dev = fleet.add(ipc(81))
        mute = fleet.add(ipc(82, talk=False))
        await fleet.start()
        assert await dev.register() == 200 and await mute.register() == 200
        (ch,) = await _online(api, dev, 1)
        (mute_ch,) = await _online(api, mute, 1)
        async with BusTap(node).open() as tap:
            r = await api.post(f"/api/channels/{ch['id']}/talk")
            assert r.status_code == 200, r.text
            t = r.json()
            assert t["codec"] == "PCMA" and t["sample_rate"] == 8000
            assert tap.audits("device.talk", target_id=ch["channel_id"])
        (talk,) = dev.state.talks.values()
        tone = b"".join(
            struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / 8000)))
            for i in range(8000)
        )
        async with websockets.connect(t["ws_url"]) as ws:
            for k in range(0, len(tone), 640):  # 40 ms chunks as a browser would send
                await ws.send(tone[k : k + 640])
            await eventually(lambda: len(talk.packets) >= 50, 10)
        assert {pt for pt, _, _ in talk.packets} == {8}
        seqs = [s for _, s, _ in talk.packets]
        assert all((b - a) & 0xFFFF == 1 for a, b in itertools.pairwise(seqs))
        assert all(len(p) == 160 for _, _, p in talk.packets)
        dec = av.CodecContext.create("pcm_alaw", "r")
        dec.sample_rate = 8000  # type: ignore[attr-defined]
        dec.layout = "mono"  # type: ignore[attr-defined]
        pcm = b"".join(bytes(f.planes[0]) for f in dec.decode(av.Packet(talk.packets[10][2])))
        loudest = max(abs(v) for (v,) in struct.iter_unpack("<h", pcm[:320]))
        assert 6000 < loudest < 9000  # the tone, through A-law and back
        await eventually(lambda: talk.ended, 10)  # closing the socket hangs up (BYE)
        assert not node.talk.sessions

        # a device without a speaker refuses: a clear 502, nothing left open
        r = await api.post(f"/api/channels/{mute_ch['id']}/talk")
        assert r.status_code == 502 and "talk" in r.json()["detail"]
        assert not node.talk.sessions
        # a bad token is refused before the upgrade
        with pytest.raises(websockets.InvalidStatus):
            await websockets.connect(t["ws_url"].split("?")[0] + "?token=x")
    finally:
        await fleet.stop()
        await api.aclose()


async def test_voice_broadcast_device_invites_us_and_gets_g711(make_node: NodeFactory) -> None:
    """9.12: Notify Broadcast; the device INVITEs the platform; our audio reaches it."""
    import websockets

    from .devices_helpers import fleet_for, ipc
    from .test_messages import BusTap, _online

    node, api = await live_node(make_node)
    fleet = fleet_for(node)
    try:
        dev = fleet.add(ipc(83))
        mute = fleet.add(ipc(84, talk=False))
        await fleet.start()
        assert await dev.register() == 200 and await mute.register() == 200
        (ch,) = await _online(api, dev, 1)
        (mute_ch,) = await _online(api, mute, 1)
        async with BusTap(node).open() as tap:
            r = await api.post(f"/api/channels/{ch['id']}/broadcast")
            assert r.status_code == 200, r.text
            t = r.json()
            assert tap.audits("device.talk", mode="broadcast")
        assert ("MESSAGE", "Broadcast") in dev.received
        (talk,) = dev.state.talks.values()
        async with websockets.connect(t["ws_url"]) as ws:
            await ws.send(struct.pack("<h", 3000) * 1600)  # 200 ms
            await eventually(lambda: len(talk.packets) >= 10, 10)
        assert {pt for pt, _, _ in talk.packets} == {8}
        await eventually(lambda: talk.ended, 10)  # we hung up: BYE in the device's dialog
        assert not node.talk.sessions

        # a device without audio output answers Result ERROR: a 502 at once, not a 504
        # after media.invite_timeout_s
        t0 = time.monotonic()
        r = await api.post(f"/api/channels/{mute_ch['id']}/broadcast")
        assert r.status_code == 502 and "refused" in r.json()["detail"], r.text
        assert time.monotonic() - t0 < node.settings.media.invite_timeout_s / 2
        assert not node.talk._awaiting
    finally:
        await fleet.stop()
        await api.aclose()
