"""``/api/docs`` with Swagger UI served by the node itself.

FastAPI's default page loads Swagger UI from a public CDN, which the offline
networks this product runs on cannot reach (issue 17, defect 1). The assets come
from the PyPI package ``fastapi-offline`` (MIT), which vendors Swagger UI 5; only
its static folder is used, the application stays a plain FastAPI.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = Path(fastapi_offline.__file__).parent / "static"
ASSETS_URL = "/api/docs-assets"


def mount_docs(app: FastAPI, docs_url: str = "/api/docs") -> None:
    """Swagger UI at ``docs_url``; create the app with ``docs_url=None``."""
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS), name="docs-assets")
    openapi_url = app.openapi_url or "/api/openapi.json"

    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} — API",
            swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_URL}/favicon.png",
        )

    app.add_api_route(docs_url, docs, methods=["GET"], include_in_schema=False)
