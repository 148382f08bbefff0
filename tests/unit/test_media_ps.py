"""PS muxer/demuxer against real H.264/H.265 and FFmpeg as the independent oracle."""

from __future__ import annotations

import itertools
import struct
from pathlib import Path

import pytest

from sharpeyes.media.detect import PayloadDepacketizer
from sharpeyes.media.es import EsFrame
from sharpeyes.media.ps import PsDemuxer, parse_pes_header, parse_psm
from sharpeyes.media.psmux import (
    PsMuxer,
    mpeg_crc32,
    pack_header,
    packetize_rtp,
    pes_packets,
    program_stream_map,
)
from sharpeyes.media.rtp import RtpReceiver, parse_rtp
from sharpeyes.media.testvideo import generate_g711a
from tests.media_fixtures import (
    clip,
    ffmpeg,
    ffprobe_streams,
    needs_ffmpeg,
    ps_packs,
    ps_rtp,
    shuffle_within,
)

CODECS = ["h264", "h265"]


def demux_all(data: bytes, chunk: int = 1400) -> tuple[list[EsFrame], PsDemuxer]:
    d = PsDemuxer()
    out: list[EsFrame] = []
    for i in range(0, len(data), chunk):
        out += d.feed(data[i : i + chunk])
    return out + d.flush(), d


# --- muxer structure ---------------------------------------------------------------------


def test_keyframe_pack_layout_and_psm() -> None:
    frames = clip("h264")
    mux = PsMuxer("h264", "pcma")
    key = mux.mux_video(frames[0].data, frames[0].pts, True)
    inter = mux.mux_video(frames[1].data, frames[1].pts, False)
    # pack header (MPEG-2, 14 bytes) then system header then PSM, then PES
    assert key[:4] == b"\x00\x00\x01\xba" and key[4] & 0xC0 == 0x40
    assert key[14:18] == b"\x00\x00\x01\xbb"
    sys_len = struct.unpack(">H", key[18:20])[0]
    psm_at = 20 + sys_len
    assert key[psm_at : psm_at + 4] == b"\x00\x00\x01\xbc"
    psm_len = struct.unpack(">H", key[psm_at + 4 : psm_at + 6])[0]
    psm = key[psm_at : psm_at + 6 + psm_len]
    assert parse_psm(psm, 0, len(psm)) == {0xE0: 0x1B, 0xC0: 0x90}
    assert mpeg_crc32(psm[:-4]) == struct.unpack(">I", psm[-4:])[0]
    assert mpeg_crc32(psm) == 0  # CRC-32/MPEG-2 residue
    assert key[psm_at + 6 + psm_len : psm_at + 10 + psm_len] == b"\x00\x00\x01\xe0"
    # non-key packs: pack header directly followed by the video PES
    assert inter[14:18] == b"\x00\x00\x01\xe0"
    assert b"\x00\x00\x01\xbc" not in inter


def test_h265_and_pcmu_stream_types() -> None:
    psm = program_stream_map([(0x24, 0xE0), (0x91, 0xC0)])
    assert parse_psm(psm, 0, len(psm)) == {0xE0: 0x24, 0xC0: 0x91}
    key = PsMuxer("h265", "pcmu").mux_video(b"\x00\x00\x00\x01\x40\x01", 0, True)
    assert b"\x24\xe0\x00\x00\x91\xc0\x00\x00" in key


def test_pes_split_at_65535_with_pts_and_dts() -> None:
    data = bytes(range(256)) * 600  # 153,600 bytes
    packets = pes_packets(0xE0, data, pts=123456789, dts=123456000)
    assert len(packets) == 3
    joined = b""
    for k, p in enumerate(packets):
        length = struct.unpack(">H", p[4:6])[0]
        assert length == len(p) - 6 <= 0xFFFF
        payload, pts, dts = parse_pes_header(p, 0, len(p))
        if k == 0:
            assert (pts, dts) == (123456789, 123456000)
        else:
            assert pts is None and dts is None
        joined += p[payload:]
    assert joined == data


def test_big_access_unit_round_trip() -> None:
    au = b"\x00\x00\x00\x01\x65\x88" + bytes(range(1, 256)) * 1000  # ~255 KB IDR
    pack = PsMuxer("h264").mux_video(au, 90000, True)
    frames, d = demux_all(pack)
    assert [f.data for f in frames] == [au]
    assert frames[0].keyframe and frames[0].pts == 90000
    assert d.stats["pes"] == 4


