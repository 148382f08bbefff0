"""Requests from upper platforms: catalog and queries, control, subscriptions, INVITE.

We answer as a lower platform. Everything addressed to an ID the upper was not
given (our platform ID or a shared channel's exposed ID) is a 404 and reveals
nothing. Catalog answers follow Appendix N: ``catalog_group_size`` items a part,
every part after the previous MESSAGE's 200. Live INVITEs join the channel's one
upstream in the live hub (the device is INVITEd only when nothing runs) and are
re-muxed to PS by :class:`~sharpeyes.cascade.forward.Forward`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sharpeyes.cascade.catalog import SharedChannel, catalog_items, catalog_parts, channel_item
from sharpeyes.cascade.forward import Forward
from sharpeyes.cascade.link import UpperLink
from sharpeyes.cascade.sdp import SendMode, answer_for, plan_for
from sharpeyes.cascade.service import CascadeService
from sharpeyes.devices.messaging import DeviceMessaging, DeviceUnavailable
from sharpeyes.events import EventBus
from sharpeyes.gb28181 import manscdp, mansrtsp
from sharpeyes.gb28181.manscdp import ManscdpError, ManscdpMessage, parse_manscdp
from sharpeyes.gb28181.message import (
    SipParseError,
    SipRequest,
    SipResponse,
    parse_name_addr,
    response_for,
)
from sharpeyes.gb28181.sdp import SdpError, parse_sdp
from sharpeyes.live.audit import AuditRecord, audit
from sharpeyes.live.history import ControlAction, ControlError
from sharpeyes.live.service import LiveService
from sharpeyes.live.session import EndReason, LiveSession
from sharpeyes.sharing.principal import Principal, Role
from sharpeyes.sip.registration import RegState
from sharpeyes.sip.responder import (
    CatalogSubscription,
    accept_catalog_subscribe,
    notify_request,
    send_paced,
)
from sharpeyes.sip.router import ANY, PeerKind, SipRouter
from sharpeyes.sip.stack import SipStack, SipTimeout, new_tag
from sharpeyes.sip.transport import Peer

log = logging.getLogger(__name__)

SUBSCRIBE_MAX_EXPIRES = 86400
FORWARDED_QUERIES = frozenset({"PresetQuery", "RecordInfo"})


class UpperSip:
    """See the module docstring; ``node.py`` routes an upper's requests here."""

    def __init__(
        self,
        service: CascadeService,
        stack: SipStack,
        bus: EventBus,
        live: LiveService,
        messaging: DeviceMessaging,
        *,
        media_host: str,
        advertised_host: str,
        domain: str,
        node_name: str = "sharpeyes",
    ) -> None:
        self.service = service
        self.stack = stack
        self.bus = bus
        self.live = live
        self.messaging = messaging
        self.media_host = media_host
        self.advertised_host = advertised_host
        self.domain = domain
        self.node_name = node_name
        self.forwards: dict[str, Forward] = {}  # by Call-ID
        self.subscriptions: dict[int, CatalogSubscription] = {}  # by upper id
        # Alarm SUBSCRIBE (9.4): upper id -> monotonic expiry; only subscribed uppers get alarms.
        self.alarm_subscriptions: dict[int, float] = {}
        self.alarm_tz = ZoneInfo("Asia/Shanghai")  # GB alarm times are local, without a zone
        self._serial = 0
        # what each upper was last told (exposed ID → channel): the base for ADD/DEL diffs
        self.announced: dict[int, dict[str, SharedChannel]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._watch: asyncio.Task[None] | None = None
        self._stopping = False
        service.active_forwards = lambda uid: sum(
            1 for f in self.forwards.values() if f.upper_id == uid
        )

    # ------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self._watch = asyncio.get_running_loop().create_task(self._watch_loop())

    async def stop(self) -> None:
        self._stopping = True
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._watch, 3.0)
        for f in list(self.forwards.values()):
            f.end("node shutting down")
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=1.5)

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --------------------------------------------------------------- route
    def sip_routes(self, router: SipRouter) -> None:
        """Every request from an upper we register to (or in a forward's dialog) is ours."""
        router.classify_with(lambda req, peer: PeerKind.UPPER if self.owns(req, peer) else None)
        router.add(ANY, PeerKind.UPPER, self.handle)

    def owns(self, req: SipRequest, peer: Peer) -> bool:
        """Is this request the upper's (or in a forward dialog)? The router asks first."""
        if req.call_id in self.forwards:
            return True
        try:
            user = parse_name_addr(req.headers["From"]).uri.user
        except (KeyError, SipParseError):
            return False
        return self.service.link_for_request(user, peer.host) is not None

    async def handle(self, req: SipRequest, peer: Peer) -> SipResponse | None:
        method = req.method
        fwd = self.forwards.get(req.call_id)
        if fwd is not None:
            if method == "INFO":
                return await self._forward_control(fwd, req)
            return self._in_dialog(fwd, req)
        user = parse_name_addr(req.headers["From"]).uri.user
        link = self.service.link_for_request(user, peer.host)
        if link is None:
            return response_for(req, 403, "Unknown upper platform")
        if method == "MESSAGE":
            return await self._on_message(link, req)
        if method == "SUBSCRIBE":
            return await self._on_subscribe(link, req)
        if method == "INVITE":
            return await self._on_invite(link, req, peer)
        if method == "OPTIONS":
            return response_for(req, 200)
        if method in ("ACK",):
            return None
        if method in ("BYE", "CANCEL", "INFO"):
            return response_for(req, 481)
        return response_for(req, 405)

    async def _resolve(self, link: UpperLink, target: str) -> SharedChannel | None:
        for c in await self.service.shared_by_link(link.cfg.upper_id):
            if c.exposed_id == target:
                return c
        return None

    # ------------------------------------------------------------- queries
    async def _on_message(self, link: UpperLink, req: SipRequest) -> SipResponse:
        try:
            msg = parse_manscdp(req.body)
        except ManscdpError as exc:
            return response_for(req, 400, f"Bad MANSCDP: {exc}"[:100])
        local_id = link.cfg.local_id
        if msg.root == "Response" or msg.root == "Notify":
            return response_for(req, 200)  # e.g. answers to our alarm notifies
        target = msg.device_id
        ch = None if target == local_id else await self._resolve(link, target)
        if target != local_id and ch is None:
            return response_for(req, 404, "Not Found")
        cmd = msg.cmd_type
        if msg.root == "Query" and cmd == "Catalog":
            if ch is not None:
                self._spawn(self._send_catalog(link, msg.sn, ch.exposed_id, [ch]))
            else:
                shared = await self.service.shared_by_link(link.cfg.upper_id)
                self._spawn(self._send_catalog(link, msg.sn, local_id, shared))
            return response_for(req, 200)
        if msg.root == "Query" and cmd == "DeviceInfo":
            self._spawn(link.send_message(self._device_info(link, msg.sn, ch)))
            return response_for(req, 200)
        if msg.root == "Query" and cmd == "DeviceStatus":
            online = ch.online if ch is not None else True
            body = manscdp.device_status_response(
                msg.sn,
                target,
                online=online,
                device_time=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
                charset=link.cfg.charset,
            )
            self._spawn(link.send_message(body))
            return response_for(req, 200)
        if msg.root == "Query" and cmd in FORWARDED_QUERIES and ch is not None:
            self._spawn(self._forward_query(link, msg, ch))
            return response_for(req, 200)
        if msg.root == "Control" and ch is not None:
            return await self._control(link, req, msg, ch)
        return response_for(req, 501, "Unsupported CmdType")

    def _device_info(self, link: UpperLink, sn: int, ch: SharedChannel | None) -> bytes:
        if ch is None:
            return manscdp.device_info_response(
                sn,
                link.cfg.local_id,
                name=self.node_name,
                manufacturer="sharpeyes",
                model="sharpeyes platform",
                firmware="sharpeyes",
                channel_num=0,
                charset=link.cfg.charset,
            )
        return manscdp.device_info_response(
            sn,
            ch.exposed_id,
            name=ch.name,
            manufacturer=ch.manufacturer or "sharpeyes",
            model=ch.model or "GB28181",
            firmware="",
            channel_num=1,
            charset=link.cfg.charset,
        )

    async def _send_catalog(
        self, link: UpperLink, sn: int, platform_id: str, shared: list[SharedChannel]
    ) -> int:
        """Appendix N: each part sent after the previous one's 200; stop on a failure."""
        items = (
            catalog_items(platform_id, shared)
            if platform_id == link.cfg.local_id
            else [channel_item(link.cfg.local_id, shared[0])]
        )
        parts = catalog_parts(
            sn, platform_id, items, group_size=link.cfg.catalog_group_size, charset=link.cfg.charset
        )
        if platform_id == link.cfg.local_id:
            self.announced[link.cfg.upper_id] = {c.exposed_id: c for c in shared}

        def stopped(part: int, total: int, status: int) -> None:
            log.info(
                "upper %s: catalog part %d/%d got %s; stopping", link.cfg.name, part, total, status
            )

        return await send_paced(parts, link.send_message, stopped)

    async def _forward_query(self, link: UpperLink, msg: ManscdpMessage, ch: SharedChannel) -> None:
        fields: dict[str, Any] = {
            k: v for k, v in msg.fields.items() if k not in ("CmdType", "SN", "DeviceID")
        }
        try:
            answer = await self.messaging.query(
                ch.device_id, msg.cmd_type, target_id=ch.channel_id, fields=fields
            )
        except DeviceUnavailable as exc:
            log.info(
                "upper %s: %s for %s failed: %s", link.cfg.name, msg.cmd_type, ch.exposed_id, exc
            )
            return
        body = manscdp.build_manscdp(
            "Response",
            msg.cmd_type,
            msg.sn,
            ch.exposed_id,
            {k: v for k, v in answer.fields.items() if k not in ("DeviceID", "SumNum")},
            sum_num=answer.sum_num,
            items=answer.items or None,
            list_tag=answer.list_tag or "DeviceList",
            charset=link.cfg.charset,
        )
        await link.send_message(body)

    async def _control(
        self, link: UpperLink, req: SipRequest, msg: ManscdpMessage, ch: SharedChannel
    ) -> SipResponse:
        fields = {k: v for k, v in msg.fields.items() if k not in ("CmdType", "SN", "DeviceID")}
        audit(
            self.bus,
            AuditRecord(
                action="cascade.control",
                user_id=0,
                username=f"upper:{link.cfg.server_id}",
                target_type="channel",
                target_id=ch.channel_id,
                device_id=ch.device_id,
                client_ip=link.peer.host,
                detail={"upper_id": link.cfg.upper_id, "cmd": msg.cmd_type, "fields": fields},
            ),
        )

        async def send() -> None:
            try:
                await self.messaging.control(ch.device_id, ch.channel_id, fields)
            except DeviceUnavailable as exc:
                log.info("upper %s: control of %s failed: %s", link.cfg.name, ch.exposed_id, exc)

        self._spawn(send())
        return response_for(req, 200)

    # -------------------------------------------------------- subscription
    async def _on_subscribe(self, link: UpperLink, req: SipRequest) -> SipResponse:
        uid = link.cfg.upper_id
        event = (req.headers.get("Event") or "").split(";")[0].strip().lower()
        if event == "alarm":
            return self._on_alarm_subscribe(uid, req)
        resp, kept = accept_catalog_subscribe(
            req,
            self.subscriptions.get(uid),
            time.monotonic(),
            notifier_id=link.cfg.local_id,
            contact=link.contact,
            next_sn=link.next_sn,
            charset=link.cfg.charset,
            default_expires=3600,
            max_expires=SUBSCRIBE_MAX_EXPIRES,
        )
        if resp.status == 200:
            if kept is None:
                self.subscriptions.pop(uid, None)
            else:
                self.subscriptions[uid] = kept
        return resp

    def _on_alarm_subscribe(self, uid: int, req: SipRequest) -> SipResponse:
        """Alarm SUBSCRIBE: keep (or drop, Expires 0) the upper's wish to receive alarms."""
        try:
            expires = int((req.headers.get("Expires") or "3600").strip())
        except ValueError:
            return response_for(req, 400, "Bad Expires")
        expires = max(0, min(expires, SUBSCRIBE_MAX_EXPIRES))
        if expires == 0:
            self.alarm_subscriptions.pop(uid, None)
        else:
            self.alarm_subscriptions[uid] = time.monotonic() + expires
        to_tag = parse_name_addr(req.headers["To"]).tag or new_tag()
        return response_for(req, 200, to_tag=to_tag, headers=[("Expires", str(expires))])

    async def on_alarm(self, data: dict[str, Any]) -> None:
        """Forward a device alarm, under the ID the upper knows, to uppers that subscribed."""
        device_id = data.get("device_id")
        channel_id = data.get("alarm_device_id") or device_id
        now = time.monotonic()
        raw = data.get("alarm_time")
        when = datetime.fromisoformat(raw) if raw else datetime.now(UTC)
        alarm_time = when.astimezone(self.alarm_tz).strftime("%Y-%m-%dT%H:%M:%S")
        for uid, expires_at in list(self.alarm_subscriptions.items()):
            link = self.service.links.get(uid)
            if expires_at <= now or link is None:
                self.alarm_subscriptions.pop(uid, None)
                continue
            if link.state != RegState.REGISTERED:
                continue
            for ch in await self.service.shared_by_link(uid):
                if ch.device_id != device_id or ch.channel_id != channel_id:
                    continue
                body = manscdp.alarm_notify(
                    link.next_sn(),
                    ch.exposed_id,
                    priority=data.get("priority") or 1,
                    method=data.get("method") or 1,
                    alarm_time=alarm_time,
                    description=data.get("description"),
                    alarm_type=data.get("alarm_type"),
                    charset=link.cfg.charset,
                )
                await link.send_message(body)

    async def notify_catalog(self, link: UpperLink, items: list[dict[str, Any]]) -> int:
        """A catalog change toward one upper: NOTIFY in its subscription, else a MESSAGE."""
        sub = self.subscriptions.get(link.cfg.upper_id)
        now = time.monotonic()
        if sub is not None and sub.expires_at <= now:
            self.subscriptions.pop(link.cfg.upper_id, None)
            sub = None
        if sub is None:
            body = manscdp.catalog_notify(
                link.next_sn(), link.cfg.local_id, items, charset=link.cfg.charset
            )
            return await link.send_message(body)
        body = manscdp.catalog_notify(sub.sn, link.cfg.local_id, items, charset=link.cfg.charset)
        req = notify_request(self.stack, sub, body, contact=link.contact, now=now)
        try:
            resp = await self.stack.request(req, link.peer)
        except SipTimeout:
            return 408
        if resp.status == 481:
            self.subscriptions.pop(link.cfg.upper_id, None)
        return resp.status

    async def on_channel_state(self, device_id: str, channel_id: str, online: bool) -> None:
        """Tell every registered upper that shares the channel (ON/OFF)."""
        for link in list(self.service.links.values()):
            if link.state != RegState.REGISTERED:
                continue
            for c in await self.service.shared_by_link(link.cfg.upper_id):
                if c.device_id == device_id and c.channel_id == channel_id:
                    item = channel_item(link.cfg.local_id, c)
                    item["Status"] = "ON" if online else "OFF"
                    item = {"DeviceID": c.exposed_id, "Event": "ON" if online else "OFF"} | item
                    await self.notify_catalog(link, [item])

    async def resync(self, upper_id: int) -> None:
        """The shared set changed (rules, a new camera, a deletion): tell the upper ADD/DEL."""
        link = self.service.links.get(upper_id)
        if link is None or link.state != RegState.REGISTERED:
            return
        current = {c.exposed_id: c for c in await self.service.shared_by_link(upper_id)}
        before = self.announced.get(upper_id, {})
        items: list[dict[str, Any]] = []
        for eid, c in current.items():
            old = before.get(eid)
            if old is None:
                items.append({"DeviceID": eid, "Event": "ADD"} | channel_item(link.cfg.local_id, c))
            elif old.name != c.name:
                items.append(
                    {"DeviceID": eid, "Event": "UPDATE"} | channel_item(link.cfg.local_id, c)
                )
        items.extend({"DeviceID": eid, "Event": "DEL"} for eid in before if eid not in current)
        self.announced[upper_id] = current
        size = max(1, link.cfg.catalog_group_size)
        for i in range(0, len(items), size):
            status = await self.notify_catalog(link, items[i : i + size])
            if not 200 <= status < 300:
                log.info("upper %s: catalog change notify got %s", link.cfg.name, status)
                self.announced.pop(upper_id, None)  # resend everything next time
                return

    # -------------------------------------------------------------- INVITE
    def _next_serial(self) -> int:
        self._serial = self._serial % 9999 + 1
        return self._serial

    async def _on_invite(self, link: UpperLink, req: SipRequest, peer: Peer) -> SipResponse | None:
        to_tag = new_tag()
        self.stack.send_response(req, response_for(req, 100), peer)
        try:
            target = req.uri.split(":", 1)[1].split("@", 1)[0]
            frm = parse_name_addr(req.headers["From"])
            to = parse_name_addr(req.headers["To"])
            contact = req.headers.get("Contact")
            remote_target = str(parse_name_addr(contact).uri) if contact else str(frm.uri)
        except (IndexError, KeyError, SipParseError):
            return response_for(req, 400, "Bad INVITE", to_tag=to_tag)
        ch = await self._resolve(link, target)
        if ch is None:
            return response_for(req, 404, "Not Found", to_tag=to_tag)
        try:
            offer = parse_sdp(req.body)
            plan = plan_for(offer, domain=self.domain, serial=self._next_serial())
        except (SdpError, ValueError) as exc:
            return response_for(req, 488, f"Not Acceptable Here: {exc}"[:80], to_tag=to_tag)
        fwd = Forward(
            upper_id=link.cfg.upper_id,
            upper_server_id=link.cfg.server_id,
            exposed_id=ch.exposed_id,
            channel_pk=ch.channel_pk,
            device_id=ch.device_id,
            channel_id=ch.channel_id,
            call_id=req.call_id,
            local_uri=str(to.uri),
            local_tag=to_tag,
            remote_uri=str(frm.uri),
            remote_tag=frm.tag,
            remote_target=remote_target,
            sip_peer=link.peer if peer.transport == "udp" else peer,
            plan=plan,
            on_end=self._forward_ended,
            bind_host=self.media_host,
        )
        self.forwards[req.call_id] = fwd
        try:
            if plan.operation == "playback":
                session = await self._open_playback(link, ch, fwd, plan.start, plan.stop)
            else:
                session = await self.live.open_forward(
                    ch.channel_pk, fwd, started_by=f"upper:{link.cfg.server_id}"
                )
        except Exception as exc:  # device offline, refused, capacity …
            self.forwards.pop(req.call_id, None)
            status = getattr(exc, "status", 503)
            status = status if isinstance(status, int) and 400 <= status < 700 else 503
            status = 404 if status == 404 else (486 if status == 409 else 503)
            log.info("upper %s: INVITE %s refused: %s", link.cfg.name, target, exc)
            return response_for(req, status, str(exc)[:80] or None, to_tag=to_tag)
        fwd.session_id = session.id
        try:
            port = await fwd.open()
            answer = answer_for(
                offer, plan, local_id=ch.exposed_id, address=self.advertised_host, port=port
            )
        except (OSError, ValueError) as exc:
            fwd.ended = True
            self.forwards.pop(req.call_id, None)
            self.live.close_forward(session.id, fwd)
            return response_for(req, 500, f"media: {exc}"[:80], to_tag=to_tag)
        fwd.record_id = await self.service.record_forward_start(
            upper_id=link.cfg.upper_id,
            upper_server_id=link.cfg.server_id,
            channel_pk=ch.channel_pk,
            channel_id=ch.channel_id,
            exposed_id=ch.exposed_id,
            transport=plan.mode.value,
        )
        audit(
            self.bus,
            AuditRecord(
                action="cascade.forward",
                user_id=0,
                username=f"upper:{link.cfg.server_id}",
                target_type="channel",
                target_id=ch.channel_id,
                device_id=ch.device_id,
                client_ip=peer.host,
                detail={
                    "upper_id": link.cfg.upper_id,
                    "exposed_id": ch.exposed_id,
                    "transport": plan.mode.value,
                    "operation": plan.operation,
                    "session": session.id,
                    "forward": fwd.record_id,
                },
            ),
        )
        self.bus.publish(
            "cascade.forward.started",
            upper_id=link.cfg.upper_id,
            channel_pk=ch.channel_pk,
            channel_id=ch.channel_id,
        )
        return response_for(
            req,
            200,
            to_tag=to_tag,
            headers=[
                ("Contact", f"<sip:{ch.exposed_id}@{self.advertised_host}:{self.stack.port}>"),
                ("Content-Type", "application/sdp"),
            ],
            body=answer.to_bytes(),
        )

    async def _open_playback(
        self, link: UpperLink, ch: SharedChannel, fwd: Forward, start: int, stop: int
    ) -> LiveSession:
        """The upper's ``s=Playback``: a device playback session of our own, fed to the forward.

        One session per upper dialog (each has its own range and pace); when the
        device ends it (MediaStatus 121) the forward ends and the upper gets a BYE.
        """
        principal = _upper_principal(link.cfg.server_id)
        grant = await self.live.history.open(
            principal, ch.channel_pk, start, stop, audit_action=None
        )
        s = grant.session
        s.viewers.add(fwd)
        s.idle_since = None
        return s  # the hub tap is added at the ACK (``_in_dialog``), once

    async def _forward_control(self, fwd: Forward, req: SipRequest) -> SipResponse:
        """The upper's MANSRTSP (INFO) on a playback forward, passed on to the device.

        The upper steers its own playback session (one per upper dialog), so its
        pause/seek/speed become the same controls an operator's would be; a live
        forward has nothing to steer and keeps answering 200 as before.
        """
        if fwd.plan.operation != "playback" or fwd.session_id is None:
            return response_for(req, 200)
        try:
            cmd = mansrtsp.parse(req.body)
        except mansrtsp.MansrtspError as exc:
            return response_for(req, 400, str(exc)[:80])
        if cmd.method is mansrtsp.Method.TEARDOWN:
            fwd.end("upper TEARDOWN")
            return response_for(req, 200)
        steps: list[tuple[ControlAction, float | None, float | None]] = []
        if cmd.method is mansrtsp.Method.PAUSE:
            steps.append((ControlAction.PAUSE, None, None))
        elif cmd.position_s is not None:
            steps.append((ControlAction.SEEK, cmd.position_s, None))
        elif cmd.scale is None:
            steps.append((ControlAction.RESUME, None, None))
        if cmd.method is mansrtsp.Method.PLAY and cmd.scale is not None:
            steps.append((ControlAction.SPEED, None, cmd.scale))
        principal = _upper_principal(fwd.upper_server_id)
        try:
            for action, position_s, scale in steps:
                await self.live.history.control(
                    principal, fwd.session_id, action, position_s=position_s, scale=scale
                )
        except ControlError as exc:
            return response_for(req, 400, str(exc)[:80])
        except LookupError:
            return response_for(req, 481, "Playback has ended")
        except DeviceUnavailable as exc:
            return response_for(req, 504 if exc.status == 504 else 502, str(exc)[:80])
        return response_for(
            req,
            200,
            headers=[("Content-Type", mansrtsp.CONTENT_TYPE)],
            body=mansrtsp.response(cmd.cseq),
        )

    def _in_dialog(self, fwd: Forward, req: SipRequest) -> SipResponse | None:
        if req.method == "ACK":
            if not fwd.acked and not fwd.ended:
                fwd.acked = True
                session = self.live.sessions.get(fwd.session_id or "")
                if session is None:
                    fwd.end("the upstream ended before the ACK")
                    return None
                fwd.media_ready(lambda: session.hub.add_tap(fwd.on_frame))
                if fwd.plan.mode == SendMode.TCP_CONNECT:
                    self._spawn(fwd.connect())
            return None
        if req.method == "BYE":
            fwd.end("upper BYE", bye=False)
            return response_for(req, 200)
        if req.method == "INVITE":
            return None  # retransmission racing our answer
        return response_for(req, 200)

    def _forward_ended(self, fwd: Forward, reason: str, bye: bool) -> None:
        self.forwards.pop(fwd.call_id, None)
        if fwd.session_id is not None:
            session = self.live.sessions.get(fwd.session_id)
            if session is not None:
                session.hub.remove_tap(fwd.on_frame)
            self.live.close_forward(fwd.session_id, fwd)
            if (
                session is not None
                and fwd.plan.operation == "playback"
                and session.state != "ended"
            ):
                self.live._end(session, EndReason.STOPPED, f"upper playback ended: {reason}")
        if bye:
            self._spawn(self._bye(fwd))
        if fwd.record_id is not None:
            self._spawn(
                self.service.record_forward_end(
                    fwd.record_id,
                    ended_at=datetime.now(UTC),
                    bytes_sent=fwd.bytes_sent,
                    reason=reason,
                )
            )
        self.bus.publish(
            "cascade.forward.stopped",
            upper_id=fwd.upper_id,
            channel_pk=fwd.channel_pk,
            channel_id=fwd.channel_id,
            reason=reason,
            bytes=fwd.bytes_sent,
        )

    async def _bye(self, fwd: Forward) -> None:
        req = self.stack.build_request(
            "BYE",
            fwd.remote_target,
            from_uri=fwd.local_uri,
            to_uri=fwd.remote_uri,
            from_tag=fwd.local_tag,
            to_tag=fwd.remote_tag,
            call_id=fwd.call_id,
            cseq=fwd.next_cseq(),
        )
        with contextlib.suppress(SipTimeout, OSError):
            await self.stack.request(req, fwd.sip_peer, timeout=4.0)

    # -------------------------------------------------------------- watch
    async def _watch_loop(self) -> None:
        """End forwards of uppers that stopped answering; pass channel ON/OFF upward."""
        with self.bus.subscribe() as sub:
            # A flag, not only cancel(): on 3.11 wait_for can swallow a cancellation.
            while not self._stopping:
                try:
                    event = await asyncio.wait_for(sub.get(), 1.0)
                except TimeoutError:
                    event = None
                for f in list(self.forwards.values()):
                    link = self.service.links.get(f.upper_id)
                    if link is None or link.state != RegState.REGISTERED:
                        f.end("the upper link is down")
                if event is None:
                    continue
                if event.type in ("cascade.channels.changed", "catalog.changed", "device.deleted"):
                    uid = event.data.get("upper_id")
                    for upper_id in [uid] if uid is not None else list(self.service.links):
                        try:
                            await self.resync(upper_id)
                        except Exception:
                            log.exception("cascade: catalog resync of upper %s failed", upper_id)
                elif event.type == "alarm":
                    try:
                        await self.on_alarm(dict(event.data))
                    except Exception:
                        log.exception("cascade: forwarding an alarm upward failed")
                elif event.type in ("channel.online", "channel.offline"):
                    data = event.data
                    try:
                        await self.on_channel_state(
                            data["device_id"], data["channel_id"], event.type == "channel.online"
                        )
                    except Exception:
                        log.exception("cascade: passing %s upward failed", event.type)

    def describe_forwards(self) -> list[dict[str, Any]]:
        return [f.describe() for f in self.forwards.values()]


def _upper_principal(server_id: str) -> Principal:
    """An upper acting on the playback it opened (its sharing was checked at INVITE)."""
    return Principal(user_id=0, username=f"upper:{server_id}", role=Role.ADMIN)


__all__ = ["UpperSip"]
