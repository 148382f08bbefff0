"""Payload auto-detection: PS, MPEG-TS (RFC 2250), raw H.264 (RFC 6184), H.265 (RFC 7798)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from sharpeyes.media.detect import (
    PayloadDepacketizer,
    classify_payload,
    nal_payloads,
)
from sharpeyes.media.es import EsFrame, iter_nals, nal_type
from sharpeyes.media.rtp import RtpReceiver, build_rtp, parse_rtp
from sharpeyes.media.ts import TsDemuxer
from tests.media_fixtures import clip, ffmpeg, needs_ffmpeg, ps_rtp, shuffle_within

SSRC = 0x0AB0C0D0


def receive(packets: list[bytes], dep: PayloadDepacketizer, **kw: int) -> list[EsFrame]:
    got: list[EsFrame] = []
    rx = RtpReceiver(SSRC, on_payload=lambda p, m, t, g: got.extend(dep.push(p, m, t, g)), **kw)
    for p in packets:
        rx.push(p)
    rx.flush()
    return got + dep.flush()


def es_rtp(codec: str, frames: tuple, *, pt: int = 98, mtu: int = 1200) -> list[bytes]:  # type: ignore[type-arg]
    out: list[bytes] = []
    seq = 40000
    for f in frames:
        payloads = nal_payloads(codec, f.data, mtu=mtu)
        for k, p in enumerate(payloads):
            out.append(
                build_rtp(p, pt=pt, seq=seq, ts=f.pts, ssrc=SSRC, marker=k == len(payloads) - 1)
            )
            seq += 1
    return out


def nal_list(au: bytes, drop: frozenset[int] = frozenset(), codec: str = "h264") -> list[bytes]:
    return [bytes(n) for n in iter_nals(au) if nal_type(codec, n) not in drop]


# --- raw ES ------------------------------------------------------------------------------


@pytest.mark.parametrize("codec", ["h264", "h265"])
def test_raw_es_fu_round_trip_with_auto_detection(codec: str) -> None:
    frames = clip(codec)
    packets = es_rtp(codec, frames)
    kinds = {parse_rtp(p).payload[0] & 0x1F for p in packets} if codec == "h264" else set()
    if codec == "h264":
        assert 28 in kinds and 24 in kinds  # FU-A and STAP-A both exercised
    dep = PayloadDepacketizer(pt=98)
    got = receive(shuffle_within(packets, 6, seed=3), dep, startup_packets=6)
    assert dep.format == codec
    # Depacketized AUs use 4-byte start codes: compare NAL by NAL.
    assert [nal_list(f.data) for f in got] == [nal_list(f.data) for f in frames]
    assert [f.pts for f in got] == [f.pts for f in frames]
    assert [f.keyframe for f in got] == [f.keyframe for f in frames]
    assert {f.codec for f in got} == {codec}


def test_fu_a_with_a_lost_fragment_drops_only_that_nal() -> None:
    frames = clip("h264")
    packets = es_rtp("h264", frames[:3], mtu=400)
    fu_middle = next(
        i
        for i, p in enumerate(packets)
        if parse_rtp(p).payload[0] & 0x1F == 28 and not parse_rtp(p).payload[1] & 0xC0
    )
    del packets[fu_middle]
    dep = PayloadDepacketizer("h264")
    got = receive(packets, dep, reorder_window=2)
    assert len(got) >= 2
    assert dep.demuxer_stats["dropped_fragments"] >= 1
    # The damaged NAL is gone, frames after it are intact.
    assert nal_list(got[-1].data) == nal_list(frames[2].data)


def test_annexb_chunks_over_rtp() -> None:
    frames = clip("h264")
    packets = []
    seq = 0
    for f in frames:
        chunks = [f.data[i : i + 1000] for i in range(0, len(f.data), 1000)]
        for k, c in enumerate(chunks):
            packets.append(
                build_rtp(c, pt=96, seq=seq, ts=f.pts, ssrc=SSRC, marker=k == len(chunks) - 1)
            )
            seq += 1
    dep = PayloadDepacketizer()
    got = receive(packets, dep)
    assert dep.format == "annexb"
    assert [f.data for f in got] == [f.data for f in frames]


# --- TS ----------------------------------------------------------------------------------


@needs_ffmpeg
@pytest.mark.parametrize("codec", ["h264", "h265"])
def test_ts_over_rtp_round_trip(codec: str, tmp_path: Path) -> None:
    frames = clip(codec)
    src = tmp_path / f"in.{codec}"
    src.write_bytes(b"".join(f.data for f in frames))
    ts_path = tmp_path / "out.ts"
    fmt = {"h264": "h264", "h265": "hevc"}[codec]
    ffmpeg(
        "-f", fmt, "-framerate", "25", "-i", str(src), "-c:v", "copy", "-f", "mpegts", str(ts_path)
    )
    ts = ts_path.read_bytes()
    assert len(ts) % 188 == 0
    packets = [
        build_rtp(ts[i : i + 7 * 188], pt=33, seq=i // (7 * 188), ts=i, ssrc=SSRC)
        for i in range(0, len(ts), 7 * 188)
    ]
    dep = PayloadDepacketizer()  # no hint at all
    got = receive(shuffle_within(packets, 5, seed=7), dep, startup_packets=5)
    assert dep.format == "ts"
    assert len(got) == 50
    assert {f.codec for f in got} == {codec}
    aud = frozenset({9}) if codec == "h264" else frozenset({35})
    # FFmpeg's TS muxer inserts access unit delimiters; everything else is ours.
    assert [nal_list(f.data, aud, codec) for f in got] == [nal_list(f.data) for f in frames]
    assert [f.keyframe for f in got] == [f.keyframe for f in frames]
    deltas = {b.pts - a.pts for a, b in itertools.pairwise(got)}  # type: ignore[operator]
    assert deltas == {3600}


@needs_ffmpeg
def test_ts_demuxer_resyncs_after_garbage_and_counts_cc_errors(tmp_path: Path) -> None:
    frames = clip("h264")
    src = tmp_path / "in.h264"
    src.write_bytes(b"".join(f.data for f in frames))
    ts_path = tmp_path / "out.ts"
    ffmpeg(
        "-f",
        "h264",
        "-framerate",
        "25",
        "-i",
        str(src),
        "-c:v",
        "copy",
        "-f",
        "mpegts",
        str(ts_path),
    )
    ts = bytearray(ts_path.read_bytes())
    mid = (len(ts) // 188 // 2) * 188
    damaged = bytes(ts[:mid]) + b"\x47garbage\x00" * 5 + bytes(ts[mid + 188 :])
    d = TsDemuxer()
    out = []
    for i in range(0, len(damaged), 1000):
        out += d.feed(damaged[i : i + 1000])
    out += d.flush()
    assert d.stats["resyncs"] >= 1 and d.stats["dropped_bytes"] > 0
    assert d.stats["cc_errors"] >= 1
    assert 45 <= len(out) <= 50


# --- classification ----------------------------------------------------------------------


def test_classify_payloads() -> None:
    frames = clip("h264")
    ps_first = parse_rtp(ps_rtp(frames[:1])[0]).payload
    assert classify_payload(ps_first) == "ps"
    assert classify_payload(b"\x47" + bytes(187) + b"\x47" + bytes(187), 33) == "ts"
    assert classify_payload(b"\x67\x64\x00\x1f\xac") == "h264"  # SPS
    assert classify_payload(b"\x7c\x85\x88\x84") == "h264"  # FU-A start of an IDR
    assert classify_payload(b"\x40\x01\x0c\x01\xff") == "h265"  # VPS
    assert classify_payload(b"\x62\x01\x93\xaf") == "h265"  # FU start
    assert classify_payload(b"\x00\x00\x00\x01\x67\x64") == "annexb"
    assert classify_payload(b"\xff\xfe") is None
    assert classify_payload(b"") is None


def test_ps_stream_joined_mid_frame_is_still_detected_as_ps() -> None:
    frames = clip("h264")
    packets = ps_rtp(frames, ssrc=SSRC)[3:]  # join in the middle of the first keyframe
    dep = PayloadDepacketizer()
    got = receive(packets, dep)
    assert dep.format == "ps"
    assert [f.data for f in got] == [f.data for f in frames[1:]]


def test_undetectable_payloads_are_counted_not_raised() -> None:
    dep = PayloadDepacketizer(probe_packets=10)
    for i in range(25):
        assert dep.push(b"\xff\xee" * 10, False, i) == []
    assert dep.format is None and dep.stats["undetected"] == 20
