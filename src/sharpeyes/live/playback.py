"""Where a playback/download stream is in its range, from the frames themselves (sans-IO).

Devices choose their own timestamps, so the position is anchored: at the start
(and after each seek) the first frame's DTS is position ``anchor_s``, and the
position advances with the DTS from there. After a seek the old position's frames
may still be in flight; the new anchor is taken at the first keyframe whose DTS
does not continue the previous one (or the second keyframe, for devices that keep
counting across a seek). The fMP4 writer keeps the browser's timeline continuous
regardless; this is what the API and the player's clock show.
"""

from __future__ import annotations

CLOCK = 90_000
_WRAP = 1 << 33
_CONTINUOUS_TICKS = 2 * CLOCK  # a jump larger than this is a seek taking effect


class PlaybackTimeline:
    __slots__ = (
        "_anchor_dts",
        "_keyframes_since_seek",
        "_last_dts",
        "anchor_s",
        "end",
        "frames",
        "paused",
        "pending_seek",
        "position_s",
        "resumed_mono",
        "scale",
        "start",
    )

    def __init__(self, start: int, end: int) -> None:
        self.start = start
        self.end = end
        self.position_s = 0.0
        self.anchor_s = 0.0
        self.scale = 1.0
        self.paused = False
        self.pending_seek: float | None = None
        self.resumed_mono: float | None = None
        self.frames = 0
        self._anchor_dts: int | None = None
        self._last_dts: int | None = None
        self._keyframes_since_seek = 0

    @property
    def duration_s(self) -> float:
        return float(self.end - self.start)

    @property
    def at_time(self) -> float:
        """The wall-clock time of the current position (Unix seconds)."""
        return self.start + self.position_s

    def seek(self, position_s: float) -> None:
        self.pending_seek = position_s
        self._keyframes_since_seek = 0

    def on_frame(self, dts: int | None, keyframe: bool) -> None:
        if dts is None:
            return
        self.frames += 1
        last = self._last_dts
        self._last_dts = dts
        if self.pending_seek is not None and keyframe:
            self._keyframes_since_seek += 1
            jumped = last is None or not 0 <= (dts - last) % _WRAP <= _CONTINUOUS_TICKS
            if jumped or self._keyframes_since_seek >= 2:
                self.anchor_s = self.pending_seek
                self._anchor_dts = dts
                self.pending_seek = None
        if self._anchor_dts is None:
            self._anchor_dts = dts
        elapsed = ((dts - self._anchor_dts) % _WRAP) / CLOCK
        self.position_s = min(self.anchor_s + elapsed, self.duration_s)


__all__ = ["PlaybackTimeline"]
