"""Live video end to end on 127.0.0.1: simulated camera → node → WebSocket fMP4 / HLS / JPEG."""

from __future__ import annotations

import asyncio
import io
import subprocess
from pathlib import Path

import av
import pytest

from sharpeyes.sim.media import SimMediaConfig
from tests.media_fixtures import FFPROBE, needs_ffmpeg

from .conftest import NodeFactory, login
from .devices_helpers import eventually
from .live_helpers import (
    WsReader,
    add_cameras,
    camera,
    live_node,
    play,
    seed_bits,
    streams,
)

pytestmark = pytest.mark.db


@pytest.mark.parametrize("transport", ["udp", "tcp-passive", "tcp-active"])
async def test_websocket_fmp4_decodes_with_pyav(make_node: NodeFactory, transport: str) -> None:
    node, api = await live_node(make_node)
    cam = await camera(node, api, transport=transport)
    try:
        p = await play(api, cam.pk)
        assert p["codec"] == "h264" and p["transport"] == transport
        assert p["mime"].startswith('video/mp4; codecs="avc1.') and p["passthrough"]
        assert (p["width"], p["height"]) == (320, 240)
        assert p["ws_url"].startswith("ws://") and f"token={p['token']}" in p["ws_url"]
        reader = await WsReader(p["ws_url"]).start()
        await reader.wait_frames(50, 20)
        assert reader.texts[0]["type"] == "init" and reader.texts[0]["codec"] == "h264"
        assert reader.binaries[0][4:8] == b"ftyp"  # the init segment comes first
        assert reader.frames() >= 50
        info = await streams(api)
        (s,) = info["items"]
        assert s["transport"] == transport and s["state"] == "live" and s["format"] == "ps"
        assert s["codec"] == "h264" and (s["width"], s["height"]) == (320, 240)
        assert s["packets"] > 50 and s["bytes"] > 10_000
        assert s["lost"] == 0 and s["wrong_ssrc"] == 0 and s["wrong_source"] == 0
        assert s["viewers"] == {"ws": 1, "hls": 0, "total": 1}
        assert s["ssrc"] == "0200000001" and 30000 <= s["port"] <= 30999
        assert 15 <= s["fps"] <= 35 and s["bitrate_kbps"] > 50
        (call,) = cam.device.media_calls.values()
        device_side = {"udp": "udp", "tcp-passive": "tcp-active", "tcp-active": "tcp-passive"}
        assert call.mode == device_side[transport]
        await reader.close()
    finally:
        await cam.fleet.stop()


async def test_two_viewers_share_one_upstream_and_the_last_leaving_sends_bye(
    make_node: NodeFactory,
) -> None:
    node, api = await live_node(make_node, idle_grace_s=1.5)
    cam = await camera(node, api)
    try:
        first = await play(api, cam.pk)
        second = await play(api, cam.pk)
        assert first["session_id"] == second["session_id"]
        assert first["token"] != second["token"]
        a = await WsReader(first["ws_url"]).start()
        b = await WsReader(second["ws_url"]).start()
        await a.wait_frames(25)
        await b.wait_frames(25)
        assert cam.invites() == 1
        (s,) = (await streams(api))["items"]
        assert s["viewers"]["ws"] == 2
        await a.close()
        await asyncio.sleep(2.5)  # longer than the grace period: b still watches
        assert cam.byes() == 0
        frames_before = b.frames()
        await b.wait_frames(frames_before + 10)
        await b.close()
        await eventually(lambda: cam.byes() == 1, 5)
        assert not cam.device.media_calls  # the camera stopped sending
        info = await streams(api)
        assert info["items"] == []
        assert info["ended"][0]["end_reason"] == "idle"
        # a new viewer after the BYE starts a new upstream
        again = await play(api, cam.pk)
        assert again["session_id"] != first["session_id"] and cam.invites() == 2
    finally:
        await cam.fleet.stop()


