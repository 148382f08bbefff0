"""Stream hub: GOP cache, shared fMP4 writer for many viewers, lazy HLS (decoded with PyAV)."""

from __future__ import annotations

import io
from dataclasses import replace

import av
import pytest

from sharpeyes.media.es import EsFrame, iter_nals
from sharpeyes.media.hub import StreamHub
from tests.media_fixtures import clip, es_frames


class Sink:
    """A consumer that keeps what it is sent, like a viewer's queue."""

    def __init__(self) -> None:
        self.infos: list[dict[str, object]] = []
        self.parts: list[bytes] = []
        self.keyflags: list[bool] = []

    def send_init(self, info: dict[str, object], init: bytes) -> None:
        self.infos.append(info)
        self.parts.append(init)

    def send_media(self, data: bytes, keyframe: bool) -> None:
        self.parts.append(data)
        self.keyflags.append(keyframe)

    def decoded(self) -> int:
        with av.open(io.BytesIO(b"".join(self.parts)), format="mp4") as c:
            return sum(1 for _ in c.decode(video=0))


def frames(codec: str = "h264", n: int = 50, **kw: int) -> list[EsFrame]:
    return es_frames(clip(codec, frames=n, **kw), codec)


def test_frames_before_the_first_keyframe_are_skipped_and_ready_fires_once() -> None:
    fs = frames()
    ready: list[StreamHub] = []
    hub = StreamHub(on_ready=ready.append)
    for f in fs[10:30]:  # starts mid-GOP (keyframes at 0 and 25)
        hub.push(f)
    assert hub.skipped == 15 and hub.ready and len(ready) == 1
    assert (hub.codec, hub.width, hub.height) == ("h264", 320, 240)
    assert hub.mime_codec and hub.mime_codec.startswith("avc1.")
    assert hub.gop_frames == 5
    for f in fs[30:]:
        hub.push(f)
    assert len(ready) == 1 and hub.keyframes == 1
    with pytest.raises(LookupError):
        StreamHub().attach(Sink())


@pytest.mark.parametrize("codec", ["h264", "h265"])
def test_viewer_joining_mid_gop_starts_at_the_cached_keyframe(codec: str) -> None:
    fs = frames(codec)
    hub = StreamHub()
    for f in fs[:35]:
        hub.push(f)
    assert not hub.remuxing  # nobody watches: no fMP4 work
    early = Sink()
    hub.attach(early)
    assert hub.remuxing
    assert early.infos[0]["codec"] == codec
    # the cached keyframe alone (a picture at once), then the rest of the cached GOP
    assert early.keyflags == [True, False]
    with av.open(io.BytesIO(early.parts[0] + early.parts[1]), format="mp4") as c:
        assert len(list(c.decode(video=0))) == 1
    late = Sink()
    for f in fs[35:40]:
        hub.push(f)
    hub.attach(late)
    for f in fs[40:]:
        hub.push(f)
    # early: frames 25..49 (GOP from the keyframe at 25); late joined later, same start
    assert early.decoded() == 25
    assert late.decoded() == 25
    # after joining, both receive the very same fragment bytes (one remux for all)
    assert early.parts[-10:] == late.parts[-10:]
    hub.detach(early)
    assert hub.remuxing
    hub.detach(late)
    assert not hub.remuxing and hub.consumers == 0
    hub.detach(late)  # idempotent


def test_resolution_change_sends_a_new_init_segment() -> None:
    small = frames(n=25)
    big = es_frames(clip("h264", frames=25, width=352, height=288, seed=3), "h264")
    offset = small[-1].pts + 3600  # type: ignore[operator]
    big = [replace(f, pts=f.pts + offset, dts=f.dts + offset) for f in big]  # type: ignore[operator]
    hub = StreamHub()
    sink = Sink()
    hub.push(small[0])
    hub.attach(sink)
    for f in small[1:] + big:
        hub.push(f)
    assert [(i["width"], i["height"]) for i in sink.infos] == [(320, 240), (352, 288)]
    assert (hub.width, hub.height) == (352, 288)


