"""Catalog item → channel row mapping (GB/T 28181 A.2.4 Catalog fields).

Pure functions: the device service decides when to write. Values a device sends
that we cannot type (a non-numeric PTZType, say) go to ``extra`` instead of
being dropped, so an operator can still see what the device claimed.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sharpeyes.gb28181.deviceid import InvalidDeviceId, parse_device_id

# Catalog XML tag → (column, type)
FIELDS: dict[str, tuple[str, type]] = {
    "Name": ("name", str),
    "Manufacturer": ("manufacturer", str),
    "Model": ("model", str),
    "Owner": ("owner", str),
    "CivilCode": ("civil_code", str),
    "Block": ("block", str),
    "Address": ("address", str),
    "Parental": ("parental", int),
    "ParentID": ("parent_id", str),
    "SafetyWay": ("safety_way", int),
    "RegisterWay": ("register_way", int),
    "CertNum": ("cert_num", str),
    "Certifiable": ("certifiable", int),
    "ErrCode": ("err_code", int),
    "EndTime": ("end_time", datetime),
    "Secrecy": ("secrecy", int),
    "IPAddress": ("ip_address", str),
    "Port": ("port", int),
    "Password": ("password", str),
    "Status": ("status", str),
    "Longitude": ("longitude", float),
    "Latitude": ("latitude", float),
    "PTZType": ("ptz_type", int),
    "PositionType": ("position_type", int),
    "RoomType": ("room_type", int),
    "UseType": ("use_type", int),
    "SupplyLightType": ("supply_light_type", int),
    "DirectionType": ("direction_type", int),
    "Resolution": ("resolution", str),
    "BusinessGroupID": ("business_group_id", str),
    "DownloadSpeed": ("download_speed", str),
    "SVCSpaceSupportMode": ("svc_space_support_mode", int),
    "SVCTimeSupportMode": ("svc_time_support_mode", int),
}
_LOWER = {k.lower(): v for k, v in FIELDS.items()}
MAX_TEXT = 255
ONLINE_STATUSES = {"ON", "ONLINE", "OK"}


def _convert(kind: type, text: str) -> Any:
    if kind is str:
        return text[:MAX_TEXT]
    if kind is int:
        return int(text)
    if kind is float:
        value = float(text)
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("not finite")
        return value
    if kind is datetime:
        parsed = datetime.fromisoformat(text)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise TypeError(kind)


def channel_kind(channel_id: str) -> str:
    """Appendix O tree nodes by ID shape: 2/4/6/8-digit regions, 215 groups, 216 orgs."""
    if channel_id.isdigit() and len(channel_id) in (2, 4, 6, 8):
        return "region"
    try:
        did = parse_device_id(channel_id)
    except InvalidDeviceId:
        return "other"
    if did.type_code == 215:
        return "business_group"
    if did.type_code == 216:
        return "virtual_org"
    if did.is_video_channel or 131 <= did.type_code <= 199:
        return "channel"
    if 111 <= did.type_code <= 130:
        return "device"
    return "other"


def item_to_columns(item: Mapping[str, str]) -> dict[str, Any]:
    """Map one Catalog ``Item`` to channel columns; unknown/untypable values → extra."""
    cols: dict[str, Any] = {}
    extra: dict[str, str] = {}
    for tag, text in item.items():
        if tag in ("DeviceID", "Event"):
            continue
        spec = FIELDS.get(tag) or _LOWER.get(tag.lower())
        if spec is None:
            if len(extra) < 64:
                extra[tag[:64]] = (text or "")[:MAX_TEXT]
            continue
        column, kind = spec
        if text is None or text == "":
            cols[column] = None
            continue
        try:
            cols[column] = _convert(kind, text.strip())
        except (ValueError, TypeError, OverflowError):
            extra[tag] = text[:MAX_TEXT]
    cols["extra"] = extra or None
    return cols


def reported_online(status: str | None) -> bool:
    """Devices that omit Status are treated as ON (many NVRs do for healthy channels)."""
    return status is None or status.strip().upper() in ONLINE_STATUSES
