"""Video quality diagnosis (视频质量诊断) on sampled decoded frames, with OpenCV/NumPy.

Pure functions: frames (BGR ``uint8`` arrays, a few taken some time apart) in,
scores and a verdict out. Every check reports a score whatever happens, and a
fault when the configured threshold (:class:`~sharpeyes.health.settings.VqdThresholds`)
is crossed. A black or burnt-out picture also has no contrast, detail or colour:
those secondary faults are not reported on top of it, so an operator sees the cause.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import cv2
import numpy as np

from sharpeyes.health.settings import VqdThresholds

ANALYSIS_WIDTH = 320  # checks run on a downscaled copy: cheap and resolution-independent


class Fault(StrEnum):
    SIGNAL_LOSS = "signal_loss"
    DARK = "dark"
    BRIGHT = "bright"
    LOW_CONTRAST = "low_contrast"
    BLUR = "blur"
    COLOR_CAST = "color_cast"
    NOISE = "noise"
    OCCLUSION = "occlusion"
    FREEZE = "freeze"
    SCENE_CHANGE = "scene_change"
    PTZ_UNRESPONSIVE = "ptz_unresponsive"


class Verdict(StrEnum):
    OK = "ok"
    FAULT = "fault"
    UNREACHABLE = "unreachable"


@dataclass
class Diagnosis:
    verdict: Verdict
    faults: list[Fault] = field(default_factory=list)
    scores: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "verdict": self.verdict.value,
            "faults": [f.value for f in self.faults],
            "scores": self.scores,
        }


def _prep(frame: np.ndarray) -> np.ndarray:
    """Fit into a 320×240 box (a 4:3 picture fills it), whatever the input's shape."""
    h, w = frame.shape[:2]
    scale = ANALYSIS_WIDTH / max(w, h * 4 / 3)
    size = (max(2, round(w * scale)), max(2, round(h * scale)))
    if size != (w, h):
        frame = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
    if frame.ndim == 2:
        frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    return frame


def _gray(bgr: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY) if bgr.ndim == 3 else bgr


def sharpness(gray: np.ndarray) -> float:
    """Variance of the Laplacian: falls when edges spread (defocus)."""
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def color_cast_factor(bgr: np.ndarray) -> float:
    """K = D/M in CIELab: mean chroma offset over the chroma spread around it.

    Pictures of the world average to grey (D small) or are varied (M large); a cast
    moves the whole picture one way (D large, M small). A grey picture has K = 0.
    """
    lab = cv2.cvtColor(bgr, cv2.COLOR_BGR2LAB).astype(np.float32)
    a = lab[..., 1] - 128.0
    b = lab[..., 2] - 128.0
    da, db = float(a.mean()), float(b.mean())
    d = float(np.hypot(da, db))
    m = float(np.hypot(np.abs(a - da).mean(), np.abs(b - db).mean()))
    return d / max(m, 1.0)


def noise_sigma(gray: np.ndarray) -> float:
    """Immerkær's fast noise estimate, on flat pixels only so edges do not count as noise."""
    g = gray.astype(np.float64)
    kernel = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float64)
    resp = np.abs(cv2.filter2D(g, -1, kernel))[1:-1, 1:-1]
    edges = cv2.Canny(cv2.GaussianBlur(gray, (5, 5), 1.5), 40, 120)
    flat = cv2.dilate(edges, np.ones((5, 5), np.uint8))[1:-1, 1:-1] == 0
    if flat.sum() < resp.size * 0.05:
        flat = np.ones_like(flat)
    return float(resp[flat].mean() * np.sqrt(np.pi / 2) / 6.0)


def uniform_area(gray: np.ndarray, block: int = 16, std_max: float = 3.0) -> float:
    """Share of the picture taken by the largest connected region of flat, alike blocks."""
    h, w = gray.shape
    bh, bw = h // block, w // block
    if bh == 0 or bw == 0:
        return 0.0
    g = gray[: bh * block, : bw * block].astype(np.float32)
    tiles = g.reshape(bh, block, bw, block)
    std = tiles.std(axis=(1, 3))
    mean = tiles.mean(axis=(1, 3))
    flat = std < std_max
    if not flat.any():
        return 0.0
    # group flat blocks of similar brightness (16-level bins), largest connected one
    best = 0
    levels = (mean // 16).astype(np.int32)
    for level in np.unique(levels[flat]):
        mask = (flat & (levels == level)).astype(np.uint8)
        n, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=4)
        if n > 1:
            best = max(best, int(stats[1:, cv2.CC_STAT_AREA].max()))
    return best / float(bh * bw)


