"""Event subscriptions the platform holds on devices (9.11, J.18: ``Event: presence``).

Alarm and MobilePosition subscriptions are SUBSCRIBE dialogs whose body is the
matching Query (A.2.4 e, h). :class:`SubscriptionTable` is the sans-IO part: it
knows each dialog and when it is due for refresh (``next_timer``); the
:class:`EventSubscriber` sends the SUBSCRIBEs and drives the table's timers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sharpeyes.devices.messaging import MANSCDP_TYPE, DeviceMessaging, DeviceUnavailable
from sharpeyes.gb28181 import manscdp
from sharpeyes.gb28181.message import SipParseError, parse_name_addr
from sharpeyes.sip.stack import SipTimeout, new_call_id, new_tag

log = logging.getLogger(__name__)

REFRESH_FRACTION = 0.75  # refresh when three quarters of the granted time has passed
RETRY_AFTER = 10.0


class EventKind(StrEnum):
    ALARM = "Alarm"
    MOBILE_POSITION = "MobilePosition"


@dataclass
class EventSubscription:
    """One dialog: identifiers to refresh it in-dialog and the body it re-sends."""

    device_id: str
    kind: EventKind
    call_id: str
    from_tag: str
    sn: int
    fields: dict[str, Any]
    expires: int
    cseq: int = 1
    to_tag: str | None = None
    refresh_at: float = 0.0
    refreshes: int = 0
    active: bool = False
    last_error: str | None = field(default=None)

    def as_dict(self) -> dict[str, Any]:
        return {
            "device_id": self.device_id,
            "kind": self.kind.value,
            "expires": self.expires,
            "active": self.active,
            "refreshes": self.refreshes,
            "refresh_at": self.refresh_at,
            "fields": self.fields,
            "last_error": self.last_error,
        }


class SubscriptionTable:
    """Dialogs keyed by (device, kind); pure bookkeeping on an injected ``now``."""

    def __init__(self, fraction: float = REFRESH_FRACTION) -> None:
        self.fraction = fraction
        self._subs: dict[tuple[str, EventKind], EventSubscription] = {}

    def get(self, device_id: str, kind: EventKind) -> EventSubscription | None:
        return self._subs.get((device_id, kind))

    def put(self, sub: EventSubscription) -> None:
        self._subs[(sub.device_id, sub.kind)] = sub

    def drop(self, device_id: str, kind: EventKind) -> EventSubscription | None:
        return self._subs.pop((device_id, kind), None)

    def of_device(self, device_id: str) -> list[EventSubscription]:
        return [s for (d, _), s in self._subs.items() if d == device_id]

    def granted(self, sub: EventSubscription, expires: int, now: float) -> None:
        """A 2xx arrived: the dialog lives ``expires`` seconds; refresh before then."""
        sub.expires = expires
        sub.active = expires > 0
        sub.last_error = None
        sub.refresh_at = now + max(1.0, expires * self.fraction)

    def failed(self, sub: EventSubscription, error: str, now: float) -> None:
        sub.last_error = error
        sub.refresh_at = now + RETRY_AFTER

    def due(self, now: float) -> list[EventSubscription]:
        return [s for s in self._subs.values() if s.refresh_at <= now]

    def next_timer(self) -> float | None:
        return min((s.refresh_at for s in self._subs.values()), default=None)


def _granted_expires(headers: Any, asked: int) -> int:
    value = (headers.get("Expires") or "").strip()
    return int(value) if value.isdigit() else asked


class EventSubscriber:
    """Sends Alarm / MobilePosition SUBSCRIBEs and keeps them refreshed."""

    def __init__(self, messaging: DeviceMessaging, *, fraction: float = REFRESH_FRACTION) -> None:
        self.messaging = messaging
        self.table = SubscriptionTable(fraction)
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def subscribe(
        self, device_id: str, kind: EventKind, fields: Mapping[str, Any], expires: int
    ) -> EventSubscription:
        """New dialog (or a refresh of the existing one with new fields/expiry)."""
        sub = self.table.get(device_id, kind)
        if sub is None or not sub.active:
            stack = self.messaging.stack
            sub = EventSubscription(
                device_id=device_id,
                kind=kind,
                call_id=new_call_id(stack.advertised_host),
                from_tag=new_tag(),
                sn=self.messaging.next_sn(),
                fields=dict(fields),
                expires=expires,
            )
        else:
            sub.fields = dict(fields)
            sub.expires = expires
        await self._send(sub, expires)
        self.table.put(sub)
        self._wake.set()
        return sub

    async def unsubscribe(self, device_id: str, kind: EventKind) -> bool:
        sub = self.table.drop(device_id, kind)
        if sub is None:
            return False
        with contextlib.suppress(DeviceUnavailable, SipTimeout):
            await self._send(sub, 0)
        return True

    async def _send(self, sub: EventSubscription, expires: int) -> None:
        m = self.messaging
        live = m.target(sub.device_id)
        assert live.peer is not None  # target() guarantees an address
        stack = m.stack
        body = manscdp.build_manscdp(
            "Query", sub.kind.value, sub.sn, sub.device_id, sub.fields, charset=live.charset
        )
        req = stack.build_request(
            "SUBSCRIBE",
            f"sip:{live.id}@{live.peer.host}:{live.peer.port}",
            from_uri=f"sip:{m.server_id}@{m.domain}",
            to_uri=f"sip:{live.id}@{m.domain}",
            from_tag=sub.from_tag,
            to_tag=sub.to_tag,
            call_id=sub.call_id,
            cseq=sub.cseq,
            contact=f"sip:{m.server_id}@{stack.advertised_host}:{stack.port}",
            headers=[("Event", "presence"), ("Expires", str(expires))],
            body=body,
            content_type=MANSCDP_TYPE,
        )
        sub.cseq += 1
        try:
            resp = await stack.request(req, live.peer)
        except SipTimeout as exc:
            raise DeviceUnavailable(f"device {live.id} did not answer SUBSCRIBE", 504) from exc
        if resp.status >= 300:
            if resp.status == 481:  # the device forgot the dialog: start a new one next time
                sub.active, sub.to_tag = False, None
            raise DeviceUnavailable(f"device answered {resp.status} {resp.reason}", 502)
        with contextlib.suppress(SipParseError, KeyError):
            sub.to_tag = parse_name_addr(resp.headers["To"]).tag or sub.to_tag
        self.table.granted(sub, _granted_expires(resp.headers, expires), time.time())

    async def refresh_due(self, now: float) -> int:
        """Refresh every dialog whose timer has passed; returns how many succeeded."""
        done = 0
        for sub in self.table.due(now):
            if not sub.active:
                sub.to_tag = None
                sub.call_id = new_call_id(self.messaging.stack.advertised_host)
                sub.from_tag, sub.cseq = new_tag(), 1
            try:
                await self._send(sub, sub.expires)
            except DeviceUnavailable as exc:
                self.table.failed(sub, str(exc), time.time())
                continue
            sub.refreshes += 1
            done += 1
        return done

    async def _loop(self) -> None:
        while True:
            nxt = self.table.next_timer()
            delay = 1.0 if nxt is None else min(1.0, max(0.0, nxt - time.time()))
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)
            try:
                await self.refresh_due(time.time())
            except Exception:
                log.exception("subscription refresh failed")
