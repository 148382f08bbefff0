"""The console's O&M page: rates, the alarm centre (acknowledge), the report download."""

from __future__ import annotations

from typing import Any

from tests.integration.devices_helpers import eventually

from .conftest import Shots, Site, ui_login
from .test_console import wait_attr


async def test_om_page_shows_rates_alarms_and_downloads_the_report(
    page: Any, site: Site, shots: Shots
) -> None:
    await ui_login(page)
    await page.get_by_test_id("nav-om").click()
    await page.get_by_test_id("om-gauges").wait_for()
    await page.get_by_test_id("om-rates").get_by_text("340200", exact=True).wait_for()
    await shots(page, "om-rates")

    cam = site.ipcs[0]
    cam.set_fault("offline")  # keepalives stop: the channel goes offline, an alarm is raised

    async def alarm_id() -> int | None:
        r = await site.api.get("/api/health/alarms", params={"state": "triggered"})
        mine = [
            a for a in r.json()["items"] if a["source_key"] == f"device_offline:{cam.device_id}"
        ]
        return mine[0]["id"] if mine else None

    await eventually(alarm_id, 20)
    aid = await alarm_id()
    await page.locator("#tab-alarms").click()
    await page.get_by_test_id("om-alarms").get_by_text(cam.device_id).first.wait_for()
    await shots(page, "om-alarms-list")
    await page.get_by_test_id(f"om-ack-{aid}").click()
    await wait_attr(page, f"om-alarm-state-{aid}", "data-state", "acknowledged")
    stored = (await site.api.get("/api/health/alarms", params={"kind": "device_offline"})).json()
    assert next(a for a in stored["items"] if a["id"] == aid)["acknowledged_by"] == "admin"
    await shots(page, "om-alarms")

    await page.locator("#tab-assessment").click()
    async with page.expect_download() as info:
        await page.get_by_test_id("om-report-xlsx").click()
    download = await (await info.value).path()
    with open(download, "rb") as f:
        assert f.read(2) == b"PK"  # an xlsx is a zip
    assert page.console_log.errors == [], page.console_log.errors
