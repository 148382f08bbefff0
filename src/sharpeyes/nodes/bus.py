"""NATS glue for both sides of the media plane.

``MediaNodeAgent`` runs in a media node: it answers open/close requests by binding RTP
receivers from its port range, and publishes heartbeats and stream events.
``ControlLink`` runs in the control node: it feeds heartbeats to a :class:`NodeRegistry`,
ticks it, reports lost nodes' streams (``media_node_lost``) and asks the placed node to
open receivers.  Why NATS: request/reply plus fan-out subjects with no broker state to
keep consistent; a media node restart is just a new heartbeat.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import nats
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from pydantic import BaseModel, ValidationError

from sharpeyes.live.ports import PortPool, PortsExhausted
from sharpeyes.live.session import EndReason
from sharpeyes.nodes.protocol import (
    EVENT_SUBJECT,
    HEARTBEAT_SUBJECT,
    Heartbeat,
    OpenReceiver,
    OpenReply,
    StreamEvent,
    StreamEventKind,
    Verb,
    request_subject,
)
from sharpeyes.nodes.registry import Lost, NodeRegistry, Rejoin
from sharpeyes.nodes.settings import MediaNodeSettings

log = logging.getLogger(__name__)
MAX_BODY = 64 * 1024


class NodeRequestFailed(Exception):
    """The media node refused or did not answer."""


def _reply(body: BaseModel | dict[str, Any]) -> bytes:
    if isinstance(body, BaseModel):
        return body.model_dump_json().encode()
    import json

    return json.dumps(body).encode()


class _Receiver(asyncio.DatagramProtocol):
    def __init__(self, on_first: Callable[[], object]) -> None:
        self.packets = 0
        self.bytes = 0
        self._on_first = on_first

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.packets += 1
        self.bytes += len(data)
        if self.packets == 1:
            self._on_first()


@dataclass(slots=True)
class _Held:
    port: int
    transport: asyncio.DatagramTransport
    proto: _Receiver
    opened: float = field(default_factory=time.monotonic)


class MediaNodeAgent:
    """A media node's NATS side: receivers by request, heartbeats on a timer."""

    def __init__(self, settings: MediaNodeSettings, nats_url: str) -> None:
        self.settings = settings
        self.nats_url = nats_url
        self.pool = PortPool(*settings.port_range)
        self.streams: dict[str, _Held] = {}
        self.started_at = time.time()
        self._nc: NatsClient | None = None
        self._task: asyncio.Task[None] | None = None
        self._lag_ms = 0.0
        self._http: Any = None
        self._http_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._nc = await nats.connect(self.nats_url, max_reconnect_attempts=-1)
        for verb, cb in ((Verb.OPEN, self._on_open), (Verb.CLOSE, self._on_close)):
            await self._nc.subscribe(request_subject(self.settings.id, verb), cb=cb)
        self._task = asyncio.create_task(self._beat())
        await self._start_http()

    async def _start_http(self) -> None:
        import uvicorn

        from sharpeyes.nodes.viewers import viewer_app

        s = self.settings
        app = viewer_app(s.id, s.token_public_key, lambda stream: stream in self.streams)
        config = uvicorn.Config(
            app, host=s.http_host, port=s.http_port, log_level="warning", lifespan="off"
        )
        server = uvicorn.Server(config)
        server.install_signal_handlers = lambda: None  # type: ignore[attr-defined,unused-ignore]
        self._http = server
        self._http_task = asyncio.create_task(server.serve())
        while not server.started:
            if self._http_task.done():
                self._http_task.result()
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        if self._http is not None and self._http_task is not None:
            self._http.should_exit = True
            await self._http_task
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for name in list(self.streams):
            await self._end(name, reason=EndReason.SHUTDOWN.value)
        if self._nc is not None:
            await self._nc.drain()

    def heartbeat(self) -> Heartbeat:
        s = self.settings
        return Heartbeat(
            id=s.id,
            host=s.advertised_host,
            pid=os.getpid(),
            http_url=f"http://{s.advertised_host}:{s.http_port}",
            capacity=s.capacity,
            streams=sorted(self.streams),
            cpu=os.getloadavg()[0],
            loop_lag_ms=self._lag_ms,
            bytes_per_s=0.0,
            started_at=self.started_at,
        )

    async def _beat(self) -> None:
        assert self._nc is not None
        loop = asyncio.get_running_loop()
        while True:
            await self._nc.publish(HEARTBEAT_SUBJECT, _reply(self.heartbeat()))
            due = loop.time() + self.settings.heartbeat_s
            await asyncio.sleep(self.settings.heartbeat_s)
            self._lag_ms = max(0.0, (loop.time() - due) * 1000)

    async def _event(self, stream: str, kind: StreamEventKind, reason: str | None = None) -> None:
        if self._nc is not None:
            ev = StreamEvent(node=self.settings.id, stream=stream, kind=kind, reason=reason)
            await self._nc.publish(EVENT_SUBJECT, _reply(ev))

    async def _on_open(self, msg: Msg) -> None:
        try:
            req = OpenReceiver.model_validate_json(msg.data[:MAX_BODY])
        except ValidationError:
            await msg.respond(_reply({"error": "bad request"}))
            return
        if req.stream in self.streams:
            held = self.streams[req.stream]
            await msg.respond(_reply(OpenReply(port=held.port, host=self.settings.advertised_host)))
            return
        if len(self.streams) >= self.settings.capacity:
            await msg.respond(_reply({"error": "capacity"}))
            return
        if req.transport != "udp":
            await msg.respond(_reply({"error": "transport not supported on media nodes yet"}))
            return
        try:
            held = await self._bind(req.stream)
        except (PortsExhausted, OSError):
            await msg.respond(_reply({"error": "no port"}))
            return
        self.streams[req.stream] = held
        await msg.respond(_reply(OpenReply(port=held.port, host=self.settings.advertised_host)))

    async def _bind(self, stream: str) -> _Held:
        loop = asyncio.get_running_loop()
        for _ in range(self.pool.size):
            port = self.pool.reserve()
            try:
                transport, proto = await loop.create_datagram_endpoint(
                    lambda: _Receiver(
                        lambda: loop.create_task(self._event(stream, StreamEventKind.FIRST_PACKET))
                    ),
                    local_addr=(self.settings.advertised_host, port),
                    family=socket.AF_INET,
                )
            except OSError:
                self.pool.release(port)
                continue
            return _Held(port=port, transport=transport, proto=proto)
        raise PortsExhausted("no bindable port")

    async def _on_close(self, msg: Msg) -> None:
        try:
            req = OpenReceiver.model_validate_json(msg.data[:MAX_BODY])
        except ValidationError:
            await msg.respond(_reply({"error": "bad request"}))
            return
        await self._end(req.stream, reason=EndReason.STOPPED.value)
        await msg.respond(_reply({"ok": True}))

    async def _end(self, stream: str, reason: str) -> None:
        held = self.streams.pop(stream, None)
        if held is None:
            return
        held.transport.close()
        self.pool.release(held.port)
        await self._event(stream, StreamEventKind.ENDED, reason)


