"""Camera-record fields people edit, and how API input becomes stored values.

The API accepts either the stored code or the Chinese label for every closed list
(``"status": "在用"`` or ``"in_use"``), so the console and scripts written from
the survey forms need no translation table. Anything else wrong is a ValueError
naming the field (answered 400).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sharpeyes.ledger import dictionaries as d
from sharpeyes.ledger.regions import normalise_region_code
from sharpeyes.ledger.validation import Rules, parse_date_text

# field → kind; the order is the order of the API's output.
CAMERA_FIELDS: dict[str, str] = {
    "code": "code",
    "name": "text",
    "osd_text": "text",
    "location_name": "text",
    "platform_name": "text",
    "platform_id": "int",
    "brand": "text",
    "region_code": "region",
    "police_station_id": "int",
    "longitude": "float",
    "latitude": "float",
    "build_date": "date",
    "leased": "bool",
    "status": "enum:status",
    "integration_method": "enum:integration_method",
    "pole_build_date": "date",
    "pole_number": "text",
    "pole_height_m": "float",
    "pole_arms": "int",
    "pole_condition": "enum:pole_condition",
    "point_class": "enum_int:point_class",
    "key_area_category": "category",
    "place": "text",
    "network": "enum:network",
    "owner_org_id": "int",
    "maintainer_org_id": "int",
    "shareable": "bool",
    "storage_days": "int",
    "camera_type": "enum_int:camera_type",
    "direction": "enum_int:direction",
    "position_type": "int",
    "room_type": "int",
    "use_type": "int",
    "resolution": "text",
    "codec": "text",
    "social": "bool",
    "remark": "text",
}

VOCABS: Mapping[str, d.Vocabulary] = {
    "status": d.STATUS,
    "integration_method": d.INTEGRATION_METHOD,
    "pole_condition": d.POLE_CONDITION,
    "network": d.NETWORK,
    "point_class": d.POINT_CLASS,
    "camera_type": d.CAMERA_TYPE,
    "direction": d.DIRECTION,
}


def coerce_camera_input(data: Mapping[str, Any], rules: Rules) -> dict[str, Any]:
    """Typed, normalised values for the given fields (unknown fields are refused)."""
    out: dict[str, Any] = {}
    for f, raw in data.items():
        kind = CAMERA_FIELDS.get(f)
        if kind is None:
            raise ValueError(f"unknown or read-only field: {f}")
        out[f] = _coerce(f, kind, raw, rules)
    return out


def _coerce(f: str, kind: str, raw: Any, rules: Rules) -> Any:
    if raw is None:
        return None
    if isinstance(raw, str):
        raw = raw.strip()
        if raw == "":
            return False if f == "social" else None
    try:
        if kind == "text":
            return str(raw)
        if kind == "code":
            return str(raw)
        if kind == "region":
            return normalise_region_code(str(raw))
        if kind == "int":
            if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
                raise ValueError("须为整数")
            if isinstance(raw, str) and not raw.lstrip("+-").isdigit():
                raise ValueError("须为整数")
            return int(raw)
        if kind == "float":
            if isinstance(raw, bool):
                raise ValueError("须为数字")
            try:
                value = float(raw)
            except ValueError as exc:
                raise ValueError("须为数字") from exc
            if value != value or value in (float("inf"), float("-inf")):
                raise ValueError("须为有限数字")
            return value
        if kind == "bool":
            if isinstance(raw, bool):
                return raw
            v = d.YES_NO.get(str(raw).strip().lower())
            if v is None:
                raise ValueError("应为是/否")
            return v
        if kind == "date":
            return parse_date_text(str(raw))
        if kind == "category":
            code = rules.category_code(str(raw))
            if code is None:
                raise ValueError("不在重点区域类别列表中")
            return code
        if kind.startswith(("enum:", "enum_int:")):
            vocab = VOCABS[kind.split(":", 1)[1]]
            code = vocab.parse(str(raw))
            if code is None:
                allowed = "/".join(vocab.labels.values())
                raise ValueError(f"应为{allowed}之一")
            return int(code) if kind.startswith("enum_int:") else code
    except ValueError as exc:
        raise ValueError(f"{f}: {exc}") from exc
    raise ValueError(f"{f}: unsupported kind {kind}")
