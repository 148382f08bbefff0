"""FastAPI application: routers, error mapping, OpenAPI at /api/openapi.json."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from sharpeyes import __version__
from sharpeyes.api.docs import mount_docs
from sharpeyes.api.routes import (
    alarms,
    auth,
    channels,
    console,
    devices,
    devmgmt,
    events,
    health,
    jobs,
    ledger,
    streams,
    ui,
    users,
)
from sharpeyes.api.routes import map as map_routes
from sharpeyes.api.static import dist_dir, mount_console
from sharpeyes.devices.messaging import DeviceUnavailable
from sharpeyes.devices.service import NotFound
from sharpeyes.jobs import JobNotFound
from sharpeyes.ledger.service import InvalidRecord, LedgerConflict, LedgerNotFound
from sharpeyes.live.session import StreamEnded

if TYPE_CHECKING:
    from sharpeyes.node import Node


def create_app(node: Node) -> FastAPI:
    app = FastAPI(
        title="sharpeyes",
        version=__version__,
        openapi_url="/api/openapi.json",
        docs_url=None,  # served from local assets by mount_docs (offline networks)
        redoc_url=None,
    )
    app.state.node = node
    mount_docs(app, "/api/docs")
    for module in (
        health,
        auth,
        devmgmt,  # before devices: its static paths beside /api/devices/{device_id}
        devices,
        channels,
        alarms,
        users,
        events,
        ledger,
        map_routes,
        jobs,
        streams,
        ui,
        console,
    ):
        app.include_router(module.router)

    @app.exception_handler(NotFound)
    async def not_found(_: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse({"detail": f"not found: {exc}"}, status_code=404)

    @app.exception_handler(DeviceUnavailable)
    async def unavailable(_: Request, exc: DeviceUnavailable) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=exc.status)

    @app.exception_handler(LedgerNotFound)
    @app.exception_handler(JobNotFound)
    async def ledger_not_found(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": f"not found: {exc}"}, status_code=404)

    @app.exception_handler(LedgerConflict)
    async def conflict(_: Request, exc: LedgerConflict) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=409)

    @app.exception_handler(InvalidRecord)
    async def invalid_record(_: Request, exc: InvalidRecord) -> JSONResponse:
        return JSONResponse({"detail": str(exc), "issues": exc.issues}, status_code=400)

    @app.exception_handler(PermissionError)
    async def forbidden(_: Request, exc: PermissionError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=403)

    @app.exception_handler(StreamEnded)
    async def stream_ended(_: Request, exc: StreamEnded) -> JSONResponse:
        return JSONResponse(
            {"detail": exc.detail, "reason": exc.reason.value}, status_code=exc.status
        )

    @app.exception_handler(ValueError)
    async def bad_value(_: Request, exc: ValueError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=400)

    # Last: the console's catch-all GET must not shadow any API route.
    mount_console(app, dist_dir(node.settings.ui.dist))
    return app
