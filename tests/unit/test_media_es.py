"""Annex-B helpers, SPS parsing, config records and the PyAV test-video generator."""

from __future__ import annotations

import math

import av
import pytest

from sharpeyes.media.es import (
    BitReader,
    EsError,
    annexb_to_lengthprefixed,
    avcc_from_sps_pps,
    codec_string,
    guess_video_codec,
    h264_nal_type,
    h265_nal_type,
    is_keyframe,
    iter_nals,
    parameter_sets,
    parse_h264_sps,
    parse_sps,
    split_nals,
    unescape_rbsp,
)
from sharpeyes.media.testvideo import (
    alaw_decode,
    generate_g711a,
    generate_video,
    loop_frames,
)
from tests.media_fixtures import clip


def test_iter_nals_start_codes_and_trailing_zeros() -> None:
    data = b"junk\x00\x00\x00\x01\x67\xaa\x00\x00\x01\x68\xbb\x00\x00\x00\x00\x01\x65\xcc\x00"
    assert split_nals(data) == [b"\x67\xaa", b"\x68\xbb", b"\x65\xcc"]
    assert split_nals(memoryview(data)) == split_nals(data)
    assert split_nals(b"no start code") == []
    assert split_nals(b"\x00\x00\x01") == []
    views = list(iter_nals(bytearray(data)))
    assert all(isinstance(v, memoryview) for v in views)


def test_nal_types_and_keyframes_on_real_streams() -> None:
    h264 = clip("h264")
    assert [h264_nal_type(n) for n in iter_nals(h264[0].data)][:2] == [7, 8]
    assert [is_keyframe("h264", f.data) for f in h264] == [f.keyframe for f in h264]
    assert sum(f.keyframe for f in h264) == 2
    h265 = clip("h265")
    assert [h265_nal_type(n) for n in iter_nals(h265[0].data)][:3] == [32, 33, 34]
    assert [is_keyframe("h265", f.data) for f in h265] == [f.keyframe for f in h265]
    assert is_keyframe("mpeg4", b"\x00\x00\x01\xb6\x10") is True
    assert is_keyframe("mpeg4", b"\x00\x00\x01\xb6\x50") is False


def test_guess_codec() -> None:
    assert guess_video_codec(clip("h264")[0].data) == "h264"
    assert guess_video_codec(clip("h264")[7].data) == "h264"
    assert guess_video_codec(clip("h265")[0].data) == "h265"
    assert guess_video_codec(clip("h265")[7].data) == "h265"
    assert guess_video_codec(b"\x00\x00\x01\xb0\x01\x00\x00\x01\xb6\x10") == "mpeg4"
    assert guess_video_codec(b"random") is None


@pytest.mark.parametrize("codec", ["h264", "h265"])
@pytest.mark.parametrize(("width", "height"), [(320, 240), (330, 186), (1920, 1080)])
def test_sps_size_including_cropping(codec: str, width: int, height: int) -> None:
    frames = (
        generate_video(codec, width=width, height=height, frames=1)
        if codec == "h264"
        else clip(codec, frames=1, width=width, height=height)
    )
    ps = parameter_sets(codec, frames[0].data)
    info = parse_sps(codec, ps["sps"])
    assert (info.width, info.height) == (width, height)
    assert info.chroma_format_idc == 1 and info.bit_depth_luma == 8


def test_h264_sps_fields_and_codec_string() -> None:
    ps = parameter_sets("h264", clip("h264")[0].data)
    info = parse_h264_sps(ps["sps"])
    assert info.profile_idc == 100  # x264 default: High
    assert codec_string(info) == f"avc1.64{ps['sps'][2]:02x}{ps['sps'][3]:02x}"
    record = avcc_from_sps_pps(ps["sps"], ps["pps"])
    assert record[:4] == bytes((1, 100, ps["sps"][2], ps["sps"][3]))
    assert record[4] == 0xFF and record[5] == 0xE1
    assert record[-4:] == bytes((0xFD, 0xF8, 0xF8, 0))  # High profile trailer: 4:2:0, 8-bit


