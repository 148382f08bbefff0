"""remux_to_mp4: the stream copy for admins, the burned-in watermark for everyone else.

Both download paths (device downloads and clip exports) end here, so this is where
a missing watermark would show: the marked file must decode to the same number of
pictures, keep the duration, and differ from the clean one in the watermark band.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from sharpeyes.media.es import EsFrame
from sharpeyes.media.fmp4 import Fmp4Writer
from sharpeyes.media.testvideo import generate_h264
from sharpeyes.recording.mp4 import remux_to_mp4


def _fmp4(path: Path) -> list[bytes]:
    frames = generate_h264(frames=50, gop=25)
    es = [EsFrame("video", "h264", f.pts, f.pts, f.data, f.keyframe) for f in frames]
    w = Fmp4Writer.from_keyframe("h264", es[0].data)
    path.write_bytes(w.init_segment() + w.fragment(es, end_dts=es[-1].pts + 3600))
    return [f.data for f in frames]


def _pictures(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as inp:
        return [f.to_ndarray(format="rgb24") for f in inp.decode(video=0)]


def _packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as inp:
        return [bytes(p) for p in inp.demux(video=0) if p.size]


def test_admin_copy_is_untouched_and_the_marked_copy_carries_the_text(tmp_path: Path) -> None:
    src = tmp_path / "in.mp4"
    _fmp4(src)
    clean, marked = tmp_path / "clean.mp4", tmp_path / "marked.mp4"
    d_clean = remux_to_mp4(src, clean)
    d_marked = remux_to_mp4(src, marked, "clerk | org 3 | 2026-12-02 07:00:00Z | 3402")
    assert abs(d_clean - 2.0) < 0.05 and abs(d_marked - d_clean) < 0.05
    assert _packets(clean) == _packets(src)  # stream copy: the very same bytes
    assert _packets(marked) != _packets(src)  # re-encoded
    a, b = _pictures(clean), _pictures(marked)
    assert len(a) == len(b) == 50
    h = a[0].shape[0]
    band = slice(h - 24, h)  # the clear text line at the bottom (size 12 px at 320x240)
    for i in (0, 25, 49):
        diff = np.abs(a[i][band].astype(int) - b[i][band].astype(int)).mean()
        assert diff > 20, diff
        top = np.abs(a[i][: h // 2].astype(int) - b[i][: h // 2].astype(int)).mean()
        assert top < diff  # the rest of the picture is the same scene, faintly tiled
