"""Text codecs for GB/T 28181 signalling bodies.

The standard (6.10) says signalling *should* be GB2312, but real devices send GBK,
GB18030 or UTF-8 and often declare something else in the XML prolog. We therefore
decide by the bytes, never by the declaration.
"""

from __future__ import annotations

from typing import Literal

Charset = Literal["GB2312", "UTF-8"]

_UTF8_NAMES = frozenset({"UTF-8", "UTF8"})
_GB_NAMES = frozenset(
    {"GB2312", "GB-2312", "GB_2312", "GBK", "CP936", "MS936", "GB18030", "GB-18030", "EUC-CN"}
)


def decode_text(data: bytes) -> str:
    """Decode a signalling body: strict UTF-8 if the bytes are valid UTF-8, else GB18030.

    UTF-8 is self-validating: GBK/GB2312 text containing any Chinese character is
    almost never valid UTF-8, so a successful strict UTF-8 decode is a reliable
    signal. The reverse is not true: GB18030 decodes nearly any byte string, so
    trying it first would silently turn UTF-8 names into mojibake. GB18030 is a
    superset of GB2312 and GBK, so it covers every GB device. Undecodable bytes
    become U+FFFD instead of raising, and a leading UTF-8 BOM is dropped.

    Known limit: about 9% of CJK characters have GBK bytes that are on their own
    valid UTF-8 (e.g. "一" is D2 BB, UTF-8 for "һ"), so a GB body whose only
    non-ASCII text is such characters decodes as UTF-8. Longer text rarely does.
    """
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("gb18030", errors="replace")


def normalize_charset(name: str) -> Charset:
    """Map a device's charset setting to the two families we emit.

    Raises ValueError for names we cannot encode faithfully.
    """
    key = name.strip().upper().replace("_", "-") if isinstance(name, str) else ""
    if key in _UTF8_NAMES:
        return "UTF-8"
    if key in _GB_NAMES or key.replace("-", "") in _GB_NAMES:
        return "GB2312"
    raise ValueError(f"unsupported charset {name!r}: expected GB2312, GBK, GB18030 or UTF-8")


def encode_text(text: str, charset: str) -> bytes:
    """Encode text for a device using its configured charset name.

    Any GB family name encodes with GB18030: it is byte-identical to GB2312/GBK
    for the characters those contain, and still round-trips rare characters
    such as "萳" that a strict GB2312 encoder would reject.
    """
    if normalize_charset(charset) == "UTF-8":
        return text.encode("utf-8")
    return text.encode("gb18030")
