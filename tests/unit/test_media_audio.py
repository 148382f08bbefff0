"""AAC track writing, ADTS pass-through and G.711 transcoding (media/audio.py)."""

from __future__ import annotations

import contextlib
import io
import itertools
import struct
from fractions import Fraction

import av
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sharpeyes.media.audio import (
    AacTrack,
    AudioError,
    AudioPipe,
    asc_info,
    av_init_segment,
    split_adts,
)
from sharpeyes.media.es import EsFrame
from sharpeyes.media.fmp4 import Fmp4Writer
from sharpeyes.media.hub import StreamHub
from sharpeyes.media.testvideo import generate_g711a, generate_h264


def _adts_frames(n: int = 40) -> list[bytes]:
    """Real ADTS from ffmpeg's encoder (44.1 kHz stereo), one frame per item."""
    out = io.BytesIO()
    with av.open(out, "w", format="adts") as c:
        s = c.add_stream("aac", rate=44100, layout="stereo")
        s.time_base = Fraction(1, 44100)
        for i in range(n):
            frame = av.AudioFrame(format="fltp", layout="stereo", samples=1024)
            for p in frame.planes:
                p.update(
                    struct.pack(
                        "<1024f", *([0.2 if (i + k) % 40 < 20 else -0.2 for k in range(1024)])
                    )
                )
            frame.sample_rate = 44100
            frame.pts = i * 1024
            for pkt in s.encode(frame):
                c.mux(pkt)
        for pkt in s.encode(None):
            c.mux(pkt)
    data = out.getvalue()
    frames, pos = [], 0
    while pos < len(data):
        length = ((data[pos + 3] & 3) << 11) | (data[pos + 4] << 3) | (data[pos + 5] >> 5)
        frames.append(data[pos : pos + length])
        pos += length
    return frames


def _video_writer() -> tuple[Fmp4Writer, list[EsFrame]]:
    frames = [
        EsFrame("video", "h264", f.pts, f.pts, f.data, f.keyframe) for f in generate_h264(frames=25)
    ]
    return Fmp4Writer.from_keyframe("h264", frames[0].data), frames


def test_adts_passes_through_into_an_fmp4_that_ffmpeg_decodes() -> None:
    adts = _adts_frames()
    asc, _raw = split_adts(adts[0])[0]
    assert asc_info(asc) == (44100, 2)
    writer, video = _video_writer()
    pipe = AudioPipe("aac", lambda: writer.origin)
    body = writer.fragment(video[:1], end_dts=video[1].pts)
    audio = b"".join(
        pipe.push(EsFrame("audio", "aac", i * 2090, i * 2090, a, True)) for i, a in enumerate(adts)
    )
    assert pipe.track is not None and pipe.track.mime_codec == "mp4a.40.2"
    data = av_init_segment(writer.init_segment(), pipe.track) + body + audio
    with av.open(io.BytesIO(data), format="mp4") as c:
        assert c.streams.audio[0].codec_context.name == "aac"
        assert c.streams.audio[0].codec_context.sample_rate == 44100
        got = list(c.decode(audio=0))
    assert len(got) >= len(adts) - 2
    with av.open(io.BytesIO(data), format="mp4") as c:
        assert len(list(c.decode(video=0))) == 1


def test_g711_transcodes_to_aac_frames_on_a_continuous_timeline() -> None:
    pipe = AudioPipe("pcmu", lambda: 0)
    track_times = []
    for f in generate_g711a(3000):
        if pipe.push(EsFrame("audio", "pcmu", f.pts, f.pts, f.data, True)):
            assert pipe.track is not None
            track_times.append(pipe.track.next_time)
    assert pipe.transcoding and pipe.frames_out >= 40
    assert all(b > a for a, b in itertools.pairwise(track_times))


def test_hub_transcodes_only_while_a_viewer_has_sound_on() -> None:
    class Sink:
        def __init__(self) -> None:
            self.inits: list[tuple[dict[str, object], bytes]] = []
            self.media: list[bytes] = []

        def send_init(self, info: dict[str, object], init: bytes) -> None:
            self.inits.append((info, init))

        def send_media(self, data: bytes, keyframe: bool) -> None:
            self.media.append(data)

    hub = StreamHub()
    video = [
        EsFrame("video", "h264", f.pts, f.pts, f.data, f.keyframe) for f in generate_h264(frames=50)
    ]
    tone = generate_g711a(2000)
    for v, a in zip(video[:10], tone, strict=False):
        hub.push(v)
        hub.push(EsFrame("audio", "pcma", a.pts, a.pts, a.data, True))
    quiet, loud = Sink(), Sink()
    hub.attach(quiet)
    assert not hub.audio_active
    hub.attach(loud, audio=True)
    assert hub.audio_active and loud.inits[0][0]["audio"] is True
    assert b"mp4a" in loud.inits[0][1] and b"mp4a" not in quiet.inits[0][1]
    for v, a in zip(video[10:], tone[10:], strict=False):
        hub.push(v)
        hub.push(EsFrame("audio", "pcma", a.pts, a.pts, a.data, True))
    assert len(loud.media) > len(quiet.media)  # audio fragments only to the listener
    hub.detach(loud)
    assert not hub.audio_active


@given(st.binary(max_size=64))
def test_split_adts_rejects_garbage_with_audio_error_only(data: bytes) -> None:
    with contextlib.suppress(AudioError):
        split_adts(data)


def test_av_init_segment_refuses_a_broken_init() -> None:
    track = AacTrack(b"\x14\x08")
    with pytest.raises(AudioError):
        av_init_segment(b"\x00\x00\x00\x02junk", track)
