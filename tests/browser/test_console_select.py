"""Map box/radius select and device admission (issue 17) in Chromium.

The map test uses the ``site`` NVR, whose channels sit 0.001° apart on a diagonal
(~140 px at zoom 17), so a drag around two of them must pick exactly those two;
the IPCs lie ~10 km away and must never be picked. The admission test runs a node
whose registrar holds unknown devices for approval.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import pytest

from tests.integration.conftest import NodeFactory, login
from tests.integration.devices_helpers import eventually, fleet_for, ipc

from .conftest import ConsoleLog, Shots, Site, field, tid, ui_login

pytestmark = [pytest.mark.browser, pytest.mark.slow]


async def centre(page: Any, test_id: str) -> tuple[float, float]:
    b = await page.locator(tid(test_id)).first.bounding_box()
    assert b is not None, f"{test_id} is not drawn"
    return b["x"] + b["width"] / 2, b["y"] + b["height"] / 2


async def drag(page: Any, start: tuple[float, float], end: tuple[float, float]) -> None:
    await page.mouse.move(*start)
    await page.mouse.down()
    await page.mouse.move((start[0] + end[0]) / 2, (start[1] + end[1]) / 2, steps=4)
    await page.mouse.move(*end, steps=4)
    await page.mouse.up()


async def picked_pks(page: Any) -> list[int]:
    """Send the selection to the live grid and read the channel pks from the URL."""
    await page.get_by_test_id("map-to-live").click()
    await page.wait_for_function(
        "() => location.pathname === '/live' && location.search.startsWith('?chs=')"
    )
    return sorted(int(x) for x in parse_qs(urlparse(page.url).query)["chs"][0].split(","))


async def test_box_and_radius_select_pick_only_the_cameras_inside(
    page: Any, site: Site, shots: Shots
) -> None:
    r = await site.api.post("/api/ledger/cameras/sync-from-channels")
    assert r.status_code == 200 and r.json()["created"] == site.channel_count, r.text
    records = {
        c["name"]: c["id"]
        for c in (await site.api.get("/api/ledger/cameras", params={"limit": 100})).json()["items"]
    }
    channels = {
        c["name"]: c["id"]
        for c in (await site.api.get("/api/channels", params={"limit": 100})).json()["items"]
    }
    names = [f"录像机1通道{c}" for c in (1, 2, 3)]
    rec = [records[n] for n in names]
    want = sorted(channels[n] for n in names[:2])

    await ui_login(page)
    await page.get_by_test_id("nav-map").click()
    await page.wait_for_function(
        "([sel, n]) => document.querySelector(sel)?.dataset.total === n",
        arg=[tid("map-total"), str(site.channel_count)],
    )

    async def locate_first() -> tuple[float, float]:
        await field(page, "map-search").fill(names[0])
        await page.get_by_test_id(f"map-found-{rec[0]}").click()
        await page.get_by_test_id(f"map-point-{rec[1]}").wait_for()
        await asyncio.sleep(0.6)  # the detail panel opens and the map pans once
        return await centre(page, f"map-point-{rec[0]}")

    # box: from above-left of channel 1 to below-right of channel 2 (north is up,
    # so channel 2 lies up and right of channel 1)
    a = await locate_first()
    b = await centre(page, f"map-point-{rec[1]}")
    c = await centre(page, f"map-point-{rec[2]}")
    assert b[0] - a[0] > 60 and a[1] - b[1] > 60, (a, b)  # zoomed in far enough to separate
    await page.get_by_test_id("map-select-box").click()
    await drag(page, (a[0] - 30, a[1] + 30), (b[0] + 30, b[1] - 30))
    to_live = page.get_by_test_id("map-to-live")
    await to_live.wait_for()
    await shots(page, "box")
    assert await to_live.get_attribute("data-count") == "2"
    # channel 3 lies outside the box though still on screen
    assert c[0] > b[0] + 30 and c[1] < b[1] - 30
    assert await picked_pks(page) == want

    # radius: centred beside channel 1, reaching channel 2 but not channel 3
    await page.get_by_test_id("nav-map").click()
    a = await locate_first()
    b = await centre(page, f"map-point-{rec[1]}")
    c = await centre(page, f"map-point-{rec[2]}")
    start = (a[0] - 15, a[1])
    reach = lambda p: ((p[0] - start[0]) ** 2 + (p[1] - start[1]) ** 2) ** 0.5  # noqa: E731
    radius = (reach(b) + reach(c)) / 2
    assert reach(b) < radius - 20 < radius + 20 < reach(c)
    await page.get_by_test_id("map-select-radius").click()
    await drag(page, start, (start[0], start[1] + radius))
    await to_live.wait_for()
    await shots(page, "radius")
    assert await to_live.get_attribute("data-count") == "2"
    assert await picked_pks(page) == want
    # the live grid's PTZ panel asks the dome for presets; on a loaded box the site's
    # 1 s keepalive can briefly mark the NVR offline (409). Anything else is a failure.
    errors = [e for e in page.console_log.errors if not ("409" in e and "/presets" in e)]
    assert errors == [], errors


async def test_pending_devices_are_admitted_or_rejected_from_device_management(
    browser: Any, make_node: NodeFactory, web_dist: Path, shots: Shots
) -> None:
    node = await make_node(sip={"admission": "approve"}, ui={"dist": str(web_dist)})
    api = await login(node)
    fleet = fleet_for(node)
    keep, drop = fleet.add(ipc(31)), fleet.add(ipc(32))
    await fleet.start()
    context = await browser.new_context(
        base_url=f"http://127.0.0.1:{node.http_port}", viewport={"width": 1440, "height": 900}
    )
    try:
        assert await keep.register() == 403 and await drop.register() == 403  # held
        page = await context.new_page()
        page.set_default_timeout(15_000)
        log = ConsoleLog()
        log.attach(page)
        await ui_login(page)
        await page.get_by_test_id("nav-devmgmt").click()
        queue = page.get_by_test_id("devmgmt-pending")
        for d in (keep, drop):
            await queue.locator(tid(f"devmgmt-admit-{d.device_id}")).wait_for()
        await shots(page, "pending")

        async def admission(dev_id: str) -> str:
            out: str = (await api.get(f"/api/devices/{dev_id}")).json()["admission"]
            return out

        await queue.locator(tid(f"devmgmt-admit-{keep.device_id}")).click()
        await eventually(lambda: _is(admission, keep.device_id, "admitted"), 10)
        await queue.locator(tid(f"devmgmt-reject-{drop.device_id}")).click()
        await eventually(lambda: _is(admission, drop.device_id, "rejected"), 10)
        # both leave the queue; the admitted one may now register, the rejected one not
        await queue.locator(tid(f"devmgmt-admit-{keep.device_id}")).wait_for(state="detached")
        await queue.locator(tid(f"devmgmt-admit-{drop.device_id}")).wait_for(state="detached")
        assert await keep.register() == 200
        assert await drop.register() == 403
        await shots(page, "decided")
        assert log.errors == [], log.errors
    finally:
        await context.close()
        await fleet.stop()
        await api.aclose()


async def _is(get: Any, dev_id: str, want: str) -> bool:
    return bool(await get(dev_id) == want)


async def test_alarm_pages_and_a_filter_return_to_page_one_with_one_request(
    page: Any, site: Site, shots: Shots
) -> None:
    """The paged-list composable: page 2 holds the rest, a filter goes back to page 1
    and costs one request (the view used to load twice: page watch + explicit load)."""
    a, b = site.ipcs[0], site.ipcs[1]
    for n in range(21):
        assert await a.send_alarm(a.channels[0].channel_id, description=f"甲{n}") == 200
    for n in range(4):
        assert await b.send_alarm(b.channels[0].channel_id, description=f"乙{n}") == 200
    await eventually(
        lambda: _total(site, {}, 25), 10
    )  # stored before the page opens, so no live reloads interfere
    requests: list[str] = []
    page.on(
        "request",
        lambda r: requests.append(r.url) if urlparse(r.url).path == "/api/alarms" else None,
    )
    await ui_login(page)
    await page.get_by_test_id("nav-alarms").click()
    body = page.locator(f"{tid('alarm-table')} tbody tr")
    await page.wait_for_function(
        "sel => document.querySelectorAll(sel).length === 20", arg=f"{tid('alarm-table')} tbody tr"
    )
    await page.locator(".pager .el-pager li", has_text="2").click()
    await page.wait_for_function(
        "sel => document.querySelectorAll(sel).length === 5", arg=f"{tid('alarm-table')} tbody tr"
    )
    assert "offset=20" in requests[-1]
    await asyncio.sleep(0.5)
    before = len(requests)
    await field(page, "alarm-filter-device").fill(b.device_id)
    await field(page, "alarm-filter-device").press("Enter")
    await page.wait_for_function(
        "sel => document.querySelectorAll(sel).length === 4", arg=f"{tid('alarm-table')} tbody tr"
    )
    await asyncio.sleep(1)  # a second, redundant load would have been sent by now
    assert len(requests) - before == 1, requests[before:]
    assert "offset=0" in requests[-1] and f"device_id={b.device_id}" in requests[-1]
    assert await page.locator(".pager .el-pager li.is-active").inner_text() == "1"
    assert all("乙" in t for t in await body.all_inner_texts())
    await shots(page, "filtered")
    assert page.console_log.errors == [], page.console_log.errors


async def _total(site: Site, params: dict[str, str], want: int) -> bool:
    r = await site.api.get("/api/alarms", params={**params, "limit": 1})
    return bool(r.json()["total"] == want)


async def test_a_late_answer_for_an_older_filter_does_not_replace_the_newer(
    page: Any, site: Site
) -> None:
    """Typing on: the ledger's answer for the first search arrives after the second's
    and must be dropped, or the table shows rows the filter no longer asks for."""
    r = await site.api.post("/api/ledger/cameras/sync-from-channels")
    assert r.status_code == 200, r.text
    slow_sent = asyncio.Event()

    async def delay_old(route: Any) -> None:
        if "测试枪机" in unquote(route.request.url):
            slow_sent.set()
            await asyncio.sleep(2)
        await route.continue_()

    await page.route(re.compile(r"/api/ledger/cameras\?"), delay_old)
    await ui_login(page)
    await page.get_by_test_id("nav-ledger").click()
    rows = f"{tid('ledger-table')} tbody tr"
    await page.wait_for_function(
        "([sel, n]) => document.querySelectorAll(sel).length === n",
        arg=[rows, site.channel_count],
    )
    await field(page, "ledger-search").fill("测试枪机1号")
    await asyncio.wait_for(slow_sent.wait(), 5)
    await field(page, "ledger-search").fill("录像机")
    await page.wait_for_function(
        "([sel, n]) => document.querySelectorAll(sel).length === n",
        arg=[rows, len(site.nvr.channels)],
    )
    await asyncio.sleep(2.5)  # the older answer has arrived by now
    texts = await page.locator(rows).all_inner_texts()
    assert len(texts) == len(site.nvr.channels) and all("录像机" in t for t in texts), texts
    assert page.console_log.errors == [], page.console_log.errors
