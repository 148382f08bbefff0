"""Playback of platform recordings: segments → frames → the same hub and players as live.

A platform playback is a ``LiveSession`` with ``source="platform"`` and no
upstream: a task reads the segments of the range (PyAV demux plus the
mp4→Annex-B bitstream filter, in a worker thread, one segment at a time), paces
the frames at ``scale`` × real time and pushes them into the session's hub, so
WebSocket/HLS viewers, tokens and the end message work unchanged. A seek lands on
the keyframe at or before the position; frame timestamps are the position in the
range (so the session's timeline reports it), and the fMP4 writer keeps the
browser's timeline continuous. The end of the range ends the session with ``eof``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import av
from av.bitstream import BitStreamFilterContext

from sharpeyes.live.session import EndReason, LiveSession
from sharpeyes.media.es import EsFrame

log = logging.getLogger(__name__)

CLOCK = 90_000
_BSF = {"h264": "h264_mp4toannexb", "h265": "hevc_mp4toannexb"}


@dataclass(frozen=True, slots=True)
class SegmentRef:
    path: Path
    start: float
    end: float
    codec: str


@dataclass(frozen=True, slots=True)
class TimedFrame:
    at: float  # Unix seconds
    data: bytes
    keyframe: bool


def read_segment(seg: SegmentRef) -> list[TimedFrame]:
    """Frames of one segment file with wall-clock times (a truncated tail is tolerated)."""
    out: list[TimedFrame] = []
    try:
        with av.open(str(seg.path)) as c:
            st = c.streams.video[0]
            bsf = BitStreamFilterContext(_BSF.get(seg.codec, "h264_mp4toannexb"), st)
            first: float | None = None
            tb = st.time_base
            if tb is None:
                return out
            try:
                for pkt in c.demux(st):
                    for p in bsf.filter(pkt):
                        if p.pts is None or p.size == 0:
                            continue
                        t = float(p.pts * tb)
                        if first is None:
                            first = t
                        out.append(TimedFrame(seg.start + t - first, bytes(p), p.is_keyframe))
            except av.error.FFmpegError:
                pass  # the segment still being written ends mid-box
    except (av.error.FFmpegError, OSError, IndexError) as exc:
        log.info("cannot read segment %s: %s", seg.path, exc)
    return out


class SegmentPlayer:
    """Feeds one platform playback session (see the module docstring)."""

    def __init__(
        self,
        session: LiveSession,
        segments: list[SegmentRef],
        start: int,
        end: int,
        *,
        end_session: Callable[[LiveSession, EndReason, str], None],
    ) -> None:
        self.s = session
        self.segments = segments
        self.start = start
        self.end = end
        self.end_session = end_session
        self._wake = asyncio.Event()
        self._seek: float | None = 0.0
        self.task: asyncio.Task[None] | None = None

    def seek(self, position_s: float) -> None:
        self._seek = position_s
        self._wake.set()

    def poke(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        s = self.s
        timeline = s.timeline
        assert timeline is not None
        try:
            while s.state != "ended":
                target = self._seek if self._seek is not None else 0.0
                self._seek = None
                finished = await self._play_from(self.start + target)
                if self._seek is not None:
                    continue
                if finished:
                    self.end_session(s, EndReason.EOF, "end of the recorded range")
                    return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("platform playback %s failed", s.id)
            self.end_session(s, EndReason.ERROR, f"playback failed: {exc}")

    async def _play_from(self, at: float) -> bool:
        """Play from ``at`` to the end; False when interrupted by a seek."""
        s = self.s
        timeline = s.timeline
        assert timeline is not None
        started = False
        wall0 = media0 = 0.0
        scale = timeline.scale
        for seg in self.segments:
            if seg.end <= at or seg.start >= self.end:
                continue
            frames = await asyncio.to_thread(read_segment, seg)
            if not started:
                keys = [i for i, f in enumerate(frames) if f.keyframe and f.at <= at + 1e-3]
                frames = frames[keys[-1] :] if keys else [f for f in frames if f.at >= at]
            for f in frames:
                if f.at >= self.end:
                    return True
                while True:  # wait until this frame is due (or paused, seeking, ended)
                    if self._seek is not None or s.state == "ended":
                        return False
                    if timeline.paused:
                        self._wake.clear()
                        with contextlib.suppress(TimeoutError):  # also notices the end
                            await asyncio.wait_for(self._wake.wait(), 1.0)
                        started = False  # re-anchor the pacing after a pause
                        continue
                    if not started or scale != timeline.scale:
                        started, scale = True, timeline.scale
                        wall0, media0 = time.monotonic(), f.at
                    delay = wall0 + (f.at - media0) / scale - time.monotonic()
                    if delay <= 0.001:
                        break
                    self._wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), delay)
                ts = round((f.at - self.start) * CLOCK) + CLOCK
                frame = EsFrame("video", seg.codec, ts, ts, f.data, f.keyframe)
                timeline.on_frame(ts, f.keyframe)
                s.hub.push(frame)
        return True


__all__ = ["SegmentPlayer", "SegmentRef", "TimedFrame", "read_segment"]