LostHandler = Callable[[Lost], Awaitable[None]]
OrphanHandler = Callable[[str, str], Awaitable[None]]


class ControlLink:
    """The control node's NATS side.  ``on_lost`` ends the lost node's streams with
    ``media_node_lost`` (BYE, viewers told); ``on_orphan(node, stream)`` is called for
    streams a node announces that this control node did not place (it restarted):
    the default closes them cleanly on the node."""

    def __init__(
        self,
        nats_url: str,
        registry: NodeRegistry,
        on_lost: LostHandler,
        on_orphan: OrphanHandler | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.nats_url = nats_url
        self.registry = registry
        self.on_lost = on_lost
        self.on_orphan = on_orphan or self.close_stream
        self.clock, self.wall = clock, wall
        self.events: asyncio.Queue[StreamEvent] = asyncio.Queue(10_000)
        self._nc: NatsClient | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    async def start(self) -> None:
        self._nc = await nats.connect(self.nats_url, max_reconnect_attempts=-1)
        await self._nc.subscribe(HEARTBEAT_SUBJECT, cb=self._on_heartbeat)
        await self._nc.subscribe(EVENT_SUBJECT, cb=self._on_event)
        self._task = asyncio.create_task(self._ticker())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._nc is not None:
            await self._nc.drain()

    async def _on_heartbeat(self, msg: Msg) -> None:
        try:
            hb = Heartbeat.model_validate_json(msg.data[:MAX_BODY])
        except ValidationError:
            log.warning("media node heartbeat refused: invalid body")
            return
        rejoin: Rejoin = self.registry.heartbeat(hb, self.clock(), self.wall())
        self._wake.set()
        for stream in sorted(rejoin.orphans):
            await self.on_orphan(rejoin.node, stream)

    async def _on_event(self, msg: Msg) -> None:
        try:
            ev = StreamEvent.model_validate_json(msg.data[:MAX_BODY])
        except ValidationError:
            return
        if ev.kind is StreamEventKind.ENDED and self.registry.owner(ev.stream) == ev.node:
            self.registry.release(ev.stream)
        if self.events.full():
            self.events.get_nowait()
        self.events.put_nowait(ev)

    async def _ticker(self) -> None:
        while True:
            for lost in self.registry.tick(self.clock()):
                log.warning("media node %s lost with %d streams", lost.node, len(lost.streams))
                await self.on_lost(lost)
            due = self.registry.next_timer()
            timeout = 1.0 if due is None else max(0.05, min(1.0, due - self.clock()))
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    async def _request(self, node_id: str, verb: Verb, body: BaseModel) -> dict[str, Any]:
        import json

        assert self._nc is not None
        try:
            msg = await self._nc.request(request_subject(node_id, verb), _reply(body), timeout=3.0)
        except (nats.errors.TimeoutError, nats.errors.NoRespondersError) as e:
            raise NodeRequestFailed(f"{node_id}: no answer") from e
        data: dict[str, Any] = json.loads(msg.data)
        if "error" in data:
            raise NodeRequestFailed(f"{node_id}: {data['error']}")
        return data

    async def open_receiver(self, req: OpenReceiver) -> tuple[str, OpenReply]:
        """Place the stream on the least-loaded live node and open its receiver there."""
        node = self.registry.place(req.stream)
        try:
            data = await self._request(node.hb.id, Verb.OPEN, req)
        except NodeRequestFailed:
            self.registry.release(req.stream)
            raise
        return node.hb.id, OpenReply.model_validate(data)

    async def close_stream(self, node_id: str, stream: str) -> None:
        with contextlib.suppress(NodeRequestFailed):
            await self._request(node_id, Verb.CLOSE, OpenReceiver(stream=stream, ssrc=0))
        self.registry.release(stream)
