"""Device recordings (前端录像): RecordInfo queries, aggregated across Appendix N parts.

A device answers one query with many MESSAGEs sharing the SN; parts may repeat
(retransmissions) or get lost. :class:`RecordInfoAggregator` (sans-IO) collects
them per (device, SN) like the catalog does and, when parts stop coming for
``part_timeout``, gives what it has with the figures of what is missing. Long
ranges are asked a day at a time (many devices cap one answer), and the results
are merged into one sorted list and a union of spans.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Any

from sharpeyes.devices.messaging import DeviceMessaging, DeviceUnavailable
from sharpeyes.devices.service import DeviceService
from sharpeyes.gb28181 import records
from sharpeyes.gb28181.manscdp import Key, ManscdpMessage, MultipartCollector
from sharpeyes.gb28181.records import RecordItem, RecordType
from sharpeyes.sharing.principal import Principal, Right
from sharpeyes.sharing.scope import require_right

log = logging.getLogger(__name__)


@dataclass
class RecordAnswer:
    """What one query (or a merged set of them) returned."""

    items: list[RecordItem] = field(default_factory=list)
    complete: bool = True
    expected: int = 0  # SumNum the device announced
    received: int = 0  # distinct items that arrived
    unusable: int = 0  # items whose times could not be read
    parts: int = 0  # MESSAGEs that arrived (duplicates included)

    @property
    def missing(self) -> int:
        return max(0, self.expected - self.received)

    def merge(self, other: RecordAnswer) -> None:
        self.items.extend(other.items)
        self.complete = self.complete and other.complete
        self.expected += other.expected
        self.received += other.received
        self.unusable += other.unusable
        self.parts += other.parts


@dataclass
class _Entry:
    expected: int | None = None
    parts: int = 0


class RecordInfoAggregator:
    """Per (device, SN): parts in, one :class:`RecordAnswer` out (sans-IO, clock passed in)."""

    def __init__(self, tz: tzinfo, *, max_pending: int = 1024) -> None:
        self.tz = tz
        self.collector = MultipartCollector(max_pending=max_pending)
        self._entries: dict[Key, _Entry] = {}

    def add(self, key: Key, msg: ManscdpMessage, now: float) -> RecordAnswer | None:
        """One part; the answer once SumNum distinct items have arrived."""
        entry = self._entries.setdefault(key, _Entry())
        entry.parts += 1
        if msg.sum_num is not None:
            entry.expected = max(entry.expected or 0, msg.sum_num)
        items = self.collector.add(key, msg, now)
        if items is None:
            return None
        self._entries.pop(key, None)
        return self._answer(items, entry, complete=True)

    def expire(self, now: float, timeout: float) -> list[tuple[Key, RecordAnswer]]:
        """Partial answers whose last part is ``timeout`` old."""
        out = []
        for key, items in self.collector.expire(now, timeout):
            entry = self._entries.pop(key, _Entry())
            out.append((key, self._answer(items, entry, complete=False)))
        return out

    def forget(self, key: Key) -> None:
        self._entries.pop(key, None)
        if key in self.collector._pending:
            self.collector._forget(key)

    def _answer(
        self, items: list[dict[str, str]], entry: _Entry, *, complete: bool
    ) -> RecordAnswer:
        parsed, bad = records.parse_items(items, self.tz)
        expected = entry.expected if entry.expected is not None else len(items)
        return RecordAnswer(
            items=parsed,
            complete=complete and len(items) >= expected,
            expected=expected,
            received=len(items),
            unusable=bad,
            parts=entry.parts,
        )


class DeviceRecords:
    """RecordInfo towards devices for the API (scope applied through ``DeviceService``)."""

    def __init__(
        self,
        messaging: DeviceMessaging,
        devices: DeviceService,
        tz: tzinfo,
        *,
        part_timeout: float = 5.0,
        query_timeout: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.messaging = messaging
        self.devices = devices
        self.tz = tz
        self.part_timeout = part_timeout
        self.query_timeout = query_timeout
        self.clock = clock
        self.aggregator = RecordInfoAggregator(tz)
        self._waiters: dict[Key, asyncio.Future[RecordAnswer]] = {}
        messaging.response_hooks["RecordInfo"] = self._on_response

    def _on_response(self, sender: str, msg: ManscdpMessage, _now: float) -> None:
        key = (sender, msg.sn)
        fut = self._waiters.get(key)
        if fut is None or fut.done():
            return  # an answer nobody waits for (late, or to someone else's query)
        answer = self.aggregator.add(key, msg, self.clock())
        if answer is not None:
            fut.set_result(answer)

    async def query(
        self,
        device_id: str,
        channel_id: str,
        start: int,
        end: int,
        record_type: str = RecordType.ALL.value,
    ) -> RecordAnswer:
        """All of [start, end), a day per query, merged."""
        total = RecordAnswer()
        for s, e in records.split_range(start, end):
            total.merge(await self._query_once(device_id, channel_id, s, e, record_type))
        total.items = _dedupe(total.items)
        return total

    async def _query_once(
        self, device_id: str, channel_id: str, start: int, end: int, record_type: str
    ) -> RecordAnswer:
        live = self.messaging._target(device_id)
        sn = self.messaging.next_sn()
        key = (device_id, sn)
        fut: asyncio.Future[RecordAnswer] = asyncio.get_running_loop().create_future()
        self._waiters[key] = fut
        body = records.query(
            sn, channel_id, start, end, self.tz, record_type=record_type, charset=live.charset
        )
        started = self.clock()
        try:
            await self.messaging._send_or_raise(live, body)
            while not fut.done():
                await asyncio.wait([fut], timeout=0.2)
                if fut.done():
                    break
                now = self.clock()
                for k, answer in self.aggregator.expire(now, self.part_timeout):
                    waiter = self._waiters.get(k)
                    if waiter is not None and not waiter.done():
                        waiter.set_result(answer)
                if not fut.done() and now - started > self.query_timeout and not self._seen(key):
                    raise DeviceUnavailable(
                        f"no RecordInfo answer from {device_id} within {self.query_timeout:g} s",
                        504,
                    )
            return fut.result()
        finally:
            self._waiters.pop(key, None)
            self.aggregator.forget(key)

    def _seen(self, key: Key) -> bool:
        return key in self.aggregator._entries

    async def channel_records(
        self,
        principal: Principal,
        channel_pk: int,
        start: int,
        end: int,
        record_type: str = RecordType.ALL.value,
    ) -> dict[str, Any]:
        if end <= start:
            raise ValueError("end must be after start")
        if end - start > 31 * 86400:
            raise ValueError("a device query covers at most 31 days")
        if record_type not in RecordType.__members__.values():
            raise ValueError("type must be one of time, alarm, manual, all")
        ch = await self.devices.get_channel(principal, channel_pk)
        require_right(principal, Right.PLAYBACK, ch)
        answer = await self.query(ch.device_id, ch.channel_id, start, end, record_type)
        spans = records.merge_spans(
            (max(start, it.start), min(end, it.end))
            for it in answer.items
            if it.end > start and it.start < end
        )
        return {
            "channel_pk": ch.id,
            "channel_id": ch.channel_id,
            "start": start,
            "end": end,
            "items": [it.as_dict() for it in answer.items],
            "timeline": [{"start": s, "end": e} for s, e in spans],
            "gaps": [{"start": s, "end": e} for s, e in records.gaps(spans, start, end)],
            "complete": answer.complete,
            "expected": answer.expected,
            "received": answer.received,
            "missing": answer.missing,
            "unusable": answer.unusable,
        }


def _dedupe(items: list[RecordItem]) -> list[RecordItem]:
    """Items split across two day-queries come back twice: keep one of each."""
    seen: set[tuple[int, int, str, str | None]] = set()
    out = []
    for it in sorted(items, key=lambda r: (r.start, r.end)):
        k = (it.start, it.end, it.type, it.file_path)
        if k not in seen:
            seen.add(k)
            out.append(it)
    return out


__all__ = ["DeviceRecords", "RecordAnswer", "RecordInfoAggregator"]
