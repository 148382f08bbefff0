"""Proxy benchmark: N RTSP pulls at once from a local RTSP server — CPU per pull, first frame.

A node runs as its own process (``sharpeyes serve``, SQLite in a temp folder); a
GStreamer RTSP server (tests/rtsp/gst_rtsp_server.py on Debian's python3, one
shared 25 fps H.264 pipeline, 640x360 by default) serves every pull. For each N the
script adds N always-on proxies at once over the API and reports:

- first frame: from the POST's answer to the proxy's ``state`` turning ``streaming`` (the
  first usable keyframe in the live hub; includes RTSP connect/DESCRIBE/SETUP/PLAY
  and waiting for the next keyframe of a 1 s GOP), median / p95 / max;
- node CPU per pull (percent of one core) and RSS over ``--duration`` seconds once
  all pulls stream, and the node's event-loop lag (``/api/health``, when reported).

    .venv/bin/python bench/proxies.py --pulls 20 50 100 --duration 15 [--transport udp]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

import nodeproc
from nodeproc import ADMIN, free_port, http

ROOT = Path(__file__).resolve().parents[1]
SERVER = ROOT / "tests" / "rtsp" / "gst_rtsp_server.py"


def login(http_port: int) -> str:
    r = http(
        f"http://127.0.0.1:{http_port}/api/auth/login",
        body={"username": "admin", "password": ADMIN},
    )
    return str(r["access_token"])


def start_rtsp(size: str) -> tuple[subprocess.Popen[bytes], int]:
    proc = subprocess.Popen(
        ["/usr/bin/python3", str(SERVER), "--port", "0", "--size", size, "--no-audio"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().decode()
    if not line.startswith("READY "):
        raise SystemExit(f"RTSP server did not start: {line!r}")
    return proc, int(line.split()[1])


def run(n: int, args: argparse.Namespace, rtsp_port: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        http_port = free_port()
        node = nodeproc.start_node(
            Path(tmp),
            free_port(),
            http_port,
            {
                "SHARPEYES_MEDIA__MAX_SESSIONS": "3000",
                "SHARPEYES_MEDIA__MAX_LOOP_LAG_MS": "5000",
                # one local test server answers every SETUP in turn: give it time
                "SHARPEYES_PROXIES__OPEN_TIMEOUT_S": str(args.open_timeout),
                "SHARPEYES_PROXIES__READ_TIMEOUT_S": "15",
                "SHARPEYES_PROXIES__NO_FRAMES_TIMEOUT_S": "20",
            },
        )
        try:
            base = f"http://127.0.0.1:{http_port}"
            token = login(http_port)
            url = f"rtsp://127.0.0.1:{rtsp_port}/cam"
            started: dict[int, float] = {}
            posts: list[float] = []
            for i in range(n):
                body = {"name": f"bench-{i}", "url": url, "transport": args.transport,
                        "on_demand": False}  # fmt: skip
                t0 = time.monotonic()
                p = http(f"{base}/api/proxies", token, body)
                started[p["id"]] = time.monotonic()
                posts.append(time.monotonic() - t0)
            first: dict[int, float] = {}
            deadline = time.monotonic() + 60 + n * 0.2
            while len(first) < n and time.monotonic() < deadline:
                now = time.monotonic()
                for p in http(f"{base}/api/proxies", token)["items"]:
                    if p["id"] not in first and p["state"] == "streaming":
                        first[p["id"]] = now - started[p["id"]]
                time.sleep(0.05)
            proc = psutil.Process(node.pid)
            proc.cpu_percent(None)
            time.sleep(args.duration)
            cpu = proc.cpu_percent(None)
            rss = proc.memory_info().rss / 2**20
            streams = http(f"{base}/api/streams", token)["items"]
            failed = sum(1 for p in http(f"{base}/api/proxies", token)["items"] if p["failures"])
            fps = [s["fps"] for s in streams]
            lat = sorted(first.values())
            return {
                "pulls": n,
                "streaming": len(first),
                "first_frame_ms": {
                    "median": round(statistics.median(lat) * 1000) if lat else None,
                    "p95": round(lat[int(len(lat) * 0.95) - 1 if len(lat) > 1 else 0] * 1000)
                    if lat
                    else None,
                    "max": round(lat[-1] * 1000) if lat else None,
                },
                "add_ms_median": round(statistics.median(posts) * 1000),
                "node_cpu_pct": round(cpu, 1),
                "cpu_pct_per_pull": round(cpu / n, 2),
                "node_rss_mib": round(rss),
                "fps_median": statistics.median(fps) if fps else None,
                "proxies_with_failures": failed,
            }
        finally:
            node.terminate()
            node.wait(15)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--pulls", type=int, nargs="+", default=[20, 50, 100])
    ap.add_argument("--duration", type=float, default=15.0)
    ap.add_argument("--transport", choices=["tcp", "udp"], default="tcp")
    ap.add_argument("--size", default="640x360")
    ap.add_argument("--open-timeout", type=float, default=30.0)
    args = ap.parse_args()
    for n in args.pulls:
        # a fresh server per N: the abrupt end of the last round's pulls must not count
        server, port = start_rtsp(args.size)
        try:
            print(json.dumps(run(n, args, port), ensure_ascii=False), flush=True)
        finally:
            server.terminate()
            server.wait(10)


if __name__ == "__main__":
    main()
