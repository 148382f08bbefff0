"""Minimal MPEG-TS muxer (one program, one video PID) and RFC 2250 RTP packetizer.

Some GB devices send MPEG-TS over RTP (PT 33) instead of PS; the simulator needs
to do the same so the receive side is exercised end to end. Only what that takes:
PAT + PMT before every keyframe, PCR on the video PID at every frame, one PES
per access unit (with its length when it fits, so a receiver can emit the frame
without waiting for the next one), continuity counters, adaptation-field stuffing.
"""

from __future__ import annotations

import struct

from .es import Buffer
from .ps import CODEC_STREAM_TYPES
from .psmux import mpeg_crc32
from .rtp import build_rtp

TS_PACKET = 188
PMT_PID = 0x1000
VIDEO_PID = 0x100
PROGRAM = 1
RTP_PT_MP2T = 33
PACKETS_PER_RTP = 7  # 7 × 188 = 1316 bytes: fits a 1500-byte MTU with IP/UDP/RTP headers

_TS_MASK = (1 << 33) - 1


def _pes_ts(prefix: int, ts: int) -> bytes:
    ts &= _TS_MASK
    return bytes(
        (
            (prefix << 4) | ((ts >> 29) & 0x0E) | 1,
            (ts >> 22) & 0xFF,
            ((ts >> 14) & 0xFE) | 1,
            (ts >> 7) & 0xFF,
            ((ts << 1) & 0xFE) | 1,
        )
    )


def _pcr(base: int) -> bytes:
    base &= _TS_MASK
    return bytes(
        (
            (base >> 25) & 0xFF,
            (base >> 17) & 0xFF,
            (base >> 9) & 0xFF,
            (base >> 1) & 0xFF,
            ((base & 1) << 7) | 0x7E,  # 6 reserved bits, extension high bit 0
            0,
        )
    )


def _section(table_id: int, ext: int, body: bytes) -> bytes:
    """A PSI section with its CRC, after a zero pointer_field."""
    length = 5 + len(body) + 4
    head = bytes((table_id, 0xB0 | (length >> 8), length & 0xFF)) + struct.pack(">H", ext)
    head += bytes((0xC1, 0x00, 0x00))  # version 0, current_next 1, section 0 of 0
    section = head + body
    return b"\x00" + section + struct.pack(">I", mpeg_crc32(section))


class TsMuxer:
    """One TS chunk (a whole number of 188-byte packets) per video access unit."""

    def __init__(self, video_codec: str = "h264") -> None:
        if video_codec not in ("h264", "h265"):
            raise ValueError(f"unsupported TS video codec {video_codec!r}")
        self.video_codec = video_codec
        self._cc: dict[int, int] = {0: 0, PMT_PID: 0, VIDEO_PID: 0}
        pat = _section(0x00, 1, struct.pack(">HH", PROGRAM, 0xE000 | PMT_PID))
        pmt_body = struct.pack(">HH", 0xE000 | VIDEO_PID, 0xF000)  # PCR PID, no program info
        pmt_body += bytes((CODEC_STREAM_TYPES[video_codec],))
        pmt_body += struct.pack(">HH", 0xE000 | VIDEO_PID, 0xF000)
        self._pat = pat
        self._pmt = _section(0x02, PROGRAM, pmt_body)

    def _next_cc(self, pid: int) -> int:
        cc = self._cc[pid]
        self._cc[pid] = (cc + 1) & 0x0F
        return cc

    def _psi_packet(self, pid: int, section: bytes) -> bytes:
        head = bytes((0x47, 0x40 | (pid >> 8), pid & 0xFF, 0x10 | self._next_cc(pid)))
        return head + section + b"\xff" * (TS_PACKET - 4 - len(section))

    def mux_video(self, au: Buffer, pts: int, keyframe: bool, dts: int | None = None) -> bytes:
        dts = pts if dts is None else dts
        out: list[bytes] = []
        if keyframe:
            out.append(self._psi_packet(0, self._pat))
            out.append(self._psi_packet(PMT_PID, self._pmt))
        if dts != pts:
            opt = bytes((0x84, 0xC0, 10)) + _pes_ts(3, pts) + _pes_ts(1, dts)
        else:
            opt = bytes((0x84, 0x80, 5)) + _pes_ts(2, pts)
        size = len(opt) + len(au)
        pes_len = size if size <= 0xFFFF else 0
        pes = b"\x00\x00\x01\xe0" + struct.pack(">H", pes_len) + opt + bytes(au)
        pos = 0
        first = True
        n = len(pes)
        while pos < n:
            cc = self._next_cc(VIDEO_PID)
            pusi = 0x40 if first else 0
            head = bytes((0x47, pusi | (VIDEO_PID >> 8), VIDEO_PID & 0xFF))
            if first:
                # adaptation field with PCR (and the random-access flag on keyframes)
                flags = 0x10 | (0x40 if keyframe else 0)
                af_body = bytes((flags,)) + _pcr(dts)
                room = TS_PACKET - 4 - 1 - len(af_body)
                chunk = pes[pos : pos + room]
                stuffing = room - len(chunk)
                af = bytes((len(af_body) + stuffing,)) + af_body + b"\xff" * stuffing
                out.append(head + bytes((0x30 | cc,)) + af + chunk)
            else:
                room = TS_PACKET - 4
                chunk = pes[pos : pos + room]
                if len(chunk) < room:
                    stuffing = room - len(chunk)
                    if stuffing == 1:
                        af = b"\x00"
                    else:
                        af = bytes((stuffing - 1, 0x00)) + b"\xff" * (stuffing - 2)
                    out.append(head + bytes((0x30 | cc,)) + af + chunk)
                else:
                    out.append(head + bytes((0x10 | cc,)) + chunk)
            pos += len(chunk)
            first = False
        return b"".join(out)


def packetize_ts_rtp(
    ts_bytes: Buffer,
    *,
    ssrc: int,
    seq_start: int,
    ts: int,
    pt: int = RTP_PT_MP2T,
    per_packet: int = PACKETS_PER_RTP,
) -> list[bytes]:
    """RFC 2250: whole TS packets per RTP payload; marker on the last packet of the frame."""
    mv = memoryview(ts_bytes)
    step = TS_PACKET * per_packet
    n = len(mv)
    count = max(1, -(-n // step))
    return [
        build_rtp(
            mv[i * step : (i + 1) * step],
            pt=pt,
            seq=seq_start + i,
            ts=ts,
            ssrc=ssrc,
            marker=i == count - 1,
        )
        for i in range(count)
    ]


__all__ = ["PMT_PID", "RTP_PT_MP2T", "VIDEO_PID", "TsMuxer", "packetize_ts_rtp"]
