"""Platform alarms raised from other domains' events: an upper-platform link down, the
recording disk guard, an RTSP pull's reconnect storm — and their recovery."""

from __future__ import annotations

import pytest

from sharpeyes.events import Event
from sharpeyes.node import Node

from .conftest import NodeFactory

pytestmark = pytest.mark.db


async def _active(node: Node, kind: str) -> list[dict[str, object]]:
    return await node.health.alarms.list(state="active", kind=kind)


async def test_uplink_disk_and_pull_storm_become_alarms(make_node: NodeFactory) -> None:
    node = await make_node()
    health = node.health
    await health.on_event(
        Event(
            "cascade.upper.state",
            {
                "upper_id": 3,
                "server_id": "34000000002000000001",
                "state": "failed",
                "error": "timeout",
            },
        )
    )
    [up] = await _active(node, "uplink_down")
    assert up["level"] == "urgent" and "timeout" in str(up["message"])
    await health.on_event(
        Event("cascade.upper.state", {"upper_id": 3, "state": "registered", "error": None})
    )
    assert await _active(node, "uplink_down") == []

    await health.on_event(
        Event("recording.disk_guard", {"deleted": 12, "used_bytes": 9, "quota_bytes": 8})
    )
    [disk] = await _active(node, "disk_low")
    assert disk["level"] == "urgent" and "12" in str(disk["message"])

    gb = "34152200001328000001"
    await health.on_event(Event("proxy.reconnect_storm", {"device_id": gb, "failures": 5}))
    [storm] = await _active(node, "media_timeouts")
    assert storm["device_id"] == gb
    await health.on_event(Event("proxy.state", {"device_id": gb, "state": "connecting"}))
    assert len(await _active(node, "media_timeouts")) == 1  # not yet streaming again
    await health.on_event(Event("proxy.state", {"device_id": gb, "state": "streaming"}))
    assert await _active(node, "media_timeouts") == []
