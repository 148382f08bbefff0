"""Incremental MPEG-2 Program Stream demuxer for GB/T 28181 (Appendix C).

GB devices send one PS pack per video frame; keyframe packs carry a system header
and a PSM that maps stream ids to stream types (0x1B H.264, 0x24 H.265, 0x90 G.711A…).
Other producers (FFmpeg's ``-f mpeg``, old DVRs) split frames over several packs or
PES packets, write MPEG-1 pack/PES headers or no PSM at all, so the frame boundary
is decided by PTS: a video PES with a new PTS starts a new access unit, a PES with
the same or no PTS continues it. With no PTS at all, a pack header separates frames.

Bytes are accumulated in one ``bytearray`` and parsed in place; a unit is only
parsed once it is complete. Damage is skipped and counted, never raised:
garbage is skipped up to the next pack header (``resyncs``/``dropped_bytes``), and
a PES that swallows the next pack header (a truncated pack) is cut there.
"""

from __future__ import annotations

from typing import Literal

from .es import Buffer, EsFrame, guess_video_codec, is_keyframe

MAX_FRAME_SIZE = 2 * 1024 * 1024

PACK_START = b"\x00\x00\x01\xba"

# PSM stream_type → codec name (ISO/IEC 13818-1 Table 2-34 + GB/T 28181 Appendix C).
STREAM_TYPES: dict[int, tuple[Literal["video", "audio"], str]] = {
    0x01: ("video", "mpeg1"),
    0x02: ("video", "mpeg2"),
    0x10: ("video", "mpeg4"),
    0x1B: ("video", "h264"),
    0x24: ("video", "h265"),
    0x80: ("video", "svac"),
    0x03: ("audio", "mp3"),
    0x04: ("audio", "mp3"),
    0x0F: ("audio", "aac"),
    0x90: ("audio", "pcma"),
    0x91: ("audio", "pcmu"),
    0x92: ("audio", "g722"),
    0x93: ("audio", "g723"),
    0x99: ("audio", "g729"),
    0x9B: ("audio", "svac-audio"),
}
CODEC_STREAM_TYPES = {
    "h264": 0x1B,
    "h265": 0x24,
    "mpeg4": 0x10,
    "svac": 0x80,
    "pcma": 0x90,
    "pcmu": 0x91,
    "aac": 0x0F,
}

_WRAP33 = 1 << 33
_HALF33 = 1 << 32


class PsError(ValueError):
    """The PS demuxer hit an internal inconsistency (its state was reset)."""


def read_pes_timestamp(buf: Buffer, off: int) -> int:
    """Decode the 5-byte 33-bit PTS/DTS field at ``off`` (marker bits not checked)."""
    return (
        ((buf[off] >> 1) & 0x07) << 30
        | buf[off + 1] << 22
        | (buf[off + 2] >> 1) << 15
        | buf[off + 3] << 7
        | buf[off + 4] >> 1
    )


def parse_pes_header(buf: Buffer, pos: int, end: int) -> tuple[int, int | None, int | None]:
    """Parse a PES header (MPEG-2 or MPEG-1 syntax) starting at its start code.

    Returns ``(payload_offset, pts, dts)``; raises IndexError/ValueError if malformed.
    """
    p = pos + 6
    if p >= end:
        raise ValueError("empty PES")
    b = buf[p]
    if b & 0xC0 == 0x80:  # MPEG-2 PES header
        if p + 3 > end:
            raise ValueError("short PES header")
        flags = buf[p + 1]
        payload = p + 3 + buf[p + 2]
        if payload > end:
            raise ValueError("PES header longer than the packet")
        pts = dts = None
        if flags & 0x80:
            if p + 8 > payload:
                raise ValueError("PTS outside the header")
            pts = read_pes_timestamp(buf, p + 3)
            if flags & 0x40:
                if p + 13 > payload:
                    raise ValueError("DTS outside the header")
                dts = read_pes_timestamp(buf, p + 8)
        return payload, pts, dts
    # MPEG-1 (ISO 11172-1) packet header: stuffing, STD buffer, timestamps.
    stuffing = 0
    while b == 0xFF:
        stuffing += 1
        p += 1
        if stuffing > 16 or p >= end:
            raise ValueError("too much PES stuffing")
        b = buf[p]
    if b & 0xC0 == 0x40:
        p += 2
        if p >= end:
            raise ValueError("short PES header")
        b = buf[p]
    if b & 0xF0 == 0x20:
        if p + 5 > end:
            raise ValueError("short PTS")
        return p + 5, read_pes_timestamp(buf, p), None
    if b & 0xF0 == 0x30:
        if p + 10 > end:
            raise ValueError("short PTS/DTS")
        return p + 10, read_pes_timestamp(buf, p), read_pes_timestamp(buf, p + 5)
    if b == 0x0F:
        return p + 1, None, None
    raise ValueError("bad MPEG-1 packet header")


