"""Sound for browser players: an AAC track beside the video in the live fMP4.

MSE plays AAC, not G.711, so: AAC from the camera (ADTS in the PS) passes through
as raw access units; G.711 A-law/µ-law is decoded and re-encoded to AAC-LC with
PyAV (ffmpeg's native encoder), and only while some viewer asked for sound (the
hub builds an :class:`AudioPipe` for its first such viewer and drops it with the
last). The track is track 2 of an init segment that otherwise equals the video
one (:func:`av_init_segment`), so video fragments are shared by every viewer.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from fractions import Fraction
from typing import cast

import av

from .es import EsFrame
from .fmp4 import box, full_box

AUDIO_TRACK_ID = 2
AAC_FRAME = 1024  # samples per AAC-LC access unit
TRANSCODE_RATE = 16_000
TRANSCODE_BITRATE = 32_000
G711_CODECS = {"pcma": "pcm_alaw", "pcmu": "pcm_mulaw"}
PLAYABLE = frozenset({"aac", *G711_CODECS})
_SAMPLE_RATES = (
    96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350,
)  # fmt: skip
_U32 = struct.Struct(">I")


class AudioError(ValueError):
    """Audio we cannot turn into AAC (bad ADTS, codec PyAV refuses)."""


# ------------------------------------------------------------------- sources
def split_adts(data: bytes) -> list[tuple[bytes, bytes]]:
    """ADTS frames of one PES payload as (AudioSpecificConfig, raw AAC frame) pairs."""
    out: list[tuple[bytes, bytes]] = []
    pos = 0
    n = len(data)
    while pos + 7 <= n:
        if data[pos] != 0xFF or data[pos + 1] & 0xF6 != 0xF0:
            raise AudioError("lost ADTS sync")
        protection_absent = data[pos + 1] & 1
        profile = data[pos + 2] >> 6
        sfi = (data[pos + 2] >> 2) & 0x0F
        channels = ((data[pos + 2] & 1) << 2) | (data[pos + 3] >> 6)
        length = ((data[pos + 3] & 3) << 11) | (data[pos + 4] << 3) | (data[pos + 5] >> 5)
        header = 7 if protection_absent else 9
        if sfi >= len(_SAMPLE_RATES) or length < header or pos + length > n:
            raise AudioError("bad ADTS header")
        asc = struct.pack(">H", ((profile + 1) << 11) | (sfi << 7) | (channels << 3))
        out.append((asc, data[pos + header : pos + length]))
        pos += length
    return out


def asc_info(asc: bytes) -> tuple[int, int]:
    """(sample rate, channels) of a 2-byte AudioSpecificConfig."""
    if len(asc) < 2:
        raise AudioError("short AudioSpecificConfig")
    v = (asc[0] << 8) | asc[1]
    sfi = (v >> 7) & 0x0F
    if sfi >= len(_SAMPLE_RATES):
        raise AudioError("explicit sample rates are not supported")
    return _SAMPLE_RATES[sfi], (v >> 3) & 0x0F or 1


class G711ToAac:
    """G.711 chunks in, AAC-LC access units out (1024 samples each at 16 kHz)."""

    def __init__(self, codec: str, *, rate: int = TRANSCODE_RATE) -> None:
        if codec not in G711_CODECS:
            raise AudioError(f"not G.711: {codec}")
        # create() is typed by codec name; the G.711 names arrive as a plain str
        self._dec = cast(av.AudioCodecContext, av.CodecContext.create(G711_CODECS[codec], "r"))
        self._dec.sample_rate = 8000
        self._dec.layout = "mono"
        enc = av.CodecContext.create("aac", "w")
        enc.sample_rate = rate
        enc.layout = "mono"
        enc.format = "fltp"
        enc.bit_rate = TRANSCODE_BITRATE
        enc.time_base = Fraction(1, rate)
        enc.open()
        self._enc = enc
        self._resampler = av.AudioResampler(format="fltp", layout="mono", rate=rate)
        self._fifo = av.AudioFifo()
        self.rate = rate
        self.asc = bytes(enc.extradata or b"")[:2]

    def push(self, chunk: bytes) -> list[bytes]:
        try:
            frames = self._dec.decode(av.Packet(chunk))
            for f in frames:
                f.pts = None
                for r in self._resampler.resample(f):
                    self._fifo.write(r)
            out: list[bytes] = []
            while self._fifo.samples >= AAC_FRAME:
                frame = self._fifo.read(AAC_FRAME)
                out.extend(bytes(p) for p in self._enc.encode(frame))
        except (av.FFmpegError, ValueError) as exc:
            raise AudioError(f"G.711 transcoding failed: {exc}") from exc
        return out


# ------------------------------------------------------------------- writing
def _esds(asc: bytes, bitrate: int) -> bytes:
    def desc(tag: int, payload: bytes) -> bytes:
        return bytes((tag, 0x80, 0x80, 0x80, len(payload))) + payload

    dsi = desc(0x05, asc)
    dcd = desc(0x04, bytes((0x40, 0x15)) + bytes(3) + struct.pack(">II", bitrate, bitrate) + dsi)
    es = desc(0x03, struct.pack(">HB", AUDIO_TRACK_ID, 0) + dcd + desc(0x06, b"\x02"))
    return full_box(b"esds", 0, 0, es)


class AacTrack:
    """Track 2: the ``trak``/``trex`` for the init segment and moof+mdat per batch."""

    def __init__(self, asc: bytes, *, bitrate: int = TRANSCODE_BITRATE) -> None:
        self.asc = asc
        self.rate, self.channels = asc_info(asc)
        self.bitrate = bitrate
        self._seq = 0
        self.next_time: int | None = None  # decode time of the next sample (rate units)

    @property
    def mime_codec(self) -> str:
        return f"mp4a.40.{self.asc[0] >> 3}"

    def trak(self) -> bytes:
        matrix = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
        tkhd = full_box(
            b"tkhd", 0, 3, struct.pack(">IIIII", 0, 0, AUDIO_TRACK_ID, 0, 0), bytes(8),
            struct.pack(">hhhH", 0, 0, 0x0100, 0), matrix, struct.pack(">II", 0, 0),
        )  # fmt: skip
        mdhd = full_box(b"mdhd", 0, 0, struct.pack(">IIIIHH", 0, 0, self.rate, 0, 0x55C4, 0))
        hdlr = full_box(b"hdlr", 0, 0, bytes(4), b"soun", bytes(12), b"SoundHandler\x00")
        smhd = full_box(b"smhd", 0, 0, bytes(4))
        dinf = box(b"dinf", full_box(b"dref", 0, 0, _U32.pack(1), full_box(b"url ", 0, 1)))
        entry = box(
            b"mp4a",
            bytes(6),
            struct.pack(">H", 1),
            bytes(8),
            struct.pack(">HHHH", self.channels, 16, 0, 0),
            _U32.pack(self.rate << 16),
            _esds(self.asc, self.bitrate),
        )
        stbl = box(
            b"stbl",
            full_box(b"stsd", 0, 0, _U32.pack(1), entry),
            full_box(b"stts", 0, 0, _U32.pack(0)),
            full_box(b"stsc", 0, 0, _U32.pack(0)),
            full_box(b"stsz", 0, 0, _U32.pack(0), _U32.pack(0)),
            full_box(b"stco", 0, 0, _U32.pack(0)),
        )
        return box(b"trak", tkhd, box(b"mdia", mdhd, hdlr, box(b"minf", smhd, dinf, stbl)))

    def trex(self) -> bytes:
        return full_box(b"trex", 0, 0, struct.pack(">IIIII", AUDIO_TRACK_ID, 1, 0, 0, 0))

    def fragment(self, frames: list[bytes], start: int) -> bytes:
        """moof+mdat of raw AAC frames, the first decoded at ``start`` (rate units)."""
        if not frames:
            return b""
        self._seq += 1
        entries = b"".join(struct.pack(">II", AAC_FRAME, len(f)) for f in frames)
        tfhd = full_box(b"tfhd", 0, 0x020000, _U32.pack(AUDIO_TRACK_ID))
        tfdt = full_box(b"tfdt", 1, 0, struct.pack(">Q", start))
        trun_size = 8 + 4 + 8 + len(entries)
        moof_size = 8 + 16 + 8 + len(tfhd) + len(tfdt) + trun_size
        trun = full_box(
            b"trun", 0, 0x000301, struct.pack(">Ii", len(frames), moof_size + 8), entries
        )
        moof = box(
            b"moof", full_box(b"mfhd", 0, 0, _U32.pack(self._seq)), box(b"traf", tfhd, tfdt, trun)
        )
        payload = b"".join(frames)
        self.next_time = start + AAC_FRAME * len(frames)
        return moof + _U32.pack(8 + len(payload)) + b"mdat" + payload


def _boxes(data: bytes) -> list[tuple[bytes, bytes]]:
    out: list[tuple[bytes, bytes]] = []
    pos = 0
    while pos + 8 <= len(data):
        size = _U32.unpack_from(data, pos)[0]
        if size < 8 or pos + size > len(data):
            raise AudioError("malformed init segment")
        out.append((data[pos + 4 : pos + 8], data[pos : pos + size]))
        pos += size
    return out


def av_init_segment(video_init: bytes, track: AacTrack) -> bytes:
    """The video writer's ftyp+moov with the audio trak (and its trex) added."""
    top = _boxes(video_init)
    ftyp = next(b for k, b in top if k == b"ftyp")
    moov = next(b for k, b in top if k == b"moov")
    parts = _boxes(moov[8:])
    mvhd = bytearray(next(b for k, b in parts if k == b"mvhd"))
    mvhd[-4:] = _U32.pack(AUDIO_TRACK_ID + 1)  # next_track_ID
    traks = [b for k, b in parts if k == b"trak"]
    mvex = next(b for k, b in parts if k == b"mvex")
    return ftyp + box(
        b"moov", bytes(mvhd), *traks, track.trak(), box(b"mvex", mvex[8:], track.trex())
    )


