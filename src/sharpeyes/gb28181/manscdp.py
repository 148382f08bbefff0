"""MANSCDP XML bodies (GB/T 28181-2016 Appendix A) and multi-part aggregation (N).

Parsing is hardened because bodies come from devices we do not control: no DTDs or
entities, bounded size, depth and element count, and any failure is a
:class:`ManscdpError`. It is tolerant where devices really differ (charset, tag
case, a missing ``Num``, trailing NULs) and strict where a mistake would be
acted on (root, CmdType, SN, SumNum).
"""

from __future__ import annotations

import math
import re
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeAlias

from lxml import etree

from .charset import decode_text, encode_text, normalize_charset
from .ptz import decode_ptz

MAX_BODY_BYTES = 1 << 20
MAX_DEPTH = 16
MAX_ELEMENTS = 20_000
MAX_ITEMS_PER_MESSAGE = 10_000  # Appendix N upper bound per message.

ROOTS = ("Control", "Query", "Notify", "Response")
_ROOT_BY_LOWER = {r.lower(): r for r in ROOTS}

_KNOWN_TAGS = """
CmdType SN DeviceID SumNum DeviceList RecordList PresetList Alarmstatus Item Info Status
Result Name Manufacturer Model Owner CivilCode Block Address Parental ParentID SafetyWay
RegisterWay CertNum Certifiable ErrCode EndTime StartTime Secrecy IPAddress Port
Password Longitude Latitude PTZType PositionType RoomType UseType SupplyLightType
DirectionType Resolution BusinessGroupID DownloadSpeed SVCSpaceSupportMode
SVCTimeSupportMode FilePath Type RecorderID FileSize IndistinctQuery PTZCmd TeleBoot
RecordCmd GuardCmd AlarmCmd IFameCmd DragZoomIn DragZoomOut HomePosition Enabled
ResetTime PresetIndex ControlPriority AlarmMethod AlarmType AlarmPriority AlarmTime
AlarmDescription AlarmTypeParam EventType StartAlarmPriority EndAlarmPriority
StartAlarmTime EndAlarmTime ConfigType Interval NotifyType SourceID TargetID Time Speed
Direction Altitude DeviceName Firmware Channel Online Reason Encode Record DeviceTime
DutyStatus PresetID PresetName BasicParam Expiration HeartBeatInterval HeartBeatCount
PositionCapability Event
""".split()  # noqa: SIM905
_CANON = {t.lower(): t for t in _KNOWN_TAGS}
_LIST_TAGS = frozenset({"DeviceList", "RecordList", "PresetList", "Alarmstatus"})
_CMD_TYPES = """
DeviceControl DeviceConfig DeviceStatus Catalog DeviceInfo RecordInfo Alarm
ConfigDownload PresetQuery MobilePosition Keepalive MediaStatus Broadcast
""".split()  # noqa: SIM905
_CMD_CANON = {c.lower(): c for c in _CMD_TYPES}
_HEADER_TAGS = frozenset({"CmdType", "SN", "DeviceID", "SumNum"})
CATALOG_EVENTS = frozenset({"ON", "OFF", "VLOST", "DEFECT", "ADD", "DEL", "UPDATE"})

