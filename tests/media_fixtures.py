"""Shared helpers for the media tests: real clips, PS/RTP streams, ffprobe as an oracle."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from sharpeyes.media.es import EsFrame
from sharpeyes.media.psmux import PsMuxer, packetize_rtp
from sharpeyes.media.testvideo import EncodedFrame, generate_video

FFPROBE = shutil.which("ffprobe") or "/usr/bin/ffprobe"
FFMPEG = shutil.which("ffmpeg") or "/usr/bin/ffmpeg"

needs_ffmpeg = pytest.mark.skipif(
    not (Path(FFPROBE).exists() and Path(FFMPEG).exists()), reason="ffmpeg/ffprobe not installed"
)


def clip(codec: str = "h264", frames: int = 50, **kw: int) -> tuple[EncodedFrame, ...]:
    if codec == "h265":
        try:
            return generate_video("h265", frames=frames, **kw)  # type: ignore[arg-type]
        except Exception as exc:  # libx265 missing from this PyAV build
            pytest.skip(f"libx265 unavailable: {exc}")
    return generate_video(codec, frames=frames, **kw)  # type: ignore[arg-type]


def es_frames(frames: tuple[EncodedFrame, ...], codec: str) -> list[EsFrame]:
    return [EsFrame("video", codec, f.pts, f.pts, f.data, f.keyframe) for f in frames]


def ps_packs(frames: tuple[EncodedFrame, ...], codec: str = "h264") -> list[bytes]:
    mux = PsMuxer(codec)
    return [mux.mux_video(f.data, f.pts, f.keyframe) for f in frames]


def ps_rtp(
    frames: tuple[EncodedFrame, ...], codec: str = "h264", *, ssrc: int = 0x0100000001, seq: int = 0
) -> list[bytes]:
    out: list[bytes] = []
    for pack, f in zip(ps_packs(frames, codec), frames, strict=True):
        pkts = packetize_rtp(pack, ssrc=ssrc & 0xFFFFFFFF, seq_start=seq, ts=f.pts)
        seq += len(pkts)
        out.extend(pkts)
    return out


def ffprobe_streams(path: Path, *extra: str) -> list[dict[str, object]]:
    """``ffprobe -count_frames -show_streams`` as JSON (raises on a non-zero exit)."""
    res = subprocess.run(
        [
            FFPROBE,
            "-v",
            "error",
            *extra,
            "-count_frames",
            "-show_streams",
            "-of",
            "json",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(res.stdout)["streams"]  # type: ignore[no-any-return]


def ffmpeg(*args: str) -> None:
    subprocess.run([FFMPEG, "-v", "error", "-y", *args], check=True, timeout=60)


def shuffle_within(items: list[bytes], window: int, seed: int) -> list[bytes]:
    """Deterministic local reordering: each item moves less than ``window`` places."""
    import random

    rng = random.Random(seed)
    out = list(items)
    for start in range(0, len(out), window):
        chunk = out[start : start + window]
        rng.shuffle(chunk)
        out[start : start + window] = chunk
    return out
