"""create_app takes an explicit services object: anything shaped like the node will do."""

from __future__ import annotations

import asyncio
import types

import httpx

from sharpeyes.api.app import create_app
from sharpeyes.config import load_settings


def test_app_over_a_stub_services_object() -> None:
    services = types.SimpleNamespace(settings=load_settings(None), started_at=0.0)
    app = create_app(services)  # type: ignore[arg-type]  (a stub, not a Node)

    async def probe() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            return await c.get("/api/health")

    resp = asyncio.run(probe())
    assert resp.status_code == 200 and resp.json()["status"] == "ok"
    assert app.state.services is services
