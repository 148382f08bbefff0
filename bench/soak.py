"""Soak and restart benchmarks (report, don't gate; issue 15, "Soak and restart").

``--mode soak``: a node process, ``--devices`` simulated devices keeping alive and
``--streams`` of them sending H.264 to one WebSocket viewer each, for ``--minutes``;
every ``--sample-s`` the node's RSS, open file descriptors, threads, asyncio tasks
and loop lag (p99 over the last minute, from ``/metrics``) are printed as JSON lines.
The aim is flat after warm-up.

``--mode restart``: ``--devices`` devices register and keep alive (every
``--keepalive-s``), then the node is stopped (SIGTERM) and started again on the same
database. Reported: downtime, the most devices the node shows offline during
``--watch-s`` after it is back, how many REGISTERs the devices sent because of the
restart (a storm would be ~all of them) and keepalives that failed.

    .venv/bin/python bench/soak.py --mode soak --devices 1000 --streams 50 --minutes 60
    .venv/bin/python bench/soak.py --mode restart --devices 10000 --keepalive-s 20
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import re
import signal
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import psutil

import media
import nodeproc
from nodeproc import DOMAIN, PASSWORD, SERVER_ID, free_port

TOKEN = "soak-metrics-token"
ENV = {**media.MEDIA_ENV, "SHARPEYES_OPS__METRICS_TOKEN": TOKEN}


def scrape(http_port: int) -> dict[str, float]:
    req = urllib.request.Request(f"http://127.0.0.1:{http_port}/metrics")
    req.add_header("Authorization", f"Bearer {TOKEN}")
    with urllib.request.urlopen(req, timeout=60) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        m = re.match(r"^([a-z_]+(?:\{[^}]*\})?) ([0-9.e+-]+)$", line)
        if m:
            out[m.group(1)] = float(m.group(2))
    return out


async def run_devices(
    first: int, count: int, sip_port: int, keepalive_s: float, out: mp.Queue
) -> None:
    from sharpeyes.sim.device import SimChannel, SimDeviceConfig
    from sharpeyes.sim.fleet import SimFleet

    fleet = SimFleet(
        server=("127.0.0.1", sip_port), server_id=SERVER_ID, domain=DOMAIN, retry_interval=10
    )
    for n in range(first, first + count):
        did = f"{DOMAIN}1328{n:06d}"
        ch = SimChannel(f"{DOMAIN}1318{n:06d}", f"soak {n}", "34020000", 117.1, 31.6)
        fleet.add(
            SimDeviceConfig(
                device_id=did, password=PASSWORD, channels=[ch], keepalive_interval=keepalive_s
            )
        )
    await fleet.start()
    statuses = await fleet.register_all(concurrency=200)
    fleet.start_keepalives()
    out.put({"phase": "registered", "ok": statuses.get(200, 0)})
    s = fleet.stats
    while True:
        await asyncio.sleep(1)
        out.put(
            {
                "phase": "stats",
                "registrations_ok": s.registrations_ok,
                "registrations_failed": s.registrations_failed,
                "keepalive_ok": s.keepalive_ok,
                "keepalive_failed": s.keepalive_failed,
            }
        )


def device_worker(first: int, count: int, sip_port: int, ka: float, out: mp.Queue) -> None:
    import uvloop

    uvloop.run(run_devices(first, count, sip_port, ka, out))


def node_sample(proc: psutil.Process, http_port: int) -> dict[str, Any]:
    m = scrape(http_port)
    return {
        "t": round(time.time()),
        "rss_mb": round(proc.memory_info().rss / 2**20, 1),
        "fds": proc.num_fds(),
        "threads": proc.num_threads(),
        "tasks": m.get("sharpeyes_asyncio_tasks"),
        "loop_lag_p99_ms": round(1000 * m.get('sharpeyes_loop_lag_seconds{quantile="0.99"}', 0), 1),
        "devices_online": m.get('sharpeyes_devices{state="online"}'),
        "streams": m.get("sharpeyes_streams"),
    }


def soak(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="soak-"))
    sip, http_port = free_port(), free_port()
    node = nodeproc.start_node(tmp, sip, http_port, ENV)
    q: mp.Queue = mp.Queue()
    kids = [mp.Process(target=device_worker, args=(0, args.devices, sip, 60.0, q), daemon=True)]
    counters = mp.Array("q", 3)
    kids.append(
        mp.Process(
            target=media.camera_worker,
            args=(list(range(1, args.streams + 1)), sip, args, q, counters),
            daemon=True,
        )
    )
    for k in kids:
        k.start()
    try:
        for _ in kids:
            print(json.dumps(q.get(timeout=600)), flush=True)
        token = media.login(http_port)
        found = media.channel_pks(http_port, token, args.devices + args.streams)
        cams = [pk for cid, pk in found.items() if cid[10:14] == "1317"]
        vc = mp.Array("q", 3)
        viewer = mp.Process(
            target=media.viewer_worker, args=(cams[: args.streams], http_port, token, q, vc)
        )
        viewer.daemon = True
        viewer.start()
        kids.append(viewer)
        proc = psutil.Process(node.pid)
        end = time.time() + args.minutes * 60
        while time.time() < end:
            s = node_sample(proc, http_port)
            s["viewer_frames"] = vc[0]
            print(json.dumps(s), flush=True)
            time.sleep(args.sample_s)
    finally:
        for k in kids:
            k.terminate()
        node.terminate()
        node.wait(30)


def restart(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="restart-"))
    sip, http_port = free_port(), free_port()
    node = nodeproc.start_node(tmp, sip, http_port, ENV)
    q: mp.Queue = mp.Queue()
    per = -(-args.devices // args.procs)
    kids = [
        mp.Process(
            target=device_worker,
            args=(i * per, min(per, args.devices - i * per), sip, args.keepalive_s, q),
            daemon=True,
        )
        for i in range(args.procs)
    ]
    t0 = time.time()
    for k in kids:
        k.start()
    registered = 0
    while registered < len(kids):
        msg = q.get(timeout=1200)
        if msg["phase"] == "registered":
            registered += 1
            print(json.dumps(msg), flush=True)
    print(json.dumps({"phase": "all registered", "seconds": round(time.time() - t0, 1)}))

    # each worker reports its totals once a second: the last report of each is the sum
    def drain(seconds: float) -> dict[str, int]:
        per_worker: list[dict[str, Any]] = []
        deadline = time.time() + seconds
        while time.time() < deadline:
            try:
                msg = q.get(timeout=0.5)
            except Exception:
                continue
            if msg["phase"] == "stats":
                per_worker.append(msg)
        last = per_worker[-len(kids) :]
        return {k: sum(int(m[k]) for m in last) for k in last[0] if k != "phase"}

    time.sleep(args.keepalive_s)
    before = drain(2.5)
    online0 = scrape(http_port).get('sharpeyes_devices{state="online"}')
    t_stop = time.time()
    node.send_signal(signal.SIGTERM)
    node.wait(60)
    node = nodeproc.start_node(tmp, sip, http_port, ENV)
    down = time.time() - t_stop
    worst_offline = 0.0
    min_online = float("inf")
    end = time.time() + args.watch_s
    while time.time() < end:
        m = scrape(http_port)
        worst_offline = max(worst_offline, m.get('sharpeyes_devices{state="offline"}', 0))
        min_online = min(min_online, m.get('sharpeyes_devices{state="online"}', 0))
        time.sleep(1)
    after = drain(2.5)
    result = {
        "devices": args.devices,
        "online_before": online0,
        "downtime_s": round(down, 1),
        "watch_s": args.watch_s,
        "min_online_after": min_online,
        "max_offline_after": worst_offline,
        "reregistrations": after["registrations_ok"] - before["registrations_ok"],
        "register_failed": after["registrations_failed"] - before["registrations_failed"],
        "keepalive_ok": after["keepalive_ok"] - before["keepalive_ok"],
        "keepalive_failed": after["keepalive_failed"] - before["keepalive_failed"],
    }
    print(json.dumps(result), flush=True)
    for k in kids:
        k.terminate()
    node.terminate()
    node.wait(30)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--mode", choices=["soak", "restart"], default="soak")
    ap.add_argument("--devices", type=int, default=1000)
    ap.add_argument("--streams", type=int, default=50)
    ap.add_argument("--minutes", type=float, default=60)
    ap.add_argument("--sample-s", type=float, default=30)
    ap.add_argument("--keepalive-s", type=float, default=20)
    ap.add_argument("--watch-s", type=float, default=60)
    ap.add_argument("--procs", type=int, default=2)
    ap.add_argument("--bitrate", type=int, default=2_000_000)
    ap.add_argument("--resolution", default="720p")
    ap.add_argument("--patterns", type=int, default=1)
    args = ap.parse_args()
    soak(args) if args.mode == "soak" else restart(args)


if __name__ == "__main__":
    main()
