"""MANSCDP over SIP MESSAGE/NOTIFY/SUBSCRIBE: inbound dispatch and outbound queries.

Inbound: Keepalive, query responses (correlated by CmdType+SN; Catalog aggregated
across parts per Appendix N), Catalog change notifications and alarms.
Outbound: queries and controls addressed through the device's last known
signalling address (its UDP source or its open TCP connection).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from sharpeyes.devices.alarms import AlarmService
from sharpeyes.devices.interop import InteropCounters, Quirk
from sharpeyes.devices.registry import DeviceRegistry, LiveDevice
from sharpeyes.gb28181 import manscdp
from sharpeyes.gb28181.manscdp import ManscdpError, ManscdpMessage, MultipartCollector
from sharpeyes.gb28181.message import (
    SipParseError,
    SipRequest,
    SipResponse,
    parse_name_addr,
    response_for,
)
from sharpeyes.sip.stack import SipStack, SipTimeout
from sharpeyes.sip.transport import Peer

log = logging.getLogger(__name__)

MANSCDP_TYPE = "Application/MANSCDP+xml"

# (device ID, message, now): a Notify consumer registered by another domain.
NotifyHook = Callable[[str, ManscdpMessage, float], Awaitable[None]]


class DeviceUnavailable(Exception):
    """The device is unknown, offline, or did not answer; ``status`` is an HTTP hint."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class CatalogResult:
    items: list[dict[str, str]]
    complete: bool
    expected: int | None = None


@dataclass
class _PendingCatalog:
    future: asyncio.Future[CatalogResult]
    started: float = field(default_factory=time.time)


