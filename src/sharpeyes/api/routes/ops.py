"""Operability routes: Prometheus /metrics, liveness and readiness probes."""

from __future__ import annotations

import hmac
import time
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response, status
from fastapi.responses import JSONResponse

from sharpeyes import __version__
from sharpeyes.api.deps import NodeDep
from sharpeyes.ops.health import readiness
from sharpeyes.ops.metrics import CONTENT_TYPE

router = APIRouter(tags=["health"])


@router.get("/api/health/live")
async def live(node: NodeDep) -> dict[str, Any]:
    """Liveness: the process serves requests (restart it if this fails). No authentication."""
    return {
        "status": "ok",
        "version": __version__,
        "uptime_s": round(time.time() - node.started_at, 1),
    }


@router.get(
    "/api/health/ready",
    responses={503: {"description": "not ready: a check failed (see checks)"}},
)
async def ready(node: NodeDep) -> JSONResponse:
    """Readiness: the database is reachable and migrated to head. No authentication."""
    ok, checks = await readiness(node)
    return JSONResponse(
        {"status": "ok" if ok else "unavailable", "checks": checks},
        status_code=200 if ok else status.HTTP_503_SERVICE_UNAVAILABLE,
    )


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE: {}}}, 401: {}, 403: {}},
)
async def metrics(request: Request, node: NodeDep) -> Response:
    """Prometheus text format. Needs ``Authorization: Bearer <ops.metrics_token>``; without
    a configured token it is refused here (scrape ``ops.metrics_port`` instead)."""
    token = node.settings.ops.metrics_token
    if not token:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "metrics are not served on this port: set ops.metrics_token, or scrape the "
            "management listener (ops.metrics_port)",
        )
    given = request.headers.get("authorization", "")
    scheme, _, value = given.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(value.encode(), token.encode()):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "metrics token required",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return Response(await node.metrics.render(), media_type=CONTENT_TYPE)
