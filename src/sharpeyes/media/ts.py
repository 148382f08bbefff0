"""Small MPEG-TS demuxer (PAT → PMT → PES) for devices that send TS over RTP (PT 33).

Only what live video needs: the first program, its video and audio PIDs, PES
reassembly with PTS/DTS, continuity-counter checks (a gap drops the damaged PES).
Sections are expected to fit in one TS packet, which holds for every PAT/PMT a
camera sends. Bad input is skipped and counted, never raised.
"""

from __future__ import annotations

from .es import Buffer, EsFrame, guess_video_codec, is_keyframe
from .ps import STREAM_TYPES, parse_pes_header

TS_PACKET = 188
SYNC = 0x47
MAX_PES = 4 * 1024 * 1024

# TS stream types beyond the PS table that show up in the wild.
_TS_EXTRA = {0x06: ("audio", "private"), 0x81: ("audio", "ac3")}

_HALF33 = 1 << 32
_WRAP33 = 1 << 33


class TsError(ValueError):
    """Reserved for unrecoverable TS errors (the demuxer itself skips bad input)."""


class _Pes:
    __slots__ = ("buf", "cc", "codec", "kind", "ok")

    def __init__(self, kind: str, codec: str) -> None:
        self.kind = kind
        self.codec = codec
        self.buf = bytearray()
        self.cc = -1
        self.ok = False  # True while collecting a PES that began with PUSI


