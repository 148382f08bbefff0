"""Property-based API testing against our own OpenAPI document (schemathesis).

Every operation of ``/api/openapi.json`` gets generated requests, authenticated as
an administrator (so they reach the handlers rather than stopping at 401), against
a real node on loopback. No response may be a 5xx, and every error body has the
one shape ``{"detail": str, "code": str, ...}``. Bounded for CI by
``SHARPEYES_SCHEMATHESIS_EXAMPLES`` (examples per operation, default 3: about a
minute in all); raise it for a longer run.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings

from sharpeyes.api.app import create_app
from sharpeyes.config import load_settings
from sharpeyes.node import Node

from .conftest import ADMIN_PASSWORD

pytestmark = pytest.mark.db

EXAMPLES = int(os.environ.get("SHARPEYES_SCHEMATHESIS_EXAMPLES", "3"))


def _document() -> dict[str, Any]:
    """The OpenAPI document, built from an unstarted node (no I/O)."""
    url = "sqlite+aiosqlite:////nonexistent-sharpeyes-schema/x.db"
    return create_app(Node(load_settings(None, db={"url": url}))).openapi()


schema = schemathesis.openapi.from_dict(_document())


class _NodeThread:
    """A node running in its own event loop (schemathesis calls are synchronous)."""

    def __init__(self, data: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        settings_ = load_settings(
            None,
            db={"url": f"sqlite+aiosqlite:///{data / 'api.db'}"},
            sip={"host": "127.0.0.1", "port": 0, "query_timeout_s": 1.0, "catalog_timeout_s": 1.0},
            http={"host": "127.0.0.1", "port": 0},
            auth={"admin_password": ADMIN_PASSWORD},
            media={"invite_timeout_s": 1.0},
        )
        self.node = Node(settings_)
        self._run(self.node.start())
        self.base = f"http://127.0.0.1:{self.node.http_port}"

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(60)

    def stop(self) -> None:
        self._run(self.node.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    if os.environ.get("SHARPEYES_TEST_PG"):
        pytest.skip("API property tests run on SQLite only (the handlers are the same)")
    node = _NodeThread(tmp_path_factory.mktemp("schemathesis"))
    try:
        r = httpx.post(
            f"{node.base}/api/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}
        )
        r.raise_for_status()
        yield node.base, {"Authorization": f"Bearer {r.json()['access_token']}"}
    finally:
        node.stop()


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    phases=[Phase.generate],  # no "explicit": it adds schemathesis' slow coverage phase
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_no_server_errors_and_one_error_shape(
    case: schemathesis.Case, live: tuple[str, dict[str, str]]
) -> None:
    base, auth = live
    headers = {**auth, **(case.headers or {})}
    if case.path == "/metrics":
        headers.pop("Authorization", None)  # the scrape token, not a JWT
    response = case.call(base_url=base, headers=headers, timeout=30)
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} → {response.status_code}: {response.text[:500]}"
    )
    if response.status_code >= 400 and "json" in response.headers.get("content-type", ""):
        body = response.json()
        assert isinstance(body.get("detail"), str) and body["detail"], body
        assert isinstance(body.get("code"), str) and body["code"], body
