"""Cascade service: stored upper links, channel sharing per upper, the running links.

The API calls this; the SIP side (``cascade.upper_sip``) asks it which channels an
upper may see and under which IDs. Passwords are write-only: nothing here returns
them. Sharing = explicit rows ∪ rules (all / device IDs / civil-code prefixes /
organisation IDs matched against a channel's business group), evaluated on read so
rule-matched channels stay current.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete, or_, select

from sharpeyes.cascade.catalog import SharedChannel, id_conflict
from sharpeyes.cascade.link import LinkConfig, UpperLink
from sharpeyes.cascade.models import CascadeChannel, CascadeForward, CascadeUpper, UpperTransport
from sharpeyes.errors import DomainError
from sharpeyes.events import EventBus
from sharpeyes.gb28181.charset import normalize_charset
from sharpeyes.gb28181.deviceid import is_device_id
from sharpeyes.sip.stack import SipStack
from sharpeyes.store.db import Database
from sharpeyes.store.models import Channel, ChannelKind

log = logging.getLogger(__name__)

EDITABLE = (
    "name",
    "server_id",
    "domain",
    "host",
    "port",
    "transport",
    "password",
    "local_id",
    "realm",
    "register_expires",
    "keepalive_interval",
    "keepalive_timeout_count",
    "charset",
    "catalog_group_size",
    "enabled",
)
RULE_FIELDS = ("all", "device_ids", "civil_code_prefixes", "org_ids")


class CascadeError(DomainError):
    """A cascade request that cannot be honoured; ``status`` is the HTTP hint."""

    status = 400
    code = "cascade_invalid"


class UpperNotFound(CascadeError):
    status = 404
    code = "not_found"


class IdConflict(CascadeError):
    status = 409
    code = "conflict"


def _check(values: Mapping[str, Any]) -> None:
    sid = values.get("server_id")
    if sid is not None and (not is_device_id(sid) or sid[10:13] != "200"):
        raise CascadeError("server_id must be a 20-digit ID of type 200 (a platform)")
    lid = values.get("local_id")
    if lid is not None and not is_device_id(lid):
        raise CascadeError("local_id must be a 20-digit ID")
    dom = values.get("domain")
    if dom is not None and (not dom.isdigit() or len(dom) not in (10, 20)):
        raise CascadeError("domain must be the 10-digit SIP domain ID")
    if "transport" in values and values["transport"] not in tuple(UpperTransport):
        raise CascadeError("transport must be udp or tcp")
    port = values.get("port")
    if port is not None and not 0 < int(port) < 65536:
        raise CascadeError("port must be 1..65535")
    for name, low, high in (
        ("register_expires", 60, 86400),
        ("keepalive_interval", 1, 3600),
        ("keepalive_timeout_count", 1, 100),
        ("catalog_group_size", 1, 1000),
    ):
        v = values.get(name)
        if v is not None and not low <= int(v) <= high:
            raise CascadeError(f"{name} must be {low}..{high}")
    if "charset" in values:
        cs = normalize_charset(values["charset"])
        if cs not in ("GB2312", "UTF-8"):
            raise CascadeError("charset must be GB2312 or UTF-8")


class CascadeService:
    """See the module docstring. One per node (``node.cascade``)."""

    def __init__(
        self,
        db: Database,
        bus: EventBus,
        stack: SipStack,
        *,
        node_id: str,
        node_domain: str,
    ) -> None:
        self.db = db
        self.bus = bus
        self.stack = stack
        self.node_id = node_id
        self.node_domain = node_domain
        self.links: dict[int, UpperLink] = {}
        self.on_registered: Any = None  # set by the SIP side (catalog push, etc.)
        self.active_forwards: Any = lambda upper_id: 0

    # ------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        async with self.db.session() as s:
            uppers = (await s.execute(select(CascadeUpper))).scalars().all()
        for u in uppers:
            if u.enabled:
                self._start_link(u)

    async def stop(self) -> None:
        for link in list(self.links.values()):
            await link.stop(unregister=True, timeout=1.5)
        self.links.clear()

    def _start_link(self, u: CascadeUpper) -> None:
        old = self.links.pop(u.id, None)
        if old is not None:
            self.stack.schedule(old.stop(unregister=True))
        cfg = LinkConfig(
            upper_id=u.id,
            name=u.name,
            server_id=u.server_id,
            domain=u.domain,
            host=u.host,
            port=u.port,
            transport=u.transport,
            password=u.password,
            local_id=u.local_id,
            realm=u.realm,
            register_expires=u.register_expires,
            keepalive_interval=u.keepalive_interval,
            keepalive_timeout_count=u.keepalive_timeout_count,
            charset=u.charset,
            catalog_group_size=u.catalog_group_size,
        )
        link = UpperLink(
            cfg,
            self.stack,
            self.bus,
            local_domain=self.node_domain,
            on_registered=lambda lk: self.on_registered(lk) if self.on_registered else None,
        )
        self.links[u.id] = link
        link.start()

    def link_for_request(self, from_user: str, host: str) -> UpperLink | None:
        """The link a request comes from: the upper's server ID (and its host, if known)."""
        for link in self.links.values():
            if link.cfg.server_id == from_user:
                return link
        return None

    # --------------------------------------------------------------- uppers
    def describe(self, u: CascadeUpper, shared: int | None = None) -> dict[str, Any]:
        link = self.links.get(u.id)
        status: dict[str, Any] = (
            dict(link.status())
            if link is not None
            else {
                "state": "disabled",
                "last_error": None,
                "registered_at": None,
                "last_keepalive_ok_at": None,
            }
        )
        out: dict[str, Any] = {f: getattr(u, f) for f in EDITABLE if f != "password"}
        out["id"] = u.id
        out["password_set"] = bool(u.password)
        out["rules"] = self._rules(u)
        out.update(status)
        out["shared_channel_count"] = shared
        out["active_forwards"] = self.active_forwards(u.id)
        return out

    @staticmethod
    def _rules(u: CascadeUpper) -> dict[str, Any]:
        return {
            "all": u.share_all,
            "device_ids": list(u.share_device_ids or []),
            "civil_code_prefixes": list(u.share_civil_code_prefixes or []),
            "org_ids": list(u.share_org_ids or []),
        }

    async def create_upper(self, values: Mapping[str, Any]) -> dict[str, Any]:
        data = {k: v for k, v in values.items() if k in EDITABLE and v is not None}
        for req in ("name", "server_id", "domain", "host", "port"):
            if req not in data:
                raise CascadeError(f"{req} is required")
        data.setdefault("local_id", self.node_id)
        data.setdefault("realm", data["domain"])
        data.setdefault("transport", "udp")
        data.setdefault("password", "")
        data.setdefault("charset", "GB2312")
        _check(data)
        data["charset"] = normalize_charset(data["charset"])
        async with self.db.session() as s:
            u = CascadeUpper(**data)
            s.add(u)
            await s.commit()
            await s.refresh(u)
        self.bus.publish("cascade.upper.created", upper_id=u.id, server_id=u.server_id)
        if u.enabled:
            self._start_link(u)
        return self.describe(u, 0)

    async def _get(self, upper_id: int) -> CascadeUpper:
        async with self.db.session() as s:
            u = await s.get(CascadeUpper, upper_id)
        if u is None:
            raise UpperNotFound(f"upper {upper_id}")
        return u

    async def get_upper(self, upper_id: int) -> dict[str, Any]:
        u = await self._get(upper_id)
        return self.describe(u, len(await self.shared(u)))

    async def list_uppers(self) -> list[dict[str, Any]]:
        async with self.db.session() as s:
            uppers = (await s.execute(select(CascadeUpper).order_by(CascadeUpper.id))).scalars()
            rows = list(uppers)
        return [self.describe(u, len(await self.shared(u))) for u in rows]

    async def update_upper(self, upper_id: int, values: Mapping[str, Any]) -> dict[str, Any]:
        data = {k: v for k, v in values.items() if k in EDITABLE and v is not None}
        _check(data)
        if "charset" in data:
            data["charset"] = normalize_charset(data["charset"])
        async with self.db.session() as s:
            u = await s.get(CascadeUpper, upper_id)
            if u is None:
                raise UpperNotFound(f"upper {upper_id}")
            for k, v in data.items():
                setattr(u, k, v)
            await s.commit()
            await s.refresh(u)
        link = self.links.pop(u.id, None)
        if link is not None:
            await link.stop(unregister=True, timeout=1.5)
        if u.enabled:
            self._start_link(u)
        self.bus.publish("cascade.upper.updated", upper_id=u.id, enabled=u.enabled)
        return self.describe(u, len(await self.shared(u)))

    async def delete_upper(self, upper_id: int) -> None:
        await self._get(upper_id)
        link = self.links.pop(upper_id, None)
        if link is not None:
            await link.stop(unregister=True, timeout=1.5)
        async with self.db.session() as s:
            await s.execute(delete(CascadeChannel).where(CascadeChannel.upper_id == upper_id))
            await s.execute(delete(CascadeUpper).where(CascadeUpper.id == upper_id))
            await s.commit()
        self.bus.publish("cascade.upper.deleted", upper_id=upper_id)

    # -------------------------------------------------------------- sharing
    async def set_channels(
        self, upper_id: int, channels: list[int], rules: Mapping[str, Any] | None
    ) -> list[dict[str, Any]]:
        """Replace the explicit set (overrides of other channels are kept) and the rules."""
        await self._get(upper_id)
        wanted = set(channels)
        async with self.db.session() as s:
            if wanted:
                found = set(
                    (await s.execute(select(Channel.id).where(Channel.id.in_(wanted)))).scalars()
                )
                missing = sorted(wanted - found)
                if missing:
                    raise CascadeError(f"unknown channel pk {missing[:10]}")
            rows = (
                (await s.execute(select(CascadeChannel).where(CascadeChannel.upper_id == upper_id)))
                .scalars()
                .all()
            )
            have = {r.channel_pk: r for r in rows}
            for pk, r in have.items():
                if pk in wanted:
                    r.explicit = True
                elif r.custom_id or r.custom_name:
                    r.explicit = False
                else:
                    await s.delete(r)
            for pk in wanted - set(have):
                s.add(CascadeChannel(upper_id=upper_id, channel_pk=pk, explicit=True))
            if rules is not None:
                u = await s.get(CascadeUpper, upper_id)
                assert u is not None
                u.share_all = bool(rules.get("all", False))
                u.share_device_ids = [str(x) for x in rules.get("device_ids") or []]
                u.share_civil_code_prefixes = [
                    str(x) for x in rules.get("civil_code_prefixes") or []
                ]
                u.share_org_ids = list(rules.get("org_ids") or [])
            await s.commit()
        self.bus.publish("cascade.channels.changed", upper_id=upper_id)
        return await self.list_channels(upper_id)

    async def list_channels(self, upper_id: int) -> list[dict[str, Any]]:
        u = await self._get(upper_id)
        return [
            {
                "channel_pk": c.channel_pk,
                "device_id": c.device_id,
                "channel_id": c.channel_id,
                "exposed_id": c.exposed_id,
                "name": c.name,
                "custom_id": c.custom_id,
                "custom_name": c.custom_name,
                "civil_code": c.civil_code,
                "online": c.online,
            }
            for c in await self.shared(u)
        ]

    async def patch_channel(
        self, upper_id: int, channel_pk: int, custom_id: str | None, custom_name: str | None
    ) -> dict[str, Any]:
        u = await self._get(upper_id)
        if custom_id is not None and custom_id != "" and not is_device_id(custom_id):
            raise CascadeError("custom_id must be 20 digits")
        shared = await self.shared(u)
        if not any(c.channel_pk == channel_pk for c in shared):
            raise UpperNotFound(f"channel {channel_pk} is not shared with upper {upper_id}")
        other = id_conflict(shared, channel_pk, custom_id) if custom_id else None
        if other is not None:
            raise IdConflict(
                f"ID {custom_id} is already used toward this upper (channel {other.channel_pk})"
            )
        async with self.db.session() as s:
            row = (
                await s.execute(
                    select(CascadeChannel).where(
                        CascadeChannel.upper_id == upper_id, CascadeChannel.channel_pk == channel_pk
                    )
                )
            ).scalar_one_or_none()
            if row is None:
                row = CascadeChannel(upper_id=upper_id, channel_pk=channel_pk, explicit=False)
                s.add(row)
            row.custom_id = custom_id or None
            row.custom_name = custom_name or None
            await s.commit()
        self.bus.publish("cascade.channels.changed", upper_id=upper_id)
        for c in await self.shared(u):
            if c.channel_pk == channel_pk:
                return {"channel_pk": c.channel_pk, "exposed_id": c.exposed_id, "name": c.name}
        raise UpperNotFound(f"channel {channel_pk}")

    async def shared(self, u: CascadeUpper) -> list[SharedChannel]:
        """The effective set toward one upper, with exposed IDs (custom or real)."""
        async with self.db.session() as s:
            rows = (
                (await s.execute(select(CascadeChannel).where(CascadeChannel.upper_id == u.id)))
                .scalars()
                .all()
            )
            by_pk = {r.channel_pk: r for r in rows}
            conds: list[Any] = []
            explicit = [r.channel_pk for r in rows if r.explicit]
            if explicit:
                conds.append(Channel.id.in_(explicit))
            if u.share_all:
                conds.append(Channel.id.isnot(None))
            if u.share_device_ids:
                conds.append(Channel.device_id.in_(u.share_device_ids))
            for prefix in u.share_civil_code_prefixes or []:
                conds.append(Channel.civil_code.startswith(prefix, autoescape=True))
            if u.share_org_ids:
                conds.append(Channel.business_group_id.in_([str(x) for x in u.share_org_ids]))
            if not conds:
                return []
            channels = (
                (
                    await s.execute(
                        select(Channel)
                        .where(Channel.kind == ChannelKind.CHANNEL.value, or_(*conds))
                        .order_by(Channel.id)
                    )
                )
                .scalars()
                .all()
            )
        out: list[SharedChannel] = []
        for ch in channels:
            r = by_pk.get(ch.id)
            out.append(
                SharedChannel(
                    channel_pk=ch.id,
                    device_id=ch.device_id,
                    channel_id=ch.channel_id,
                    exposed_id=(r.custom_id if r is not None and r.custom_id else ch.channel_id),
                    name=(r.custom_name if r is not None and r.custom_name else ch.name or ""),
                    civil_code=ch.civil_code,
                    online=ch.online,
                    manufacturer=ch.manufacturer,
                    model=ch.model,
                    address=ch.address,
                    longitude=ch.longitude,
                    latitude=ch.latitude,
                    ptz_type=ch.ptz_type,
                    custom_id=r.custom_id if r is not None else None,
                    custom_name=r.custom_name if r is not None else None,
                )
            )
        return out

    async def shared_by_link(self, upper_id: int) -> list[SharedChannel]:
        return await self.shared(await self._get(upper_id))

    # ------------------------------------------------------------- forwards
    async def record_forward_start(self, **values: Any) -> int:
        async with self.db.session() as s:
            row = CascadeForward(**values)
            s.add(row)
            await s.commit()
            return row.id

    async def record_forward_end(
        self, record_id: int, *, ended_at: Any, bytes_sent: int, reason: str
    ) -> None:
        async with self.db.session() as s:
            row = await s.get(CascadeForward, record_id)
            if row is not None:
                row.ended_at = ended_at
                row.bytes_sent = bytes_sent
                row.end_reason = reason[:64]
                await s.commit()

    async def forward_history(self, limit: int = 100) -> list[dict[str, Any]]:
        async with self.db.session() as s:
            rows = (
                await s.execute(
                    select(CascadeForward).order_by(CascadeForward.id.desc()).limit(limit)
                )
            ).scalars()
            return [
                {
                    "id": r.id,
                    "upper_id": r.upper_id,
                    "upper_server_id": r.upper_server_id,
                    "channel_pk": r.channel_pk,
                    "channel_id": r.channel_id,
                    "exposed_id": r.exposed_id,
                    "transport": r.transport,
                    "started_at": r.started_at,
                    "ended_at": r.ended_at,
                    "bytes": r.bytes_sent,
                    "end_reason": r.end_reason,
                }
                for r in rows
            ]


__all__ = ["CascadeError", "CascadeService", "IdConflict", "UpperNotFound"]