class DeviceMessaging:
    def __init__(
        self,
        stack: SipStack,
        registry: DeviceRegistry,
        alarms: AlarmService,
        *,
        server_id: str,
        domain: str,
        catalog_timeout: float = 30.0,
        query_timeout: float = 10.0,
        interop: InteropCounters | None = None,
    ) -> None:
        self.stack = stack
        self.interop = interop if interop is not None else InteropCounters()
        self.registry = registry
        self.alarms = alarms
        self.server_id = server_id
        self.domain = domain
        self.catalog_timeout = catalog_timeout
        self.query_timeout = query_timeout
        self._sn = itertools.count(int(time.time()) % 100_000 * 10 + 1)
        self._pending: dict[tuple[str, int], asyncio.Future[ManscdpMessage]] = {}
        self._catalog_waiters: dict[tuple[str, int], _PendingCatalog] = {}
        self.collector = MultipartCollector()
        # Other domains' answers (RecordInfo → recording).
        self.response_hooks: dict[str, Callable[[str, ManscdpMessage, float], None]] = {}
        self._sweeper: asyncio.Task[None] | None = None
        self.stats = {
            "keepalives": 0,
            "bad_bodies": 0,
            "unknown_cmd": 0,
            "rejected_unregistered": 0,
        }
        # Notify CmdTypes other domains consume (MediaStatus, MobilePosition, …).
        self.notify_hooks: dict[str, NotifyHook] = {}
        self.unknown_by_device: Counter[str] = Counter()

    def start(self) -> None:
        self._sweeper = asyncio.create_task(self._sweep_loop())

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()

    def next_sn(self) -> int:
        return next(self._sn) % 2_000_000_000

    # ============================================================ inbound
    async def on_message(self, req: SipRequest, peer: Peer) -> SipResponse:
        """SIP MESSAGE carrying MANSCDP; answered 200 once accepted."""
        if "manscdp" not in req.content_type and req.content_type:
            return response_for(req, 415, headers=[("Accept", MANSCDP_TYPE)])
        try:
            sender = parse_name_addr(req.headers["From"]).uri.user
        except SipParseError:
            return response_for(req, 400, "Malformed From")
        try:
            msg = self._parse_body(req, sender)
        except ManscdpError as exc:
            self.stats["bad_bodies"] += 1
            return response_for(req, 400, f"Bad MANSCDP: {exc}"[:100])
        live = self.registry.get(sender)
        if live is None or live.admission != "admitted":
            self.stats["rejected_unregistered"] += 1
            return response_for(req, 403, "Not Registered")

        now = time.time()
        if msg.root == "Notify" and msg.cmd_type == "Keepalive":
            self.stats["keepalives"] += 1
            if not await self.registry.keepalive(live, peer, now):
                self.stats["rejected_unregistered"] += 1
                return response_for(req, 403, "Not Registered")
            return response_for(req, 200)
        if msg.root == "Response":
            self._on_response(sender, msg, now)
            return response_for(req, 200)
        if msg.root == "Notify" and msg.cmd_type == "Alarm":
            alarm_id = await self.alarms.record(sender, msg, now)
            self.stack.schedule(self._ack_alarm(live, msg, alarm_id))
            return response_for(req, 200)
        if msg.root == "Notify" and msg.cmd_type == "Catalog":
            await self.registry.apply_catalog_events(sender, msg.items, now)
            return response_for(req, 200)
        hook = self.notify_hooks.get(msg.cmd_type) if msg.root == "Notify" else None
        if hook is not None:
            await hook(sender, msg, now)
            return response_for(req, 200)
        if msg.root == "Notify" and msg.cmd_type in ("MediaStatus", "MobilePosition"):
            return response_for(req, 200)  # no consumer wired: acknowledged
        self.stats["unknown_cmd"] += 1
        self.unknown_by_device[sender] += 1
        return (
            response_for(req, 200)
            if msg.root == "Notify"
            else response_for(req, 501, "Unsupported CmdType")
        )

    async def on_notify(self, req: SipRequest, peer: Peer) -> SipResponse:
        """Subscription NOTIFY (Event: Catalog): same body as a Catalog Notify."""
        try:
            sender = parse_name_addr(req.headers["From"]).uri.user
            msg = self._parse_body(req, sender) if req.body else None
        except (SipParseError, ManscdpError) as exc:
            return response_for(req, 400, str(exc)[:100])
        live = self.registry.get(sender)
        if live is None or live.admission != "admitted":
            return response_for(req, 481)
        hook = self.notify_hooks.get(msg.cmd_type) if msg is not None else None
        if msg is not None and msg.cmd_type == "Alarm" and msg.root == "Notify":
            alarm_id = await self.alarms.record(sender, msg, time.time())
            self.stack.schedule(self._ack_alarm(live, msg, alarm_id))
        elif msg is not None and hook is not None and msg.root == "Notify":
            await hook(sender, msg, time.time())
        elif msg is not None and msg.cmd_type == "Catalog":
            if msg.root == "Response" or not any("Event" in i for i in msg.items):
                self._on_response(sender, msg, time.time())
            else:
                await self.registry.apply_catalog_events(sender, msg.items, time.time())
        return response_for(req, 200)

    def _parse_body(self, req: SipRequest, sender: str) -> ManscdpMessage:
        """The MANSCDP body; over UDP, the whole rest of the datagram when Content-Length
        (counted in characters by some devices) cut a well-formed body short."""
        try:
            return manscdp.parse_manscdp(req.body)
        except ManscdpError as exc:
            rest = req.datagram_rest
            if rest is None:
                raise
            try:
                msg = manscdp.parse_manscdp(rest)
            except ManscdpError:
                raise exc from None
        self.interop.count(
            sender,
            Quirk.CONTENT_LENGTH_CHARS,
            f"(Content-Length {len(req.body)}, body {len(rest)} bytes)",
        )
        return msg

    def _on_response(self, sender: str, msg: ManscdpMessage, now: float) -> None:
        if msg.cmd_type == "Catalog":
            key = (sender, msg.sn)
            items = self.collector.add(key, msg, now)
            if items is not None:
                self.stack.schedule(
                    self._catalog_done(key, items, complete=True, expected=msg.sum_num)
                )
            return
        hook = self.response_hooks.get(msg.cmd_type)
        if hook is not None:
            hook(sender, msg, now)
            return
        if msg.cmd_type == "DeviceInfo":
            self.stack.schedule(self.registry.update_info(sender, msg.fields))
        fut = self._pending.get((msg.cmd_type, msg.sn))
        if fut is not None and not fut.done():
            fut.set_result(msg)

    async def _catalog_done(
        self,
        key: tuple[str, int],
        items: list[dict[str, str]],
        *,
        complete: bool,
        expected: int | None,
    ) -> None:
        device_id = key[0]
        try:
            await self.registry.apply_catalog(device_id, items, full=complete, now=time.time())
        except Exception:
            log.exception("applying catalog of %s failed", device_id)
        waiter = self._catalog_waiters.pop(key, None)
        if waiter is not None and not waiter.future.done():
            waiter.future.set_result(CatalogResult(items, complete, expected))

    async def _ack_alarm(self, live: LiveDevice, msg: ManscdpMessage, alarm_id: int) -> None:
        """9.4.2 step 3: the platform answers an alarm with an Alarm Response MESSAGE."""
        body = manscdp.build_manscdp(
            "Response", "Alarm", msg.sn, msg.device_id, {"Result": "OK"}, charset=live.charset
        )
        try:
            await self.send(live, body)
        except (DeviceUnavailable, SipTimeout) as exc:
            log.info("alarm response to %s failed: %s", live.id, exc)

    async def _sweep_loop(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            for key, items in self.collector.expire(time.time(), self.catalog_timeout):
                await self._catalog_done(key, items, complete=False, expected=None)
            # a query that got no single part at all
            now = time.time()
            for key, waiter in list(self._catalog_waiters.items()):
                if now - waiter.started > self.catalog_timeout * 2 and not waiter.future.done():
                    waiter.future.set_exception(DeviceUnavailable("catalog query timed out", 504))
                    self._catalog_waiters.pop(key, None)

    # =========================================================== outbound
    def target(self, device_id: str) -> LiveDevice:
        """The online device to address (DeviceUnavailable otherwise)."""
        return self._target(device_id)

    def _target(self, device_id: str) -> LiveDevice:
        live = self.registry.get(device_id)
        if live is None:
            raise DeviceUnavailable(f"unknown device {device_id}", 404)
        if not live.online or live.peer is None:
            raise DeviceUnavailable(f"device {device_id} is offline", 409)
        return live

    async def send(
        self,
        live: LiveDevice,
        body: bytes,
        *,
        method: str = "MESSAGE",
        headers: list[tuple[str, str]] | None = None,
    ) -> SipResponse:
        if live.peer is None:
            raise DeviceUnavailable(f"device {live.id} has no known address")
        uri = f"sip:{live.id}@{live.peer.host}:{live.peer.port}"
        req = self.stack.build_request(
            method,
            uri,
            from_uri=f"sip:{self.server_id}@{self.domain}",
            to_uri=f"sip:{live.id}@{self.domain}",
            headers=headers or (),
            body=body,
            content_type=MANSCDP_TYPE,
        )
        resp = await self.stack.request(req, live.peer)
        if resp.status >= 300:
            raise DeviceUnavailable(f"device answered {resp.status} {resp.reason}", 502)
        return resp

    async def query(
        self,
        device_id: str,
        cmd_type: str,
        *,
        target_id: str | None = None,
        fields: Mapping[str, Any] | None = None,
        timeout: float | None = None,
    ) -> ManscdpMessage:
        live = self._target(device_id)
        sn = self.next_sn()
        body = manscdp.build_manscdp(
            "Query", cmd_type, sn, target_id or device_id, dict(fields or {}), charset=live.charset
        )
        fut: asyncio.Future[ManscdpMessage] = asyncio.get_running_loop().create_future()
        self._pending[(cmd_type, sn)] = fut
        try:
            await self._send_or_raise(live, body)
            return await asyncio.wait_for(fut, timeout or self.query_timeout)
        except TimeoutError as exc:
            raise DeviceUnavailable(f"no {cmd_type} response from {device_id}", 504) from exc
        finally:
            self._pending.pop((cmd_type, sn), None)

    async def request_response(
        self, live: LiveDevice, cmd_type: str, sn: int, body: bytes
    ) -> ManscdpMessage:
        """Send a prepared body and wait for the Response with its CmdType and SN."""
        fut: asyncio.Future[ManscdpMessage] = asyncio.get_running_loop().create_future()
        self._pending[(cmd_type, sn)] = fut
        try:
            await self._send_or_raise(live, body)
            return await asyncio.wait_for(fut, self.query_timeout)
        except TimeoutError as exc:
            raise DeviceUnavailable(f"no {cmd_type} response from {live.id}", 504) from exc
        finally:
            self._pending.pop((cmd_type, sn), None)

    @contextlib.contextmanager
    def awaiting(self, cmd_type: str, sn: int) -> Iterator[asyncio.Future[ManscdpMessage]]:
        """A future for the Response with this CmdType and SN, for callers that also wait
        on something else (a broadcast waits for the device's INVITE *or* its refusal)."""
        fut: asyncio.Future[ManscdpMessage] = asyncio.get_running_loop().create_future()
        self._pending[(cmd_type, sn)] = fut
        try:
            yield fut
        finally:
            self._pending.pop((cmd_type, sn), None)

    async def _send_or_raise(self, live: LiveDevice, body: bytes) -> None:
        try:
            await self.send(live, body)
        except SipTimeout as exc:
            raise DeviceUnavailable(f"device {live.id} did not answer the MESSAGE", 504) from exc

    async def query_catalog(self, device_id: str, *, wait: bool = True) -> CatalogResult | None:
        live = self._target(device_id)
        sn = self.next_sn()
        waiter = _PendingCatalog(asyncio.get_running_loop().create_future())
        self._catalog_waiters[(device_id, sn)] = waiter
        body = manscdp.query("Catalog", sn, device_id)
        try:
            await self._send_or_raise(live, body)
        except DeviceUnavailable:
            self._catalog_waiters.pop((device_id, sn), None)
            raise
        if not wait:
            return None
        return await waiter.future

    async def control(
        self,
        device_id: str,
        target_id: str,
        fields: Mapping[str, Any],
        *,
        wait_response: bool = False,
    ) -> ManscdpMessage | None:
        live = self._target(device_id)
        sn = self.next_sn()
        body = manscdp.build_manscdp(
            "Control", "DeviceControl", sn, target_id, dict(fields), charset=live.charset
        )
        if not wait_response:
            await self._send_or_raise(live, body)
            return None
        fut: asyncio.Future[ManscdpMessage] = asyncio.get_running_loop().create_future()
        self._pending[("DeviceControl", sn)] = fut
        try:
            await self._send_or_raise(live, body)
            return await asyncio.wait_for(fut, self.query_timeout)
        except TimeoutError as exc:
            raise DeviceUnavailable(f"no DeviceControl response from {device_id}", 504) from exc
        finally:
            self._pending.pop(("DeviceControl", sn), None)

    async def ptz(self, device_id: str, channel_id: str, ptz_cmd: str) -> None:
        live = self._target(device_id)
        body = manscdp.ptz_control(self.next_sn(), channel_id, ptz_cmd)
        await self._send_or_raise(live, body)

    async def reset_alarm(
        self, device_id: str, alarm_device_id: str, method: int | None, alarm_type: int | None
    ) -> None:
        live = self._target(device_id)
        body = manscdp.reset_alarm(
            self.next_sn(),
            alarm_device_id,
            None if method is None else str(method),
            None if alarm_type is None else str(alarm_type),
        )
        await self._send_or_raise(live, body)

    async def subscribe_catalog(self, device_id: str, expires: int = 3600) -> bool:
        """Catalog subscription (9.11 / Appendix P); devices that refuse are still polled."""
        live = self._target(device_id)
        sn = self.next_sn()
        body = manscdp.query("Catalog", sn, device_id)
        try:
            resp = await self.send(
                live,
                body,
                method="SUBSCRIBE",
                headers=[
                    ("Event", f"Catalog;id={sn}"),
                    ("Expires", str(expires)),
                    (
                        "Contact",
                        f"<sip:{self.server_id}@{self.stack.advertised_host}:{self.stack.port}>",
                    ),
                ],
            )
        except (DeviceUnavailable, SipTimeout):
            return False
        return 200 <= resp.status < 300

    def after_register(self, device_id: str) -> None:
        """Catalog and DeviceInfo right after a device comes online (and a subscription)."""

        async def run() -> None:
            try:
                await self.query_catalog(device_id, wait=False)
                await self.query(device_id, "DeviceInfo")
            except DeviceUnavailable as exc:
                log.info("post-register queries to %s: %s", device_id, exc)
            await self.subscribe_catalog(device_id)

        self.stack.schedule(run())