_XML_DECL = re.compile(r"\A\s*<\?xml(?:\s[^<>]{0,512})?\?>", re.IGNORECASE)
_DTD = re.compile(r"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)
_INT = re.compile(r"[0-9]{1,20}")

FieldValue: TypeAlias = (
    str | int | float | Mapping[str, "FieldValue"] | Sequence[tuple[str, "FieldValue"]] | None
)
Fields: TypeAlias = Mapping[str, FieldValue] | Sequence[tuple[str, FieldValue]]
Key: TypeAlias = tuple[str, int]
Item: TypeAlias = dict[str, str]


class ManscdpError(ValueError):
    """A MANSCDP body that is malformed, hostile or missing required parts."""


@dataclass(slots=True)
class ManscdpMessage:
    """A parsed body; see :func:`parse_manscdp` for how fields and items are flattened."""

    root: str
    cmd_type: str
    sn: int
    device_id: str
    fields: dict[str, str] = field(default_factory=dict)
    items: list[dict[str, str]] = field(default_factory=list)
    sum_num: int | None = None
    list_tag: str | None = None


# --------------------------------------------------------------------------- parsing


def _tag(el: etree._Element) -> str:
    """Local name with known MANSCDP names case-normalised (SN/Sn/sn → SN)."""
    name = etree.QName(el).localname
    return _CANON.get(name.lower(), name)


def _children(el: etree._Element) -> list[etree._Element]:
    return [c for c in el if isinstance(c.tag, str)]


def _text(el: etree._Element) -> str:
    return (el.text or "").strip()


class _Flat:
    """Flattens nested elements into one str→str dict without losing repeats.

    A leaf is stored under its tag; when that key is taken (or reserved) it is
    stored under its slash path ("Info/DeviceID"), then "path[2]", "path[3]" ….
    """

    def __init__(self, reserved: frozenset[str] = frozenset()) -> None:
        self.out: dict[str, str] = {}
        self._reserved = reserved
        self._repeats: dict[str, int] = {}

    def put(self, key: str, path: tuple[str, ...], value: str) -> None:
        if key not in self.out and key not in self._reserved:
            self.out[key] = value
            return
        pkey = "/".join(path)
        if pkey not in self.out and pkey not in self._reserved:
            self.out[pkey] = value
            return
        n = self._repeats.get(pkey, 1) + 1
        while f"{pkey}[{n}]" in self.out:
            n += 1
        self._repeats[pkey] = n
        self.out[f"{pkey}[{n}]"] = value

    def add(self, el: etree._Element, parents: tuple[str, ...] = ()) -> None:
        tag = _tag(el)
        kids = _children(el)
        if not kids:
            self.put(tag, (*parents, tag), _text(el))
        for kid in kids:
            self.add(kid, (*parents, tag))


def _check_limits(root: etree._Element, max_depth: int, max_elements: int) -> None:
    count = 0
    stack: list[tuple[etree._Element, int]] = [(root, 1)]
    while stack:
        el, depth = stack.pop()
        count += 1
        if count > max_elements:
            raise ManscdpError(f"more than {max_elements} XML elements")
        if depth > max_depth:
            raise ManscdpError(f"XML nested deeper than {max_depth} levels")
        stack.extend((child, depth + 1) for child in el)


def _parse_int(name: str, value: str) -> int:
    if not _INT.fullmatch(value):
        raise ManscdpError(f"{name} must be a non-negative integer, got {value[:40]!r}")
    return int(value)


def _to_tree(body: bytes, max_bytes: int) -> etree._Element:
    if not isinstance(body, (bytes, bytearray, memoryview)):
        raise ManscdpError(f"body must be bytes, not {type(body).__name__}")
    if len(body) > max_bytes:
        raise ManscdpError(f"body of {len(body)} bytes exceeds the {max_bytes}-byte limit")
    text = decode_text(bytes(body)).lstrip("\ufeff").strip(" \t\r\n\x00")
    # Declarations often lie about the encoding, and lxml refuses a str that has one.
    text = _XML_DECL.sub("", text, count=1).lstrip()
    if not text:
        raise ManscdpError("empty body")
    if _DTD.search(text):
        raise ManscdpError("DOCTYPE/ENTITY declarations are not allowed")
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        load_dtd=False,
        remove_comments=True,
        remove_pis=True,
        collect_ids=False,
    )
    try:
        root = etree.fromstring(text, parser)
    except (etree.LxmlError, ValueError) as exc:
        raise ManscdpError(f"malformed XML: {exc}") from None
    if root is None or root.getroottree().docinfo.internalDTD is not None:
        raise ManscdpError("malformed XML document")
    return root


