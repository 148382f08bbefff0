"""Recognise what a camera puts in its RTP payloads and turn it into access units.

GB/T 28181 says PS (PT 96), but devices also send MPEG-TS (PT 33, RFC 2250), raw
H.264 (PT 98, RFC 6184) or raw H.265 (RFC 7798) and SDP payload types are not
always truthful, so the payload bytes decide. :class:`PayloadDepacketizer` holds
the first payloads until the format is clear, then replays them through the
matching depacketizer; afterwards every payload goes straight through.
"""

from __future__ import annotations

import struct
from typing import Literal

from .es import Buffer, EsFrame, is_keyframe, iter_nals
from .ps import PsDemuxer, PsError
from .ts import TS_PACKET, TsDemuxer

PayloadFormat = Literal["ps", "ts", "h264", "h265", "annexb"]

_U16 = struct.Struct("!H")
_SC4 = b"\x00\x00\x00\x01"
_NAL_VOTES = 4


class DepacketizeError(ValueError):
    """Raised only for misuse (unknown forced format); bad payloads are counted."""


# --- classification ----------------------------------------------------------------


def _is_ts(p: Buffer) -> bool:
    n = len(p)
    if n < TS_PACKET or n % TS_PACKET or p[0] != 0x47:
        return False
    return all(p[i] == 0x47 for i in range(0, n, TS_PACKET))


def _h264_score(p: Buffer) -> int:
    """Plausibility of an RFC 6184 payload (0 = impossible)."""
    b0 = p[0]
    if b0 & 0x80:
        return 0
    t = b0 & 0x1F
    nri = b0 & 0x60
    if t in (7, 8, 5):
        return 3 if nri else 0
    if t == 28 and len(p) >= 2:  # FU-A
        fu = p[1]
        if fu & 0x20 or (fu & 0xC0) == 0xC0:
            return 0
        ft = fu & 0x1F
        return 3 if ft in (1, 5) else (1 if 1 <= ft <= 23 else 0)
    if t == 24 and len(p) >= 3:  # STAP-A: sizes must add up
        q, n = 1, len(p)
        while q + 2 <= n:
            size = _U16.unpack_from(p, q)[0]
            if size == 0:
                return 0
            q += 2 + size
        return 3 if q == n else 0
    if t in (1, 6, 9):
        return 1
    return 0


def _h265_score(p: Buffer) -> int:
    """Plausibility of an RFC 7798 payload (0 = impossible)."""
    if len(p) < 3:
        return 0
    b0, b1 = p[0], p[1]
    if b0 & 0x80 or b0 & 0x01 or b1 >> 3 or not b1 & 0x07:
        return 0  # forbidden bit, layer id != 0, temporal id 0
    t = (b0 >> 1) & 0x3F
    if t in (32, 33, 34) or 16 <= t <= 21:
        return 3
    if t == 49:  # FU
        ft = p[2] & 0x3F
        if (p[2] & 0xC0) == 0xC0:
            return 0
        return 3 if ft <= 21 else 0
    if t == 48:  # AP
        q, n = 2, len(p)
        while q + 2 <= n:
            size = _U16.unpack_from(p, q)[0]
            if size == 0:
                return 0
            q += 2 + size
        return 3 if q == n else 0
    if t <= 9 or t in (35, 39, 40):
        return 1
    return 0


def classify_payload(payload: Buffer, pt: int | None = None) -> PayloadFormat | None:
    """Best guess for one payload, or None when this payload alone cannot tell."""
    n = len(payload)
    if n >= 4 and payload[0] == 0 and payload[1] == 0:
        if payload[2] == 1 and (payload[3] in (0xBA, 0xBB, 0xBC) or 0xC0 <= payload[3] <= 0xEF):
            return "ps"
        if (payload[2] == 1 and payload[3] < 0x80) or (
            n >= 5 and payload[2] == 0 and payload[3] == 1 and payload[4] < 0x80
        ):
            return "annexb"
    if _is_ts(payload):
        return "ts"
    if n < 2:
        return None
    s264 = _h264_score(payload)
    s265 = _h265_score(payload)
    if pt == 98 and s264:
        s264 += 1
    if s264 >= 3 and s264 > s265:
        return "h264"
    if s265 >= 3 and s265 > s264:
        return "h265"
    return None