def test_h265_codec_string_is_rfc6381() -> None:
    ps = parameter_sets("h265", clip("h265")[0].data)
    info = parse_sps("h265", ps["sps"])
    assert info.profile_idc == 1 and info.compat_flags == 0x60000000
    assert codec_string(info) == f"hvc1.1.6.L{info.level_idc}.{info.constraint_bytes[0]:X}"


def test_bad_sps_raises_es_error() -> None:
    for bad in (b"", b"\x67", b"\x68\x64\x00\x1f", b"\x67\x64\x00\x1f" + b"\x00" * 3):
        with pytest.raises(EsError):
            parse_sps("h264", bad)
    with pytest.raises(EsError):
        parse_sps("h265", b"\x42\x01" + bytes(5))
    with pytest.raises(EsError):
        parse_sps("mpeg4", b"")


def test_exp_golomb_and_emulation_prevention() -> None:
    r = BitReader(bytes([0b10100110, 0b01000000]))
    assert [r.ue(), r.ue(), r.ue(), r.se()] == [0, 1, 2, 2]
    assert (
        unescape_rbsp(b"\x00\x00\x03\x01\x00\x00\x03\x00\x00\x03")
        == b"\x00\x00\x01\x00\x00\x00\x00"
    )
    with pytest.raises(EsError):
        BitReader(b"\x00\x00\x00\x00\x00").ue()


def test_length_prefixed_conversion() -> None:
    au = b"\x00\x00\x00\x01\x09\xf0\x00\x00\x01\x65\x88\x99"
    assert annexb_to_lengthprefixed(au) == b"\x00\x00\x00\x02\x09\xf0\x00\x00\x00\x03\x65\x88\x99"
    assert (
        annexb_to_lengthprefixed(au, drop_types=frozenset({9})) == b"\x00\x00\x00\x03\x65\x88\x99"
    )


# --- test video generator --------------------------------------------------------------------


def _first_picture(codec: str, seed: int) -> bytes:
    frames = generate_video(codec, frames=1, seed=seed)
    ctx = av.CodecContext.create({"h264": "h264", "h265": "hevc"}[codec], "r")
    pictures = list(ctx.decode(av.Packet(frames[0].data))) + list(ctx.decode(None))
    return bytes(pictures[0].planes[0])


def test_generator_is_cached_deterministic_and_seed_specific() -> None:
    a = generate_video("h264", frames=50, seed=1)
    assert generate_video("h264", frames=50, seed=1) is a  # cached
    assert len(a) == 50 and [f.pts for f in a] == [i * 3600 for i in range(50)]
    assert [f.keyframe for f in a] == [i % 25 == 0 for i in range(50)]
    assert all(f.data.startswith((b"\x00\x00\x00\x01", b"\x00\x00\x01")) for f in a)
    p1, p2 = _first_picture("h264", 1), _first_picture("h264", 2)
    assert p1 != p2
    assert _first_picture("h264", 1) == p1


def test_generator_bitrate_and_gop_parameters() -> None:
    small = generate_video("h264", frames=50, bitrate=100_000, gop=10, seed=3)
    big = generate_video("h264", frames=50, bitrate=1_500_000, gop=10, seed=3)
    assert [i for i, f in enumerate(small) if f.keyframe] == [0, 10, 20, 30, 40]
    assert sum(len(f.data) for f in big) > 2 * sum(len(f.data) for f in small)


def test_g711a_tone() -> None:
    frames = generate_g711a(1000, frame_ms=20)
    assert len(frames) == 50 and all(len(f.data) == 160 for f in frames)
    assert [f.pts for f in frames[:3]] == [0, 1800, 3600]
    samples = [alaw_decode(b) for f in frames for b in f.data]
    peak = max(abs(s) for s in samples)
    assert 11000 < peak < 13000
    expected = [12000 * math.sin(2 * math.pi * 440 * i / 8000) for i in range(len(samples))]
    err = max(abs(s - e) for s, e in zip(samples, expected, strict=True))
    assert err < 700  # A-law quantisation error at this level


def test_loop_frames_rising_timestamps() -> None:
    frames = generate_video("h264", frames=10)
    looped = [f for _, f in zip(range(35), loop_frames(frames, frame_duration=3600), strict=False)]
    assert [f.pts for f in looped] == [i * 3600 for i in range(35)]
    assert looped[10].data == frames[0].data and looped[10].keyframe
