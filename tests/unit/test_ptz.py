"""PTZ / front-end control codes (A.3)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sharpeyes.gb28181 import ptz
from sharpeyes.gb28181.ptz import PtzCommand, decode_ptz, encode_ptz


def _checksum_ok(code: str) -> bool:
    raw = bytes.fromhex(code)
    return sum(raw[:7]) % 256 == raw[7]


# Vectors from GB28181-NOTES.md, plus J.6.1 (address 0x4D, zoom in speed 1).
@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (ptz.ptz_stop(), "A50F0100000000B5"),
        (ptz.ptz_move(pan=1, speed=0x80), "A50F010180000036"),
        (ptz.ptz_move(tilt=1, speed=0x80), "A50F01080080003D"),
        (ptz.ptz_move(zoom=1, zoom_speed=1), "A50F0110000010D5"),
        (ptz.preset("call", 1), "A50F018200010038"),
        (ptz.ptz_move(zoom=1, zoom_speed=1, address=0x4D), "A50F4D1000001021"),
    ],
)
def test_golden_vectors(code: str, expected: str) -> None:
    assert code == expected


def test_byte2_is_version_and_check_nibble() -> None:
    # A.3.1: high nibble version 0; low nibble (0xA + 0x5 + 0) % 16 = 0xF.
    assert encode_ptz(0)[2:4] == "0F"


def test_address_split_across_bytes_3_and_7() -> None:
    code = encode_ptz(0x01, 0x10, 0, d3=0xA, address=0xABC)
    raw = bytes.fromhex(code)
    assert raw[2] == 0xBC and raw[6] == 0xAA
    assert decode_ptz(code) == PtzCommand(address=0xABC, cmd=1, d1=0x10, d2=0, d3=0xA)


@pytest.mark.parametrize(
    ("kwargs", "cmd", "d1", "d2", "d3", "name"),
    [
        ({}, 0x00, 0, 0, 0, "stop"),
        ({"pan": 1}, 0x01, 0x80, 0, 0, "right"),
        ({"pan": -1}, 0x02, 0x80, 0, 0, "left"),
        ({"tilt": 1}, 0x08, 0, 0x80, 0, "up"),
        ({"tilt": -1}, 0x04, 0, 0x80, 0, "down"),
        ({"pan": -1, "tilt": 1}, 0x0A, 0x80, 0x80, 0, "up-left"),
        ({"pan": 1, "tilt": -1}, 0x05, 0x80, 0x80, 0, "down-right"),
        ({"zoom": 1}, 0x10, 0, 0, 8, "zoom-in"),
        ({"zoom": -1, "zoom_speed": 15}, 0x20, 0, 0, 15, "zoom-out"),
        ({"pan": 1, "tilt": 1, "zoom": -1}, 0x29, 0x80, 0x80, 8, "up-right+zoom-out"),
    ],
)
def test_ptz_move(kwargs: dict[str, int], cmd: int, d1: int, d2: int, d3: int, name: str) -> None:
    decoded = decode_ptz(ptz.ptz_move(**kwargs))
    assert (decoded.cmd, decoded.d1, decoded.d2, decoded.d3) == (cmd, d1, d2, d3)
    assert decoded.describe() == name


@pytest.mark.parametrize(
    ("action", "name"),
    [
        ("left", "left"),
        ("right", "right"),
        ("up", "up"),
        ("down", "down"),
        ("upleft", "up-left"),
        ("upright", "up-right"),
        ("downleft", "down-left"),
        ("downright", "down-right"),
        ("zoomin", "zoom-in"),
        ("zoomout", "zoom-out"),
        ("stop", "stop"),
        ("UP-LEFT", "up-left"),
    ],
)
def test_ptz_action(action: str, name: str) -> None:
    code = ptz.ptz_action(action, 0x40)
    assert decode_ptz(code).describe() == name
    # describe() output is accepted back as an action name.
    assert ptz.ptz_action(name, 0x40) == code


@pytest.mark.parametrize("bad", ["", "spin", "zoom", "left up"])
def test_ptz_action_rejects_unknown(bad: str) -> None:
    with pytest.raises(ValueError, match="unknown PTZ action"):
        ptz.ptz_action(bad, 1)


@pytest.mark.parametrize(
    ("kwargs", "cmd", "d1", "d2", "name"),
    [
        ({}, 0x40, 0, 0, "fi-stop"),
        ({"focus": 1, "focus_speed": 0x20}, 0x41, 0x20, 0, "focus-far"),
        ({"focus": -1}, 0x42, 0x80, 0, "focus-near"),
        ({"iris": 1, "iris_speed": 0x30}, 0x44, 0, 0x30, "iris-open"),
        ({"iris": -1}, 0x48, 0, 0x80, "iris-close"),
        ({"focus": 1, "iris": -1}, 0x49, 0x80, 0x80, "focus-far+iris-close"),
    ],
)
def test_focus_iris(kwargs: dict[str, int], cmd: int, d1: int, d2: int, name: str) -> None:
    decoded = decode_ptz(ptz.focus_iris(**kwargs))
    assert (decoded.cmd, decoded.d1, decoded.d2) == (cmd, d1, d2)
    assert decoded.describe() == name


@pytest.mark.parametrize(("action", "cmd"), [("set", 0x81), ("call", 0x82), ("delete", 0x83)])
def test_preset(action: str, cmd: int) -> None:
    decoded = decode_ptz(ptz.preset(action, 255))  # type: ignore[arg-type]
    assert (decoded.cmd, decoded.d1, decoded.d2) == (cmd, 0, 255)
    assert decoded.describe() == f"preset-{action}"


def test_cruise_and_scan_commands() -> None:
    cases = [
        (ptz.cruise_add(3, 7), 0x84, 3, 7, 0, "cruise-add"),
        (ptz.cruise_delete(3), 0x85, 3, 0, 0, "cruise-delete"),
        (ptz.cruise_speed(3, 0xABC), 0x86, 3, 0xBC, 0xA, "cruise-speed"),
        (ptz.cruise_dwell(3, 30), 0x87, 3, 30, 0, "cruise-dwell"),
        (ptz.cruise_start(3), 0x88, 3, 0, 0, "cruise-start"),
        (ptz.scan("start", 2), 0x89, 2, 0, 0, "scan-start"),
        (ptz.scan("left", 2), 0x89, 2, 1, 0, "scan-left"),
        (ptz.scan("right", 2), 0x89, 2, 2, 0, "scan-right"),
        (ptz.scan_speed(2, 0x123), 0x8A, 2, 0x23, 0x1, "scan-speed"),
        (ptz.aux(1, on=True), 0x8C, 1, 0, 0, "aux-on"),
        (ptz.aux(1, on=False), 0x8D, 1, 0, 0, "aux-off"),
    ]
    for code, cmd, d1, d2, d3, name in cases:
        assert _checksum_ok(code)
        decoded = decode_ptz(code)
        assert (decoded.cmd, decoded.d1, decoded.d2, decoded.d3) == (cmd, d1, d2, d3), name
        assert decoded.describe() == name
    assert decode_ptz(ptz.cruise_speed(0, 0xABC)).data12 == 0xABC


@pytest.mark.parametrize(
    "call",
    [
        lambda: encode_ptz(256),
        lambda: encode_ptz(0, d1=-1),
        lambda: encode_ptz(0, d2=256),
        lambda: encode_ptz(0, d3=16),
        lambda: encode_ptz(0, address=0x1000),
        lambda: ptz.ptz_move(pan=2),
        lambda: ptz.ptz_move(tilt=-2),
        lambda: ptz.ptz_move(speed=256),
        lambda: ptz.ptz_move(zoom=1, zoom_speed=16),
        lambda: ptz.focus_iris(focus=1, focus_speed=300),
        lambda: ptz.preset("call", 0),
        lambda: ptz.preset("call", 256),
        lambda: ptz.preset("goto", 1),  # type: ignore[arg-type]
        lambda: ptz.cruise_add(0, 0),
        lambda: ptz.cruise_add(256, 1),
        lambda: ptz.cruise_speed(0, 0),
        lambda: ptz.cruise_dwell(0, 4096),
        lambda: ptz.scan("up", 0),  # type: ignore[arg-type]
        lambda: ptz.scan_speed(0, 5000),
        lambda: ptz.aux(256, on=True),
    ],
)
def test_range_validation(call: object) -> None:
    with pytest.raises(ValueError):
        call()  # type: ignore[operator]


@pytest.mark.parametrize(
    ("code", "match"),
    [
        ("A50F01000000B5", "16 hex"),
        ("A50F0100000000B5FF", "16 hex"),
        ("A50F01000000ZZB5", "non-hex"),
        ("A50F01000000０0B5", "non-hex"),
        ("A5 0F 01000000B5", "non-hex"),  # fromhex() would skip the spaces
        ("A40F0100000000B4", "header"),
        ("A51F0100000000C5", "header"),
        ("A50F0100000000B6", "checksum"),
    ],
)
def test_decode_rejects(code: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        decode_ptz(code)


def test_decode_accepts_lowercase_and_whitespace() -> None:
    assert decode_ptz(" a50f010180000036\r\n").describe() == "right"


def test_describe_flags_contradictory_bits() -> None:
    assert decode_ptz(encode_ptz(0x03)).describe().startswith("invalid")
    assert decode_ptz(encode_ptz(0x30)).describe().startswith("invalid")
    assert decode_ptz(encode_ptz(0x4C)).describe().startswith("invalid")
    assert decode_ptz(encode_ptz(0x8F)).describe() == "unknown(0x8F)"


@given(
    st.integers(0, 255),
    st.integers(0, 255),
    st.integers(0, 255),
    st.integers(0, 15),
    st.integers(0, 0xFFF),
)
def test_round_trip(cmd: int, d1: int, d2: int, d3: int, address: int) -> None:
    code = encode_ptz(cmd, d1, d2, d3, address)
    assert len(code) == 16 and code == code.upper() and _checksum_ok(code)
    decoded = decode_ptz(code)
    assert decoded == PtzCommand(address, cmd, d1, d2, d3)
    assert decoded.encode() == code
    assert isinstance(decoded.describe(), str)


@given(st.text(alphabet="0123456789ABCDEFabcdef \t\r\nxZ０", max_size=20) | st.text(max_size=20))
def test_decode_only_raises_value_error(text: str) -> None:
    with contextlib.suppress(ValueError):
        decode_ptz(text)


@given(st.from_regex(r"[0-9A-Fa-f]{16}", fullmatch=True))
def test_decode_hex_strings_only_raise_value_error(text: str) -> None:
    with contextlib.suppress(ValueError):
        assert decode_ptz(text).encode() == text.upper()
