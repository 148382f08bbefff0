"""RTSP proxies against a real RTSP server (GStreamer's gst-rtsp-server), over TCP and UDP.

Everything a viewer sees goes through the node's own API: the proxy is added with
``POST /api/proxies``, played with the channel's ``/play``, decoded from the fMP4
WebSocket with PyAV; the RTSP server reports each client connection, which is how
"two viewers share one pull" and "the pull stops after the last viewer" are checked
from the server's side.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from sharpeyes.node import Node

from .conftest import NodeFactory, login
from .devices_helpers import EventReader, eventually
from .live_helpers import FAST, WsReader, play
from .proxies_helpers import RtspServer, free_port, needs_gst

pytestmark = [needs_gst, pytest.mark.db]

FAST_PROXY = {
    "open_timeout_s": 5.0,
    "read_timeout_s": 3.0,
    "no_frames_timeout_s": 5.0,
    "backoff_initial_s": 0.3,
    "backoff_max_s": 2.0,
    "backoff_jitter": 0.0,
}


async def proxy_node(make_node: NodeFactory, **proxies: Any) -> tuple[Node, httpx.AsyncClient]:
    node = await make_node(media=dict(FAST), proxies={**FAST_PROXY, **proxies})
    return node, await login(node)


async def add_proxy(api: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    r = await api.post("/api/proxies", json={"name": "校门口", **body})
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def proxy(api: httpx.AsyncClient, pid: int) -> dict[str, Any]:
    r = await api.get(f"/api/proxies/{pid}")
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


@pytest.mark.parametrize("transport", ["tcp", "udp"])
async def test_live_snapshot_shared_pull_and_idle_stop(
    make_node: NodeFactory, transport: str
) -> None:
    node, api = await proxy_node(make_node)
    async with RtspServer(user="cam", password="s3cret:/@") as srv:
        p = await add_proxy(
            api, url=srv.url, username="cam", password="s3cret:/@", transport=transport
        )
        gb = p["gb_id"]
        # assigned: node civil code (sip.domain 3402000000 → 34020000), type 132, network 8
        assert len(gb) == 20 and gb.startswith("34020000") and gb[10:13] == "132" and gb[13] == "8"
        assert p["state"] == "idle" and p["last_error"] is None
        assert "password" not in p and p["has_password"] is True
        assert srv.connected == 0  # on demand: nothing pulled before anyone watches

        r = await api.get("/api/channels", params={"q": gb})
        items = r.json()["items"]
        assert [c["id"] for c in items] == [p["channel"]] and items[0]["online"] is True

        a = await play(api, p["channel"])
        b = await play(api, p["channel"])
        assert a["session_id"] == b["session_id"]
        assert a["codec"] == "h264" and a["width"] == 320 and a["height"] == 240
        assert a["transport"] == f"rtsp-{transport}"
        va = await WsReader(a["ws_url"]).start()
        vb = await WsReader(b["ws_url"]).start()
        await va.wait_frames(50, 30)
        await vb.wait_frames(50, 30)
        assert srv.connected == 1  # two viewers, one pull
        state = await proxy(api, p["id"])
        assert state["state"] == "streaming" and state["session_id"] == a["session_id"]
        listed = (await api.get("/api/streams")).json()["items"]
        mine = [s for s in listed if s["id"] == a["session_id"]]
        assert mine and mine[0]["viewers"]["ws"] == 2 and mine[0]["audio_codec"] == "pcma"

        snap = await api.get(f"/api/channels/{p['channel']}/snapshot")
        assert snap.status_code == 200 and snap.headers["content-type"] == "image/jpeg"
        assert snap.content[:3] == b"\xff\xd8\xff"

        await va.close()
        await vb.close()

        async def stopped() -> bool:
            s = await proxy(api, p["id"])
            return s["state"] == "idle" and srv.closed >= 1 and node.proxies.active_pulls() == 0

        await eventually(stopped, 20)  # idle_grace_s=1 after the last viewer
        ended = (await api.get("/api/streams")).json()["ended"]
        assert any(e["id"] == a["session_id"] and e["end_reason"] == "idle" for e in ended)
        assert srv.clients == 0
    await api.aclose()


async def test_wrong_password_gives_auth_failed(make_node: NodeFactory) -> None:
    node, api = await proxy_node(make_node)
    async with RtspServer(user="cam", password="right") as srv:
        p = await add_proxy(api, url=srv.url, username="cam", password="wrong")
        async with EventReader(node, api.headers["Authorization"].split()[1]) as events:
            r = await api.post(f"/api/channels/{p['channel']}/play", json={})
            assert r.status_code == 502, r.text
            assert r.json()["reason"] == "auth_failed"
            assert "401" in r.json()["detail"] and "wrong" not in r.json()["detail"]

            async def failed() -> bool:
                s = await proxy(api, p["id"])
                return s["state"] == "failed" and s["last_error"] == "auth_failed"

            await eventually(failed, 10)

            async def offline() -> bool:
                r = await api.get(f"/api/channels/{p['channel']}")
                return r.json()["online"] is False

            await eventually(offline, 10)
            await eventually(lambda: bool(events.of("stream.stopped", reason="auth_failed")), 10)
            await eventually(lambda: bool(events.of("proxy.state", last_error="auth_failed")), 10)
        history = (await api.get(f"/api/devices/{p['gb_id']}/history")).json()
        assert any(h["reason"] == "proxy_auth_failed" and not h["online"] for h in history)
        # fixing the password brings it back
        r = await api.patch(f"/api/proxies/{p['id']}", json={"password": "right"})
        assert r.status_code == 200 and r.json()["has_password"]
        ok = await play(api, p["channel"])
        assert ok["codec"] == "h264"
        assert (await proxy(api, p["id"]))["last_error"] is None
    await api.aclose()


async def test_dead_server_connect_failed_then_backoff_and_recovery(
    make_node: NodeFactory,
) -> None:
    node, api = await proxy_node(make_node)
    port = free_port()
    dead = f"rtsp://127.0.0.1:{port}/cam"
    # on demand: the viewer is told at once
    od = await add_proxy(api, url=dead, name="on-demand")
    r = await api.post(f"/api/channels/{od['channel']}/play", json={})
    assert r.status_code == 502 and r.json()["reason"] == "connect_failed", r.text
    assert (await proxy(api, od["id"]))["last_error"] == "connect_failed"

    token = api.headers["Authorization"].split()[1]
    async with EventReader(node, token) as events:
        always = await add_proxy(api, url=dead, name="always-on", on_demand=False)

        def failures() -> list[dict[str, Any]]:
            return [
                e
                for e in events.of("proxy.state", id=always["id"], state="failed")
                if e["data"]["last_error"] == "connect_failed"
            ]

        await eventually(lambda: len(failures()) >= 3, 20)
        delays = [e["data"]["retry_delay_s"] for e in failures()[:3]]
        # exponential: 0.3, 0.6, 1.2 s (jitter off), capped at backoff_max_s
        assert delays == pytest.approx([0.3, 0.6, 1.2], abs=0.05), delays
        s = await proxy(api, always["id"])
        assert s["last_error"] == "connect_failed" and s["reconnects"] >= 3
        ch = (await api.get(f"/api/channels/{always['channel']}")).json()
        assert ch["online"] is False

        async with RtspServer(port=port) as srv:

            async def recovered() -> bool:
                s = await proxy(api, always["id"])
                return s["state"] == "streaming"

            await eventually(recovered, 20)
            assert srv.connected == 1
            ch = (await api.get(f"/api/channels/{always['channel']}")).json()
            assert ch["online"] is True
            # always-on: no viewer, still pulling after the idle grace period
            v = await WsReader((await play(api, always["channel"]))["ws_url"]).start()
            await v.wait_frames(10, 20)
            await v.close()
            await eventually(lambda: node.live.clock.now > 0, 1)
            s = await proxy(api, always["id"])
            assert s["state"] == "streaming" and s["failures"] == 0
        # the server went away under a running always-on pull: reconnects again
        await eventually(
            lambda: bool(
                [
                    e
                    for e in events.of("proxy.state", id=always["id"], state="failed")
                    if e["data"]["last_error"] in ("disconnected", "no_frames", "connect_failed")
                ][3:]
            ),
            30,
        )
    await api.aclose()


async def test_h265_passes_through(make_node: NodeFactory) -> None:
    _node, api = await proxy_node(make_node)
    async with RtspServer(codec="h265", audio=False) as srv:
        p = await add_proxy(api, url=srv.url, transport="tcp")
        a = await play(api, p["channel"])
        assert a["codec"] == "h265" and a["mime_codec"].startswith(("hvc1", "hev1"))
        v = await WsReader(a["ws_url"]).start()
        await v.wait_frames(50, 40)
        await v.close()
        snap = await api.get(f"/api/channels/{p['channel']}/snapshot")
        assert snap.status_code == 200 and snap.content[:2] == b"\xff\xd8"
    await api.aclose()
