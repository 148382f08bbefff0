"""Real H.264/H.265 and G.711A test media made with PyAV (libx264/libx265).

Simulators and tests need genuine bitstreams, not canned bytes. Each clip shows a
moving colour gradient, a bouncing square and the seed number drawn as a row of
black/white blocks (so snapshots of different "cameras" differ). Clips are encoded
once per parameter set (``functools.lru_cache``) and can be looped forever with
rising timestamps by :func:`loop_frames`. Encoding needs only PyAV, not NumPy.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from fractions import Fraction
from functools import lru_cache
from typing import NamedTuple

CLOCK = 90000
SEED_BITS = 16


class EncodedFrame(NamedTuple):
    """One access unit: Annex-B bytes for video, G.711 bytes for audio; 90 kHz PTS."""

    data: bytes
    pts: int
    keyframe: bool


def _planes(width: int, height: int, index: int, seed: int) -> tuple[bytes, bytes, bytes]:
    """YUV 4:2:0 planes of frame ``index`` (tightly packed)."""
    # Luma: diagonal gradient scrolling right; a square bouncing; seed blocks on top.
    pattern = bytes((x * 3 + seed * 37) & 0xFF for x in range(2 * width + 2 * height))
    shift = (index * 4) % (width + height)
    rows = [pattern[shift + y : shift + y + width] for y in range(height)]
    y_plane = bytearray(b"".join(rows))
    side = max(8, min(width, height) // 6) & ~1
    span_x, span_y = max(1, width - side), max(1, height - side)
    sx = abs((index * 7) % (2 * span_x) - span_x)
    sy = abs((index * 5) % (2 * span_y) - span_y)
    white = b"\xeb" * side
    for y in range(sy, min(height, sy + side)):
        y_plane[y * width + sx : y * width + sx + len(white[: width - sx])] = white[: width - sx]
    block = max(4, width // (SEED_BITS + 4)) & ~1
    for bit in range(SEED_BITS):
        value = 0xEB if (seed >> (SEED_BITS - 1 - bit)) & 1 else 0x10
        x0 = block * (bit + 1)
        if x0 + block > width or 2 * block > height:
            break
        row = bytes((value,)) * block
        for y in range(block, 2 * block):
            y_plane[y * width + x0 : y * width + x0 + block] = row
    # Chroma: a hue that drifts over time and depends on the seed.
    cw, ch = width // 2, height // 2
    angle = index / 25.0 + seed
    u = 128 + int(90 * math.cos(angle))
    v = 128 + int(90 * math.sin(angle))
    return bytes(y_plane), bytes((u,)) * (cw * ch), bytes((v,)) * (cw * ch)


def _fill(plane: object, data: bytes, width: int, height: int) -> None:
    line = plane.line_size  # type: ignore[attr-defined]
    if line != width:
        pad = bytes(line - width)
        data = b"".join(data[y * width : (y + 1) * width] + pad for y in range(height))
    plane.update(data)  # type: ignore[attr-defined]


@lru_cache(maxsize=32)
def generate_video(
    codec: str = "h264",
    *,
    width: int = 320,
    height: int = 240,
    fps: int = 25,
    frames: int = 50,
    gop: int = 25,
    bitrate: int = 400_000,
    seed: int = 0,
    picture: str = "pattern",
    fault: str = "",
) -> tuple[EncodedFrame, ...]:
    """Encode ``frames`` frames; returns Annex-B access units with 90 kHz PTS (= DTS).

    ``tune=zerolatency`` means no B-frames, so decode order equals presentation order,
    like the IP cameras this stands in for. Keyframes every ``gop`` frames, each with
    in-band parameter sets (SPS/PPS, plus VPS for H.265). ``picture="scene"`` draws
    :mod:`sharpeyes.media.testscene` (with a picture ``fault``) instead of the pattern.
    """
    import av  # local: PyAV is heavy and only needed when generating

    if width % 2 or height % 2:
        raise ValueError("width and height must be even")
    if codec == "h264":
        ctx = av.CodecContext.create("libx264", "w")
        ctx.options = {
            "preset": "veryfast",
            "tune": "zerolatency",
            "x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0:repeat-headers=1",
        }
    elif codec == "h265":
        ctx = av.CodecContext.create("libx265", "w")
        ctx.options = {
            "preset": "ultrafast",
            "tune": "zerolatency",
            "x265-params": (
                f"keyint={gop}:min-keyint={gop}:scenecut=0:open-gop=0:"
                "repeat-headers=1:log-level=error"
            ),
        }
    else:
        raise ValueError(f"cannot generate {codec!r}")
    ctx.width = width
    ctx.height = height
    ctx.pix_fmt = "yuv420p"
    ctx.time_base = Fraction(1, fps)
    ctx.framerate = Fraction(fps, 1)
    ctx.bit_rate = bitrate
    ctx.gop_size = gop
    ctx.max_b_frames = 0
    step = CLOCK // fps
    out: list[EncodedFrame] = []

    def collect(packets: list) -> None:  # type: ignore[type-arg]
        for pkt in packets:
            out.append(EncodedFrame(bytes(pkt), int(pkt.pts) * step, bool(pkt.is_keyframe)))

    for i in range(frames):
        frame = av.VideoFrame(width, height, "yuv420p")
        if picture == "scene":
            from sharpeyes.media.testscene import scene_planes

            y, u, v = scene_planes(width, height, i, seed, fault)
        else:
            y, u, v = _planes(width, height, i, seed)
        _fill(frame.planes[0], y, width, height)
        _fill(frame.planes[1], u, width // 2, height // 2)
        _fill(frame.planes[2], v, width // 2, height // 2)
        frame.pts = i
        frame.time_base = ctx.time_base
        collect(ctx.encode(frame))
    collect(ctx.encode(None))
    return tuple(out)


def generate_h264(**kwargs: int) -> tuple[EncodedFrame, ...]:
    return generate_video("h264", **kwargs)


def generate_h265(**kwargs: int) -> tuple[EncodedFrame, ...]:
    return generate_video("h265", **kwargs)


# --- G.711 ---------------------------------------------------------------------------


def _alaw(sample: int) -> int:
    """ITU-T G.711 A-law encoding of one 16-bit linear sample."""
    sign = 0x80 if sample >= 0 else 0x00
    if sample < 0:
        sample = -sample - 1
    sample = min(sample, 0x7FFF) >> 3  # 13-bit magnitude (12 + sign)
    if sample < 32:
        code = sample >> 1
    else:
        exp = sample.bit_length() - 5
        code = (exp << 4) | ((sample >> exp) & 0x0F)
    return (code | sign) ^ 0x55


def alaw_decode(code: int) -> int:
    """G.711 A-law byte back to a 16-bit linear sample (for tests)."""
    code ^= 0x55
    exp = (code >> 4) & 0x07
    mant = code & 0x0F
    mag = (mant << 4) + 8 if exp == 0 else ((mant << 4) + 0x108) << (exp - 1)
    return mag if code & 0x80 else -mag


@lru_cache(maxsize=8)
def generate_g711a(
    duration_ms: int = 2000,
    *,
    frame_ms: int = 40,
    freq: float = 440.0,
    sample_rate: int = 8000,
    seed: int = 0,
) -> tuple[EncodedFrame, ...]:
    """A sine tone (pitch shifted by ``seed``) as G.711 A-law chunks with 90 kHz PTS."""
    per_frame = sample_rate * frame_ms // 1000
    total = sample_rate * duration_ms // 1000
    pitch = freq * (1 + 0.05 * (seed % 8))
    samples = bytes(
        _alaw(int(12000 * math.sin(2 * math.pi * pitch * i / sample_rate))) for i in range(total)
    )
    step = CLOCK * frame_ms // 1000
    return tuple(
        EncodedFrame(samples[k : k + per_frame], (k // per_frame) * step, True)
        for k in range(0, total - per_frame + 1, per_frame)
    )


def loop_frames(
    frames: tuple[EncodedFrame, ...], *, frame_duration: int, start_pts: int = 0
) -> Iterator[EncodedFrame]:
    """Repeat a clip forever with rising timestamps (a live camera from a cached clip)."""
    if not frames:
        return
    first = frames[0].pts
    period = frames[-1].pts - first + frame_duration
    cycle = 0
    while True:
        offset = start_pts + cycle * period - first
        for f in frames:
            yield EncodedFrame(f.data, f.pts + offset, f.keyframe)
        cycle += 1
