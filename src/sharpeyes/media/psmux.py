"""GB/T 28181 Appendix C PS muxer and RTP packetizer (we send PS upstream/cascade).

FFmpeg's PS muxer writes no PSM, which GB receivers need to learn stream types, so
we write our own: one MPEG-2 pack per video frame; keyframe packs carry a system
header and a PSM (video 0xE0: 0x1B/0x24, audio 0xC0: 0x90/0x91); a frame larger
than one PES is split into several PES packets, the first one carrying PTS and DTS.
"""

from __future__ import annotations

import struct

from .es import Buffer
from .ps import CODEC_STREAM_TYPES
from .rtp import build_rtp

VIDEO_SID = 0xE0
AUDIO_SID = 0xC0
MAX_PES_PACKET = 0xFFFF  # PES_packet_length counts the bytes after the length field

_MUX_RATE = 6106  # units of 50 bytes/s (~2.4 Mbit/s); informative only
_TS_MASK = (1 << 33) - 1


def mpeg_crc32(data: bytes) -> int:
    """CRC-32/MPEG-2 (poly 0x04C11DB7, MSB first, no final xor) as used by the PSM."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else (crc << 1)
            crc &= 0xFFFFFFFF
    return crc


def _ts_bytes(prefix: int, ts: int) -> bytes:
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


def pack_header(scr: int, mux_rate: int = _MUX_RATE) -> bytes:
    """MPEG-2 pack header (14 bytes, no stuffing) with SCR base ``scr`` (90 kHz)."""
    scr &= _TS_MASK
    ext = 0
    return bytes(
        (
            0,
            0,
            1,
            0xBA,
            0x44 | ((scr >> 27) & 0x38) | ((scr >> 28) & 0x03),
            (scr >> 20) & 0xFF,
            ((scr >> 12) & 0xF8) | 0x04 | ((scr >> 13) & 0x03),
            (scr >> 5) & 0xFF,
            ((scr << 3) & 0xF8) | 0x04 | ((ext >> 7) & 0x03),
            ((ext << 1) & 0xFE) | 1,
            (mux_rate >> 14) & 0xFF,
            (mux_rate >> 6) & 0xFF,
            ((mux_rate << 2) & 0xFC) | 0x03,
            0xF8,  # reserved + pack_stuffing_length 0
        )
    )


def system_header(has_audio: bool, mux_rate: int = _MUX_RATE) -> bytes:
    """System header listing the video stream (and the audio stream if any)."""
    streams = bytes((VIDEO_SID, 0xE0 | (1 << 5) | (1024 >> 8), 1024 & 0xFF))  # 1 MiB P-STD
    if has_audio:
        streams += bytes((AUDIO_SID, 0xC0 | (32 >> 8), 32 & 0xFF))  # 4 KiB P-STD
    body = (
        bytes(
            (
                0x80 | ((mux_rate >> 15) & 0x7F),
                (mux_rate >> 7) & 0xFF,
                ((mux_rate << 1) & 0xFE) | 1,
                (1 if has_audio else 0) << 2 | 0x00,  # audio_bound, fixed 0, CSPS 0
                0xE1,  # audio lock, video lock, marker, video_bound 1
                0x7F,  # packet_rate_restriction 0, reserved
            )
        )
        + streams
    )
    return b"\x00\x00\x01\xbb" + struct.pack(">H", len(body)) + body


def program_stream_map(entries: list[tuple[int, int]], version: int = 0) -> bytes:
    """PSM with ``(stream_type, stream_id)`` entries and its CRC-32."""
    es_map = b"".join(struct.pack(">BBH", st, sid, 0) for st, sid in entries)
    body = (
        bytes((0x80 | 0x60 | (version & 0x1F), 0xFF))
        + struct.pack(">H", 0)  # program_stream_info_length
        + struct.pack(">H", len(es_map))
        + es_map
    )
    head = b"\x00\x00\x01\xbc" + struct.pack(">H", len(body) + 4)
    return head + body + struct.pack(">I", mpeg_crc32(head + body))


def pes_packets(
    sid: int, data: Buffer, pts: int | None, dts: int | None = None, *, aligned: bool = True
) -> list[bytes]:
    """Split ``data`` into PES packets of at most 65,535 + 6 bytes; timestamps on the first."""
    mv = memoryview(data)
    out: list[bytes] = []
    pos = 0
    first = True
    total = len(mv)
    while first or pos < total:
        if first and pts is not None:
            if dts is not None:
                opt = bytes((0x84 if aligned else 0x80, 0xC0, 10)) + _ts_bytes(3, pts)
                opt += _ts_bytes(1, dts)
            else:
                opt = bytes((0x84 if aligned else 0x80, 0x80, 5)) + _ts_bytes(2, pts)
        else:
            opt = bytes((0x84 if first and aligned else 0x80, 0x00, 0))
        room = MAX_PES_PACKET - len(opt)
        chunk = mv[pos : pos + room]
        pos += len(chunk)
        out.append(
            b"\x00\x00\x01" + bytes((sid,)) + struct.pack(">H", len(opt) + len(chunk)) + opt + chunk
        )
        first = False
    return out


class PsMuxer:
    """Build GB Appendix C PS packs: one per video frame, one per audio chunk."""

    def __init__(self, video_codec: str = "h264", audio_codec: str | None = None) -> None:
        if video_codec not in ("h264", "h265", "mpeg4", "svac"):
            raise ValueError(f"unsupported PS video codec {video_codec!r}")
        if audio_codec not in (None, "pcma", "pcmu", "aac"):
            raise ValueError(f"unsupported PS audio codec {audio_codec!r}")
        self.video_codec = video_codec
        self.audio_codec = audio_codec
        entries = [(CODEC_STREAM_TYPES[video_codec], VIDEO_SID)]
        if audio_codec:
            entries.append((CODEC_STREAM_TYPES[audio_codec], AUDIO_SID))
        self._headers = system_header(audio_codec is not None) + program_stream_map(entries)

    def mux_video(self, au: Buffer, pts: int, keyframe: bool, dts: int | None = None) -> bytes:
        """One pack for one access unit; keyframes get system header + PSM."""
        dts = pts if dts is None else dts
        parts = [pack_header(dts)]
        if keyframe:
            parts.append(self._headers)
        parts.extend(pes_packets(VIDEO_SID, au, pts, dts))
        return b"".join(parts)

    def mux_audio(self, data: Buffer, pts: int) -> bytes:
        """One pack with one audio PES (G.711 chunks are small)."""
        if not self.audio_codec:
            raise ValueError("muxer was created without audio")
        return b"".join([pack_header(pts), *pes_packets(AUDIO_SID, data, pts)])


def packetize_rtp(
    ps_bytes: Buffer, *, ssrc: int, seq_start: int, ts: int, pt: int = 96, mtu: int = 1400
) -> list[bytes]:
    """Split one PS pack into RTP packets of at most ``mtu`` bytes; marker on the last.

    The next packet's sequence number is ``seq_start + len(result)`` (mod 65536).
    """
    room = mtu - 12
    if room <= 0:
        raise ValueError("mtu too small for an RTP header")
    mv = memoryview(ps_bytes)
    n = len(mv)
    count = max(1, -(-n // room))
    return [
        build_rtp(
            mv[i * room : (i + 1) * room],
            pt=pt,
            seq=seq_start + i,
            ts=ts,
            ssrc=ssrc,
            marker=i == count - 1,
        )
        for i in range(count)
    ]


__all__ = [
    "AUDIO_SID",
    "VIDEO_SID",
    "PsMuxer",
    "mpeg_crc32",
    "pack_header",
    "packetize_rtp",
    "pes_packets",
    "program_stream_map",
    "system_header",
]