def parse_psm(buf: Buffer, pos: int, end: int) -> dict[int, int]:
    """Parse a program stream map unit at ``pos``: ``{stream_id: stream_type}``."""
    p = pos + 6
    if end - p < 10:
        raise ValueError("short PSM")
    info_len = (buf[p + 2] << 8) | buf[p + 3]
    q = p + 4 + info_len
    if q + 2 > end:
        raise ValueError("PSM info overruns")
    map_len = (buf[q] << 8) | buf[q + 1]
    q += 2
    map_end = min(q + map_len, end - 4)
    out: dict[int, int] = {}
    while q + 4 <= map_end:
        stype, sid = buf[q], buf[q + 1]
        q += 4 + ((buf[q + 2] << 8) | buf[q + 3])
        out[sid] = stype
    return out


class _Unwrap33:
    """Turn 33-bit wrapping 90 kHz timestamps into a monotonic-ish integer line."""

    __slots__ = ("_ext", "_raw")

    def __init__(self) -> None:
        self._raw = -1
        self._ext = 0

    def __call__(self, raw: int | None) -> int | None:
        if raw is None:
            return None
        if self._raw < 0:
            self._raw = raw
            self._ext = raw
            return raw
        diff = (raw - self._raw + _HALF33) % _WRAP33 - _HALF33
        self._raw = raw
        self._ext += diff
        return self._ext


class _PtsMark:
    """A PES timestamp and where its payload starts in the ES buffer (NAL mode)."""

    __slots__ = ("dts", "offset", "pts", "used")

    def __init__(self, offset: int, pts: int, dts: int | None) -> None:
        self.offset = offset
        self.pts = pts
        self.dts = dts
        self.used = False