@needs_ffmpeg
async def test_hls_playlist_and_segments_accepted_by_ffprobe(
    make_node: NodeFactory, tmp_path: Path
) -> None:
    node, api = await live_node(make_node, hls_segment_s=1.0)
    cam = await camera(node, api)
    try:
        p = await play(api, cam.pk)
        assert p["hls_url"].startswith("http://") and "index.m3u8?token=" in p["hls_url"]

        async def segments() -> list[str]:
            r = await api.get(p["hls_url"])
            assert r.status_code == 200, r.text
            assert r.headers["content-type"].startswith("application/vnd.apple.mpegurl")
            return [ln for ln in r.text.splitlines() if ln and not ln.startswith("#")]

        await eventually(lambda: _len_at_least(segments, 3), 20)
        playlist = (await api.get(p["hls_url"])).text
        assert f'#EXT-X-MAP:URI="init.mp4?token={p["token"]}"' in playlist
        base = p["hls_url"].rsplit("/", 1)[0]
        local = []
        for line in playlist.splitlines():
            if line.startswith("#EXT-X-MAP"):
                r = await api.get(f"{base}/init.mp4", params={"token": p["token"]})
                assert r.status_code == 200 and r.content[4:8] == b"ftyp"
                (tmp_path / "init.mp4").write_bytes(r.content)
                line = '#EXT-X-MAP:URI="init.mp4"'
            elif line and not line.startswith("#"):
                name = line.split("?", 1)[0]
                r = await api.get(f"{base}/{line}")
                assert r.status_code == 200, r.text
                (tmp_path / name).write_bytes(r.content)
                line = name
            local.append(line)
        (tmp_path / "index.m3u8").write_text("\n".join([*local, "#EXT-X-ENDLIST", ""]))
        proc = await asyncio.create_subprocess_exec(
            FFPROBE,
            "-v",
            "error",
            "-count_frames",
            "-show_entries",
            "stream=codec_name,width,height,nb_read_frames",
            "-of",
            "csv=p=0",
            str(tmp_path / "index.m3u8"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        out, err = await proc.communicate()
        assert proc.returncode == 0, err.decode()
        rows = {tuple(ln.split(",")) for ln in out.decode().splitlines() if ln.strip()}
        assert len(rows) == 1, rows  # one video stream (listed per program and per file)
        ((codec, width, height, count),) = rows
        assert (codec, width, height) == ("h264", "320", "240")
        assert int(count) >= 50  # at least two one-second segments of 25 fps
        # HLS counts as a viewer; bad segment names and stale segments are 404
        (s,) = (await streams(api))["items"]
        assert s["viewers"]["hls"] == 1
        r = await api.get(f"{base}/seg999999.m4s", params={"token": p["token"]})
        assert r.status_code == 404
        r = await api.get(f"{base}/../../x", params={"token": p["token"]})
        assert r.status_code == 404
    finally:
        await cam.fleet.stop()


async def _len_at_least(fetch: object, n: int) -> bool:
    return len(await fetch()) >= n  # type: ignore[operator]


async def test_snapshot_is_a_jpeg_of_each_cameras_picture(make_node: NodeFactory) -> None:
    node, api = await live_node(make_node)
    cams = await add_cameras(node, api, [1, 2])
    try:
        seeds = []
        for cam in cams:
            r = await api.get(f"/api/channels/{cam.pk}/snapshot")
            assert r.status_code == 200, r.text
            assert r.headers["content-type"] == "image/jpeg"
            jpeg = r.content
            assert jpeg[:2] == b"\xff\xd8" and jpeg[-2:] == b"\xff\xd9"
            with av.open(io.BytesIO(jpeg), format="image2pipe") as c:
                (picture,) = list(c.decode(video=0))
            assert (picture.width, picture.height) == (320, 240)
            expected = SimMediaConfig().seed_for(cam.device.channels[0].channel_id)
            assert seed_bits(picture) == expected
            seeds.append(expected)
            assert cam.invites() == 1  # the snapshot opened a short session
        assert seeds[0] != seeds[1]
        # a second snapshot uses the running session (no new INVITE)
        r = await api.get(f"/api/channels/{cams[0].pk}/snapshot")
        assert r.status_code == 200 and cams[0].invites() == 1
        # ... which ends by itself after the grace period, as no one watches
        await eventually(lambda: all(c.byes() == 1 for c in cams), 8)
    finally:
        await cams[0].fleet.stop()
        await cams[1].fleet.stop()


async def test_h265_passes_through(make_node: NodeFactory) -> None:
    node, api = await live_node(make_node)
    cam = await camera(node, api, media=SimMediaConfig(codec="h265"))
    try:
        p = await play(api, cam.pk)
        assert p["codec"] == "h265" and p["mime_codec"].startswith("hvc1.")
        reader = await WsReader(p["ws_url"]).start()
        await reader.wait_frames(30, 20)
        assert reader.texts[0]["codec"] == "h265"
        frames = reader.decode()
        assert frames[0].width == 320
        await reader.close()
    finally:
        await cam.fleet.stop()


@pytest.mark.parametrize(
    ("media", "fmt", "audio"),
    [
        (SimMediaConfig(container="ts"), "ts", None),
        (SimMediaConfig(container="es"), "h264", None),
        (SimMediaConfig(container="es", codec="h265"), "h265", None),
        (SimMediaConfig(audio=True), "ps", "pcma"),
    ],
    ids=["ts", "raw-h264", "raw-h265", "ps-with-g711a"],
)
async def test_payload_formats_are_detected(
    make_node: NodeFactory, media: SimMediaConfig, fmt: str, audio: str | None
) -> None:
    node, api = await live_node(make_node)
    cam = await camera(node, api, media=media)
    try:
        p = await play(api, cam.pk)
        reader = await WsReader(p["ws_url"]).start()
        await reader.wait_frames(30, 20)
        (s,) = (await streams(api))["items"]
        assert s["format"] == fmt and s["audio_codec"] == audio and s["lost"] == 0
        await reader.close()
    finally:
        await cam.fleet.stop()


async def test_stream_tokens_are_checked(make_node: NodeFactory) -> None:
    import websockets

    node, api = await live_node(make_node, token_ttl_s=4)
    cams = await add_cameras(node, api, [1, 2])
    try:
        a = await play(api, cams[0].pk)
        b = await play(api, cams[1].pk)
        reader = await WsReader(a["ws_url"]).start()  # opened while the token is valid
        base_a = a["ws_url"].split("?", 1)[0]
        hls_a = a["hls_url"].split("?", 1)[0]
        for url in (base_a, f"{base_a}?token=garbage", f"{base_a}?token={b['token']}"):
            with pytest.raises(websockets.InvalidStatus) as e:
                await websockets.connect(url)
            assert e.value.response.status_code == 403  # refused before the upgrade
        assert (await api.get(hls_a)).status_code == 401
        assert (await api.get(hls_a, params={"token": "x.y.z"})).status_code == 401
        forged = a["token"][:-4] + ("AAAA" if not a["token"].endswith("AAAA") else "BBBB")
        assert (await api.get(hls_a, params={"token": forged})).status_code == 401
        assert (await api.get(hls_a, params={"token": b["token"]})).status_code == 403
        # an access token is not a stream token
        access = api.headers["Authorization"].split()[1]
        assert (await api.get(hls_a, params={"token": access})).status_code == 401
        # an open WebSocket outlives its token; a new one with the expired token is refused
        await reader.wait_frames(10)
        await asyncio.sleep(4.2)
        n = reader.frames()
        await reader.wait_frames(n + 10)
        with pytest.raises(websockets.InvalidStatus):
            await websockets.connect(a["ws_url"])
        assert (await api.get(a["hls_url"])).status_code == 401  # expired, never used for HLS
        await reader.close()
    finally:
        await cams[0].fleet.stop()
        await cams[1].fleet.stop()


async def test_hls_client_continues_past_token_expiry(make_node: NodeFactory) -> None:
    node, api = await live_node(make_node, token_ttl_s=2, hls_segment_s=1.0)
    cam = await camera(node, api)
    try:
        p = await play(api, cam.pk)
        assert (await api.get(p["hls_url"])).status_code == 200
        await asyncio.sleep(2.5)
        r = await api.get(p["hls_url"])
        assert r.status_code == 200 and "#EXTINF" in r.text
    finally:
        await cam.fleet.stop()


async def test_device_bye_reaches_the_viewer(make_node: NodeFactory) -> None:
    node, api = await live_node(make_node)
    cam = await camera(node, api)
    try:
        p = await play(api, cam.pk)
        reader = await WsReader(p["ws_url"]).start()
        await reader.wait_frames(10)
        assert await cam.device.hang_up() == [200]
        await eventually(lambda: reader.close_code is not None, 5)
        assert reader.ended == {
            "type": "end",
            "reason": "device_bye",
            "detail": "the device ended the stream (BYE)",
        }
        assert reader.close_code == 1011
        info = await streams(api)
        assert info["items"] == [] and info["ended"][0]["end_reason"] == "device_bye"
        assert cam.byes() == 0  # no BYE back for a dialog the device ended
    finally:
        await cam.fleet.stop()


@pytest.mark.parametrize(
    ("fault", "status", "words"),
    [
        ("invite_reject", 502, "busy"),
        ("invite_silent", 504, "did not answer the INVITE"),
        ("no_media", 502, "no RTP arrived"),
    ],
)
async def test_invite_failures_are_clear_errors(
    make_node: NodeFactory, fault: str, status: int, words: str
) -> None:
    node, api = await live_node(make_node)
    cam = await camera(node, api, faults={fault})
    try:
        r = await api.post(f"/api/channels/{cam.pk}/play", json={})
        assert r.status_code == status, r.text
        assert words in r.json()["detail"]
        reason = "no_packets" if fault == "no_media" else "invite_failed"
        assert r.json()["reason"] == reason
        (ended,) = (await streams(api))["ended"]
        assert ended["end_reason"] == reason
        assert node.live.ports.in_use == 0  # the port was freed
        if fault == "no_media":
            await eventually(lambda: cam.byes() == 1, 5)  # media timeout: BYE
    finally:
        await cam.fleet.stop()


async def test_operator_stop_and_permissions(make_node: NodeFactory) -> None:
    node, api = await live_node(make_node)
    cam = await camera(node, api)
    await node.users.create_user("watcher", "watcher-pass-1", "viewer")
    viewer_api = await login(node, "watcher", "watcher-pass-1")
    try:
        p = await play(viewer_api, cam.pk)  # viewers may watch
        reader = await WsReader(p["ws_url"]).start()
        await reader.wait_frames(5)
        assert (await viewer_api.post(f"/api/channels/{cam.pk}/stop")).status_code == 403
        r = await api.post(f"/api/channels/{cam.pk}/stop")
        assert r.status_code == 200 and r.json() == {"stopped": 1}
        await eventually(lambda: reader.ended is not None, 5)
        assert reader.ended["reason"] == "stopped" and reader.close_code == 1000  # type: ignore[index]
        await eventually(lambda: cam.byes() == 1, 5)
        assert (await api.post(f"/api/channels/{cam.pk}/stop")).json() == {"stopped": 0}
        assert (await api.post("/api/channels/999999/play", json={})).status_code == 404
        unauth = await api.post(f"/api/channels/{cam.pk}/play", headers={"Authorization": ""})
        assert unauth.status_code == 401
    finally:
        await viewer_api.aclose()
        await cam.fleet.stop()


async def test_new_streams_are_refused_at_capacity(make_node: NodeFactory) -> None:
    node, api = await live_node(make_node, max_sessions=1)
    cams = await add_cameras(node, api, [1, 2])
    try:
        await play(api, cams[0].pk)
        r = await api.post(f"/api/channels/{cams[1].pk}/play", json={})
        assert r.status_code == 503 and "capacity" in r.json()["detail"]
        assert cams[1].invites() == 0
        await play(api, cams[0].pk)  # joining the running stream is still fine
        info = await streams(api)
        assert info["capacity"]["sessions"] == 1 and info["capacity"]["max_sessions"] == 1
    finally:
        await cams[0].fleet.stop()
        await cams[1].fleet.stop()


async def test_device_going_offline_ends_its_streams(make_node: NodeFactory) -> None:
    node, api = await live_node(make_node)
    cam = await camera(node, api)
    try:
        p = await play(api, cam.pk)
        reader = await WsReader(p["ws_url"]).start()
        await reader.wait_frames(5)
        await cam.device.unregister()
        await eventually(lambda: reader.ended is not None, 5)
        assert reader.ended["reason"] == "device_offline"  # type: ignore[index]
    finally:
        await cam.fleet.stop()


async def test_stream_events_and_audit_are_published(make_node: NodeFactory) -> None:
    node, api = await live_node(make_node)
    cam = await camera(node, api)
    try:
        with node.bus.subscribe() as sub:
            p = await play(api, cam.pk)
            await api.post(f"/api/channels/{cam.pk}/stop")
            await eventually(lambda: sub.queue.qsize() >= 3, 5)
            events = [sub.queue.get_nowait() for _ in range(sub.queue.qsize())]
        types = [e.type for e in events]
        assert types[:3] == ["stream.started", "audit.view", "stream.stopped"]
        audit = events[1].data
        assert audit["action"] == "live.play" and audit["username"] == "admin"
        assert audit["target_id"] == cam.device.channels[0].channel_id
        assert audit["client_ip"] == "127.0.0.1" and audit["detail"]["session"] == p["session_id"]
        assert events[2].data["reason"] == "stopped"
    finally:
        await cam.fleet.stop()


async def test_main_and_sub_streams_are_separate_upstreams(make_node: NodeFactory) -> None:
    node, api = await live_node(make_node)
    cam = await camera(node, api)
    try:
        main = await play(api, cam.pk, "main")
        sub = await play(api, cam.pk, "sub")
        assert main["session_id"] != sub["session_id"] and sub["stream"] == "sub"
        assert cam.invites() == 2 and len(cam.device.media_calls) == 2
        ssrcs = {s["ssrc"] for s in (await streams(api))["items"]}
        assert len(ssrcs) == 2  # every stream of the domain has its own SSRC serial
        r = await api.post(f"/api/channels/{cam.pk}/play", json={"stream": "third"})
        assert r.status_code == 422
    finally:
        await cam.fleet.stop()
