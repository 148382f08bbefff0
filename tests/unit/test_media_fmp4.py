"""fMP4 writer and fMP4 HLS, checked by decoding with PyAV and probing with ffprobe."""

from __future__ import annotations

import struct
from pathlib import Path

import av
import pytest

from sharpeyes.media.es import EsFrame
from sharpeyes.media.fmp4 import (
    NON_SYNC_SAMPLE_FLAGS,
    SYNC_SAMPLE_FLAGS,
    Fmp4Error,
    Fmp4Writer,
)
from sharpeyes.media.hls import HlsWriter
from tests.media_fixtures import clip, es_frames, ffprobe_streams, needs_ffmpeg

CODECS = ["h264", "h265"]


def boxes(data: bytes, start: int = 0, end: int | None = None) -> list[tuple[bytes, int, int]]:
    """Top-level (type, offset, size) list of an ISO BMFF byte range."""
    end = len(data) if end is None else end
    out = []
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        assert size >= 8, "bad box size"
        out.append((kind, pos, size))
        pos += size
    assert pos == end, "boxes do not tile the range"
    return out


def find_box(data: bytes, path: list[bytes]) -> tuple[int, int]:
    start, end = 0, len(data)
    for kind in path:
        for k, off, size in boxes(data, start, end):
            if k == kind:
                start, end = off + 8, off + size
                break
        else:
            raise KeyError(kind)
    return start, end