class AudioPipe:
    """One stream's audio for sound-on viewers: source codec in, AAC fragments out.

    ``origin`` returns the 90 kHz source time the video track's decode time 0 maps to,
    so the audio lands on the same timeline; a jump of over a second re-syncs.
    """

    def __init__(self, codec: str, origin: Callable[[], int | None]) -> None:
        if codec not in PLAYABLE:
            raise AudioError(f"audio codec {codec} cannot be played")
        self.codec = codec
        self._origin = origin
        self._transcoder = G711ToAac(codec) if codec in G711_CODECS else None
        self.track: AacTrack | None = (
            AacTrack(self._transcoder.asc) if self._transcoder is not None else None
        )
        self.frames_in = 0
        self.frames_out = 0
        self.errors = 0

    @property
    def transcoding(self) -> bool:
        return self._transcoder is not None

    def push(self, frame: EsFrame) -> bytes:
        """One audio chunk (G.711 bytes or ADTS); returns a fragment or b"" (buffering)."""
        self.frames_in += 1
        try:
            if self._transcoder is not None:
                frames = self._transcoder.push(frame.data)
            else:
                pairs = split_adts(frame.data)
                if pairs and self.track is None:
                    self.track = AacTrack(pairs[0][0])
                frames = [raw for _, raw in pairs]
        except AudioError:
            self.errors += 1
            return b""
        track = self.track
        if not frames or track is None:
            return b""
        start = self._start(track, frame.pts)
        self.frames_out += len(frames)
        return track.fragment(frames, start)

    def _start(self, track: AacTrack, pts: int | None) -> int:
        origin = self._origin()
        wanted = None
        if pts is not None and origin is not None:
            wanted = max(0, (pts - origin) * track.rate // 90000)
        nxt = track.next_time
        if nxt is None:
            return wanted or 0
        if wanted is not None and abs(wanted - nxt) > track.rate:
            return wanted
        return nxt


__all__ = ["AacTrack", "AudioError", "AudioPipe", "G711ToAac", "av_init_segment", "split_adts"]
