"""Profile of the ingest path, in-process: RTP receive → reorder → PS demux → hub → fMP4.

A 720p25 H.264 clip (~2 Mbit/s, GOP 2 s) as GB PS over RTP goes through a real
``LiveSession`` (the node's packet handler) with one consumer taking the fMP4, under
cProfile; time is grouped by stage. The receive syscall itself is measured apart,
on a loopback socket: one ``recvfrom`` per datagram against ``recv_batch`` (C
``recvmmsg`` when built) draining 64 at a time.

    .venv/bin/python bench/ingest.py --reps 20
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import socket
import time
from collections import defaultdict
from typing import Any

STAGES = (
    ("RTP parse + reorder", ("media/rtp.py",)),
    ("PS demux + ES framing", ("media/ps.py", "media/es.py", "media/detect.py", "media/audio.py")),
    ("hub: GOP cache + fMP4 remux", ("media/hub.py", "media/fmp4.py", "media/hls.py")),
    ("session glue", ("live/session.py",)),
)


class NullViewer:
    def __init__(self) -> None:
        self.bytes = 0

    def send_init(self, info: dict[str, object], init: bytes) -> None:
        self.bytes += len(init)

    def send_media(self, data: bytes, keyframe: bool) -> None:
        self.bytes += len(data)


def packets(frames: int) -> list[bytes]:
    from sharpeyes.media.psmux import PsMuxer, packetize_rtp
    from sharpeyes.media.testvideo import generate_video

    clip = generate_video(
        "h264", width=1280, height=720, fps=25, frames=frames, gop=50, bitrate=2_000_000
    )
    mux = PsMuxer("h264")
    out: list[bytes] = []
    seq = 0
    for f in clip:
        pkts = packetize_rtp(
            mux.mux_video(f.data, f.pts, f.keyframe), ssrc=1, seq_start=seq, ts=f.pts
        )
        seq += len(pkts)
        out.extend(pkts)
    return out


async def run_session(
    pkts: list[bytes], reps: int, profile: bool = True
) -> tuple[float, int, pstats.Stats | None]:
    from sharpeyes.live.session import Clock, LiveSession, SessionKey

    prof = cProfile.Profile()
    total = 0.0
    n = 0
    for _ in range(reps):
        s = LiveSession(
            SessionKey("d", "c", "main"),
            channel_pk=1,
            channel_name=None,
            transport="udp",
            serial=1,
            ssrc_text="0000000001",
            clock=Clock(),
            strict_ssrc=True,
            gop_max_bytes=8 << 20,
            hls_window=6,
            hls_segment_s=2.0,
            started_by="bench",
        )
        on_packet, addr = s.on_packet, ("127.0.0.1", 1)
        ready, viewer = s.ready, None
        t0 = time.perf_counter()
        if profile:
            prof.enable()
        for p in pkts:
            on_packet(p, addr)
            if viewer is None and ready.done():  # first keyframe: the viewer joins
                s.hub.attach(viewer := NullViewer())
        prof.disable()
        total += time.perf_counter() - t0
        n += len(pkts)
    return total, n, pstats.Stats(prof) if profile else None


def stages(stats: pstats.Stats) -> dict[str, float]:
    out: dict[str, float] = defaultdict(float)
    raw: Any = stats.stats  # type: ignore[attr-defined]
    for (file, _line, _fn), (_cc, _nc, tt, _ct, _callers) in raw.items():
        name = next(
            (label for label, files in STAGES if any(file.endswith(f) for f in files)), None
        )
        out[name or "other (builtins: bytes/memoryview ops, struct, list)"] += tt
    return out


def receive(pkts: list[bytes], batch: int) -> float:
    from sharpeyes.live import fastrecv

    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    rx.bind(("127.0.0.1", 0))
    rx.setblocking(False)
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    dest = rx.getsockname()
    spent = 0.0
    got = 0
    for start in range(0, len(pkts), 256):
        for p in pkts[start : start + 256]:
            tx.sendto(p, dest)
        t0 = time.perf_counter()
        if batch == 1:
            while True:
                try:
                    rx.recvfrom(65536)
                    got += 1
                except BlockingIOError:
                    break
        else:
            while b := fastrecv.recv_batch(rx, batch, fastrecv.BUFSIZE):
                got += len(b)
        spent += time.perf_counter() - t0
    rx.close()
    tx.close()
    return 1e6 * spent / max(1, got)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--frames", type=int, default=150)
    ap.add_argument("--reps", type=int, default=10)
    args = ap.parse_args()
    from sharpeyes.live import fastrecv

    pkts = packets(args.frames)
    plain, n, _ = asyncio.run(run_session(pkts, args.reps, profile=False))
    total, n, stats = asyncio.run(run_session(pkts, args.reps))
    assert stats is not None
    per = stages(stats)
    prof_total = sum(per.values())
    print(
        f"{n} packets ({len(pkts)} a rep): {1e6 * plain / n:.2f} µs/packet, "
        f"{1e6 * total / n:.2f} under the profiler\n"
    )
    print("| stage | share of profiled time |")
    print("|---|---|")
    for label, tt in sorted(per.items(), key=lambda kv: -kv[1]):
        print(f"| {label} | {100 * tt / prof_total:.0f} % |")
    print("\ntop functions (own time):")
    stats.sort_stats("tottime").print_stats(12)
    one = receive(pkts, 1)
    many = receive(pkts, fastrecv.BATCH)
    print(
        f"receive, loopback, backlog of 256: recvfrom {one:.2f} µs/datagram, "
        f"recv_batch[{fastrecv.IMPLEMENTATION}] {many:.2f} µs/datagram ({one / many:.1f}×)"
    )


if __name__ == "__main__":
    main()
