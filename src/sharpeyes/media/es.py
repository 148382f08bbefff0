"""Elementary-stream helpers: Annex-B NAL splitting, keyframes, SPS parsing, MP4 configs.

Everything here works on Annex-B access units (start-code separated NAL units), the
form in which video travels inside PS, TS and our own pipeline. MP4/MSE needs the
parameter sets in a config record (avcC/hvcC) and length-prefixed samples instead,
so the converters live here too.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

Buffer = bytes | bytearray | memoryview

StreamKind = Literal["video", "audio"]

VIDEO_CODECS = frozenset({"h264", "h265", "mpeg4", "svac", "mpeg2"})


class EsError(ValueError):
    """A parameter set or access unit cannot be parsed."""


@dataclass(slots=True)
class EsFrame:
    """One complete access unit (video frame, or audio chunk) with 90 kHz timestamps.

    ``data`` is Annex-B for H.264/H.265 (start codes included), the raw ES otherwise.
    """

    stream: StreamKind
    codec: str
    pts: int | None
    dts: int | None
    data: bytes
    keyframe: bool = False


# --- H.264 / H.265 NAL unit types -------------------------------------------------

H264_NON_IDR, H264_IDR, H264_SEI, H264_SPS, H264_PPS, H264_AUD = 1, 5, 6, 7, 8, 9
H265_VPS, H265_SPS, H265_PPS, H265_AUD = 32, 33, 34, 35
H265_SEI_PREFIX, H265_SEI_SUFFIX = 39, 40

_SC3 = b"\x00\x00\x01"
_U32BE = struct.Struct(">I")
_SC4 = b"\x00\x00\x00\x01"


def h264_nal_type(nal: Buffer) -> int:
    """``nal_unit_type`` of an H.264 NAL (first header byte, low 5 bits)."""
    return nal[0] & 0x1F


def h265_nal_type(nal: Buffer) -> int:
    """``nal_unit_type`` of an H.265 NAL (bits 1..6 of the 2-byte header)."""
    return (nal[0] >> 1) & 0x3F


def nal_type(codec: str, nal: Buffer) -> int:
    """NAL unit type for ``codec`` ("h264" or "h265")."""
    return h265_nal_type(nal) if codec == "h265" else h264_nal_type(nal)


def _as_findable(data: Buffer) -> bytes | bytearray:
    return bytes(data) if isinstance(data, memoryview) else data


def iter_nals(data: Buffer) -> Iterator[memoryview]:
    """Yield each NAL unit of an Annex-B buffer (start codes and trailing zeros removed).

    Views share memory with ``data`` (no copies): convert with ``bytes()`` to keep one.
    Bytes before the first start code are ignored.
    """
    buf = _as_findable(data)
    mv = memoryview(buf)
    n = len(buf)
    i = buf.find(_SC3)
    while i >= 0:
        start = i + 3
        j = buf.find(_SC3, start)
        end = n if j < 0 else j
        while end > start and buf[end - 1] == 0:
            end -= 1
        if end > start:
            yield mv[start:end]
        i = j


def split_nals(data: Buffer) -> list[bytes]:
    """All NAL units of an Annex-B buffer as ``bytes``."""
    return [bytes(n) for n in iter_nals(data)]


def _first_vcl_type(codec: str, au: bytes | bytearray) -> int:
    """Type of the first VCL NAL unit in ``au`` (-1 if none), scanning only headers."""
    find = au.find
    n = len(au)
    i = find(_SC3)
    while 0 <= i < n - 3:
        b = au[i + 3]
        if codec == "h265":
            t = (b >> 1) & 0x3F
            if t < 32:
                return t
        else:
            t = b & 0x1F
            if 1 <= t <= 5:
                return t
        i = find(_SC3, i + 4)
    return -1


def is_keyframe(codec: str, au: Buffer) -> bool:
    """True when ``au`` starts a decodable picture (IDR/IRAP/I-VOP).

    Only NAL headers are inspected, up to the first slice, so it costs a few ``find``
    calls per frame even for large I-frames.
    """
    buf = _as_findable(au)
    if codec == "h264":
        return _first_vcl_type("h264", buf) == H264_IDR
    if codec == "h265":
        return 16 <= _first_vcl_type("h265", buf) <= 23
    if codec == "mpeg4":
        i = buf.find(b"\x00\x00\x01\xb6")
        return 0 <= i < len(buf) - 4 and (buf[i + 4] >> 6) == 0
    return False


def guess_video_codec(data: Buffer) -> str | None:
    """Guess h264 / h265 / mpeg4 from an Annex-B sample (used when a PS has no PSM).

    Votes over the NAL headers: H.265 headers have a zero layer id and a non-zero
    temporal id in byte 2; H.264 parameter sets/slices have typical type values.
    """
    buf = _as_findable(data)
    mpeg4_codes = buf.find(b"\x00\x00\x01\xb0") >= 0 or buf.find(b"\x00\x00\x01\xb6") >= 0
    if mpeg4_codes and buf.find(b"\x00\x00\x01\x67") < 0 and buf.find(b"\x00\x00\x01\x40\x01") < 0:
        return "mpeg4"
    h264 = h265 = 0
    for k, nal in enumerate(iter_nals(buf)):
        if k > 32:
            break
        b0 = nal[0]
        if b0 & 0x80:
            continue
        t4 = b0 & 0x1F
        if t4 in (1, 5, 6, 7, 8, 9) and (t4 not in (5, 7, 8) or b0 & 0x60):
            h264 += 2 if t4 in (5, 7, 8) else 1
        if len(nal) >= 2 and (b0 & 0x01) == 0 and (nal[1] >> 3) == 0 and (nal[1] & 7):
            t5 = (b0 >> 1) & 0x3F
            if t5 in (32, 33, 34) or 16 <= t5 <= 21:
                h265 += 2
            elif t5 <= 9 or t5 in (35, 39, 40):
                h265 += 1
    if h264 == h265 == 0:
        return None
    return "h265" if h265 > h264 else "h264"


def annexb_to_lengthprefixed(
    au: Buffer, *, drop_types: frozenset[int] = frozenset(), codec: str = "h264"
) -> bytes:
    """Convert an Annex-B AU to 4-byte length-prefixed NAL units (MP4 sample format)."""
    # Same walk as iter_nals, inlined: this runs once per frame on the live path.
    buf = _as_findable(au)
    mv = memoryview(buf)
    find = buf.find
    n = len(buf)
    h265 = codec == "h265"
    parts: list[bytes | memoryview] = []
    pack = _U32BE.pack
    i = find(_SC3)
    while i >= 0:
        start = i + 3
        j = find(_SC3, start)
        end = n if j < 0 else j
        while end > start and buf[end - 1] == 0:
            end -= 1
        if end > start:
            if drop_types:
                b = buf[start]
                t = (b >> 1) & 0x3F if h265 else b & 0x1F
                if t in drop_types:
                    i = j
                    continue
            parts.append(pack(end - start))
            parts.append(mv[start:end])
        i = j
    return b"".join(parts)


def parameter_sets(codec: str, au: Buffer) -> dict[str, bytes]:
    """Extract the first VPS/SPS/PPS of an AU: keys "vps" (H.265), "sps", "pps"."""
    found: dict[str, bytes] = {}
    names = (
        {H265_VPS: "vps", H265_SPS: "sps", H265_PPS: "pps"}
        if codec == "h265"
        else {H264_SPS: "sps", H264_PPS: "pps"}
    )
    for nal in iter_nals(au):
        name = names.get(nal_type(codec, nal))
        if name and name not in found:
            found[name] = bytes(nal)
    return found


# --- Bit reader / exp-Golomb ---------------------------------------------------------


def unescape_rbsp(nal: Buffer) -> bytes:
    """Remove emulation-prevention bytes (00 00 03 → 00 00)."""
    return bytes(nal).replace(b"\x00\x00\x03", b"\x00\x00")


class BitReader:
    """MSB-first bit reader with exp-Golomb; raises EsError past the end."""

    __slots__ = ("_bits", "_pos", "_val")

    def __init__(self, data: bytes) -> None:
        self._val = int.from_bytes(data, "big")
        self._bits = len(data) * 8
        self._pos = 0

    def u(self, n: int) -> int:
        if n == 0:
            return 0
        end = self._pos + n
        if end > self._bits:
            raise EsError("bitstream truncated")
        self._pos = end
        return (self._val >> (self._bits - end)) & ((1 << n) - 1)

    def flag(self) -> bool:
        return self.u(1) == 1

    def skip(self, n: int) -> None:
        if self._pos + n > self._bits:
            raise EsError("bitstream truncated")
        self._pos += n

    def ue(self) -> int:
        zeros = 0
        while self.u(1) == 0:
            zeros += 1
            if zeros > 31:
                raise EsError("exp-Golomb code too long")
        return (1 << zeros) - 1 + self.u(zeros)

    def se(self) -> int:
        k = self.ue()
        return (k + 1) // 2 if k & 1 else -(k // 2)


# --- SPS parsing ---------------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class SpsInfo:
    """What MP4/MSE and the UI need from a sequence parameter set."""

    codec: str
    width: int
    height: int
    profile_idc: int
    level_idc: int
    chroma_format_idc: int = 1
    bit_depth_luma: int = 8
    bit_depth_chroma: int = 8
    # H.264: constraint_set flags byte. H.265: unused.
    constraint_flags: int = 0
    # H.265 profile_tier_level fields.
    profile_space: int = 0
    tier_flag: int = 0
    compat_flags: int = 0
    constraint_bytes: bytes = b"\x00" * 6
    max_sub_layers: int = 1
    temporal_id_nesting: bool = True


_H264_HIGH_PROFILES = frozenset({100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135})


def _skip_scaling_list(r: BitReader, size: int) -> None:
    last = nxt = 8
    for _ in range(size):
        if nxt != 0:
            nxt = (last + r.se() + 256) % 256
        last = last if nxt == 0 else nxt


def parse_h264_sps(nal: Buffer) -> SpsInfo:
    """Parse an H.264 SPS NAL (header byte included) for size, profile and level."""
    data = unescape_rbsp(nal)
    if len(data) < 4 or (data[0] & 0x1F) != H264_SPS:
        raise EsError("not an H.264 SPS")
    profile, constraints, level = data[1], data[2], data[3]
    r = BitReader(data[4:])
    r.ue()  # seq_parameter_set_id
    chroma, depth_l, depth_c, separate = 1, 8, 8, False
    if profile in _H264_HIGH_PROFILES:
        chroma = r.ue()
        if chroma > 3:
            raise EsError("bad chroma_format_idc")
        if chroma == 3:
            separate = r.flag()
        depth_l = r.ue() + 8
        depth_c = r.ue() + 8
        r.skip(1)  # qpprime_y_zero_transform_bypass_flag
        if r.flag():  # seq_scaling_matrix_present_flag
            for i in range(8 if chroma != 3 else 12):
                if r.flag():
                    _skip_scaling_list(r, 16 if i < 6 else 64)
    r.ue()  # log2_max_frame_num_minus4
    poc_type = r.ue()
    if poc_type == 0:
        r.ue()
    elif poc_type == 1:
        r.skip(1)
        r.se()
        r.se()
        cycle = r.ue()
        if cycle > 255:
            raise EsError("bad num_ref_frames_in_pic_order_cnt_cycle")
        for _ in range(cycle):
            r.se()
    r.ue()  # max_num_ref_frames
    r.skip(1)  # gaps_in_frame_num_value_allowed_flag
    w_mbs = r.ue() + 1
    h_units = r.ue() + 1
    frame_mbs_only = r.u(1)
    if not frame_mbs_only:
        r.skip(1)  # mb_adaptive_frame_field_flag
    r.skip(1)  # direct_8x8_inference_flag
    width = w_mbs * 16
    height = h_units * 16 * (2 - frame_mbs_only)
    if r.flag():  # frame_cropping_flag
        left, right, top, bottom = r.ue(), r.ue(), r.ue(), r.ue()
        array_type = 0 if separate else chroma
        if array_type == 0:
            cx, cy = 1, 2 - frame_mbs_only
        else:
            sub_w = 1 if chroma == 3 else 2
            sub_h = 2 if chroma == 1 else 1
            cx, cy = sub_w, sub_h * (2 - frame_mbs_only)
        width -= cx * (left + right)
        height -= cy * (top + bottom)
    if width <= 0 or height <= 0:
        raise EsError("bad picture size")
    return SpsInfo(
        codec="h264",
        width=width,
        height=height,
        profile_idc=profile,
        level_idc=level,
        chroma_format_idc=chroma,
        bit_depth_luma=depth_l,
        bit_depth_chroma=depth_c,
        constraint_flags=constraints,
    )


def parse_h265_sps(nal: Buffer) -> SpsInfo:
    """Parse an H.265 SPS NAL (2-byte header included): size, profile/tier/level."""
    data = unescape_rbsp(nal)
    if len(data) < 15 or ((data[0] >> 1) & 0x3F) != H265_SPS:
        raise EsError("not an H.265 SPS")
    r = BitReader(data[2:])
    r.skip(4)  # sps_video_parameter_set_id
    max_sub_layers_minus1 = r.u(3)
    nesting = r.flag()
    # profile_tier_level(1, max_sub_layers_minus1)
    profile_space = r.u(2)
    tier = r.u(1)
    profile_idc = r.u(5)
    compat = r.u(32)
    constraint = r.u(48).to_bytes(6, "big")
    level = r.u(8)
    sub_profile = []
    sub_level = []
    for _ in range(max_sub_layers_minus1):
        sub_profile.append(r.flag())
        sub_level.append(r.flag())
    if max_sub_layers_minus1 > 0:
        r.skip(2 * (8 - max_sub_layers_minus1))
    for i in range(max_sub_layers_minus1):
        if sub_profile[i]:
            r.skip(88)
        if sub_level[i]:
            r.skip(8)
    r.ue()  # sps_seq_parameter_set_id
    chroma = r.ue()
    if chroma > 3:
        raise EsError("bad chroma_format_idc")
    if chroma == 3:
        r.skip(1)
    width = r.ue()
    height = r.ue()
    if r.flag():  # conformance_window_flag
        left, right, top, bottom = r.ue(), r.ue(), r.ue(), r.ue()
        sub_w = 2 if chroma in (1, 2) else 1
        sub_h = 2 if chroma == 1 else 1
        width -= sub_w * (left + right)
        height -= sub_h * (top + bottom)
    depth_l = r.ue() + 8
    depth_c = r.ue() + 8
    if width <= 0 or height <= 0:
        raise EsError("bad picture size")
    return SpsInfo(
        codec="h265",
        width=width,
        height=height,
        profile_idc=profile_idc,
        level_idc=level,
        chroma_format_idc=chroma,
        bit_depth_luma=depth_l,
        bit_depth_chroma=depth_c,
        profile_space=profile_space,
        tier_flag=tier,
        compat_flags=compat,
        constraint_bytes=constraint,
        max_sub_layers=max_sub_layers_minus1 + 1,
        temporal_id_nesting=nesting,
    )


def parse_sps(codec: str, nal: Buffer) -> SpsInfo:
    """Dispatch to the H.264 or H.265 SPS parser."""
    if codec == "h265":
        return parse_h265_sps(nal)
    if codec == "h264":
        return parse_h264_sps(nal)
    raise EsError(f"no SPS parser for {codec}")


# --- MP4 decoder configuration records ------------------------------------------------


def avcc_from_sps_pps(sps: Buffer | list[bytes], pps: Buffer | list[bytes]) -> bytes:
    """AVCDecoderConfigurationRecord (ISO/IEC 14496-15 §5.3.3) for an ``avcC`` box."""
    sps_list = [bytes(s) for s in sps] if isinstance(sps, list) else [bytes(sps)]
    pps_list = [bytes(p) for p in pps] if isinstance(pps, list) else [bytes(pps)]
    if not sps_list or len(sps_list[0]) < 4:
        raise EsError("avcC needs an SPS")
    first = sps_list[0]
    out = bytearray((1, first[1], first[2], first[3], 0xFF, 0xE0 | len(sps_list)))
    for s in sps_list:
        out += struct.pack(">H", len(s)) + s
    out.append(len(pps_list))
    for p in pps_list:
        out += struct.pack(">H", len(p)) + p
    if first[1] in (100, 110, 122, 144):
        info = parse_h264_sps(first)
        out += bytes(
            (
                0xFC | info.chroma_format_idc,
                0xF8 | (info.bit_depth_luma - 8),
                0xF8 | (info.bit_depth_chroma - 8),
                0,
            )
        )
    return bytes(out)


def hvcc_from_vps_sps_pps(vps: Buffer, sps: Buffer, pps: Buffer) -> bytes:
    """HEVCDecoderConfigurationRecord (ISO/IEC 14496-15 §8.3.3) for an ``hvcC`` box."""
    info = parse_h265_sps(sps)
    out = bytearray()
    out.append(1)
    out.append((info.profile_space << 6) | (info.tier_flag << 5) | info.profile_idc)
    out += struct.pack(">I", info.compat_flags)
    out += info.constraint_bytes
    out.append(info.level_idc)
    out += struct.pack(">H", 0xF000)  # min_spatial_segmentation_idc = 0
    out.append(0xFC)  # parallelismType = 0
    out.append(0xFC | info.chroma_format_idc)
    out.append(0xF8 | (info.bit_depth_luma - 8))
    out.append(0xF8 | (info.bit_depth_chroma - 8))
    out += struct.pack(">H", 0)  # avgFrameRate
    # constantFrameRate 0, numTemporalLayers, temporalIdNested, lengthSizeMinusOne 3
    out.append((info.max_sub_layers << 3) | (int(info.temporal_id_nesting) << 2) | 3)
    out.append(3)
    for t, nal in ((H265_VPS, vps), (H265_SPS, sps), (H265_PPS, pps)):
        raw = bytes(nal)
        out.append(0x80 | t)  # array_completeness = 1
        out += struct.pack(">HH", 1, len(raw))
        out += raw
    return bytes(out)


def codec_string(info: SpsInfo) -> str:
    """RFC 6381 codec string for MSE ``isTypeSupported`` (``avc1.64001f``, ``hvc1.1.6.L93.B0``)."""
    if info.codec == "h264":
        return f"avc1.{info.profile_idc:02x}{info.constraint_flags:02x}{info.level_idc:02x}"
    space = ("", "A", "B", "C")[info.profile_space]
    compat_rev = int(f"{info.compat_flags:032b}"[::-1], 2)
    tier = "H" if info.tier_flag else "L"
    cons = info.constraint_bytes.rstrip(b"\x00")
    parts = [f"hvc1.{space}{info.profile_idc}", f"{compat_rev:X}", f"{tier}{info.level_idc}"]
    parts.extend(f"{b:X}" for b in cons)
    return ".".join(parts)
