"""Files out: fMP4 bytes collected from a hub → a plain MP4 (PyAV stream copy, no re-encode).

For non-admin users the security watermark must be burned into every picture, so
their files are decoded and re-encoded (H.264) instead; admins keep the untouched
stream copy (evidence handling). Runs in a worker thread (``asyncio.to_thread``):
file IO and muxing never touch the event loop. A regular MP4 (one ``moov`` with the
duration) is what desktop players and evidence tools expect from a download or a clip.
"""

from __future__ import annotations

from pathlib import Path

import av


class Mp4Error(Exception):
    """The collected media could not be turned into an MP4 (nothing decodable arrived)."""


def remux_to_mp4(src: Path, dst: Path, watermark: str | None = None) -> float:
    """Copy the video of ``src`` (fMP4 or MP4) into ``dst``; returns the duration in seconds.

    With ``watermark`` the text is burned into every frame (re-encoded, not copied).
    """
    if watermark is not None:
        return _burn_to_mp4(src, dst, watermark)
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


def _burn_to_mp4(src: Path, dst: Path, text: str) -> float:
    from sharpeyes.sharing.watermark import burn_into_frame

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
                ost = out.add_stream("libx264", rate=25)
                ost.time_base = tb
                ost.codec_context.time_base = tb
                ost.pix_fmt = "yuv420p"
                ost.options = {"preset": "veryfast", "crf": "23"}
                sized = False
                prev_pts = -1
                count = 0
                for frame in inp.decode(ist):
                    if frame.pts is None or frame.pts <= prev_pts:
                        continue  # the encoder needs strictly increasing timestamps
                    prev_pts = frame.pts
                    if not sized:
                        ost.width, ost.height = frame.width, frame.height
                        sized = True
                    t = float(frame.pts * tb)
                    first = t if first is None else min(first, t)
                    last = max(last, t)
                    count += 1
                    marked = burn_into_frame(frame, text).reformat(format="yuv420p")
                    marked.pts, marked.time_base = frame.pts, tb
                    for pkt in ost.encode(marked):
                        out.mux(pkt)
                if sized:
                    for pkt in ost.encode(None):
                        out.mux(pkt)
    except (av.error.FFmpegError, OSError) as exc:
        tmp.unlink(missing_ok=True)
        raise Mp4Error(f"cannot write the MP4: {exc}") from exc
    except Mp4Error:
        tmp.unlink(missing_ok=True)
        raise
    if first is None:
        tmp.unlink(missing_ok=True)
        raise Mp4Error("no video frames arrived")
    tmp.replace(dst)
    step = (last - first) / (count - 1) if count > 1 else 1 / 25
    return last - first + step  # the last frame lasts one frame interval too


def append(path: Path, data: bytes) -> int:
    with path.open("ab") as f:
        f.write(data)
    return len(data)


__all__ = ["Mp4Error", "append", "remux_to_mp4"]