# --- RTP timestamp unwrap -----------------------------------------------------------


class _Unwrap32:
    __slots__ = ("_ext", "_raw")

    def __init__(self) -> None:
        self._raw = -1
        self._ext = 0

    def __call__(self, raw: int) -> int:
        if self._raw < 0:
            self._ext = raw
        else:
            self._ext += (raw - self._raw + (1 << 31)) % (1 << 32) - (1 << 31)
        self._raw = raw
        return self._ext


# --- raw ES depacketizers -------------------------------------------------------------


class _NalDepacketizer:
    """Common frame assembly for RFC 6184 / RFC 7798 / plain Annex-B chunks.

    NAL units of one RTP timestamp form one access unit, closed by the marker bit or
    a timestamp change. A fragmented NAL with a missing piece is dropped.
    """

    codec = "h264"

    def __init__(self, max_frame: int = 4 * 1024 * 1024) -> None:
        self._au = bytearray()
        self._ts: int | None = None
        self._frag_start = -1  # offset in _au where the open fragmented NAL begins
        self._max = max_frame
        self._unwrap = _Unwrap32()
        self.stats: dict[str, int] = {"frames": 0, "bad_payloads": 0, "dropped_fragments": 0}

    def push(self, payload: Buffer, marker: bool, ts: int, gap: bool = False) -> list[EsFrame]:
        out: list[EsFrame] = []
        if self._ts is not None and ts != self._ts:
            self._close(out)
        if gap and self._frag_start >= 0:
            self._abort_fragment()
        self._ts = ts
        if payload:
            self._payload(payload)
            if len(self._au) > self._max:
                self.stats["bad_payloads"] += 1
                self._au.clear()
                self._frag_start = -1
        if marker:
            self._close(out)
        return out

    def flush(self) -> list[EsFrame]:
        out: list[EsFrame] = []
        self._close(out)
        return out

    def _abort_fragment(self) -> None:
        del self._au[self._frag_start :]
        self._frag_start = -1
        self.stats["dropped_fragments"] += 1

    def _close(self, out: list[EsFrame]) -> None:
        if self._frag_start >= 0:
            self._abort_fragment()
        if self._au and self._ts is not None:
            data = bytes(self._au)
            pts = self._unwrap(self._ts)
            self.stats["frames"] += 1
            out.append(EsFrame("video", self.codec, pts, pts, data, is_keyframe(self.codec, data)))
        self._au.clear()

    def _payload(self, p: Buffer) -> None:
        raise NotImplementedError


class H264Depacketizer(_NalDepacketizer):
    """RFC 6184: single NAL units, STAP-A and FU-A (non-interleaved mode)."""

    codec = "h264"

    def _payload(self, p: Buffer) -> None:
        au = self._au
        t = p[0] & 0x1F
        if 1 <= t <= 23:
            if self._frag_start >= 0:
                self._abort_fragment()
            au += _SC4
            au += p
        elif t == 28:
            if len(p) < 3:
                self.stats["bad_payloads"] += 1
                return
            fu = p[1]
            if fu & 0x80:
                if self._frag_start >= 0:
                    self._abort_fragment()
                self._frag_start = len(au)
                au += _SC4
                au.append((p[0] & 0xE0) | (fu & 0x1F))
            elif self._frag_start < 0:
                self.stats["dropped_fragments"] += 1
                return
            au += memoryview(p)[2:]
            if fu & 0x40:
                self._frag_start = -1
        elif t == 24:
            self._aggregate(p, 1)
        else:
            self.stats["bad_payloads"] += 1

    def _aggregate(self, p: Buffer, q: int) -> None:
        n = len(p)
        mv = memoryview(p)
        au = self._au
        while q + 2 <= n:
            size = (p[q] << 8) | p[q + 1]
            q += 2
            if size == 0 or q + size > n:
                self.stats["bad_payloads"] += 1
                return
            au += _SC4
            au += mv[q : q + size]
            q += size


