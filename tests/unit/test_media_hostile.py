"""Hostile media: garbage, truncation, absurd lengths, random bytes. Skip and count, never crash."""

from __future__ import annotations

import random
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sharpeyes.media.detect import (
    DepacketizeError,
    H264Depacketizer,
    H265Depacketizer,
    PayloadDepacketizer,
)
from sharpeyes.media.es import EsFrame
from sharpeyes.media.ps import PsDemuxer
from sharpeyes.media.rtp import RtpReceiver
from sharpeyes.media.ts import TsDemuxer
from tests.media_fixtures import clip, ps_packs

PACK = b"\x00\x00\x01\xba"


def feed_all(d: PsDemuxer, data: bytes, chunk: int = 1400) -> list[EsFrame]:
    out: list[EsFrame] = []
    for i in range(0, len(data), chunk):
        out += d.feed(data[i : i + chunk])
    return out + d.flush()


@pytest.fixture(scope="module")
def packs() -> list[bytes]:
    return ps_packs(clip("h264"))


@pytest.fixture(scope="module")
def originals() -> list[bytes]:
    return [f.data for f in clip("h264")]


def pes_offset(pack: bytes) -> int:
    return pack.index(b"\x00\x00\x01\xe0")


# --- deterministic damage --------------------------------------------------------------------


def test_garbage_between_packs_is_skipped_and_counted(
    packs: list[bytes], originals: list[bytes]
) -> None:
    rng = random.Random(5)
    garbage_total = 0
    data = b""
    for k, p in enumerate(packs):
        data += p
        if k % 7 == 3:
            junk = bytes(rng.randrange(1, 256) for _ in range(rng.randrange(1, 3000)))
            garbage_total += len(junk)
            data += junk
    d = PsDemuxer()
    out = feed_all(d, data, 999)
    assert [f.data for f in out] == originals
    assert d.stats["resyncs"] == len([k for k in range(50) if k % 7 == 3])
    assert d.stats["dropped_bytes"] == garbage_total


def test_garbage_before_first_pack(packs: list[bytes], originals: list[bytes]) -> None:
    d = PsDemuxer()
    out = feed_all(d, b"\x00\x00\x01\xe0\x12\x34 joined mid-stream" + b"".join(packs))
    assert [f.data for f in out] == originals


