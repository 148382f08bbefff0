"""In-process event bus: services publish after their state is stored.

Subscribers get their own bounded queue so a slow WebSocket client loses its
oldest events (and is told so) rather than slowing the SIP path. A broker
adapter (NATS/Redis) for scale-out will implement the same two methods.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Event:
    """``type`` is dotted; ``data`` has the keys of its TypedDict in ``event_types.CATALOGUE``.

    Devices: device.online/offline/pending/deleted/provisioned, channel.online/offline,
    catalog.changed, alarm, alarm.updated. Streams: stream.started/stopped, media.status,
    mobile.position, recording.disk_guard. Proxies: proxy.created/deleted/state/
    reconnect_storm. Cascade: cascade.upper.created/updated/deleted/state,
    cascade.channels.changed, cascade.forward.started/stopped. Sharing and audit:
    grant.changed, audit.view. Ledger and jobs: ledger.changed, ledger.exported,
    job.updated. O&M: om.alarm.<event>, om.workorder.
    """

    type: str
    data: dict[str, Any]
    at: float = field(default_factory=time.time)

    def as_dict(self) -> dict[str, Any]:
        return {"type": self.type, "at": self.at, "data": self.data}


class Subscription:
    def __init__(self, maxsize: int) -> None:
        self.queue: asyncio.Queue[Event] = asyncio.Queue(maxsize)
        self.dropped = 0

    def offer(self, event: Event) -> None:
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait(event)

    async def get(self) -> Event:
        return await self.queue.get()


class EventBus:
    def __init__(self) -> None:
        self._subs: set[Subscription] = set()
        self.published = 0

    def publish(self, type_: str, **data: Any) -> Event:
        event = Event(type_, data)
        self.published += 1
        for sub in self._subs:
            sub.offer(event)
        return event

    @contextmanager
    def subscribe(self, maxsize: int = 1000) -> Iterator[Subscription]:
        sub = Subscription(maxsize)
        self._subs.add(sub)
        try:
            yield sub
        finally:
            self._subs.discard(sub)
