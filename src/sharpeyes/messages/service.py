"""Controls, configuration, queries and subscriptions the API asks of devices.

Every call checks scope through ``DeviceService`` (which uses ``sharing.scope``),
and every action that moves or changes a device is audited once, in
:meth:`MessageService._audit`, through ``sharpeyes.live.audit``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select

from sharpeyes.devices.messaging import DeviceMessaging, DeviceUnavailable
from sharpeyes.devices.service import DeviceService, NotFound
from sharpeyes.events import EventBus
from sharpeyes.gb28181 import manscdp
from sharpeyes.gb28181.manscdp import ManscdpMessage
from sharpeyes.live.audit import AuditRecord, audit
from sharpeyes.messages import commands
from sharpeyes.messages.commands import Control
from sharpeyes.messages.models import MobilePosition
from sharpeyes.messages.subscriptions import EventKind, EventSubscriber, EventSubscription
from sharpeyes.sharing.principal import Principal, Right
from sharpeyes.sharing.scope import require_right, scope_channels
from sharpeyes.store.db import Database
from sharpeyes.store.models import Channel

log = logging.getLogger(__name__)

MEDIA_STATUS_END = "121"  # A.2.5 c: the historical media file has been sent completely
POSITIONS_KEPT_PER_DEVICE = 10_000


def _float(text: str | None, low: float, high: float) -> float | None:
    try:
        value = float(text) if text not in (None, "") else None  # type: ignore[arg-type]
    except ValueError:
        return None
    if value is None or not math.isfinite(value) or not low <= value <= high:
        return None
    return value


class MessageService:
    def __init__(
        self,
        db: Database,
        bus: EventBus,
        devices: DeviceService,
        messaging: DeviceMessaging,
        *,
        refresh_fraction: float = 0.75,
    ) -> None:
        self.db = db
        self.bus = bus
        self.devices = devices
        self.messaging = messaging
        self.subscriber = EventSubscriber(messaging, fraction=refresh_fraction)
        self.stats = {"positions": 0, "bad_positions": 0, "media_status": 0}
        messaging.notify_hooks["MobilePosition"] = self.on_mobile_position
        messaging.notify_hooks["MediaStatus"] = self.on_media_status
        # who else needs an out-of-dialog MediaStatus at once (playback sessions)
        self.media_status_listeners: list[Callable[[str, ManscdpMessage], None]] = []

    def start(self) -> None:
        self.subscriber.start()

    async def stop(self) -> None:
        await self.subscriber.stop()

    # ------------------------------------------------------------ auditing
    def _audit(
        self,
        principal: Principal,
        action: str,
        *,
        device_id: str,
        target_id: str,
        target_type: str,
        client_ip: str | None,
        detail: Mapping[str, Any],
    ) -> None:
        """The one audit call site for device controls, configuration and subscriptions."""
        audit(
            self.bus,
            AuditRecord.by(
                principal,
                action=action,
                target_type=target_type,
                target_id=target_id,
                device_id=device_id,
                client_ip=client_ip,
                detail=dict(detail),
            ),
        )

    async def _target(
        self, principal: Principal, device_id: str, channel_id: str | None
    ) -> tuple[str, str]:
        """(body DeviceID, target type) after checking the device and channel scope."""
        await self.devices.get_device(principal, device_id)
        if not channel_id or channel_id == device_id:
            return device_id, "device"
        stmt = scope_channels(
            select(Channel.id).where(
                Channel.device_id == device_id, Channel.channel_id == channel_id
            ),
            principal,
        )
        async with self.db.session() as s:
            if (await s.execute(stmt)).scalar() is None:
                raise NotFound(channel_id)
        return channel_id, "channel"

    # ------------------------------------------------------------- control
    async def ptz(
        self,
        principal: Principal,
        channel_pk: int,
        action: str,
        params: Mapping[str, Any],
        *,
        client_ip: str | None = None,
    ) -> str:
        """Any A.3 front-end command (PTZ, focus/iris, preset, cruise, scan, wiper/aux)."""
        ch = await self.devices.get_channel(principal, channel_pk)
        require_right(principal, Right.PTZ, ch)  # a department needs a grant with ptz
        external = self.devices.external_ptz_of(ch.device_id)
        if external is not None:  # an ONVIF camera: its own PTZ service (audited there)
            speed = params.get("speed")
            return await external.ptz(
                principal,
                ch,
                action=action,
                speed=int(speed) if speed is not None else 128,
                preset=params.get("preset"),
            )
        cmd = commands.ptz_command(action, params)
        await self.messaging.ptz(ch.device_id, ch.channel_id, cmd)
        self._audit(
            principal,
            "device.ptz",
            device_id=ch.device_id,
            target_id=ch.channel_id,
            target_type="channel",
            client_ip=client_ip,
            detail={"action": action, "command": cmd, **{k: v for k, v in params.items() if v}},
        )
        return cmd

    async def control(
        self,
        principal: Principal,
        device_id: str,
        control: Control,
        params: Mapping[str, Any],
        *,
        channel_id: str | None = None,
        client_ip: str | None = None,
    ) -> dict[str, str]:
        """One DeviceControl command; waits for the Response when devices send one."""
        target, kind = await self._target(principal, device_id, channel_id)
        fields = commands.control_fields(control, params)
        answered = control in commands.ANSWERED
        msg = await self.messaging.control(device_id, target, dict(fields), wait_response=answered)
        result = msg.fields.get("Result", "") if msg is not None else "SENT"
        self._audit(
            principal,
            "device.control",
            device_id=device_id,
            target_id=target,
            target_type=kind,
            client_ip=client_ip,
            detail={"control": control.value, "params": dict(params), "result": result},
        )
        if result.upper() == "ERROR":
            raise DeviceUnavailable(f"device refused {control.value}", 502)
        return {"control": control.value, "target": target, "result": result}

    async def configure(
        self,
        principal: Principal,
        device_id: str,
        sections: Mapping[str, Any],
        *,
        channel_id: str | None = None,
        client_ip: str | None = None,
    ) -> dict[str, str]:
        """DeviceConfig (A.2.3 b): BasicParam, SVAC encode/decode, 2022 SnapShotConfig."""
        target, kind = await self._target(principal, device_id, channel_id)
        fields: list[tuple[str, manscdp.FieldValue]] = []
        if sections.get("basic"):
            fields.append(("BasicParam", commands.basic_param(sections["basic"])))
        for key, tag in (("svac_encode", "SVACEncodeConfig"), ("svac_decode", "SVACDecodeConfig")):
            if sections.get(key):
                fields.append((tag, _nested(sections[key])))
        if sections.get("snapshot"):
            fields.append(("SnapShotConfig", commands.snapshot_config(sections["snapshot"])))
        if not fields:
            raise ValueError("give basic, svac_encode, svac_decode or snapshot")
        live = self.messaging.target(device_id)
        sn = self.messaging.next_sn()
        body = manscdp.build_manscdp(
            "Control", "DeviceConfig", sn, target, fields, charset=live.charset
        )
        msg = await self.messaging.request_response(live, "DeviceConfig", sn, body)
        result = msg.fields.get("Result", "")
        self._audit(
            principal,
            "device.config",
            device_id=device_id,
            target_id=target,
            target_type=kind,
            client_ip=client_ip,
            detail={"sections": {k: v for k, v in sections.items() if v}, "result": result},
        )
        if result.upper() != "OK":
            raise DeviceUnavailable(f"device answered DeviceConfig {result or 'nothing'}", 502)
        return {"target": target, "result": result}

    # ------------------------------------------------------------- queries
    async def config_download(
        self, principal: Principal, device_id: str, config_type: str
    ) -> dict[str, Any]:
        """ConfigDownload (A.2.4 f); one response per requested type, merged."""
        types = [t for t in config_type.split("/") if t]
        bad = [t for t in types if t not in commands.CONFIG_TYPES]
        if not types or bad:
            allowed = "/".join(commands.CONFIG_TYPES)
            raise ValueError(f"config_type must be one or more of {allowed}")
        await self.devices.get_device(principal, device_id)
        out: dict[str, Any] = {}
        for t in types:
            msg = await self.messaging.query(device_id, "ConfigDownload", fields={"ConfigType": t})
            out[t] = {k: v for k, v in msg.fields.items() if k != "Result"}
            out.setdefault("Result", msg.fields.get("Result", ""))
        return out

    async def query_alarms(
        self, principal: Principal, device_id: str, filters: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Alarm query (A.2.4 e); alarms the device then reports are stored as usual."""
        await self.devices.get_device(principal, device_id)
        msg = await self.messaging.query(device_id, "Alarm", fields=_alarm_query(filters))
        return {**msg.fields, "items": msg.items}

    async def query_2022(
        self,
        principal: Principal,
        device_id: str,
        what: str,
        *,
        channel_id: str | None = None,
        number: int | None = None,
    ) -> dict[str, Any]:
        """GB/T 28181-2022 queries: PTZ position, SD cards, home position, cruise tracks."""
        if what not in commands.QUERY_2022:
            raise ValueError(f"unknown query {what!r}")
        target, _ = await self._target(principal, device_id, channel_id)
        fields = {"Number": number} if what == "cruise_track" else {}
        if what == "cruise_track" and number is None:
            raise ValueError("number required for cruise_track")
        msg = await self.messaging.query(
            device_id, commands.QUERY_2022[what], target_id=target, fields=fields
        )
        return {**msg.fields, "items": msg.items}

    def unknown_count(self, device_id: str) -> int:
        return self.messaging.unknown_by_device.get(device_id, 0)

    # ------------------------------------------------------- subscriptions
    async def subscribe(
        self,
        principal: Principal,
        device_id: str,
        kind: EventKind,
        *,
        expires: int,
        interval: int | None = None,
        client_ip: str | None = None,
    ) -> EventSubscription:
        await self.devices.get_device(principal, device_id)
        fields: dict[str, Any] = {}
        if kind is EventKind.MOBILE_POSITION:
            fields["Interval"] = interval or 5
        else:
            fields.update({"StartAlarmPriority": 0, "EndAlarmPriority": 0, "AlarmMethod": 0})
        sub = await self.subscriber.subscribe(device_id, kind, fields, expires)
        self._audit(
            principal,
            "device.subscribe",
            device_id=device_id,
            target_id=device_id,
            target_type="device",
            client_ip=client_ip,
            detail={"kind": kind.value, "expires": expires, "fields": fields},
        )
        return sub

    async def unsubscribe(
        self,
        principal: Principal,
        device_id: str,
        kind: EventKind,
        *,
        client_ip: str | None = None,
    ) -> bool:
        await self.devices.get_device(principal, device_id)
        gone = await self.subscriber.unsubscribe(device_id, kind)
        self._audit(
            principal,
            "device.unsubscribe",
            device_id=device_id,
            target_id=device_id,
            target_type="device",
            client_ip=client_ip,
            detail={"kind": kind.value, "existed": gone},
        )
        return gone

    async def subscriptions(self, principal: Principal, device_id: str) -> list[dict[str, Any]]:
        await self.devices.get_device(principal, device_id)
        return [s.as_dict() for s in self.subscriber.table.of_device(device_id)]

    # ------------------------------------------------------------- inbound
    async def on_mobile_position(self, device_id: str, msg: ManscdpMessage, now: float) -> None:
        """A.2.5 e: store the position (bad coordinates are counted, not stored)."""
        f = msg.fields
        lon = _float(f.get("Longitude"), -180, 180)
        lat = _float(f.get("Latitude"), -90, 90)
        if lon is None or lat is None:
            self.stats["bad_positions"] += 1
            return
        at = self.messaging.alarms._device_time(f.get("Time")) or datetime.fromtimestamp(now, UTC)
        row = MobilePosition(
            device_id=device_id,
            source_id=(msg.device_id or device_id)[:32],
            at=at,
            received_at=datetime.fromtimestamp(now, UTC),
            longitude=lon,
            latitude=lat,
            speed=_float(f.get("Speed"), 0, 2000),
            direction=_float(f.get("Direction"), 0, 360),
            altitude=_float(f.get("Altitude"), -500, 20_000),
        )
        async with self.db.session() as s:
            s.add(row)
            await s.commit()
        self.stats["positions"] += 1
        if self.stats["positions"] % 1000 == 0:  # keep each device's track bounded
            await self.prune_positions(device_id)
        self.bus.publish(
            "mobile.position",
            device_id=device_id,
            source_id=row.source_id,
            at=at.isoformat(),
            longitude=lon,
            latitude=lat,
            speed=row.speed,
            direction=row.direction,
        )

    async def on_media_status(self, device_id: str, msg: ManscdpMessage, now: float) -> None:
        """A.2.5 c: NotifyType 121 ends a playback/download; the recording work listens."""
        self.stats["media_status"] += 1
        notify_type = msg.fields.get("NotifyType", "")
        for listener in self.media_status_listeners:
            listener(device_id, msg)  # playback sessions end with reason eof
        self.bus.publish(
            "media.status",
            device_id=device_id,
            source_id=msg.device_id,
            notify_type=notify_type,
            ended=notify_type == MEDIA_STATUS_END,
            sn=msg.sn,
        )

    async def positions(
        self,
        principal: Principal,
        device_id: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 1000,
    ) -> list[MobilePosition]:
        """A device's track, oldest first (at most ``limit`` newest points)."""
        await self.devices.get_device(principal, device_id)
        stmt = select(MobilePosition).where(MobilePosition.device_id == device_id)
        if since is not None:
            stmt = stmt.where(MobilePosition.at >= since)
        if until is not None:
            stmt = stmt.where(MobilePosition.at <= until)
        stmt = stmt.order_by(MobilePosition.at.desc(), MobilePosition.id.desc()).limit(limit)
        async with self.db.session() as s:
            rows = list((await s.execute(stmt)).scalars())
        return rows[::-1]

    async def prune_positions(self, device_id: str, keep: int = POSITIONS_KEPT_PER_DEVICE) -> int:
        async with self.db.session() as s:
            ids = (
                select(MobilePosition.id)
                .where(MobilePosition.device_id == device_id)
                .order_by(MobilePosition.at.desc(), MobilePosition.id.desc())
                .offset(keep)
            )
            res = await s.execute(delete(MobilePosition).where(MobilePosition.id.in_(ids)))
            await s.commit()
        return int(res.rowcount or 0)  # type: ignore[attr-defined]


def _nested(value: Any) -> manscdp.FieldValue:
    """API JSON (dicts of scalars/dicts) to MANSCDP nested fields, tag names as given."""
    if isinstance(value, Mapping):
        out: list[tuple[str, manscdp.FieldValue]] = []
        for k, v in value.items():
            if not isinstance(k, str) or not k.isalnum() or len(k) > 64:
                raise ValueError(f"bad element name {k!r}")
            out.append((k, _nested(v)))
        return out
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError("values must be integers, numbers or strings")
    return value


def _alarm_query(filters: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "StartAlarmPriority": filters.get("start_priority", 0),
        "EndAlarmPriority": filters.get("end_priority", 0),
        "AlarmMethod": filters.get("method", 0),
    }
    if filters.get("alarm_type") is not None:
        out["AlarmType"] = filters["alarm_type"]
    for tag, key in (("StartAlarmTime", "start_time"), ("EndAlarmTime", "end_time")):
        if filters.get(key):
            out[tag] = filters[key]
    return out
