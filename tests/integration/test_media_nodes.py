"""Two ``sharpeyes media`` processes + NATS on loopback, a control link in this process.

Streams are placed on both nodes, RTP from a simulated device reaches the node it was
placed on (first-packet event), killing a node ends its streams with ``media_node_lost``
and the next open lands on the other, the restarted node rejoins, and a new control link
(control-node restart) closes the streams it did not place.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sharpeyes.live.session import EndReason
from sharpeyes.nodes.bus import ControlLink
from sharpeyes.nodes.protocol import OpenReceiver, StreamEventKind
from sharpeyes.nodes.registry import Lost, NodeRegistry, NodeState
from sharpeyes.nodes.tokens import StreamClaims, public_pem, sign
from tests.nats_fixture import free_port, nats_url  # noqa: F401

from .conftest import NodeFactory, login

pytestmark = pytest.mark.slow


def start_node(
    url: str, node_id: str, base: int, http_port: int | None = None, pubkey: str | None = None
) -> subprocess.Popen[bytes]:
    extra = {"SHARPEYES_MEDIA_NODE__TOKEN_PUBLIC_KEY": pubkey} if pubkey else {}
    env = dict(
        os.environ,
        **extra,
        SHARPEYES_NATS__URL=url,
        SHARPEYES_MEDIA_NODE__ID=node_id,
        SHARPEYES_MEDIA_NODE__PORT_RANGE=f"[{base}, {base + 9}]",
        SHARPEYES_MEDIA_NODE__HTTP_PORT=str(http_port or free_port()),
        SHARPEYES_MEDIA_NODE__HEARTBEAT_S="0.3",
    )
    return subprocess.Popen(
        [sys.executable, "-m", "sharpeyes.cli", "media"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def wait_for(cond, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not cond():
        if loop.time() > end:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


@pytest.fixture
async def nodes(nats_url: str) -> AsyncIterator[dict[str, subprocess.Popen[bytes]]]:  # noqa: F811
    procs = {"m1": start_node(nats_url, "m1", 32100), "m2": start_node(nats_url, "m2", 32200)}
    try:
        yield procs
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                p.wait(5)


async def test_two_media_nodes_place_lose_rejoin(
    nats_url: str,  # noqa: F811
    nodes: dict[str, subprocess.Popen[bytes]],
) -> None:
    lost: list[Lost] = []

    async def on_lost(x: Lost) -> None:
        lost.append(x)

    reg = NodeRegistry(down_after_s=2.0)
    link = ControlLink(nats_url, reg, on_lost)
    await link.start()
    try:
        await wait_for(lambda: {i["id"] for i in reg.items() if i["state"] == "up"} == {"m1", "m2"})
        placed = {}
        for i in range(4):
            node, reply = await link.open_receiver(OpenReceiver(stream=f"s{i}", ssrc=1000 + i))
            placed[f"s{i}"] = (node, reply.port)
        assert sorted(n for n, _ in placed.values()) == ["m1", "m1", "m2", "m2"]

        # a simulated device sends RTP to s0's node: the node reports the first packet
        node0, port0 = placed["s0"]
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as dev:
            dev.sendto(b"\x80\x60" + b"\x00" * 30, ("127.0.0.1", port0))
        ev = await asyncio.wait_for(link.events.get(), 5)
        assert (ev.node, ev.stream, ev.kind) == (node0, "s0", StreamEventKind.FIRST_PACKET)
        await wait_for(lambda: reg.get(node0).hb.streams.count("s0") == 1)  # type: ignore[union-attr]

        # kill the node holding s0 (no goodbye): its streams are lost, next open goes elsewhere
        nodes[node0].kill()
        nodes[node0].wait(5)
        await wait_for(lambda: bool(lost), timeout=10)
        mine = {s for s, (n, _) in placed.items() if n == node0}
        assert lost[0].node == node0 and lost[0].streams == frozenset(mine)
        assert EndReason.MEDIA_NODE_LOST.value == "media_node_lost"
        other = "m2" if node0 == "m1" else "m1"
        n, _ = await link.open_receiver(OpenReceiver(stream="s9", ssrc=9))
        assert n == other

        # restart it: it rejoins, and takes new streams, without restarting the control link
        nodes[node0] = start_node(nats_url, node0, 32100 if node0 == "m1" else 32200)
        await wait_for(lambda: reg.get(node0).state is NodeState.UP)  # type: ignore[union-attr]
        n, _ = await link.open_receiver(OpenReceiver(stream="s10", ssrc=10))
        assert n == node0
    finally:
        await link.stop()

    # control-node restart: a fresh link owns nothing, so it closes what the nodes announce
    reg2 = NodeRegistry(down_after_s=2.0)
    link2 = ControlLink(nats_url, reg2, on_lost)
    await link2.start()
    try:
        ended: set[str] = set()

        async def drain() -> None:
            while True:
                ev = await link2.events.get()
                if ev.kind is StreamEventKind.ENDED:
                    ended.add(ev.stream)

        task = asyncio.create_task(drain())

        def all_closed() -> bool:
            items = reg2.items()
            return len(items) == 2 and all(
                not reg2.get(i["id"]).hb.streams  # type: ignore[union-attr]
                for i in items
            )

        await wait_for(all_closed, timeout=10)
        task.cancel()
        survivors = {s for s, (n, _) in placed.items() if n != node0} | {"s9", "s10"}
        assert survivors <= ended
    finally:
        await link2.stop()


async def test_control_node_lists_media_nodes_and_ends_lost_streams(
    nats_url: str,  # noqa: F811
    make_node: NodeFactory,
    tmp_path: Path,
) -> None:
    """``media.mode = nodes``: GET /api/media/nodes shows the node up, then down after it
    is killed, and its stream ends on the event bus with ``media_node_lost``."""
    control = await make_node(
        media={"mode": "nodes", "token_key_file": str(tmp_path / "k.pem")},
        nats={"url": nats_url},
    )
    plane = control.media_plane
    assert plane is not None
    plane.registry.down_after_s = 2.0
    proc = start_node(nats_url, "solo", 32300)
    api = await login(control)
    try:
        with control.bus.subscribe() as sub:
            await wait_for(lambda: bool(plane.registry.items()))
            r = await api.get("/api/media/nodes")
            assert r.status_code == 200
            (item,) = r.json()["items"]
            assert (item["id"], item["state"], item["pid"]) == ("solo", "up", proc.pid)
            node_id, _ = await plane.link.open_receiver(OpenReceiver(stream="live-1", ssrc=1))
            assert node_id == "solo"
            proc.kill()
            proc.wait(5)
            ended = None
            while ended is None:
                ev = await asyncio.wait_for(sub.queue.get(), 10)
                if ev.type == "media.stream_lost":
                    ended = ev
            assert ended.data == {
                "session_id": "live-1",
                "media_node": "solo",
                "reason": "media_node_lost",
            }
            (item,) = (await api.get("/api/media/nodes")).json()["items"]
            assert (item["state"], item["streams"]) == ("down", 0)
    finally:
        await api.aclose()
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


async def test_media_node_verifies_control_tokens_with_the_public_key(
    nats_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    """Genuine token for a held stream passes the check; forged, expired, other-stream
    and missing tokens are refused (403) by the media node process."""
    key = Ed25519PrivateKey.generate()
    pem = tmp_path / "stream-token.pub"
    pem.write_bytes(public_pem(key))
    port = free_port()
    proc = start_node(nats_url, "tok", 32400, http_port=port, pubkey=str(pem))

    async def on_lost(_: Lost) -> None:
        pass

    reg = NodeRegistry(down_after_s=2.0)
    link = ControlLink(nats_url, reg, on_lost)
    await link.start()
    try:
        await wait_for(lambda: bool(reg.items()))
        await link.open_receiver(OpenReceiver(stream="live-7", ssrc=7))
        url = f"http://127.0.0.1:{port}/api/streams/live-7/hls/index.m3u8"
        now = time.time()
        good = sign(key, StreamClaims(stream="live-7", node="tok", exp=now + 60))
        forged = sign(Ed25519PrivateKey.generate(), StreamClaims("live-7", "tok", now + 60))
        expired = sign(key, StreamClaims(stream="live-7", node="tok", exp=now - 1))
        other = sign(key, StreamClaims(stream="live-8", node="tok", exp=now + 60))
        async with httpx.AsyncClient(timeout=10) as http:
            r = await http.get(url, params={"token": good})
            assert r.status_code == 501  # accepted; HLS itself is not served by nodes yet
            for tok in (forged, expired, other, "", "x.y"):
                r = await http.get(url, params={"token": tok})
                assert r.status_code == 403, tok
                assert r.json()["code"] == "token_refused"
            r = await http.get(
                url.replace("live-7", "live-9"),
                params={"token": sign(key, StreamClaims("live-9", "tok", now + 60))},
            )
            assert r.status_code == 404
    finally:
        await link.stop()
        proc.terminate()
        proc.wait(5)
