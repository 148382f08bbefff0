"""FastAPI application: routers, error mapping, OpenAPI at /api/openapi.json."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from sharpeyes import __version__
from sharpeyes.api.docs import mount_docs
from sharpeyes.api.routes import (
    alarms,
    apps,
    audit,
    auth,
    cascade,
    channels,
    console,
    devices,
    devmgmt,
    events,
    health,
    jobs,
    ledger,
    media_nodes,
    messages,
    om,
    ops,
    proxies,
    recording,
    sharing,
    streams,
    talk,
    ui,
    users,
)
from sharpeyes.api.routes import map as map_routes
from sharpeyes.api.static import dist_dir, mount_console
from sharpeyes.devices.messaging import DeviceUnavailable
from sharpeyes.devices.service import NotFound
from sharpeyes.errors import DomainError, error_response
from sharpeyes.jobs import JobNotFound
from sharpeyes.ledger.service import InvalidRecord, LedgerConflict, LedgerNotFound
from sharpeyes.live.session import StreamEnded

if TYPE_CHECKING:
    from sharpeyes.services import Services

log = logging.getLogger(__name__)


def create_app(services: Services) -> FastAPI:
    """The HTTP API over ``services`` (the node, or anything shaped like it)."""
    app = FastAPI(
        title="sharpeyes",
        version=__version__,
        openapi_url="/api/openapi.json",
        docs_url=None,  # served from local assets by mount_docs (offline networks)
        redoc_url=None,
    )
    app.state.services = services
    mount_docs(app, "/api/docs")
    for module in (
        health,
        ops,
        auth,
        devmgmt,  # before devices: its static paths beside /api/devices/{device_id}
        devices,
        channels,
        alarms,
        cascade,
        users,
        events,
        ledger,
        map_routes,
        jobs,
        messages,
        om,
        streams,
        talk,
        proxies,
        recording,
        ui,
        sharing,
        apps,
        audit,
        console,
        media_nodes,
    ):
        app.include_router(module.router)

    _error_handlers(app)

    # Last: the console's catch-all GET must not shadow any API route.
    mount_console(app, dist_dir(services.settings.ui.dist))
    return app


def _error_handlers(app: FastAPI) -> None:
    """Every error answers ``{"detail", "code", ...}`` (see ``sharpeyes.errors``)."""

    @app.exception_handler(DomainError)
    async def domain(_: Request, exc: DomainError) -> JSONResponse:
        return error_response(exc.status, str(exc), exc.code, **exc.extra)

    @app.exception_handler(StarletteHTTPException)
    async def http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        return error_response(exc.status_code, detail, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = jsonable_encoder(exc.errors(), custom_encoder={Exception: str})
        first = errors[0] if errors else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        detail = f"{where}: {first.get('msg', 'invalid')}" if where else "invalid request"
        if len(errors) > 1:
            detail += f" (and {len(errors) - 1} more)"
        return error_response(422, detail, errors=errors)

    @app.exception_handler(NotFound)
    @app.exception_handler(LedgerNotFound)
    @app.exception_handler(JobNotFound)
    async def not_found(_: Request, exc: Exception) -> JSONResponse:
        return error_response(404, f"not found: {exc}")

    @app.exception_handler(DeviceUnavailable)
    async def unavailable(_: Request, exc: DeviceUnavailable) -> JSONResponse:
        return error_response(exc.status, str(exc), "device_unavailable")

    @app.exception_handler(LedgerConflict)
    async def conflict(_: Request, exc: LedgerConflict) -> JSONResponse:
        return error_response(409, str(exc))

    @app.exception_handler(InvalidRecord)
    async def invalid_record(_: Request, exc: InvalidRecord) -> JSONResponse:
        return error_response(400, str(exc), "invalid_record", issues=exc.issues)

    @app.exception_handler(PermissionError)
    async def forbidden(_: Request, exc: PermissionError) -> JSONResponse:
        return error_response(403, str(exc))

    @app.exception_handler(StreamEnded)
    async def stream_ended(_: Request, exc: StreamEnded) -> JSONResponse:
        return error_response(exc.status, exc.detail, "stream_ended", reason=exc.reason.value)

    @app.exception_handler(ValueError)
    async def bad_value(_: Request, exc: ValueError) -> JSONResponse:
        # Legacy: services still raising a bare ValueError for bad input (moving to
        # errors.InvalidInput). Logged so the remaining ones can be found.
        log.info("untyped ValueError answered 400: %s", exc)
        return error_response(400, str(exc))

    @app.exception_handler(Exception)
    async def internal(_: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error", exc_info=exc)
        return error_response(500, "internal error (logged on the node)")
