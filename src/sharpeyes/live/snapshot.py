"""JPEG snapshots decoded from a stream's latest keyframe (PyAV, off the event loop).

A keyframe decodes on its own, so a snapshot never waits for more video than the
hub already holds. Decoding and JPEG encoding take milliseconds to tens of
milliseconds, so callers run :func:`keyframe_to_jpeg` in a worker thread.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any, cast

_DECODERS = {"h264": "h264", "h265": "hevc"}


class SnapshotError(ValueError):
    """The keyframe could not be decoded."""


def keyframe_to_jpeg(codec: str, keyframe: bytes, *, quality: int = 5) -> bytes:
    """Decode one Annex-B keyframe (with its parameter sets) and encode it as JPEG.

    ``quality`` is the MJPEG qscale (2 best … 31 worst).
    """
    import av  # local: heavy, and only needed here

    name = _DECODERS.get(codec)
    if name is None:
        raise SnapshotError(f"cannot decode {codec} snapshots")
    try:
        dec = cast(Any, av.CodecContext.create(name, "r"))  # a VideoCodecContext
        frames = list(dec.decode(av.Packet(keyframe)))
        frames += list(dec.decode(None))
    except av.FFmpegError as exc:
        raise SnapshotError(f"keyframe does not decode: {exc}") from exc
    if not frames:
        raise SnapshotError("keyframe produced no picture")
    picture = frames[0]
    enc = av.CodecContext.create("mjpeg", "w")
    enc.width = picture.width
    enc.height = picture.height
    enc.pix_fmt = "yuvj420p"
    enc.time_base = Fraction(1, 25)
    enc.options = {"qscale": str(quality)}
    enc.flags |= av.codec.context.Flags.qscale
    enc.global_quality = quality * 118  # FF_QP2LAMBDA
    out = b"".join(
        bytes(p) for p in [*enc.encode(picture.reformat(format="yuvj420p")), *enc.encode(None)]
    )
    if not out.startswith(b"\xff\xd8"):
        raise SnapshotError("JPEG encoder produced no image")
    return out


__all__ = ["SnapshotError", "keyframe_to_jpeg"]
