"""Operability: Prometheus /metrics (token or management listener), health probes, JSON logs."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from sharpeyes.ops.logs import configure_logging

from .conftest import NodeFactory, login
from .devices_helpers import eventually, fleet_for, ipc

pytestmark = pytest.mark.db

TOKEN = "scrape-token-0123456789"


def samples(body: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for fam in text_string_to_metric_families(body):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


async def test_metrics_need_the_token_and_count_what_happens(make_node: NodeFactory) -> None:
    node = await make_node(ops={"metrics_token": TOKEN})
    api = await login(node)
    base = f"http://127.0.0.1:{node.http_port}"
    fleet = fleet_for(node)
    fleet.add(ipc(1))
    fleet.add(ipc(2))
    await fleet.start()
    try:
        assert await fleet.register_all() == {200: 2}
        await fleet.devices[next(iter(fleet.devices))].send_keepalive()
        async with httpx.AsyncClient(base_url=base, timeout=30) as anon:
            assert (await anon.get("/metrics")).status_code == 401
            bad = await anon.get("/metrics", headers={"Authorization": "Bearer nope"})
            assert bad.status_code == 401
            # A user's JWT is not the scrape token either.
            assert (await anon.get("/metrics", headers=dict(api.headers))).status_code == 401

            async def scraped() -> dict[Any, float]:
                r = await anon.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
                assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
                return samples(r.text)

            async def both_online() -> bool:
                m = await scraped()
                return m[("sharpeyes_devices", (("state", "online"),))] == 2

            await eventually(both_online, 15)
            m = await scraped()
        assert m[("sharpeyes_channels", (("state", "online"),))] == 2
        assert m[("sharpeyes_registrations", ())] == 2
        key = ("sharpeyes_sip_requests_total", (("method", "REGISTER"), ("status", "200")))
        assert m[key] >= 2
        assert m[("sharpeyes_sip_requests_total", (("method", "REGISTER"), ("status", "401")))] >= 2
        keepalive = (
            "sharpeyes_sip_request_seconds_count",
            (("cmd", "Keepalive"), ("method", "MESSAGE")),
        )
        assert m[keepalive] >= 1
        assert m[("sharpeyes_streams", ())] == 0
        assert ("sharpeyes_loop_lag_seconds", (("quantile", "0.99"),)) in m
        assert m[("sharpeyes_db_roundtrip_seconds", ())] > 0
        # every commit is timed: registrations alone commit several times
        commits = m[("sharpeyes_db_commit_seconds_count", ())]
        assert commits >= 2 and m[("sharpeyes_db_commit_seconds_sum", ())] > 0
        inf = m[("sharpeyes_db_commit_seconds_bucket", (("le", "+Inf"),))]
        assert inf == commits <= node.db.commit_latency.count
    finally:
        await fleet.stop()


async def test_metrics_refused_on_the_api_port_without_a_token(make_node: NodeFactory) -> None:
    node = await make_node()
    api = await login(node)
    r = await api.get("/metrics")  # even an administrator's JWT: scrapers use the token
    assert r.status_code == 403 and "metrics_port" in r.json()["detail"]


async def test_management_listener_serves_metrics_only(make_node: NodeFactory) -> None:
    node = await make_node(ops={"metrics_port": 0, "metrics_host": "127.0.0.1"})
    assert node.metrics_listener is not None
    base = f"http://127.0.0.1:{node.metrics_listener.port}"
    async with httpx.AsyncClient(base_url=base, timeout=30) as c:
        r = await c.get("/metrics")
        assert r.status_code == 200
        assert ("sharpeyes_devices", (("state", "online"),)) in samples(r.text)
        assert (await c.get("/api/devices")).status_code == 404
        assert (await c.post("/metrics")).status_code == 405


async def test_liveness_and_readiness(make_node: NodeFactory, monkeypatch: Any) -> None:
    node = await make_node()
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{node.http_port}", timeout=30) as c:
        assert (await c.get("/api/health")).json()["status"] == "ok"  # kept as it was
        assert (await c.get("/api/health/live")).json()["status"] == "ok"
        r = await c.get("/api/health/ready")
        assert r.status_code == 200, r.text
        checks = r.json()["checks"]
        assert checks["database"]["ok"] and checks["migrations"]["ok"]
        assert checks["migrations"]["current"] == checks["migrations"]["head"]

        # Migrations behind the code: not ready.
        async with node.db.session() as s:
            head = (await s.execute(text("SELECT version_num FROM alembic_version"))).scalar()
            await s.execute(text("UPDATE alembic_version SET version_num = '0001'"))
            await s.commit()
        r = await c.get("/api/health/ready")
        assert r.status_code == 503
        body = r.json()
        assert body["status"] == "unavailable"
        assert body["checks"]["migrations"] == {"ok": False, "current": "0001", "head": head}
        async with node.db.session() as s:
            await s.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": head})
            await s.commit()
        assert (await c.get("/api/health/ready")).status_code == 200

        # Database unreachable: not ready, and says why; liveness unaffected.
        @contextlib.asynccontextmanager
        async def broken() -> AsyncIterator[None]:
            raise ConnectionRefusedError("connection refused")
            yield

        monkeypatch.setattr(node.db, "session", broken)
        r = await c.get("/api/health/ready")
        assert r.status_code == 503
        assert "refused" in r.json()["checks"]["database"]["error"]
        assert (await c.get("/api/health/live")).status_code == 200


def test_json_logs_are_one_object_per_line(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        configure_logging("info", "json")
        log = logging.getLogger("sharpeyes.test")
        log.info("设备 %s 上线", "34020000001320000001")
        log.debug("not at info")
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("failed")
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 2
        first, second = (json.loads(line) for line in lines)
        assert first["message"] == "设备 34020000001320000001 上线"
        assert first["level"] == "INFO" and first["logger"] == "sharpeyes.test" and first["time"]
        assert second["level"] == "ERROR" and "ValueError: boom" in second["exc_info"]
    finally:
        for h in list(root.handlers):
            root.removeHandler(h)
        for h in saved[0]:
            root.addHandler(h)
        root.setLevel(saved[1])
