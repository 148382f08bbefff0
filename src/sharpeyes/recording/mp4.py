"""Files out: fMP4 bytes collected from a hub → a plain MP4 (PyAV stream copy, no re-encode).

Runs in a worker thread (``asyncio.to_thread``): file IO and muxing never touch the
event loop. A regular MP4 (one ``moov`` with the duration) is what desktop players
and evidence tools expect from a download or a clip.
"""

from __future__ import annotations

from pathlib import Path

import av


class Mp4Error(Exception):
    """The collected media could not be turned into an MP4 (nothing decodable arrived)."""


def remux_to_mp4(src: Path, dst: Path) -> float:
    """Copy the video of ``src`` (fMP4 or MP4) into ``dst``; returns the duration in seconds."""
    tmp = dst.with_suffix(".tmp.mp4")
    first: float | None = None
    last = 0.0
    try:
        with av.open(str(src)) as inp:
            if not inp.streams.video:
                raise Mp4Error("no video in the collected media")
            ist = inp.streams.video[0]
            tb = ist.time_base
            if tb is None:
                raise Mp4Error("the collected video has no time base")
            with av.open(str(tmp), "w", format="mp4") as out:
                ost = out.add_stream_from_template(ist)
                for pkt in inp.demux(ist):
                    if pkt.dts is None or pkt.size == 0:
                        continue
                    t = float(pkt.pts * tb) if pkt.pts is not None else 0.0
                    first = t if first is None else min(first, t)
                    end = t + (float(pkt.duration * tb) if pkt.duration else 0.0)
                    last = max(last, end)
                    pkt.stream = ost
                    out.mux(pkt)
    except (av.error.FFmpegError, OSError) as exc:
        tmp.unlink(missing_ok=True)
        raise Mp4Error(f"cannot write the MP4: {exc}") from exc
    if first is None:
        tmp.unlink(missing_ok=True)
        raise Mp4Error("no video frames arrived")
    tmp.replace(dst)
    return last - first


def append(path: Path, data: bytes) -> int:
    with path.open("ab") as f:
        f.write(data)
    return len(data)


__all__ = ["Mp4Error", "append", "remux_to_mp4"]
