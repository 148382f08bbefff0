"""Browser tests of the web console: Debian's Chromium driven by Playwright.

Why the async API: the tests run on uvloop under pytest-asyncio, and the node under
test (SIP + HTTP) and its simulated devices run on that same loop. Playwright's
async API is a client of the loop like the node, so one test can click in the
browser, then reach into the simulator (``set_fault``, ``ptz_log``) and the node
directly, without threads. (The sync API refuses to run inside a running loop.)

Requirements: ``/usr/bin/chromium`` (``apt-get install chromium``; Playwright's own
browser download does not work here) and a built console in ``web/dist`` — built
by ``make web``, or by the ``web_dist`` fixture below when missing or older than
the sources and npm is available. Without them the tests skip, except under CI
(``CI`` set), where they fail: a console that was not tested is not a pass.

Screenshots go to ``artifacts/browser/`` (gitignored, kept by CI as artifacts).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from sharpeyes.node import Node
from sharpeyes.sim.device import SimDevice
from sharpeyes.sim.fleet import SimFleet
from tests.integration.conftest import ADMIN_PASSWORD, NodeFactory, login
from tests.integration.conftest import make_node as make_node  # the fixture, re-exported
from tests.integration.devices_helpers import eventually, fleet_for, ipc, nvr

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
ARTIFACTS = ROOT / "artifacts" / "browser"
CHROMIUM = os.environ.get("SHARPEYES_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
]
WEB_SOURCES = ("src", "index.html", "package.json", "package-lock.json", "vite.config.js")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives the web console in Chromium")


def unavailable(reason: str) -> None:
    """Skip on a developer machine; fail under CI, where the console must be tested."""
    if os.environ.get("CI"):
        pytest.fail(f"browser tests cannot run under CI: {reason}")
    pytest.skip(reason)


# ------------------------------------------------------------------ the build
def _newest_source(web: Path) -> float:
    newest = 0.0
    for name in WEB_SOURCES:
        p = web / name
        if p.is_dir():
            for f in p.rglob("*"):
                if f.is_file():
                    newest = max(newest, f.stat().st_mtime)
        elif p.exists():
            newest = max(newest, p.stat().st_mtime)
    return newest


def dist_is_stale(web: Path, dist: Path) -> bool:
    index = dist / "index.html"
    return not index.is_file() or index.stat().st_mtime < _newest_source(web)


@pytest.fixture(scope="session")
def web_dist() -> Path:
    """The built console; (re)built here when missing or older than its sources."""
    override = os.environ.get("SHARPEYES_UI__DIST")
    if override:
        dist = Path(override)
        if not (dist / "index.html").is_file():
            unavailable(f"SHARPEYES_UI__DIST={override} has no index.html")
        return dist
    dist = WEB / "dist"
    if not dist_is_stale(WEB, dist):
        return dist
    npm = shutil.which("npm")
    if npm is None:
        unavailable("web/dist is missing or stale and npm is not installed (run `make web`)")
    assert npm is not None
    if not (WEB / "node_modules").is_dir():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=WEB, check=True, timeout=900)
    subprocess.run([npm, "run", "build"], cwd=WEB, check=True, timeout=600)
    if not (dist / "index.html").is_file():
        unavailable("npm run build produced no web/dist/index.html")
    return dist


# ------------------------------------------------------------------ the browser
@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        unavailable("the playwright package is not installed (pip install playwright)")
    if not os.access(CHROMIUM, os.X_OK):
        unavailable(f"{CHROMIUM} is missing (apt-get install chromium)")
    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            await b.close()


@dataclass
class ConsoleLog:
    """Console errors and uncaught exceptions of a page (asserted empty on the happy path)."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def attach(self, page: Any) -> None:
        def on_console(msg: Any) -> None:
            text = f"{msg.type}: {msg.text} @ {msg.location.get('url', '')}"
            if msg.type == "error":
                self.errors.append(text)
            elif msg.type == "warning":
                self.warnings.append(text)

        page.on("console", on_console)
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))