class H265Depacketizer(H264Depacketizer):
    """RFC 7798: single NAL units, aggregation packets (48) and FUs (49); no DONL."""

    codec = "h265"

    def _payload(self, p: Buffer) -> None:
        if len(p) < 3:
            self.stats["bad_payloads"] += 1
            return
        au = self._au
        t = (p[0] >> 1) & 0x3F
        if t < 48:
            if self._frag_start >= 0:
                self._abort_fragment()
            au += _SC4
            au += p
        elif t == 49:
            fu = p[2]
            if fu & 0x80:
                if self._frag_start >= 0:
                    self._abort_fragment()
                self._frag_start = len(au)
                au += _SC4
                au.append((p[0] & 0x81) | ((fu & 0x3F) << 1))
                au.append(p[1])
            elif self._frag_start < 0:
                self.stats["dropped_fragments"] += 1
                return
            au += memoryview(p)[3:]
            if fu & 0x40:
                self._frag_start = -1
        elif t == 48:
            self._aggregate(p, 2)
        else:
            self.stats["bad_payloads"] += 1  # PACI and reserved types


class AnnexBDepacketizer(_NalDepacketizer):
    """Plain Annex-B byte stream cut into RTP payloads (seen on some encoders)."""

    def __init__(self, codec: str = "h264", max_frame: int = 4 * 1024 * 1024) -> None:
        super().__init__(max_frame)
        self.codec = codec

    def _payload(self, p: Buffer) -> None:
        self._au += p


# --- packetizer (the sending side, for simulators and tests) ----------------------------


def nal_payloads(codec: str, au: Buffer, *, mtu: int = 1400) -> list[bytes]:
    """RTP payloads for one Annex-B AU (RFC 6184 / RFC 7798, non-interleaved).

    Small consecutive NAL units are aggregated (STAP-A / AP), large ones fragmented
    (FU-A / FU); ``mtu`` bounds the payload size. Set the marker on the last one.
    """
    h265 = codec == "h265"
    hdr = 2 if h265 else 1
    room = mtu - 12
    if room < hdr + 3:
        raise ValueError("mtu too small")
    out: list[bytes] = []
    group: list[bytes] = []

    def flush_group() -> None:
        if len(group) == 1:
            out.append(group[0])
        elif group:
            if h265:
                lead = bytes((48 << 1, group[0][1]))
            else:
                lead = bytes((max(g[0] & 0x60 for g in group) | 24,))
            out.append(lead + b"".join(_U16.pack(len(g)) + g for g in group))
        group.clear()

    for view in iter_nals(au):
        nal = bytes(view)
        size = len(nal)
        if size <= room:
            if group and hdr + sum(2 + len(g) for g in group) + 2 + size > room:
                flush_group()
            group.append(nal)
            continue
        flush_group()
        body = memoryview(nal)[hdr:]
        if h265:
            t = (nal[0] >> 1) & 0x3F
            lead = bytes(((nal[0] & 0x81) | (49 << 1), nal[1]))
        else:
            t = nal[0] & 0x1F
            lead = bytes(((nal[0] & 0xE0) | 28,))
        step = room - len(lead) - 1
        for off in range(0, len(body), step):
            flags = (0x80 if off == 0 else 0) | (0x40 if off + step >= len(body) else 0)
            out.append(lead + bytes((flags | t,)) + body[off : off + step])
    flush_group()
    return out


# --- front door -------------------------------------------------------------------------


