"""What every benchmark needs: a node in its own process, free ports, a tiny HTTP client."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

SERVER_ID = "34020000002000000001"
DOMAIN = "3402000000"
PASSWORD = "12345678"
ADMIN = "bench-admin-pass"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http(url: str, token: str | None = None, body: dict[str, Any] | None = None) -> Any:
    req = urllib.request.Request(url, data=json.dumps(body).encode() if body is not None else None)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=120) as r:
        return json.loads(r.read())


def start_node(
    tmp: Path, sip_port: int, http_port: int, extra_env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """``sharpeyes serve`` on loopback with SQLite in ``tmp``; returns once /api/health answers."""
    env = dict(
        os.environ,
        SHARPEYES_SIP__HOST="127.0.0.1",
        SHARPEYES_SIP__PORT=str(sip_port),
        SHARPEYES_HTTP__PORT=str(http_port),
        SHARPEYES_DB__URL=f"sqlite+aiosqlite:///{tmp / 'bench.db'}",
        SHARPEYES_AUTH__ADMIN_PASSWORD=ADMIN,
        SHARPEYES_SIP__KEEPALIVE_INTERVAL="600",
        SHARPEYES_LOG_LEVEL="warning",
        **(extra_env or {}),
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "sharpeyes.cli", "serve"], env=env, stdout=subprocess.DEVNULL
    )
    for _ in range(300):
        try:
            http(f"http://127.0.0.1:{http_port}/api/health")
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("node did not start")
