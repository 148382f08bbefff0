"""Fragmented MP4 (ISO BMFF) writer for MSE players and fMP4 HLS.

Written by hand rather than with PyAV because it runs per frame on the live path:
an init segment (ftyp+moov with avc1/avcC or hvc1/hvcC and mvex/trex) once, then a
moof+mdat per group of frames. Samples are the access units converted from Annex-B
to 4-byte length prefixes; AUD and (by default) parameter-set NAL units are left out
because the sample entry already carries them.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from .es import (
    EsFrame,
    SpsInfo,
    annexb_to_lengthprefixed,
    avcc_from_sps_pps,
    codec_string,
    hvcc_from_vps_sps_pps,
    parameter_sets,
    parse_sps,
)

_U32 = struct.Struct(">I")
_MATRIX = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)

# moof [mfhd] [traf [tfhd] [tfdt v1] [trun: one sample's duration, size, flags]] + mdat header
_ONE_SAMPLE = struct.Struct(
    ">" + "I4s" + "I4sII" + "I4s" + "I4sII" + "I4sIQ" + "I4sIIi" + "III" + "I4s"
)
_ONE_MOOF = 8 + 16 + 8 + 16 + 20 + 32

SYNC_SAMPLE_FLAGS = 0x02000000  # sample_depends_on = 2 (independent)
NON_SYNC_SAMPLE_FLAGS = 0x01010000  # depends_on = 1, is_non_sync_sample

_DROP = {"h264": frozenset({7, 8, 9}), "h265": frozenset({32, 33, 34, 35})}
_DROP_AUD = {"h264": frozenset({9}), "h265": frozenset({35})}


def box(kind: bytes, *payload: bytes) -> bytes:
    body = b"".join(payload)
    return _U32.pack(8 + len(body)) + kind + body


def full_box(kind: bytes, version: int, flags: int, *payload: bytes) -> bytes:
    return box(kind, _U32.pack((version << 24) | flags), *payload)


class Fmp4Error(ValueError):
    """Missing or unusable parameter sets."""


class Fmp4Writer:
    """One video track, fragmented: ``init_segment()`` once, ``fragment(frames)`` per GOP/frame.

    Timestamps come in 90 kHz (``EsFrame.pts``/``dts``) and are rescaled to
    ``timescale``. The decode timeline starts at 0 and stays continuous: a jump of
    more than ``max_gap`` seconds in the source (camera restart, wrap) is absorbed.
    """

    def __init__(
        self,
        codec: str,
        width: int | None = None,
        height: int | None = None,
        *,
        sps: bytes,
        pps: bytes,
        vps: bytes | None = None,
        timescale: int = 90000,
        track_id: int = 1,
        default_duration: int | None = None,
        strip_parameter_sets: bool = True,
        max_gap: float = 10.0,
    ) -> None:
        if codec not in ("h264", "h265"):
            raise Fmp4Error(f"fMP4 writer supports h264/h265, not {codec!r}")
        if codec == "h265" and vps is None:
            raise Fmp4Error("H.265 needs a VPS")
        try:
            self.info: SpsInfo = parse_sps(codec, sps)
            config = (
                avcc_from_sps_pps(sps, pps)
                if codec == "h264"
                else hvcc_from_vps_sps_pps(vps or b"", sps, pps)
            )
        except ValueError as exc:
            raise Fmp4Error(f"bad parameter sets: {exc}") from exc
        self.codec = codec
        self.width = width or self.info.width
        self.height = height or self.info.height
        self.timescale = timescale
        self.track_id = track_id
        self._config = config
        self._drop = (_DROP if strip_parameter_sets else _DROP_AUD)[codec]
        self._seq = 0
        self._default = default_duration or timescale // 25
        self._last_duration = self._default
        self._origin: int | None = None  # source 90 kHz time mapped to decode time 0
        self._next_dts = 0  # decode time (timescale units) expected next
        self._max_gap = int(max_gap * timescale)

    @classmethod
    def from_keyframe(cls, codec: str, au: bytes, **kwargs: object) -> Fmp4Writer:
        """Build a writer from the parameter sets found in a keyframe AU."""
        ps = parameter_sets(codec, au)
        if "sps" not in ps or "pps" not in ps or (codec == "h265" and "vps" not in ps):
            raise Fmp4Error("keyframe carries no complete parameter sets")
        return cls(codec, sps=ps["sps"], pps=ps["pps"], vps=ps.get("vps"), **kwargs)  # type: ignore[arg-type]

    @property
    def mime_codec(self) -> str:
        """RFC 6381 codec string, e.g. ``avc1.64001f`` or ``hvc1.1.6.L93.B0``."""
        return codec_string(self.info)

    @property
    def mime_type(self) -> str:
        return f'video/mp4; codecs="{self.mime_codec}"'

    # -- init segment ----------------------------------------------------------------

    def init_segment(self) -> bytes:
        ts = self.timescale
        ftyp = box(b"ftyp", b"iso5", _U32.pack(512), b"iso5iso6mp41")
        mvhd = full_box(
            b"mvhd",
            0,
            0,
            struct.pack(">IIII", 0, 0, ts, 0),
            struct.pack(">IH", 0x00010000, 0x0100),
            bytes(10),
            _MATRIX,
            bytes(24),
            _U32.pack(self.track_id + 1),
        )
        tkhd = full_box(
            b"tkhd",
            0,
            3,
            struct.pack(">IIIII", 0, 0, self.track_id, 0, 0),
            bytes(8),
            struct.pack(">hhhH", 0, 0, 0, 0),
            _MATRIX,
            struct.pack(">II", self.width << 16, self.height << 16),
        )
        mdhd = full_box(b"mdhd", 0, 0, struct.pack(">IIIIHH", 0, 0, ts, 0, 0x55C4, 0))
        hdlr = full_box(b"hdlr", 0, 0, bytes(4), b"vide", bytes(12), b"VideoHandler\x00")
        vmhd = full_box(b"vmhd", 0, 1, bytes(8))
        dinf = box(b"dinf", full_box(b"dref", 0, 0, _U32.pack(1), full_box(b"url ", 0, 1)))
        stbl = box(
            b"stbl",
            full_box(b"stsd", 0, 0, _U32.pack(1), self._sample_entry()),
            full_box(b"stts", 0, 0, _U32.pack(0)),
            full_box(b"stsc", 0, 0, _U32.pack(0)),
            full_box(b"stsz", 0, 0, _U32.pack(0), _U32.pack(0)),
            full_box(b"stco", 0, 0, _U32.pack(0)),
        )
        minf = box(b"minf", vmhd, dinf, stbl)
        trak = box(b"trak", tkhd, box(b"mdia", mdhd, hdlr, minf))
        trex = full_box(b"trex", 0, 0, struct.pack(">IIIII", self.track_id, 1, 0, 0, 0))
        moov = box(b"moov", mvhd, trak, box(b"mvex", trex))
        return ftyp + moov

    def _sample_entry(self) -> bytes:
        name = b"sharpeyes"
        compressor = bytes((len(name),)) + name + bytes(31 - len(name))
        body = (
            bytes(6)
            + struct.pack(">H", 1)  # data_reference_index
            + bytes(16)
            + struct.pack(">HH", self.width, self.height)
            + struct.pack(">II", 0x00480000, 0x00480000)
            + bytes(4)
            + struct.pack(">H", 1)  # frame_count
            + compressor
            + struct.pack(">Hh", 0x0018, -1)
        )
        if self.codec == "h264":
            return box(b"avc1", body, box(b"avcC", self._config))
        return box(b"hvc1", body, box(b"hvcC", self._config))

    # -- fragments -------------------------------------------------------------------

    def _scale(self, t: int) -> int:
        ts = self.timescale
        return t if ts == 90000 else t * ts // 90000

    def fragment(self, frames: Sequence[EsFrame], *, end_dts: int | None = None) -> bytes:
        """moof+mdat for ``frames`` (video frames in decode order; others are ignored).

        Each sample lasts until the next frame's DTS; the last one until ``end_dts``
        (the next frame's DTS, when the caller knows it) or as long as the previous.
        """
        video = [f for f in frames if f.stream == "video"]
        if not video:
            return b""
        dts_src: list[int | None] = [f.dts if f.dts is not None else f.pts for f in video]
        samples: list[bytes] = []
        sizes: list[int] = []
        flags: list[int] = []
        ctos: list[int] = []
        for f in video:
            data = annexb_to_lengthprefixed(f.data, drop_types=self._drop, codec=self.codec)
            samples.append(data)
            sizes.append(len(data))
            flags.append(SYNC_SAMPLE_FLAGS if f.keyframe else NON_SYNC_SAMPLE_FLAGS)
            if f.pts is not None and f.dts is not None:
                ctos.append(self._scale(f.pts) - self._scale(f.dts))
            else:
                ctos.append(0)
        durations = self._durations(dts_src, end_dts)
        first = dts_src[0]
        if first is not None:
            t0 = self._scale(first)
            if self._origin is None:
                self._origin = t0
            base = t0 - self._origin
            if abs(base - self._next_dts) > self._max_gap or base < 0:
                self._origin = t0 - self._next_dts
                base = self._next_dts
        else:
            base = self._next_dts
        self._next_dts = base + sum(durations)
        self._seq += 1
        return self._moof_mdat(base, samples, sizes, durations, flags, ctos)

    def _durations(self, dts: list[int | None], end_dts: int | None) -> list[int]:
        out: list[int] = []
        n = len(dts)
        limit = self.timescale * 10
        for i in range(n):
            nxt = dts[i + 1] if i + 1 < n else end_dts
            cur = dts[i]
            d = -1
            if nxt is not None and cur is not None:
                d = self._scale(nxt) - self._scale(cur)
            if not 0 < d <= limit:
                d = self._last_duration
            else:
                self._last_duration = d
            out.append(d)
        return out

    def _moof_mdat(
        self,
        base: int,
        samples: list[bytes],
        sizes: list[int],
        durations: list[int],
        flags: list[int],
        ctos: list[int],
    ) -> bytes:
        count = len(samples)
        has_cto = any(ctos)
        if count == 1 and not has_cto:
            # The live path (one frame per fragment, no B-frames): the same boxes as
            # below, packed by one precompiled struct instead of eight box() calls.
            size = sizes[0]
            return (
                _ONE_SAMPLE.pack(
                    _ONE_MOOF,
                    b"moof",
                    16,
                    b"mfhd",
                    0,
                    self._seq,
                    _ONE_MOOF - 24,
                    b"traf",
                    16,
                    b"tfhd",
                    0x020000,
                    self.track_id,
                    20,
                    b"tfdt",
                    0x01000000,
                    base,
                    32,
                    b"trun",
                    0x000701,
                    1,
                    _ONE_MOOF + 8,
                    durations[0],
                    size,
                    flags[0],
                    8 + size,
                    b"mdat",
                )
                + samples[0]
            )
        return self._moof_mdat_generic(base, samples, sizes, durations, flags, ctos)

    def _moof_mdat_generic(
        self,
        base: int,
        samples: list[bytes],
        sizes: list[int],
        durations: list[int],
        flags: list[int],
        ctos: list[int],
    ) -> bytes:
        count = len(samples)
        has_cto = any(ctos)
        trun_flags = 0x000001 | 0x000100 | 0x000200 | 0x000400 | (0x000800 if has_cto else 0)
        if has_cto:
            entries = b"".join(
                struct.pack(">IIIi", d, s, fl, c)
                for d, s, fl, c in zip(durations, sizes, flags, ctos, strict=True)
            )
        else:
            entries = b"".join(
                struct.pack(">III", d, s, fl)
                for d, s, fl in zip(durations, sizes, flags, strict=True)
            )
        trun_size = 8 + 4 + 8 + len(entries)
        tfhd = full_box(b"tfhd", 0, 0x020000, _U32.pack(self.track_id))
        tfdt = full_box(b"tfdt", 1, 0, struct.pack(">Q", base))
        traf_size = 8 + len(tfhd) + len(tfdt) + trun_size
        mfhd = full_box(b"mfhd", 0, 0, _U32.pack(self._seq))
        moof_size = 8 + len(mfhd) + traf_size
        data_offset = moof_size + 8
        trun = full_box(
            b"trun",
            1 if has_cto else 0,
            trun_flags,
            struct.pack(">Ii", count, data_offset),
            entries,
        )
        moof = box(b"moof", mfhd, box(b"traf", tfhd, tfdt, trun))
        payload = b"".join(samples)
        return moof + _U32.pack(8 + len(payload)) + b"mdat" + payload

    @property
    def origin(self) -> int | None:
        """Source time (timescale units) that decode time 0 stands for; None before use."""
        return self._origin

    @property
    def decode_time(self) -> int:
        """Decode time (timescale units) where the next fragment will start."""
        return self._next_dts
