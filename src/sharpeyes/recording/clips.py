"""Clip export: a range of platform segments → one MP4 (in a worker thread).

Stream copy for admins; re-encoded with the security watermark for everyone else.

The clip starts at the keyframe at or before ``start`` (a clip must decode from
its first frame) and ends at ``end``. Frames come out of the segments as Annex-B
with parameter sets (``player.read_segment``), go through our fMP4 writer and
are remuxed to a plain MP4 by PyAV.
"""

from __future__ import annotations

from pathlib import Path

from sharpeyes.media.es import EsFrame
from sharpeyes.media.fmp4 import Fmp4Error, Fmp4Writer
from sharpeyes.recording.mp4 import Mp4Error, remux_to_mp4
from sharpeyes.recording.player import CLOCK, SegmentRef, TimedFrame, read_segment


def export_clip(
    segments: list[SegmentRef], start: float, end: float, dst: Path, watermark: str | None = None
) -> dict[str, float]:
    """Write ``dst``; returns where the clip really starts/ends and its duration.

    ``watermark`` (non-admin users) burns that text into every frame (re-encode).
    """
    frames: list[TimedFrame] = []
    codec: str | None = None
    for seg in segments:
        if seg.end <= start or seg.start >= end:
            continue
        codec = codec or seg.codec
        frames.extend(f for f in read_segment(seg) if f.at < end)
    keys = [i for i, f in enumerate(frames) if f.keyframe and f.at <= start + 1e-3]
    if keys:
        frames = frames[keys[-1] :]
    else:
        first_key = next((i for i, f in enumerate(frames) if f.keyframe), None)
        frames = frames[first_key:] if first_key is not None else []
    if not frames or codec is None:
        raise Mp4Error("no recorded video in that range")
    t0 = frames[0].at
    es = [
        EsFrame(
            "video",
            codec,
            round((f.at - t0) * CLOCK),
            round((f.at - t0) * CLOCK),
            f.data,
            f.keyframe,
        )
        for f in frames
    ]
    try:
        writer = Fmp4Writer.from_keyframe(codec, es[0].data)
    except Fmp4Error as exc:
        raise Mp4Error(f"the first keyframe is unusable: {exc}") from exc
    part = dst.with_suffix(".part.mp4")
    last = es[-1].dts or 0
    step = (last // max(1, len(es) - 1)) if len(es) > 1 else CLOCK // 25
    with part.open("wb") as f:
        f.write(writer.init_segment())
        f.write(writer.fragment(es, end_dts=last + step))
    try:
        duration = remux_to_mp4(part, dst, watermark)
    finally:
        part.unlink(missing_ok=True)
    return {"start": t0, "end": frames[-1].at, "duration_s": duration}


__all__ = ["export_clip"]