def parse_manscdp(
    body: bytes,
    *,
    max_bytes: int = MAX_BODY_BYTES,
    max_depth: int = MAX_DEPTH,
    max_elements: int = MAX_ELEMENTS,
) -> ManscdpMessage:
    """Parse a MANSCDP body, raising only :class:`ManscdpError`.

    ``fields`` holds every top-level leaf except CmdType/SN/DeviceID/SumNum, with
    nested containers (``<Info>``) flattened into their leaves' tags. The first
    list element (DeviceList, RecordList, PresetList, Alarmstatus, or any element
    with ``<Item>`` children) becomes ``items``: one flat dict per ``<Item>``.
    DeviceID is passed through unvalidated; only a Broadcast Notify, whose schema
    has SourceID/TargetID instead, may omit it (``device_id`` is then "").
    """
    root = _to_tree(body, max_bytes)
    _check_limits(root, max_depth, max_elements)
    root_name = _ROOT_BY_LOWER.get(etree.QName(root).localname.lower())
    if root_name is None:
        raise ManscdpError(
            f"root element must be one of {', '.join(ROOTS)}, got {etree.QName(root).localname!r}"
        )
    header: dict[str, str] = {}
    flat = _Flat(_HEADER_TAGS)
    items: list[Item] = []
    list_tag: str | None = None
    for child in _children(root):
        tag = _tag(child)
        kids = _children(child)
        if tag in _HEADER_TAGS:
            if kids:
                raise ManscdpError(f"<{tag}> must contain text, not elements")
            if tag in header:
                raise ManscdpError(f"duplicate <{tag}>")
            header[tag] = _text(child)
        elif list_tag is None and (tag in _LIST_TAGS or any(_tag(k) == "Item" for k in kids)):
            list_tag = tag
            for kid in kids:
                if _tag(kid) == "Item":
                    item = _Flat()
                    for leaf in _children(kid):
                        item.add(leaf)
                    items.append(item.out)
        else:
            flat.add(child)
    cmd_type = header.get("CmdType", "")
    if not cmd_type:
        raise ManscdpError("missing <CmdType>")
    cmd_type = _CMD_CANON.get(cmd_type.lower(), cmd_type)
    if "SN" not in header:
        raise ManscdpError("missing <SN>")
    sn = _parse_int("SN", header["SN"])
    if "DeviceID" not in header and not (root_name == "Notify" and cmd_type == "Broadcast"):
        raise ManscdpError("missing <DeviceID>")
    sum_num = _parse_int("SumNum", header["SumNum"]) if "SumNum" in header else None
    return ManscdpMessage(
        root=root_name,
        cmd_type=cmd_type,
        sn=sn,
        device_id=header.get("DeviceID", ""),
        fields=flat.out,
        items=items,
        sum_num=sum_num,
        list_tag=list_tag,
    )


# -------------------------------------------------------------------------- building


def _scalar(value: str | int | float) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if not math.isfinite(value):
        raise ValueError(f"cannot encode non-finite number {value!r}")
    text = repr(value)
    if "e" in text or "E" in text:  # no exponent notation for coordinates
        text = f"{value:.10f}".rstrip("0").rstrip(".")
    return text


def _append(parent: etree._Element, tag: str, value: FieldValue) -> None:
    if value is None:
        return
    if isinstance(value, (str, int, float)):
        etree.SubElement(parent, tag).text = _scalar(value)
    else:
        _append_all(etree.SubElement(parent, tag), value)


def _append_all(parent: etree._Element, values: Fields) -> None:
    pairs = values.items() if isinstance(values, Mapping) else values
    for tag, value in pairs:
        _append(parent, tag, value)


