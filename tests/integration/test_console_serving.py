"""The node serves the web console: files, SPA fallback, the not-built page, /api/ui."""

from __future__ import annotations

from pathlib import Path

import httpx

from .conftest import NodeFactory, login
from .devices_helpers import eventually, fleet_for, ipc, nvr


def _dist(tmp_path: Path) -> Path:
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<!doctype html><title>console</title>", encoding="utf-8")
    (dist / "assets" / "index-abc123.js").write_text("console.log(1)", encoding="utf-8")
    (tmp_path / "secret.txt").write_text("outside the dist folder", encoding="utf-8")
    return dist


async def test_console_files_and_spa_fallback(make_node: NodeFactory, tmp_path: Path) -> None:
    dist = _dist(tmp_path)
    node = await make_node(ui={"dist": str(dist)})
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{node.http_port}", timeout=30) as c:
        r = await c.get("/")
        assert r.status_code == 200 and "<title>console</title>" in r.text
        assert r.headers["cache-control"] == "no-cache"
        r = await c.get("/assets/index-abc123.js")
        assert r.status_code == 200 and r.text == "console.log(1)"
        assert "immutable" in r.headers["cache-control"]
        assert "javascript" in r.headers["content-type"]
        # client-side routes get index.html, so a reload on /map works
        for path in ("/map", "/devices/34020000001320000001", "/ledger/cameras/7"):
            r = await c.get(path)
            assert r.status_code == 200 and "<title>console</title>" in r.text, path
        # a missing hashed asset is a 404, not HTML the browser would run as a script
        assert (await c.get("/assets/gone-000.js")).status_code == 404
        # no way out of the folder
        for path in ("/../secret.txt", "/%2e%2e/secret.txt", "/assets/..%2f..%2fsecret.txt"):
            r = await c.get(path)
            assert "outside the dist folder" not in r.text, path
        # the API keeps its own 404s and answers before the console's catch-all
        r = await c.get("/api/no-such-thing")
        assert r.status_code == 404 and r.headers["content-type"].startswith("application/json")
        assert (await c.get("/api/health")).json()["status"] == "ok"
        assert (await c.get("/api/devices")).status_code == 401


async def test_without_a_build_the_root_says_how_to_build(
    make_node: NodeFactory, tmp_path: Path
) -> None:
    node = await make_node(ui={"dist": str(tmp_path / "not-built")})
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{node.http_port}", timeout=30) as c:
        for path in ("/", "/map"):
            r = await c.get(path)
            assert r.status_code == 200
            assert "make web" in r.text and "npm run build" in r.text
        assert (await c.get("/api/health")).status_code == 200


async def test_ui_config_needs_a_login_and_has_no_tile_server_by_default(
    make_node: NodeFactory, tmp_path: Path
) -> None:
    node = await make_node(ui={"dist": str(_dist(tmp_path))})
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{node.http_port}", timeout=30) as c:
        assert (await c.get("/api/ui/config")).status_code == 401
    api = await login(node)
    try:
        cfg = (await api.get("/api/ui/config")).json()
        assert cfg["tile_url"] is None  # offline: the console draws its bundled basemap
        assert cfg["map_crs"] == "wgs84"
    finally:
        await api.aclose()

    tiles = "http://tiles.example.invalid/{z}/{x}/{y}.png"
    other = await make_node(ui={"dist": str(tmp_path / "dist"), "tile_url": tiles})
    api = await login(other)
    try:
        assert (await api.get("/api/ui/config")).json()["tile_url"] == tiles
    finally:
        await api.aclose()


async def test_channel_counts_per_civil_code(make_node: NodeFactory) -> None:
    """The dashboard's per-township chart and the region tree's counts."""
    node = await make_node(sip={"keepalive_interval": 1, "keepalive_timeout_count": 2})
    api = await login(node)
    fleet = fleet_for(node)
    cams = [fleet.add(ipc(n, keepalive_interval=0.5)) for n in (1, 2)]
    recorder = fleet.add(nvr(3, 3, keepalive_interval=0.5))
    await fleet.start()
    try:
        assert await fleet.register_all() == {200: 3}
        fleet.start_keepalives()

        async def counts() -> dict[str, tuple[int, int]]:
            items = (await api.get("/api/stats/regions")).json()["items"]
            return {i["civil_code"]: (i["online"], i["offline"]) for i in items}

        async def settled(want: dict[str, tuple[int, int]]) -> bool:
            return await counts() == want

        # ipc(): civil code 34020001, nvr(): 34020002
        await eventually(lambda: settled({"34020001": (2, 0), "34020002": (3, 0)}), 10)
        cams[0].set_fault("offline")
        await eventually(lambda: settled({"34020001": (1, 1), "34020002": (3, 0)}), 10)
        # a user limited to another region sees none of them
        await api.post(
            "/api/users",
            json={
                "username": "far",
                "password": "far-away-1",
                "role": "viewer",
                "region_codes": ["3415"],
            },
        )
        far = await login(node, "far", "far-away-1")
        try:
            assert (await far.get("/api/stats/regions")).json() == {"items": []}
        finally:
            await far.aclose()
        assert recorder.device_id
    finally:
        await fleet.stop()
        await api.aclose()
