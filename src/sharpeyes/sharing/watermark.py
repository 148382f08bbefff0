"""Security watermark (安全水印): who looked, from which organisation, when, at what.

The console draws it on a canvas over every player; snapshots (and exported clips,
through :func:`burn_into_frame`, which the recording work calls per frame) carry
it burned into the picture for every non-admin user, so a leaked image names its
source. Text is drawn with Pillow, tiled diagonally and semi-transparent so it
cannot be cropped away; a CJK font is used when one is installed (names and
organisations are often Chinese), otherwise non-ASCII characters become "?".
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sharpeyes.sharing.principal import Principal, Role

if TYPE_CHECKING:
    import av

CJK_FONTS = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
)


def needs_watermark(principal: Principal) -> bool:
    """Admins export clean material (evidence handling); everyone else is marked."""
    return principal.role != Role.ADMIN


def watermark_text(
    principal: Principal, channel_id: str, at: datetime | None = None, org: str | None = None
) -> str:
    at = (at or datetime.now(UTC)).astimezone(UTC)
    org_part = org or (f"org {principal.org_id}" if principal.org_id is not None else "-")
    return f"{principal.username} | {org_part} | {at:%Y-%m-%d %H:%M:%S}Z | {channel_id}"


@lru_cache(maxsize=8)
def _font(size: int) -> tuple[Any, bool]:
    from PIL import ImageFont

    for path in CJK_FONTS:
        if Path(path).exists():
            return ImageFont.truetype(path, size), True
    return ImageFont.load_default(size=size), False


def _overlay(img: Any, text: str) -> Any:
    from PIL import Image, ImageDraw

    w, h = img.size
    size = max(12, min(w, h) // 28)
    font, cjk = _font(size)
    if not cjk:
        text = "".join(c if c.isascii() else "?" for c in text)
    layer = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    # Tiles over the whole picture, plus one clear line at the bottom.
    step_y = size * 6
    tw = int(draw.textlength(text, font=font)) + size * 4
    for row, y in enumerate(range(-size, h, step_y)):
        offset = (row % 2) * tw // 2
        for x in range(-offset, w, tw):
            draw.text((x, y), text, font=font, fill=(255, 255, 255, 60))
    draw.rectangle((0, h - size * 2, w, h), fill=(0, 0, 0, 110))
    draw.text((size // 2, h - size * 2 + size // 3), text, font=font, fill=(255, 255, 255, 230))
    return Image.alpha_composite(img.convert("RGBA"), layer).convert("RGB")


def burn_jpeg(jpeg: bytes, text: str, *, quality: int = 88) -> bytes:
    """The JPEG with the watermark burned in (blocking: call in a worker thread)."""
    from PIL import Image

    img = Image.open(io.BytesIO(jpeg))
    out = io.BytesIO()
    _overlay(img, text).save(out, format="JPEG", quality=quality)
    return out.getvalue()


def burn_into_frame(frame: av.VideoFrame, text: str) -> av.VideoFrame:
    """A copy of a decoded video frame with the watermark; same size, pts and time base."""
    import av as _av

    marked = _av.VideoFrame.from_image(_overlay(frame.to_image(), text))
    marked = marked.reformat(format=frame.format.name)
    marked.pts = frame.pts
    if frame.time_base is not None:
        marked.time_base = frame.time_base
    return marked
