"""A camera-like test scene, and the picture faults real cameras show, as YUV planes.

The classic test pattern (:mod:`sharpeyes.media.testvideo`) scrolls and is one hue,
which no video-quality check could tell from a broken camera. A scene here is what a
fixed street camera sees: a static background (gradient, "buildings" of different
greys, a hue that varies across the picture so its average is neutral) and one
moving object, so freeze and scene-change checks have something to compare.

Faults change the picture the way failing cameras do (``FAULTS``); the simulator
encodes them with PyAV so the platform decodes genuine H.264 of a broken camera.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

# Picture faults; the simulator's other video faults (no_video, clock_drift,
# ptz_ignored) are behaviours, not pictures.
FAULTS = frozenset(
    {
        "black",
        "bright",
        "low_contrast",
        "frozen",
        "blur",
        "color_cast",
        "noise",
        "occlusion",
        "scene_moved",
    }
)


@lru_cache(maxsize=64)
def _background(width: int, height: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    y = 70 + 70 * (xx / width * 0.6 + yy / height * 0.4)
    for _ in range(7):  # buildings and poles: sharp edges for focus checks
        w = int(rng.integers(width // 12, width // 4))
        h = int(rng.integers(height // 8, height // 2))
        x0 = int(rng.integers(0, width - w))
        y0 = int(rng.integers(0, height - h))
        y[y0 : y0 + h, x0 : x0 + w] = float(rng.integers(30, 220))
    # fine texture (windows, foliage) so a defocused picture loses detail
    y += 18 * ((xx.astype(np.int32) // 4 + yy.astype(np.int32) // 4) % 2) * (yy > height * 0.6)
    cw, ch = width // 2, height // 2
    cy, cx = np.mgrid[0:ch, 0:cw].astype(np.float32)
    phase = float(seed)
    u = 128 + 40 * np.cos(2 * np.pi * cx / cw + phase)
    v = 128 + 40 * np.sin(2 * np.pi * cy / ch + phase)
    return (
        np.clip(y, 16, 235).astype(np.uint8),
        np.clip(u, 16, 240).astype(np.uint8),
        np.clip(v, 16, 240).astype(np.uint8),
    )


def _seed_blocks(y: np.ndarray, width: int, height: int, seed: int) -> None:
    """The seed as a row of black/white blocks, where the classic pattern draws it."""
    from sharpeyes.media.testvideo import SEED_BITS

    block = max(4, width // (SEED_BITS + 4)) & ~1
    for bit in range(SEED_BITS):
        x0 = block * (bit + 1)
        if x0 + block > width or 2 * block > height:
            break
        y[block : 2 * block, x0 : x0 + block] = (
            0xEB if (seed >> (SEED_BITS - 1 - bit)) & 1 else 0x10
        )


def scene_planes(
    width: int, height: int, index: int, seed: int, fault: str = ""
) -> tuple[bytes, bytes, bytes]:
    """YUV 4:2:0 planes (tightly packed bytes) of frame ``index`` showing ``fault``."""
    if fault and fault not in FAULTS:
        raise ValueError(f"unknown picture fault {fault!r}; known: {sorted(FAULTS)}")
    if fault == "frozen":
        index = 0
    by, bu, bv = _background(width, height, seed)
    y, u, v = by.copy(), bu.copy(), bv.copy()
    if fault == "scene_moved":  # the camera was turned: another view of the street
        y = np.ascontiguousarray(np.flipud(np.roll(y, width // 3, axis=1)))
        u = np.ascontiguousarray(np.flipud(np.roll(u, width // 6, axis=1)))
        v = np.ascontiguousarray(np.flipud(np.roll(v, width // 6, axis=1)))
    _seed_blocks(y, width, height, seed)  # the OSD: stays when the camera is turned
    side = max(8, min(width, height) // 6) & ~1
    span_x, span_y = max(1, width - side), max(1, height - side)
    sx = abs((index * 7) % (2 * span_x) - span_x)
    sy = abs((index * 5) % (2 * span_y) - span_y)
    y[sy : sy + side, sx : sx + side] = 235
    if fault == "black":
        y[:] = 16
        u[:] = 128
        v[:] = 128
    elif fault == "bright":
        y = np.clip(y.astype(np.int16) // 4 + 225, 0, 255).astype(np.uint8)
    elif fault == "low_contrast":
        y = (118 + (y.astype(np.int16) - 128) // 12).astype(np.uint8)
    elif fault == "blur":
        import cv2

        y = cv2.GaussianBlur(y, (0, 0), 5)
        u = cv2.GaussianBlur(u, (0, 0), 2.5)
        v = cv2.GaussianBlur(v, (0, 0), 2.5)
    elif fault == "color_cast":
        u = np.clip(u.astype(np.int16) // 3 + 60, 16, 240).astype(np.uint8)
        v = np.clip(v.astype(np.int16) // 3 + 140, 16, 240).astype(np.uint8)
    elif fault == "noise":  # snow: strong noise that changes every frame
        rng = np.random.default_rng(index)
        y = np.clip(y + rng.normal(0, 45, y.shape), 0, 255).astype(np.uint8)
    elif fault == "occlusion":  # something covers two thirds of the lens
        y[:, : width * 2 // 3] = 60
        u[:, : width // 3] = 128
        v[:, : width // 3] = 128
    return y.tobytes(), u.tobytes(), v.tobytes()


__all__ = ["FAULTS", "scene_planes"]
