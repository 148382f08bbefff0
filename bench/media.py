"""Media benchmark: N simulated cameras (~2 Mbps H.264, 25 fps) each with one WebSocket viewer.

The node runs as its own process (``sharpeyes serve``, uvloop, SQLite in a temp
folder). Cameras run in ``--senders`` processes (simulated devices: SIP + PS/RTP over
UDP), viewers in ``--viewers`` processes (play over HTTP, then fMP4 over WebSocket,
counting frames from each fragment's ``trun``). For each N the script reports, over a
``--duration`` window after warm-up: node CPU and RSS, RTP loss seen by the node,
frames delivered to viewers against frames sent, and how late the senders ran.

    .venv/bin/python bench/media.py --streams 50 100 200 300 --duration 20
    .venv/bin/python bench/media.py --latency 30 --latency-load 100   # play → first frame

Time to first frame: from the play request to the first frame decoded by PyAV from
what the WebSocket delivered (init segment + first fragment), for cold streams (no
session: INVITE, first keyframe) and warm ones (session running, GOP cache).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import multiprocessing as mp
import os
import platform
import statistics
import struct
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

import nodeproc
from nodeproc import ADMIN, DOMAIN, PASSWORD, SERVER_ID, free_port, http

FPS = 25
FLOORS = ("uvloop", "batched")

MEDIA_ENV = {
    "SHARPEYES_MEDIA__PORT_RANGE": "[20000, 22999]",
    "SHARPEYES_MEDIA__MAX_SESSIONS": "3000",
    "SHARPEYES_MEDIA__MAX_LOOP_LAG_MS": "5000",
    "SHARPEYES_MEDIA__IDLE_GRACE_S": "120",
    "SHARPEYES_MEDIA__NO_RTP_TIMEOUT_S": "20",
    "SHARPEYES_MEDIA__INVITE_TIMEOUT_S": "20",
}


def start_node(tmp: Path, sip_port: int, http_port: int) -> subprocess.Popen[bytes]:
    return nodeproc.start_node(tmp, sip_port, http_port, MEDIA_ENV)


def ids(n: int) -> tuple[str, str]:
    return f"{DOMAIN}1327{n:06d}", f"{DOMAIN}1317{n:06d}"


# --- camera processes ---------------------------------------------------------------


def media_config(args: argparse.Namespace) -> Any:
    from sharpeyes.sim.media import SimMediaConfig

    w, h = (1920, 1080) if args.resolution == "1080p" else (1280, 720)
    return SimMediaConfig(
        width=w,
        height=h,
        fps=FPS,
        gop=50,
        bitrate=args.bitrate,
        frames=100,
        patterns=args.patterns,
    )


async def run_cameras(
    numbers: list[int], sip_port: int, args: argparse.Namespace, out: mp.Queue, counters: Any
) -> None:
    from sharpeyes.sim.device import SimChannel, SimDeviceConfig
    from sharpeyes.sim.fleet import SimFleet

    cfg = media_config(args)
    for seed in range(1, cfg.patterns + 1):
        cfg.clip(seed)  # encode before registering: the first INVITE must not wait for x264
    fleet = SimFleet(server=("127.0.0.1", sip_port), server_id=SERVER_ID, domain=DOMAIN)
    for n in numbers:
        did, cid = ids(n)
        ch = SimChannel(cid, f"bench {n}", "34020000", 117.1, 31.6)
        fleet.add(
            SimDeviceConfig(
                device_id=did,
                password=PASSWORD,
                channels=[ch],
                keepalive_interval=600,
                media=cfg,
            )
        )
    await fleet.start()
    statuses = await fleet.register_all(concurrency=100)
    out.put({"phase": "registered", "ok": statuses.get(200, 0)})
    while True:
        await asyncio.sleep(0.1)
        sent = late = frames = 0
        for d in fleet.devices.values():
            for call in d.media_calls.values():
                sent += call.source.packets_sent
                frames += call.source.frames_sent
                if call.pacer is not None:
                    late += call.pacer.late
        counters[0], counters[1], counters[2] = sent, frames, late


def camera_worker(numbers: list[int], sip_port: int, args: Any, out: mp.Queue, c: Any) -> None:
    import uvloop

    uvloop.run(run_cameras(numbers, sip_port, args, out, c))


# --- viewer processes ----------------------------------------------------------------


def count_samples(data: bytes) -> int:
    """Frames in fMP4 fragments: sum of trun sample_count over the moof boxes."""
    pos, n, total = 0, len(data), 0
    while pos + 8 <= n:
        size, kind = struct.unpack_from(">I4s", data, pos)
        if size < 8:
            break
        if kind == b"moof":
            i = data.find(b"trun", pos, pos + size)
            if i > 0:
                total += struct.unpack_from(">I", data, i + 8)[0]
        pos += size
    return total


async def run_viewers(
    pks: list[int], http_port: int, token: str, out: mp.Queue, counters: Any
) -> None:
    import httpx
    import websockets

    sem = asyncio.Semaphore(20)
    frames = [0]
    nbytes = [0]
    errors: list[str] = []
    ready = asyncio.Event()
    started = [0]

    def one_started() -> None:
        started[0] += 1
        if started[0] == len(pks):
            ready.set()

    async def view(pk: int) -> None:
        try:
            async with sem:
                async with httpx.AsyncClient(timeout=300) as c:
                    r = await c.post(
                        f"http://127.0.0.1:{http_port}/api/channels/{pk}/play",
                        json={},
                        headers={"Authorization": f"Bearer {token}"},
                    )
                if r.status_code != 200:
                    errors.append(f"{r.status_code} {r.text[:120]}")
                    return
                ws = await websockets.connect(r.json()["ws_url"], max_size=None)
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}"[:160])
            return
        finally:
            one_started()
        try:
            async for msg in ws:
                if isinstance(msg, bytes):
                    nbytes[0] += len(msg)
                    frames[0] += count_samples(msg)
        except websockets.ConnectionClosed:
            errors.append("closed")

    tasks = [asyncio.create_task(view(pk)) for pk in pks]
    await ready.wait()
    out.put({"phase": "viewing", "errors": errors[:5], "failed": len(errors)})
    while True:
        await asyncio.sleep(0.1)
        counters[0], counters[1], counters[2] = frames[0], nbytes[0], len(errors)
    await asyncio.gather(*tasks)


def viewer_worker(pks: list[int], http_port: int, token: str, out: mp.Queue, c: Any) -> None:
    import uvloop

    uvloop.run(run_viewers(pks, http_port, token, out, c))


# --- orchestration -----------------------------------------------------------------


def login(http_port: int) -> str:
    r = http(
        f"http://127.0.0.1:{http_port}/api/auth/login",
        body={"username": "admin", "password": ADMIN},
    )
    return str(r["access_token"])


def channel_pks(http_port: int, token: str, want: int) -> dict[str, int]:
    deadline = time.time() + 300
    while time.time() < deadline:
        found: dict[str, int] = {}
        offset = 0
        while True:
            page = http(
                f"http://127.0.0.1:{http_port}/api/channels?limit=1000&offset={offset}"
                "&status=online",
                token,
            )
            found.update({c["channel_id"]: c["id"] for c in page["items"]})
            offset += 1000
            if offset >= page["total"]:
                break
        if len(found) >= want:
            return found
        time.sleep(0.5)
    raise SystemExit(f"only {len(found)} of {want} channels came online")


def split(items: list[Any], parts: int) -> list[list[Any]]:
    return [items[i::parts] for i in range(parts) if items[i::parts]]


class Rig:
    """A node process plus camera processes for ``count`` cameras."""

    def __init__(self, count: int, args: argparse.Namespace) -> None:
        self.tmp = tempfile.TemporaryDirectory()
        self.sip_port, self.http_port = free_port(), free_port()
        self.proc = start_node(Path(self.tmp.name), self.sip_port, self.http_port)
        self.node = psutil.Process(self.proc.pid)
        self.q: mp.Queue = mp.Queue()
        self.cam_counters = []
        self.workers: list[mp.Process] = []
        for chunk in split(list(range(1, count + 1)), args.senders):
            c = mp.RawArray("d", 3)
            self.cam_counters.append(c)
            w = mp.Process(target=camera_worker, args=(chunk, self.sip_port, args, self.q, c))
            w.start()
            self.workers.append(w)
        ok = sum(self.q.get(timeout=900)["ok"] for _ in self.workers)
        if ok != count:
            raise SystemExit(f"only {ok} of {count} cameras registered")
        self.token = login(self.http_port)
        self.pks = channel_pks(self.http_port, self.token, count)
        self.view_counters: list[Any] = []

    def view(self, channel_ids: list[str], procs: int) -> dict[str, Any]:
        pks = [self.pks[c] for c in channel_ids]
        chunks = split(pks, procs)
        for chunk in chunks:
            c = mp.RawArray("d", 3)
            self.view_counters.append(c)
            w = mp.Process(
                target=viewer_worker, args=(chunk, self.http_port, self.token, self.q, c)
            )
            w.start()
            self.workers.append(w)
        reports = [self.q.get(timeout=900) for _ in chunks]
        return {"failed": sum(r["failed"] for r in reports), "errors": reports[0]["errors"]}

    def helpers_cpu(self) -> float:
        total = 0.0
        for w in self.workers:
            try:
                t = psutil.Process(w.pid).cpu_times()
                total += t.user + t.system
            except psutil.Error:
                pass
        return total

    def sample(self) -> dict[str, Any]:
        streams = http(f"http://127.0.0.1:{self.http_port}/api/streams", self.token)
        cpu = self.node.cpu_times()
        machine = psutil.cpu_times()
        return {
            "t": time.perf_counter(),
            "cpu": cpu.user + cpu.system,
            "helpers_cpu": self.helpers_cpu(),
            "machine_busy": machine.user + machine.system + machine.nice + machine.softirq,
            "load": os.getloadavg()[0],
            "rss": self.node.memory_info().rss,
            "received": sum(s["packets"] for s in streams["items"]),
            "bytes": sum(s["bytes"] for s in streams["items"]),
            "lost": sum(s["lost"] for s in streams["items"]),
            "sessions": len(streams["items"]),
            "sent": sum(c[0] for c in self.cam_counters),
            "frames_sent": sum(c[1] for c in self.cam_counters),
            "late": sum(c[2] for c in self.cam_counters),
            "frames_seen": sum(c[0] for c in self.view_counters),
            "ws_bytes": sum(c[1] for c in self.view_counters),
        }

    def close(self) -> None:
        for w in self.workers:
            w.terminate()
        for w in self.workers:
            w.join(10)
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.tmp.cleanup()


def bench_streams(n: int, args: argparse.Namespace) -> dict[str, Any]:
    rig = Rig(n, args)
    try:
        channel_ids = [ids(i)[1] for i in range(1, n + 1)]
        t0 = time.perf_counter()
        view = rig.view(channel_ids, args.viewers)
        setup_s = time.perf_counter() - t0
        time.sleep(args.warmup)
        a = rig.sample()
        time.sleep(args.duration)
        b = rig.sample()
        dt = b["t"] - a["t"]
        received = b["received"] - a["received"]
        lost = b["lost"] - a["lost"]
        frames_sent = b["frames_sent"] - a["frames_sent"]
        frames_seen = b["frames_seen"] - a["frames_seen"]
        return {
            "streams": n,
            "sessions": b["sessions"],
            "play_failed": view["failed"],
            "play_errors": view["errors"],
            "setup_s": round(setup_s, 1),
            "node_cpu_pct": round(100 * (b["cpu"] - a["cpu"]) / dt, 1),
            "senders_viewers_cpu_pct": round(100 * (b["helpers_cpu"] - a["helpers_cpu"]) / dt, 1),
            "machine_busy_pct": round(100 * (b["machine_busy"] - a["machine_busy"]) / dt, 1),
            "load_avg_1m": round(b["load"], 2),
            "node_rss_mb": round(b["rss"] / 2**20),
            "pkts_per_s": round(received / dt),
            "mbps_in": round((b["bytes"] - a["bytes"]) * 8 / dt / 1e6, 1),
            "loss_pct": round(100 * lost / max(1, received + lost), 4),
            "lost": lost,
            "sent_minus_received": (b["sent"] - a["sent"]) - received,
            "frames_sent": frames_sent,
            "frames_delivered": frames_seen,
            "delivered_pct": round(100 * frames_seen / max(1, frames_sent), 2),
            "ws_mbps": round((b["ws_bytes"] - a["ws_bytes"]) * 8 / dt / 1e6, 1),
            "sender_late_ticks": b["late"] - a["late"],
            "us_per_packet": round(1e6 * (b["cpu"] - a["cpu"]) / max(1, received), 2),
        }
    finally:
        rig.close()


async def first_frame(client: Any, http_port: int, token: str, pk: int) -> float:
    """Seconds from the play request to the first frame PyAV decodes from the WebSocket.

    ``client`` is one keep-alive HTTP client (as a browser has), so its setup is not timed.
    """
    import av
    import websockets

    t0 = time.perf_counter()
    r = await client.post(
        f"http://127.0.0.1:{http_port}/api/channels/{pk}/play",
        json={},
        headers={"Authorization": f"Bearer {token}"},
    )
    r.raise_for_status()
    async with websockets.connect(r.json()["ws_url"], max_size=None) as ws:
        parts: list[bytes] = []
        while True:
            msg = await ws.recv()
            if isinstance(msg, str):
                continue
            parts.append(msg)
            if len(parts) < 2:
                continue
            with av.open(io.BytesIO(b"".join(parts)), format="mp4") as container:
                for _frame in container.decode(video=0):
                    return time.perf_counter() - t0


def pct(data: list[float], q: float) -> float:
    data = sorted(data)
    return data[min(len(data) - 1, int(q * len(data)))]


def bench_latency(samples: int, load: int, args: argparse.Namespace) -> dict[str, Any]:
    import uvloop

    rig = Rig(load + samples, args)
    try:
        if load:
            rig.view([ids(i)[1] for i in range(1, load + 1)], args.viewers)
        time.sleep(args.warmup)
        targets = [rig.pks[ids(i)[1]] for i in range(load + 1, load + samples + 1)]

        async def measure() -> tuple[list[float], list[float]]:
            import httpx

            async with httpx.AsyncClient(timeout=60) as c:
                await c.get(f"http://127.0.0.1:{rig.http_port}/api/health")  # connect once
                cold = [await first_frame(c, rig.http_port, rig.token, pk) for pk in targets]
                await asyncio.sleep(1)
                warm = [await first_frame(c, rig.http_port, rig.token, pk) for pk in targets]
            return cold, warm

        cold, warm = uvloop.run(measure())
        return {
            "load_streams": load,
            "samples": samples,
            "cold_p50_ms": round(1000 * statistics.median(cold)),
            "cold_p99_ms": round(1000 * pct(cold, 0.99)),
            "warm_p50_ms": round(1000 * statistics.median(warm)),
            "warm_p99_ms": round(1000 * pct(warm, 0.99)),
        }
    finally:
        rig.close()


# --- the floor: a minimal receive loop at the same load ------------------------------


def _floor_receiver(
    n: int, kind: str, ready: mp.Queue, done: Any, counter: Any
) -> None:  # pragma: no cover - runs in its own process
    """N UDP sockets on uvloop doing nothing with what they receive but count it."""
    import socket as so

    import uvloop

    async def run() -> None:
        loop = asyncio.get_running_loop()
        count = [0]
        ports = []
        for _ in range(n):
            sock = so.socket(so.AF_INET, so.SOCK_DGRAM)
            sock.setsockopt(so.SOL_SOCKET, so.SO_RCVBUF, 2 << 20)
            sock.bind(("127.0.0.1", 0))
            sock.setblocking(False)
            ports.append(sock.getsockname()[1])
            if kind == "uvloop":

                class P(asyncio.DatagramProtocol):
                    def datagram_received(self, data: bytes, addr: Any) -> None:
                        count[0] += 1

                await loop.create_datagram_endpoint(P, sock=sock)
            else:  # the node's own path: add_reader + recv_batch (C recvmmsg when built)
                from sharpeyes.live.rtp_io import UdpRtpEndpoint

                def sink(data: bytes, addr: Any) -> None:
                    count[0] += 1

                UdpRtpEndpoint(sock, sink, loop)
        ready.put(ports)
        while not done.is_set():
            await asyncio.sleep(0.1)
            counter.value = count[0]

    uvloop.run(run())


def _floor_sender(ports: list[int], rate: float, seconds: float, out: mp.Queue) -> None:
    """Paced 1,400-byte datagrams round-robin over ``ports`` at ``rate`` per second."""
    import socket as so

    sock = so.socket(so.AF_INET, so.SOCK_DGRAM)
    payload = bytes(1400)
    sent = 0
    t0 = time.perf_counter()
    tick = 0.005
    per_tick = rate * tick
    owed = 0.0
    i = 0
    while (now := time.perf_counter()) - t0 < seconds:
        owed += per_tick
        while owed >= 1:
            sock.sendto(payload, ("127.0.0.1", ports[i % len(ports)]))
            i += 1
            sent += 1
            owed -= 1
        time.sleep(max(0.0, t0 + (sent / rate) - time.perf_counter()))
        del now
    out.put(sent)


def bench_floor(n: int, rate: float, kind: str, seconds: float) -> dict[str, Any]:
    """CPU per datagram of a receive loop that does nothing else, at ``rate`` over ``n`` sockets."""
    ready: mp.Queue = mp.Queue()
    out: mp.Queue = mp.Queue()
    done = mp.Event()
    counter = mp.Value("q", 0)
    rx = mp.Process(target=_floor_receiver, args=(n, kind, ready, done, counter), daemon=True)
    rx.start()
    ports = ready.get(timeout=60)
    proc = psutil.Process(rx.pid)
    tx = mp.Process(target=_floor_sender, args=(ports, rate, seconds + 1.0, out), daemon=True)
    tx.start()
    time.sleep(0.5)
    c0, n0, t0 = sum(proc.cpu_times()[:2]), counter.value, time.perf_counter()
    time.sleep(seconds)
    c1, n1, t1 = sum(proc.cpu_times()[:2]), counter.value, time.perf_counter()
    tx.join(30)
    done.set()
    rx.join(10)
    got = n1 - n0
    return {
        "floor": kind,
        "sockets": n,
        "pkts_per_s": round(got / (t1 - t0)),
        "cpu_pct": round(100 * (c1 - c0) / (t1 - t0), 1),
        "us_per_packet": round(1e6 * (c1 - c0) / max(1, got), 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--streams", type=int, nargs="*", default=[50, 100, 200, 300])
    ap.add_argument("--duration", type=float, default=20.0)
    ap.add_argument("--warmup", type=float, default=4.0)
    ap.add_argument("--senders", type=int, default=2, help="camera processes")
    ap.add_argument("--viewers", type=int, default=1, help="viewer processes")
    ap.add_argument("--resolution", choices=["720p", "1080p"], default="720p")
    ap.add_argument("--bitrate", type=int, default=2_800_000, help="x264 target (→ ~2 Mbps)")
    ap.add_argument("--patterns", type=int, default=4, help="distinct clips encoded")
    ap.add_argument("--latency", type=int, default=0, help="cold/warm first-frame samples")
    ap.add_argument("--latency-load", type=int, default=100, help="streams running meanwhile")
    ap.add_argument(
        "--floor",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="after each N, a do-nothing receive loop at the same packet rate (the floor)",
    )
    args = ap.parse_args()

    print(
        f"# machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB, Python {platform.python_version()}",
        flush=True,
    )
    rows = []
    floors: dict[int, list[dict[str, Any]]] = {}
    for n in args.streams:
        rows.append(bench_streams(n, args))
        print(json.dumps(rows[-1]), flush=True)
        if args.floor:
            rate = rows[-1]["pkts_per_s"] or n * 175
            floors[n] = [bench_floor(n, rate, k, min(args.duration, 10.0)) for k in FLOORS]
            for f in floors[n]:
                print(json.dumps(f), flush=True)
    if rows:
        print()
        print(
            "| streams | node CPU % | node RSS MB | RTP pkts/s | loss % | frames sent "
            "| frames delivered | µs/packet | senders+viewers CPU % | machine busy % (of 200) |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|")
        for r in rows:
            print(
                f"| {r['streams']} | {r['node_cpu_pct']} | {r['node_rss_mb']} | "
                f"{r['pkts_per_s']} | {r['loss_pct']} | {r['frames_sent']} | "
                f"{r['frames_delivered']} ({r['delivered_pct']} %) | {r['us_per_packet']} | "
                f"{r['senders_viewers_cpu_pct']} | {r['machine_busy_pct']} |"
            )
        if floors:
            print(
                "\n| streams | node µs/packet | floor: uvloop no-op µs/packet (ratio) "
                "| floor: add_reader + recv_batch µs/packet (ratio) |"
            )
            print("|---|---|---|---|")
            for r in rows:
                fl = {f["floor"]: f for f in floors.get(r["streams"], [])}
                cells = [
                    f"{fl[k]['us_per_packet']} "
                    f"({r['us_per_packet'] / max(0.01, fl[k]['us_per_packet']):.1f}×)"
                    if k in fl
                    else "-"
                    for k in FLOORS
                ]
                print(f"| {r['streams']} | {r['us_per_packet']} | {cells[0]} | {cells[1]} |")
        clean = [r["streams"] for r in rows if r["lost"] == 0 and r["play_failed"] == 0]
        print(f"\nlargest N with zero loss: {max(clean) if clean else 'none'}")
    if args.latency:
        lat = bench_latency(args.latency, args.latency_load, args)
        print(json.dumps(lat), flush=True)


if __name__ == "__main__":
    main()
