"""RecordInfo (A.2.4 d / A.2.6 h, Appendix N): device recording queries and answers (sans-IO).

Times on the wire are local ``YYYY-MM-DDTHH:MM:SS`` (the zone is the node's
``sip.timezone``); here they are Unix seconds. Answers come in many parts with
one SN; :class:`manscdp.MultipartCollector` aggregates them (duplicates are
merged by content, a missing part gives a partial result after a timeout).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from enum import StrEnum

from sharpeyes.gb28181 import manscdp

MAX_QUERY_SPAN_S = 24 * 3600  # many devices cap one answer: ask a day at a time


class RecordType(StrEnum):
    TIME = "time"
    ALARM = "alarm"
    MANUAL = "manual"
    ALL = "all"


@dataclass(frozen=True, slots=True)
class RecordItem:
    start: int  # Unix seconds
    end: int
    type: str = RecordType.TIME.value
    secrecy: int = 0
    file_path: str | None = None
    size: int | None = None  # bytes (FileSize, a 2016 extension some devices send)
    device_id: str = ""

    def as_dict(self) -> dict[str, object]:
        return {
            "start": self.start,
            "end": self.end,
            "type": self.type,
            "secrecy": self.secrecy,
            "file_path": self.file_path,
            "size": self.size,
        }


def format_time(t: float, tz: tzinfo) -> str:
    return datetime.fromtimestamp(int(t), tz).strftime("%Y-%m-%dT%H:%M:%S")


def parse_time(text: str, tz: tzinfo) -> int:
    """Local GB time (``T`` or space separated, optional fraction/zone) → Unix seconds."""
    text = text.strip().replace(" ", "T")
    if not 10 <= len(text) <= 40:
        raise ValueError(f"bad time {text[:40]!r}")
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=tz)
    return int(dt.timestamp())


def query(
    sn: int,
    channel_id: str,
    start: float,
    end: float,
    tz: tzinfo,
    *,
    record_type: str = RecordType.ALL.value,
    charset: str = "GB2312",
) -> bytes:
    return manscdp.query(
        "RecordInfo",
        sn,
        channel_id,
        charset=charset,
        StartTime=format_time(start, tz),
        EndTime=format_time(end, tz),
        Secrecy=0,
        Type=record_type,
    )


def split_range(start: int, end: int, span: int = MAX_QUERY_SPAN_S) -> list[tuple[int, int]]:
    """Cut a long range into queries a device can answer (many cap items per query)."""
    if end <= start:
        return []
    return [(t, min(end, t + span)) for t in range(start, end, span)]


def responses(
    sn: int,
    device_id: str,
    name: str,
    items: Sequence[RecordItem],
    tz: tzinfo,
    *,
    per_message: int = 10,
    charset: str = "GB2312",
) -> list[bytes]:
    """The device's answer split per Appendix N: same SN, SumNum total, RecordList Num."""
    if not items:
        return [
            manscdp.build_manscdp(
                "Response",
                "RecordInfo",
                sn,
                device_id,
                [("Name", name)],
                sum_num=0,
                charset=charset,
            )
        ]
    encoded = [
        {
            "DeviceID": device_id,
            "Name": name,
            "FilePath": it.file_path,
            "Address": "sim",
            "StartTime": format_time(it.start, tz),
            "EndTime": format_time(it.end, tz),
            "Secrecy": it.secrecy,
            "Type": it.type,
            "FileSize": it.size,
        }
        for it in items
    ]
    return [
        manscdp.build_manscdp(
            "Response",
            "RecordInfo",
            sn,
            device_id,
            [("Name", name)],
            sum_num=len(items),
            items=encoded[i : i + per_message],
            list_tag="RecordList",
            charset=charset,
        )
        for i in range(0, len(encoded), per_message)
    ]


def parse_items(items: Iterable[manscdp.Item], tz: tzinfo) -> tuple[list[RecordItem], int]:
    """Items of a RecordInfo answer → sorted records; also how many were unusable."""
    out: list[RecordItem] = []
    bad = 0
    for item in items:
        try:
            start = parse_time(item.get("StartTime", ""), tz)
            end = parse_time(item.get("EndTime", ""), tz)
        except ValueError:
            bad += 1
            continue
        if end < start:
            bad += 1
            continue
        kind = (item.get("Type") or "time").strip().lower()
        secrecy = item.get("Secrecy", "0").strip()
        size = item.get("FileSize", "").strip()
        out.append(
            RecordItem(
                start=start,
                end=end,
                type=kind if kind in RecordType.__members__.values() else kind[:16],
                secrecy=int(secrecy) if secrecy.isdigit() and len(secrecy) < 3 else 0,
                file_path=(item.get("FilePath") or "").strip()[:256] or None,
                size=int(size) if size.isdigit() and len(size) < 16 else None,
                device_id=item.get("DeviceID", ""),
            )
        )
    out.sort(key=lambda r: (r.start, r.end))
    return out, bad


def merge_spans(items: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Union of [start, end) spans, sorted; touching spans join."""
    merged: list[list[int]] = []
    for s, e in sorted(items):
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    return [(s, e) for s, e in merged]


def gaps(spans: Sequence[tuple[int, int]], start: int, end: int) -> list[tuple[int, int]]:
    """What of [start, end) the merged ``spans`` do not cover."""
    out: list[tuple[int, int]] = []
    t = start
    for s, e in merge_spans(spans):
        if e <= t:
            continue
        if s >= end:
            break
        if s > t:
            out.append((t, s))
        t = max(t, e)
    if t < end:
        out.append((t, end))
    return out


__all__ = [
    "MAX_QUERY_SPAN_S",
    "RecordItem",
    "RecordType",
    "format_time",
    "gaps",
    "merge_spans",
    "parse_items",
    "parse_time",
    "query",
    "responses",
    "split_range",
]
