"""Platform alarms raised from other domains' events: an upper-platform link down, the
recording disk guard, an RTSP pull's reconnect storm — and their recovery."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from sharpeyes.events import Event
from sharpeyes.node import Node
from sharpeyes.recording.models import RecordSegment
from sharpeyes.store.models import Channel, Device

from .conftest import NodeFactory, login

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


async def test_a_gap_in_a_planned_channels_recording_raises_and_clears(
    make_node: NodeFactory, tmp_path: Path
) -> None:
    node = await make_node(recording={"path": str(tmp_path / "rec"), "segment_s": 60.0})
    node.recording.recorder._task.cancel()  # type: ignore[union-attr]  # nothing records
    dev, ch_id = "34152200001320000001", "34152200001310000001"
    async with node.db.session() as s:
        s.add(Device(id=dev))
        await s.flush()
        ch = Channel(device_id=dev, channel_id=ch_id, civil_code="341522", kind="channel")
        s.add(ch)
        await s.commit()
        pk = ch.id
    api = await login(node)
    r = await api.post(
        "/api/recording/plans", json={"name": "all day", "channels": [pk], "storage_days": 3}
    )
    assert r.status_code == 201, r.text
    await api.aclose()
    now = datetime.now(UTC)
    raised = await node.health.check_recording_gaps(now)
    assert raised == [f"recording_gap:{dev}/{ch_id}"]
    [gap] = await _active(node, "recording_gap")
    assert (gap["channel_id"], gap["region_code"], gap["level"]) == (ch_id, "341522", "important")
    assert gap["detail"]["missing_s"] == pytest.approx(600.0)  # nothing of the window
    # the recording catches up: segments cover the whole window → the alarm recovers
    end = now.timestamp()
    async with node.db.session() as s:
        s.add(
            RecordSegment(
                channel_pk=pk,
                channel_id=ch_id,
                start=end - 3600,
                end=end,
                bytes=1,
                path=f"{ch_id}/a.mp4",
                codec="h264",
                fmt="fmp4",
                frames=1,
                keep_until=end + 86400,
                complete=True,
            )
        )
        await s.commit()
    assert await node.health.check_recording_gaps(now) == []
    assert await _active(node, "recording_gap") == []
    # a short hole (below recording_gap_min_s) is not an alarm
    async with node.db.session() as s:
        seg = (await s.execute(select(RecordSegment))).scalar_one()
        seg.end = end - 60 - 5 - 30  # 30 s of the window missing
        await s.commit()
    assert await node.health.check_recording_gaps(now) == []