class PsDemuxer:
    """Feed PS bytes (RTP payloads in order), get complete access units out.

    ``feed(data, end_of_frame=True)`` (the RTP marker bit) emits the pending video
    frame at once instead of when the next frame starts; if a stream turns out to set
    the marker mid-frame, this is switched off by itself (``stats["marker_split"]``).
    Call :meth:`discontinuity` when RTP packets were lost: the partial unit and the
    partial frame are dropped and parsing resumes at the next pack header.
    """

    def __init__(self, *, max_frame_size: int = MAX_FRAME_SIZE) -> None:
        self._buf = bytearray()
        self._need = 0  # don't re-parse until the buffer holds this many bytes
        self._scan = 0  # where the truncation scan of the waiting unit resumes
        self._synced = False
        self._max_frame = max_frame_size
        self.stream_types: dict[int, int] = {}
        self._codecs: dict[int, str] = {}
        self._video_sid = -1
        # Current access unit. PES mode: payloads of its PES packets. NAL mode: ES
        # bytes from its first NAL on (the next AU's start is cut off when found).
        self._au = bytearray()
        self._au_pts: int | None = None
        self._au_dts: int | None = None
        self._au_open = False
        self._au_bad = False
        self._nal_mode = False
        self._au_vcl = False  # NAL mode: the AU has a slice, the next AU start ends it
        self._au_key = False
        self._nal_scan = 0  # NAL mode: where the start-code scan resumes
        self._pes_base = 0  # NAL mode: offset in _au where the latest PES payload starts
        self._pes_at = 0  # ... and where that payload is in _buf
        self._ptsq: list[_PtsMark] = []  # NAL mode: PES timestamps by ES offset
        self._last_pts: int | None = None
        self._pts_step = 0
        self._pack_since_video = False
        self._marker_ok = True
        self._after_flush = False
        self._last_emit_pts: int | None = None
        self._vts = _Unwrap33()
        self._vdts = _Unwrap33()
        self._ats = _Unwrap33()
        self.stats: dict[str, int] = {
            "packs": 0,
            "psm": 0,
            "pes": 0,
            "video_frames": 0,
            "audio_frames": 0,
            "resyncs": 0,
            "dropped_bytes": 0,
            "dropped_frames": 0,
            "truncated": 0,
            "bad_units": 0,
            "marker_split": 0,
            "skipped_pes": 0,
            "oversize": 0,
        }

    # -- public ------------------------------------------------------------------

    @property
    def video_codec(self) -> str | None:
        return self._codecs.get(self._video_sid)

    def feed(self, data: Buffer, end_of_frame: bool = False) -> list[EsFrame]:
        """Append bytes and return every frame completed by them."""
        out: list[EsFrame] = []
        buf = self._buf
        start = len(buf)
        buf += data
        try:
            if (
                len(buf) >= self._need
                or (buf.startswith(PACK_START, start) and self._cut_waiting(out, start))
                or (self._scan and self._waiting_unit_cut())
            ):
                self._parse(out, end_of_frame)
            if end_of_frame and self._marker_ok and self._au_open and not buf:
                self._marker_flush(out)
        except (IndexError, ValueError, KeyError, OverflowError) as exc:
            self.reset()
            raise PsError(f"PS demuxer state reset: {exc}") from exc
        return out

    def discontinuity(self) -> None:
        """Forget the partial unit and frame (RTP loss); resync on the next pack."""
        if self._au_open:
            self.stats["dropped_frames"] += 1
        self._drop_au()
        self.stats["dropped_bytes"] += len(self._buf)
        self._buf.clear()
        self._need = 0
        self._scan = 0
        self._synced = False

    def flush(self) -> list[EsFrame]:
        """End of stream: emit the pending frame; a partial unit is dropped."""
        out: list[EsFrame] = []
        if self._buf:
            try:
                self._parse(out, True)  # completes a zero-length (unbounded) video PES
            except (IndexError, ValueError, KeyError, OverflowError):
                self.stats["bad_units"] += 1
        if self._buf:
            self.stats["dropped_bytes"] += len(self._buf)
            self._buf.clear()
        self._need = 0
        self._scan = 0
        if self._au_open:
            self._emit_video(out, len(self._au))
        return out

    def reset(self) -> None:
        """Drop all buffered state but keep the learned stream map."""
        self._buf = bytearray()
        self._need = 0
        self._scan = 0
        self._synced = False
        self._drop_au()

    # -- parsing -------------------------------------------------------------------

    def _resync(self, pos: int) -> int:
        """Skip to the next pack header at or after ``pos``; returns the new position."""
        buf = self._buf
        if self._synced:
            self.stats["resyncs"] += 1
        idx = buf.find(PACK_START, pos)
        if idx < 0:
            keep = max(pos, len(buf) - 3)
            self.stats["dropped_bytes"] += keep - pos
            self._synced = False
            return keep
        self.stats["dropped_bytes"] += idx - pos
        self._synced = True
        return idx

    def _parse(self, out: list[EsFrame], end_of_frame: bool) -> None:
        buf = self._buf
        n = len(buf)
        pos = 0
        scan0 = self._scan  # resume point of the truncation scan for the unit at 0
        self._need = 0
        self._scan = 0
        stats = self.stats
        while n - pos >= 4:
            if not (buf[pos] == 0 and buf[pos + 1] == 0 and buf[pos + 2] == 1):
                pos = self._resync(pos)
                if not self._synced:
                    break
                continue
            sid = buf[pos + 3]
            if not self._synced:
                # Before the first pack header (or after losing sync) only a pack
                # header is trusted.
                if sid != 0xBA:
                    pos = self._resync(pos + 1)
                    if not self._synced:
                        break
                    continue
                self._synced = True
            if sid == 0xBA:
                if n - pos < 5:
                    break
                b4 = buf[pos + 4]
                if b4 & 0xC0 == 0x40:  # MPEG-2: 14 bytes + stuffing
                    if n - pos < 14:
                        break
                    size = 14 + (buf[pos + 13] & 0x07)
                elif b4 & 0xF0 == 0x20:  # MPEG-1: 12 bytes
                    size = 12
                else:
                    stats["bad_units"] += 1
                    pos = self._resync(pos + 4)
                    continue
                if n - pos < size:
                    break
                stats["packs"] += 1
                self._pack_since_video = True
                pos += size
                continue
            if sid == 0xB9:  # MPEG program end code
                pos += 4
                continue
            if sid < 0xBB:
                # An ES start code where a system start code belongs: lost framing.
                stats["bad_units"] += 1
                pos = self._resync(pos + 3)
                continue
            if n - pos < 6:
                break
            length = (buf[pos + 4] << 8) | buf[pos + 5]
            is_video = 0xE0 <= sid <= 0xEF
            scan_from = max(scan0 - 3, pos + 6) if pos == 0 else pos + 6
            if length == 0:
                if not is_video:
                    stats["bad_units"] += 1
                    pos = self._resync(pos + 4)
                    continue
                end = self._unbounded_end(scan_from, n, end_of_frame)
                if end < 0:
                    if n - pos > self._max_frame:
                        stats["bad_units"] += 1
                        self._au_bad = self._au_open
                        pos = self._resync(pos + 4)
                        continue
                    self._scan = max(n - 3, pos + 6) - pos
                    break
            else:
                end = pos + 6 + length
                scannable = is_video and self._video_codec_scannable(sid)
                cut = buf.find(PACK_START, scan_from, min(end, n)) if scannable else -1
                if cut >= 0:
                    # The PES claims bytes that hold the next pack: the pack it
                    # belonged to was truncated. Cut it and go on from that pack.
                    stats["truncated"] += 1
                    resume = self._damaged_video_pes(out, pos, cut)
                    pos = resume if 0 <= resume < cut else cut
                    continue
                if end > n:
                    self._need = end - pos
                    self._scan = max(n - 3, pos + 6) - pos if scannable else 0
                    break
            if is_video:
                resume = self._video_pes(out, pos, end)
                if resume >= 0:
                    # A pack header inside H.264/H.265 data: this PES swallowed the
                    # start of the next pack (its own pack was truncated).
                    stats["truncated"] += 1
                    pos = resume
                    continue
            elif 0xC0 <= sid <= 0xDF:
                self._audio_pes(out, pos, end, sid)
            elif sid == 0xBC:
                try:
                    self.stream_types.update(parse_psm(buf, pos, end))
                    stats["psm"] += 1
                    self._refresh_codecs()
                except (IndexError, ValueError):
                    stats["bad_units"] += 1
            # 0xBB system header, 0xBD/0xBF private, 0xBE padding, others: skipped.
            pos = end
        if pos:
            del buf[:pos]

    def _damaged_video_pes(self, out: list[EsFrame], pos: int, cut: int) -> int:
        """Use what arrived of a truncated PES, then condemn the AU that holds its end.

        The frame before it may well be complete (the truncated PES often starts the
        next frame), so only the AU the damage lands in is dropped. Returns where to
        resume if an earlier pack header turned up inside the data, else -1.
        """
        try:
            parse_pes_header(self._buf, pos, cut)
        except (IndexError, ValueError):
            self.stats["dropped_bytes"] += cut - pos
            return -1
        resume = self._video_pes(out, pos, cut)
        self._au_bad = self._au_open
        return resume

    def _cut_waiting(self, out: list[EsFrame], cut: int) -> bool:
        """New RTP payload starts with a pack header while a unit waits for its bytes.

        GB senders start every pack in a new RTP packet, so this O(1) check catches a
        truncated pack at once instead of after 64 KiB more data. MPEG-4 part 2 can
        legitimately contain 00 00 01 BA, so its PES lengths are trusted.
        """
        buf = self._buf
        sid = buf[3]
        if 0xE0 <= sid <= 0xEF:
            if self._codecs.get(sid) == "mpeg4":
                return False
            self.stats["truncated"] += 1
            resume = self._damaged_video_pes(out, 0, cut)
            if 0 <= resume < cut:
                cut = resume
        else:
            self.stats["truncated"] += 1
            self.stats["dropped_bytes"] += cut
        del buf[:cut]
        self._need = 0
        self._scan = 0
        return True

    def _waiting_unit_cut(self) -> bool:
        """While a PES of a not yet known codec waits, look for a pack header in new data.

        Returns True when one was found (the waiting unit is truncated and the buffer
        must be parsed now, the cut is done by :meth:`_parse`).
        """
        buf = self._buf
        found = buf.find(PACK_START, self._scan - 3 if self._scan > 9 else 6) >= 0
        if not found:
            self._scan = max(len(buf) - 3, 6)
        return found

    def _video_codec_scannable(self, sid: int) -> bool:
        # Only while the codec is unknown: H.264/H.265 data can never contain
        # 00 00 01 BA (forbidden_zero_bit), so the NAL scan spots a swallowed pack
        # header for free; MPEG-4 part 2 can contain it, so its lengths are trusted.
        return self._codecs.get(sid) is None

    def _unbounded_end(self, start: int, n: int, end_of_frame: bool) -> int:
        """End of a zero-length video PES: the next system-level start code."""
        buf = self._buf
        i = start
        while True:
            i = buf.find(b"\x00\x00\x01", i)
            if i < 0 or i + 3 >= n:
                return n if end_of_frame else -1
            if buf[i + 3] >= 0xB9:
                return i
            i += 1

    def _refresh_codecs(self) -> None:
        for sid, stype in self.stream_types.items():
            entry = STREAM_TYPES.get(stype)
            if entry is not None:
                self._codecs[sid] = entry[1]

    # -- frames --------------------------------------------------------------------

    def _drop_au(self) -> None:
        self._au = bytearray()
        self._au_open = False
        self._au_bad = False
        self._au_vcl = False
        self._au_key = False
        self._nal_scan = 0
        self._ptsq.clear()
        self._au_pts = self._au_dts = None

    def _video_pes(self, out: list[EsFrame], pos: int, end: int) -> int:
        """Add one video PES to the current AU; returns a resume position or -1."""
        buf = self._buf
        sid = buf[pos + 3]
        stats = self.stats
        stats["pes"] += 1
        if self._video_sid < 0:
            self._video_sid = sid
        elif sid != self._video_sid:
            stats["skipped_pes"] += 1
            return -1
        try:
            payload, pts, dts = parse_pes_header(buf, pos, end)
        except (IndexError, ValueError):
            stats["bad_units"] += 1
            self._au_bad = self._au_open
            return -1
        new_pack = self._pack_since_video
        self._pack_since_video = False
        if payload >= end:
            return -1
        codec = self._codecs.get(sid)
        if codec is None:
            guessed = guess_video_codec(buf[payload : min(end, payload + 4096)])
            if guessed is not None:
                codec = self._codecs[sid] = guessed
        nal_mode = codec in ("h264", "h265")
        if nal_mode != self._nal_mode:
            if self._au_open:
                self._emit_video(out, len(self._au))
            self._drop_au()
            self._nal_mode = nal_mode
        if len(self._au) + (end - payload) > self._max_frame:
            stats["oversize"] += 1
            self._drop_au()
            self._au_bad = True
            return -1
        if nal_mode:
            return self._nal_pes(out, payload, end, pts, dts, codec == "h265")
        self._pes_mode_pes(out, payload, end, pts, dts, new_pack)
        return -1

    # PES mode (MPEG-4, SVAC, unknown): a new PTS starts a new access unit.

    def _pes_mode_pes(
        self,
        out: list[EsFrame],
        payload: int,
        end: int,
        pts: int | None,
        dts: int | None,
        new_pack: bool,
    ) -> None:
        if self._au_open:
            if pts is not None:
                starts_new = pts != self._au_pts
            else:
                starts_new = self._au_pts is None and new_pack
            if starts_new:
                self._emit_video(out, len(self._au))
        elif self._after_flush:
            self._after_flush = False
            # Right after a marker flush: a PES of the frame just emitted means the
            # sender's marker bit is not frame-aligned.
            if (pts is not None and pts == self._last_emit_pts) or (pts is None and not new_pack):
                self._marker_split()
        if not self._au_open:
            self._au_open = True
            self._au_pts = pts
            self._au_dts = dts
        with memoryview(self._buf) as mv:
            self._au += mv[payload:end]

    # NAL mode (H.264/H.265): access units are delimited by NAL units (ITU-T H.264
    # 7.4.1.2.3, H.265 7.4.2.4.4), PTS belongs to the first AU starting in its PES.

    def _nal_pes(
        self,
        out: list[EsFrame],
        payload: int,
        end: int,
        pts: int | None,
        dts: int | None,
        h265: bool,
    ) -> int:
        au = self._au
        buf = self._buf
        if self._after_flush:
            self._after_flush = False
            if not buf.startswith((b"\x00\x00\x01", b"\x00\x00\x00\x01"), payload, end):
                self._marker_split()
        if pts is not None:
            q = self._ptsq
            q.append(_PtsMark(len(au), pts, dts))
            if len(q) > 32:
                del q[:-32]
        self._pes_base = len(au)
        self._pes_at = payload
        with memoryview(buf) as mv:
            au += mv[payload:end]
        self._au_open = True
        k = self._scan_nals(out, h265)
        if k < 0:
            return -1
        resume = self._pes_at + (k - self._pes_base)
        del au[k:]
        self._nal_scan = max(0, k - 2)
        self._au_open = bool(au)
        self._au_bad = self._au_open
        return resume

    def _scan_nals(self, out: list[EsFrame], h265: bool) -> int:
        """Find NAL units in the new bytes, cut AUs; returns a pack header's offset or -1."""
        au = self._au
        n = len(au)
        need = 6 if h265 else 5  # start code + header + first slice-header byte
        i = au.find(b"\x00\x00\x01", self._nal_scan)
        while i >= 0:
            if i + need > n:
                if i + 4 <= n and au[i + 3] == 0xBA and i >= self._pes_base:
                    return i
                break
            b = au[i + 3]
            if b & 0x80:  # forbidden_zero_bit: not a NAL unit
                if b == 0xBA and i >= self._pes_base:
                    return i
                i = au.find(b"\x00\x00\x01", i + 3)
                continue
            if h265:
                t = (b >> 1) & 0x3F
                if t < 32:
                    vcl = True
                    starts = bool(au[i + 5] & 0x80)  # first_slice_segment_in_pic_flag
                    key = 16 <= t <= 23
                else:
                    vcl = key = False
                    starts = t in (32, 33, 34, 35, 39) or 41 <= t <= 44 or 48 <= t <= 55
            else:
                t = b & 0x1F
                if 1 <= t <= 5:
                    vcl = True
                    starts = bool(au[i + 4] & 0x80)  # first_mb_in_slice == 0
                    key = t == 5
                else:
                    vcl = key = False
                    starts = t in (6, 7, 8, 9) or 14 <= t <= 18
            if starts and self._au_vcl:
                cut = i - 1 if i > 0 and au[i - 1] == 0 else i
                self._emit_video(out, cut)
                i -= cut
                n = len(au)
            if vcl:
                self._au_vcl = True
                if key:
                    self._au_key = True
            i = au.find(b"\x00\x00\x01", i + 3)
        self._nal_scan = i if i >= 0 else max(0, n - 2)
        return -1

    def _marker_split(self) -> None:
        self._marker_ok = False
        self.stats["marker_split"] += 1

    def _marker_flush(self, out: list[EsFrame]) -> None:
        if self._nal_mode and not self._au_vcl:
            return  # parameter sets only so far: the slices are still to come
        self._emit_video(out, len(self._au))
        self._after_flush = True

    def _take_pts(self) -> tuple[int | None, int | None]:
        """PTS/DTS of the AU starting at offset 0 of ``_au`` (NAL mode)."""
        q = self._ptsq
        best = -1
        for k, mark in enumerate(q):
            if mark.offset > 3:
                break
            best = k
        if best < 0:
            return None, None
        if best:
            del q[:best]
        mark = q[0]
        if mark.used:
            return None, None
        mark.used = True
        return mark.pts, mark.dts

    def _emit_video(self, out: list[EsFrame], end: int) -> None:
        """Emit ``_au[:end]`` as a frame and keep the rest as the start of the next."""
        au = self._au
        bad = self._au_bad
        if self._nal_mode:
            pts, dts = self._take_pts()
            has_frame = self._au_vcl
            key = self._au_key
        else:
            pts, dts = self._au_pts, self._au_dts
            has_frame = end > 0
            key = False
        data = bytes(au[:end]) if has_frame and not bad else b""
        if end >= len(au):
            au.clear()
        else:
            del au[:end]
        for mark in self._ptsq:
            mark.offset -= end
        self._nal_scan = max(0, self._nal_scan - end)
        self._pes_base -= end
        self._au_open = bool(au)
        self._au_vcl = self._au_key = self._au_bad = False
        self._au_pts = self._au_dts = None
        if not has_frame:
            return
        if bad:
            self.stats["dropped_frames"] += 1
            return
        sid = self._video_sid
        codec = self._codecs.get(sid) or guess_video_codec(data) or "unknown"
        if not self._nal_mode:
            key = is_keyframe(codec, data)
        ext_pts = self._vts(pts)
        ext_dts = self._vdts(dts) if dts is not None else ext_pts
        if ext_pts is None and self._last_pts is not None and self._pts_step:
            ext_pts = ext_dts = self._last_pts + self._pts_step  # unstamped AU: extrapolate
        if ext_pts is not None:
            if self._last_pts is not None and 0 < ext_pts - self._last_pts < 90000:
                self._pts_step = ext_pts - self._last_pts
            self._last_pts = ext_pts
        self._last_emit_pts = pts
        self.stats["video_frames"] += 1
        out.append(EsFrame("video", codec, ext_pts, ext_dts, data, key))

    def _audio_pes(self, out: list[EsFrame], pos: int, end: int, sid: int) -> None:
        self.stats["pes"] += 1
        try:
            payload, pts, _dts = parse_pes_header(self._buf, pos, end)
        except (IndexError, ValueError):
            self.stats["bad_units"] += 1
            return
        if payload >= end:
            return
        data = bytes(self._buf[payload:end])
        codec = self._codecs.get(sid)
        if codec is None:
            codec = "aac" if data[0] == 0xFF and data[1:2] and data[1] & 0xF0 == 0xF0 else "pcma"
        ext = self._ats(pts)
        self.stats["audio_frames"] += 1
        out.append(EsFrame("audio", codec, ext, ext, data, True))