def test_timestamps_33_bit_encoding() -> None:
    for ts in (0, 1, 0x1FFFFFFFF, 0x123456789 & 0x1FFFFFFFF, 90000 * 3600 * 26):
        p = pes_packets(0xE0, b"\x00\x00\x01\x09\xf0", pts=ts, dts=ts)[0]
        assert parse_pes_header(p, 0, len(p))[1:] == (ts & 0x1FFFFFFFF, ts & 0x1FFFFFFFF)


# --- FFmpeg as oracle ----------------------------------------------------------------------


@needs_ffmpeg
@pytest.mark.parametrize("codec", CODECS)
def test_ffprobe_accepts_our_ps(codec: str, tmp_path: Path) -> None:
    frames = clip(codec)
    path = tmp_path / f"ours.{codec}.ps"
    path.write_bytes(b"".join(ps_packs(frames, codec)))
    (stream,) = ffprobe_streams(path)
    assert stream["codec_name"] == {"h264": "h264", "h265": "hevc"}[codec]
    assert int(stream["nb_read_frames"]) == 50  # type: ignore[call-overload]
    assert (stream["width"], stream["height"]) == (320, 240)


@pytest.mark.parametrize("codec", CODECS)
def test_demuxer_recovers_exact_access_units_from_our_muxer(codec: str) -> None:
    frames = clip(codec)
    data = b"".join(ps_packs(frames, codec))
    for chunk in (1, 188, 1400, len(data)):
        out, d = demux_all(data, chunk)
        assert [f.data for f in out] == [f.data for f in frames]
        assert [f.pts for f in out] == [f.pts for f in frames]
        assert [f.keyframe for f in out] == [f.keyframe for f in frames]
        assert {f.codec for f in out} == {codec}
        assert d.stats["psm"] == 2 and d.stats["resyncs"] == 0 and d.stats["dropped_bytes"] == 0


@needs_ffmpeg
@pytest.mark.parametrize("codec", CODECS)
def test_demuxer_handles_ffmpeg_mpeg_ps_without_psm(codec: str, tmp_path: Path) -> None:
    frames = clip(codec)
    es = tmp_path / f"in.{codec}"
    es.write_bytes(b"".join(f.data for f in frames))
    out_path = tmp_path / "ffmpeg.mpg"
    fmt = {"h264": "h264", "h265": "hevc"}[codec]
    ffmpeg(
        "-f", fmt, "-framerate", "25", "-i", str(es), "-c:v", "copy", "-f", "mpeg", str(out_path)
    )
    data = out_path.read_bytes()
    assert b"\x00\x00\x01\xbc" not in data  # FFmpeg writes no PSM: codec must be guessed
    out, d = demux_all(data, 1000)
    assert len(out) == 50
    assert {f.codec for f in out} == {codec}
    # FFmpeg splits frames across PES packets anywhere; NAL-level AU detection and
    # "PTS belongs to the first AU starting in the PES" recover the exact frames.
    assert [f.data for f in out] == [f.data for f in frames]
    deltas = [b.pts - a.pts for a, b in itertools.pairwise(out)]  # type: ignore[operator]
    assert set(deltas) == {3600}
    assert [f.keyframe for f in out] == [f.keyframe for f in frames]
    assert d.stats["packs"] > 0 and d.stats["psm"] == 0


def test_pts_less_stream_splits_on_pack_headers() -> None:
    """Old devices: no PTS at all, MPEG-4 (PES mode), one pack per frame."""
    vops = [
        b"\x00\x00\x01\xb6" + bytes([(0 if i % 5 == 0 else 1) << 6]) + bytes([i]) * 50
        for i in range(10)
    ]
    psm = program_stream_map([(0x10, 0xE0)])
    data = b"".join(
        pack_header(i) + psm + pes_packets(0xE0, v, None)[0] for i, v in enumerate(vops)
    )
    out, _ = demux_all(data, 33)
    assert [f.data for f in out] == vops
    assert [f.keyframe for f in out] == [i % 5 == 0 for i in range(10)]
    assert {f.codec for f in out} == {"mpeg4"}


