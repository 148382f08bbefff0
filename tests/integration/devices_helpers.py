"""Shared helpers for the device integration tests: simulated devices and polling."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import websockets

from sharpeyes.node import Node
from sharpeyes.sim.device import SimChannel, SimDeviceConfig
from sharpeyes.sim.fleet import SimFleet

CENTER = "34020000"


def device_id(n: int, type_code: int = 132) -> str:
    return f"{CENTER}00{type_code}0{n:06d}"


def ipc(n: int, password: str = "12345678", **kw: Any) -> SimDeviceConfig:
    cam = SimChannel(
        channel_id=f"{CENTER}0013100{n:05d}",
        name=f"测试枪机{n}号",
        civil_code="34020001",
        longitude=117.123451,
        latitude=31.654321,
    )
    return SimDeviceConfig(
        device_id=device_id(n), password=password, kind="ipc", channels=[cam], **kw
    )


def nvr(n: int, channels: int = 8, password: str = "12345678", **kw: Any) -> SimDeviceConfig:
    cams = [
        SimChannel(
            channel_id=f"{CENTER}00131{n:03d}{c:04d}",
            name=f"录像机{n}通道{c}",
            civil_code="34020002",
            longitude=117.2 + c / 1000 + 0.000001,
            latitude=31.8 + c / 1000 + 0.000001,
            ptz_type=1 if c == 1 else 3,
        )
        for c in range(1, channels + 1)
    ]
    return SimDeviceConfig(
        device_id=device_id(n, 118), password=password, kind="nvr", channels=cams, **kw
    )


def fleet_for(node: Node, transport: str = "udp") -> SimFleet:
    sip = node.settings.sip
    return SimFleet(
        server=("127.0.0.1", node.stack.port),
        server_id=sip.id,
        domain=sip.domain,
        transport=transport,
    )


async def eventually(
    check: Callable[[], Awaitable[bool]] | Callable[[], bool], timeout: float = 10.0
) -> None:
    """Poll until ``check`` is true; fail with a timeout otherwise."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(0.05)


class EventReader:
    """Collects WebSocket events from /api/events in the background."""

    def __init__(self, node: Node, token: str) -> None:
        self.url = f"ws://127.0.0.1:{node.http_port}/api/events?token={token}"
        self.events: list[dict[str, Any]] = []
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def __aenter__(self) -> EventReader:
        self._task = asyncio.create_task(self._run())
        await asyncio.wait_for(self._ready.wait(), 5)
        return self

    async def _run(self) -> None:
        async with websockets.connect(self.url) as ws:
            self._ready.set()
            async for raw in ws:
                self.events.append(json.loads(raw))

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)

    def of(self, type_: str, **match: Any) -> list[dict[str, Any]]:
        return [
            e
            for e in self.events
            if e["type"] == type_ and all(e["data"].get(k) == v for k, v in match.items())
        ]