class Shots:
    """Numbered screenshots of one test under artifacts/browser/."""

    def __init__(self, test_name: str) -> None:
        self.prefix = re.sub(r"[^A-Za-z0-9_.-]+", "_", test_name)
        self.n = 0
        ARTIFACTS.mkdir(parents=True, exist_ok=True)

    async def __call__(self, page: Any, label: str) -> Path:
        self.n += 1
        path = ARTIFACTS / f"{self.prefix}-{self.n:02d}-{label}.png"
        await page.screenshot(path=str(path))
        return path


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Shots:
    return Shots(request.node.name)


# ------------------------------------------------------------------ node + devices
@dataclass
class Site:
    """A node serving the console, with simulated devices registered and alive."""

    node: Node
    fleet: SimFleet
    api: httpx.AsyncClient
    ipcs: list[SimDevice]
    nvr: SimDevice

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.node.http_port}"

    @property
    def devices(self) -> list[SimDevice]:
        return [*self.ipcs, self.nvr]

    @property
    def channel_count(self) -> int:
        return sum(len(d.channels) for d in self.devices)


async def _all_online(api: httpx.AsyncClient, site_devices: list[SimDevice]) -> bool:
    r = await api.get("/api/channels", params={"status": "online", "limit": 1000})
    want = sum(len(d.channels) for d in site_devices)
    return r.status_code == 200 and r.json()["total"] >= want


@pytest.fixture
async def site(make_node: NodeFactory, web_dist: Path) -> AsyncIterator[Site]:
    """Node (keepalive 1 s × 2, so offline shows within seconds) + 4 IPCs and an NVR
    with 4 channels (its channel 1 is a PTZ dome)."""
    node = await make_node(
        sip={"keepalive_interval": 1, "keepalive_timeout_count": 2},
        ui={"dist": str(web_dist)},
    )
    api = await login(node)
    fleet = fleet_for(node)
    ipcs = [fleet.add(ipc(n, keepalive_interval=0.5)) for n in range(1, 5)]
    recorder = fleet.add(nvr(1, 4, keepalive_interval=0.5))
    await fleet.start()
    try:
        assert await fleet.register_all() == {200: 5}
        fleet.start_keepalives()
        await eventually(lambda: _all_online(api, [*ipcs, recorder]), 15)
        yield Site(node=node, fleet=fleet, api=api, ipcs=ipcs, nvr=recorder)
    finally:
        await fleet.stop()
        await api.aclose()


@pytest.fixture
async def page(browser: Any, site: Site) -> AsyncIterator[Any]:
    context = await browser.new_context(
        base_url=site.url, viewport={"width": 1440, "height": 900}, accept_downloads=True
    )
    pg = await context.new_page()
    pg.set_default_timeout(15_000)
    # a page load (the console's JS bundle from the node) is the slowest step on a
    # loaded CI box: one took over 15 s while other suites ran
    pg.set_default_navigation_timeout(40_000)
    pg.console_log = ConsoleLog()  # type: ignore[attr-defined]
    pg.console_log.attach(pg)  # type: ignore[attr-defined]
    try:
        yield pg
    finally:
        await context.close()


def tid(test_id: str) -> str:
    return f'[data-testid="{test_id}"]'


def field(page: Any, test_id: str) -> Any:
    """The <input> of a form field, whether the test id sits on it or on its wrapper."""
    return page.locator(f"input{tid(test_id)}, {tid(test_id)} input").first


async def ui_login(page: Any, username: str = "admin", password: str = ADMIN_PASSWORD) -> None:
    await page.goto("/")
    await field(page, "login-username").fill(username)
    await field(page, "login-password").fill(password)
    await page.get_by_test_id("login-submit").click()
    await page.get_by_test_id("dashboard").wait_for()