def build_manscdp(
    root: str,
    cmd_type: str,
    sn: int,
    device_id: str,
    fields: Fields = (),
    *,
    items: Sequence[Mapping[str, FieldValue]] | None = None,
    list_tag: str = "DeviceList",
    sum_num: int | None = None,
    charset: str = "GB2312",
) -> bytes:
    """Serialise a body: CmdType, SN, DeviceID, fields (in order), SumNum, list.

    ``None`` values are omitted; a mapping (or a sequence of (tag, value) pairs,
    which allows repeated tags) becomes a nested element such as ``<Info>``.
    ``items`` (even empty) emits ``<list_tag Num="k">`` with one ``<Item>`` each.
    """
    if root not in ROOTS:
        raise ValueError(f"root must be one of {ROOTS}, got {root!r}")
    if not isinstance(cmd_type, str) or not cmd_type:
        raise ValueError("cmd_type must be a non-empty str")
    if isinstance(sn, bool) or not isinstance(sn, int) or sn < 0:
        raise ValueError(f"SN must be a non-negative int, got {sn!r}")
    cs = normalize_charset(charset)
    el = etree.Element(root)
    _append_all(el, [("CmdType", cmd_type), ("SN", sn), ("DeviceID", device_id)])
    _append_all(el, fields)
    if sum_num is not None:
        _append(el, "SumNum", sum_num)
    if items is not None:
        lst = etree.SubElement(el, list_tag, Num=str(len(items)))
        for item in items:
            _append_all(etree.SubElement(lst, "Item"), item)
    xml = etree.tostring(el, encoding="unicode", pretty_print=True)
    text = f'<?xml version="1.0" encoding="{cs}"?>\n{xml}'.replace("\n", "\r\n")
    return encode_text(text, cs)


def keepalive(
    sn: int,
    device_id: str,
    *,
    status: str = "OK",
    faulty: Sequence[str] = (),
    charset: str = "GB2312",
) -> bytes:
    """Keepalive Notify (A.2.5 a); ``faulty`` lists failed sub-devices in ``<Info>``."""
    info = [("DeviceID", d) for d in faulty] or None
    return build_manscdp(
        "Notify", "Keepalive", sn, device_id, [("Status", status), ("Info", info)], charset=charset
    )


def query(
    cmd_type: str, sn: int, device_id: str, *, charset: str = "GB2312", **extra: FieldValue
) -> bytes:
    """A Query (A.2.4); extra fields in keyword order, e.g. StartTime=…, EndTime=…."""
    return build_manscdp("Query", cmd_type, sn, device_id, extra, charset=charset)


def catalog_responses(
    sn: int,
    device_id: str,
    items: Sequence[Mapping[str, FieldValue]],
    *,
    per_message: int = 10,
    charset: str = "GB2312",
) -> list[bytes]:
    """Catalog Response split per Appendix N: same SN, SumNum = total, Num = this part."""
    if not 1 <= per_message <= MAX_ITEMS_PER_MESSAGE:
        raise ValueError(f"per_message must be 1..{MAX_ITEMS_PER_MESSAGE}")
    if not items:
        return [build_manscdp("Response", "Catalog", sn, device_id, sum_num=0, charset=charset)]
    return [
        build_manscdp(
            "Response",
            "Catalog",
            sn,
            device_id,
            sum_num=len(items),
            items=items[i : i + per_message],
            charset=charset,
        )
        for i in range(0, len(items), per_message)
    ]


def catalog_notify(
    sn: int,
    device_id: str,
    items: Sequence[Mapping[str, FieldValue]],
    *,
    charset: str = "GB2312",
) -> bytes:
    """Catalog change Notify (Appendix P.4.2.2): each item has DeviceID and Event."""
    ordered: list[dict[str, FieldValue]] = []
    for item in items:
        event = item.get("Event")
        if event not in CATALOG_EVENTS:
            raise ValueError(f"catalog notify item needs Event in {sorted(CATALOG_EVENTS)}")
        head = {"DeviceID": item.get("DeviceID"), "Event": event}
        ordered.append(head | {k: v for k, v in item.items() if k not in head})
    return build_manscdp(
        "Notify", "Catalog", sn, device_id, sum_num=len(ordered), items=ordered, charset=charset
    )


def device_info_response(
    sn: int,
    device_id: str,
    *,
    name: str,
    manufacturer: str,
    model: str,
    firmware: str,
    channel_num: int,
    result: str = "OK",
    charset: str = "GB2312",
) -> bytes:
    """DeviceInfo Response (A.2.6 f)."""
    fields: list[tuple[str, FieldValue]] = [
        ("DeviceName", name),
        ("Result", result),
        ("Manufacturer", manufacturer),
        ("Model", model),
        ("Firmware", firmware),
        ("Channel", channel_num),
    ]
    return build_manscdp("Response", "DeviceInfo", sn, device_id, fields, charset=charset)


