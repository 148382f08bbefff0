"""Live device state: registration, keepalive deadlines and online/offline transitions.

The registry keeps every device's live state in memory so a keepalive costs a
dict lookup, not a database round trip. What must survive a crash is written
before it is acknowledged: registrations and every online/offline transition
(with its reason, for online-rate history). Keepalive timestamps are flushed in
batches every 15 s; losing the last batch only makes a deadline up to 15 s
earlier than it should be, well inside the default 180 s keepalive window.

After a restart the state is reloaded with each device's last deadlines, so
nothing is flipped offline merely because the node was restarted.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, bindparam, delete, insert, select, update

from sharpeyes.devices.catalog import FIELDS, channel_kind, item_to_columns, reported_online
from sharpeyes.devices.deadlines import DeadlineQueue
from sharpeyes.devices.writer import StateWriter
from sharpeyes.events import EventBus
from sharpeyes.sip.transport import Peer
from sharpeyes.store.db import Database
from sharpeyes.store.models import Channel, Device, StatusEvent

log = logging.getLogger(__name__)


def _dt(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC)


def _ts(dt: datetime | None) -> float | None:
    return None if dt is None else dt.timestamp()


@dataclass(slots=True)
class LiveDevice:
    id: str
    admission: str
    online: bool = False
    password: str | None = None
    peer: Peer | None = None
    contact: str | None = None
    charset: str = "GB2312"
    register_expires_at: float | None = None
    keepalive_deadline: float | None = None
    last_keepalive_at: float | None = None
    keepalive_interval: int = 60
    keepalive_timeout_count: int = 3
    dirty: bool = False

    @property
    def registered(self) -> bool:
        return self.register_expires_at is not None and self.register_expires_at > time.time()

    def keepalive_window(self) -> float:
        return float(self.keepalive_interval * self.keepalive_timeout_count)

    def next_deadline(self) -> float | None:
        """The earlier of the registration expiry and the keepalive deadline."""
        r, k = self.register_expires_at, self.keepalive_deadline
        if r is None:
            return k
        return r if k is None or r <= k else k


class DeviceRegistry:
    """Owns the ``devices``, ``channels`` and ``status_events`` tables' live columns."""

    def __init__(
        self,
        db: Database,
        bus: EventBus,
        *,
        keepalive_interval: int = 60,
        keepalive_timeout_count: int = 3,
        flush_interval: float = 15.0,
        watchdog_interval: float = 1.0,
    ) -> None:
        self.db = db
        self.bus = bus
        self.keepalive_interval = keepalive_interval
        self.keepalive_timeout_count = keepalive_timeout_count
        self.flush_interval = flush_interval
        self.watchdog_interval = watchdog_interval
        self.devices: dict[str, LiveDevice] = {}
        self.deadlines: DeadlineQueue[str] = DeadlineQueue()
        self._dirty: set[str] = set()  # devices with unflushed keepalive timestamps
        self.writer = StateWriter(db)
        self._locks: dict[str, asyncio.Lock] = {}
        self._tasks: list[asyncio.Task[None]] = []

    # ----------------------------------------------------------- lifecycle
    async def load(self) -> None:
        async with self.db.session() as s:
            rows = (await s.execute(select(Device))).scalars().all()
        for d in rows:
            peer = None
            if d.remote_host and d.remote_port:
                peer = Peer(d.transport or "udp", d.remote_host, d.remote_port)
            self.devices[d.id] = LiveDevice(
                id=d.id,
                admission=d.admission,
                online=d.online,
                password=d.password,
                peer=peer,
                contact=d.contact,
                charset=d.charset or "GB2312",
                register_expires_at=_ts(d.register_expires_at),
                keepalive_deadline=_ts(d.keepalive_deadline),
                last_keepalive_at=_ts(d.last_keepalive_at),
                keepalive_interval=d.keepalive_interval or self.keepalive_interval,
                keepalive_timeout_count=d.keepalive_timeout_count or self.keepalive_timeout_count,
            )
        for live in self.devices.values():
            self.reschedule(live)
        log.info("loaded %d devices (%d online)", len(rows), sum(d.online for d in rows))

    def start(self) -> None:
        self.writer.start()
        self._tasks = [
            asyncio.create_task(self._watchdog_loop()),
            asyncio.create_task(self._flush_loop()),
        ]

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.flush()
        await self.writer.stop()

    def lock(self, device_id: str) -> asyncio.Lock:
        lock = self._locks.get(device_id)
        if lock is None:
            lock = self._locks[device_id] = asyncio.Lock()
        return lock

    def get(self, device_id: str) -> LiveDevice | None:
        return self.devices.get(device_id)

    # -------------------------------------------------------- registration
    async def create_pending_or_admitted(
        self, device_id: str, admission: str, peer: Peer, now: float
    ) -> LiveDevice:
        """First contact from an unknown device that authenticated with the global password."""
        at = _dt(now)
        await self.writer.insert(
            device_id,
            {
                "admission": admission,
                "transport": peer.transport,
                "remote_host": peer.host,
                "remote_port": peer.port,
                "keepalive_interval": self.keepalive_interval,
                "keepalive_timeout_count": self.keepalive_timeout_count,
                "charset": "GB2312",
                "media_transport": "udp",
                "online": False,
                "channel_count": 0,
                "created_at": at,
                "updated_at": at,
            },
        )
        live = LiveDevice(
            id=device_id,
            admission=admission,
            peer=peer,
            keepalive_interval=self.keepalive_interval,
            keepalive_timeout_count=self.keepalive_timeout_count,
        )
        self.devices[device_id] = live
        if admission == "pending":
            self.bus.publish("device.pending", device_id=device_id, host=peer.host)
        return live

    async def registered(
        self, live: LiveDevice, peer: Peer, contact: str | None, expires: int, now: float
    ) -> None:
        """A successful REGISTER: store it, bring the device (and channels) online."""
        live.peer = peer
        live.contact = contact
        live.register_expires_at = now + expires
        live.last_keepalive_at = now
        live.keepalive_deadline = now + live.keepalive_window()
        values: dict[str, Any] = {
            "transport": peer.transport,
            "remote_host": peer.host,
            "remote_port": peer.port,
            "contact": contact,
            "registered_at": _dt(now),
            "register_expires_at": _dt(live.register_expires_at),
            "last_keepalive_at": _dt(now),
            "keepalive_deadline": _dt(live.keepalive_deadline),
        }
        await self._set_online(live, True, "register", now, values)

    async def unregistered(self, live: LiveDevice, now: float) -> None:
        live.register_expires_at = None
        live.keepalive_deadline = None
        await self._set_online(
            live,
            False,
            "unregister",
            now,
            {"register_expires_at": None, "keepalive_deadline": None},
        )

    # ------------------------------------------------------------ keepalive
    async def keepalive(self, live: LiveDevice, peer: Peer, now: float) -> bool:
        """Record a keepalive. False when the device must re-register first."""
        if live.register_expires_at is None or live.register_expires_at <= now:
            return False
        live.last_keepalive_at = now
        live.keepalive_deadline = deadline = now + live.keepalive_window()
        at = self.deadlines.scheduled_at(live.id)
        if at is None or deadline < at:
            self.deadlines.schedule(live.id, deadline)  # later deadlines: picked up when due
        live.dirty = True
        self._dirty.add(live.id)
        if live.peer != peer:
            live.peer = peer  # NAT rebinding: answer where the device now is
        if not live.online:
            async with self.lock(live.id):
                if not live.online:
                    await self._set_online(live, True, "keepalive", now, {})
        return True

    # --------------------------------------------------------- transitions
    async def _set_online(
        self, live: LiveDevice, online: bool, reason: str, now: float, values: dict[str, Any]
    ) -> None:
        """Store (and then publish) a state change; a transition also moves the channels."""
        changed = live.online != online
        at = _dt(now)
        if changed:
            channel_changes = await self.writer.transition(live.id, online, reason, at, values)
        else:
            await self.writer.update(live.id, {**values, "online": online, "updated_at": at})
            channel_changes = []
        live.online = online
        live.dirty = False
        if online:
            self.reschedule(live)
        if changed:
            self.bus.publish(
                "device.online" if online else "device.offline", device_id=live.id, reason=reason
            )
            for cid in channel_changes:
                self.bus.publish(
                    "channel.online" if online else "channel.offline",
                    device_id=live.id,
                    channel_id=cid,
                    reason=reason,
                )

    # -------------------------------------------------------------- catalog
    async def apply_catalog(
        self, device_id: str, items: list[dict[str, str]], *, full: bool, now: float
    ) -> dict[str, int]:
        """Upsert catalog items; with ``full`` also delete channels no longer reported.

        Returns counts (added, updated, removed) for the catalog.changed event.
        """
        live = self.devices.get(device_id)
        device_online = bool(live and live.online)
        at = _dt(now)
        by_id: dict[str, dict[str, str]] = {}
        for item in items:
            cid = (item.get("DeviceID") or "").strip()
            if cid and len(cid) <= 32:
                by_id[cid] = item
        added = updated = removed = 0
        transitions: list[tuple[str, bool]] = []
        async with self.db.session() as s:
            conn = await s.connection()
            existing = {
                r.channel_id: r
                for r in (
                    await conn.execute(
                        select(Channel.id, Channel.channel_id, Channel.online).where(
                            Channel.device_id == device_id
                        )
                    )
                ).all()
            }
            inserts = []
            updates = []
            events = []
            for cid, item in by_id.items():
                cols = item_to_columns(item)
                kind = channel_kind(cid)
                online = device_online and kind == "channel" and reported_online(cols.get("status"))
                row = existing.get(cid)
                if row is None:
                    inserts.append(
                        {
                            **_all_columns(cols),
                            "device_id": device_id,
                            "channel_id": cid,
                            "kind": kind,
                            "online": online,
                            "created_at": at,
                            "updated_at": at,
                        }
                    )
                    added += 1
                    if online:
                        transitions.append((cid, True))
                        events.append(
                            {
                                "device_id": device_id,
                                "channel_id": cid,
                                "online": True,
                                "at": at,
                                "reason": "catalog",
                            }
                        )
                else:
                    updates.append(
                        {
                            **_all_columns(cols),
                            "_id": row.id,
                            "kind": kind,
                            "online": online,
                            "updated_at": at,
                        }
                    )
                    updated += 1
                    if row.online != online:
                        transitions.append((cid, online))
                        events.append(
                            {
                                "device_id": device_id,
                                "channel_id": cid,
                                "online": online,
                                "at": at,
                                "reason": "catalog",
                            }
                        )
            if inserts:
                await conn.execute(insert(_CHANNELS), inserts)
            if updates:
                await conn.execute(_CHANNEL_BY_ID, updates)
            if full:
                gone = [r.id for cid, r in existing.items() if cid not in by_id]
                removed = len(gone)
                for i in range(0, len(gone), 500):
                    await conn.execute(
                        delete(_CHANNELS).where(_CHANNELS.c.id.in_(gone[i : i + 500]))
                    )
            if events:
                await conn.execute(insert(StatusEvent.__table__), events)
            count = len([1 for cid in by_id if channel_kind(cid) == "channel"])
            values: dict[str, Any] = {"catalog_synced_at": at}
            if full:
                values["channel_count"] = count
            await conn.execute(update(_DEVICES).where(_DEVICES.c.id == device_id).values(**values))
            await s.commit()
        for cid, online in transitions:
            self.bus.publish(
                "channel.online" if online else "channel.offline",
                device_id=device_id,
                channel_id=cid,
                reason="catalog",
            )
        result = {"added": added, "updated": updated, "removed": removed}
        self.bus.publish("catalog.changed", device_id=device_id, **result)
        return result

    async def apply_catalog_events(
        self, device_id: str, items: list[dict[str, str]], now: float
    ) -> None:
        """Catalog NOTIFY: per-item Event ON/OFF/VLOST/DEFECT/ADD/DEL/UPDATE."""
        upserts: list[dict[str, str]] = []
        status_only: list[tuple[str, str]] = []
        deletes: list[str] = []
        for item in items:
            event = (item.get("Event") or "").upper()
            cid = item.get("DeviceID") or ""
            if not cid:
                continue
            if event == "DEL":
                deletes.append(cid)
            elif event in ("ON", "OFF", "VLOST", "DEFECT"):
                status_only.append((cid, "ON" if event == "ON" else event))
            else:  # ADD, UPDATE, or a device that sends no Event
                upserts.append(item)
        if upserts:
            await self.apply_catalog(device_id, upserts, full=False, now=now)
        if status_only:
            await self.set_channel_status(device_id, status_only, now)
        if deletes:
            async with self.db.session() as s:
                await s.execute(
                    delete(Channel).where(
                        and_(Channel.device_id == device_id, Channel.channel_id.in_(deletes))
                    )
                )
                await s.commit()
            self.bus.publish(
                "catalog.changed", device_id=device_id, added=0, updated=0, removed=len(deletes)
            )

    async def set_channel_status(
        self, device_id: str, statuses: Iterable[tuple[str, str]], now: float
    ) -> None:
        live = self.devices.get(device_id)
        device_online = bool(live and live.online)
        at = _dt(now)
        published: list[tuple[str, bool, str]] = []
        async with self.db.session() as s:
            for cid, status in statuses:
                row = (
                    await s.execute(
                        select(Channel.id, Channel.online, Channel.kind).where(
                            Channel.device_id == device_id, Channel.channel_id == cid
                        )
                    )
                ).first()
                if row is None:
                    continue
                online = device_online and row.kind == "channel" and reported_online(status)
                await s.execute(
                    update(Channel)
                    .where(Channel.id == row.id)
                    .values(status=status, online=online, updated_at=at)
                )
                if online != row.online:
                    reason = f"notify_{status}"
                    s.add(
                        StatusEvent(
                            device_id=device_id, channel_id=cid, online=online, at=at, reason=reason
                        )
                    )
                    published.append((cid, online, reason))
            await s.commit()
        for cid, online, reason in published:
            self.bus.publish(
                "channel.online" if online else "channel.offline",
                device_id=device_id,
                channel_id=cid,
                reason=reason,
            )

    async def update_info(self, device_id: str, fields: dict[str, str]) -> None:
        """Store what a DeviceInfo response says about the device itself."""
        values = {
            column: fields[tag][:128]
            for tag, column in (
                ("DeviceName", "name"),
                ("Manufacturer", "manufacturer"),
                ("Model", "model"),
                ("Firmware", "firmware"),
            )
            if fields.get(tag)
        }
        if values and device_id in self.devices:
            await self.writer.update(device_id, values)

    # --------------------------------------------------------- admin ops
    async def admit(self, device_id: str, admission: str) -> bool:
        live = self.devices.get(device_id)
        if live is None:
            return False
        async with self.db.session() as s:
            await s.execute(
                update(Device).where(Device.id == device_id).values(admission=admission)
            )
            await s.commit()
        live.admission = admission
        if admission != "admitted" and live.online:
            await self._set_online(
                live, False, "admission_revoked", time.time(), {"register_expires_at": None}
            )
            live.register_expires_at = None
        return True

    async def set_password(self, device_id: str, password: str | None) -> None:
        async with self.db.session() as s:
            await s.execute(update(Device).where(Device.id == device_id).values(password=password))
            await s.commit()
        live = self.devices.get(device_id)
        if live is not None:
            live.password = password

    async def delete(self, device_id: str) -> bool:
        async with self.db.session() as s:
            result = await s.execute(delete(Device).where(Device.id == device_id))
            await s.commit()
        self.devices.pop(device_id, None)
        self.deadlines.discard(device_id)
        self._locks.pop(device_id, None)
        if result.rowcount:
            self.bus.publish("device.deleted", device_id=device_id)
        return bool(result.rowcount)

    # ------------------------------------------------------------ upkeep
    def reschedule(self, live: LiveDevice) -> None:
        """Tell the watchdog about ``live``'s deadlines (needed after setting them by hand)."""
        when = live.next_deadline()
        if live.online and when is not None:
            self.deadlines.schedule(live.id, when)

    def due(self, now: float) -> list[tuple[LiveDevice, str]]:
        """Online devices whose keepalive or registration deadline has passed.

        O(k log n) for k due entries, not a scan: entries whose deadline moved later
        are scheduled again; due ones stay scheduled until the device goes offline,
        so asking twice gives the same answer.
        """
        out = []
        for device_id in self.deadlines.pop_due(now):
            live = self.devices.get(device_id)
            if live is None or not live.online:
                continue
            when = live.next_deadline()
            if when is None:
                continue
            self.deadlines.schedule(device_id, when)
            if live.register_expires_at is not None and live.register_expires_at <= now:
                out.append((live, "register_expired"))
            elif live.keepalive_deadline is not None and live.keepalive_deadline <= now:
                out.append((live, "keepalive_timeout"))
        return out

    async def check_deadlines(self, now: float) -> int:
        """Take expired devices offline; concurrently, so a mass outage is one batch."""
        expired = self.due(now)

        async def expire(live: LiveDevice, reason: str) -> None:
            async with self.lock(live.id):
                if live.online:
                    await self._set_online(live, False, reason, now, {})

        await asyncio.gather(*(expire(live, reason) for live, reason in expired))
        return len(expired)

    async def _watchdog_loop(self) -> None:
        while True:
            await asyncio.sleep(self.watchdog_interval)
            try:
                await self.check_deadlines(time.time())
            except Exception:
                log.exception("device watchdog failed")

    async def flush(self) -> int:
        """Write keepalive timestamps of every device that had one since the last flush."""
        ids, self._dirty = self._dirty, set()
        devices = self.devices
        dirty = [d for i in ids if (d := devices.get(i)) is not None and d.dirty]
        for d in dirty:
            d.dirty = False
        # in slices, so the event loop (and SIP) gets a turn between them
        for i in range(0, len(dirty), 1000):
            await asyncio.sleep(0)
            await self.writer.update_many(
                [
                    {
                        "_id": d.id,
                        "last_keepalive_at": _dt(d.last_keepalive_at),
                        "keepalive_deadline": _dt(d.keepalive_deadline),
                    }
                    for d in dirty[i : i + 1000]
                ]
            )
        return len(dirty)

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(self.flush_interval)
            try:
                await self.flush()
            except Exception:
                log.exception("keepalive flush failed")


_CHANNELS = Channel.__table__
_DEVICES = Device.__table__
# Core executemany statements: the SET clause comes from each parameter dict's keys.
_CHANNEL_BY_ID = _CHANNELS.update().where(_CHANNELS.c.id == bindparam("_id"))


def _all_columns(cols: dict[str, Any]) -> dict[str, Any]:
    """executemany needs the same keys in every row: fill unspecified catalog columns."""
    full = {column: None for column, _ in FIELDS.values()}
    full["extra"] = None
    full.update(cols)
    return full
