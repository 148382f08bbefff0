"""Platform recording end to end: plans, segments on disk and in the index, gaps, playback
from segments, clip export, retention, the disk guard, and repair after a crash."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from sharpeyes.node import Node
from sharpeyes.recording.models import RecordSegment
from sharpeyes.recording.segments import whole_boxes
from tests.media_fixtures import FFPROBE, needs_ffmpeg

from .conftest import NodeFactory, login
from .devices_helpers import eventually
from .live_helpers import Camera, WsReader
from .recording_helpers import fast, recording_camera

pytestmark = pytest.mark.db


async def _node(make_node: NodeFactory, tmp_path: Path, **recording: Any) -> Node:
    return await make_node(
        media=fast(),
        recording={
            "path": str(tmp_path / "rec"),
            "segment_s": 1.0,
            "retry_backoff_s": [0.5, 2.0],
            "retention_every_s": 3600,
            **recording,
        },
    )


async def _segments(node: Node, pk: int) -> list[RecordSegment]:
    return await node.recording.store.segments(pk, 0, 1e12)


async def _plan(api: httpx.AsyncClient, cam: Camera, **kw: Any) -> dict[str, Any]:
    r = await api.post(
        "/api/recording/plans",
        json={"name": "crossing", "channels": [cam.pk], "storage_days": 3, **kw},
    )
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def _complete(node: Node, pk: int, n: int) -> list[RecordSegment]:
    async def enough() -> bool:
        return sum(1 for s in await _segments(node, pk) if s.complete) >= n

    await eventually(enough, 30)
    return await _segments(node, pk)


async def test_plan_records_segments_gaps_and_playback_from_them(
    make_node: NodeFactory, tmp_path: Path
) -> None:
    node = await _node(make_node, tmp_path)
    api = await login(node)
    cam = await recording_camera(node, api)
    try:
        plan = await _plan(api, cam)
        assert plan["schedule"] == [] and plan["channels"] == [cam.pk]
        segs = await _complete(node, cam.pk, 6)  # >= 6 s before the hang-up: room for 4 s
        root = node.recording.store.root
        for s in segs:
            f = root / s.path
            assert f.is_file() and s.path.startswith(cam.channel["channel_id"] + "/")
            if s.complete:
                assert f.stat().st_size == s.bytes > 0 and s.codec == "h264"
                # cut at the first keyframe after 1 s (frames may come late on a busy box)
                assert 0.9 <= s.end - s.start <= 5.0
        # the recorder is a consumer of the live hub: a viewer does not cost an INVITE
        assert cam.invites() == 1
        r = await api.post(f"/api/channels/{cam.pk}/play", json={})
        assert r.status_code == 200 and cam.invites() == 1

        # the timeline reaches the segment still being written ("what just happened")
        now = int(time.time())
        r = await api.get(
            f"/api/channels/{cam.pk}/recordings",
            params={"start": now - 600, "end": now + 1, "source": "platform"},
        )
        assert r.status_code == 200, r.text
        tl = r.json()
        (span,) = tl["items"]
        assert span["source"] == "platform" and now - span["end"] < 4
        assert tl["gaps"][0]["start"] == now - 600

        # the camera hangs up: the hole is a gap, and the recorder INVITEs again
        await cam.device.hang_up()
        await eventually(lambda: cam.invites() == 2, 20)
        await _complete(node, cam.pk, len([s for s in segs if s.complete]) + 3)
        r = await api.get(
            f"/api/channels/{cam.pk}/recordings",
            params={"start": now - 600, "end": int(time.time()), "source": "platform"},
        )
        items = r.json()["items"]
        assert len(items) == 2 and items[0]["end"] < items[1]["start"]

        # playback from the segments: decodes, reports the recorded time, ends with eof
        first = (await _segments(node, cam.pk))[0]
        start = int(first.start) + 1
        r = await api.post(
            f"/api/channels/{cam.pk}/playback",
            json={"source": "platform", "start": start, "end": start + 4},
        )
        assert r.status_code == 200, r.text
        p = r.json()
        assert p["source"] == "platform" and p["codec"] == "h264"
        reader = await WsReader(p["ws_url"]).start()
        await reader.wait_frames(25, 20)
        await eventually(lambda: reader.ended is not None, 20)
        assert reader.ended["reason"] == "eof"
        frames = reader.decode()
        assert 90 <= len(frames) <= 140  # 4 s at 25 fps from the keyframe at or before start
        span_s = frames[-1].time - frames[0].time
        assert 3.5 <= span_s <= 5.2, span_s
        info = (await api.get("/api/streams")).json()
        ended = next(e for e in info["ended"] if e["id"] == p["session_id"])
        assert ended["end_reason"] == "eof" and 3.5 <= ended["position_s"] <= 4.0
        await reader.close()

        # 录像完好率 (for the health domain): recorded ÷ scheduled
        r = await api.get(f"/api/channels/{cam.pk}/recordings/integrity")
        integ = r.json()
        assert integ["scheduled_s"] == 86400 and 0 < integ["ratio"] < 0.01
        # … and as the health domain's 录像完好 per channel-day: far below the intact ratio
        today = integ["day"]
        code = cam.channel["channel_id"]
        assert await node.recording.recording_intact(
            {code, "00000000000000000000"}, today, today
        ) == {(code, today): False}
    finally:
        await cam.fleet.stop()


async def test_platform_playback_seek_pause_and_speed(
    make_node: NodeFactory, tmp_path: Path
) -> None:
    node = await _node(make_node, tmp_path)
    api = await login(node)
    cam = await recording_camera(node, api)
    try:
        await _plan(api, cam)
        segs = await _complete(node, cam.pk, 8)
        start = int(segs[0].start) + 1
        end = int(segs[7].end) - 1
        assert end - start >= 5
        p = (
            await api.post(
                f"/api/channels/{cam.pk}/playback",
                json={"source": "platform", "start": start, "end": end},
            )
        ).json()
        sid = p["session_id"]
        reader = await WsReader(p["ws_url"]).start()
        await reader.wait_frames(10, 20)

        async def position() -> float:
            info = (await api.get("/api/streams")).json()
            return next(s for s in info["items"] if s["id"] == sid)["position_s"]  # type: ignore[no-any-return]

        r = await api.post(f"/api/streams/{sid}/control", json={"action": "pause"})
        assert r.status_code == 200 and r.json()["paused"]
        await eventually(lambda: len(reader.binaries) > 0, 5)
        held = await position()
        before = len(reader.binaries)
        await asyncio.sleep(1.0)  # paused: nothing may arrive meanwhile
        assert len(reader.binaries) - before <= 1 and await position() - held < 0.1
        seek_to = end - start - 3
        r = await api.post(
            f"/api/streams/{sid}/control", json={"action": "seek", "position_s": seek_to}
        )
        assert r.status_code == 200, r.text

        async def moved() -> bool:
            pos = await position()
            return seek_to - 1.05 <= pos <= seek_to + 1.5  # the keyframe at or before

        await eventually(moved, 10)
        await api.post(f"/api/streams/{sid}/control", json={"action": "speed", "scale": 4})
        await eventually(lambda: reader.ended is not None, 10)
        assert reader.ended["reason"] == "eof"
        await reader.close()
    finally:
        await cam.fleet.stop()


@needs_ffmpeg
async def test_clip_export_retention_and_disk_guard(make_node: NodeFactory, tmp_path: Path) -> None:
    node = await _node(make_node, tmp_path)
    api = await login(node)
    cam = await recording_camera(node, api)
    try:
        await _plan(api, cam)
        segs = await _complete(node, cam.pk, 4)
        start, end = int(segs[0].start) + 1, int(segs[3].end) - 1
        with node.bus.subscribe() as sub:
            r = await api.post(f"/api/channels/{cam.pk}/clips", json={"start": start, "end": end})
            assert r.status_code == 202, r.text
            job_id = r.json()["job_id"]

            async def done() -> bool:
                j = (await api.get(f"/api/jobs/{job_id}")).json()
                assert j["state"] != "failed", j
                return j["state"] == "done"

            await eventually(done, 30)
            events = [sub.queue.get_nowait() for _ in range(sub.queue.qsize())]
        audits = [e.data for e in events if e.type == "audit.view"]
        assert [a["action"] for a in audits] == ["recording.export"]
        assert audits[0]["detail"]["job_id"] == job_id
        job = (await api.get(f"/api/jobs/{job_id}")).json()
        f = await api.get(job["file_url"])
        assert f.status_code == 200
        clip = tmp_path / "clip.mp4"
        clip.write_bytes(f.content)
        out = subprocess.run(
            [FFPROBE, "-v", "error", "-show_entries", "format=duration", "-of", "json", str(clip)],
            capture_output=True,
            text=True,
            check=True,
        )
        duration = float(json.loads(out.stdout)["format"]["duration"])
        assert end - start <= duration <= end - start + 1.1  # from the keyframe before start

        # retention: two days later everything kept for 3 days is still there ...
        store = node.recording.store
        before = await _segments(node, cam.pk)
        store.clock = lambda: time.time() + 2 * 86400
        assert await store.retention() == 0
        # ... four days later the finished segments go, files and rows, the open one stays
        store.clock = lambda: time.time() + 4 * 86400
        deleted = await store.retention()
        after = await _segments(node, cam.pk)
        assert deleted >= len([s for s in before if s.complete])
        assert {s.id for s in before if s.complete}.isdisjoint({a.id for a in after})
        assert all(s.start >= max(b.start for b in before) for s in after)  # only newer left
        for s in before:
            if s.complete and s.id not in {a.id for a in after}:
                assert not (store.root / s.path).exists()
        store.clock = time.time

        # disk guard: a quota below what is stored deletes the oldest, with an alarm
        await _complete(node, cam.pk, 3)
        used = await store.used_bytes()
        store.quota_bytes = used // 2
        with node.bus.subscribe() as sub:
            await store.disk_guard()
            events = [sub.queue.get_nowait() for _ in range(sub.queue.qsize())]
        assert await store.used_bytes() <= used // 2 + 1
        guard = [e.data for e in events if e.type == "recording.disk_guard"]
        assert guard and guard[0]["deleted"] >= 1
        remaining = await _segments(node, cam.pk)
        for s in remaining:
            assert (store.root / s.path).exists()
    finally:
        await cam.fleet.stop()


async def test_a_killed_node_restarts_with_a_consistent_index(
    make_node: NodeFactory, tmp_path: Path
) -> None:
    node = await _node(make_node, tmp_path)
    api = await login(node)
    cam = await recording_camera(node, api)
    await _plan(api, cam)
    await _complete(node, cam.pk, 2)
    store = node.recording.store

    async def open_row() -> bool:
        return any(not s.complete and s.bytes > 0 for s in await _segments(node, cam.pk))

    await eventually(open_row, 10)

    # "kill": nothing more is flushed or finalised, the last write is torn
    async def no_flush() -> None:
        return None

    store.flush = no_flush  # type: ignore[method-assign]
    node.recording.recorder._task.cancel()  # type: ignore[union-attr]
    rows = await _segments(node, cam.pk)
    torn = next(s for s in rows if not s.complete)
    with (store.root / torn.path).open("ab") as f:
        f.write(b"\x00\x00\x10\x00moof\x00\x00")  # half a box
    async with node.db.session() as s:  # a row whose file never got a byte
        s.add(
            RecordSegment(
                channel_pk=cam.pk,
                channel_id=cam.channel["channel_id"],
                start=torn.end + 1,
                end=torn.end + 1,
                bytes=0,
                path=f"{cam.channel['channel_id']}/never.mp4",
                codec="h264",
                fmt="fmp4",
                frames=0,
                keep_until=torn.end + 86400,
                complete=False,
            )
        )
        await s.commit()
    await cam.fleet.stop()
    await node.stop()

    again = await _node(make_node, tmp_path)  # same database, same folder
    rows = await again.recording.store.segments(cam.pk, 0, 1e12)
    assert rows and all(r.complete for r in rows)
    assert not any(r.path.endswith("never.mp4") for r in rows)
    for r in rows:
        f = again.recording.store.root / r.path
        assert f.stat().st_size == r.bytes
    fixed = next(r for r in rows if r.id == torn.id)
    path = again.recording.store.root / fixed.path
    assert whole_boxes(path) == path.stat().st_size == fixed.bytes > 0  # torn box cut off


async def test_record_plan_crud_and_rights(make_node: NodeFactory, tmp_path: Path) -> None:
    node = await _node(make_node, tmp_path)
    api = await login(node)
    body = {
        "name": "weekday daytime",
        "schedule": [{"weekday": 0, "start": "08:00", "end": "18:00"}],
        "storage_days": 7,
        "stream": "sub",
        "channels": [3, 1, 3],
        "selectors": {"regions": ["3402"]},
    }
    r = await api.post("/api/recording/plans", json=body)
    assert r.status_code == 201, r.text
    plan = r.json()
    assert plan["channels"] == [1, 3] and plan["selectors"]["regions"] == ["3402"]
    assert [p["id"] for p in (await api.get("/api/recording/plans")).json()] == [plan["id"]]
    r = await api.put(f"/api/recording/plans/{plan['id']}", json={**body, "storage_days": 30})
    assert r.status_code == 200 and r.json()["storage_days"] == 30
    bad = {**body, "schedule": [{"weekday": 0, "start": "18:00", "end": "08:00"}]}
    assert (await api.post("/api/recording/plans", json=bad)).status_code == 422
    assert (await api.get("/api/recording/plans/999")).status_code == 404
    for name, role in (("op", "operator"), ("vw", "viewer")):
        r = await api.post(
            "/api/users", json={"username": name, "password": "pass-word-1", "role": role}
        )
        assert r.status_code == 201
    op = await login(node, "op", "pass-word-1")
    vw = await login(node, "vw", "pass-word-1")
    assert (await op.get("/api/recording/plans")).status_code == 200
    assert (await op.post("/api/recording/plans", json=body)).status_code == 403  # admin only
    assert (await vw.get("/api/recording/plans")).status_code == 403
    assert (await api.delete(f"/api/recording/plans/{plan['id']}")).status_code == 204
    assert (await api.get("/api/recording/plans")).json() == []
    await op.aclose()
    await vw.aclose()


def _decoded(path: Path) -> list[Any]:
    """Every picture of an MP4 as RGB arrays (ffprobe-independent: PyAV decodes it)."""
    import av

    with av.open(str(path)) as inp:
        return [f.to_ndarray(format="rgb24") for f in inp.decode(video=0)]


@needs_ffmpeg
async def test_non_admin_clip_carries_the_burned_in_watermark(
    make_node: NodeFactory, tmp_path: Path
) -> None:
    import av
    import numpy as np

    from sharpeyes.recording.player import read_segment

    node = await _node(make_node, tmp_path)
    api = await login(node)
    cam = await recording_camera(node, api)
    try:
        r = await api.post(
            "/api/users", json={"username": "clerk", "password": "pass-word-1", "role": "operator"}
        )
        assert r.status_code == 201, r.text
        operator = await login(node, "clerk", "pass-word-1")
        await _plan(api, cam)
        segs = await _complete(node, cam.pk, 3)
        start, end = int(segs[0].start) + 1, int(segs[2].end) - 1
        files: dict[str, Path] = {}
        jobs: dict[str, dict[str, Any]] = {}
        for who, client in (("admin", api), ("operator", operator)):
            with node.bus.subscribe() as sub:
                r = await client.post(
                    f"/api/channels/{cam.pk}/clips", json={"start": start, "end": end}
                )
                assert r.status_code == 202, r.text
                job_id = r.json()["job_id"]

                async def done(c: httpx.AsyncClient = client, j: str = job_id) -> bool:
                    state = (await c.get(f"/api/jobs/{j}")).json()
                    assert state["state"] != "failed", state
                    return state["state"] == "done"

                await eventually(done, 60)
                events = [sub.queue.get_nowait() for _ in range(sub.queue.qsize())]
            audits = [e.data for e in events if e.type == "audit.view"]
            assert [a["action"] for a in audits] == ["recording.export"]
            assert audits[0]["detail"]["watermarked"] is (who != "admin")
            jobs[who] = (await client.get(f"/api/jobs/{job_id}")).json()
            f = await client.get(jobs[who]["file_url"])
            assert f.status_code == 200
            files[who] = tmp_path / f"{who}.mp4"
            files[who].write_bytes(f.content)
        assert jobs["admin"]["watermarked"] is False and jobs["operator"]["watermarked"] is True
        admin, marked = _decoded(files["admin"]), _decoded(files["operator"])
        assert admin and abs(len(marked) - len(admin)) <= 1  # the whole clip decodes

        # the admin's clip is a stream copy: its first picture is bit-exact the recorded one
        refs = await node.recording._refs(cam.pk, start, end)
        t0 = jobs["admin"]["clip_start"]
        key = next(f for ref in refs for f in read_segment(ref) if abs(f.at - t0) < 1e-3)
        assert key.keyframe
        ctx = av.CodecContext.create("h264", "r")
        original = [
            fr.to_ndarray(format="rgb24")
            for pkt in ctx.parse(key.data) + ctx.parse(None)
            for fr in ctx.decode(pkt)
        ]
        original += [fr.to_ndarray(format="rgb24") for fr in ctx.decode(None)]
        assert np.array_equal(admin[0], original[0])

        # the operator's differs where the watermark band is burned in (the bottom rows)
        h = admin[0].shape[0]
        band = slice(h - max(12, min(admin[0].shape[:2]) // 28) * 2, h)
        for i in (0, len(admin) // 2):
            diff = np.abs(admin[i][band].astype(int) - marked[i][band].astype(int)).mean()
            assert diff > 20, diff
        await operator.aclose()
    finally:
        await cam.fleet.stop()