class TsDemuxer:
    """Feed TS bytes (any chunking), get :class:`EsFrame` access units out.

    A PES is complete when the next one on its PID starts (PUSI) or when its declared
    length is reached, so video frames come out one frame late unless
    :meth:`flush` is called (the RTP marker, or end of stream).
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._pmt_pid = -1
        self._pes: dict[int, _Pes] = {}
        self._last = {"video": -1, "audio": -1}
        self._ext = {"video": 0, "audio": 0}
        self.stats: dict[str, int] = {
            "packets": 0,
            "resyncs": 0,
            "dropped_bytes": 0,
            "cc_errors": 0,
            "bad_pes": 0,
            "video_frames": 0,
            "audio_frames": 0,
        }

    @property
    def streams(self) -> dict[int, tuple[str, str]]:
        """PID → (kind, codec) learned from the PMT."""
        return {pid: (p.kind, p.codec) for pid, p in self._pes.items()}

    def feed(self, data: Buffer) -> list[EsFrame]:
        out: list[EsFrame] = []
        buf = self._buf
        buf += data
        n = len(buf)
        pos = 0
        while n - pos >= TS_PACKET:
            if buf[pos] != SYNC:
                pos = self._resync(pos)
                continue
            self._packet(buf, pos, out)
            pos += TS_PACKET
        if pos:
            del buf[:pos]
        return out

    def flush(self) -> list[EsFrame]:
        """Emit every PES collected so far (end of stream or end-of-frame hint)."""
        out: list[EsFrame] = []
        for pes in self._pes.values():
            self._finish(pes, out)
        return out

    def discontinuity(self) -> None:
        """Packets were lost: drop partial PES and buffered bytes."""
        self.stats["dropped_bytes"] += len(self._buf)
        self._buf.clear()
        for pes in self._pes.values():
            pes.buf.clear()
            pes.ok = False
            pes.cc = -1

    def _resync(self, pos: int) -> int:
        buf = self._buf
        n = len(buf)
        self.stats["resyncs"] += 1
        i = pos + 1
        while True:
            i = buf.find(b"\x47", i)
            if i < 0:
                self.stats["dropped_bytes"] += n - pos
                return n
            if n - i < 2 * TS_PACKET or buf[i + TS_PACKET] == SYNC:
                self.stats["dropped_bytes"] += i - pos
                return i
            i += 1

    def _packet(self, buf: bytearray, pos: int, out: list[EsFrame]) -> None:
        self.stats["packets"] += 1
        b1 = buf[pos + 1]
        if b1 & 0x80:  # transport_error_indicator
            return
        pusi = b1 & 0x40
        pid = ((b1 & 0x1F) << 8) | buf[pos + 2]
        b3 = buf[pos + 3]
        afc = (b3 >> 4) & 0x03
        cc = b3 & 0x0F
        p = pos + 4
        end = pos + TS_PACKET
        if afc & 0x02:
            p += 1 + buf[p]
        if not afc & 0x01 or p >= end:
            return
        if pid == 0:
            if pusi:
                self._pat(buf, p, end)
            return
        if pid == self._pmt_pid:
            if pusi:
                self._pmt(buf, p, end)
            return
        pes = self._pes.get(pid)
        if pes is None:
            return
        if pes.cc >= 0 and cc != (pes.cc + 1) & 0x0F:
            if cc == pes.cc:
                return  # duplicate packet
            self.stats["cc_errors"] += 1
            pes.ok = False
            pes.buf.clear()
        pes.cc = cc
        if pusi:
            self._finish(pes, out)
            pes.ok = True
        if not pes.ok:
            return
        with memoryview(buf) as mv:
            pes.buf += mv[p:end]
        if len(pes.buf) > MAX_PES:
            self.stats["bad_pes"] += 1
            pes.buf.clear()
            pes.ok = False
            return
        if len(pes.buf) >= 6:
            length = (pes.buf[4] << 8) | pes.buf[5]
            if length and len(pes.buf) >= 6 + length:
                self._finish(pes, out)

    def _section(self, buf: bytearray, p: int, end: int) -> tuple[int, int] | None:
        p += 1 + buf[p]  # pointer_field
        if p + 3 > end:
            return None
        length = ((buf[p + 1] & 0x0F) << 8) | buf[p + 2]
        sec_end = p + 3 + length
        if sec_end > end or length < 9:
            return None
        return p, sec_end - 4  # exclude CRC

    def _pat(self, buf: bytearray, p: int, end: int) -> None:
        sec = self._section(buf, p, end)
        if sec is None or buf[sec[0]] != 0x00:
            return
        q, stop = sec[0] + 8, sec[1]
        while q + 4 <= stop:
            program = (buf[q] << 8) | buf[q + 1]
            pid = ((buf[q + 2] & 0x1F) << 8) | buf[q + 3]
            if program != 0:
                if pid != self._pmt_pid:
                    self._pmt_pid = pid
                    self._pes.clear()
                return
            q += 4

    def _pmt(self, buf: bytearray, p: int, end: int) -> None:
        sec = self._section(buf, p, end)
        if sec is None or buf[sec[0]] != 0x02:
            return
        q, stop = sec[0], sec[1]
        info_len = ((buf[q + 10] & 0x0F) << 8) | buf[q + 11]
        q += 12 + info_len
        seen: set[int] = set()
        while q + 5 <= stop:
            stype = buf[q]
            pid = ((buf[q + 1] & 0x1F) << 8) | buf[q + 2]
            q += 5 + (((buf[q + 3] & 0x0F) << 8) | buf[q + 4])
            entry = STREAM_TYPES.get(stype) or _TS_EXTRA.get(stype)
            if entry is None:
                continue
            seen.add(pid)
            old = self._pes.get(pid)
            if old is None or old.codec != entry[1]:
                self._pes[pid] = _Pes(entry[0], entry[1])
        for pid in [pid for pid in self._pes if pid not in seen]:
            del self._pes[pid]

    def _unwrap(self, kind: str, raw: int | None) -> int | None:
        if raw is None:
            return None
        last = self._last[kind]
        if last < 0:
            self._ext[kind] = raw
        else:
            self._ext[kind] += (raw - last + _HALF33) % _WRAP33 - _HALF33
        self._last[kind] = raw
        return self._ext[kind]

    def _finish(self, pes: _Pes, out: list[EsFrame]) -> None:
        buf = pes.buf
        if not pes.ok or len(buf) < 9:
            buf.clear()
            return
        pes.ok = False
        try:
            if buf[0] != 0 or buf[1] != 0 or buf[2] != 1:
                raise ValueError("no PES start code")
            length = (buf[4] << 8) | buf[5]
            end = min(len(buf), 6 + length) if length else len(buf)
            payload, pts, dts = parse_pes_header(buf, 0, end)
        except (IndexError, ValueError):
            self.stats["bad_pes"] += 1
            buf.clear()
            return
        data = bytes(buf[payload:end])
        buf.clear()
        if not data:
            return
        kind = pes.kind
        codec = pes.codec
        if kind == "video" and codec not in ("h264", "h265", "mpeg4"):
            codec = guess_video_codec(data) or codec
        pts_x = self._unwrap(kind, pts)
        dts_x = pts_x
        if dts is not None and pts is not None and pts_x is not None:
            dts_x = pts_x + ((dts - pts + _HALF33) % _WRAP33 - _HALF33)
        if kind == "video":
            self.stats["video_frames"] += 1
            out.append(EsFrame("video", codec, pts_x, dts_x, data, is_keyframe(codec, data)))
        else:
            self.stats["audio_frames"] += 1
            out.append(EsFrame("audio", codec, pts_x, dts_x, data, True))