@pytest.mark.parametrize("victim", [0, 1, 20, 25, 49])
def test_truncated_pack_loses_only_its_frame(
    packs: list[bytes], originals: list[bytes], victim: int
) -> None:
    damaged = list(packs)
    damaged[victim] = damaged[victim][: len(damaged[victim]) // 2]
    d = PsDemuxer()
    out = feed_all(d, b"".join(damaged))
    expected = [o for k, o in enumerate(originals) if k != victim]
    assert [f.data for f in out] == expected
    if victim != 49:
        assert d.stats["truncated"] == 1


@pytest.mark.parametrize("length", [0xFFFF, 0x8000])
def test_absurd_pes_length_larger_than_the_pack(
    packs: list[bytes], originals: list[bytes], length: int
) -> None:
    damaged = list(packs)
    p = bytearray(damaged[10])
    at = pes_offset(bytes(p))
    p[at + 4 : at + 6] = struct.pack(">H", length)
    damaged[10] = bytes(p)
    d = PsDemuxer()
    out = feed_all(d, b"".join(damaged), 512)
    assert [f.data for f in out] == originals[:10] + originals[11:]
    assert d.stats["truncated"] == 1 and d.stats["dropped_frames"] == 1


def test_pes_length_shorter_than_the_payload(packs: list[bytes], originals: list[bytes]) -> None:
    damaged = list(packs)
    p = bytearray(damaged[12])
    at = pes_offset(bytes(p))
    p[at + 4 : at + 6] = struct.pack(">H", 40)
    damaged[12] = bytes(p)
    d = PsDemuxer()
    out = feed_all(d, b"".join(damaged))
    good = [f.data for f in out]
    assert all(o in good for k, o in enumerate(originals) if k not in (12,))
    assert d.stats["resyncs"] >= 1


def test_stream_stops_mid_frame_then_resumes_with_a_new_pack(
    packs: list[bytes], originals: list[bytes]
) -> None:
    d = PsDemuxer()
    out: list[EsFrame] = []
    for p in packs[:30]:
        out += d.feed(p, end_of_frame=True)
    out += d.feed(packs[30][: len(packs[30]) - 100])  # camera stalls mid-frame…
    for p in packs[31:]:  # …and comes back with the next pack
        out += d.feed(p, end_of_frame=True)
    out += d.flush()
    assert [f.data for f in out] == originals[:30] + originals[31:]


def test_bad_pack_header_and_es_start_code_in_system_layer(
    packs: list[bytes], originals: list[bytes]
) -> None:
    damaged = list(packs)
    damaged[5] = PACK + b"\xff\xff" + damaged[5][6:]  # neither MPEG-1 nor MPEG-2 pack
    damaged.insert(8, b"\x00\x00\x01\x65\x88\x99")  # a bare NAL between packs
    d = PsDemuxer()
    out = feed_all(d, b"".join(damaged))
    assert [f.data for f in out] == originals[:5] + originals[6:]
    assert d.stats["bad_units"] >= 2


def test_frame_size_cap(packs: list[bytes]) -> None:
    d = PsDemuxer(max_frame_size=2000)
    out = feed_all(d, b"".join(packs))
    assert out and all(len(f.data) <= 2000 for f in out)
    assert len(out) < 50


def test_buffers_stay_bounded_under_garbage() -> None:
    d = PsDemuxer()
    rng = random.Random(1)
    for _ in range(200):
        d.feed(bytes(rng.randrange(256) for _ in range(1400)).replace(PACK, b""))
    assert len(d._buf) <= 3
    # an endless zero-length video PES without any start code is capped too
    d2 = PsDemuxer(max_frame_size=100_000)
    d2.feed(
        PACK
        + bytes((0x44, 0, 4, 0, 4, 1, 1, 0x89, 0xC3, 0xF8))
        + b"\x00\x00\x01\xe0\x00\x00\x80\x00\x00"
    )
    for _ in range(200):
        d2.feed(b"\x11" * 1400)
    assert len(d2._buf) <= 100_000 + 1400


# --- random input ------------------------------------------------------------------------------

_fuzz = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_fuzz
@given(st.lists(st.binary(max_size=600), max_size=12), st.booleans())
def test_ps_demuxer_random_bytes(chunks: list[bytes], with_header: bool) -> None:
    """ps.py promises damage is skipped and counted, never raised: no PsError either
    (PsError is the safety net for an internal fault, which this would then be)."""
    d = PsDemuxer()
    if with_header:
        d.feed(PACK + b"\x44\x00\x04\x00\x04\x01\x01\x89\xc3\xf8")
    for i, c in enumerate(chunks):
        for f in d.feed(c, end_of_frame=i % 3 == 0):
            assert isinstance(f.data, bytes) and f.stream in ("video", "audio")
    d.discontinuity() if len(chunks) % 2 else d.flush()


@_fuzz
@given(st.data())
def test_ps_demuxer_mutated_real_stream(data: st.DataObject) -> None:
    stream = bytearray(b"".join(ps_packs(clip("h264"))[:12]))
    for _ in range(data.draw(st.integers(1, 6))):
        op = data.draw(st.sampled_from(["flip", "cut", "insert", "zero-len", "ff-len"]))
        pos = data.draw(st.integers(0, len(stream) - 1))
        if op == "flip":
            stream[pos] ^= data.draw(st.integers(1, 255))
        elif op == "cut":
            del stream[pos : pos + data.draw(st.integers(1, 3000))]
        elif op == "insert":
            stream[pos:pos] = data.draw(st.binary(min_size=1, max_size=300))
        else:
            at = stream.find(b"\x00\x00\x01\xe0", pos)
            if at >= 0:
                stream[at + 4 : at + 6] = b"\x00\x00" if op == "zero-len" else b"\xff\xff"
        if len(stream) < 10:
            break
    chunk = data.draw(st.integers(1, 3000))
    d = PsDemuxer()
    out = feed_all(d, bytes(stream), chunk)  # must not raise at all
    assert len(out) <= 12 + 6
    assert sum(len(f.data) for f in out) <= len(stream)


@_fuzz
@given(st.lists(st.binary(max_size=400), max_size=10))
def test_ts_demuxer_random_bytes(chunks: list[bytes]) -> None:
    d = TsDemuxer()
    for c in chunks:
        d.feed(b"\x47" + c)
    d.flush()


@_fuzz
@given(
    st.lists(
        st.tuples(st.binary(max_size=300), st.booleans(), st.integers(0, 2**32 - 1), st.booleans()),
        max_size=15,
    ),
    st.sampled_from([None, "ps", "ts", "h264", "h265", "annexb"]),
)
def test_depacketizers_random_payloads(
    payloads: list[tuple[bytes, bool, int, bool]], fmt: str | None
) -> None:
    dep = PayloadDepacketizer(fmt, probe_packets=4)  # type: ignore[arg-type]
    for p, marker, ts, gap in payloads:
        for f in dep.push(p, marker, ts, gap):
            assert isinstance(f, EsFrame)
    dep.flush()


@_fuzz
@given(st.lists(st.binary(min_size=1, max_size=200), max_size=20))
def test_h26x_depacketizers_fu_garbage(payloads: list[bytes]) -> None:
    for cls in (H264Depacketizer, H265Depacketizer):
        dep = cls()
        for i, p in enumerate(payloads):
            dep.push(bytes([0x7C if cls is H264Depacketizer else 0x62]) + p, i % 4 == 3, i // 3)
        dep.flush()


@_fuzz
@given(st.lists(st.binary(max_size=200), max_size=30))
def test_full_receive_chain_random_datagrams(datagrams: list[bytes]) -> None:
    dep = PayloadDepacketizer()
    rx = RtpReceiver(None, on_payload=lambda p, m, t, g: dep.push(p, m, t, g))
    for dg in datagrams:
        rx.push(b"\x80\x60" + dg)
    rx.flush()
    dep.flush()


def test_unknown_forced_format_is_misuse() -> None:
    with pytest.raises(DepacketizeError):
        PayloadDepacketizer("flv")  # type: ignore[arg-type]
