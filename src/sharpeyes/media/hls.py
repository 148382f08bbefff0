"""GOP-aligned fMP4 HLS (RFC 8216, version 7): a sliding window of segments in memory.

Each segment starts with a keyframe and is one moof+mdat; the init segment is
referenced by ``#EXT-X-MAP``. A segment is closed when a keyframe arrives and the
open segment is at least ``segment_duration`` long, so segment length follows the
camera's keyframe interval and the target duration is derived from what was cut.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass

from .es import EsFrame
from .fmp4 import Fmp4Writer


@dataclass(slots=True, frozen=True)
class HlsSegment:
    sequence: int
    duration: float  # seconds
    data: bytes
    keyframe_start: bool = True


class HlsWriter:
    """Push video frames in decode order; serve ``playlist()``, ``segment(n)``, ``init_segment()``.

    Frames before the first keyframe are dropped (a segment must be decodable alone).
    ``uri_prefix`` is prepended to segment and init URIs (e.g. a signed token path).
    """

    def __init__(
        self,
        writer: Fmp4Writer,
        *,
        window: int = 6,
        segment_duration: float = 2.0,
        uri_prefix: str = "",
        init_name: str = "init.mp4",
        segment_name: str = "seg{n}.m4s",
    ) -> None:
        if window < 1:
            raise ValueError("window must be >= 1")
        self.writer = writer
        self.window = window
        self.segment_duration = segment_duration
        self.uri_prefix = uri_prefix
        self.init_name = init_name
        self.segment_name = segment_name
        self._segments: OrderedDict[int, HlsSegment] = OrderedDict()
        self._next_seq = 0
        self._open: list[EsFrame] = []
        self._open_start: int | None = None
        self._target = max(1, math.ceil(segment_duration))
        self._init: bytes | None = None
        self._ended = False

    def init_segment(self) -> bytes:
        if self._init is None:
            self._init = self.writer.init_segment()
        return self._init

    def push(self, frame: EsFrame) -> HlsSegment | None:
        """Add one frame; returns the segment it closed, if any."""
        if frame.stream != "video":
            return None
        ts = frame.dts if frame.dts is not None else frame.pts
        if not self._open:
            if not frame.keyframe:
                return None
            self._open_start = ts
            self._open.append(frame)
            return None
        closed = None
        if (
            frame.keyframe
            and ts is not None
            and self._open_start is not None
            and (ts - self._open_start) / 90000 >= self.segment_duration - 1e-6
        ):
            closed = self._close(end_dts=ts)
            self._open_start = ts
        self._open.append(frame)
        return closed

    def finish(self) -> HlsSegment | None:
        """Close the open segment and mark the playlist ended (``#EXT-X-ENDLIST``)."""
        closed = self._close(end_dts=None) if self._open else None
        self._ended = True
        return closed

    def _close(self, end_dts: int | None) -> HlsSegment:
        frames, self._open = self._open, []
        before = self.writer.decode_time
        data = self.writer.fragment(frames, end_dts=end_dts)
        duration = (self.writer.decode_time - before) / self.writer.timescale
        seg = HlsSegment(self._next_seq, duration, data)
        self._segments[self._next_seq] = seg
        self._next_seq += 1
        while len(self._segments) > self.window:
            self._segments.popitem(last=False)
        self._target = max(self._target, math.ceil(duration - 1e-3))
        return seg

    @property
    def segments(self) -> list[HlsSegment]:
        return list(self._segments.values())

    def segment(self, n: int) -> bytes:
        """Bytes of segment ``n``; KeyError once it has left the window."""
        return self._segments[n].data

    def segment_uri(self, n: int) -> str:
        return self.uri_prefix + self.segment_name.format(n=n)

    def playlist(self) -> str:
        segs = list(self._segments.values())
        first = segs[0].sequence if segs else self._next_seq
        lines = [
            "#EXTM3U",
            "#EXT-X-VERSION:7",
            f"#EXT-X-TARGETDURATION:{self._target}",
            f"#EXT-X-MEDIA-SEQUENCE:{first}",
            "#EXT-X-INDEPENDENT-SEGMENTS",
            f'#EXT-X-MAP:URI="{self.uri_prefix}{self.init_name}"',
        ]
        for seg in segs:
            lines.append(f"#EXTINF:{seg.duration:.3f},")
            lines.append(self.segment_uri(seg.sequence))
        if self._ended:
            lines.append("#EXT-X-ENDLIST")
        return "\n".join(lines) + "\n"
