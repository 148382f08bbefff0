"""``sharpeyes serve --media-workers N``: N local ``sharpeyes media`` processes, each with
its own slice of ``media.port_range`` and viewer port, all on the configured NATS."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from urllib.parse import urlsplit

from sharpeyes.config import Settings


class NatsMissing(RuntimeError):
    """NATS is not reachable; the message says whether nats-server is even installed."""


def check_nats(url: str) -> None:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 4222
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError as e:
        hint = (
            "nats-server is not on PATH: install it (Debian: apt-get install nats-server) "
            "and start it"
            if shutil.which("nats-server") is None
            else f"start it: nats-server -a {host} -p {port}"
        )
        raise NatsMissing(f"media workers need NATS at {url}, which does not answer; {hint}") from e


def split_ports(lo: int, hi: int, n: int) -> list[tuple[int, int]]:
    """``[lo, hi]`` cut into n contiguous, non-overlapping ranges (at least 2 ports each)."""
    size = (hi - lo + 1) // n
    if n < 1 or size < 2:
        raise ValueError(f"media.port_range {lo}-{hi} is too small for {n} media workers")
    return [(lo + i * size, lo + (i + 1) * size - 1) for i in range(n)]


def spawn_workers(settings: Settings, n: int) -> list[subprocess.Popen[bytes]]:
    check_nats(settings.nats.url)
    ranges = split_ports(*settings.media.port_range, n)
    procs = []
    host = settings.media.advertised_host or settings.media.host
    for i, (lo, hi) in enumerate(ranges, 1):
        env = dict(
            os.environ,
            SHARPEYES_NATS__URL=settings.nats.url,
            SHARPEYES_MEDIA_NODE__ID=f"local-{i}",
            SHARPEYES_MEDIA_NODE__ADVERTISED_HOST=host,
            SHARPEYES_MEDIA_NODE__PORT_RANGE=f"[{lo}, {hi}]",
            SHARPEYES_MEDIA_NODE__HTTP_PORT=str(settings.http.port + i),
        )
        procs.append(subprocess.Popen([sys.executable, "-m", "sharpeyes.cli", "media"], env=env))
    return procs
