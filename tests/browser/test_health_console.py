"""The console's O&M page: rates, the alarm centre (acknowledge), the report download."""

from __future__ import annotations

from datetime import UTC, datetime
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


def _input(page: Any, testid: str) -> Any:
    """The text box of an el-input (the test id lands on the <input>) or of an
    el-input-number (on its wrapper)."""
    return page.locator(f'input[data-testid="{testid}"], [data-testid="{testid}"] input').first


async def test_om_forms_create_a_plan_a_rule_and_a_work_order_and_the_trend_is_charted(
    page: Any, site: Site, shots: Shots
) -> None:
    # a day of figures so the trend chart has something to draw
    health = site.node.health
    cam = site.ipcs[0]
    cid = cam.channels[0].channel_id
    await health.rates.checkpoint(datetime.now(UTC))
    await ui_login(page)
    await page.get_by_test_id("nav-om").click()
    chart = page.get_by_test_id("om-trend-chart")
    await chart.locator("canvas").first.wait_for()
    assert int(await chart.get_attribute("data-days") or 0) >= 1

    # patrol plan (诊断预案)
    await page.locator("#tab-plans").click()
    await page.get_by_test_id("om-plan-new").click()
    form = page.get_by_test_id("om-plan-form")
    await _input(page, "om-plan-name").fill("夜间巡检")
    await _input(page, "om-plan-region").fill("3402")
    await form.get_by_text("模糊", exact=True).click()
    await form.get_by_text("画面冻结", exact=True).click()
    await _input(page, "om-plan-interval").fill("3600")
    await shots(page, "om-plan-form")
    await page.get_by_test_id("om-plan-save").click()
    await page.get_by_test_id("om-plans").get_by_text("夜间巡检").wait_for()
    [plan] = (await site.api.get("/api/vqd/plans")).json()["items"]
    assert plan["name"] == "夜间巡检" and plan["selector"] == {"region": "3402"}
    assert sorted(plan["checks"]) == ["blur", "freeze"] and plan["interval_s"] == 3600

    # alarm rule
    await page.locator("#tab-alarms").click()
    await page.get_by_test_id("om-rule-new").click()
    rform = page.get_by_test_id("om-rule-form")
    await rform.get_by_text("紧急", exact=True).click()
    await _input(page, "om-rule-threshold").fill("2")
    await page.get_by_test_id("om-rule-auto").click()
    await page.get_by_test_id("om-rule-save").click()
    await page.get_by_test_id("om-rules").wait_for()
    [rule] = (await site.api.get("/api/health/alarm-rules")).json()["items"]
    assert (rule["kind"], rule["level"], rule["threshold"], rule["auto_work_order"]) == (
        "vqd_fault",
        "urgent",
        2.0,
        True,
    )

    # work order on a camera, by its channel number
    items = (await site.api.get("/api/channels", params={"limit": 100})).json()["items"]
    pk = next(c["id"] for c in items if c["channel_id"] == cid)
    await page.locator("#tab-orders").click()
    await page.get_by_test_id("om-order-new").click()
    oform = page.get_by_test_id("om-order-form")
    await _input(page, "om-order-title").fill("镜头起雾")
    await oform.get_by_text("重要", exact=True).click()
    await _input(page, "om-order-channel").fill(str(pk))
    await _input(page, "om-order-assignee").fill("老王")
    await page.get_by_test_id("om-order-save").click()
    await page.get_by_test_id("om-orders").get_by_text("镜头起雾").wait_for()
    [order] = (await site.api.get("/api/health/workorders")).json()["items"]
    assert (order["title"], order["level"], order["channel_id"], order["assignee"]) == (
        "镜头起雾",
        "important",
        cid,
        "老王",
    )
    await shots(page, "om-orders-form")
    assert page.console_log.errors == [], page.console_log.errors