def test_zero_length_video_pes_is_accepted() -> None:
    frames = clip("h264")
    data = b""
    for f in frames[:10]:
        pack = PsMuxer("h264").mux_video(f.data, f.pts, f.keyframe)
        if len(f.data) < 60000:
            at = pack.index(b"\x00\x00\x01\xe0")
            pack = pack[: at + 4] + b"\x00\x00" + pack[at + 6 :]
        data += pack
    out, _ = demux_all(data, 500)
    assert [f.data for f in out] == [f.data for f in frames[:10]]


def test_audio_and_video_interleaved() -> None:
    video = clip("h264")
    audio = generate_g711a(2000)
    mux = PsMuxer("h264", "pcma")
    packs: list[tuple[int, bytes]] = [
        (f.pts, mux.mux_video(f.data, f.pts, f.keyframe)) for f in video
    ]
    packs += [(a.pts, mux.mux_audio(a.data, a.pts)) for a in audio]
    packs.sort(key=lambda p: p[0])
    out, _ = demux_all(b"".join(p for _, p in packs), 1400)
    v = [f for f in out if f.stream == "video"]
    a = [f for f in out if f.stream == "audio"]
    assert [f.data for f in v] == [f.data for f in video]
    assert [f.data for f in a] == [f.data for f in audio]
    assert {f.codec for f in a} == {"pcma"}
    assert [f.pts for f in a] == [f.pts for f in audio]


# --- over RTP ----------------------------------------------------------------------------


@pytest.mark.parametrize("codec", CODECS)
def test_rtp_round_trip_with_reordering(codec: str) -> None:
    frames = clip(codec)
    packets = ps_rtp(frames, codec, seq=65000)  # wraps the 16-bit sequence
    assert all(len(p) <= 1400 for p in packets)
    markers = [parse_rtp(p).marker for p in packets]
    assert sum(markers) == 50 and markers[-1]
    got: list[EsFrame] = []
    dep = PayloadDepacketizer(pt=96)
    rx = RtpReceiver(
        None, startup_packets=8, on_payload=lambda p, m, t, g: got.extend(dep.push(p, m, t, g))
    )
    for p in shuffle_within(packets, 8, seed=1):
        rx.push(p)
    rx.flush()
    got += dep.flush()
    assert dep.format == "ps"
    assert rx.stats["lost"] == 0 and rx.stats["reordered"] > 10
    assert [f.data for f in got] == [f.data for f in frames]
    assert [f.pts for f in got] == [f.pts for f in frames]


def test_rtp_marker_flush_emits_frame_without_waiting_for_the_next() -> None:
    frames = clip("h264")
    packets = ps_rtp(frames[:2])
    dep = PayloadDepacketizer("ps")
    first_frame_packets = [p for p in packets if parse_rtp(p).ts == frames[0].pts]
    out: list[EsFrame] = []
    for p in first_frame_packets:
        r = parse_rtp(p)
        out += dep.push(r.payload, r.marker, r.ts)
    assert [f.data for f in out] == [frames[0].data]


def test_packet_loss_drops_only_the_damaged_frame() -> None:
    frames = clip("h264")
    packets = ps_rtp(frames)
    by_ts: dict[int, list[int]] = {}
    for i, p in enumerate(packets):
        by_ts.setdefault(parse_rtp(p).ts, []).append(i)
    victim_frame = 30
    victim = by_ts[frames[victim_frame].pts][0 if len(by_ts[frames[victim_frame].pts]) == 1 else 1]
    got: list[EsFrame] = []
    dep = PayloadDepacketizer("ps")
    rx = RtpReceiver(
        None, reorder_window=4, on_payload=lambda p, m, t, g: got.extend(dep.push(p, m, t, g))
    )
    for i, p in enumerate(packets):
        if i != victim:
            rx.push(p)
    rx.flush()
    got += dep.flush()
    expected = [f.data for k, f in enumerate(frames) if k != victim_frame]
    assert [f.data for f in got] == expected
    assert rx.stats["lost"] == 1


def test_packetize_rtp_sizes_and_sequence() -> None:
    pkts = packetize_rtp(bytes(5000), ssrc=7, seq_start=65534, ts=90, mtu=1000)
    parsed = [parse_rtp(p) for p in pkts]
    assert [p.seq for p in parsed] == [65534, 65535, 0, 1, 2, 3]
    assert [p.marker for p in parsed] == [False] * 5 + [True]
    assert all(len(p) <= 1000 for p in pkts)
    assert b"".join(bytes(p.payload) for p in parsed) == bytes(5000)