def decode_count(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


@pytest.mark.parametrize("codec", CODECS)
def test_fragments_decode_with_pyav(codec: str, tmp_path: Path) -> None:
    frames = es_frames(clip(codec), codec)
    w = Fmp4Writer.from_keyframe(codec, frames[0].data)
    assert (w.width, w.height) == (320, 240)
    parts = [w.init_segment()]
    # Mixed fragment sizes: single frames and a whole GOP at once.
    parts += [w.fragment([f]) for f in frames[:10]]
    parts.append(w.fragment(frames[10:25]))
    parts += [w.fragment(frames[k : k + 5]) for k in range(25, 50, 5)]
    path = tmp_path / f"live.{codec}.mp4"
    path.write_bytes(b"".join(parts))
    assert decode_count(path) == 50
    assert w.decode_time == 50 * 3600


@needs_ffmpeg
@pytest.mark.parametrize("codec", CODECS)
def test_ffprobe_accepts_fmp4(codec: str, tmp_path: Path) -> None:
    frames = es_frames(clip(codec), codec)
    w = Fmp4Writer.from_keyframe(codec, frames[0].data)
    path = tmp_path / "out.mp4"
    path.write_bytes(w.init_segment() + b"".join(w.fragment([f]) for f in frames))
    (stream,) = ffprobe_streams(path)
    assert stream["codec_name"] == {"h264": "h264", "h265": "hevc"}[codec]
    assert stream["codec_tag_string"] == {"h264": "avc1", "h265": "hvc1"}[codec]
    assert int(stream["nb_read_frames"]) == 50  # type: ignore[call-overload]
    assert stream["r_frame_rate"] == "25/1"


def test_init_segment_structure() -> None:
    frames = es_frames(clip("h264"), "h264")
    w = Fmp4Writer.from_keyframe("h264", frames[0].data)
    init = w.init_segment()
    assert [k for k, _, _ in boxes(init)] == [b"ftyp", b"moov"]
    s, _ = find_box(init, [b"moov", b"mvex", b"trex"])
    assert struct.unpack(">I", init[s + 4 : s + 8])[0] == 1  # track_ID
    s, _ = find_box(init, [b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stsd"])
    assert init[s + 12 : s + 16] == b"avc1"
    avcc = init.index(b"avcC")
    assert init[avcc + 4] == 1 and init[avcc + 5] == w.info.profile_idc
    assert w.mime_codec == f"avc1.{w.info.profile_idc:02x}00{w.info.level_idc:02x}"


def test_fragment_fields() -> None:
    frames = es_frames(clip("h264"), "h264")
    w = Fmp4Writer.from_keyframe("h264", frames[0].data)
    w.init_segment()
    frag = w.fragment(frames[:3])
    (moof_k, _, moof_size), (mdat_k, mdat_off, mdat_size) = boxes(frag)
    assert (moof_k, mdat_k) == (b"moof", b"mdat")
    s, _ = find_box(frag, [b"moof", b"traf", b"tfdt"])
    assert frag[s] == 1 and struct.unpack(">Q", frag[s + 4 : s + 12])[0] == 0
    s, _ = find_box(frag, [b"moof", b"traf", b"trun"])
    count, data_offset = struct.unpack(">Ii", frag[s + 4 : s + 12])
    assert count == 3 and data_offset == moof_size + 8
    entries = [struct.unpack(">III", frag[s + 12 + 12 * i : s + 24 + 12 * i]) for i in range(3)]
    assert [d for d, _, _ in entries] == [3600, 3600, 3600]
    assert [f for _, _, f in entries] == [
        SYNC_SAMPLE_FLAGS,
        NON_SYNC_SAMPLE_FLAGS,
        NON_SYNC_SAMPLE_FLAGS,
    ]
    assert sum(sz for _, sz, _ in entries) == mdat_size - 8
    # Samples are AVCC: 4-byte lengths that tile each sample exactly, no SPS/PPS/AUD.
    pos = mdat_off + 8
    for _, size, _ in entries:
        end = pos + size
        while pos < end:
            (n,) = struct.unpack(">I", frag[pos : pos + 4])
            assert frag[pos + 4] & 0x1F not in (7, 8, 9)
            pos += 4 + n
        assert pos == end
    # Second fragment continues the decode timeline.
    frag2 = w.fragment(frames[3:4])
    s, _ = find_box(frag2, [b"moof", b"traf", b"tfdt"])
    assert struct.unpack(">Q", frag2[s + 4 : s + 12])[0] == 3 * 3600


def test_timestamp_jump_keeps_timeline_continuous() -> None:
    frames = es_frames(clip("h264"), "h264")
    w = Fmp4Writer.from_keyframe("h264", frames[0].data)
    w.fragment(frames[:5])
    jumped = [
        EsFrame("video", "h264", f.pts + 10**9, f.pts + 10**9, f.data, f.keyframe)
        for f in frames[5:10]
    ]  # type: ignore[operator]
    w.fragment(jumped)
    assert w.decode_time == 10 * 3600


def test_codec_strings() -> None:
    w = Fmp4Writer.from_keyframe("h265", clip("h265")[0].data)
    assert w.mime_codec.startswith("hvc1.1.6.L") and w.mime_type.startswith(
        'video/mp4; codecs="hvc1'
    )
    with pytest.raises(Fmp4Error):
        Fmp4Writer.from_keyframe("h264", clip("h264")[1].data)  # P-frame: no SPS/PPS
    with pytest.raises(Fmp4Error):
        Fmp4Writer("h264", sps=b"\x67\x64", pps=b"\x68")


# --- HLS ---------------------------------------------------------------------------------


@needs_ffmpeg
@pytest.mark.parametrize("codec", CODECS)
def test_hls_playlist_and_segments_accepted_by_ffprobe(codec: str, tmp_path: Path) -> None:
    frames = es_frames(clip(codec), codec)
    hls = HlsWriter(
        Fmp4Writer.from_keyframe(codec, frames[0].data), window=10, segment_duration=1.0
    )
    for f in frames:
        hls.push(f)
    hls.finish()
    (tmp_path / "init.mp4").write_bytes(hls.init_segment())
    for seg in hls.segments:
        (tmp_path / hls.segment_uri(seg.sequence)).write_bytes(hls.segment(seg.sequence))
    playlist = hls.playlist()
    (tmp_path / "index.m3u8").write_text(playlist)
    lines = playlist.splitlines()
    assert lines[:2] == ["#EXTM3U", "#EXT-X-VERSION:7"]
    assert '#EXT-X-MAP:URI="init.mp4"' in lines
    assert "#EXT-X-TARGETDURATION:1" in lines and lines[-1] == "#EXT-X-ENDLIST"
    assert [ln for ln in lines if ln.startswith("#EXTINF")] == ["#EXTINF:1.000,"] * 2
    streams = ffprobe_streams(tmp_path / "index.m3u8")
    assert streams and all(int(s["nb_read_frames"]) == 50 for s in streams)  # type: ignore[call-overload]


def test_hls_sliding_window_gop_aligned() -> None:
    frames = es_frames(clip("h264", frames=200, gop=25), "h264")
    hls = HlsWriter(
        Fmp4Writer.from_keyframe("h264", frames[0].data), window=3, segment_duration=2.0
    )
    closed = [s for f in frames if (s := hls.push(f)) is not None]
    # 200 frames at 25 fps, keyframe every second, ≥2 s per segment: 3 closed, 1 open.
    assert [s.sequence for s in closed] == [0, 1, 2]
    assert all(abs(s.duration - 2.0) < 1e-9 for s in closed)
    hls.finish()
    assert [s.sequence for s in hls.segments] == [1, 2, 3]
    text = hls.playlist()
    assert "#EXT-X-MEDIA-SEQUENCE:1" in text and "#EXT-X-TARGETDURATION:2" in text
    with pytest.raises(KeyError):
        hls.segment(0)
    assert hls.segment(3)[4:8] == b"moof"


def test_hls_drops_frames_before_first_keyframe() -> None:
    frames = es_frames(clip("h264"), "h264")
    hls = HlsWriter(Fmp4Writer.from_keyframe("h264", frames[0].data), segment_duration=0.5)
    for f in frames[1:]:  # starts with P-frames until the keyframe at 25
        hls.push(f)
    hls.finish()
    assert len(hls.segments) == 1
    assert abs(hls.segments[0].duration - 1.0) < 1e-9
