"""The web console's files (``web/dist``), served at ``/`` with a single-page-app
fallback: every GET outside ``/api`` that names no file gets ``index.html``, so
``/map`` or ``/devices/…`` survive a reload.

The folder is ``[ui] dist`` (``SHARPEYES_UI__DIST``); else the repository's
``web/dist`` when running from a clone (``make run``); else the copy packaged in
``sharpeyes/console/dist`` by the wheel/sdist build (``pip install`` — no Node.js
needed). When none has been built, ``/`` answers a short page saying how to
build it, so ``sharpeyes serve`` works without npm.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

import sharpeyes

REPO_DIST = Path(sharpeyes.__file__).resolve().parents[2] / "web" / "dist"
PACKAGED_DIST = Path(sharpeyes.__file__).resolve().parent / "console" / "dist"

NOT_BUILT = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>sharpeyes</title>
<link rel="icon" href="data:,"></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 3em auto; line-height: 1.5">
<h1>sharpeyes</h1>
<p>The node is running, but the web console has not been built.</p>
<p>Build it (Node.js &ge; 20.19 and npm): <code>make web</code>, or
<code>cd web &amp;&amp; npm ci &amp;&amp; npm run build</code>; then reload this page.
Another folder can be named with <code>SHARPEYES_UI__DIST</code>.</p>
<p>The API works without it: <a href="/api/docs">/api/docs</a>.</p>
<hr><p>控制台尚未构建：运行 <code>make web</code> 后刷新本页。</p>
</body></html>
"""

# Hashed file names under /assets never change: cache them for a year. Anything
# else (index.html) must be revalidated so a new build is picked up.
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"


def dist_dir(
    configured: str | None, repo: Path = REPO_DIST, packaged: Path = PACKAGED_DIST
) -> Path:
    """The configured folder, else a clone's fresh build, else the packaged one."""
    if configured:
        return Path(configured).resolve()
    if (repo / "index.html").is_file() or not (packaged / "index.html").is_file():
        return repo
    return packaged


def mount_console(app: FastAPI, dist: Path) -> None:
    """Add the catch-all route; call it after every API router."""

    async def console(request: Request, path: str = "") -> Response:
        if path == "api" or path.startswith("api/"):
            raise HTTPException(404, "not found")
        index = dist / "index.html"
        if not index.is_file():
            return HTMLResponse(NOT_BUILT, headers={"Cache-Control": REVALIDATE})
        if path:
            try:
                target = (dist / path).resolve()
            except (OSError, ValueError):
                target = None
            if target is not None and target.is_relative_to(dist) and target.is_file():
                cache = IMMUTABLE if path.startswith("assets/") else REVALIDATE
                return FileResponse(target, headers={"Cache-Control": cache})
            if path.startswith("assets/"):
                # a missing hashed asset is a stale page, not a route: do not answer HTML
                raise HTTPException(404, "not found")
        return FileResponse(index, headers={"Cache-Control": REVALIDATE})

    for route in ("/", "/{path:path}"):
        app.add_api_route(
            route, console, methods=["GET", "HEAD"], include_in_schema=False, response_model=None
        )
