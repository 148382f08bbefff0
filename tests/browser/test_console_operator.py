"""The operator-grade console of issue 17 in Chromium, against a node with a small
simulated county seeded the way ``sharpeyes demo`` seeds it (townships, units,
police stations, a synced and completed ledger), plus a device with a wrong
password and a pre-provisioned one that never registers.

Each test asserts what an operator sees: populated first pages, boxes of the
live toolbar (no wrapping), the sub-stream actually requested, the bell counting
a simulator alarm and its popup opening that camera.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from sharpeyes.node import Node
from sharpeyes.sim.county import build_county
from sharpeyes.sim.demo import expected_channels, provision_county, seed_demo, wait_for_catalogs
from sharpeyes.sim.device import SimDevice
from sharpeyes.sim.fleet import SimFleet
from sharpeyes.sim.media import SimMediaConfig
from tests.integration.conftest import NodeFactory, login
from tests.integration.devices_helpers import device_id, eventually, fleet_for, ipc

from .conftest import ConsoleLog, Shots, field, tid, ui_login

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NEVER = device_id(77)  # pre-provisioned, never registers


@dataclass
class County:
    node: Node
    fleet: SimFleet
    api: httpx.AsyncClient
    devices: list[SimDevice]
    wrong: SimDevice
    channels: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.node.http_port}"


@pytest.fixture
async def county(make_node: NodeFactory, web_dist: Path) -> AsyncIterator[County]:
    node = await make_node(ui={"dist": str(web_dist)})
    configs = build_county(
        seed=1,
        platform_domain=node.settings.sip.domain,
        townships=2,
        cameras_per_township=11,
        misbehaving=False,
        keepalive_interval=5,
    )
    for cfg in configs:  # light video: a 16-grid must not starve a shared CI machine
        cfg.media = SimMediaConfig(fps=5, gop=5, frames=10, bitrate=150_000)
    fleet = fleet_for(node)
    devices = [fleet.add(c) for c in configs]
    wrong = fleet.add(ipc(5, password="wrong-password-1"))
    api = await login(node)
    await provision_county(node, configs)
    r = await api.post("/api/devices", json={"device_id": NEVER, "name": "未上线球机"})
    assert r.status_code == 201, r.text
    await fleet.start()
    try:
        await fleet.register_all()
        fleet.start_keepalives()
        want = expected_channels(configs)
        assert await wait_for_catalogs(node, want, timeout=60) >= want
        await seed_demo(node, townships=2)
        yield County(node, fleet, api, devices, wrong, want)
    finally:
        await fleet.stop()
        await api.aclose()


@pytest.fixture
async def cpage(browser: Any, county: County) -> AsyncIterator[Any]:
    context = await browser.new_context(
        base_url=county.url, viewport={"width": 1440, "height": 900}, accept_downloads=True
    )
    pg = await context.new_page()
    pg.set_default_timeout(20_000)
    pg.console_log = ConsoleLog()  # type: ignore[attr-defined]
    pg.console_log.attach(pg)  # type: ignore[attr-defined]
    try:
        yield pg
    finally:
        await context.close()


async def wait_attr(page: Any, test_id: str, attr: str, value: str, timeout: float = 20) -> None:
    await page.wait_for_function(
        "([sel, attr, value]) => { const el = document.querySelector(sel);"
        " return !!el && el.getAttribute(attr) === value }",
        arg=[tid(test_id), attr, value],
        timeout=timeout * 1000,
    )


async def box(page: Any, selector: str) -> dict[str, float]:
    b = await page.locator(selector).first.bounding_box()
    assert b is not None, f"{selector} is not displayed"
    return b


async def channel_pks(county: County) -> list[int]:
    r = await county.api.get("/api/channels", params={"limit": 1000})
    items = sorted(r.json()["items"], key=lambda c: c["channel_id"])
    return [c["id"] for c in items]


# ---------------------------------------------------------------------------------
async def test_first_pages_are_populated(cpage: Any, county: County, shots: Shots) -> None:
    """Defects 2, 3, 6: ledger, map, region names and the quality report on first run."""
    page = cpage
    await ui_login(page)
    # the dashboard: reconciliation counts, one never-registered device
    await wait_attr(page, "kpi-recon-never_registered", "data-count", "1")
    await wait_attr(page, "kpi-reg-failures", "data-count", "1")
    await shots(page, "dashboard")

    await page.get_by_test_id("nav-ledger").click()
    await page.wait_for_function(
        "([sel, n]) => document.querySelectorAll(sel + ' tbody tr').length === n",
        arg=[tid("ledger-table"), min(20, county.channels)],
    )
    assert await page.get_by_test_id("ledger-empty-hint").count() == 0
    table = page.get_by_test_id("ledger-table")
    text = await table.inner_text()
    assert "城关镇" in text
    cells = await table.locator("tbody td").all_inner_texts()
    assert not [c for c in cells if c.strip().isdigit() and len(c.strip()) == 8]  # no raw codes
    assert "不完整" not in text  # synced records are completed by the demo seed
    await shots(page, "ledger")

    await page.get_by_test_id("nav-map").click()
    await wait_attr(page, "map-total", "data-total", str(county.channels))
    assert await page.get_by_test_id("map-empty-hint").count() == 0
    # zoomed to the county, the offline basemap shows prefecture boundaries and names
    await page.wait_for_function(
        "sel => Number(document.querySelector(sel)?.dataset.prefectures || 0) >= 1",
        arg=tid("map"),
    )
    await page.get_by_test_id("map-region-label").filter(has_text="六安市").wait_for()
    await shots(page, "map")

    # quality report as a page: townships by name, nothing unassigned, all complete
    await page.goto("/ledger/data/quality")
    await page.get_by_test_id("quality-table").wait_for()
    await wait_attr(page, "quality-overall", "data-complete", "1")
    q = await page.get_by_test_id("quality-table").inner_text()
    assert "城关镇" in q and "孟集镇" in q and "未指定区划" not in q
    # regions page: drill from the root down to the county's townships
    await page.goto("/ledger/data/regions")
    await page.get_by_test_id("region-34").click()
    await page.get_by_test_id("region-3415").click()
    await page.get_by_test_id("region-341522").click()
    await page.get_by_test_id("region-34152201").wait_for()
    assert (await page.get_by_test_id("region-34152201").inner_text()).strip() == "城关镇"
    for kind, want in (("police", "城关派出所"), ("organisations", "霍邱县公安局")):
        await page.get_by_test_id(f"ledger-data-tab-{kind}").click()
        await page.get_by_test_id(f"ledger-data-table-{kind}").get_by_text(want).wait_for()
    await shots(page, "ledger-data")
    assert page.console_log.errors == [], page.console_log.errors


async def test_empty_pages_say_what_to_do(browser: Any, make_node: NodeFactory, web_dist: Path):
    node = await make_node(ui={"dist": str(web_dist)})
    context = await browser.new_context(base_url=f"http://127.0.0.1:{node.http_port}")
    page = await context.new_page()
    try:
        await ui_login(page)
        await page.get_by_test_id("nav-ledger").click()
        hint = page.get_by_test_id("ledger-empty-hint")
        await hint.wait_for()
        assert "从设备同步" in await hint.inner_text()
        await page.get_by_test_id("nav-map").click()
        assert "从设备同步" in await page.get_by_test_id("map-empty-hint").inner_text()
        await page.get_by_test_id("nav-resources").click()
        assert "设备管理" in await page.get_by_test_id("tree-empty-hint").inner_text()
    finally:
        await context.close()


async def test_api_docs_render_with_the_outside_blocked(
    browser: Any, make_node: NodeFactory
) -> None:
    """Defect 1: Swagger UI comes from the node, not a CDN."""
    node = await make_node()
    context = await browser.new_context(base_url=f"http://127.0.0.1:{node.http_port}")
    outside: list[str] = []

    async def only_local(route: Any) -> None:
        url = route.request.url
        if url.startswith(f"http://127.0.0.1:{node.http_port}/"):
            await route.continue_()
        else:
            outside.append(url)
            await route.abort()

    await context.route("**/*", only_local)
    page = await context.new_page()
    try:
        await page.goto("/api/docs")
        title = page.locator(".swagger-ui .info .title")
        await title.wait_for(timeout=20_000)
        assert "sharpeyes" in await title.inner_text()
        # the operations are listed (the spec was fetched and rendered)
        await page.locator(".opblock-tag", has_text="alarms").first.wait_for()
        assert outside == [], outside
        await Shots("test_api_docs_offline")(page, "docs")
    finally:
        await context.close()


async def test_16_grid_opens_sub_streams_with_a_one_line_toolbar(
    cpage: Any, county: County, shots: Shots
) -> None:
    """Defects 7 and 14: 9/16 splits ask for the sub-stream (a=streamnumber:1 in the
    INVITE, so the camera sends its smaller picture); the icon toolbar and the names
    stay on one line; the debug overlay is behind a toggle."""
    page = cpage
    pks = (await channel_pks(county))[:16]
    assert len(pks) == 16
    plays: list[str] = []
    page.on(
        "request",
        lambda req: plays.append(req.post_data or "") if req.url.endswith("/play") else None,
    )
    await ui_login(page)
    await page.goto("/live?chs=" + ",".join(map(str, pks)))
    await wait_attr(page, "live-grid", "data-layout", "16")
    for i in range(16):
        await wait_attr(page, f"cell-stream-{i}", "data-stream", "sub")
    # every cell asked the node for the sub-stream ...
    await eventually(lambda: len(plays) >= 16, 30)
    assert all(json.loads(p)["stream"] == "sub" for p in plays), plays

    # ... the node asked each device for it (a=streamnumber:1) and got the smaller picture
    async def sub_sessions() -> bool:
        items = (await county.api.get("/api/streams")).json()["items"]
        return bool(items) and all(s["stream"] == "sub" for s in items)

    await eventually(sub_sessions, 60)
    playing = await page.wait_for_function(
        """() => { for (const v of document.querySelectorAll('video[data-testid^="video-"]'))
             if (v.videoWidth > 0) return [v.videoWidth, v.videoHeight, v.dataset.testid];
           return null }""",
        timeout=90_000,
    )
    w, h, first = await playing.json_value()
    assert (w, h) == (160, 120), (w, h, first)
    # no debug overlay until asked for
    assert await page.get_by_test_id(f"{first}-info").count() == 0

    # toolbar: shown on hover, every button one small square on the name's line
    await page.get_by_test_id("cell-15").hover()
    await page.wait_for_function(
        "sel => getComputedStyle(document.querySelector(sel)).opacity === '1'",
        arg=tid("cell-bar-15"),
    )
    bar = await box(page, tid("cell-bar-15"))
    cell = await box(page, tid("cell-15"))
    assert bar["height"] <= 26, bar
    assert bar["width"] <= cell["width"] + 1
    tops = []
    for name in ("stream", "snapshot", "fullscreen", "close"):
        b = await box(page, tid(f"cell-{name}-15"))
        assert b["height"] <= 22 and b["width"] <= 22, (name, b)
        tops.append(b["y"])
    assert max(tops) - min(tops) < 2, tops
    name = await box(page, tid("cell-name-15"))
    assert name["height"] <= 20, name  # one line, cut with an ellipsis
    title = await page.get_by_test_id("cell-name-15").get_attribute("title")
    full = (await county.api.get(f"/api/channels/{pks[15]}")).json()["name"]
    assert title is not None and title.startswith(full)  # full name in the tooltip
    await shots(page, "grid16-hover")

    # the debug overlay toggles on, on one line
    await page.get_by_test_id("live-debug-toggle").click()
    info = page.get_by_test_id(f"{first}-info")
    await info.wait_for(timeout=30_000)
    ib = await info.bounding_box()
    assert ib is not None and ib["height"] <= 20, ib
    assert "160×120" in await info.inner_text()
    await shots(page, "grid16-debug")

    # at 4 splits a cell follows the main-stream default again; a cell can switch
    await page.get_by_test_id("grid-4").click()
    await wait_attr(page, "cell-stream-0", "data-stream", "main")
    await page.get_by_test_id("cell-0").hover()
    await page.get_by_test_id("cell-stream-0").click()
    await wait_attr(page, "cell-stream-0", "data-stream", "sub")
    # a device busy with 16 INVITEs on a loaded machine may answer one 5xx: the player
    # retries those (VideoPlayer.start); anything else is a failure
    errors = [e for e in page.console_log.errors if not ("/play" in e and "status of 50" in e)]
    assert errors == [], errors


async def test_bell_counts_a_simulator_alarm_and_its_popup_opens_the_camera(
    cpage: Any, county: County, shots: Shots
) -> None:
    page = cpage
    await ui_login(page)
    await wait_attr(page, "alarm-bell-count", "data-count", "0")
    cam = next(d for d in county.devices if d.config.kind == "ipc")
    ch = cam.channels[0]
    assert await cam.send_alarm(ch.channel_id, priority=1, description="周界入侵") == 200
    await wait_attr(page, "alarm-bell-count", "data-count", "1")
    popup = page.get_by_test_id("alarm-popup")
    await popup.wait_for()
    assert (await page.get_by_test_id("alarm-popup-source").inner_text()).strip() == ch.name
    assert int(await popup.get_attribute("data-beeps") or 0) >= 1  # the sound played
    await shots(page, "alarm-popup")
    # snapshot in the popup, then one click to the live video of that camera
    await page.get_by_test_id("alarm-popup-snapshot").click()
    await page.get_by_test_id("alarm-popup-image").wait_for(timeout=30_000)
    await page.get_by_test_id("alarm-popup-live").click()
    await page.get_by_test_id("live-page").wait_for()
    await wait_attr(page, "cell-0", "data-channel", ch.channel_id)
    await shots(page, "alarm-live")

    # the alarms page names the camera and filters by level and state
    assert await cam.send_alarm(ch.channel_id, priority=4, description="四级提示") == 200
    await wait_attr(page, "alarm-bell-count", "data-count", "2")
    await page.get_by_test_id("nav-alarms").click()
    table = page.get_by_test_id("alarm-table")
    await table.get_by_text("四级提示").wait_for()
    assert ch.name in await table.inner_text()
    await page.get_by_test_id("alarm-filter-level").click()
    await page.locator(".el-select-dropdown__item:visible", has_text="一级").first.click()
    await page.keyboard.press("Escape")
    await page.wait_for_function(
        "sel => { const t = document.querySelector(sel);"
        " return t && !t.innerText.includes('四级提示') && t.innerText.includes('周界入侵') }",
        arg=tid("alarm-table"),
    )
    assert page.console_log.errors == [], page.console_log.errors


async def test_device_management_shows_never_registered_and_refused(
    cpage: Any, county: County, shots: Shots
) -> None:
    """Defect 10 and the device management page."""
    page = cpage
    await ui_login(page)
    await page.get_by_test_id("nav-devmgmt").click()
    table = page.get_by_test_id("devmgmt-table")
    await table.wait_for()
    total = len(county.devices) + 1  # the county's devices and the pre-provisioned one
    await wait_attr(page, "devmgmt-table", "data-total", str(total))
    await page.get_by_test_id(f"devmgmt-never-{NEVER}").wait_for()
    failure = page.get_by_test_id(f"devmgmt-failure-{county.wrong.device_id}")
    await failure.wait_for()
    assert await failure.get_attribute("data-reason") == "Forbidden"
    assert (await failure.inner_text()).strip() == "密码错误"

    # add a device with its own password and media transport
    new_id = device_id(78)
    await page.get_by_test_id("devmgmt-add").click()
    await field(page, "devmgmt-form-id").fill(new_id)
    await field(page, "devmgmt-form-name").fill("新增测试设备")
    await field(page, "devmgmt-form-password").fill("own-pass-1")
    await page.get_by_test_id("devmgmt-form-submit").click()
    await wait_attr(page, "devmgmt-table", "data-total", str(total + 1))
    r = await county.api.get(f"/api/devices/{new_id}")
    assert r.status_code == 200 and r.json()["has_password_override"] is True

    # filter: offline only → the two that never registered
    await page.get_by_test_id("devmgmt-online").click()
    await page.locator(".el-select-dropdown__item:visible", has_text="离线").first.click()
    await wait_attr(page, "devmgmt-table", "data-total", "2")
    await shots(page, "devmgmt")

    # reconciliation page lists the never-registered devices
    await page.get_by_test_id("nav-recon").click()
    await wait_attr(page, "recon-tab-never_registered", "data-count", "2")
    await page.get_by_test_id("recon-tab-never_registered").click()
    await page.get_by_test_id("recon-table-never_registered").get_by_text(NEVER).wait_for()
    await shots(page, "recon")
    assert page.console_log.errors == [], page.console_log.errors


async def test_tree_rows_stay_aligned_and_english_headers_do_not_break(
    cpage: Any, county: County, shots: Shots
) -> None:
    """Defects 8 and 12."""
    page = cpage
    await ui_login(page)
    await page.get_by_test_id("nav-resources").click()
    nvrs = [d for d in county.devices if d.config.kind == "nvr"]
    for d in nvrs:
        await page.get_by_test_id(f"tree-device-{d.device_id}").click()
        await page.get_by_test_id(f"tree-channel-{d.channels[0].channel_id}").wait_for()
    await asyncio.sleep(0.5)
    for d in nvrs:
        parent = await box(page, tid(f"tree-device-{d.device_id}"))
        for ch in d.channels[:4]:
            child = await box(page, tid(f"tree-channel-{ch.channel_id}"))
            assert child["x"] > parent["x"], (parent, child)  # indented under its device
            assert child["height"] <= parent["height"] + 1
    scroll = page.locator(".tree-scroll").first
    sw, cw = await scroll.evaluate("e => [e.scrollWidth, e.clientWidth]")
    assert sw <= cw, (sw, cw)  # no sideways scroll
    await shots(page, "tree-expanded")

    await page.get_by_test_id("lang-switch").click()
    await page.get_by_test_id("nav-ledger").click()
    header = page.locator(".el-table__header th", has_text="Networked").first
    await header.wait_for()
    hb = await header.locator(".cell").bounding_box()
    assert hb is not None and hb["height"] <= 24, hb  # one line: not "Network / ed"
    await shots(page, "ledger-en")


async def test_record_page_labels_and_identical_coordinates(
    cpage: Any, county: County, shots: Shots
) -> None:
    """Defects 4 and 5: same coordinates are not marked different; labels not keys."""
    page = cpage
    rec = (await county.api.get("/api/ledger/cameras", params={"limit": 1})).json()["items"][0]
    await ui_login(page)
    await page.goto(f"/ledger/cameras/{rec['id']}")
    await page.get_by_test_id("record-device").wait_for()
    await wait_attr(page, "compare-device-coordinates", "data-same", "true")
    device = await page.get_by_test_id("record-device").inner_text()
    for raw in ("camera_type", "brand", "location_name", "coordinates"):
        assert raw not in device, device
    assert "经纬度" in device and "品牌" in device
    history = await page.locator(".el-timeline").inner_text()
    assert "from_channel" not in history and "从设备同步" in history
    await shots(page, "record")


async def test_users_pick_regions_from_the_tree(cpage: Any, county: County, shots: Shots) -> None:
    """Defect 13: visible regions come from a tree picker, not free text."""
    page = cpage
    await ui_login(page)
    await page.get_by_test_id("nav-users").click()
    await page.get_by_test_id("user-add").click()
    picker = page.get_by_test_id("user-region-picker").first  # the select (its tree shares the id)
    await picker.wait_for()
    await picker.click()
    await page.get_by_test_id("region-option-34").wait_for()
    await (
        page.locator(".el-tree-node", has=page.get_by_test_id("region-option-34"))
        .locator(".el-tree-node__expand-icon")
        .first.click()
    )
    await page.get_by_test_id("region-option-3415").wait_for()
    await shots(page, "region-picker")


async def test_tour_cycles_a_saved_group(cpage: Any, county: County) -> None:
    page = cpage
    pks = (await channel_pks(county))[:8]
    r = await county.api.put(
        "/api/console/views",
        json={"kind": "group", "name": "巡逻", "channels": pks, "dwell": 3},
    )
    assert r.status_code == 200, r.text
    ids = {
        c["id"]: c["channel_id"] for c in (await county.api.get("/api/channels")).json()["items"]
    }
    await ui_login(page)
    await page.get_by_test_id("nav-live").click()
    await page.get_by_test_id("grid-4").click()
    await page.get_by_test_id("tour-group").click()
    await page.locator(".el-select-dropdown__item:visible", has_text="巡逻").first.click()
    await field(page, "tour-dwell").fill("3")
    await page.get_by_test_id("tour-start").click()
    await wait_attr(page, "cell-0", "data-channel", ids[pks[0]])
    await wait_attr(page, "cell-0", "data-channel", ids[pks[4]], timeout=15)  # next page
    await wait_attr(page, "cell-0", "data-channel", ids[pks[0]], timeout=15)  # and around
    await page.get_by_test_id("tour-stop").click()
