"""A saturated event loop: new streams are refused at once, the control plane keeps answering.

The loop is really saturated (a task that blocks it 0.3 s in every 0.35 s, like
media bursts would), not mocked: the node's own lag watcher measures it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from .conftest import NodeFactory, login
from .live_helpers import add_cameras, live_node


async def _hog(block_s: float, gap_s: float) -> None:
    while True:
        time.sleep(block_s)  # blocks the loop on purpose: every other task waits
        await asyncio.sleep(gap_s)


async def test_saturated_loop_refuses_play_with_503_while_reads_and_keepalives_answer(
    make_node: NodeFactory,
) -> None:
    node, api = await live_node(make_node, max_loop_lag_ms=150)
    (cam,) = await add_cameras(node, api, [1])
    hog = asyncio.create_task(_hog(0.3, 0.05))
    try:
        for _ in range(100):
            if node.recent_loop_lag_ms() > node.settings.media.max_loop_lag_ms:
                break
            await asyncio.sleep(0.05)
        assert node.recent_loop_lag_ms() > node.settings.media.max_loop_lag_ms
        t0 = time.monotonic()
        r = await api.post(f"/api/channels/{cam.pk}/play", json={})
        print(f"play refused after {time.monotonic() - t0:.1f} s")
        assert r.status_code == 503, r.text
        body = r.json()
        assert "overloaded" in body["detail"] and "event loop lags" in body["detail"]
        assert body["code"]
        assert cam.invites() == 0  # refused before any signalling
        # reads, a fresh login and a device keepalive still answer, within a few blocks
        assert (await api.get("/api/health")).json()["status"] == "ok"
        assert (await api.get("/api/channels", params={"q": cam.channel["channel_id"]})).json()[
            "total"
        ] == 1
        other = await login(node)
        assert (await other.get("/api/stats")).status_code == 200
        await other.aclose()
        assert await cam.device.send_keepalive() == 200
        print(f"play + 3 reads + login + keepalive in {time.monotonic() - t0:.1f} s")
        assert time.monotonic() - t0 < 25
        assert node.live.stats["refused_capacity"] >= 1
    finally:
        hog.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await hog
        await cam.fleet.stop()
    # load gone: the same play goes through
    for _ in range(100):
        if node.recent_loop_lag_ms() < node.settings.media.max_loop_lag_ms:
            break
        await asyncio.sleep(0.05)
    r = await api.post(f"/api/channels/{cam.pk}/play", json={})
    assert r.status_code != 503, r.text
