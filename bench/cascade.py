"""Cascade benchmark: a simulated upper (``SimUpper``) pulls N channels at once from a
node, and a 10,000-channel catalog is delivered to it.

The node runs as its own process (``sharpeyes serve``, SQLite in a temp folder), the
cameras in ``--senders`` processes (simulated devices, ~2 Mbps H.264 PS/RTP over
UDP, as in bench/media.py), the upper in one more process. The node is linked up to
the upper over its API (every channel shared), then the upper INVITEs N channels
(UDP media). Over a ``--duration`` window after warm-up it reports node CPU (per
forwarded stream: device ingest + PS remux + RTP out), RTP loss seen by the upper
(sequence gaps) and access units whose last (marker) packet reached the upper
against frames the cameras sent and the node forwarded. A frame's last packet is
often small, so it can arrive when full-size packets before it were dropped: read
the RTP loss column for loss, the marker count only as "frames not skipped".

    .venv/bin/python bench/cascade.py --streams 50 100 200 --duration 10
    .venv/bin/python bench/cascade.py --streams --catalog 10000   # catalog only

Catalog: ``--catalog`` channels on ``--catalog-devices`` simulated devices; the
upper's Catalog query is timed until SumNum items arrived (Appendix N: one MESSAGE
of ``--group`` items after the previous one's 200).
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
from typing import Any

import psutil

import media
from media import FPS, ids, login
from nodeproc import DOMAIN, PASSWORD, SERVER_ID, free_port, http

UPPER_ID, UPPER_DOMAIN, UPPER_PASSWORD = "34150000002000000001", "3415000000", "bench-city"


async def pull_all(
    upper: Any, lower: str, channel_ids: list[str], seconds: float, counters: Any
) -> dict[str, Any]:
    """INVITE every channel (20 ms apart), keep them all ``seconds``, publish counters."""
    from sharpeyes.sim.upper import PlayResult

    results = [PlayResult() for _ in channel_ids]
    errors: list[str] = []

    async def one(cid: str, r: PlayResult) -> None:
        try:
            await upper.play(lower, cid, seconds=seconds, min_frames=10**9, result=r)
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}"[:160])

    async def publish() -> None:
        while True:
            counters[0] = sum(r.packets for r in results)
            counters[1] = sum(r.markers for r in results)
            counters[2] = sum(r.lost for r in results)
            counters[3] = sum(1 for r in results if r.frames > 0)
            await asyncio.sleep(0.1)

    pub = asyncio.create_task(publish())
    tasks = []
    for cid, r in zip(channel_ids, results, strict=True):
        tasks.append(asyncio.create_task(one(cid, r)))
        await asyncio.sleep(0.02)
    await asyncio.gather(*tasks)
    pub.cancel()
    return {"done": True, "errors": errors[:5], "failed": len(errors)}


def upper_worker(cmd: mp.Queue, out: mp.Queue, counters: Any) -> None:
    """The upper platform: serve, then on ("play", ids, seconds) pull them all at once,
    on ("catalog",) time one Catalog query; counters: packets, frames, lost, streams up."""
    import uvloop

    async def run() -> None:
        from sharpeyes.sim.upper import SimUpper

        upper = SimUpper(server_id=UPPER_ID, domain=UPPER_DOMAIN, password=UPPER_PASSWORD)
        await upper.start()
        out.put({"port": upper.port})
        loop = asyncio.get_running_loop()
        while True:
            msg = await loop.run_in_executor(None, cmd.get)
            lower = SERVER_ID
            for _ in range(200):
                if lower in upper.lowers:
                    break
                await asyncio.sleep(0.1)
            if msg[0] == "catalog":
                t0 = time.perf_counter()
                items = await upper.query_catalog(lower, timeout=600)
                out.put({"catalog_s": time.perf_counter() - t0, "items": len(items)})
            elif msg[0] == "play":
                out.put(await pull_all(upper, lower, msg[1], msg[2], counters))

    uvloop.run(run())


class CascadeRig(media.Rig):
    """bench/media.py's node + cameras, plus the upper process and the link to it."""

    def __init__(self, count: int, args: argparse.Namespace) -> None:
        super().__init__(count, args)
        self.cmd: mp.Queue = mp.Queue()
        self.uq: mp.Queue = mp.Queue()
        self.up_counters = mp.RawArray("d", 4)
        self.upper = mp.Process(target=upper_worker, args=(self.cmd, self.uq, self.up_counters))
        self.upper.start()
        self.workers.append(self.upper)
        port = self.uq.get(timeout=60)["port"]
        self.link_up(port, args.group)

    def link_up(self, port: int, group: int) -> None:
        base = f"http://127.0.0.1:{self.http_port}/api/cascade/uppers"
        body = {
            "name": "bench city",
            "server_id": UPPER_ID,
            "domain": UPPER_DOMAIN,
            "host": "127.0.0.1",
            "port": port,
            "password": UPPER_PASSWORD,
            "catalog_group_size": group,
            "enabled": False,
        }
        uid = http(base, self.token, body)["id"]
        req_put(f"{base}/{uid}/channels", self.token, {"all": True})
        req_put(f"{base}/{uid}", self.token, {"enabled": True}, method="PATCH")
        for _ in range(300):
            if http(f"{base}/{uid}", self.token)["state"] == "registered":
                return
            time.sleep(0.1)
        raise SystemExit("link to the upper did not register")

    def sample(self) -> dict[str, Any]:
        cpu = self.node.cpu_times()
        machine = psutil.cpu_times()
        return {
            "t": time.perf_counter(),
            "cpu": cpu.user + cpu.system,
            "upper_cpu": sum(psutil.Process(self.upper.pid).cpu_times()[:2]),
            "machine_busy": machine.user + machine.system + machine.nice + machine.softirq,
            "rss": self.node.memory_info().rss,
            "packets": self.up_counters[0],
            "frames": self.up_counters[1],
            "lost": self.up_counters[2],
            "up": self.up_counters[3],
            "frames_sent": sum(c[1] for c in self.cam_counters),
            **forwards(self.http_port, self.token),
        }


