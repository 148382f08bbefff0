"""Console: the wider PTZ panel and sound on/off in the player, against the simulator."""

from __future__ import annotations

from typing import Any

from sharpeyes.sim.media import SimMediaConfig
from tests.integration.devices_helpers import eventually

from .conftest import Shots, Site, ui_login
from .test_console import _video_plays, drop_channel, expand, wait_attr


async def _open_dome(page: Any, site: Site) -> str:
    dome = site.nvr.channels[0]
    await ui_login(page)
    await page.get_by_test_id("nav-live").click()
    await page.get_by_test_id("grid-4").click()
    await expand(page, f"tree-device-{site.nvr.device_id}")
    await drop_channel(page, dome.channel_id, 0)
    await wait_attr(page, "cell-0", "data-channel", dome.channel_id)
    return dome.channel_id


def _actions(site: Site, channel_id: str, since: int) -> list[str]:
    return [a for c, _h, a in site.nvr.ptz_log[since:] if c == channel_id]


async def test_ptz_panel_lens_cruise_scan_and_wiper(page: Any, site: Site, shots: Shots) -> None:
    cid = await _open_dome(page, site)
    await page.get_by_test_id("cell-0").click(position={"x": 20, "y": 60})
    await page.get_by_test_id("ptz-panel").wait_for()
    before = len(site.nvr.ptz_log)

    # focus is held like a direction: focus-far while pressed, the FI stop on release
    await page.get_by_test_id("ptz-focus_far").click()
    await eventually(lambda: _actions(site, cid, before)[-2:] == ["focus-far", "fi-stop"], 5)

    more = page.get_by_test_id("ptz-more")
    await more.get_by_text("Cruise").or_(more.get_by_text("巡航")).first.click()
    await page.get_by_test_id("ptz-cruise_add").click()
    await page.get_by_test_id("ptz-cruise_dwell").click()
    await page.get_by_test_id("ptz-cruise_start").click()
    await eventually(lambda: "cruise-start" in _actions(site, cid, before), 5)
    assert _actions(site, cid, before)[-3:] == ["cruise-add", "cruise-dwell", "cruise-start"]
    assert site.nvr.state.cruises[cid][1].points == [1]

    await more.get_by_text("Auto scan").or_(more.get_by_text("自动扫描")).first.click()
    await page.get_by_test_id("ptz-scan_left").click()
    await page.get_by_test_id("ptz-scan_start").click()
    await eventually(lambda: _actions(site, cid, before)[-2:] == ["scan-left", "scan-start"], 5)

    await more.get_by_text("Wiper", exact=False).or_(more.get_by_text("雨刷")).first.click()
    await page.get_by_test_id("ptz-wiper_on").click()
    await eventually(lambda: site.nvr.state.aux.get(cid, {}).get(1) is True, 5)
    await wait_attr(page, "ptz-last", "data-action", "wiper_on")
    await shots(page, "ptz-more")
    assert page.console_log.errors == [], page.console_log.errors


async def test_player_is_muted_until_sound_is_turned_on(page: Any, site: Site) -> None:
    site.nvr.config.media = SimMediaConfig(audio=True)  # G.711A in the PS
    await _open_dome(page, site)
    await _video_plays(page, "video-0")
    sound = page.get_by_test_id("video-0-sound")
    await wait_attr(page, "video-0-sound", "data-sound", "off")
    assert await page.get_by_test_id("video-0").evaluate("v => v.muted") is True
    (session,) = site.node.live.sessions.values()
    assert not session.hub.audio_active  # nobody listens: no transcoding

    await sound.click()
    await wait_attr(page, "video-0-sound", "data-sound", "on")
    await _video_plays(page, "video-0")
    await eventually(lambda: session.hub.audio_active and session.hub.audio_transcoding, 10)
    await page.wait_for_function(
        "() => { const v = document.querySelector('[data-testid=\"video-0\"]');"
        " return !v.muted && v.webkitAudioDecodedByteCount > 0 }",
        timeout=15_000,
    )
    await page.get_by_test_id("video-0-sound").click()
    await wait_attr(page, "video-0-sound", "data-sound", "off")
    await eventually(lambda: not session.hub.audio_active, 10)


async def test_talk_button_sends_the_microphone_to_the_camera(site: Site, shots: Shots) -> None:
    """Chromium's fake microphone (a beep) reaches the simulated speaker as G.711."""
    from playwright.async_api import async_playwright

    from .conftest import CHROMIUM, CHROMIUM_ARGS, ConsoleLog

    args = [*CHROMIUM_ARGS, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=args, headless=True)
        try:
            context = await browser.new_context(
                base_url=site.url, viewport={"width": 1440, "height": 900}
            )
            await context.grant_permissions(["microphone"])
            page = await context.new_page()
            page.set_default_timeout(15_000)
            page.console_log = ConsoleLog()  # type: ignore[attr-defined]
            page.console_log.attach(page)  # type: ignore[attr-defined]
            cid = await _open_dome(page, site)
            await page.get_by_test_id("cell-0").click(position={"x": 20, "y": 60})
            await page.get_by_test_id("talk-button").click()
            await wait_attr(page, "talk-button", "data-talking", "on")
            await eventually(lambda: bool(site.nvr.state.talks), 10)
            (talk,) = site.nvr.state.talks.values()
            assert talk.channel_id == cid
            await eventually(lambda: len(talk.packets) >= 25, 15)  # half a second of voice
            assert {pt for pt, _, _ in talk.packets} == {8}
            await shots(page, "talk")
            await page.get_by_test_id("talk-button").click()
            await wait_attr(page, "talk-button", "data-talking", "off")
            await eventually(lambda: talk.ended, 10)  # hung up with a BYE
            await eventually(lambda: not site.node.talk.sessions, 5)
        finally:
            await browser.close()
