"""Virtual devices: cameras that do not speak SIP, owned by another domain (``proxies/``).

A pulled RTSP/ONVIF camera becomes a device whose only channel has the same
20-digit code (as a GB IPC reports itself), so it is listed, scoped, mapped and
counted like any other channel. Only ``devices/`` writes ``devices``/``channels``/
``status_events``; the owner asks through these methods. A virtual device gets a
random SIP password nobody knows, so no SIP device can register in its place.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import delete, select, update

from sharpeyes.devices.registry import DeviceRegistry, LiveDevice, _dt
from sharpeyes.events import EventBus
from sharpeyes.store.db import Database
from sharpeyes.store.models import Channel, Device

DEVICE_FIELDS = frozenset({"name", "manufacturer", "model", "firmware", "media_transport"})
CHANNEL_FIELDS = frozenset(
    {
        "name",
        "manufacturer",
        "model",
        "owner",
        "civil_code",
        "address",
        "longitude",
        "latitude",
        "ptz_type",
        "ip_address",
        "port",
        "resolution",
        "extra",
    }
)


class VirtualDevices:
    def __init__(self, db: Database, registry: DeviceRegistry, bus: EventBus) -> None:
        self.db = db
        self.registry = registry
        self.bus = bus
        # Each owner answers "is this device mine?" with a hint on how to remove it
        # (or None): ``DELETE /api/devices/{id}`` refuses an owned device with 409.
        self.owners: list[Callable[[str], str | None]] = []

    def owned_by(self, device_id: str) -> str | None:
        for owner in self.owners:
            hint = owner(device_id)
            if hint:
                return hint
        return None

    async def upsert(
        self,
        device_id: str,
        *,
        device: dict[str, Any],
        channel: dict[str, Any],
        online: bool,
        reason: str,
    ) -> int:
        """Create or update the device and its single channel; returns the channel's pk."""
        bad = (set(device) - DEVICE_FIELDS) | (set(channel) - CHANNEL_FIELDS)
        if bad:
            raise ValueError(f"not a virtual device field: {', '.join(sorted(bad))}")
        now = time.time()
        at = _dt(now)
        async with self.db.session() as s:
            exists = await s.scalar(select(Device.id).where(Device.id == device_id))
            if exists is None:
                s.add(
                    Device(
                        id=device_id,
                        admission="admitted",
                        password=secrets.token_hex(24),
                        online=False,
                        channel_count=1,
                        created_at=at,
                        updated_at=at,
                        **device,
                    )
                )
                await s.flush()
                s.add(
                    Channel(
                        device_id=device_id,
                        channel_id=device_id,
                        kind="channel",
                        status="ON",
                        parental=0,
                        online=False,
                        created_at=at,
                        updated_at=at,
                        **channel,
                    )
                )
            else:
                if device:
                    await s.execute(update(Device).where(Device.id == device_id).values(**device))
                if channel:
                    await s.execute(
                        update(Channel)
                        .where(Channel.device_id == device_id, Channel.channel_id == device_id)
                        .values(**channel, updated_at=at)
                    )
            await s.commit()
            pk = await s.scalar(
                select(Channel.id).where(
                    Channel.device_id == device_id, Channel.channel_id == device_id
                )
            )
        live = self.registry.devices.get(device_id)
        if live is None:
            async with self.db.session() as s:
                pw = await s.scalar(select(Device.password).where(Device.id == device_id))
            live = LiveDevice(id=device_id, admission="admitted", password=pw)
            self.registry.devices[device_id] = live
            if exists is None:
                self.bus.publish(
                    "catalog.changed", device_id=device_id, added=1, updated=0, removed=0
                )
        await self.set_online(device_id, online, reason, now)
        assert pk is not None
        return int(pk)

    async def set_online(
        self, device_id: str, online: bool, reason: str, now: float | None = None
    ) -> None:
        """Device and channel online/offline, with history and events like a GB device."""
        live = self.registry.devices.get(device_id)
        if live is None or live.online == online:
            return
        async with self.registry.lock(device_id):
            if live.online != online:
                await self.registry._set_online(live, online, reason[:32], now or time.time(), {})

    async def remove(self, device_id: str) -> None:
        async with self.db.session() as s:
            await s.execute(delete(Channel).where(Channel.device_id == device_id))
            await s.commit()
        await self.registry.delete(device_id)


__all__ = ["VirtualDevices"]
