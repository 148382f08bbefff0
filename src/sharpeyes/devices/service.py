"""What the API may ask of devices: scoped reads and the operator's actions.

Every device/channel read goes through ``sharing.scope`` here, so the API layer
stays thin and cannot forget the principal's region/organisation scope.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from sqlalchemy import func, or_, select

from sharpeyes.devices.messaging import CatalogResult, DeviceMessaging, DeviceUnavailable
from sharpeyes.devices.registry import DeviceRegistry
from sharpeyes.devices.tree import build_tree
from sharpeyes.devices.virtual import VirtualDevices
from sharpeyes.errors import ConflictError
from sharpeyes.events import EventBus
from sharpeyes.gb28181.deviceid import InvalidDeviceId, parse_device_id
from sharpeyes.live.audit import AuditRecord, audit
from sharpeyes.sharing.principal import Principal
from sharpeyes.sharing.scope import scope_channels, scope_devices
from sharpeyes.store.db import Database
from sharpeyes.store.models import Alarm, Channel, Device, StatusEvent
from sharpeyes.store.paging import Page, fetch_page


class NotFound(LookupError):
    """Unknown, or outside the principal's scope (indistinguishable on purpose)."""


class AmbiguousChannel(ConflictError):
    """A channel code that several devices report (GB codes are unique only by design)."""

    code = "ambiguous_channel"

    def __init__(self, channel_id: str, candidates: list[dict[str, object]]) -> None:
        super().__init__(
            f"channel code {channel_id} is reported by {len(candidates)} devices; "
            "add ?device_id= to choose one",
            candidates=candidates,
        )
        self.candidates = candidates


class ExternalPtz(Protocol):
    """PTZ of channels that are not GB (``proxies/``: ONVIF PTZ), registered by their owner."""

    def owns(self, device_id: str) -> bool: ...

    async def ptz(
        self, principal: Principal, ch: Channel, *, action: str, speed: int, preset: int | None
    ) -> str: ...

    async def presets(self, ch: Channel) -> list[dict[str, str]]: ...


