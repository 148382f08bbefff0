"""Browser: the watermark canvas over a playing player, a department's share
request through the console, its grant with a countdown revoked by the admin, and
the audit page verifying the chain."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.devices_helpers import eventually
from tests.integration.sharing_helpers import PASSWORD, approve, user

from .conftest import Shots, Site, field, ui_login
from .test_console import _video_plays, drop_channel, expand

pytestmark = pytest.mark.browser


async def _marked_pixels(page: Any, test_id: str) -> int:
    return await page.evaluate(
        """tid => {
            const c = document.querySelector(`[data-testid="${tid}"]`)
            if (!c || !c.width) return 0
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data
            let n = 0
            for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++
            return n
        }""",
        test_id,
    )


async def test_watermark_share_request_grant_and_audit(page: Any, site: Site, shots: Shots) -> None:
    cam = site.ipcs[0].channels[0]
    ch = (await site.api.get("/api/channels", params={"q": cam.channel_id})).json()["items"][0]
    await ui_login(page)
    await page.get_by_test_id("nav-live").click()
    await expand(page, f"tree-device-{site.ipcs[0].device_id}")
    await drop_channel(page, cam.channel_id, 0)
    await _video_plays(page, "video-0")
    assert await _marked_pixels(page, "video-0-watermark") > 1000
    await shots(page, "watermark")

    # A department user asks for the camera through the console.
    dept = await user(site.node, "jj", "department", org_id=7)
    police = await user(site.node, "pol", "reviewer_police")
    data = await user(site.node, "dat", "reviewer_data")
    await page.get_by_test_id("logout").click()
    await ui_login(page, "jj", PASSWORD)
    await page.get_by_test_id("nav-sharing").click()
    await page.get_by_test_id("share-new").click()
    await field(page, "share-title").fill("路口监控")
    purpose = '[data-testid="share-purpose"] textarea, textarea[data-testid="share-purpose"]'
    await page.locator(purpose).first.fill("交通疏导")
    # A department cannot list cameras it has no grant for yet: it names them by ID.
    await field(page, "share-channel-ids").fill(str(ch["id"]))
    await page.get_by_test_id("share-submit").click()

    async def created() -> bool:
        return bool((await dept.get("/api/sharing/requests")).json()["items"])

    try:
        await eventually(created, 15)
    except AssertionError:
        msgs = await page.locator(".el-message").all_inner_texts()
        raise AssertionError(f"no request created; messages {msgs}") from None
    (req,) = (await dept.get("/api/sharing/requests")).json()["items"]
    assert req["channels"] == [ch["id"]] and req["state"] == "submitted"
    await page.get_by_test_id(f"share-state-{req['id']}").wait_for()
    await approve(police, data, req["id"])

    # The admin sees the grant with its countdown and revokes it.
    await page.get_by_test_id("logout").click()
    await ui_login(page)
    await page.get_by_test_id("nav-sharing").click()
    await page.get_by_role("tab", name="授权").click()
    (grant,) = (await dept.get("/api/sharing/grants")).json()["items"]
    left = page.get_by_test_id(f"grant-left-{grant['id']}")
    await left.wait_for()
    assert "d" in (await left.inner_text()) or "h" in (await left.inner_text())
    await page.get_by_test_id(f"grant-revoke-{grant['id']}").click()
    await page.wait_for_function(
        "sel => !document.querySelector(sel)", arg=f'[data-testid="grant-revoke-{grant["id"]}"]'
    )
    assert (await dept.get("/api/sharing/grants")).json()["items"][0]["state"] == "revoked"

    # Audit page: the chain verifies.
    await page.get_by_test_id("nav-audit").click()
    await page.get_by_test_id("audit-verify").click()
    verdict = page.get_by_test_id("audit-verdict")
    await verdict.wait_for()
    assert "完整" in await verdict.inner_text()
    await shots(page, "audit")
    for c in (dept, police, data):
        await c.aclose()
