"""The playback page: a platform recording appears on the timeline and plays; pause works.
The resource tree marks the channel being recorded (and only that one)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.integration.devices_helpers import eventually

from .conftest import Shots, Site, ui_login
from .test_console import _video_plays, expand

pytestmark = [pytest.mark.browser, pytest.mark.db]


async def test_playback_page_plays_a_platform_recording(
    page: Any, site: Site, shots: Shots, tmp_path: Path
) -> None:
    node = site.node
    node.recording.store.root = tmp_path / "segments"  # keep the test's files in tmp
    node.recording.settings.segment_s = 1.0  # short segments: the test needs a few
    ch = site.ipcs[0].channels[0]
    r = await site.api.get("/api/channels", params={"q": ch.channel_id})
    pk = r.json()["items"][0]["id"]
    r = await site.api.post(
        "/api/recording/plans", json={"name": "ui", "channels": [pk], "storage_days": 1}
    )
    assert r.status_code == 201, r.text

    async def recorded() -> bool:
        rows = await node.recording.store.segments(pk, 0, 1e12)
        # enough recording that playback outlasts the checks below (first frame, 2 s of
        # advancing time, pause): with two 1 s segments it could end before the pause
        return sum(1 for s in rows if s.complete) >= 8

    await eventually(recorded, 40)
    await ui_login(page)
    # the resource tree marks the recorded channel, and not a channel nobody records
    await page.goto("/resources")
    await expand(page, f"tree-device-{site.ipcs[0].device_id}")
    await page.get_by_test_id(f"tree-rec-{ch.channel_id}").wait_for()
    other = site.nvr.channels[0].channel_id
    await expand(page, f"tree-device-{site.nvr.device_id}")
    await page.get_by_test_id(f"tree-channel-{other}").wait_for()
    assert await page.get_by_test_id(f"tree-rec-{other}").count() == 0
    await page.goto(f"/playback?ch={pk}")
    await page.get_by_test_id("tl-span-platform").first.wait_for()
    await page.get_by_test_id("playback-play").click()
    await _video_plays(page, "pb-video-0")
    await shots(page, "playing")
    await page.get_by_test_id("playback-pause").click()

    async def paused() -> bool:
        info = (await site.api.get("/api/streams")).json()
        return any(s["kind"] == "playback" and s["paused"] for s in info["items"])

    await eventually(paused, 10)
    assert page.console_log.errors == [], page.console_log.errors
