"""The cascade page: add an upper link through the form, choose its channels in the
region tree, watch it register with a real (simulated) upper over loopback, give a
channel a custom ID the upper then sees in its catalog, refuse a duplicate ID,
disable the link, delete it (after a confirmation)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from sharpeyes.sim.upper import SimUpper
from tests.integration.devices_helpers import eventually

from .conftest import Shots, Site, field, tid, ui_login

pytestmark = [pytest.mark.browser, pytest.mark.db]

UPPER_ID, UPPER_DOMAIN, UPPER_PASSWORD = "34020000002000000009", "3402000000", "city-pass"
CUSTOM_ID = "34020000001310099901"


@pytest.fixture
async def upper() -> AsyncIterator[SimUpper]:
    up = SimUpper(server_id=UPPER_ID, domain=UPPER_DOMAIN, password=UPPER_PASSWORD)
    await up.start()
    try:
        yield up
    finally:
        await up.stop()


def tree_checkbox(page: Any, test_id: str) -> Any:
    """The checkbox of the el-tree row whose label carries ``test_id``."""
    row = page.locator(".el-tree-node__content", has=page.locator(tid(test_id)))
    return row.locator(".el-checkbox").first


async def test_cascade_page_links_shares_registers_and_disables(
    page: Any, site: Site, upper: SimUpper, shots: Shots
) -> None:
    api = site.api
    channels = (await api.get("/api/channels", params={"limit": 1000})).json()["items"]
    region1 = [c for c in channels if c["civil_code"] == "34020001"]  # the 4 IPCs
    region2 = sorted(
        (c for c in channels if c["civil_code"] == "34020002"), key=lambda c: c["channel_id"]
    )
    assert len(region1) == 4 and len(region2) == 4
    extra = region2[0]  # one channel of the NVR's region, picked on its own

    await ui_login(page)
    await page.get_by_test_id("nav-cascade").click()  # the admin's menu has it
    await page.get_by_test_id("cascade-page").wait_for()

    # ---- add the link through the form
    await page.get_by_test_id("cascade-add").click()
    await field(page, "cascade-form-name").fill("市级平台")
    await field(page, "cascade-form-server-id").fill(UPPER_ID)
    await field(page, "cascade-form-domain").fill(UPPER_DOMAIN)
    await field(page, "cascade-form-host").fill("127.0.0.1")
    await field(page, "cascade-form-port").fill(str(upper.port))
    await field(page, "cascade-form-password").fill(UPPER_PASSWORD)
    await page.get_by_test_id("cascade-form-save").click()
    table = page.get_by_test_id("cascade-table")
    await table.get_by_text("市级平台").wait_for()
    items = (await api.get("/api/cascade/uppers")).json()["items"]
    assert len(items) == 1
    link = items[0]
    uid = link["id"]
    assert link["server_id"] == UPPER_ID and link["port"] == upper.port
    assert link["password_set"] is True and "password" not in link
    assert link["enabled"] is True

    # ---- it registers with the upper: the status light turns to registered
    state = page.get_by_test_id(f"cascade-state-{uid}")

    async def registered() -> bool:
        return await state.get_attribute("data-state") == "registered"

    await eventually(registered, 20)
    assert (await state.inner_text()).strip() == "已注册"
    us = site.node.settings.sip.id
    assert us in upper.lowers

    # ---- choose channels: a whole region by its checkbox, one more channel on its own
    await page.get_by_test_id(f"cascade-channels-{uid}").click()
    drawer = page.get_by_test_id("cascade-channels-drawer")
    await drawer.get_by_test_id(f"cascade-tree-channel-{extra['id']}").wait_for()
    await tree_checkbox(page, "cascade-tree-region-34020001").click()
    await tree_checkbox(page, f"cascade-tree-channel-{extra['id']}").click()
    # search narrows the tree to matching channels
    await field(page, "cascade-tree-search").fill(extra["channel_id"])
    await drawer.get_by_test_id(f"cascade-tree-channel-{region2[1]['id']}").wait_for(state="hidden")
    await field(page, "cascade-tree-search").fill("")
    await page.get_by_test_id("cascade-channels-save").click()
    shared_table = page.get_by_test_id("cascade-shared-table")
    await shared_table.get_by_test_id(f"cascade-exposed-{extra['id']}").wait_for()
    shared = (await api.get(f"/api/cascade/uppers/{uid}/channels")).json()["items"]
    assert {c["channel_pk"] for c in shared} == {c["id"] for c in region1} | {extra["id"]}
    await page.get_by_test_id(f"cascade-shared-{uid}").get_by_text("5").wait_for()
    await shots(page, "channels")

    # ---- a custom ID toward this upper; the upper's catalog then carries it
    await field(page, f"cascade-custom-id-{extra['id']}").fill(CUSTOM_ID)
    await field(page, f"cascade-custom-name-{extra['id']}").fill("北门球机")
    await page.get_by_test_id(f"cascade-custom-save-{extra['id']}").click()

    async def custom_saved() -> bool:
        rows = (await api.get(f"/api/cascade/uppers/{uid}/channels")).json()["items"]
        row = next(c for c in rows if c["channel_pk"] == extra["id"])
        return row["exposed_id"] == CUSTOM_ID and row["name"] == "北门球机"

    await eventually(custom_saved, 10)
    await page.get_by_test_id(f"cascade-exposed-{extra['id']}").get_by_text(CUSTOM_ID).wait_for()
    rows = (await api.get(f"/api/cascade/uppers/{uid}/channels")).json()["items"]
    untouched = next(c for c in rows if c["channel_pk"] == region1[1]["id"])
    assert untouched["custom_id"] is None and untouched["custom_name"] is None
    catalog = {i["DeviceID"]: i for i in await upper.query_catalog(us)}
    assert CUSTOM_ID in catalog and extra["channel_id"] not in catalog
    assert {c["channel_id"] for c in region1} <= set(catalog)

    # hostile: the ID of another channel shared with this upper is refused (409), unchanged
    other = region1[0]
    await field(page, f"cascade-custom-id-{other['id']}").fill(CUSTOM_ID)
    await page.get_by_test_id(f"cascade-custom-save-{other['id']}").click()
    await page.locator(".el-message--error").first.wait_for()
    rows = (await api.get(f"/api/cascade/uppers/{uid}/channels")).json()["items"]
    refused = next(c for c in rows if c["channel_pk"] == other["id"])
    assert refused["exposed_id"] == other["channel_id"] and refused["custom_id"] is None
    await page.keyboard.press("Escape")
    await drawer.wait_for(state="hidden")

    # ---- the edit dialog never shows the password; saving with it empty keeps it
    await page.get_by_test_id(f"cascade-edit-{uid}").click()
    assert await field(page, "cascade-form-password").input_value() == ""
    await field(page, "cascade-form-keepalive").fill("30")
    await page.get_by_test_id("cascade-form-save").click()
    await page.get_by_test_id("cascade-dialog").wait_for(state="hidden")
    link = (await api.get(f"/api/cascade/uppers/{uid}")).json()
    assert link["keepalive_interval"] == 30 and link["password_set"] is True
    await eventually(registered, 20)  # re-registers with the stored password

    # ---- disable: the light goes to disabled
    await page.get_by_test_id(f"cascade-disable-{uid}").click()

    async def disabled() -> bool:
        return await state.get_attribute("data-state") == "disabled"

    await eventually(disabled, 10)
    link = (await api.get(f"/api/cascade/uppers/{uid}")).json()
    assert link["enabled"] is False and link["state"] == "disabled"
    await page.get_by_test_id(f"cascade-enable-{uid}").wait_for()
    await shots(page, "disabled")

    # ---- delete asks first; cancelling keeps the link, confirming removes it
    await page.get_by_test_id(f"cascade-delete-{uid}").click()
    box = page.locator(".el-message-box")
    await box.wait_for()
    await box.locator(".el-message-box__btns .el-button").first.click()  # cancel
    await box.wait_for(state="hidden")
    assert len((await api.get("/api/cascade/uppers")).json()["items"]) == 1
    await page.get_by_test_id(f"cascade-delete-{uid}").click()
    await box.wait_for()
    await box.locator(".el-message-box__btns .el-button--primary").click()
    await page.get_by_test_id(f"cascade-name-{uid}").wait_for(state="detached")
    assert (await api.get("/api/cascade/uppers")).json()["items"] == []
    # the refused duplicate ID is the only console error (the browser's note on the 409)
    unexpected = [e for e in page.console_log.errors if "409" not in e]
    assert unexpected == [], page.console_log.errors


async def test_cascade_page_is_admin_only(page: Any, site: Site) -> None:
    r = await site.api.post(
        "/api/users", json={"username": "op", "password": "op-pass-123", "role": "operator"}
    )
    assert r.status_code == 201, r.text
    await ui_login(page, "op", "op-pass-123")
    await page.get_by_test_id("nav-live").wait_for()
    assert await page.get_by_test_id("nav-cascade").count() == 0
    await page.goto("/admin/cascade")  # typed in: the guard sends the operator back
    await page.get_by_test_id("dashboard").wait_for()
    assert await page.get_by_test_id("cascade-page").count() == 0
