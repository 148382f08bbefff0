"""Signalling benchmark: K simulated devices register to a node, then keep alive fast.

The node runs as its own process (``sharpeyes serve``, uvloop, SQLite in a temp
folder); the simulated devices run in this process (optionally several worker
processes with --procs) so the two do not share an event loop. Reports, per K:
registrations/s, the sustained keepalive rate, keepalive round-trip latency seen
by the devices, the node's own handling latency (receive → 200 sent), and the
node's CPU and RSS.

    .venv/bin/python bench/signalling.py --devices 1000 10000 --rate 1000 --duration 30
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import platform
import tempfile
import time
from pathlib import Path

import psutil

from nodeproc import ADMIN, DOMAIN, PASSWORD, SERVER_ID, free_port, http, start_node


def device_ids(start: int, count: int) -> list[str]:
    return [f"3402000000132{7:01d}{n:06d}" for n in range(start, start + count)]


async def run_fleet(
    ids: list[str], sip_port: int, interval: float, duration: float, out: mp.Queue
) -> None:
    from sharpeyes.sim.device import SimChannel, SimDeviceConfig
    from sharpeyes.sim.fleet import SimFleet

    fleet = SimFleet(server=("127.0.0.1", sip_port), server_id=SERVER_ID, domain=DOMAIN)
    for did in ids:
        ch = SimChannel(
            channel_id=did[:10] + "131" + did[13:],
            name=f"bench {did[-6:]}",
            civil_code="34020000",
            longitude=117.123451,
            latitude=31.654321,
        )
        fleet.add(
            SimDeviceConfig(
                device_id=did, password=PASSWORD, channels=[ch], keepalive_interval=interval
            )
        )
    await fleet.start()
    t0 = time.perf_counter()
    statuses = await fleet.register_all(concurrency=200)
    reg_s = time.perf_counter() - t0
    out.put({"phase": "registered", "ok": statuses.get(200, 0), "seconds": reg_s})
    await asyncio.sleep(2)  # let catalog/DeviceInfo queries after registration settle
    fleet.stats.keepalive_latency = type(fleet.stats.keepalive_latency)()
    sent0, ok0 = fleet.stats.keepalive_sent, fleet.stats.keepalive_ok
    fleet.start_keepalives()
    t1 = time.perf_counter()
    await asyncio.sleep(duration)
    elapsed = time.perf_counter() - t1
    s = fleet.stats
    out.put(
        {
            "phase": "keepalive",
            "sent": s.keepalive_sent - sent0,
            "ok": s.keepalive_ok - ok0,
            "failed": s.keepalive_failed,
            "seconds": elapsed,
            "p50": s.keepalive_latency.percentile(50),
            "p99": s.keepalive_latency.percentile(99),
        }
    )
    await fleet.stop(unregister=False)


def fleet_worker(
    ids: list[str], sip_port: int, interval: float, duration: float, out: mp.Queue
) -> None:
    try:
        import uvloop

        uvloop.run(run_fleet(ids, sip_port, interval, duration, out))
    except ImportError:
        asyncio.run(run_fleet(ids, sip_port, interval, duration, out))


def bench_once(
    k: int,
    rate: float,
    duration: float,
    procs: int,
    offset: int,
    sip_port: int,
    http_port: int,
    node: psutil.Process,
) -> dict:
    interval = k / rate
    ids = device_ids(offset, k)
    chunks = [ids[i::procs] for i in range(procs)]
    q: mp.Queue = mp.Queue()
    workers = [
        mp.Process(target=fleet_worker, args=(c, sip_port, interval, duration, q)) for c in chunks
    ]
    for w in workers:
        w.start()
    reg = [q.get(timeout=900) for _ in workers]
    node.cpu_percent(None)
    cpu_t0 = sum(node.cpu_times()[:2])
    wall0 = time.perf_counter()
    ka = [q.get(timeout=duration + 600) for _ in workers]
    cpu = (sum(node.cpu_times()[:2]) - cpu_t0) / (time.perf_counter() - wall0)
    rss = node.memory_info().rss
    token = http(
        f"http://127.0.0.1:{http_port}/api/auth/login",
        body={"username": "admin", "password": ADMIN},
    )["access_token"]
    stats = http(f"http://127.0.0.1:{http_port}/api/stats", token)
    for w in workers:
        w.join(60)
    reg_ok = sum(r["ok"] for r in reg)
    reg_s = max(r["seconds"] for r in reg)
    sent = sum(r["sent"] for r in ka)
    ok = sum(r["ok"] for r in ka)
    secs = max(r["seconds"] for r in ka)
    return {
        "devices": k,
        "registered": reg_ok,
        "reg_per_s": reg_ok / reg_s,
        "keepalive_target_per_s": rate,
        "keepalive_ok_per_s": ok / secs,
        "keepalive_lost": sent - ok,
        "rtt_p50_ms": 1000 * max(r["p50"] or 0 for r in ka),
        "rtt_p99_ms": 1000 * max(r["p99"] or 0 for r in ka),
        "node_p50_ms": stats["sip_latency"]["p50_ms"],
        "node_p99_ms": stats["sip_latency"]["p99_ms"],
        "node_cpu_pct": 100 * cpu,
        "loop_lag_p99_ms": stats["loop_lag"]["p99_ms"],
        "loop_lag_max_ms": stats["loop_lag"]["max_ms"],
        "node_rss_mb": rss / 2**20,
        "online": stats["devices_online"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--devices", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument(
        "--rate", type=float, default=1000.0, help="total keepalives per second (accelerated)"
    )
    ap.add_argument("--duration", type=float, default=30.0)
    ap.add_argument("--procs", type=int, default=1, help="simulator processes")
    args = ap.parse_args()

    print(
        f"# machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB, Python {platform.python_version()}"
    )
    rows = []
    offset = 0
    for k in args.devices:
        with tempfile.TemporaryDirectory() as tmp:
            sip_port, http_port = free_port(), free_port()
            proc = start_node(Path(tmp), sip_port, http_port)
            node = psutil.Process(proc.pid)
            try:
                rows.append(
                    bench_once(
                        k, args.rate, args.duration, args.procs, offset, sip_port, http_port, node
                    )
                )
            finally:
                proc.terminate()
                proc.wait(30)
        offset += k
        print(json.dumps(rows[-1]), flush=True)

    print()
    print(
        "| devices | registered | reg/s | keepalive/s (target) | lost | RTT p50/p99 ms "
        "| node p50/p99 ms | node CPU % | node RSS MB | RSS per 1k MB |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        cells = [
            r["devices"],
            r["registered"],
            f"{r['reg_per_s']:.0f}",
            f"{r['keepalive_ok_per_s']:.0f} ({r['keepalive_target_per_s']:.0f})",
            r["keepalive_lost"],
            f"{r['rtt_p50_ms']:.1f} / {r['rtt_p99_ms']:.1f}",
            f"{r['node_p50_ms']:.2f} / {r['node_p99_ms']:.2f}",
            f"{r['node_cpu_pct']:.0f}",
            f"{r['node_rss_mb']:.0f}",
            f"{r['node_rss_mb'] / r['devices'] * 1000:.1f}",
        ]
        print("| " + " | ".join(str(c) for c in cells) + " |")


if __name__ == "__main__":
    main()