class DeviceService:
    def __init__(
        self, db: Database, registry: DeviceRegistry, messaging: DeviceMessaging, bus: EventBus
    ) -> None:
        self.db = db
        self.registry = registry
        self.messaging = messaging
        self.bus = bus
        self.virtual = VirtualDevices(db, registry, bus)  # devices of other domains (proxies)
        self.external_ptz: list[ExternalPtz] = []

    def external_ptz_of(self, device_id: str) -> ExternalPtz | None:
        """The non-GB PTZ owner of this device's channels (ONVIF), if any."""
        return next((p for p in self.external_ptz if p.owns(device_id)), None)

    # ------------------------------------------------------------- reads
    async def list_devices(
        self,
        principal: Principal,
        *,
        online: bool | None = None,
        admission: str | None = None,
        q: str | None = None,
        offset: int = 0,
        limit: int = 100,
        region: str | None = None,
        manufacturer: str | None = None,
        transport: str | None = None,
    ) -> Page:
        stmt = scope_devices(select(Device), principal)
        if region:  # the device's own code or any of its channels' civil codes
            ch = select(Channel.id).where(
                Channel.device_id == Device.id,
                Channel.civil_code.startswith(region, autoescape=True),
            )
            stmt = stmt.where(or_(Device.id.startswith(region, autoescape=True), ch.exists()))
        if manufacturer:
            stmt = stmt.where(Device.manufacturer.contains(manufacturer, autoescape=True))
        if transport:
            stmt = stmt.where(Device.transport == transport)
        if online is not None:
            stmt = stmt.where(Device.online == online)
        if admission:
            stmt = stmt.where(Device.admission == admission)
        if q:
            stmt = stmt.where(
                or_(
                    Device.id.contains(q, autoescape=True), Device.name.contains(q, autoescape=True)
                )
            )
        return await self._page(stmt.order_by(Device.id), offset, limit)

    async def get_device(self, principal: Principal, device_id: str) -> Device:
        async with self.db.session() as s:
            device = (
                await s.execute(
                    scope_devices(select(Device).where(Device.id == device_id), principal)
                )
            ).scalar()
        if device is None:
            raise NotFound(device_id)
        return device

    async def list_channels(
        self,
        principal: Principal,
        *,
        device_id: str | None = None,
        online: bool | None = None,
        q: str | None = None,
        civil_code: str | None = None,
        kind: str | None = "channel",
        offset: int = 0,
        limit: int = 100,
    ) -> Page:
        stmt = scope_channels(select(Channel), principal)
        if device_id:
            stmt = stmt.where(Channel.device_id == device_id)
        if online is not None:
            stmt = stmt.where(Channel.online == online)
        if q:
            stmt = stmt.where(
                or_(
                    Channel.name.contains(q, autoescape=True),
                    Channel.channel_id.contains(q, autoescape=True),
                )
            )
        if civil_code:
            stmt = stmt.where(Channel.civil_code.startswith(civil_code, autoescape=True))
        if kind:
            stmt = stmt.where(Channel.kind == kind)
        return await self._page(stmt.order_by(Channel.device_id, Channel.channel_id), offset, limit)

    async def device_tree(self, principal: Principal, device_id: str) -> dict[str, Any]:
        """The device's catalog as a tree (a lower platform's regions, groups, channels)."""
        device = await self.get_device(principal, device_id)
        async with self.db.session() as s:
            stmt = scope_channels(select(Channel).where(Channel.device_id == device_id), principal)
            rows = list((await s.execute(stmt)).scalars())
        return {
            "device_id": device.id,
            "kind": device_kind(device.id),
            "nodes": [n.to_dict() for n in build_tree(rows, device.id)],
            "total": len(rows),
        }

    async def get_channel(self, principal: Principal, channel_pk: int) -> Channel:
        if not 0 < channel_pk <= 2**31 - 1:  # channels.id is 32-bit on PostgreSQL
            raise NotFound(str(channel_pk))
        async with self.db.session() as s:
            ch = (
                await s.execute(
                    scope_channels(select(Channel).where(Channel.id == channel_pk), principal)
                )
            ).scalar()
        if ch is None:
            raise NotFound(str(channel_pk))
        return ch

    async def channel_pks_by_code(self, codes: set[str]) -> dict[str, list[int]]:
        """Channel pks per GB code (no scope: for other domains' own roll-ups)."""
        out: dict[str, list[int]] = {}
        if not codes:
            return out
        async with self.db.session() as s:
            rows = await s.execute(
                select(Channel.channel_id, Channel.id).where(Channel.channel_id.in_(codes))
            )
            for code, pk in rows:
                out.setdefault(code, []).append(pk)
        return out

    async def get_channel_by_code(
        self, principal: Principal, channel_id: str, device_id: str | None = None
    ) -> Channel:
        """A channel by its GB code (what integrators know), optionally of one device."""
        stmt = select(Channel).where(Channel.channel_id == channel_id)
        if device_id is not None:
            stmt = stmt.where(Channel.device_id == device_id)
        async with self.db.session() as s:
            rows = list(
                (await s.execute(scope_channels(stmt.order_by(Channel.id).limit(50), principal)))
                .scalars()
                .all()
            )
        if not rows:
            raise NotFound(channel_id if device_id is None else f"{device_id}/{channel_id}")
        if len(rows) > 1:
            raise AmbiguousChannel(
                channel_id, [{"id": c.id, "device_id": c.device_id} for c in rows]
            )
        return rows[0]

    async def status_history(
        self, principal: Principal, device_id: str, limit: int = 200
    ) -> list[StatusEvent]:
        await self.get_device(principal, device_id)
        async with self.db.session() as s:
            rows = await s.execute(
                select(StatusEvent)
                .where(StatusEvent.device_id == device_id)
                .order_by(StatusEvent.at.desc(), StatusEvent.id.desc())
                .limit(limit)
            )
            return list(rows.scalars())

    async def list_alarms(
        self,
        principal: Principal,
        *,
        device_id: str | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> Page:
        stmt = scope_devices(select(Alarm).join(Device, Device.id == Alarm.device_id), principal)
        if device_id:
            stmt = stmt.where(Alarm.device_id == device_id)
        return await self._page(
            stmt.order_by(Alarm.received_at.desc(), Alarm.id.desc()), offset, limit
        )

    async def get_alarm(self, principal: Principal, alarm_id: int) -> Alarm:
        stmt = scope_devices(select(Alarm).join(Device, Device.id == Alarm.device_id), principal)
        async with self.db.session() as s:
            alarm = (await s.execute(stmt.where(Alarm.id == alarm_id))).scalar()
        if alarm is None:
            raise NotFound(str(alarm_id))
        return alarm

    async def counts(self, principal: Principal) -> dict[str, int]:
        async with self.db.session() as s:
            dev = (
                await s.execute(
                    scope_devices(
                        select(Device.online, func.count()).group_by(Device.online), principal
                    )
                )
            ).all()
            ch = (
                await s.execute(
                    scope_channels(
                        select(Channel.online, func.count())
                        .where(Channel.kind == "channel")
                        .group_by(Channel.online),
                        principal,
                    )
                )
            ).all()
        d = {bool(k): v for k, v in dev}
        c = {bool(k): v for k, v in ch}
        return {
            "devices_online": d.get(True, 0),
            "devices_offline": d.get(False, 0),
            "channels_online": c.get(True, 0),
            "channels_offline": c.get(False, 0),
        }

    async def channel_counts_by_civil_code(self, principal: Principal) -> list[dict[str, Any]]:
        """Camera channels online/offline per civil code (dashboard, region tree)."""
        stmt = scope_channels(
            select(Channel.civil_code, Channel.online, func.count())
            .where(Channel.kind == "channel")
            .group_by(Channel.civil_code, Channel.online),
            principal,
        )
        async with self.db.session() as s:
            rows = (await s.execute(stmt)).all()
        groups: dict[str, dict[str, Any]] = {}
        for code, online, n in rows:
            key = code or ""
            g = groups.setdefault(key, {"civil_code": key, "online": 0, "offline": 0})
            g["online" if online else "offline"] += n
        return [groups[k] for k in sorted(groups)]

    async def _page(self, stmt: Any, offset: int, limit: int) -> Page:
        return await fetch_page(self.db, stmt, offset, limit)

    # ----------------------------------------------------------- actions
    async def delete_device(self, principal: Principal, device_id: str) -> None:
        await self.get_device(principal, device_id)
        hint = self.virtual.owned_by(device_id)
        if hint:
            raise ConflictError(f"device {device_id} is not a SIP device: {hint}")
        await self.registry.delete(device_id)

    async def admit(self, principal: Principal, device_id: str, admission: str) -> None:
        await self.get_device(principal, device_id)
        if admission not in ("admitted", "pending", "rejected"):
            raise ValueError("admission must be admitted, pending or rejected")
        await self.registry.admit(device_id, admission)

    async def update_device(
        self, principal: Principal, device_id: str, changes: dict[str, Any]
    ) -> Device:
        await self.get_device(principal, device_id)
        if "password" in changes:
            await self.registry.set_password(device_id, changes.pop("password") or None)
        allowed = {"name", "charset", "media_transport"}
        bad = set(changes) - allowed
        if bad:
            raise ValueError(f"cannot change {', '.join(sorted(bad))}")
        if changes:
            from sqlalchemy import update

            async with self.db.session() as s:
                await s.execute(update(Device).where(Device.id == device_id).values(**changes))
                await s.commit()
            live = self.registry.get(device_id)
            if live is not None and "charset" in changes:
                live.charset = changes["charset"]
        return await self.get_device(principal, device_id)

    async def sync_catalog(
        self, principal: Principal, device_id: str, *, wait: bool = True
    ) -> CatalogResult | None:
        await self.get_device(principal, device_id)
        return await self.messaging.query_catalog(device_id, wait=wait)

    async def device_info(self, principal: Principal, device_id: str) -> dict[str, str]:
        await self.get_device(principal, device_id)
        msg = await self.messaging.query(device_id, "DeviceInfo")
        return msg.fields

    async def device_status(self, principal: Principal, device_id: str) -> dict[str, Any]:
        await self.get_device(principal, device_id)
        msg = await self.messaging.query(device_id, "DeviceStatus")
        return {**msg.fields, "alarms": msg.items}

    async def presets(self, principal: Principal, channel_pk: int) -> list[dict[str, str]]:
        ch = await self.get_channel(principal, channel_pk)
        external = self.external_ptz_of(ch.device_id)
        if external is not None:
            return await external.presets(ch)
        msg = await self.messaging.query(ch.device_id, "PresetQuery", target_id=ch.channel_id)
        return msg.items

    async def reset_alarm(
        self, principal: Principal, alarm_id: int, username: str, *, client_ip: str | None = None
    ) -> Alarm:
        alarm = await self.get_alarm(principal, alarm_id)
        await self.messaging.reset_alarm(
            alarm.device_id, alarm.alarm_device_id, alarm.method, alarm.alarm_type
        )
        audit(
            self.bus,
            AuditRecord.by(
                principal,
                action="device.alarm_reset",
                target_type="channel",
                target_id=alarm.alarm_device_id,
                device_id=alarm.device_id,
                client_ip=client_ip,
                detail={"alarm_id": alarm_id},
            ),
        )
        return await self._mark_alarm(alarm_id, reset=True, username=username)

    async def acknowledge_alarm(self, principal: Principal, alarm_id: int, username: str) -> Alarm:
        await self.get_alarm(principal, alarm_id)
        return await self._mark_alarm(alarm_id, reset=False, username=username)

    async def _mark_alarm(self, alarm_id: int, *, reset: bool, username: str) -> Alarm:
        from datetime import UTC, datetime

        from sqlalchemy import update

        now = datetime.fromtimestamp(time.time(), UTC)
        values: dict[str, Any] = (
            {"reset_sent_at": now}
            if reset
            else {"acknowledged_by": username, "acknowledged_at": now}
        )
        async with self.db.session() as s:
            await s.execute(update(Alarm).where(Alarm.id == alarm_id).values(**values))
            await s.commit()
            alarm = (await s.execute(select(Alarm).where(Alarm.id == alarm_id))).scalar_one()
        self.bus.publish(
            "alarm.updated",
            id=alarm_id,
            **{k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in values.items()},
        )
        return alarm


def device_kind(device_id: str) -> str:
    """``platform`` for a registrant of type 200 (a lower platform), else ``device``."""
    try:
        return "platform" if parse_device_id(device_id).type_code == 200 else "device"
    except InvalidDeviceId:
        return "device"


def describe_device_id(device_id: str) -> dict[str, Any] | None:
    try:
        d = parse_device_id(device_id)
    except InvalidDeviceId:
        return None
    return {
        "civil_code": d.civil_code,
        "industry": d.industry,
        "industry_name": d.industry_name,
        "type_code": d.type_code,
        "type_name": d.type_name,
        "network": d.network,
        "network_name": d.network_name,
    }


__all__ = [
    "DeviceService",
    "DeviceUnavailable",
    "ExternalPtz",
    "NotFound",
    "Page",
    "describe_device_id",
    "device_kind",
]
