"""The catalog we present to one upper platform (pure: no IO, no clock).

A tree as A.2.6 and Appendix N describe it: our regions as civil-code nodes
(2/4/6/8 digits, each under its parent prefix), then every shared channel with
``Parental 0``, ``ParentID`` its civil-code node (or our platform ID when it has
none) and ``Status`` from the live online state. Exposed IDs and names are the
per-upper custom ones when set. Parts are cut by :func:`catalog_parts`; the
binding sends each after the previous MESSAGE's 200 (Appendix N pacing).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from sharpeyes.gb28181 import manscdp

CIVIL_LEVELS = (2, 4, 6, 8)


@dataclass(frozen=True, slots=True)
class SharedChannel:
    """One channel as one upper sees it."""

    channel_pk: int
    device_id: str  # the real device (or lower platform) that owns it
    channel_id: str  # its real ID
    exposed_id: str  # the ID the upper knows (custom or real)
    name: str
    civil_code: str | None
    online: bool
    manufacturer: str | None = None
    model: str | None = None
    address: str | None = None
    longitude: float | None = None
    latitude: float | None = None
    ptz_type: int | None = None
    custom_id: str | None = None  # the operator's overrides (None: the real ID / name)
    custom_name: str | None = None


def civil_nodes(codes: Iterable[str | None]) -> list[str]:
    """Every civil-code node the channels need, parents first (2 → 4 → 6 → 8 digits)."""
    nodes: set[str] = set()
    for code in codes:
        if not code or not code.isdigit():
            continue
        for n in CIVIL_LEVELS:
            if len(code) >= n and code[:n].strip("0"):
                nodes.add(code[:n])
    return sorted(nodes, key=lambda c: (len(c), c))


def _parent_of(code: str, nodes: set[str]) -> str | None:
    for n in reversed(CIVIL_LEVELS):
        if n < len(code) and code[:n] in nodes:
            return code[:n]
    return None


def _leaf_node(code: str | None, nodes: set[str]) -> str | None:
    if not code or not code.isdigit():
        return None
    for n in reversed(CIVIL_LEVELS):
        if len(code) >= n and code[:n] in nodes:
            return code[:n]
    return None


def catalog_items(
    platform_id: str,
    channels: Sequence[SharedChannel],
    *,
    region_names: Mapping[str, str] | None = None,
) -> list[dict[str, manscdp.FieldValue]]:
    """Items for a Catalog Response: region nodes, then channels (see module doc)."""
    names = region_names or {}
    node_list = civil_nodes(ch.civil_code for ch in channels)
    node_set = set(node_list)
    items: list[dict[str, manscdp.FieldValue]] = []
    for code in node_list:
        item: dict[str, manscdp.FieldValue] = {"DeviceID": code, "Name": names.get(code, code)}
        parent = _parent_of(code, node_set)
        if parent:
            item["ParentID"] = parent
        items.append(item)
    for ch in channels:
        items.append(channel_item(platform_id, ch, node_set))
    return items


def channel_item(
    platform_id: str, ch: SharedChannel, nodes: set[str] | None = None
) -> dict[str, manscdp.FieldValue]:
    """One channel's A.2.6 ``<Item>`` under its civil-code node (or our platform)."""
    node = _leaf_node(
        ch.civil_code, nodes if nodes is not None else set(civil_nodes([ch.civil_code]))
    )
    item: dict[str, manscdp.FieldValue] = {
        "DeviceID": ch.exposed_id,
        "Name": ch.name or ch.exposed_id,
        "Manufacturer": ch.manufacturer or "sharpeyes",
        "Model": ch.model or "GB28181",
        "Owner": "0",
        "CivilCode": ch.civil_code or platform_id[:6],
        "Address": ch.address or ch.name or ch.exposed_id,
        "Parental": 0,
        "ParentID": node or platform_id,
        "SafetyWay": 0,
        "RegisterWay": 1,
        "Secrecy": 0,
        "Status": "ON" if ch.online else "OFF",
    }
    if ch.longitude is not None and ch.latitude is not None:
        item["Longitude"] = f"{ch.longitude:.6f}"
        item["Latitude"] = f"{ch.latitude:.6f}"
    if ch.ptz_type:
        item["Info"] = {"PTZType": ch.ptz_type}
    return item


def id_conflict(
    shared: Sequence[SharedChannel], channel_pk: int, custom_id: str
) -> SharedChannel | None:
    """The other shared channel that already shows ``custom_id`` to this upper, if any.

    Exposed IDs must be unique within one upper (its catalog and INVITEs address
    channels by them); the same ID toward two different uppers is fine.
    """
    for c in shared:
        if c.channel_pk != channel_pk and c.exposed_id == custom_id:
            return c
    return None


def catalog_parts(
    sn: int,
    platform_id: str,
    items: Sequence[Mapping[str, manscdp.FieldValue]],
    *,
    group_size: int,
    charset: str,
) -> list[bytes]:
    """Appendix N parts: same SN, SumNum = all items, ``group_size`` a part; empty → SumNum 0."""
    return manscdp.catalog_responses(
        sn, platform_id, items, per_message=max(1, group_size), charset=charset
    )


__all__ = [
    "SharedChannel",
    "catalog_items",
    "catalog_parts",
    "channel_item",
    "civil_nodes",
    "id_conflict",
]
