"""PTZ / front-end control codes (GB/T 28181-2016 A.3), carried in ``<PTZCmd>``.

An 8-byte command written as 16 hex digits::

    A5 | ver<<4|check | addr-lo | cmd | d1 | d2 | d3<<4|addr-hi | sum

Byte 2 is version 0 (this standard is "1.0" = 0H) in the high nibble and a check
nibble (0xA + 0x5 + version) % 16 = 0xF in the low one, hence the familiar 0F.
Byte 8 is the sum of bytes 1-7 modulo 256. The address is ignored by devices (the
XML DeviceID selects the target) but we encode it faithfully.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

_HEAD = 0xA5
_VERSION = 0
_BYTE2 = (_VERSION << 4) | (((_HEAD >> 4) + (_HEAD & 0x0F) + _VERSION) % 16)

# A.3.2: PTZ bits of byte 4.
ZOOM_OUT, ZOOM_IN, UP, DOWN, LEFT, RIGHT = 0x20, 0x10, 0x08, 0x04, 0x02, 0x01
# A.3.3: focus/iris bits (byte 4 high nibble 0100).
FI_BASE, IRIS_CLOSE, IRIS_OPEN, FOCUS_NEAR, FOCUS_FAR = 0x40, 0x08, 0x04, 0x02, 0x01
PRESET_SET, PRESET_CALL, PRESET_DELETE = 0x81, 0x82, 0x83
CRUISE_ADD, CRUISE_DELETE, CRUISE_SPEED, CRUISE_DWELL, CRUISE_START = 0x84, 0x85, 0x86, 0x87, 0x88
SCAN, SCAN_SPEED = 0x89, 0x8A
AUX_ON, AUX_OFF = 0x8C, 0x8D

_SIMPLE_NAMES = {
    PRESET_SET: "preset-set",
    PRESET_CALL: "preset-call",
    PRESET_DELETE: "preset-delete",
    CRUISE_ADD: "cruise-add",
    CRUISE_DELETE: "cruise-delete",
    CRUISE_SPEED: "cruise-speed",
    CRUISE_DWELL: "cruise-dwell",
    CRUISE_START: "cruise-start",
    SCAN_SPEED: "scan-speed",
    AUX_ON: "aux-on",
    AUX_OFF: "aux-off",
}
_SCAN_NAMES = {0: "scan-start", 1: "scan-left", 2: "scan-right"}
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def _check(name: str, value: int, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be an int in {low}..{high}, got {value!r}")
    return value


def encode_ptz(cmd: int, d1: int = 0, d2: int = 0, d3: int = 0, address: int = 1) -> str:
    """Encode one command as 16 uppercase hex digits (d3 is the 4-bit data 3)."""
    _check("cmd", cmd, 0, 0xFF)
    _check("d1", d1, 0, 0xFF)
    _check("d2", d2, 0, 0xFF)
    _check("d3", d3, 0, 0x0F)
    _check("address", address, 0, 0xFFF)
    raw = [_HEAD, _BYTE2, address & 0xFF, cmd, d1, d2, (d3 << 4) | (address >> 8)]
    raw.append(sum(raw) % 256)
    return bytes(raw).hex().upper()


@dataclass(frozen=True, slots=True)
class PtzCommand:
    """A decoded A.3 command."""

    address: int
    cmd: int
    d1: int
    d2: int
    d3: int

    def encode(self) -> str:
        return encode_ptz(self.cmd, self.d1, self.d2, self.d3, self.address)

    @property
    def data12(self) -> int:
        """The 12-bit value of cruise/scan speed and dwell commands (d3 high, d2 low)."""
        return (self.d3 << 8) | self.d2

    def describe(self) -> str:
        """Short English name: "stop", "up-left", "zoom-in", "preset-call", …

        Combined motions join with "+", e.g. "up-right+zoom-out".
        """
        c = self.cmd
        if c & 0xC0 == 0:
            return _describe_ptz(c)
        if c & 0xF0 == FI_BASE:
            return _describe_fi(c)
        if c == SCAN:
            return _SCAN_NAMES.get(self.d2, f"scan-unknown({self.d2})")
        return _SIMPLE_NAMES.get(c, f"unknown(0x{c:02X})")


def _describe_ptz(c: int) -> str:
    if c == 0:
        return "stop"
    if c & (ZOOM_IN | ZOOM_OUT) == ZOOM_IN | ZOOM_OUT or c & (UP | DOWN) == UP | DOWN:
        return f"invalid(0x{c:02X})"
    if c & (LEFT | RIGHT) == LEFT | RIGHT:
        return f"invalid(0x{c:02X})"
    tilt = "up" if c & UP else "down" if c & DOWN else ""
    pan = "left" if c & LEFT else "right" if c & RIGHT else ""
    move = "-".join(p for p in (tilt, pan) if p)
    zoom = "zoom-in" if c & ZOOM_IN else "zoom-out" if c & ZOOM_OUT else ""
    return "+".join(p for p in (move, zoom) if p)


def _describe_fi(c: int) -> str:
    if c == FI_BASE:
        return "fi-stop"
    if c & 0x0C == 0x0C or c & 0x03 == 0x03:
        return f"invalid(0x{c:02X})"
    iris = "iris-close" if c & IRIS_CLOSE else "iris-open" if c & IRIS_OPEN else ""
    focus = "focus-near" if c & FOCUS_NEAR else "focus-far" if c & FOCUS_FAR else ""
    return "+".join(p for p in (focus, iris) if p)


def decode_ptz(hex_cmd: str) -> PtzCommand:
    """Decode 16 hex digits; ValueError on bad length, non-hex, header or checksum."""
    if not isinstance(hex_cmd, str):
        raise ValueError(f"PTZ command must be a str, not {type(hex_cmd).__name__}")
    text = hex_cmd.strip()
    if len(text) != 16:
        raise ValueError(f"PTZ command must be 16 hex digits, got {len(text)} characters")
    # Check digits ourselves: bytes.fromhex() skips embedded spaces.
    if not all(c in _HEX_DIGITS for c in text):
        raise ValueError(f"PTZ command contains non-hex characters: {text!r}")
    raw = bytes.fromhex(text)
    if raw[0] != _HEAD or raw[1] != _BYTE2:
        raise ValueError(f"PTZ command header must be A50F, got {raw[:2].hex().upper()}")
    if sum(raw[:7]) % 256 != raw[7]:
        raise ValueError(
            f"PTZ checksum mismatch: expected {sum(raw[:7]) % 256:02X}, got {raw[7]:02X}"
        )
    return PtzCommand(
        address=raw[2] | ((raw[6] & 0x0F) << 8),
        cmd=raw[3],
        d1=raw[4],
        d2=raw[5],
        d3=raw[6] >> 4,
    )


def _sign(name: str, value: int) -> int:
    return _check(name, value, -1, 1)


def ptz_move(
    *,
    pan: int = 0,
    tilt: int = 0,
    zoom: int = 0,
    speed: int = 0x80,
    zoom_speed: int | None = None,
    address: int = 1,
) -> str:
    """Pan (-1 left, +1 right), tilt (+1 up, -1 down), zoom (+1 in, -1 out); all 0 = stop.

    ``speed`` (0..255) drives pan and tilt; zoom speed is 4 bits and defaults to
    ``speed >> 4`` so one slider can drive everything.
    """
    _sign("pan", pan)
    _sign("tilt", tilt)
    _sign("zoom", zoom)
    _check("speed", speed, 0, 0xFF)
    zs = speed >> 4 if zoom_speed is None else _check("zoom_speed", zoom_speed, 0, 0x0F)
    cmd = (
        (RIGHT if pan > 0 else LEFT if pan < 0 else 0)
        | (UP if tilt > 0 else DOWN if tilt < 0 else 0)
        | (ZOOM_IN if zoom > 0 else ZOOM_OUT if zoom < 0 else 0)
    )
    return encode_ptz(
        cmd,
        speed if pan else 0,
        speed if tilt else 0,
        zs if zoom else 0,
        address,
    )


def ptz_stop(address: int = 1) -> str:
    """Stop every PTZ motion; also stops cruise and scan (A.3.5 note 4, A.3.6 note 3)."""
    return encode_ptz(0, address=address)


_ACTIONS: dict[str, tuple[int, int, int]] = {
    "left": (-1, 0, 0),
    "right": (1, 0, 0),
    "up": (0, 1, 0),
    "down": (0, -1, 0),
    "upleft": (-1, 1, 0),
    "upright": (1, 1, 0),
    "downleft": (-1, -1, 0),
    "downright": (1, -1, 0),
    "zoomin": (0, 0, 1),
    "zoomout": (0, 0, -1),
    "stop": (0, 0, 0),
}


def ptz_action(action: str, speed: int = 0x80, *, address: int = 1) -> str:
    """Named motion for UIs/APIs: "left" … "downright", "zoomin", "zoomout", "stop".

    Case, "-" and "_" are ignored, so ``describe()`` names ("up-left") work too.
    """
    key = action.lower().replace("-", "").replace("_", "") if isinstance(action, str) else ""
    if key not in _ACTIONS:
        raise ValueError(f"unknown PTZ action {action!r}; expected one of {sorted(_ACTIONS)}")
    pan, tilt, zoom = _ACTIONS[key]
    return ptz_move(pan=pan, tilt=tilt, zoom=zoom, speed=speed, address=address)


def focus_iris(
    *,
    focus: int = 0,
    iris: int = 0,
    focus_speed: int = 0x80,
    iris_speed: int = 0x80,
    address: int = 1,
) -> str:
    """Focus (+1 far, -1 near) and iris (+1 open, -1 close); both 0 = stop FI (A.3.3)."""
    _sign("focus", focus)
    _sign("iris", iris)
    _check("focus_speed", focus_speed, 0, 0xFF)
    _check("iris_speed", iris_speed, 0, 0xFF)
    cmd = (
        FI_BASE
        | (FOCUS_FAR if focus > 0 else FOCUS_NEAR if focus < 0 else 0)
        | (IRIS_OPEN if iris > 0 else IRIS_CLOSE if iris < 0 else 0)
    )
    return encode_ptz(cmd, focus_speed if focus else 0, iris_speed if iris else 0, 0, address)


_PRESET_CMDS = {"set": PRESET_SET, "call": PRESET_CALL, "delete": PRESET_DELETE}


def preset(action: Literal["set", "call", "delete"], index: int, *, address: int = 1) -> str:
    """Set, call or delete preset 1..255 (0 is reserved, A.3.4)."""
    if action not in _PRESET_CMDS:
        raise ValueError(f"preset action must be set, call or delete, got {action!r}")
    return encode_ptz(_PRESET_CMDS[action], 0, _check("preset index", index, 1, 255), 0, address)


def _group(group: int) -> int:
    return _check("group", group, 0, 0xFF)


def _twelve_bit(cmd: int, group: int, name: str, value: int, address: int) -> str:
    _check(name, value, 1, 0xFFF)
    return encode_ptz(cmd, _group(group), value & 0xFF, value >> 8, address)


def cruise_add(group: int, preset_index: int, *, address: int = 1) -> str:
    """Add a preset to cruise group ``group`` (A.3.5 #1)."""
    return encode_ptz(CRUISE_ADD, _group(group), _check("preset", preset_index, 1, 255), 0, address)


def cruise_delete(group: int, preset_index: int = 0, *, address: int = 1) -> str:
    """Remove a preset from a cruise; preset 0 deletes the whole cruise (A.3.5 note 2)."""
    idx = _check("preset", preset_index, 0, 255)
    return encode_ptz(CRUISE_DELETE, _group(group), idx, 0, address)


def cruise_speed(group: int, speed: int, *, address: int = 1) -> str:
    """Cruise speed, a 12-bit value 1..4095 (d2 low byte, d3 high nibble)."""
    return _twelve_bit(CRUISE_SPEED, group, "speed", speed, address)


def cruise_dwell(group: int, seconds: int, *, address: int = 1) -> str:
    """Dwell time at each cruise point in seconds, 1..4095."""
    return _twelve_bit(CRUISE_DWELL, group, "dwell", seconds, address)


def cruise_start(group: int, *, address: int = 1) -> str:
    """Start cruising; stop with :func:`ptz_stop`."""
    return encode_ptz(CRUISE_START, _group(group), 0, 0, address)


_SCAN_ACTIONS = {"start": 0, "left": 1, "right": 2}


def scan(action: Literal["start", "left", "right"], group: int = 0, *, address: int = 1) -> str:
    """Start auto-scan, or set its left/right boundary at the current position (A.3.6)."""
    if action not in _SCAN_ACTIONS:
        raise ValueError(f"scan action must be start, left or right, got {action!r}")
    return encode_ptz(SCAN, _group(group), _SCAN_ACTIONS[action], 0, address)


def scan_speed(group: int, speed: int, *, address: int = 1) -> str:
    """Auto-scan speed, a 12-bit value 1..4095."""
    return _twelve_bit(SCAN_SPEED, group, "speed", speed, address)


def aux(switch: int, *, on: bool, address: int = 1) -> str:
    """Auxiliary switch on/off (A.3.7); switch 1 is the wiper."""
    return encode_ptz(AUX_ON if on else AUX_OFF, _check("switch", switch, 0, 0xFF), 0, 0, address)
