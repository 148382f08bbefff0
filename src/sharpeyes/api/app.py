"""FastAPI application: routers, error mapping, OpenAPI at /api/openapi.json."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from sharpeyes import __version__
from sharpeyes.api.routes import alarms, auth, channels, devices, events, health, users
from sharpeyes.devices.messaging import DeviceUnavailable
from sharpeyes.devices.service import NotFound

if TYPE_CHECKING:
    from sharpeyes.node import Node


def create_app(node: Node) -> FastAPI:
    app = FastAPI(
        title="sharpeyes",
        version=__version__,
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
    )
    app.state.node = node
    for module in (health, auth, devices, channels, alarms, users, events):
        app.include_router(module.router)

    @app.exception_handler(NotFound)
    async def not_found(_: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse({"detail": f"not found: {exc}"}, status_code=404)

    @app.exception_handler(DeviceUnavailable)
    async def unavailable(_: Request, exc: DeviceUnavailable) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=exc.status)

    @app.exception_handler(ValueError)
    async def bad_value(_: Request, exc: ValueError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=400)

    return app
