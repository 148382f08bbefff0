"""Helpers for the live-video tests: simulated cameras, a WebSocket fMP4 reader, HLS fetches."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
from dataclasses import dataclass, field
from typing import Any

import av
import httpx
import websockets

from sharpeyes.node import Node
from sharpeyes.sim.device import SimDevice
from sharpeyes.sim.fleet import SimFleet
from sharpeyes.sim.media import SimMediaConfig

from .conftest import NodeFactory, login
from .devices_helpers import eventually, fleet_for, ipc

# Short timers so failure paths finish quickly; large enough for a loaded CI box.
# invite_timeout_s: generous, since a device on a loaded CI box can take seconds to answer;
# only the silent-device test waits it out.
FAST = {"idle_grace_s": 1.0, "no_rtp_timeout_s": 2.0, "invite_timeout_s": 8.0}


@dataclass
class Camera:
    fleet: SimFleet
    device: SimDevice
    channel: dict[str, Any]

    @property
    def pk(self) -> int:
        return int(self.channel["id"])

    def invites(self) -> int:
        return sum(1 for m, _ in self.device.received if m == "INVITE")

    def byes(self) -> int:
        return sum(1 for m, _ in self.device.received if m == "BYE")


async def live_node(make_node: NodeFactory, **media: Any) -> tuple[Node, httpx.AsyncClient]:
    node = await make_node(media={**FAST, **media})
    return node, await login(node)


async def add_cameras(
    node: Node,
    api: httpx.AsyncClient,
    numbers: list[int],
    *,
    transport: str = "udp",
    media: SimMediaConfig | None = None,
    faults: set[str] | None = None,
    sip_transport: str = "udp",
) -> list[Camera]:
    """Register IPCs, wait for their channels, set the device's media transport."""
    fleet = fleet_for(node, sip_transport)
    devices = [
        fleet.add(ipc(n, media=media or SimMediaConfig(), faults=set(faults or ())))
        for n in numbers
    ]
    await fleet.start()
    statuses = await fleet.register_all()
    assert statuses == {200: len(numbers)}, statuses
    out = []
    for d in devices:
        channel_id = d.channels[0].channel_id

        async def listed(cid: str = channel_id) -> bool:
            r = await api.get("/api/channels", params={"q": cid})
            return r.json()["total"] == 1 and r.json()["items"][0]["online"]

        await eventually(listed, 15)
        ch = (await api.get("/api/channels", params={"q": channel_id})).json()["items"][0]
        if transport != "udp":
            r = await api.patch(f"/api/devices/{d.device_id}", json={"media_transport": transport})
            assert r.status_code == 200, r.text
        out.append(Camera(fleet, d, ch))
    return out


async def camera(node: Node, api: httpx.AsyncClient, n: int = 1, **kw: Any) -> Camera:
    return (await add_cameras(node, api, [n], **kw))[0]


@dataclass
class WsReader:
    """Reads the fMP4 WebSocket: JSON messages, init segment, fragments; decodes with PyAV."""

    url: str
    texts: list[dict[str, Any]] = field(default_factory=list)
    binaries: list[bytes] = field(default_factory=list)
    close_code: int | None = None
    _task: asyncio.Task[None] | None = None
    _ws: Any = None

    async def start(self) -> WsReader:
        self._ws = await websockets.connect(self.url, max_size=None)
        self._task = asyncio.create_task(self._run())
        return self

    async def _run(self) -> None:
        try:
            async for msg in self._ws:
                if isinstance(msg, str):
                    self.texts.append(json.loads(msg))
                else:
                    self.binaries.append(msg)
        except websockets.ConnectionClosed:
            pass
        self.close_code = self._ws.close_code

    @property
    def ended(self) -> dict[str, Any] | None:
        return next((t for t in self.texts if t.get("type") == "end"), None)

    def frames(self) -> int:
        """Video frames decodable from everything received so far."""
        if not self.binaries:
            return 0
        with av.open(io.BytesIO(b"".join(self.binaries)), format="mp4") as c:
            return sum(1 for _ in c.decode(video=0))

    def decode(self) -> list[av.VideoFrame]:
        with av.open(io.BytesIO(b"".join(self.binaries)), format="mp4") as c:
            return list(c.decode(video=0))

    async def wait_frames(self, n: int, timeout: float = 15.0) -> None:
        async def enough() -> bool:
            return len(self.binaries) > n and self.frames() >= n

        await eventually(enough, timeout)

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._task, 5)


async def play(api: httpx.AsyncClient, pk: int, stream: str = "main") -> dict[str, Any]:
    r = await api.post(f"/api/channels/{pk}/play", json={"stream": stream})
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def streams(api: httpx.AsyncClient) -> dict[str, Any]:
    r = await api.get("/api/streams")
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def seed_bits(frame: av.VideoFrame, bits: int = 16) -> int:
    """Read back the seed the test video draws as black/white blocks (see media.testvideo)."""
    width, height = frame.width, frame.height
    gray = frame.reformat(format="gray")
    plane = gray.planes[0]
    line = plane.line_size
    data = bytes(plane)
    block = max(4, width // (bits + 4)) & ~1
    value = 0
    for bit in range(bits):
        x = block * (bit + 1) + block // 2
        y = block + block // 2
        if x >= width or y >= height:
            break
        value = (value << 1) | (1 if data[y * line + x] > 128 else 0)
    return value
