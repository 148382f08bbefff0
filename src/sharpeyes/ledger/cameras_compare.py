"""Ledger values beside the device's own (GB/T 28181 catalog fields) for one camera."""

from __future__ import annotations

from typing import Any

from sharpeyes.ledger.geo import haversine_m
from sharpeyes.ledger.regions import (
    normalise_region_code,
)
from sharpeyes.store.models import Channel

# Fields shown side by side when a record has a channel: ledger vs device.
OVERLAPS: tuple[tuple[str, str], ...] = (
    ("name", "name"),
    ("brand", "manufacturer"),
    ("region_code", "civil_code"),
    ("location_name", "address"),
    ("camera_type", "ptz_type"),
    ("direction", "direction_type"),
    ("position_type", "position_type"),
    ("room_type", "room_type"),
    ("use_type", "use_type"),
    ("resolution", "resolution"),
)
DEVICE_FIELDS = (
    "device_id",
    "channel_id",
    "name",
    "manufacturer",
    "model",
    "owner",
    "civil_code",
    "address",
    "status",
    "online",
    "longitude",
    "latitude",
    "ptz_type",
    "direction_type",
    "position_type",
    "room_type",
    "use_type",
    "resolution",
    "ip_address",
    "updated_at",
)


def _compare(rec: dict[str, Any], channel: Channel | None) -> dict[str, Any]:
    if channel is None:
        return {}
    out: dict[str, Any] = {}
    for ledger_f, dev_f in OVERLAPS:
        a, b = rec.get(ledger_f), getattr(channel, dev_f)
        if a is None and b is None:
            continue
        same = a == b
        if ledger_f == "region_code" and a and b:
            try:
                same = normalise_region_code(b) == a
            except ValueError:
                same = False
        out[ledger_f] = {"ledger": a, "device": b, "same": same}
    lon, lat = rec.get("longitude"), rec.get("latitude")
    if lon is not None or channel.longitude is not None:
        dist = None
        if None not in (lon, lat, channel.longitude, channel.latitude):
            dist = round(haversine_m(lon, lat, channel.longitude, channel.latitude), 2)  # type: ignore[arg-type]
        out["coordinates"] = {
            "ledger": [lon, lat],
            "device": [channel.longitude, channel.latitude],
            "distance_m": dist,
            # within a centimetre (six decimals) counts as the same point
            "same": dist is not None and dist < 0.01,
        }
    return out