def test_gop_cache_is_bounded() -> None:
    fs = frames()
    hub = StreamHub(gop_max_frames=10)
    watching = Sink()
    hub.push(fs[0])
    hub.attach(watching)
    for f in fs[1:20]:
        hub.push(f)
    assert hub.gop_overflows == 1 and hub.gop_frames == 0
    late = Sink()
    hub.attach(late)  # nothing cached: init only, then from the next keyframe
    assert len(late.parts) == 1
    for f in fs[20:]:
        hub.push(f)
    assert watching.decoded() == 50  # the attached viewer never lost a frame
    assert late.keyflags[0] is True  # its first fragment is the next keyframe
    assert late.decoded() == 25


def test_non_fmp4_codecs_and_audio() -> None:
    hub = StreamHub()
    hub.push(EsFrame("video", "mpeg4", 0, 0, b"\x00\x00\x01\xb0\x01", True))
    assert not hub.ready and hub.error and "mpeg4" in hub.error
    hub.push(EsFrame("audio", "pcma", 0, 0, b"\xd5" * 320, True))
    assert hub.audio_frames == 1 and hub.audio_codec == "pcma"
    # a "keyframe" without parameter sets is not usable either
    kf = frames(n=1)[0]
    bare = b"".join(b"\x00\x00\x00\x01" + bytes(n) for n in iter_nals(kf.data) if n[0] == 0x65)
    hub.push(EsFrame("video", "h264", 0, 0, bare, True))
    assert not hub.ready and hub.bad_keyframes == 2


def test_hls_is_created_on_demand_from_the_gop_cache() -> None:
    fs = frames(n=100)
    hub = StreamHub(hls_segment_s=1.0)
    assert hub.hls() is None
    for f in fs[:30]:
        hub.push(f)
    hls = hub.hls()
    assert hls is not None and hub.hls_active and hub.hls() is hls
    for f in fs[30:]:
        hub.push(f)
    segs = hls.segments
    assert len(segs) == 2 and all(s.duration == pytest.approx(1.0) for s in segs)
    assert "#EXT-X-MAP" in hls.playlist()
    hub.drop_hls()
    assert not hub.hls_active


async def test_viewer_queue_batches_media_keeps_keyframes_apart_and_skips_when_slow() -> None:
    from sharpeyes.live.viewer import WsViewer

    v = WsViewer(max_bytes=1000)
    v.send_init({"codec": "h264"}, b"INIT")
    v.send_media(b"K1", True)
    v.send_media(b"p1", False)
    v.send_media(b"p2", False)
    batch = await v.next_batch()
    assert batch[0][0] == "text" and batch[1:] == [
        ("binary", b"INIT"),
        ("binary", b"K1"),
        ("binary", b"p1p2"),
    ]
    v.send_media(b"x" * 900, False)
    v.send_media(b"y" * 200, False)  # over the limit: queued media dropped, wait for a key
    v.send_media(b"p", False)
    assert v.dropped == 3
    v.send_media(b"K2", True)
    assert await v.next_batch() == [("binary", b"K2")]
    v.end("idle", "bye")
    assert await v.next_batch() == [] and v.ended == ("idle", "bye")


def test_single_frame_fragment_fast_path_is_byte_identical() -> None:
    from sharpeyes.media.fmp4 import NON_SYNC_SAMPLE_FLAGS, SYNC_SAMPLE_FLAGS, Fmp4Writer

    fs = frames(n=3)
    w = Fmp4Writer.from_keyframe("h264", fs[0].data)
    for seq, base, flag in [(1, 0, SYNC_SAMPLE_FLAGS), (7, 123456789012, NON_SYNC_SAMPLE_FLAGS)]:
        w._seq = seq
        args = (base, [b"\x00\x00\x00\x02ab"], [6], [3600], [flag], [0])
        assert w._moof_mdat(*args) == w._moof_mdat_generic(*args)
