"""Pure builders: API-level control names to PTZCmd codes and MANSCDP field lists.

Element names and shapes follow GB/T 28181-2016 A.2.3 (DeviceControl, DeviceConfig)
and the 2022 revision's additions (HomePositionQuery, CruiseTrack queries,
PTZPosition, SDCardStatus, SnapShotConfig). Everything here validates and raises
``ValueError`` with a message the API turns into a 422/400.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from sharpeyes.gb28181 import ptz as codec
from sharpeyes.gb28181.manscdp import FieldValue

BASIC_MOTIONS = frozenset(
    {"left", "right", "up", "down", "upleft", "upright", "downleft", "downright"}
    | {"zoomin", "zoomout", "stop"}
)


def _need(params: Mapping[str, Any], name: str) -> int:
    value = params.get(name)
    if value is None:
        raise ValueError(f"{name} required for this action")
    return int(value)


def ptz_command(action: str, params: Mapping[str, Any]) -> str:
    """The A.3 code for one named front-end action (PTZ, FI, preset, cruise, scan, aux).

    ``params``: speed (0..255), preset (1..255), group (cruise/scan number), value
    (12-bit cruise speed, dwell seconds or scan speed), switch (aux number; wiper is 1).
    """
    speed = int(params.get("speed") or 128)
    group = int(params.get("group") or 0)
    if action in BASIC_MOTIONS:
        return codec.ptz_action(action, speed)
    fi = {
        "focus_near": {"focus": -1},
        "focus_far": {"focus": 1},
        "iris_open": {"iris": 1},
        "iris_close": {"iris": -1},
        "fi_stop": {},
    }
    if action in fi:
        return codec.focus_iris(**fi[action], focus_speed=speed, iris_speed=speed)
    if action in ("preset_set", "preset_call", "preset_delete"):
        return codec.preset(action.split("_", 1)[1], _need(params, "preset"))  # type: ignore[arg-type]
    if action == "cruise_add":
        return codec.cruise_add(group, _need(params, "preset"))
    if action == "cruise_remove":
        return codec.cruise_delete(group, int(params.get("preset") or 0))
    if action == "cruise_speed":
        return codec.cruise_speed(group, _need(params, "value"))
    if action == "cruise_dwell":
        return codec.cruise_dwell(group, _need(params, "value"))
    if action == "cruise_start":
        return codec.cruise_start(group)
    if action == "cruise_stop" or action == "scan_stop":
        return codec.ptz_stop()  # A.3.5 note 4 / A.3.6 note 3: a PTZ stop ends both
    if action in ("scan_start", "scan_left", "scan_right"):
        return codec.scan(action.split("_", 1)[1], group)  # type: ignore[arg-type]
    if action == "scan_speed":
        return codec.scan_speed(group, _need(params, "value"))
    if action in ("wiper_on", "wiper_off"):
        return codec.aux(1, on=action == "wiper_on")
    if action in ("aux_on", "aux_off"):
        return codec.aux(_need(params, "switch"), on=action == "aux_on")
    raise ValueError(f"unknown PTZ action {action!r}")


class Control(StrEnum):
    """DeviceControl commands other than PTZCmd (A.2.3 a)."""

    TELEBOOT = "teleboot"
    RECORD_START = "record_start"
    RECORD_STOP = "record_stop"
    GUARD_SET = "guard_set"
    GUARD_RESET = "guard_reset"
    ALARM_RESET = "alarm_reset"
    IFRAME = "iframe"
    DRAG_ZOOM_IN = "drag_zoom_in"
    DRAG_ZOOM_OUT = "drag_zoom_out"
    HOME_POSITION = "home_position"


# Devices answer these with a DeviceControl Response (A.2.6 a); TeleBoot, IFameCmd and
# the drag zooms only get the SIP 200 (the device may reboot or act on the stream).
ANSWERED = frozenset(
    {
        Control.RECORD_START,
        Control.RECORD_STOP,
        Control.GUARD_SET,
        Control.GUARD_RESET,
        Control.ALARM_RESET,
        Control.HOME_POSITION,
    }
)
_DRAG_KEYS = ("Length", "Width", "MidPointX", "MidPointY", "LengthX", "LengthY")
_DRAG_PARAMS = ("length", "width", "mid_x", "mid_y", "length_x", "length_y")


def _non_negative(name: str, value: Any, high: int = 100_000) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= high:
        raise ValueError(f"{name} must be an integer in 0..{high}")
    return value


def control_fields(control: Control, params: Mapping[str, Any]) -> list[tuple[str, FieldValue]]:
    """Body fields after CmdType/SN/DeviceID for one DeviceControl command."""
    if control is Control.TELEBOOT:
        return [("TeleBoot", "Boot")]
    if control in (Control.RECORD_START, Control.RECORD_STOP):
        return [("RecordCmd", "Record" if control is Control.RECORD_START else "StopRecord")]
    if control in (Control.GUARD_SET, Control.GUARD_RESET):
        return [("GuardCmd", "SetGuard" if control is Control.GUARD_SET else "ResetGuard")]
    if control is Control.ALARM_RESET:
        info = [
            (tag, str(params[key]))
            for tag, key in (("AlarmMethod", "alarm_method"), ("AlarmType", "alarm_type"))
            if params.get(key) is not None
        ]
        return [("AlarmCmd", "ResetAlarm"), *([("Info", info)] if info else [])]
    if control is Control.IFRAME:
        return [("IFameCmd", "Send")]  # sic: the standard spells it IFameCmd
    if control in (Control.DRAG_ZOOM_IN, Control.DRAG_ZOOM_OUT):
        pairs = zip(_DRAG_KEYS, _DRAG_PARAMS, strict=True)
        values = [(tag, _non_negative(k, params.get(k))) for tag, k in pairs]
        tag = "DragZoomIn" if control is Control.DRAG_ZOOM_IN else "DragZoomOut"
        return [(tag, values)]
    if control is Control.HOME_POSITION:
        enabled = bool(params.get("enabled"))
        home: list[tuple[str, FieldValue]] = [("Enabled", 1 if enabled else 0)]
        if enabled:
            home.append(("ResetTime", _non_negative("reset_time", params.get("reset_time", 30))))
            home.append(
                ("PresetIndex", _non_negative("preset_index", params.get("preset_index", 1), 255))
            )
        return [("HomePosition", home)]
    raise ValueError(f"unknown control {control!r}")


def basic_param(params: Mapping[str, Any]) -> list[tuple[str, FieldValue]]:
    """DeviceConfig BasicParam (A.2.3 b): only the given keys are sent."""
    out: list[tuple[str, FieldValue]] = []
    if params.get("name") is not None:
        name = str(params["name"])
        if not 0 < len(name) <= 64:
            raise ValueError("name must be 1..64 characters")
        out.append(("Name", name))
    for tag, key, low, high in (
        ("Expiration", "expiration", 60, 86_400 * 7),
        ("HeartBeatInterval", "heartbeat_interval", 5, 3600),
        ("HeartBeatCount", "heartbeat_count", 1, 100),
    ):
        if params.get(key) is not None:
            value = params[key]
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ValueError(f"{key} must be an integer in {low}..{high}")
            out.append((tag, value))
    if not out:
        raise ValueError("nothing to configure")
    return out


def snapshot_config(params: Mapping[str, Any]) -> list[tuple[str, FieldValue]]:
    """2022 SnapShotConfig: how many pictures, how often, and where the device uploads."""
    url = str(params.get("upload_url") or "")
    if not url.startswith(("http://", "https://", "ftp://")):
        raise ValueError("upload_url must be an http(s) or ftp URL")
    return [
        ("SnapNum", _non_negative("snap_num", params.get("snap_num", 1), 10)),
        ("Interval", _non_negative("interval", params.get("interval", 1), 3600)),
        ("UploadURL", url[:256]),
        ("SessionID", str(params.get("session_id") or "")[:128]),
    ]


CONFIG_TYPES = ("BasicParam", "VideoParamOpt", "SVACEncodeConfig", "SVACDecodeConfig")

# 2022 additions queried like any Query: CmdType -> extra body fields builder.
QUERY_2022 = {
    "ptz_position": "PTZPosition",
    "sd_card_status": "SDCardStatus",
    "home_position": "HomePositionQuery",
    "cruise_tracks": "CruiseTrackListQuery",
    "cruise_track": "CruiseTrackQuery",
}