class PayloadDepacketizer:
    """In-order RTP payloads (from :class:`~sharpeyes.media.rtp.RtpReceiver`) → EsFrames.

    ``fmt`` forces a format ("ps", "ts", "h264", "h265", "annexb"); otherwise it is
    detected from up to ``probe_packets`` payloads (held and replayed), with the RTP
    payload type as a tie-breaker and the last resort (96 → PS, 33 → TS, 98 → H.264).
    ``push`` never raises on bad payloads; look at :attr:`stats`.
    """

    def __init__(
        self, fmt: PayloadFormat | None = None, *, pt: int | None = None, probe_packets: int = 64
    ) -> None:
        self.pt = pt
        self.format: PayloadFormat | None = None
        self._probe: list[tuple[bytes, bool, int, bool]] = []
        self._probe_max = probe_packets
        self._votes: dict[PayloadFormat, int] = {}
        self._ps: PsDemuxer | None = None
        self._ts: TsDemuxer | None = None
        self._nal: _NalDepacketizer | None = None
        self.stats: dict[str, int] = {"undetected": 0, "errors": 0}
        if fmt is not None:
            self._select(fmt)

    def _select(self, fmt: PayloadFormat) -> None:
        if fmt == "ps":
            self._ps = PsDemuxer()
        elif fmt == "ts":
            self._ts = TsDemuxer()
        elif fmt == "h264":
            self._nal = H264Depacketizer()
        elif fmt == "h265":
            self._nal = H265Depacketizer()
        elif fmt == "annexb":
            self._nal = AnnexBDepacketizer()
        else:
            raise DepacketizeError(f"unknown payload format {fmt!r}")
        self.format = fmt

    @property
    def demuxer_stats(self) -> dict[str, int]:
        inner = self._ps or self._ts or self._nal
        return dict(inner.stats) if inner is not None else {}

    def push(
        self, payload: Buffer, marker: bool = False, ts: int = 0, gap: bool = False
    ) -> list[EsFrame]:
        """One in-order payload; ``gap`` = packets were lost right before it."""
        ps = self._ps
        if ps is not None:  # the GB common case first, without another call
            if gap:
                ps.discontinuity()
            try:
                return ps.feed(payload, marker)
            except PsError:
                self.stats["errors"] += 1
                return []
        if self.format is None:
            return self._detect(payload, marker, ts, gap)
        return self._dispatch(payload, marker, ts, gap)

    def flush(self) -> list[EsFrame]:
        if self._ps is not None:
            return self._ps.flush()
        if self._ts is not None:
            return self._ts.flush()
        if self._nal is not None:
            return self._nal.flush()
        return []

    def _dispatch(self, payload: Buffer, marker: bool, ts: int, gap: bool) -> list[EsFrame]:
        ps = self._ps
        if ps is not None:
            if gap:
                ps.discontinuity()
            try:
                return ps.feed(payload, marker)
            except PsError:
                self.stats["errors"] += 1
                return []
        tsd = self._ts
        if tsd is not None:
            if gap:
                tsd.discontinuity()
            return tsd.feed(payload)
        assert self._nal is not None
        try:
            return self._nal.push(payload, marker, ts, gap)
        except (IndexError, ValueError):
            self.stats["errors"] += 1
            return []

    def _detect(self, payload: Buffer, marker: bool, ts: int, gap: bool) -> list[EsFrame]:
        guess = classify_payload(payload, self.pt)
        self._probe.append((bytes(payload), marker, ts, gap))
        if guess is not None:
            votes = self._votes[guess] = self._votes.get(guess, 0) + 1
            # Container formats are unmistakable at once. A payload from the middle
            # of a PS frame can look like an H.264 NAL by chance (a few percent), so
            # raw NAL formats need several votes while no PS/TS start has shown up.
            if guess in ("ps", "ts") or votes >= _NAL_VOTES:
                return self._decide(guess)
        if len(self._probe) >= self._probe_max:
            fallback: PayloadFormat | None = None
            if self._votes:
                fallback = max(self._votes.items(), key=lambda kv: kv[1])[0]
            elif self.pt in (96, 33, 98):
                fallback = {96: "ps", 33: "ts", 98: "h264"}[self.pt]  # type: ignore[assignment]
            if fallback is None:
                self.stats["undetected"] += len(self._probe)
                self._probe.clear()
                return []
            return self._decide(fallback)
        return []

    def _decide(self, fmt: PayloadFormat) -> list[EsFrame]:
        self._select(fmt)
        out: list[EsFrame] = []
        probe, self._probe = self._probe, []
        for payload, marker, ts, gap in probe:
            out.extend(self._dispatch(payload, marker, ts, gap))
        return out