_DUTY = frozenset({"ONDUTY", "OFFDUTY", "ALARM"})


def device_status_response(
    sn: int,
    device_id: str,
    *,
    online: bool = True,
    status_ok: bool = True,
    record: bool = False,
    encode: bool = True,
    device_time: str,
    alarms: Sequence[tuple[str, str]] = (),
    reason: str | None = None,
    result: str = "OK",
    charset: str = "GB2312",
) -> bytes:
    """DeviceStatus Response (A.2.6 g, J.11); ``alarms`` are (DeviceID, DutyStatus)."""
    for _, duty in alarms:
        if duty not in _DUTY:
            raise ValueError(f"DutyStatus must be one of {sorted(_DUTY)}, got {duty!r}")
    fields: list[tuple[str, FieldValue]] = [
        ("Result", result),
        ("Online", "ONLINE" if online else "OFFLINE"),
        ("Status", "OK" if status_ok else "ERROR"),
        ("Reason", reason),
        ("Encode", "ON" if encode else "OFF"),
        ("Record", "ON" if record else "OFF"),
        ("DeviceTime", device_time),
    ]
    alarm_items = [{"DeviceID": d, "DutyStatus": s} for d, s in alarms] or None
    return build_manscdp(
        "Response",
        "DeviceStatus",
        sn,
        device_id,
        fields,
        items=alarm_items,
        list_tag="Alarmstatus",
        charset=charset,
    )


def preset_response(
    sn: int, device_id: str, presets: Sequence[tuple[int, str]], *, charset: str = "GB2312"
) -> bytes:
    """PresetQuery Response (A.2.6 k): PresetList is always present, Num 0 if empty."""
    items: list[dict[str, FieldValue]] = []
    for index, name in presets:
        if isinstance(index, bool) or not isinstance(index, int) or not 1 <= index <= 255:
            raise ValueError(f"preset index must be 1..255, got {index!r}")
        items.append({"PresetID": index, "PresetName": name})
    return build_manscdp(
        "Response",
        "PresetQuery",
        sn,
        device_id,
        items=items,
        list_tag="PresetList",
        charset=charset,
    )


def ptz_control(
    sn: int, device_id: str, ptz_cmd: str, *, priority: int = 5, charset: str = "GB2312"
) -> bytes:
    """DeviceControl with PTZCmd and ``<Info><ControlPriority>`` as in J.6."""
    decode_ptz(ptz_cmd)  # ValueError on a malformed command
    if isinstance(priority, bool) or not isinstance(priority, int) or priority < 0:
        raise ValueError(f"priority must be a non-negative int, got {priority!r}")
    fields: list[tuple[str, FieldValue]] = [
        ("PTZCmd", ptz_cmd.strip().upper()),
        ("Info", {"ControlPriority": priority}),
    ]
    return build_manscdp("Control", "DeviceControl", sn, device_id, fields, charset=charset)


def reset_alarm(
    sn: int,
    device_id: str,
    alarm_method: str | None = None,
    alarm_type: str | None = None,
    *,
    charset: str = "GB2312",
) -> bytes:
    """DeviceControl AlarmCmd=ResetAlarm, which re-arms a device alarm (A.2.3 a)."""
    info: dict[str, FieldValue] | None = None
    if alarm_method is not None or alarm_type is not None:
        info = {"AlarmMethod": alarm_method, "AlarmType": alarm_type}
    fields: list[tuple[str, FieldValue]] = [("AlarmCmd", "ResetAlarm"), ("Info", info)]
    return build_manscdp("Control", "DeviceControl", sn, device_id, fields, charset=charset)


def _small_int(name: str, value: int | str, high: int) -> str:
    text = str(value).strip() if not isinstance(value, bool) else ""
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= high:
        raise ValueError(f"{name} must be 1..{high}, got {value!r}")
    return str(int(text))


