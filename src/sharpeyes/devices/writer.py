"""Group commit for device state: many devices' changes, one transaction.

When a node restarts, thousands of devices re-register within seconds. Written
one transaction per device, each REGISTER waited for its own commit and the
database (one writer on SQLite) became the queue: 60 registrations/s measured.
Here callers still wait until *their* change is committed before answering the
device, but every change that arrived while the previous batch was committing
goes into the next batch, with one executemany per statement kind.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select

from sharpeyes.devices.catalog import reported_online
from sharpeyes.store.db import Database
from sharpeyes.store.models import Channel, Device, StatusEvent

log = logging.getLogger(__name__)

_DEVICES = Device.__table__
_CHANNELS = Channel.__table__
_EVENTS = StatusEvent.__table__


@dataclass(slots=True)
class _Op:
    device_id: str
    values: dict[str, Any]
    online: bool | None  # None: a plain update, no transition
    reason: str
    at: datetime | None
    insert: bool = False
    rows: list[dict[str, Any]] | None = None  # bulk: many devices' values in one op
    future: asyncio.Future[list[str]] = field(repr=False, default=None)  # type: ignore[assignment]


class StateWriter:
    """Serialises device-state writes into batched transactions."""

    def __init__(self, db: Database, *, max_batch: int = 500) -> None:
        self.db = db
        self.max_batch = max_batch
        self._queue: asyncio.Queue[_Op] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.batches = 0
        self.ops = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        # whatever is still queued is written before the node goes down
        pending = []
        while not self._queue.empty():
            pending.append(self._queue.get_nowait())
        if pending:
            await self._write(pending)

    async def insert(self, device_id: str, values: dict[str, Any]) -> None:
        """Create a device row (first contact of an unknown device)."""
        await self._submit(_Op(device_id, values, None, "", None, insert=True))

    async def update(self, device_id: str, values: dict[str, Any]) -> None:
        """Store column values of a device row (no online/offline transition)."""
        await self._submit(_Op(device_id, values, None, "", None))

    async def transition(
        self, device_id: str, online: bool, reason: str, at: datetime | None, values: dict[str, Any]
    ) -> list[str]:
        """Set the device online/offline, make its channels follow, record history.

        Returns the channel IDs whose effective state changed.
        """
        return await self._submit(_Op(device_id, values, online, reason, at))

    async def update_many(self, rows: list[dict[str, Any]]) -> None:
        """Store values of many devices at once; each row carries its ``_id``."""
        if rows:
            await self._submit(_Op("", {}, None, "", None, rows=rows))

    async def _submit(self, op: _Op) -> list[str]:
        op.future = asyncio.get_running_loop().create_future()
        if self._task is None:  # not started (tests, tools): write directly
            await self._write([op])
        else:
            self._queue.put_nowait(op)
        return await op.future

    async def _run(self) -> None:
        held: _Op | None = None
        while True:
            first = held or await self._queue.get()
            held = None
            batch = [first]
            # A bulk op is written on its own: its rows' parameters are built on
            # the event loop, and 10,000 at once stalled SIP for ~250 ms.
            while first.rows is None and len(batch) < self.max_batch and not self._queue.empty():
                op = self._queue.get_nowait()
                if op.rows is not None:
                    held = op
                    break
                batch.append(op)
            await self._write(batch)

    async def _write(self, batch: list[_Op]) -> None:
        try:
            results = await self._commit(batch)
        except Exception as exc:
            log.exception("device state batch of %d failed", len(batch))
            for op in batch:
                if not op.future.done():
                    op.future.set_exception(exc)
            return
        self.batches += 1
        self.ops += len(batch)
        for op in batch:
            if not op.future.done():
                op.future.set_result(results.get(id(op), []))

    async def _commit(self, batch: list[_Op]) -> dict[int, list[str]]:
        # Later changes to the same device win; statements grouped by key set.
        by_keys: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        events: list[dict[str, Any]] = []
        transitions: dict[str, _Op] = {}
        inserts: list[dict[str, Any]] = []
        for op in batch:
            if op.insert:
                inserts.append({"id": op.device_id, **op.values})
                continue
            if op.rows is not None:
                for row in op.rows:
                    by_keys.setdefault(tuple(sorted(k for k in row if k != "_id")), []).append(row)
                continue
            values = dict(op.values)
            if op.online is not None:
                values["online"] = op.online
                transitions[op.device_id] = op
                events.append(
                    {
                        "device_id": op.device_id,
                        "channel_id": None,
                        "online": op.online,
                        "at": op.at,
                        "reason": op.reason,
                    }
                )
            if op.at is not None:
                values.setdefault("updated_at", op.at)
            if values:
                row = {"_id": op.device_id, **values}
                by_keys.setdefault(tuple(sorted(values)), []).append(row)

        results: dict[int, list[str]] = {}
        async with self.db.session() as s:
            conn = await s.connection()
            if inserts:
                await conn.execute(insert(_DEVICES), inserts)
            for rows in by_keys.values():
                await conn.execute(_DEVICES.update().where(_DEVICES.c.id == bindparam("_id")), rows)
            if transitions:
                to_on: list[int] = []
                to_off: list[int] = []
                rows = (
                    await conn.execute(
                        select(
                            _CHANNELS.c.id,
                            _CHANNELS.c.device_id,
                            _CHANNELS.c.channel_id,
                            _CHANNELS.c.status,
                            _CHANNELS.c.online,
                            _CHANNELS.c.kind,
                        ).where(_CHANNELS.c.device_id.in_(list(transitions)))
                    )
                ).all()
                for row in rows:
                    op = transitions[row.device_id]
                    if row.kind != "channel":
                        continue
                    want = bool(op.online) and reported_online(row.status)
                    if want == row.online:
                        continue
                    (to_on if want else to_off).append(row.id)
                    results.setdefault(id(op), []).append(row.channel_id)
                    events.append(
                        {
                            "device_id": row.device_id,
                            "channel_id": row.channel_id,
                            "online": want,
                            "at": op.at,
                            "reason": op.reason,
                        }
                    )
                for ids, flag in ((to_on, True), (to_off, False)):
                    for i in range(0, len(ids), 500):
                        await conn.execute(
                            _CHANNELS.update()
                            .where(_CHANNELS.c.id.in_(ids[i : i + 500]))
                            .values(online=flag)
                        )
            if events:
                await conn.execute(insert(_EVENTS), events)
            await s.commit()
        return results