def forwards(http_port: int, token: str) -> dict[str, int]:
    """The node's own count of what it forwards now (forwards running, frames sent)."""
    items = http(f"http://127.0.0.1:{http_port}/api/cascade/forwards", token)["items"]
    return {"forwards": len(items), "frames_forwarded": sum(f["frames"] for f in items)}


def req_put(url: str, token: str, body: dict[str, Any], method: str = "PUT") -> Any:
    import urllib.request

    req = urllib.request.Request(url, data=json.dumps(body).encode(), method=method)
    req.add_header("Content-Type", "application/json")
    req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=120) as r:
        return json.loads(r.read())


def bench_streams(n: int, args: argparse.Namespace) -> dict[str, Any]:
    rig = CascadeRig(n, args)
    try:
        channel_ids = [ids(i)[1] for i in range(1, n + 1)]
        ramp = n * 0.02
        t0 = time.perf_counter()
        rig.cmd.put(("play", channel_ids, ramp + args.warmup + args.duration + 5))
        while rig.up_counters[3] < n and time.perf_counter() - t0 < ramp + 60:
            time.sleep(0.2)
        setup_s = time.perf_counter() - t0
        time.sleep(args.warmup)
        a = rig.sample()
        time.sleep(args.duration)
        b = rig.sample()
        done = rig.uq.get(timeout=ramp + args.warmup + args.duration + 120)
        dt = b["t"] - a["t"]
        packets, lost = b["packets"] - a["packets"], b["lost"] - a["lost"]
        frames, sent = b["frames"] - a["frames"], b["frames_sent"] - a["frames_sent"]
        forwarded = b["frames_forwarded"] - a["frames_forwarded"]
        node_pct = 100 * (b["cpu"] - a["cpu"]) / dt
        return {
            "streams": n,
            "streams_up": int(b["up"]),
            "node_forwards": b["forwards"],
            "play_failed": done["failed"],
            "play_errors": done["errors"],
            "setup_s": round(setup_s, 1),
            "node_cpu_pct": round(node_pct, 1),
            "node_cpu_pct_per_stream": round(node_pct / max(1, n), 3),
            "upper_cpu_pct": round(100 * (b["upper_cpu"] - a["upper_cpu"]) / dt, 1),
            "machine_busy_pct": round(100 * (b["machine_busy"] - a["machine_busy"]) / dt, 1),
            "node_rss_mb": round(b["rss"] / 2**20),
            "rtp_pkts_per_s_to_upper": round(packets / dt),
            "loss_pct": round(100 * lost / max(1, packets + lost), 4),
            "lost": int(lost),
            "frames_sent": int(sent),
            "frames_forwarded": int(forwarded),
            "frames_at_upper": int(frames),
            "delivered_pct": round(100 * frames / max(1, sent), 2),
        }
    finally:
        rig.close()


