"""Browser: the applications page (create with the secret shown once, disable,
rotate, a webhook and its delivery log), the department's share request picked from
the catalogue tree, and the review queue's map of the requested channels."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.integration.devices_helpers import eventually
from tests.integration.sharing_helpers import PASSWORD, user

from .conftest import Shots, Site, field, ui_login

pytestmark = pytest.mark.browser


async def test_applications_page(page: Any, site: Site, shots: Shots) -> None:
    node, api = site.node, site.api
    node.apps.retry_delays = (0.05, 0.05, 0.05)
    # Organisation 1 is an admin organisation, so its app sees every device's events.
    await node.users.create_user("boss", PASSWORD, "admin", org_id=1)
    got: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        got.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        await ui_login(page)
        await page.get_by_test_id("nav-apps").click()
        await page.get_by_test_id("app-new").click()
        await field(page, "app-form-name").fill("交警指挥系统")
        await field(page, "app-form-org").fill("1")
        await page.get_by_test_id("app-form-submit").click()
        key_el = page.get_by_test_id("app-secret-key")
        await key_el.wait_for()
        key = (await key_el.inner_text()).strip()
        secret = (await page.get_by_test_id("app-secret-value").inner_text()).strip()
        (app,) = (await api.get("/api/apps")).json()["items"]
        assert app["app_key"] == key and app["name"] == "交警指挥系统" and app["org_id"] == 1
        assert len(secret) >= 32 and "app_secret" not in app
        await shots(page, "app-secret")
        await page.get_by_test_id("app-secret-close").click()
        await page.get_by_test_id("app-secret-value").wait_for(state="hidden")
        # Shown once: nowhere on the page after closing.
        assert secret not in await page.content()

        await page.get_by_test_id(f"app-disable-{app['id']}").click()
        await page.get_by_test_id(f"app-enable-{app['id']}").wait_for()
        assert (await api.get("/api/apps")).json()["items"][0]["disabled"] is True
        await page.get_by_test_id(f"app-enable-{app['id']}").click()
        await page.get_by_test_id(f"app-disable-{app['id']}").wait_for()
        assert (await api.get("/api/apps")).json()["items"][0]["disabled"] is False

        await page.get_by_test_id(f"app-rotate-{app['id']}").click()
        await page.get_by_test_id("app-secret-value").wait_for()
        rotated = (await page.get_by_test_id("app-secret-value").inner_text()).strip()
        assert rotated and rotated != secret
        await page.get_by_test_id("app-secret-close").click()

        await page.get_by_test_id(f"app-hooks-{app['id']}").click()
        await field(page, "hook-url").fill(f"http://127.0.0.1:{port}/hook")
        await page.get_by_test_id("hook-event-device.online").click()
        await page.get_by_test_id("hook-add").click()

        async def hooked() -> bool:
            return bool((await api.get(f"/api/apps/{app['id']}/webhooks")).json()["items"])

        await eventually(hooked, 10)
        (hook,) = (await api.get(f"/api/apps/{app['id']}/webhooks")).json()["items"]
        assert "device.online" in hook["events"] and hook["url"].endswith("/hook")
        await page.get_by_test_id(f"hook-row-{hook['id']}").wait_for()

        await asyncio.sleep(0.2)  # let the dispatcher see the new webhook
        node.bus.publish("device.online", device_id=site.ipcs[0].device_id, reason="register")
        await eventually(lambda: bool(got), 15)

        async def logged() -> bool:
            await page.get_by_test_id("deliveries-refresh").click()
            cells = page.locator('[data-testid^="delivery-status-"]')
            return "delivered" in await cells.all_inner_texts()

        await eventually(logged, 15)
        await shots(page, "app-webhooks")
    finally:
        server.close()


async def test_request_from_catalogue_and_review_map(page: Any, site: Site, shots: Shots) -> None:
    cam = site.ipcs[1].channels[0]
    ch = (await site.api.get("/api/channels", params={"q": cam.channel_id})).json()["items"][0]
    dept = await user(site.node, "jj", "department", org_id=7)
    police = await user(site.node, "pol", "reviewer_police")
    try:
        await ui_login(page, "jj", PASSWORD)
        await page.get_by_test_id("nav-sharing").click()
        await page.get_by_test_id("share-new").click()
        await field(page, "share-title").fill("路口监控")
        purpose = '[data-testid="share-purpose"] textarea, textarea[data-testid="share-purpose"]'
        await page.locator(purpose).first.fill("交通疏导")
        # The department sees no channels, yet the catalogue lists what it may ask for.
        await field(page, "share-catalogue-search").fill(cam.channel_id)
        await field(page, "share-catalogue-search").press("Enter")
        await page.get_by_test_id(f"share-cat-{ch['id']}").click()
        picked = page.get_by_test_id("share-picked")
        await page.wait_for_function(
            "el => /1/.test(el.textContent)", arg=await picked.element_handle()
        )
        await shots(page, "catalogue-picker")
        await page.get_by_test_id("share-submit").click()

        async def created() -> bool:
            return bool((await dept.get("/api/sharing/requests")).json()["items"])

        await eventually(created, 15)
        (req,) = (await dept.get("/api/sharing/requests")).json()["items"]
        assert req["channels"] == [ch["id"]] and req["state"] == "submitted"

        # The police reviewer opens the request's channels on the map.
        await page.get_by_test_id("logout").click()
        await ui_login(page, "pol", PASSWORD)
        await page.get_by_test_id("nav-sharing").click()
        await page.get_by_test_id(f"share-map-{req['id']}").click()
        await page.get_by_test_id("review-map").wait_for()
        await page.locator(
            '[data-testid="review-map"] .leaflet-container, .leaflet-container'
        ).first.wait_for()
        await page.get_by_test_id(f"review-point-{ch['id']}").wait_for()
        listed = await page.get_by_test_id("review-map-list").inner_text()
        assert cam.channel_id in listed
        await shots(page, "review-map")
    finally:
        for c in (dept, police):
            await c.aclose()
