"""The console player acts on the stream's ``end`` message: it says why, and offers a retry.

Before, an ended stream was retried blindly (three INVITEs in a row to a camera
that had just hung up); now the reason the node sent is shown and nothing is sent
to the camera until the operator presses retry.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.integration.devices_helpers import eventually

from .conftest import Site, tid, ui_login
from .test_console import _video_plays, wait_attr

pytestmark = [pytest.mark.browser, pytest.mark.slow]


async def test_player_shows_why_the_stream_ended_and_retries_on_request(
    page: Any, site: Site
) -> None:
    dome = site.nvr.channels[0]
    await ui_login(page)
    ch = (await site.api.get("/api/channels", params={"q": dome.channel_id})).json()["items"][0]
    await page.goto(f"/live?ch={ch['id']}")
    await wait_attr(page, "cell-0", "data-channel", dome.channel_id)
    await _video_plays(page, "video-0")

    def invites() -> int:
        return sum(1 for m, _ in site.nvr.received if m == "INVITE")

    before = invites()
    assert await site.nvr.hang_up(dome.channel_id) == [200]  # the camera ends the stream (BYE)
    await wait_attr(page, "video-0-box", "data-state", "ended", timeout=20)
    await wait_attr(page, "video-0-state", "data-reason", "device_bye")
    text = await page.get_by_test_id("video-0-state").inner_text()
    assert "摄像机挂断了" in text or "the camera hung up" in text, text
    retry = page.locator(tid("video-0-retry"))
    assert await retry.is_visible()
    await asyncio.sleep(3)  # the old player retried within 1 s: nothing may be sent now
    assert invites() == before
    assert await page.get_by_test_id("video-0-box").get_attribute("data-state") == "ended"

    await retry.click()
    await eventually(lambda: invites() == before + 1, 15)
    await _video_plays(page, "video-0")
    assert page.console_log.errors == [], page.console_log.errors
