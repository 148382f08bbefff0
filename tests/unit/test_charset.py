"""Charset detection and encoding for signalling bodies."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sharpeyes.gb28181.charset import decode_text, encode_text, normalize_charset

RARE = "萳"


def test_utf8_bytes_decode_as_utf8() -> None:
    assert decode_text("摄像机萳".encode()) == "摄像机萳"


def test_gbk_bytes_decode_as_gb18030() -> None:
    data = "摄像机萳".encode("gbk")
    assert data == b"\xc9\xe3\xcf\xf1\xbb\xfa\xc8\x6c"
    assert decode_text(data) == "摄像机萳"


def test_gb18030_four_byte_character_decodes() -> None:
    # U+20000 needs a 4-byte GB18030 sequence; GBK cannot express it.
    text = "\U00020000区"
    assert decode_text(text.encode("gb18030")) == text


def test_utf8_bom_is_dropped() -> None:
    assert decode_text(b"\xef\xbb\xbf<a/>") == "<a/>"


def test_invalid_bytes_are_replaced_not_raised() -> None:
    assert "\ufffd" in decode_text(b"\xff\xff\xff")


@pytest.mark.parametrize("name", ["GB2312", "gb2312", "GBK", "gbk", "GB18030", " gb_2312 "])
def test_gb_names_encode_with_gb18030_so_rare_characters_survive(name: str) -> None:
    data = encode_text(RARE, name)
    assert data == RARE.encode("gb18030")
    assert decode_text(data) == RARE
    assert normalize_charset(name) == "GB2312"


@pytest.mark.parametrize("name", ["UTF-8", "utf-8", "utf8", "UTF_8"])
def test_utf8_names(name: str) -> None:
    assert encode_text(RARE, name) == RARE.encode("utf-8")
    assert normalize_charset(name) == "UTF-8"


@pytest.mark.parametrize("name", ["latin-1", "", "BIG5", "utf-16"])
def test_unknown_charset_raises(name: str) -> None:
    with pytest.raises(ValueError):
        normalize_charset(name)
    with pytest.raises(ValueError):
        encode_text("x", name)


@given(st.binary())
def test_decode_never_raises(data: bytes) -> None:
    assert isinstance(decode_text(data), str)


@given(st.text(alphabet=st.characters(exclude_categories=["Cs"])))
def test_utf8_round_trip(text: str) -> None:
    assert decode_text(text.encode("utf-8")) == text.removeprefix("\ufeff")