def bench_catalog(total: int, devices: int, args: argparse.Namespace) -> dict[str, Any]:
    """``total`` channels on ``devices`` devices (no media); seconds to deliver to the upper."""
    from sharpeyes.sim.device import SimChannel, SimDeviceConfig
    from sharpeyes.sim.fleet import SimFleet

    tmp = tempfile.TemporaryDirectory()
    sip_port, http_port = free_port(), free_port()
    proc = media.start_node(Path(tmp.name), sip_port, http_port)
    node = psutil.Process(proc.pid)
    cmd: mp.Queue = mp.Queue()
    uq: mp.Queue = mp.Queue()
    counters = mp.RawArray("d", 4)
    upper = mp.Process(target=upper_worker, args=(cmd, uq, counters))
    upper.start()
    per = total // devices

    async def register() -> None:
        fleet = SimFleet(server=("127.0.0.1", sip_port), server_id=SERVER_ID, domain=DOMAIN)
        for d in range(1, devices + 1):
            chans = [
                SimChannel(f"{DOMAIN}131{d:02d}{c:05d}", f"cat {d}-{c}", "34020000", 117.1, 31.6)
                for c in range(per)
            ]
            fleet.add(
                SimDeviceConfig(
                    device_id=f"{DOMAIN}118{d:07d}",
                    password=PASSWORD,
                    channels=chans,
                    keepalive_interval=600,
                )
            )
        await fleet.start()
        await fleet.register_all()
        token = login(http_port)
        for _ in range(1200):  # the devices answer the node's paced Catalog queries
            url = f"http://127.0.0.1:{http_port}/api/channels?limit=1"
            if (await asyncio.to_thread(http, url, token))["total"] >= total:
                break
            await asyncio.sleep(0.5)
        await fleet.stop()  # the node keeps the catalog rows

    try:
        t0 = time.perf_counter()
        asyncio.run(register())
        ingest_s = time.perf_counter() - t0
        token = login(http_port)
        n = http(f"http://127.0.0.1:{http_port}/api/channels?limit=1", token)["total"]
        rig = argparse.Namespace(http_port=http_port, token=token)
        port = uq.get(timeout=60)["port"]
        CascadeRig.link_up(rig, port, args.group)  # type: ignore[arg-type]
        c0 = sum(node.cpu_times()[:2])
        cmd.put(("catalog",))
        got = uq.get(timeout=900)
        return {
            "catalog_channels": total,
            "known_to_node": n,
            "node_ingest_s": round(ingest_s, 1),
            "group_size": args.group,
            "items_delivered": got["items"],
            "seconds": round(got["catalog_s"], 2),
            "messages": -(-got["items"] // args.group),
            "node_cpu_s": round(sum(node.cpu_times()[:2]) - c0, 2),
        }
    finally:
        upper.terminate()
        upper.join(10)
        proc.terminate()
        proc.wait(30)
        tmp.cleanup()


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--streams", type=int, nargs="*", default=[50, 100, 200])
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--warmup", type=float, default=3.0)
    ap.add_argument("--senders", type=int, default=2, help="camera processes")
    ap.add_argument("--resolution", choices=["720p", "1080p"], default="720p")
    ap.add_argument("--bitrate", type=int, default=2_800_000, help="x264 target (→ ~2 Mbps)")
    ap.add_argument("--patterns", type=int, default=4, help="distinct clips encoded")
    ap.add_argument("--catalog", type=int, default=10_000, help="channels (0: skip)")
    ap.add_argument("--catalog-devices", type=int, default=10)
    ap.add_argument("--group", type=int, default=10, help="catalog_group_size of the link")
    args = ap.parse_args()
    print(
        f"# machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"load {os.getloadavg()[0]:.1f}, Python {platform.python_version()}, {FPS} fps",
        flush=True,
    )
    rows = []
    for n in args.streams:
        rows.append(bench_streams(n, args))
        print(json.dumps(rows[-1]), flush=True)
    if args.catalog:
        print(json.dumps(bench_catalog(args.catalog, args.catalog_devices, args)), flush=True)
    if rows:
        print("\n| streams | up | node CPU % | CPU %/stream | RTP loss % | frame ends at upper |")
        print("|---|---|---|---|---|---|")
        for r in rows:
            print(
                f"| {r['streams']} | {r['streams_up']} | {r['node_cpu_pct']} | "
                f"{r['node_cpu_pct_per_stream']} | {r['loss_pct']} | "
                f"{r['frames_at_upper']}/{r['frames_sent']} ({r['delivered_pct']} %) |"
            )


if __name__ == "__main__":
    main()
