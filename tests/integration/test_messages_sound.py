"""Sound in the browser: a G.711 camera's audio reaches an fMP4 viewer as AAC."""

from __future__ import annotations

import io
import struct

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
