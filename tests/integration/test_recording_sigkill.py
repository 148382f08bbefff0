"""A real crash: ``sharpeyes serve`` in its own process, SIGKILLed while it records.

The in-process test (test_recording_platform) fakes the kill; this one lets the
kernel do it, mid-write, so whatever the node had not flushed is simply lost.
After a restart on the same database and folder the segments closed before the
kill are byte-for-byte intact and decode, and the one being written is either
cut back to whole boxes (and decodes) or dropped — never left half-indexed.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import av
import httpx
import pytest

from sharpeyes.sim.fleet import SimFleet
from sharpeyes.sim.media import SimMediaConfig

from .devices_helpers import eventually, ipc

pytestmark = pytest.mark.slow

SERVER_ID = "34020000002000000001"
DOMAIN = "3402000000"
ADMIN = "sigkill-admin-pass"


def _port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(tmp: Path, sip: int, http: int) -> subprocess.Popen[bytes]:
    env = dict(
        os.environ,
        SHARPEYES_SIP__HOST="127.0.0.1",
        SHARPEYES_SIP__PORT=str(sip),
        SHARPEYES_HTTP__HOST="127.0.0.1",
        SHARPEYES_HTTP__PORT=str(http),
        SHARPEYES_DB__URL=f"sqlite+aiosqlite:///{tmp / 'node.db'}",
        SHARPEYES_AUTH__ADMIN_PASSWORD=ADMIN,
        SHARPEYES_RECORDING__PATH=str(tmp / "rec"),
        SHARPEYES_RECORDING__SEGMENT_S="1",
        SHARPEYES_RECORDING__RETENTION_EVERY_S="3600",
        SHARPEYES_MEDIA__INVITE_TIMEOUT_S="10",
        SHARPEYES_LOG_LEVEL="warning",
    )
    return subprocess.Popen(
        [sys.executable, "-m", "sharpeyes.cli", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def _up(api: httpx.AsyncClient, proc: subprocess.Popen[bytes]) -> None:
    async def healthy() -> bool:
        assert proc.poll() is None, "node exited"
        try:
            return (await api.get("/api/health")).status_code == 200
        except httpx.TransportError:
            return False

    await eventually(healthy, 60)
    r = await api.post("/api/auth/login", json={"username": "admin", "password": ADMIN})
    r.raise_for_status()
    api.headers["Authorization"] = f"Bearer {r.json()['access_token']}"


def _rows(db: Path) -> list[dict[str, Any]]:
    with sqlite3.connect(db) as c:
        c.row_factory = sqlite3.Row
        rows = c.execute("SELECT * FROM record_segments ORDER BY start").fetchall()
        return [dict(r) for r in rows]


def _decoded_frames(path: Path) -> int:
    with av.open(str(path)) as f:
        return sum(1 for _ in f.decode(video=0))


async def test_sigkilled_node_keeps_closed_segments_and_repairs_the_open_one(
    tmp_path: Path,
) -> None:
    sip, http = _port(socket.SOCK_DGRAM), _port(socket.SOCK_STREAM)
    db, root = tmp_path / "node.db", tmp_path / "rec" / "segments"
    proc = _serve(tmp_path, sip, http)
    api = httpx.AsyncClient(base_url=f"http://127.0.0.1:{http}", timeout=30)
    fleet = SimFleet(server=("127.0.0.1", sip), server_id=SERVER_ID, domain=DOMAIN)
    try:
        await _up(api, proc)
        d = fleet.add(ipc(1, media=SimMediaConfig()))
        await fleet.start()
        assert await fleet.register_all() == {200: 1}
        channel_id = d.channels[0].channel_id

        async def listed() -> bool:
            items = (await api.get("/api/channels", params={"q": channel_id})).json()["items"]
            return bool(items) and items[0]["online"]

        await eventually(listed, 20)
        pk = (await api.get("/api/channels", params={"q": channel_id})).json()["items"][0]["id"]
        r = await api.post(
            "/api/recording/plans", json={"name": "kill", "channels": [pk], "storage_days": 1}
        )
        assert r.status_code == 201, r.text

        def closed_and_open() -> bool:
            rows = _rows(db) if db.exists() else []
            return sum(r["complete"] for r in rows) >= 3 and any(
                not r["complete"] and r["bytes"] > 0 for r in rows
            )

        await eventually(closed_and_open, 60)
        await asyncio.sleep(0.4)  # land the kill inside a flush cycle, not on its edge
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(10) == -signal.SIGKILL
        await fleet.stop()

        before = _rows(db)
        closed = {
            r["id"]: hashlib.sha256((root / r["path"]).read_bytes()).hexdigest()
            for r in before
            if r["complete"]
        }
        open_rows = {r["id"]: r["path"] for r in before if not r["complete"]}
        assert closed and open_rows

        proc = _serve(tmp_path, sip, http)  # same database, same folder
        await _up(api, proc)

        def repaired() -> bool:
            return all(r["complete"] for r in _rows(db))

        await eventually(repaired, 30)
        after = {r["id"]: r for r in _rows(db)}
        for rid, digest in closed.items():  # closed before the kill: untouched
            assert rid in after
            assert hashlib.sha256((root / after[rid]["path"]).read_bytes()).hexdigest() == digest
        for r in after.values():  # index and disk agree, and every file plays
            f = root / r["path"]
            assert f.stat().st_size == r["bytes"] > 0
            assert _decoded_frames(f) >= 1
        for rid, path in open_rows.items():  # the open one: recovered (above) or gone
            assert rid in after or not (root / path).exists()
        assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*.mp4")) == sorted(
            r["path"] for r in after.values()
        )  # no orphan files either
        # the timeline over the API agrees with the repaired index
        r = await api.get(
            f"/api/channels/{pk}/recordings",
            params={
                "start": int(min(x["start"] for x in after.values())) - 1,
                "end": int(max(x["end"] for x in after.values())) + 1,
                "source": "platform",
            },
        )
        assert r.status_code == 200, r.text
        assert r.json()["items"]
    finally:
        await fleet.stop()
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
        await api.aclose()
