"""The security watermark is burned into snapshots and frames of non-admin users."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import av
from PIL import Image, ImageChops

from sharpeyes.live.snapshot import keyframe_to_jpeg
from sharpeyes.media.testvideo import generate_h264
from sharpeyes.sharing.principal import Principal, Role
from sharpeyes.sharing.watermark import (
    burn_into_frame,
    burn_jpeg,
    needs_watermark,
    watermark_text,
)

DEPT = Principal(user_id=5, username="张警官", role=Role.DEPARTMENT, org_id=7)


def _keyframe() -> bytes:
    return next(f.data for f in generate_h264(width=320, height=240, frames=5) if f.keyframe)


def test_text_names_user_org_time_channel() -> None:
    at = datetime(2026, 12, 2, 8, 30, 5, tzinfo=UTC)
    text = watermark_text(DEPT, "34020000001310000001", at, "交警大队")
    assert text == "张警官 | 交警大队 | 2026-12-02 08:30:05Z | 34020000001310000001"
    assert needs_watermark(DEPT)
    assert not needs_watermark(Principal(user_id=1, username="admin", role=Role.ADMIN))


def test_burned_into_snapshot() -> None:
    clean = keyframe_to_jpeg("h264", _keyframe())
    marked = burn_jpeg(clean, watermark_text(DEPT, "34020000001310000001"))
    a = Image.open(io.BytesIO(clean)).convert("L")
    b = Image.open(io.BytesIO(marked)).convert("L")
    assert a.size == b.size
    w, h = a.size
    band = (0, h - h // 20, w, h)
    # The bottom band is darkened and carries bright text; the tiles touch the top too.
    diff = ImageChops.difference(a, b)
    assert diff.crop(band).getbbox() is not None
    assert diff.crop((0, 0, w, h // 3)).getbbox() is not None
    assert b.crop(band).getextrema()[1] > 200


def test_burned_into_frames_for_clips() -> None:
    dec = av.CodecContext.create("h264", "r")
    frames = [f for pkt in (av.Packet(_keyframe()),) for f in dec.decode(pkt)]
    frames += list(dec.decode(None))
    frame = frames[0]
    frame.pts = 42
    out = burn_into_frame(frame, "viewer | org 7 | now | 34020000001310000001")
    assert (out.width, out.height, out.format.name, out.pts) == (
        frame.width,
        frame.height,
        frame.format.name,
        42,
    )
    assert ImageChops.difference(frame.to_image(), out.to_image()).getbbox() is not None
