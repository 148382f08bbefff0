"""Helpers for the recording tests: cameras with a synthetic recording index, polling."""

from __future__ import annotations

import time
from typing import Any

import httpx

from sharpeyes.node import Node
from sharpeyes.sim.media import SimMediaConfig
from sharpeyes.sim.recordings import SimRecordingConfig, records

from .devices_helpers import eventually, fleet_for, ipc
from .live_helpers import FAST, Camera


async def recording_camera(
    node: Node,
    api: httpx.AsyncClient,
    n: int = 1,
    *,
    transport: str = "udp",
    recordings: SimRecordingConfig | None = None,
) -> Camera:
    fleet = fleet_for(node)
    d = fleet.add(ipc(n, media=SimMediaConfig(), recordings=recordings or SimRecordingConfig()))
    await fleet.start()
    assert await fleet.register_all() == {200: 1}
    channel_id = d.channels[0].channel_id

    async def listed() -> bool:
        r = await api.get("/api/channels", params={"q": channel_id})
        return r.json()["total"] == 1 and r.json()["items"][0]["online"]

    await eventually(listed, 15)
    ch = (await api.get("/api/channels", params={"q": channel_id})).json()["items"][0]
    if transport != "udp":
        r = await api.patch(f"/api/devices/{d.device_id}", json={"media_transport": transport})
        assert r.status_code == 200, r.text
    return Camera(fleet, d, ch)


def recorded_range(cam: Camera, length: int) -> tuple[int, int]:
    """A range of ``length`` seconds inside one of the camera's (simulated) files."""
    cfg = cam.device.config.recordings
    now = int(time.time())
    for item in records(cfg, cam.channel["channel_id"], now - 86400, now - 3600):
        if item.end - item.start >= length + 120:
            return item.start + 60, item.start + 60 + length
    raise AssertionError("no recorded file long enough")


def fast(**extra: Any) -> dict[str, Any]:
    return {**FAST, "idle_grace_s": 5.0, "invite_timeout_s": 10.0, **extra}