def alarm_notify(
    sn: int,
    device_id: str,
    *,
    priority: int | str,
    method: int | str,
    alarm_time: str,
    description: str | None = None,
    longitude: float | None = None,
    latitude: float | None = None,
    alarm_type: int | str | None = None,
    charset: str = "GB2312",
) -> bytes:
    """Alarm Notify (A.2.5 b): priority 1-4, method 1-7, Info/AlarmType optional."""
    fields: list[tuple[str, FieldValue]] = [
        ("AlarmPriority", _small_int("AlarmPriority", priority, 4)),
        ("AlarmMethod", _small_int("AlarmMethod", method, 7)),
        ("AlarmTime", alarm_time),
        ("AlarmDescription", description),
        ("Longitude", longitude),
        ("Latitude", latitude),
        ("Info", None if alarm_type is None else {"AlarmType": alarm_type}),
    ]
    return build_manscdp("Notify", "Alarm", sn, device_id, fields, charset=charset)


# ------------------------------------------------------------------------ multi-part


@dataclass(slots=True)
class _Pending:
    sum_num: int
    by_device: bool
    last_seen: float
    items: dict[object, Item] = field(default_factory=dict)


class MultipartCollector:
    """Collects Appendix N multi-part responses by (device, SN); sans-IO.

    Duplicates (retransmissions) are merged: catalog items by DeviceID, other
    lists by full content — record items all carry the channel's DeviceID, so
    keying them by DeviceID would collapse a whole RecordInfo answer into one.
    Memory is bounded per key, in items overall and in pending keys; the oldest
    pending key is dropped first (counted in ``dropped``).
    """

    def __init__(
        self,
        *,
        max_items_per_key: int = 100_000,
        max_pending: int = 1024,
        max_total_items: int = 1_000_000,
    ) -> None:
        self.max_items_per_key = max_items_per_key
        self.max_pending = max_pending
        self.max_total_items = max_total_items
        self.dropped = 0
        self._pending: OrderedDict[Key, _Pending] = OrderedDict()
        self._total = 0

    def __len__(self) -> int:
        return len(self._pending)

    def add(self, key: Key, msg: ManscdpMessage, now: float) -> list[Item] | None:
        """Add one part; return the full item list once SumNum items have arrived."""
        entry = self._pending.get(key)
        if msg.sum_num is None or msg.sum_num == 0:
            # Nothing to aggregate: a single-part answer or an empty result.
            if entry is not None:
                self._forget(key)
            collected = list(entry.items.values()) if entry is not None else []
            return collected + list(msg.items) if msg.sum_num is None else collected
        if entry is None:
            self._make_room()
            entry = _Pending(msg.sum_num, msg.list_tag == "DeviceList", now)
            self._pending[key] = entry
        entry.sum_num = max(entry.sum_num, msg.sum_num)
        entry.last_seen = now
        self._pending.move_to_end(key)
        for item in msg.items:
            ident: object = item.get("DeviceID") if entry.by_device else None
            if ident is None or ident == "":
                ident = tuple(sorted(item.items()))
            if ident in entry.items:
                entry.items[ident] = item
            elif len(entry.items) < self.max_items_per_key:
                entry.items[ident] = item
                self._total += 1
        if len(entry.items) >= entry.sum_num:
            self._forget(key)
            return list(entry.items.values())
        while self._total > self.max_total_items and len(self._pending) > 1:
            self._drop_oldest()
        return None

    def expire(self, now: float, timeout: float) -> list[tuple[Key, list[Item]]]:
        """Return and forget partial results whose last part is ``timeout`` old."""
        done = [k for k, e in self._pending.items() if now - e.last_seen >= timeout]
        out = []
        for key in done:
            entry = self._pending[key]
            self._forget(key)
            out.append((key, list(entry.items.values())))
        return out

    def _forget(self, key: Key) -> None:
        entry = self._pending.pop(key)
        self._total -= len(entry.items)

    def _drop_oldest(self) -> None:
        oldest = next(iter(self._pending))
        self._forget(oldest)
        self.dropped += 1

    def _make_room(self) -> None:
        while len(self._pending) >= self.max_pending:
            self._drop_oldest()
