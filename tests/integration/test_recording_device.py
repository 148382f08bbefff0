"""Device recordings end to end on 127.0.0.1: RecordInfo, Playback with MANSRTSP, Download."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from sharpeyes.gb28181 import mansrtsp
from sharpeyes.gb28181.manscdp import build_manscdp
from sharpeyes.sim.recordings import SimRecordingConfig, records
from tests.media_fixtures import FFPROBE, needs_ffmpeg

from .conftest import NodeFactory, login
from .devices_helpers import eventually
from .live_helpers import WsReader
from .recording_helpers import fast, recorded_range, recording_camera

pytestmark = pytest.mark.db


async def _node(make_node: NodeFactory, tmp_path: Path, **recording: Any) -> Any:
    return await make_node(
        media=fast(),
        recording={"path": str(tmp_path / "rec"), "record_part_timeout_s": 1.0, **recording},
    )


async def _stream(api: httpx.AsyncClient, session_id: str) -> dict[str, Any] | None:
    info = (await api.get("/api/streams")).json()
    return next((s for s in info["items"] if s["id"] == session_id), None)


async def _control(api: httpx.AsyncClient, sid: str, **body: Any) -> dict[str, Any]:
    r = await api.post(f"/api/streams/{sid}/control", json=body)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def test_record_info_many_parts_merged_into_a_timeline(
    make_node: NodeFactory, tmp_path: Path
) -> None:
    node = await _node(make_node, tmp_path)
    api = await login(node)
    cfg = SimRecordingConfig(per_message=7)
    cam = await recording_camera(node, api, recordings=cfg)
    try:
        now = int(time.time())
        start, end = now - 3 * 86400, now - 3600
        r = await api.get(
            f"/api/channels/{cam.pk}/device-records", params={"start": start, "end": end}
        )
        assert r.status_code == 200, r.text
        body = r.json()
        expected = records(cfg, cam.channel["channel_id"], start, end)
        assert len(expected) > 100  # hundreds of files over three day-queries
        assert body["complete"] and body["missing"] == 0
        got = [(i["start"], i["end"], i["type"]) for i in body["items"]]
        assert got == sorted({(e.start, e.end, e.type) for e in expected})
        assert {i["type"] for i in body["items"]} == {"time", "alarm"}
        assert body["gaps"], "the simulated index has missing files"
        for g in body["gaps"]:
            assert not any(e.start < g["end"] and e.end > g["start"] for e in expected)
        covered = sum(t["end"] - t["start"] for t in body["timeline"])
        gaps = sum(g["end"] - g["start"] for g in body["gaps"])
        assert covered + gaps == end - start
        # RecordInfo went out as one query per day (devices cap their answers)
        assert sum(1 for m, c in cam.device.received if c == "RecordInfo") == 3
        # only alarm recordings
        r = await api.get(
            f"/api/channels/{cam.pk}/device-records",
            params={"start": start, "end": end, "type": "alarm"},
        )
        assert r.status_code == 200 and {i["type"] for i in r.json()["items"]} == {"alarm"}
        bad = await api.get(
            f"/api/channels/{cam.pk}/device-records", params={"start": end, "end": start}
        )
        assert bad.status_code == 400
    finally:
        await cam.fleet.stop()


@pytest.mark.parametrize("transport", ["udp", "tcp-passive"])
async def test_device_playback_pause_seek_speed_and_eof(
    make_node: NodeFactory, tmp_path: Path, transport: str
) -> None:
    node = await _node(make_node, tmp_path)
    api = await login(node)
    cam = await recording_camera(node, api, transport=transport)
    try:
        start, end = recorded_range(cam, 120)
        r = await api.post(
            f"/api/channels/{cam.pk}/playback",
            json={"source": "device", "start": start, "end": end},
        )
        assert r.status_code == 200, r.text
        p = r.json()
        assert p["kind"] == "playback" and p["transport"] == transport
        assert p["codec"] == "h264" and p["duration_s"] == 120
        (call,) = cam.device.media_calls.values()
        assert call.playback is not None
        assert (call.playback.start, call.playback.end) == (start, end)
        s = await _stream(api, p["session_id"])
        assert s is not None and s["ssrc"].startswith("1")  # history SSRC (Appendix F)
        reader = await WsReader(p["ws_url"]).start()
        await reader.wait_frames(25, 20)

        # pause: the device stops sending, no more fragments reach the viewer
        await _control(api, p["session_id"], action="pause")
        assert call.playback.paused
        await asyncio.sleep(0.5)  # fragments already in flight
        before = len(reader.binaries)
        await asyncio.sleep(1.5)
        assert len(reader.binaries) == before
        assert (await _stream(api, p["session_id"]))["state"] == "live"  # not timed out

        # resume, then seek to 60 s: the position follows the device's new timestamps
        await _control(api, p["session_id"], action="resume")
        await reader.wait_frames(reader.frames() + 10, 15)
        await _control(api, p["session_id"], action="seek", position_s=60)
        assert call.playback.controls[-1].position_s == 60

        async def at_60() -> bool:
            st = await _stream(api, p["session_id"])
            return st is not None and 60 <= st["position_s"] <= 70

        await eventually(at_60, 15)
        frames_before = reader.frames()
        await reader.wait_frames(frames_before + 10, 15)  # still decodes after the seek
        decoded = reader.decode()
        pts = [f.time for f in decoded if f.time is not None]
        assert pts == sorted(pts)  # continuous fMP4 timeline for the browser

        # 2x: media time advances twice as fast as the wall clock
        await _control(api, p["session_id"], action="speed", scale=2)
        assert call.playback.controls[-1].scale == 2.0
        await asyncio.sleep(0.5)
        t0, p0 = time.monotonic(), (await _stream(api, p["session_id"]))["position_s"]
        await asyncio.sleep(3.0)
        t1, p1 = time.monotonic(), (await _stream(api, p["session_id"]))["position_s"]
        ratio = (p1 - p0) / (t1 - t0)
        assert 1.5 <= ratio <= 2.6, ratio

        # seek near the end: the device sends MediaStatus 121 → the session ends with eof
        await _control(api, p["session_id"], action="seek", position_s=116)
        await eventually(lambda: reader.ended is not None, 20)
        assert reader.ended["reason"] == "eof"
        assert call.playback.eof_sent
        info = (await api.get("/api/streams")).json()
        ended = next(e for e in info["ended"] if e["id"] == p["session_id"])
        assert ended["end_reason"] == "eof" and ended["kind"] == "playback"
        await eventually(lambda: cam.byes() == 1, 10)  # we hang up after the end of file
        await reader.close()
    finally:
        await cam.fleet.stop()


async def test_playback_controls_reject_bad_input(make_node: NodeFactory, tmp_path: Path) -> None:
    node = await _node(make_node, tmp_path)
    api = await login(node)
    cam = await recording_camera(node, api)
    try:
        start, end = recorded_range(cam, 30)
        p = (
            await api.post(f"/api/channels/{cam.pk}/playback", json={"start": start, "end": end})
        ).json()
        sid = p["session_id"]
        for body in (
            {"action": "seek"},
            {"action": "seek", "position_s": 31},
            {"action": "speed", "scale": 3},
            {"action": "jump"},
        ):
            r = await api.post(f"/api/streams/{sid}/control", json=body)
            assert r.status_code in (400, 422), (body, r.text)
        r = await api.post("/api/streams/nope/control", json={"action": "pause"})
        assert r.status_code == 404
        live = (await api.post(f"/api/channels/{cam.pk}/play", json={})).json()
        r = await api.post(f"/api/streams/{live['session_id']}/control", json={"action": "pause"})
        assert r.status_code == 400  # a live stream has no MANSRTSP controls
        future = int(time.time()) + 3600
        r = await api.post(
            f"/api/channels/{cam.pk}/playback", json={"start": future, "end": future + 60}
        )
        assert r.status_code == 400
        # a range the device has no recording of: the device answers 404 → a clear error
        old = int(time.time()) - 30 * 86400
        r = await api.post(f"/api/channels/{cam.pk}/playback", json={"start": old, "end": old + 60})
        assert r.status_code == 502 and "404" in r.json()["detail"]
    finally:
        await cam.fleet.stop()


@needs_ffmpeg
async def test_download_produces_an_mp4_of_the_range(
    make_node: NodeFactory, tmp_path: Path
) -> None:
    node = await _node(make_node, tmp_path)
    api = await login(node)
    cam = await recording_camera(node, api)
    try:
        start, end = recorded_range(cam, 8)
        r = await api.post(
            f"/api/channels/{cam.pk}/downloads", json={"start": start, "end": end, "speed": 4}
        )
        assert r.status_code == 202, r.text
        job_id = r.json()["job_id"]

        async def done() -> bool:
            j = (await api.get(f"/api/jobs/{job_id}")).json()
            assert j["state"] != "failed", j
            return j["state"] == "done"

        await eventually(done, 30)
        (call,) = [c for c in cam.device.media_calls.values()] or [None]
        job = (await api.get(f"/api/downloads/{job_id}")).json()
        assert job["file_url"] == f"/api/downloads/{job_id}/file"
        assert job["end_reason"] in ("eof", "complete") and job["bytes"] > 10_000
        f = await api.get(job["file_url"])
        assert f.status_code == 200 and f.headers["content-type"] == "video/mp4"
        path = tmp_path / "dl.mp4"
        path.write_bytes(f.content)
        out = subprocess.run(
            [
                FFPROBE,
                "-v",
                "error",
                "-show_entries",
                "format=duration:stream=codec_name",
                "-of",
                "json",
                str(path),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        info = json.loads(out.stdout)
        assert info["streams"][0]["codec_name"] == "h264"
        assert abs(float(info["format"]["duration"]) - 8.0) <= 0.5, info
        invites = [m for m, _ in cam.device.received if m == "INVITE"]
        assert len(invites) == 1
        del call
    finally:
        await cam.fleet.stop()


def test_mansrtsp_round_trip_of_the_standard_examples() -> None:
    cmd = mansrtsp.parse(b"PLAY MANSRTSP/1.0\r\nCSeq:5\r\nScale:1.0\r\nRange:npt=196-\r\n\r\n")
    assert (cmd.method, cmd.cseq, cmd.scale, cmd.position_s) == ("PLAY", 5, 1.0, 196.0)
    assert mansrtsp.parse(b"PAUSE RTSP/1.0\r\nCSeq:1\r\nPauseTime:now\r\n").method == "PAUSE"
    resume = mansrtsp.parse(mansrtsp.play(2).to_bytes())
    assert resume.position_s is None and resume.scale is None
    speed = mansrtsp.play(3, scale=2.0).to_bytes()
    assert b"Scale: 2" in speed and b"Range" not in speed  # B.2.3: Scale only


async def test_rights_and_audit_of_playback_and_download(
    make_node: NodeFactory, tmp_path: Path
) -> None:
    node = await _node(make_node, tmp_path)
    api = await login(node)
    cam = await recording_camera(node, api)
    try:
        for name, role in (("watcher", "viewer"), ("investigator", "operator")):
            r = await api.post(
                "/api/users", json={"username": name, "password": "pass-word-1", "role": role}
            )
            assert r.status_code == 201, r.text
        viewer = await login(node, "watcher", "pass-word-1")
        operator = await login(node, "investigator", "pass-word-1")
        start, end = recorded_range(cam, 20)
        rng = {"start": start, "end": end}
        # a viewer may watch live, but has neither `playback` nor `download`
        assert (await viewer.post(f"/api/channels/{cam.pk}/play", json={})).status_code == 200
        r = await viewer.post(f"/api/channels/{cam.pk}/playback", json=rng)
        assert r.status_code == 403 and "playback" in r.json()["detail"]
        r = await viewer.get(f"/api/channels/{cam.pk}/device-records", params=rng)
        assert r.status_code == 403
        r = await viewer.post(f"/api/channels/{cam.pk}/downloads", json=rng)
        assert r.status_code == 403 and "download" in r.json()["detail"]
        invites = cam.invites()
        with node.bus.subscribe() as sub:
            p = await operator.post(f"/api/channels/{cam.pk}/playback", json=rng)
            assert p.status_code == 200, p.text
            sid = p.json()["session_id"]
            # the viewer cannot steer someone's playback either
            r = await viewer.post(f"/api/streams/{sid}/control", json={"action": "pause"})
            assert r.status_code == 403
            d = await operator.post(f"/api/channels/{cam.pk}/downloads", json=rng)
            assert d.status_code == 202, d.text
            job_id = d.json()["job_id"]
            await eventually(lambda: sub.queue.qsize() >= 3, 10)
            events = [sub.queue.get_nowait() for _ in range(sub.queue.qsize())]
        audits = [e.data for e in events if e.type == "audit.view"]
        actions = {a["action"]: a for a in audits}
        play = actions["playback.device"]
        assert play["username"] == "investigator" and play["detail"]["session"] == sid
        assert (play["detail"]["start"], play["detail"]["end"]) == (start, end)
        assert play["target_id"] == cam.channel["channel_id"]
        dl = actions["download.device"]
        assert dl["detail"]["job_id"] == job_id and dl["client_ip"] == "127.0.0.1"
        assert cam.invites() >= invites + 1  # the playback (the download may follow)
        # another user's download file is not theirs to fetch
        r = await viewer.get(f"/api/downloads/{job_id}/file")
        assert r.status_code == 403
        await viewer.aclose()
        await operator.aclose()
    finally:
        await cam.fleet.stop()


async def test_media_status_outside_the_dialog_also_ends_with_eof(
    make_node: NodeFactory, tmp_path: Path
) -> None:
    node = await _node(make_node, tmp_path)
    api = await login(node)
    cam = await recording_camera(node, api)
    try:
        start, end = recorded_range(cam, 60)
        p = (
            await api.post(f"/api/channels/{cam.pk}/playback", json={"start": start, "end": end})
        ).json()
        # some devices send it as an ordinary MESSAGE with a new Call-ID
        body = build_manscdp(
            "Notify", "MediaStatus", 77, cam.channel["channel_id"], [("NotifyType", "121")]
        )
        await cam.device._send_message(body)

        async def ended() -> bool:
            info = (await api.get("/api/streams")).json()
            return any(
                e["id"] == p["session_id"] and e["end_reason"] == "eof" for e in info["ended"]
            )

        await eventually(ended, 10)
    finally:
        await cam.fleet.stop()
