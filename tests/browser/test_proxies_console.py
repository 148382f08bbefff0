"""The proxies page: list, add an RTSP camera through the form, follow its state.

A real RTSP server (GStreamer) is the camera; the page's state tag follows the
``proxy.state`` events as the pull starts (a viewer plays the channel through the API).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from sharpeyes.node import Node
from tests.integration.conftest import NodeFactory, login
from tests.integration.devices_helpers import eventually
from tests.integration.live_helpers import FAST, WsReader, play
from tests.integration.proxies_helpers import RtspServer, needs_gst
from tests.integration.test_proxies_rtsp import FAST_PROXY

from .conftest import ConsoleLog, Shots, field, ui_login

pytestmark = [pytest.mark.browser, pytest.mark.db, needs_gst]


@pytest.fixture
async def proxy_node(make_node: NodeFactory, web_dist: Path) -> Node:
    return await make_node(media=dict(FAST), proxies=dict(FAST_PROXY), ui={"dist": str(web_dist)})


@pytest.fixture
async def proxy_page(browser: Any, proxy_node: Node) -> AsyncIterator[Any]:
    context = await browser.new_context(
        base_url=f"http://127.0.0.1:{proxy_node.http_port}", viewport={"width": 1440, "height": 900}
    )
    pg = await context.new_page()
    pg.set_default_timeout(15_000)
    pg.console_log = ConsoleLog()  # type: ignore[attr-defined]
    pg.console_log.attach(pg)  # type: ignore[attr-defined]
    try:
        yield pg
    finally:
        await context.close()


async def test_proxies_page_lists_adds_and_shows_state(
    proxy_page: Any, proxy_node: Node, shots: Shots
) -> None:
    page = proxy_page
    api = await login(proxy_node)
    try:
        async with RtspServer(user="cam", password="pw") as srv:
            r = await api.post("/api/proxies", json={"name": "已有摄像机", "url": srv.url})
            assert r.status_code == 201, r.text
            existing = r.json()

            await ui_login(page)
            await page.goto("/proxies")
            table = page.get_by_test_id("proxy-table")
            await table.get_by_text("已有摄像机").wait_for()
            await table.get_by_text(existing["gb_id"]).wait_for()

            # a bad URL: the form shows the server's message and nothing is added
            await page.get_by_test_id("proxy-add").click()
            await field(page, "proxy-name").fill("学校北门")
            await field(page, "proxy-url").fill("ftp://127.0.0.1/cam")
            await page.get_by_test_id("proxy-save").click()
            error = page.get_by_test_id("proxy-error")
            await error.wait_for()
            assert "url" in (await error.inner_text()).lower()
            assert len((await api.get("/api/proxies")).json()["items"]) == 1

            await field(page, "proxy-url").fill(srv.url)
            await field(page, "proxy-username").fill("cam")
            await field(page, "proxy-password").fill("pw")
            await page.get_by_test_id("proxy-save").click()
            await table.get_by_text("学校北门").wait_for()

            items = (await api.get("/api/proxies")).json()["items"]
            added = next(p for p in items if p["name"] == "学校北门")
            assert added["url"].startswith("rtsp://127.0.0.1:") and added["has_password"] is True
            assert added["on_demand"] is True and added["transport"] == "tcp"
            tag = page.get_by_test_id(f"proxy-state-{added['id']}")
            await tag.wait_for()
            assert (await tag.inner_text()).strip() == "空闲"  # idle: on demand, nobody watching
            await shots(page, "added")

            # somebody watches: the row turns to streaming from the proxy.state events
            viewer = await WsReader((await play(api, added["channel"]))["ws_url"]).start()
            try:
                await viewer.wait_frames(10, 30)

                async def streaming() -> bool:
                    return (await tag.inner_text()).strip() == "拉流中"

                await eventually(streaming, 20)
                await shots(page, "streaming")
            finally:
                await viewer.close()
            assert srv.connected == 1
        # the only console error is the browser's note on the refused ftp:// POST
        unexpected = [e for e in page.console_log.errors if "400 (Bad Request)" not in e]
        assert unexpected == [] and len(page.console_log.errors) <= 1, page.console_log.errors
    finally:
        await api.aclose()
