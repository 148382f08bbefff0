"""The audit trail: every listed action produces its row (table-driven), the chain
is verifiable by API and CLI, tampering in the database is found at that row
(SQLite and PostgreSQL: run with SHARPEYES_TEST_PG), export is itself audited,
and retention leaves a verifiable chain behind a checkpoint."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import delete, select, text, update

from sharpeyes.audit.models import AuditEvent
from sharpeyes.audit.service import Actor, record
from sharpeyes.node import Node
from sharpeyes.sim.recordings import records
from sharpeyes.store.models import utcnow

from .conftest import NodeFactory, login
from .live_helpers import add_cameras, live_node, play
from .sharing_helpers import DEPT_ORG, PASSWORD, request_share, review, user

pytestmark = pytest.mark.db


async def _actions(node: Node) -> list[str]:
    await node.audit.flush()
    async with node.db.session() as s:
        return list(await s.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


async def test_every_listed_action_produces_its_row(make_node: NodeFactory) -> None:
    node, admin = await live_node(make_node, invite_timeout_s=20.0, no_rtp_timeout_s=10.0)
    (cam,) = await add_cameras(node, admin, [1])
    dept = await user(node, "dept", "department", org_id=DEPT_ORG)
    police = await user(node, "police", "reviewer_police")
    data = await user(node, "data", "reviewer_data")
    state: dict[str, Any] = {}

    async def login_ok() -> Any:
        c = await login(node)
        await c.aclose()

    async def login_failed() -> Any:
        r = await admin.post("/api/auth/login", json={"username": "admin", "password": "nope-1"})
        assert r.status_code == 401

    async def logout() -> Any:
        c = await login(node, "dept", PASSWORD)
        assert (await c.post("/api/auth/logout")).status_code == 204
        assert (await c.get("/api/auth/me")).status_code == 401  # that session is over
        await c.aclose()

    async def live_view() -> Any:
        await play(admin, cam.pk)

    async def snapshot() -> Any:
        r = await admin.get(f"/api/channels/{cam.pk}/snapshot")
        assert r.status_code == 200

    async def ptz() -> Any:
        r = await admin.post(f"/api/channels/{cam.pk}/ptz", json={"action": "left"})
        assert r.status_code == 200, r.text

    async def ledger_change() -> Any:
        r = await admin.post(
            "/api/ledger/organisations", json={"name": "交警大队", "type": "public_security"}
        )
        assert r.status_code == 201, r.text

    async def ledger_export() -> Any:
        assert (await admin.get("/api/ledger/cameras/export", params={"format": "csv"})).is_success

    async def user_change() -> Any:
        r = await admin.post(
            "/api/users",
            json={"username": "u9", "password": PASSWORD, "role": "viewer", "org_id": 3},
        )
        assert r.status_code == 201
        state["uid"] = r.json()["id"]
        r = await admin.patch(
            f"/api/users/{state['uid']}", json={"role": "operator", "region_codes": ["34"]}
        )
        assert r.status_code == 200

    async def share_request() -> Any:
        state["rid"] = await request_share(dept, [cam.pk], ["live"])

    async def share_review_and_grant() -> Any:
        assert (await review(police, state["rid"], "police")).status_code == 200
        assert (await review(data, state["rid"], "data")).status_code == 200

    async def share_revoke() -> Any:
        (g,) = (await admin.get("/api/sharing/grants")).json()["items"]
        assert (await admin.post(f"/api/sharing/grants/{g['id']}/revoke")).status_code == 200

    async def app_create_and_call() -> Any:
        from examples.sharpeyes_client import SignedClient

        r = await admin.post("/api/apps", json={"name": "gis", "org_id": 1, "rights": ["live"]})
        assert r.status_code == 201
        app = r.json()
        async with SignedClient(
            f"http://127.0.0.1:{node.http_port}", app["app_key"], app["app_secret"]
        ) as c:
            assert (await c.get("/api/channels")).status_code == 200

    async def device_control() -> Any:
        r = await admin.post(
            f"/api/devices/{cam.device.device_id}/control", json={"command": "iframe"}
        )
        assert r.status_code == 200, r.text

    async def device_playback() -> Any:
        now = int(time.time())
        cid = cam.channel["channel_id"]
        item = next(
            i
            for i in records(cam.device.config.recordings, cid, now - 86400, now - 3600)
            if i.end - i.start >= 300
        )
        r = await admin.post(
            f"/api/channels/{cam.pk}/playback",
            json={"source": "device", "start": item.start + 60, "end": item.start + 90},
        )
        assert r.status_code == 200, r.text

    async def config_change() -> Any:
        r = await admin.post(
            "/api/cascade/uppers",
            json={
                "name": "city",
                "server_id": "34000000002000000001",
                "domain": "3400000000",
                "host": "127.0.0.1",
                "port": 9,
                "password": "secret-1",
                "enabled": False,
            },
        )
        assert r.status_code in (200, 201), r.text

    async def audit_export() -> Any:
        assert (await admin.get("/api/audit/export", params={"format": "csv"})).is_success

    table: list[tuple[str, Callable[[], Awaitable[Any]], list[str]]] = [
        ("login success", login_ok, ["auth.login"]),
        ("login failure", login_failed, ["auth.login"]),
        ("logout", logout, ["auth.login", "auth.logout"]),
        ("live view", live_view, ["live.play"]),
        ("snapshot", snapshot, ["live.snapshot"]),
        ("PTZ", ptz, ["device.ptz"]),
        ("ledger change", ledger_change, ["ledger.create"]),
        ("ledger export", ledger_export, ["ledger.export"]),
        ("user/role/scope change", user_change, ["user.create", "user.update"]),
        ("share request", share_request, ["share.request"]),
        (
            "reviews and grant",
            share_review_and_grant,
            ["share.review", "share.review", "share.grant"],
        ),
        ("revoke", share_revoke, ["share.revoke"]),
        ("app create and call", app_create_and_call, ["app.create", "app.call"]),
        ("other controls", device_control, ["device.control"]),
        ("playback", device_playback, ["playback.device"]),
        ("configuration change", config_change, ["cascade.upper.create"]),
        ("audit export", audit_export, ["audit.export"]),
    ]
    try:
        for name, act, expected in table:
            before = len(await _actions(node))
            await act()
            got = (await _actions(node))[before:]
            assert got == expected, name
        async with node.db.session() as s:
            fail = await s.scalar(
                select(AuditEvent).where(
                    AuditEvent.action == "auth.login", AuditEvent.outcome == "denied"
                )
            )
            assert fail is not None and fail.actor_name == "admin" and fail.client_ip == "127.0.0.1"
            view = await s.scalar(select(AuditEvent).where(AuditEvent.action == "live.play"))
            assert view is not None and view.target_id == cam.device.channels[0].channel_id
        assert (await admin.get("/api/audit/verify")).json() == {
            "ok": True,
            "rows": len(await _actions(node)),
            "first_bad": None,
            "reason": None,
        }
        # Search with filters; the auditor role may read, a department may not.
        auditor = await user(node, "aud", "auditor")
        r = await auditor.get("/api/audit", params={"action": "share.", "limit": 2})
        assert r.status_code == 200 and r.json()["total"] == 5 and len(r.json()["items"]) == 2
        assert (await dept.get("/api/audit")).status_code == 403
        x = await auditor.get("/api/audit/export", params={"format": "xlsx", "action": "auth."})
        ws = load_workbook(io.BytesIO(x.content)).active
        assert ws is not None and ws.max_row > 3
        await auditor.aclose()
    finally:
        await cam.fleet.stop()
        for c in (admin, dept, police, data):
            await c.aclose()


async def _fill(node: Node, n: int) -> list[int]:
    ids = []
    for i in range(n):
        async with node.db.session() as s:
            row = await record(
                s, Actor("user:1", "admin"), "test.action", "thing", i, detail={"i": i}
            )
            await s.commit()
            ids.append(row.id)
    return ids


async def _cli_verify(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> tuple[int, str, str]:
    """``sharpeyes audit verify`` (the CLI's own main, in a worker thread: it runs its loop)."""
    from sharpeyes.cli import main

    monkeypatch.setenv("SHARPEYES_DB__URL", db_url)
    capsys.readouterr()
    code = await asyncio.to_thread(main, ["--log-level", "warning", "audit", "verify"])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("tamper", ["update", "delete", "insert"])
async def test_tampering_is_found_at_that_row(
    make_node: NodeFactory, db_url: str, tamper: str, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    node = await make_node()
    api = await login(node)
    try:
        await _fill(node, 6)
        ids = await _all_ids(node)
        assert (await api.get("/api/audit/verify")).json()["ok"] is True
        victim = ids[3]
        async with node.db.session() as s:
            if tamper == "update":
                await s.execute(
                    update(AuditEvent).where(AuditEvent.id == victim).values(outcome="denied")
                )
                want = victim
            elif tamper == "delete":
                await s.execute(delete(AuditEvent).where(AuditEvent.id == victim))
                want = ids[4]
            else:
                # A forged row appended by hand, not chained by the node.
                await s.execute(
                    text(
                        "INSERT INTO audit_events (id, at, actor, actor_name, action, target_type, "
                        "target_id, outcome, detail, prev_hash, hash) VALUES (:id, :at, 'user:9', "
                        "'x', 'live.play', 'channel', '1', 'ok', '{}', :p, :h)"
                    ),
                    {"id": ids[-1] + 1, "at": utcnow(), "p": "e" * 64, "h": "f" * 64},
                )
                want = ids[-1] + 1
            await s.commit()
        v = (await api.get("/api/audit/verify")).json()
        assert v["ok"] is False and v["first_bad"] == want, v
        code, _, err = await _cli_verify(db_url, monkeypatch, capsys)
        assert code == 1 and f"row {want}" in err, err
    finally:
        await api.aclose()


async def _all_ids(node: Node) -> list[int]:
    await node.audit.flush()
    async with node.db.session() as s:
        return list(await s.scalars(select(AuditEvent.id).order_by(AuditEvent.id)))


async def test_cli_verify_ok_and_retention_checkpoint(
    make_node: NodeFactory, db_url: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    node = await make_node(audit={"retention_days": 30, "archive_dir": str(tmp_path / "arch")})
    await _fill(node, 3)
    # Two rows stamped in the future: still young when the rest is 31 days old.
    for i in range(2):
        async with node.db.session() as s:
            await record(
                s, Actor("system", "system"), "late", "thing", i, at=utcnow() + timedelta(days=2)
            )
            await s.commit()
    before = await _all_ids(node)
    pruned = await node.audit.prune(utcnow() + timedelta(days=31))
    after = await _all_ids(node)
    assert pruned == len(before) - 2 and after == before[-2:]
    assert (await node.audit.verify()).ok
    (archive,) = (tmp_path / "arch").iterdir()
    assert len(archive.read_text().splitlines()) == pruned
    # New rows chain on after the checkpoint, and the CLI agrees.
    await _fill(node, 1)
    assert (await node.audit.verify()).ok
    code, out, _ = await _cli_verify(db_url, monkeypatch, capsys)
    assert code == 0 and "ok" in out, out


async def test_write_is_in_the_actions_transaction(make_node: NodeFactory) -> None:
    """A rolled-back action leaves no audit row behind, and the chain stays whole."""
    node = await make_node()
    await _fill(node, 2)
    n = len(await _all_ids(node))
    async with node.db.session() as s:
        await record(s, Actor("user:1", "admin"), "doomed", "thing", 1)
        await s.rollback()
    assert len(await _all_ids(node)) == n
    await _fill(node, 1)
    assert (await node.audit.verify()).ok
