"""Event-bus NATS adapter: several control nodes see the same events.

Local events go out on ``sharpeyes.events.<type>`` tagged with this node's origin;
events from other origins are published on the local bus. An event that came in is
never sent out again (no loops between nodes)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from typing import Any

import nats
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg

from sharpeyes.events import Event, EventBus

log = logging.getLogger(__name__)
PREFIX = "sharpeyes.events."
MAX_BODY = 256 * 1024


class NatsEventBridge:
    def __init__(self, bus: EventBus, nats_url: str, origin: str | None = None) -> None:
        self.bus = bus
        self.nats_url = nats_url
        self.origin = origin or uuid.uuid4().hex
        self._incoming: set[int] = set()  # id() of events we put on the bus from NATS
        self._nc: NatsClient | None = None
        self._task: asyncio.Task[None] | None = None
        self.sent = self.received = 0

    async def start(self) -> None:
        self._nc = await nats.connect(self.nats_url, max_reconnect_attempts=-1)
        await self._nc.subscribe(PREFIX + ">", cb=self._on_msg)
        # a round trip: the server has our SUB before start() returns, so an event
        # another node publishes right after is not missed
        await self._nc.flush()
        ready = asyncio.Event()
        self._task = asyncio.create_task(self._forward(ready))
        await ready.wait()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._nc is not None:
            await self._nc.drain()

    async def _forward(self, ready: asyncio.Event) -> None:
        assert self._nc is not None
        with self.bus.subscribe(maxsize=10_000) as sub:
            ready.set()
            while True:
                ev: Event = await sub.get()
                if id(ev) in self._incoming:
                    self._incoming.discard(id(ev))
                    continue
                body = {"origin": self.origin, "type": ev.type, "at": ev.at, "data": ev.data}
                await self._nc.publish(PREFIX + ev.type, json.dumps(body, default=str).encode())
                self.sent += 1

    async def _on_msg(self, msg: Msg) -> None:
        if len(msg.data) > MAX_BODY:
            return
        try:
            body: dict[str, Any] = json.loads(msg.data)
            origin, type_, data = body["origin"], str(body["type"]), dict(body["data"])
        except (ValueError, KeyError, TypeError):
            log.warning("event from NATS refused: invalid body")
            return
        if origin == self.origin:
            return
        ev = self.bus.publish(type_, **{str(k): v for k, v in data.items()})
        self._incoming.add(id(ev))
        self.received += 1
