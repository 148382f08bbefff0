"""Proxies: RTSP/ONVIF cameras as GB channels (what the API may ask, and the pulls).

Each proxy owns a virtual device + channel in ``devices/`` (same 20-digit code,
type 132, network digit 8) so it is listed, scoped and mapped like a GB channel,
and a ledger camera record (network 社会资源接入网, ``social``). Video goes into
the *same* live sessions as GB streams: this service is registered as a
``live.service.ExternalSource``, so ``POST /api/channels/{pk}/play`` starts a
pull instead of an INVITE, and the GOP cache, fMP4/HLS, snapshots, viewer
sharing and the idle stop after the last viewer are the live service's own.

On-demand proxies pull only while a session exists; always-on proxies get a
pinned session and are restarted with exponential backoff after a failure.
Failures end the session with the reason (``auth_failed``, ``connect_failed``,
``no_frames``…), move the channel offline with that reason in its history, and
publish ``proxy.state`` — what the health issue counts like a GB offline.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from sqlalchemy import select

from sharpeyes import errors
from sharpeyes.devices.service import DeviceService, NotFound
from sharpeyes.events import EventBus
from sharpeyes.live.audit import AuditRecord, audit
from sharpeyes.live.service import LiveService
from sharpeyes.live.session import EndReason, LiveSession
from sharpeyes.proxies.models import Proxy
from sharpeyes.proxies.pull import RtspPull
from sharpeyes.proxies.settings import ProxySettings
from sharpeyes.proxies.state import (
    Backoff,
    ProxyError,
    ProxyRuntime,
    ProxyState,
    check_gb_id,
    check_url,
    make_gb_id,
    next_serial,
    split_credentials,
    with_credentials,
)
from sharpeyes.sharing.principal import Principal
from sharpeyes.sharing.scope import can_see_channel
from sharpeyes.store.db import Database
from sharpeyes.store.models import Channel

log = logging.getLogger(__name__)

EDITABLE = (
    "name",
    "url",
    "sub_url",
    "username",
    "password",
    "transport",
    "on_demand",
    "civil_code",
    "org",
    "longitude",
    "latitude",
)
RESTART_ON = frozenset({"url", "sub_url", "username", "password", "transport"})
SUPERVISE_S = 0.2
_ERRORS = {e.value: e for e in ProxyError}


class ProxyService:
    """See the module docstring. One per node (``node.proxies``)."""

    def __init__(
        self,
        db: Database,
        bus: EventBus,
        settings: ProxySettings,
        *,
        devices: DeviceService,
        live: LiveService,
        ledger: Any = None,
        domain: str = "3402000000",
    ) -> None:
        self.db = db
        self.bus = bus
        self.settings = settings
        self.devices = devices
        self.live = live
        self.ledger = ledger
        self.civil_code = settings.civil_code or domain[:8]
        self.backoff = Backoff(
            settings.backoff_initial_s, settings.backoff_max_s, settings.backoff_jitter
        )
        self.runtime: dict[int, ProxyRuntime] = {}
        self._by_device: dict[str, int] = {}
        self._channels: dict[int, Channel] = {}
        self._pulls: dict[str, RtspPull] = {}  # session id → its pull
        self._sessions: dict[str, int] = {}  # session id → proxy id
        self._tasks: set[asyncio.Task[Any]] = set()
        self._supervisor: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self.onvif: Any = None  # proxies.onvif.OnvifService, set by start()
        self.source = PulledSource(self)

    # ------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        from sharpeyes.proxies.onvif import OnvifService

        self.onvif = OnvifService(self)
        self.live.external.append(self.source)
        self.devices.external_ptz.append(self.onvif)
        self.devices.virtual.owners.append(self._delete_hint)
        async with self.db.session() as s:
            proxies = list((await s.execute(select(Proxy))).scalars())
            channels = {
                c.channel_id: c
                for c in (
                    await s.execute(
                        select(Channel).where(Channel.channel_id.in_([p.gb_id for p in proxies]))
                    )
                ).scalars()
            }
        now = time.monotonic()
        for p in proxies:
            self._track(p, channels.get(p.gb_id), now)
        self._supervisor = asyncio.create_task(self._supervise())

    def _track(self, p: Proxy, ch: Channel | None, now: float) -> ProxyRuntime:
        rt = self.runtime.get(p.id) or ProxyRuntime(p.id, p.on_demand)
        rt.on_demand = p.on_demand
        if p.last_error in _ERRORS and rt.last_error is None and rt.state == ProxyState.IDLE:
            rt.last_error = _ERRORS[p.last_error]
        if not p.on_demand and rt.session_id is None:
            rt.next_retry_at = now
        self.runtime[p.id] = rt
        self._by_device[p.gb_id] = p.id
        if ch is not None:
            self._channels[p.id] = ch
        return rt

    async def stop(self) -> None:
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
        for pull in list(self._pulls.values()):
            pull.stop()
        pulls = list(self._pulls.values())
        if pulls:
            await asyncio.to_thread(_join_all, pulls, 2.0)
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=2.0)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _delete_hint(self, device_id: str) -> str | None:
        pid = self._by_device.get(device_id)
        return None if pid is None else f"delete the proxy with DELETE /api/proxies/{pid}"

    # ---------------------------------------------- live.ExternalSource
    def owns(self, device_id: str) -> bool:
        return device_id in self._by_device

    def transport_of(self, ch: Channel) -> str:
        pid = self._by_device.get(ch.device_id)
        return f"rtsp-{(ch.extra or {}).get('transport', 'tcp')}" if pid is not None else "rtsp"

    async def start_session(self, session: LiveSession) -> None:
        pid = self._by_device[session.key.device_id]
        async with self.db.session() as s:
            p = await s.get(Proxy, pid)
        if p is None:
            raise NotFound(str(pid))
        if session.state == "ended":  # ended while we read the row: start nothing
            return
        url = p.sub_url if session.key.stream == "sub" and p.sub_url else p.url
        rt = self.runtime[pid]
        loop = asyncio.get_running_loop()
        hub = session.hub
        rx = session.rx

        def on_frames(frames: list[Any], nbytes: int) -> None:
            if session.state == "ended":
                return
            rx.bytes += nbytes
            for f in frames:
                hub.push(f)
            if rt.state != ProxyState.STREAMING and hub.ready and rt.session_id == session.id:
                rt.streaming()
                self._publish(p, rt)
                self._spawn(self._set_online(p, True, "proxy_streaming"))

        def on_opened(info: dict[str, Any]) -> None:
            if info.get("audio_codec"):
                hub.audio_codec = str(info["audio_codec"])

        def on_end(error: ProxyError | None, detail: str) -> None:
            self._pulls.pop(session.id, None)
            if session.state != "ended":
                reason = EndReason(error.value) if error is not None else EndReason.STOPPED
                self.live.end_session(session, reason, detail)

        pull = RtspPull(
            with_credentials(url, p.username, p.password),
            transport=p.transport,
            loop=loop,
            on_frames=on_frames,
            on_opened=on_opened,
            on_end=on_end,
            open_timeout_s=self.settings.open_timeout_s,
            read_timeout_s=self.settings.read_timeout_s,
            no_frames_timeout_s=self.settings.no_frames_timeout_s,
            probe_s=self.settings.probe_s,
            name=f"pull-{p.id}",
        )
        self._pulls[session.id] = pull
        self._sessions[session.id] = pid
        rt.connecting(session.id)
        self._publish(p, rt)
        pull.start()

    def stop_session(self, session: LiveSession) -> None:
        pull = self._pulls.get(session.id)
        if pull is not None:
            pull.stop()
        pid = self._sessions.pop(session.id, None)
        rt = self.runtime.get(pid) if pid is not None else None
        if rt is None or rt.session_id != session.id:
            return
        reason = session.end_reason
        error: ProxyError | None
        if reason is None or reason in (EndReason.IDLE, EndReason.STOPPED, EndReason.SHUTDOWN):
            error = None
        else:
            error = _ERRORS.get(reason.value, ProxyError.CONNECT_FAILED)
        rt.ended(error, session.end_detail, time.monotonic(), self.backoff)
        self._spawn(self._after_end(pid, error, session.end_detail))

    async def _after_end(self, pid: int, error: ProxyError | None, detail: str) -> None:
        async with self.db.session() as s:
            p = await s.get(Proxy, pid)
            if p is None:
                return
            if error is not None and p.last_error != error.value:
                p.last_error = error.value
                await s.commit()
        rt = self.runtime[pid]
        self._publish(p, rt, detail=detail)
        if error is not None:
            await self._set_online(p, False, f"proxy_{error.value}")
            if rt.storm(time.monotonic()):
                self.bus.publish(
                    "proxy.reconnect_storm",
                    id=pid,
                    gb_id=p.gb_id,
                    device_id=p.gb_id,
                    failures=rt.failures,
                )

    async def _set_online(self, p: Proxy, online: bool, reason: str) -> None:
        if online and p.last_error is not None:
            async with self.db.session() as s:
                row = await s.get(Proxy, p.id)
                if row is not None:
                    row.last_error = None
                    await s.commit()
            p.last_error = None
        try:
            await self.devices.virtual.set_online(p.gb_id, online, reason)
        except Exception:
            log.exception("proxy %s: channel state not stored", p.id)

    def _publish(self, p: Proxy, rt: ProxyRuntime, *, detail: str | None = None) -> None:
        retry = rt.next_retry_at
        self.bus.publish(
            "proxy.state",
            id=p.id,
            gb_id=p.gb_id,
            device_id=p.gb_id,
            state=rt.state.value,
            last_error=rt.last_error.value if rt.last_error else None,
            detail=detail or rt.last_detail,
            failures=rt.failures,
            retry_in_s=None if retry is None else round(max(0.0, retry - time.monotonic()), 2),
            retry_delay_s=None if retry is None else rt.retry_delay_s,
        )

    # ------------------------------------------------------------ always-on
    async def _supervise(self) -> None:
        while True:
            await asyncio.sleep(SUPERVISE_S)
            now = time.monotonic()
            for pid, rt in list(self.runtime.items()):
                if not rt.due(now):
                    continue
                ch = self._channels.get(pid)
                if ch is None:
                    continue
                try:
                    self.live.open_external(ch, self.source, started_by="proxy", pinned=True)
                except Exception as exc:  # capacity or overload: retry later
                    rt.failures += 1
                    rt.next_retry_at = now + self.backoff.delay(rt.failures)
                    log.warning("always-on proxy %s not started: %s", pid, exc)

    # ---------------------------------------------------------------- CRUD
    async def _visible(self, principal: Principal, p: Proxy) -> bool:
        return can_see_channel(principal, p.gb_id, p.civil_code)

    async def get_row(self, principal: Principal, pid: int) -> Proxy:
        async with self.db.session() as s:
            p = await s.get(Proxy, pid)
        if p is None or not await self._visible(principal, p):
            raise NotFound(f"proxy {pid}")
        return p

    async def list(self, principal: Principal) -> list[dict[str, Any]]:
        async with self.db.session() as s:
            rows = list((await s.execute(select(Proxy).order_by(Proxy.id))).scalars())
        return [self.describe(p) for p in rows if await self._visible(principal, p)]

    async def get(self, principal: Principal, pid: int) -> dict[str, Any]:
        return self.describe(await self.get_row(principal, pid))

    def describe(self, p: Proxy) -> dict[str, Any]:
        rt = self.runtime.get(p.id) or ProxyRuntime(p.id, p.on_demand)
        ch = self._channels.get(p.id)
        retry = rt.next_retry_at
        return {
            "id": p.id,
            "gb_id": p.gb_id,
            "channel": ch.id if ch is not None else None,
            "name": p.name,
            "url": p.url,
            "sub_url": p.sub_url,
            "username": p.username,
            "has_password": bool(p.password),
            "transport": p.transport,
            "on_demand": p.on_demand,
            "civil_code": p.civil_code,
            "org": p.org,
            "longitude": p.longitude,
            "latitude": p.latitude,
            "source": p.source,
            "onvif": (
                {"xaddr": p.onvif_xaddr, "profile": p.onvif_profile, "ptz": p.onvif_ptz}
                if p.source == "onvif"
                else None
            ),
            "manufacturer": p.manufacturer,
            "model": p.model,
            "state": rt.state.value,
            "last_error": rt.last_error.value if rt.last_error else None,
            "last_error_detail": rt.last_detail,
            "failures": rt.failures,
            "attempts": rt.attempts,
            "reconnects": rt.reconnects,
            "retry_in_s": None if retry is None else round(max(0.0, retry - time.monotonic()), 2),
            "session_id": rt.session_id,
            "created_at": p.created_at,
            "updated_at": p.updated_at,
        }

    async def _assign_gb_id(self) -> str:
        prefix = f"{self.civil_code}{self.settings.industry}1328"
        async with self.db.session() as s:
            used = {
                int(g[14:])
                for g in (
                    await s.execute(select(Proxy.gb_id).where(Proxy.gb_id.startswith(prefix)))
                ).scalars()
            }
            used |= {
                int(g[14:])
                for g in (
                    await s.execute(
                        select(Channel.channel_id).where(Channel.channel_id.startswith(prefix))
                    )
                ).scalars()
                if len(g) == 20 and g[14:].isdigit()
            }
        lo, hi = self.settings.serial_range
        return make_gb_id(self.civil_code, self.settings.industry, next_serial(used, lo, hi))

    def _clean(self, data: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in data.items() if k in EDITABLE or k in _EXTRA}
        for key in ("url", "sub_url"):
            if out.get(key):
                url, user, pw = split_credentials(out[key])
                out[key] = check_url(url)
                if user and not out.get("username"):
                    out["username"] = user
                if pw and not out.get("password"):
                    out["password"] = pw
        if "transport" in out and out["transport"] not in ("tcp", "udp"):
            raise ValueError("transport must be tcp or udp")
        if out.get("civil_code") is not None:
            code = str(out["civil_code"])
            if not code.isdigit() or len(code) not in (2, 4, 6, 8, 9, 12):
                raise ValueError("civil_code must be 2-12 digits (GB/T 2260 and below)")
        for axis, lim in (("longitude", 180), ("latitude", 90)):
            v = out.get(axis)
            if v is not None and not -lim <= float(v) <= lim:
                raise ValueError(f"{axis} out of range")
        return out

    async def create(
        self, principal: Principal, data: dict[str, Any], *, client_ip: str | None = None
    ) -> dict[str, Any]:
        values = self._clean(data)
        if not values.get("url"):
            raise ValueError("url is required")
        if not values.get("name"):
            raise ValueError("name is required")
        async with self._lock:  # gb_id assignment is check-then-insert
            gb_id = data.get("gb_id")
            gb_id = check_gb_id(str(gb_id)) if gb_id else await self._assign_gb_id()
            civil = values.get("civil_code") or gb_id[:8]
            if not can_see_channel(principal, gb_id, civil):
                raise PermissionError("the proxy's region is outside your scope")
            async with self.db.session() as s:
                if await s.scalar(select(Proxy.id).where(Proxy.gb_id == gb_id)) or await s.scalar(
                    select(Channel.id).where(Channel.channel_id == gb_id)
                ):
                    raise ConflictError(f"gb_id {gb_id} is already in use")
                p = Proxy(gb_id=gb_id, **{**values, "civil_code": civil})
                s.add(p)
                await s.commit()
                await s.refresh(p)
        ch = await self._sync_channel(p, new=True)
        self._track(p, ch, time.monotonic())
        await self._ledger_record(principal, p)
        self._audit(principal, "proxy.create", p, client_ip, {"url": p.url})
        self.bus.publish("proxy.created", id=p.id, gb_id=p.gb_id, device_id=p.gb_id)
        return self.describe(p)

    async def _sync_channel(self, p: Proxy, *, new: bool = False) -> Channel:
        extra = {"proxy_id": p.id, "source": p.source, "transport": p.transport}
        channel: dict[str, Any] = {
            "name": p.name,
            "manufacturer": p.manufacturer,
            "model": p.model,
            "owner": p.org,
            "civil_code": p.civil_code,
            "longitude": p.longitude,
            "latitude": p.latitude,
            "ptz_type": 1 if p.onvif_ptz else 3,
            "extra": extra,
        }
        host = _host_of(p.url)
        if host:
            channel["ip_address"] = host[:64]
        device = {
            "name": p.name,
            "manufacturer": p.manufacturer or ("ONVIF" if p.source == "onvif" else "RTSP"),
            "model": p.model or "stream proxy",
            "media_transport": p.transport,
        }
        rt = self.runtime.get(p.id)
        online = p.on_demand and (rt is None or rt.state != ProxyState.FAILED)
        if not new and rt is not None and rt.state == ProxyState.STREAMING:
            online = True
        await self.devices.virtual.upsert(
            p.gb_id, device=device, channel=channel, online=online, reason="proxy"
        )
        async with self.db.session() as s:
            ch = (
                await s.execute(
                    select(Channel).where(
                        Channel.device_id == p.gb_id, Channel.channel_id == p.gb_id
                    )
                )
            ).scalar_one()
        self._channels[p.id] = ch
        return ch

    async def _ledger_record(self, principal: Principal, p: Proxy) -> None:
        """A ledger camera record for the proxy (network 社会资源接入网, social); best effort:
        the channel's values become the record's, what fails the rules becomes issues."""
        if self.ledger is None:
            return
        try:
            await self.ledger.record_for_channel(
                principal,
                p.gb_id,
                {"network": "social", "social": True, "integration_method": None},
            )
        except Exception:
            log.exception("proxy %s: no ledger record", p.id)

    async def update(
        self,
        principal: Principal,
        pid: int,
        data: dict[str, Any],
        *,
        client_ip: str | None = None,
    ) -> dict[str, Any]:
        if "gb_id" in data:
            p0 = await self.get_row(principal, pid)
            if data["gb_id"] != p0.gb_id:
                raise ValueError("gb_id cannot be changed (delete and add the proxy again)")
        await self.get_row(principal, pid)
        required = [k for k in ("name", "url", "transport", "on_demand") if k in data]
        if any(data[k] is None for k in required):
            raise ValueError(f"{', '.join(k for k in required if data[k] is None)} cannot be null")
        values = self._clean(data)
        async with self.db.session() as s:
            p = await s.get(Proxy, pid)
            assert p is not None
            for k, v in values.items():
                setattr(p, k, v)
            await s.commit()
            await s.refresh(p)
        rt = self._track(p, self._channels.get(pid), time.monotonic())
        if "on_demand" in values:
            session = self.live.sessions.get(rt.session_id or "")
            if session is not None:
                session.pinned = not p.on_demand
            if p.on_demand:
                rt.next_retry_at = None
        await self._sync_channel(p)
        if RESTART_ON & set(values) and rt.session_id:
            session = self.live.sessions.get(rt.session_id)
            if session is not None:
                self.live.end_session(session, EndReason.STOPPED, "proxy reconfigured", 409)
        changed = sorted(k for k in values if k != "password")
        self._audit(principal, "proxy.update", p, client_ip, {"fields": changed})
        return self.describe(p)

    async def delete(self, principal: Principal, pid: int, *, client_ip: str | None = None) -> None:
        p = await self.get_row(principal, pid)
        rt = self.runtime.pop(pid, None)
        self._by_device.pop(p.gb_id, None)
        self._channels.pop(pid, None)
        if rt is not None and rt.session_id:
            session = self.live.sessions.get(rt.session_id)
            if session is not None:
                self.live.end_session(session, EndReason.STOPPED, "proxy deleted", 410)
        async with self.db.session() as s:
            row = await s.get(Proxy, pid)
            if row is not None:
                await s.delete(row)
                await s.commit()
        await self.devices.virtual.remove(p.gb_id)
        self._audit(principal, "proxy.delete", p, client_ip, {})
        self.bus.publish("proxy.deleted", id=pid, gb_id=p.gb_id, device_id=p.gb_id)

    def _audit(
        self, principal: Principal, action: str, p: Proxy, ip: str | None, detail: dict[str, Any]
    ) -> None:
        audit(
            self.bus,
            AuditRecord.by(
                principal,
                action=action,
                target_type="proxy",
                target_id=p.gb_id,
                device_id=p.gb_id,
                client_ip=ip,
                detail={"proxy_id": p.id, **detail},
            ),
        )

    # --------------------------------------------------------------- stats
    def active_pulls(self) -> int:
        return sum(1 for pull in self._pulls.values() if pull.alive)


# Fields an ONVIF add or an import may set besides the editable ones.
_EXTRA = frozenset({"source", "onvif_xaddr", "onvif_profile", "onvif_ptz", "manufacturer", "model"})


class PulledSource:
    """The ``live.service.ExternalSource`` face of the proxy service."""

    def __init__(self, proxies: ProxyService) -> None:
        self.proxies = proxies

    def owns(self, device_id: str) -> bool:
        return self.proxies.owns(device_id)

    def transport_of(self, ch: Channel) -> str:
        return self.proxies.transport_of(ch)

    async def start(self, session: LiveSession) -> None:
        await self.proxies.start_session(session)

    def stop(self, session: LiveSession) -> None:
        self.proxies.stop_session(session)


class ConflictError(errors.ConflictError):
    """A gb_id (or device) already in use (HTTP 409)."""

    code = "proxy_conflict"


def _host_of(url: str) -> str | None:
    from urllib.parse import urlsplit

    try:
        return urlsplit(url).hostname
    except ValueError:
        return None


def _join_all(pulls: list[RtspPull], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    for pull in pulls:
        pull.join(max(0.0, deadline - time.monotonic()))


__all__ = ["ConflictError", "ProxyService"]
