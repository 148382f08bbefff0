"""The web console in a real browser against a node with simulated devices.

Each test asserts what an operator would see change: dots turning online/offline
without a reload, video frames being decoded, the simulator receiving a PTZ
command, the import report naming the bad row.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from sharpeyes.ledger import sample
from sharpeyes.sharing.principal import Principal, Role
from tests.integration.devices_helpers import eventually

from .conftest import Shots, Site, field, tid, ui_login

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ADMIN = Principal(user_id=1, username="admin", role=Role.ADMIN)
FIRST_DATA_ROW = 5  # survey form: title, unit line, groups, headers, then data


async def wait_attr(page: Any, test_id: str, attr: str, value: str, timeout: float = 15) -> None:
    await page.wait_for_function(
        "([sel, attr, value]) => { const el = document.querySelector(sel);"
        " return !!el && el.getAttribute(attr) === value }",
        arg=[tid(test_id), attr, value],
        timeout=timeout * 1000,
    )


async def drop_channel(page: Any, channel_id: str, cell: int) -> None:
    """Drag a channel from the tree into a grid cell, as an operator does.

    The tree may refresh a device's channels under the pointer (a catalog event
    right after registration); a person would simply drag again, and so do we.
    """
    for _ in range(3):
        await page.get_by_test_id(f"tree-channel-{channel_id}").drag_to(
            page.get_by_test_id(f"cell-{cell}")
        )
        try:
            await wait_attr(page, f"cell-{cell}", "data-channel", channel_id, timeout=3)
            return
        except Exception:
            continue
    raise AssertionError(f"channel {channel_id} could not be dropped into cell {cell}")


async def expand(page: Any, test_id: str) -> None:
    """Expand a tree node by clicking its row (the tree expands on click)."""
    await page.locator(tid(test_id)).click()


# ---------------------------------------------------------------------------------
async def test_login_devices_online_in_tree_and_on_map(page: Any, site: Site, shots: Shots) -> None:
    # Login page first (no token): Chinese by default.
    await page.goto("/resources")
    await page.get_by_test_id("login-submit").wait_for()
    assert "登录" in await page.get_by_test_id("login-submit").inner_text()
    # a wrong password is refused with a message, not a crash
    await field(page, "login-username").fill("admin")
    await field(page, "login-password").fill("not-the-password")
    await page.get_by_test_id("login-submit").click()
    await page.get_by_test_id("login-error").wait_for()
    page.console_log.errors.clear()  # the refused login's 401; the happy path starts here
    await ui_login(page)
    await shots(page, "dashboard")

    assert (await page.get_by_test_id("current-user").inner_text()).strip() == "admin"
    assert (await page.get_by_test_id("current-role").inner_text()).strip() == "管理员"
    n_dev = len(site.devices)
    await page.wait_for_function(
        "([sel, want]) => document.querySelector(sel)?.innerText.includes(want)",
        arg=[f"{tid('kpi-devices-online')} .value", f"{n_dev} / {n_dev}"],
    )
    await page.wait_for_function(
        "sel => document.querySelector(sel)?.innerText.trim() === '100.0%'",
        arg=f"{tid('kpi-online-rate')} .value",
    )

    # English switch, and back
    await page.get_by_test_id("lang-switch").click()
    await wait_attr(page, "lang-switch", "data-lang", "en")
    assert (await page.get_by_test_id("current-role").inner_text()).strip() == "Administrator"
    assert (await page.get_by_test_id("nav-resources").inner_text()).strip() == "Resources"
    await page.get_by_test_id("lang-switch").click()
    await wait_attr(page, "lang-switch", "data-lang", "zh-CN")

    # Resource tree by device: every simulated device online, the NVR's channels too.
    await page.get_by_test_id("nav-resources").click()
    for dev in site.devices:
        await wait_attr(page, f"dot-device-{dev.device_id}", "data-online", "true")
    await expand(page, f"tree-device-{site.nvr.device_id}")
    for ch in site.nvr.channels:
        await wait_attr(page, f"dot-channel-{ch.channel_id}", "data-online", "true")
    # a channel opens its details
    first = site.nvr.channels[0]
    await page.get_by_test_id(f"tree-channel-{first.channel_id}").click()
    await page.get_by_test_id("channel-info").wait_for()
    assert first.channel_id in await page.get_by_test_id("channel-info").inner_text()
    # search finds a channel by name
    await field(page, "tree-search").fill(first.name)
    await (
        page.get_by_test_id("tree-search-results")
        .locator(tid(f"tree-channel-{first.channel_id}"))
        .wait_for()
    )
    await field(page, "tree-search").fill("")
    # by region: the civil codes of the simulated cameras
    await page.get_by_test_id("tree-mode-region").click()
    await page.locator(tid("tree-region-34")).wait_for()
    await shots(page, "tree")

    # The map shows the ledger's points: create the records from the devices first,
    # as an operator does (ledger → sync from devices).
    await page.get_by_test_id("nav-ledger").click()
    await page.get_by_test_id("ledger-sync").click()
    await page.wait_for_function(
        "([sel, n]) => document.querySelectorAll(sel + ' tbody tr').length === n",
        arg=[tid("ledger-table"), site.channel_count],
    )
    await page.get_by_test_id("nav-map").click()
    await wait_attr(page, "map", "data-basemap", "bundled")  # no tile server configured
    await wait_attr(page, "map-total", "data-total", str(site.channel_count))
    # the bundled China basemap is drawn (province polygons as SVG paths)
    assert (
        await page.locator(f"{tid('map')} path.leaflet-interactive, {tid('map')} path").count() > 30
    )
    await shots(page, "map-clusters")
    # every camera is drawn exactly once: in a server cluster, a screen cluster or alone
    await page.wait_for_function(
        """n => {
        let drawn = 0;
        document.querySelectorAll('[data-testid=map-cluster]')
          .forEach(e => drawn += +e.dataset.count);
        document.querySelectorAll('.marker-cluster span').forEach(e => drawn += +e.innerText);
        drawn += document.querySelectorAll('[data-testid^=map-point-]').length;
        return drawn === n }""",
        arg=site.channel_count,
    )
    # zoom into clusters until single cameras are drawn, then open one
    for _ in range(8):
        if await page.locator("[data-testid^=map-point-]").count():
            break
        cluster = page.locator("[data-testid=map-cluster], .marker-cluster").first
        await cluster.click()
        await asyncio.sleep(0.8)
    point = page.locator("[data-testid^=map-point-]").first
    await point.click(force=True)
    await page.get_by_test_id("map-detail").wait_for()
    await wait_attr(page, "map-detail-online", "data-online", "true")
    await shots(page, "map-point")

    assert page.console_log.errors == [], page.console_log.errors


# ---------------------------------------------------------------------------------
TRACK_SOCKETS = """
window.__eventSockets = [];
const NativeWebSocket = window.WebSocket;
window.WebSocket = class extends NativeWebSocket {
  constructor(url, protocols) {
    super(url, protocols);
    if (String(url).includes('/api/events')) window.__eventSockets.push(this);
  }
};
"""


async def test_stopped_device_turns_offline_without_reload(
    page: Any, site: Site, shots: Shots
) -> None:
    await page.add_init_script(TRACK_SOCKETS)  # lets the test cut the event stream
    await ui_login(page)
    await page.get_by_test_id("nav-resources").click()
    victim = site.nvr
    await wait_attr(page, f"dot-device-{victim.device_id}", "data-online", "true")
    await expand(page, f"tree-device-{victim.device_id}")
    for ch in victim.channels:
        await wait_attr(page, f"dot-channel-{ch.channel_id}", "data-online", "true")
    await wait_attr(page, "events-state", "data-connected", "true")
    # a marker that a reload would wipe out
    await page.evaluate("window.__noReload = 'still here'")
    # the event stream drops (network, proxy restart): the console reconnects by itself
    await page.evaluate("window.__eventSockets.forEach(s => s.close())")
    await wait_attr(page, "events-state", "data-connected", "false", timeout=5)
    await wait_attr(page, "events-state", "data-connected", "true", timeout=10)
    assert await page.evaluate("window.__eventSockets.length") == 2
    await wait_attr(page, f"dot-device-{victim.device_id}", "data-online", "true")
    dot = page.get_by_test_id(f"dot-device-{victim.device_id}")
    assert "online" in (await dot.get_attribute("class") or "").split()

    victim.set_fault("offline")  # the device falls silent: keepalive timeout 1 s × 2

    await wait_attr(page, f"dot-device-{victim.device_id}", "data-online", "false", timeout=15)
    classes = (await dot.get_attribute("class") or "").split()
    assert "offline" in classes and "online" not in classes
    for ch in victim.channels:
        await wait_attr(page, f"dot-channel-{ch.channel_id}", "data-online", "false")
    # the others stay online
    for dev in site.ipcs:
        assert (
            await page.get_by_test_id(f"dot-device-{dev.device_id}").get_attribute("data-online")
            == "true"
        )
    assert await page.evaluate("window.__noReload") == "still here"
    await shots(page, "offline")

    # the device detail page shows the transition in its online history
    await page.get_by_test_id(f"tree-device-{victim.device_id}").click()
    await page.get_by_test_id("device-open").click()
    await wait_attr(page, "device-status-dot", "data-online", "false")
    await page.locator("#tab-history").click()
    await page.get_by_test_id("device-history").get_by_text("keepalive_timeout").first.wait_for()

    # and back: the device talks again, the dot turns green again
    victim.set_fault("offline", False)
    await victim.register()
    await wait_attr(page, "device-status-dot", "data-online", "true", timeout=15)
    assert await page.evaluate("window.__noReload") == "still here"
    assert page.console_log.errors == [], page.console_log.errors


# ---------------------------------------------------------------------------------
async def test_ptz_right_reaches_the_simulated_camera(page: Any, site: Site, shots: Shots) -> None:
    dome = site.nvr.channels[0]  # PTZType 1 (dome)
    assert dome.ptz_type == 1
    await ui_login(page)
    await page.get_by_test_id("nav-live").click()
    await page.get_by_test_id("grid-4").click()
    await expand(page, f"tree-device-{site.nvr.device_id}")
    await drop_channel(page, dome.channel_id, 0)
    await wait_attr(page, "cell-0", "data-channel", dome.channel_id)
    await page.get_by_test_id("cell-0").click(position={"x": 20, "y": 60})
    await page.get_by_test_id("ptz-panel").wait_for()
    before = len(site.nvr.ptz_log)
    await page.get_by_test_id("ptz-right").click()
    await eventually(
        lambda: any(
            cid == dome.channel_id and action == "right"
            for cid, _hex, action in site.nvr.ptz_log[before:]
        ),
        5,
    )
    # release sent a stop after the move, in that order
    await eventually(
        lambda: (
            [a for c, _h, a in site.nvr.ptz_log[before:] if c == dome.channel_id][-1:] == ["stop"]
        ),
        5,
    )
    await wait_attr(page, "ptz-last", "data-action", "stop")
    await shots(page, "ptz")


# ---------------------------------------------------------------------------------
async def _video_state(page: Any, test_id: str) -> dict[str, Any]:
    """What the player shows and what the <video> element says, for failure messages."""
    return await page.evaluate(  # type: ignore[no-any-return]
        """id => {
        const box = document.querySelector(`[data-testid="${id}-box"]`);
        const v = document.querySelector(`[data-testid="${id}"]`);
        if (!v) return {missing: true};
        const b = [];
        for (let i = 0; i < v.buffered.length; i++)
          b.push([v.buffered.start(i), v.buffered.end(i)]);
        return {state: box && box.dataset.state, text: box && box.innerText, t: v.currentTime,
                ready: v.readyState, paused: v.paused, buffered: b,
                frames: v.getVideoPlaybackQuality().totalVideoFrames,
                error: v.error && v.error.message} }""",
        test_id,
    )


async def _video_plays(page: Any, test_id: str, seconds: float = 20) -> dict[str, float]:
    """currentTime advances and decoded frames grow on the <video> of ``test_id``."""
    sel = tid(test_id)
    try:
        await page.wait_for_function(
            "sel => { const v = document.querySelector(sel); return v && v.currentTime > 0"
            " && v.getVideoPlaybackQuality().totalVideoFrames > 0 }",
            arg=sel,
            timeout=seconds * 1000,
        )
    except Exception as exc:
        raise AssertionError(
            f"{test_id} does not play: {await _video_state(page, test_id)}"
        ) from exc
    measure = (
        "sel => { const v = document.querySelector(sel); const q = v.getVideoPlaybackQuality();"
        " return {t: v.currentTime, frames: q.totalVideoFrames,"
        " w: v.videoWidth, h: v.videoHeight} }"
    )
    a = await page.evaluate(measure, sel)
    await asyncio.sleep(2)
    b = await page.evaluate(measure, sel)
    assert b["t"] > a["t"], (a, b)
    assert b["frames"] > a["frames"], (a, b)
    assert b["w"] > 0 and b["h"] > 0
    return b


async def test_live_view_plays_video_in_two_cells(page: Any, site: Site, shots: Shots) -> None:
    dome = site.nvr.channels[0]
    bullet = site.ipcs[0].channels[0]
    await ui_login(page)
    await page.get_by_test_id("nav-live").click()
    await page.get_by_test_id("grid-4").click()
    await page.get_by_test_id("live-debug-toggle").click()  # codec/kbps overlay is opt-in
    await expand(page, f"tree-device-{site.nvr.device_id}")
    await drop_channel(page, dome.channel_id, 0)
    await _video_plays(page, "video-0")
    info = page.get_by_test_id("video-0-info")
    assert "avc1" in (await info.get_by_test_id("stream-codec").inner_text())
    assert "×" in (await info.get_by_test_id("stream-resolution").inner_text())
    await shots(page, "one-cell")

    # a second cell plays a second camera at the same time
    await expand(page, f"tree-device-{site.ipcs[0].device_id}")
    await drop_channel(page, bullet.channel_id, 1)
    await _video_plays(page, "video-1")
    await _video_plays(page, "video-0", 5)  # the first one still plays
    await shots(page, "two-cells")

    # PTZ on the first cell's dome reaches the simulated camera
    await page.get_by_test_id("cell-0").click(position={"x": 20, "y": 60})
    before = len(site.nvr.ptz_log)
    await page.get_by_test_id("ptz-right").click()
    await eventually(
        lambda: any(
            c == dome.channel_id and a == "right" for c, _h, a in site.nvr.ptz_log[before:]
        ),
        5,
    )
    assert page.console_log.errors == [], page.console_log.errors


# ---------------------------------------------------------------------------------
async def test_import_reports_the_bad_row_then_imports_the_fixed_file(
    page: Any, site: Site, shots: Shots, tmp_path: Path
) -> None:
    await sample.ensure_reference_data(site.node.ledger, ADMIN)
    values = sample.camera_values(6, seed=3)
    bad_index = 3
    good_lon = values[bad_index]["longitude"]
    values[bad_index]["longitude"] = 116.26657  # five decimals: the rule wants six
    bad_file = tmp_path / "cameras-bad.xlsx"
    bad_file.write_bytes(sample.survey_file(values))
    values[bad_index]["longitude"] = good_lon
    fixed_file = tmp_path / "cameras-fixed.xlsx"
    fixed_file.write_bytes(sample.survey_file(values))
    bad_row = FIRST_DATA_ROW + bad_index

    await ui_login(page)
    await page.get_by_test_id("nav-ledger").click()
    await page.get_by_test_id("ledger-import").click()
    await page.get_by_test_id("import-file").set_input_files(str(bad_file))
    await page.get_by_test_id("import-start").click()
    await page.locator(".import-confirm .el-button--primary").click()
    await wait_attr(page, "import-report", "data-state", "failed", timeout=60)
    rows = page.get_by_test_id("import-errors").locator("tbody tr")
    assert await rows.count() == 1
    shown = await page.locator("[data-testid^=import-error-row-]").all_inner_texts()
    assert [int(s) for s in shown] == [bad_row]
    assert "116.26657" in await rows.first.inner_text()
    await shots(page, "import-errors")
    r = await site.api.get("/api/ledger/cameras")
    assert r.json()["total"] == 0  # all or nothing: nothing imported

    await page.get_by_test_id("import-again").click()
    await page.get_by_test_id("import-file").set_input_files(str(fixed_file))
    await page.get_by_test_id("import-start").click()
    await page.locator(".import-confirm .el-button--primary").click()
    await wait_attr(page, "import-report", "data-state", "done", timeout=60)
    assert str(len(values)) in await page.get_by_test_id("import-success").inner_text()
    await shots(page, "import-done")
    r = await site.api.get("/api/ledger/cameras", params={"q": values[bad_index]["name"]})
    rec = r.json()["items"][0]
    assert rec["longitude"] == pytest.approx(good_lon, abs=1e-9)

    await page.get_by_test_id("import-to-ledger").click()
    await page.wait_for_function(
        "([sel, n]) => document.querySelectorAll(sel + ' tbody tr').length === n",
        arg=[tid("ledger-table"), len(values)],
    )
    assert page.console_log.errors == [], page.console_log.errors


# ---------------------------------------------------------------------------------
async def test_alarm_arrives_live_and_is_acknowledged(page: Any, site: Site, shots: Shots) -> None:
    await ui_login(page)
    await page.get_by_test_id("nav-alarms").click()
    await page.get_by_test_id("alarm-table").wait_for()
    cam = site.ipcs[1]
    assert await cam.send_alarm(cam.channels[0].channel_id, description="周界入侵测试") == 200
    # the row appears without a reload, unacknowledged
    row = page.get_by_test_id("alarm-table").locator("tbody tr", has_text="周界入侵测试")
    await row.wait_for()
    alarm_id = int((await row.locator("td").first.inner_text()).strip())
    await wait_attr(page, f"alarm-state-{alarm_id}", "data-state", "new")
    await shots(page, "alarm-new")
    await page.get_by_test_id(f"alarm-ack-{alarm_id}").click()
    await wait_attr(page, f"alarm-state-{alarm_id}", "data-state", "acked")
    stored = (await site.api.get("/api/alarms", params={"device_id": cam.device_id})).json()
    assert stored["items"][0]["acknowledged_by"] == "admin"
    # the dashboard lists it among the recent alarms, by the camera's name (issue 17)
    await page.get_by_test_id("nav-dashboard").click()
    await page.get_by_test_id("recent-alarms").get_by_text(cam.channels[0].name).wait_for()
    assert page.console_log.errors == [], page.console_log.errors


async def test_record_form_validates_and_users_get_roles(
    page: Any, site: Site, shots: Shots
) -> None:
    r = await site.api.post("/api/ledger/cameras/sync-from-channels")
    assert r.status_code == 200, r.text
    rec = (await site.api.get("/api/ledger/cameras", params={"limit": 1})).json()["items"][0]
    await ui_login(page)
    await page.goto(f"/ledger/cameras/{rec['id']}")  # a deep link survives the SPA fallback
    await page.get_by_test_id("record-form").wait_for()

    # checked in the browser: five decimals are refused before anything is sent
    await field(page, "record-longitude").fill("117.12345")
    await field(page, "record-longitude").blur()
    form_item = page.locator(".el-form-item", has=page.locator(tid("record-longitude")))
    await form_item.locator(".el-form-item__error").wait_for()
    assert "6" in await form_item.locator(".el-form-item__error").inner_text()
    # checked by the node: a code of another type is refused, the reason under the field
    await field(page, "record-longitude").fill("117.123451")
    await field(page, "record-code").fill("34020000001110000001")  # type 111: not a camera
    await page.get_by_test_id("record-save").click()
    code_item = page.locator(".el-form-item", has=page.locator(tid("record-code")))
    await code_item.locator(".el-form-item__error").wait_for()
    await shots(page, "record-invalid")
    assert [e for e in page.console_log.errors if "400 (Bad Request)" not in e] == []
    page.console_log.errors.clear()  # the node's deliberate 400 answer
    assert (await site.api.get(f"/api/ledger/cameras/{rec['id']}")).json()["code"] == rec["code"]
    # a valid change is saved
    await field(page, "record-code").fill(rec["code"])
    await field(page, "record-location").fill("测试路口东北角")
    await page.get_by_test_id("record-save").click()
    await eventually(
        lambda: _location_is(site, rec["id"], "测试路口东北角"),
        5,
    )

    # admin creates a viewer; the viewer sees no admin menu and no PTZ.  The menu follows
    # the permissions /api/auth/me reports, not a role list kept in the console.
    for admin_only in ("nav-audit", "nav-apps", "nav-playback"):
        assert await page.get_by_test_id(admin_only).count() == 1, admin_only
    await page.get_by_test_id("nav-users").click()
    await page.get_by_test_id("user-add").click()
    await field(page, "user-username").fill("watcher")
    await field(page, "user-password").fill("short")
    await page.get_by_test_id("user-save").click()
    await page.get_by_text("密码至少 8 位").wait_for()
    await field(page, "user-password").fill("watcher-pass-1")
    await page.get_by_test_id("user-save").click()
    await page.get_by_test_id("user-table").get_by_text("watcher").wait_for()
    users = (await site.api.get("/api/users")).json()
    assert [u["role"] for u in users if u["username"] == "watcher"] == ["viewer"]
    await page.get_by_test_id("logout").click()
    await page.get_by_test_id("login-submit").wait_for()
    await ui_login(page, "watcher", "watcher-pass-1")
    assert (await page.get_by_test_id("current-role").inner_text()).strip() == "查看员"
    assert await page.get_by_test_id("nav-users").count() == 0
    for hidden in ("nav-audit", "nav-apps", "nav-playback", "nav-sharing"):
        assert await page.get_by_test_id(hidden).count() == 0, hidden
    assert await page.get_by_test_id("nav-live").count() == 1
    await page.goto("/admin/users")  # the guard sends a viewer back
    await page.get_by_test_id("dashboard").wait_for()
    assert page.console_log.errors == [], page.console_log.errors


async def _location_is(site: Site, pk: int, text: str) -> bool:
    r = await site.api.get(f"/api/ledger/cameras/{pk}")
    return bool(r.json().get("location_name") == text)


async def test_hls_fallback_plays(page: Any, site: Site) -> None:
    """The HLS path (what a browser without MSE-over-WebSocket gets) decodes video too."""
    dome = site.nvr.channels[0]
    await ui_login(page)
    pk = (await site.api.get("/api/channels", params={"q": dome.channel_id})).json()["items"][0]
    await page.goto(f"/live?ch={pk['id']}&player=hls&debug=1")
    await wait_attr(page, "cell-0", "data-channel", dome.channel_id)
    await _video_plays(page, "video-0", seconds=40)
    assert "HLS" in await page.get_by_test_id("video-0-info").inner_text()
    assert page.console_log.errors == [], page.console_log.errors