def frame_difference(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute luma difference of two frames (0 = identical)."""
    ga, gb = _gray(_prep(a)), _gray(_prep(b))
    if ga.shape != gb.shape:
        gb = cv2.resize(gb, (ga.shape[1], ga.shape[0]))
    return float(cv2.absdiff(ga, gb).mean())


def scene_similarity(frame: np.ndarray, baseline: np.ndarray) -> float:
    """Correlation of coarse edge-preserving thumbnails (moving objects barely count)."""

    def coarse(img: np.ndarray) -> np.ndarray:
        g = _gray(_prep(img))
        small = cv2.resize(g, (32, 24), interpolation=cv2.INTER_AREA).astype(np.float64)
        return (small - small.mean()).ravel()

    x, y = coarse(frame), coarse(baseline)
    den = float(np.linalg.norm(x) * np.linalg.norm(y))
    if den == 0.0:
        return 1.0 if float(np.abs(x - y).sum()) == 0.0 else 0.0
    return float(np.dot(x, y) / den)


def diagnose(
    frames: Sequence[np.ndarray],
    thresholds: VqdThresholds,
    *,
    baseline: np.ndarray | None = None,
    ptz_pair: tuple[np.ndarray, np.ndarray] | None = None,
    reachable: bool = True,
) -> Diagnosis:
    """Diagnose sampled frames of one channel (first frame = the keyframe to judge).

    ``frames`` empty with ``reachable`` means the stream came up without pictures
    (signal loss); not ``reachable`` means the device never answered (no verdict on
    the picture is possible). An occluded lens also changes the scene, and a flat
    picture is one uniform region: only the cause is reported. ``ptz_pair`` is a
    frame before and after a PTZ move.
    """
    t = thresholds
    if not reachable:
        return Diagnosis(Verdict.UNREACHABLE, [], {})
    if not frames:
        return Diagnosis(Verdict.FAULT, [Fault.SIGNAL_LOSS], {Fault.SIGNAL_LOSS.value: 1.0})
    bgr = _prep(frames[0])
    gray = _gray(bgr)
    scores: dict[str, float] = {Fault.SIGNAL_LOSS.value: 0.0}
    faults: list[Fault] = []

    def check(kind: Fault, value: float, bad: bool) -> None:
        scores[kind.value] = round(value, 3)
        if bad:
            faults.append(kind)

    mean = float(gray.mean())
    std = float(gray.std())
    check(Fault.DARK, mean, mean < t.dark_luma_max)
    check(Fault.BRIGHT, mean, mean > t.bright_luma_min)
    extreme = bool(faults)
    flat = std < t.low_contrast_std_max
    check(Fault.LOW_CONTRAST, std, not extreme and flat)
    sharp = sharpness(gray)
    noise = noise_sigma(gray)
    noisy = noise > t.noise_max
    check(Fault.NOISE, noise, not extreme and noisy)
    # Noise raises the Laplacian; a flat picture has none: only judge focus otherwise.
    check(
        Fault.BLUR,
        sharp,
        not extreme
        and not noisy
        and std >= t.low_contrast_std_max
        and sharp < t.blur_sharpness_min,
    )
    cast = color_cast_factor(bgr)
    check(Fault.COLOR_CAST, cast, not extreme and cast > t.color_cast_max)
    area = uniform_area(gray)
    covered = area > t.occlusion_area_max
    check(Fault.OCCLUSION, area, not extreme and not flat and covered)
    if len(frames) >= 2:
        diffs = [frame_difference(frames[i], frames[i + 1]) for i in range(len(frames) - 1)]
        motion = max(diffs)
        check(Fault.FREEZE, motion, not extreme and not flat and motion < t.freeze_diff_max)
    if baseline is not None:
        sim = scene_similarity(frames[0], baseline)
        moved = sim < t.scene_similarity_min
        check(Fault.SCENE_CHANGE, sim, not extreme and not covered and moved)
    if ptz_pair is not None:
        change = frame_difference(*ptz_pair)
        check(Fault.PTZ_UNRESPONSIVE, change, change < t.ptz_change_min)
    return Diagnosis(Verdict.FAULT if faults else Verdict.OK, faults, scores)


def thumbnail(frame: np.ndarray, width: int = 160, quality: int = 70) -> bytes:
    """A small JPEG of the judged frame, stored with the result."""
    h, w = frame.shape[:2]
    small = cv2.resize(frame, (width, max(2, round(h * width / w))), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover - OpenCV encodes any uint8 picture
        raise ValueError("cannot encode thumbnail")
    return buf.tobytes()


def decode_jpeg(data: bytes) -> np.ndarray | None:
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    return img


__all__ = ["Diagnosis", "Fault", "Verdict", "diagnose", "thumbnail"]
