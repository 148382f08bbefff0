"""Recording benchmark (report, don't gate): the segment writer, the timeline query, seeks.

1. ``--channels N…``: N channels recorded at once at ``--mbps`` (2 Mbit/s, 25 fps,
   GOP 25). Synthetic fMP4 fragments are fed to ``ChannelRecorder`` consumers, as the
   live hub would, and the ``SegmentStore`` flushes them every second (files in a
   worker thread, index rows in one transaction, SQLite). Reported: process CPU %,
   disk write MB/s, bytes lost (fed − on disk), how late the flush ran. This
   measures the recording path; RTP receive and demux are in ``bench/media.py``.
2. ``--index-channels C --index-days D``: C × D days of ``--index-segment-s``
   segment rows, then the timeline query (segments of one channel over a day, and
   over 30 days) ``--queries`` times: p50/p95.
   Rows are filled with the sqlite3 module's ``executemany`` (the schema comes from
   the migrations), so 10,000 channels fit in a short run with hourly segments.
3. ``--seeks K``: platform playback seek latency: ``SegmentPlayer.seek()`` → the
   first frame at the new position pushed to the hub, over real H.264 fMP4-free MP4
   segment files (10 s each, GOP 1 s), K random positions: p50/p95/max.

    .venv/bin/python bench/recording.py --channels 50 100 200 --duration 20
    .venv/bin/python bench/recording.py --channels --index-channels 10000 --index-days 30 \
        --index-segment-s 3600 --queries 100
    .venv/bin/python bench/recording.py --channels --index-channels 0 --seeks 50
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sqlite3
import statistics
import tempfile
import time
from fractions import Fraction
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psutil

from sharpeyes.events import EventBus
from sharpeyes.recording.segments import ChannelRecorder, SegmentStore, span_rows, spans_of
from sharpeyes.store.db import Database

TZ = ZoneInfo("Asia/Shanghai")
FPS = 25


async def _db(tmp: Path) -> Database:
    db = Database(f"sqlite+aiosqlite:///{tmp / 'bench.db'}")
    await db.upgrade()
    return db


async def writers(n: int, duration: float, mbps: float, tmp: Path) -> dict[str, Any]:
    db = await _db(tmp)
    store = SegmentStore(db, EventBus(), tmp / "segments", min_free_percent=0)
    frame = int(mbps * 1e6 / 8 / FPS)
    key = os.urandom(frame * 4)
    delta = os.urandom(frame * 24 // 27)
    for pk in range(1, n + 1):
        rec = ChannelRecorder(pk, f"3402000000132{pk:07d}", segment_s=60, storage_days=1, tz=TZ)
        rec.send_init({"codec": "h264"}, b"\0" * 700)
        store.add(rec)
    proc = psutil.Process()
    proc.cpu_percent()
    t0 = time.monotonic()
    fed = 0
    late: list[float] = []

    async def flusher() -> None:  # as the recorder does: beside the hub, once a second
        while True:
            await asyncio.sleep(1.0)
            s = time.monotonic()
            await store.flush()
            late.append(time.monotonic() - s)

    task = asyncio.create_task(flusher())
    i = 0
    behind = 0.0
    while time.monotonic() - t0 < duration:
        due = t0 + i / FPS
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        behind = max(behind, time.monotonic() - due)
        kf = i % FPS == 0
        data = key if kf else delta
        for rec in store.recorders.values():
            rec.send_media(data, kf)
            fed += len(data)
        i += 1
    task.cancel()
    await store.flush()
    for pk in list(store.recorders):
        store.remove(pk)
    await store.flush()
    elapsed = time.monotonic() - t0
    cpu = proc.cpu_percent()
    files = list((tmp / "segments").rglob("*.mp4"))
    on_disk = sum(f.stat().st_size for f in files)
    await db.dispose()
    return {
        "channels": n,
        "mbps_each": mbps,
        "cpu_percent": round(cpu, 1),
        "write_mb_s": round(on_disk / elapsed / 1e6, 2),
        "fed_mb": round(fed / 1e6, 1),
        "lost_bytes": fed + len(files) * 700 - on_disk,  # each file starts with the init
        "frames_per_channel": i,
        "feeder_max_late_ms": round(1000 * behind, 1),
        "flush_p95_ms": round(1000 * sorted(late)[int(len(late) * 0.95) - 1], 1) if late else None,
    }


async def index(channels: int, days: int, seg_s: int, queries: int, tmp: Path) -> dict[str, Any]:
    db = await _db(tmp)
    now = time.time()
    per_day = 86400 // seg_s
    t0 = time.monotonic()
    cols = 'channel_pk, channel_id, start, "end", bytes, path, codec, fmt, frames, '
    cols += "keep_until, complete"

    def rows_of(pk: int) -> Any:
        for k in range(days * per_day):
            start = now - days * 86400 + k * seg_s
            yield (
                pk,
                f"{pk:020d}",
                start,
                start + seg_s,
                15_000_000,
                f"{pk}/{k}.mp4",
                "h264",
                "fmp4",
                seg_s * FPS,
                start + 30 * 86400,
                1,
            )

    def fill_rows() -> None:
        with sqlite3.connect(tmp / "bench.db") as c:
            c.execute("PRAGMA journal_mode=WAL")
            c.execute("PRAGMA synchronous=OFF")
            for pk in range(1, channels + 1):
                c.executemany(
                    f"INSERT INTO record_segments ({cols}) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    rows_of(pk),
                )
            c.commit()

    await asyncio.to_thread(fill_rows)
    fill = time.monotonic() - t0
    out: dict[str, Any] = {
        "channels": channels,
        "days": days,
        "rows": channels * days * per_day,
        "fill_s": round(fill, 1),
    }
    for label, span in (("day", 86400), ("30d", min(days, 30) * 86400)):
        lat = []
        for _ in range(queries):
            pk = random.randint(1, channels)
            start = now - random.uniform(span, days * 86400) if days * 86400 > span else now - span
            q = time.perf_counter()
            spans_of(await span_rows(db, pk, start, start + span))
            lat.append(time.perf_counter() - q)
        lat.sort()
        out[f"{label}_p50_ms"] = round(1000 * statistics.median(lat), 2)
        out[f"{label}_p95_ms"] = round(1000 * lat[int(len(lat) * 0.95) - 1], 2)
    await db.dispose()
    return out


class _Timeline:
    scale, paused = 1.0, False

    def on_frame(self, ts: int, keyframe: bool) -> None:
        pass


class _Hub:
    def __init__(self) -> None:
        self.pushed = asyncio.Event()
        self.ts = 0

    def push(self, frame: Any) -> None:
        self.ts = frame.pts
        self.pushed.set()


class _Session:
    """What SegmentPlayer touches of a LiveSession: state, timeline, hub."""

    id, state = "bench", "playing"

    def __init__(self) -> None:
        self.timeline, self.hub = _Timeline(), _Hub()


async def seeks(k: int, tmp: Path, seg_s: int = 10, segments: int = 12) -> dict[str, Any]:
    import av

    from sharpeyes.media.testvideo import generate_video
    from sharpeyes.recording.player import CLOCK, SegmentPlayer, SegmentRef

    frames = generate_video("h264", frames=seg_s * FPS, gop=FPS, width=320, height=240)
    t0 = 1_700_000_000
    refs = []
    for i in range(segments):
        path = tmp / f"{i}.mp4"
        with av.open(str(path), "w", format="mp4") as out:
            st = out.add_stream("h264", rate=FPS)
            st.width, st.height = 320, 240
            st.time_base = Fraction(1, 90_000)
            for j, f in enumerate(frames):
                pkt = av.Packet(f.data)
                pkt.stream = st
                pkt.pts = pkt.dts = j * 3600
                pkt.time_base = Fraction(1, 90_000)
                pkt.is_keyframe = f.keyframe
                out.mux(pkt)
        refs.append(SegmentRef(path, t0 + i * seg_s, t0 + (i + 1) * seg_s, "h264"))
    session = _Session()
    end = t0 + segments * seg_s
    player = SegmentPlayer(session, refs, t0, end, end_session=lambda *_: None)  # type: ignore[arg-type]
    task = asyncio.create_task(player.run())
    await session.hub.pushed.wait()
    lat, off = [], []
    for _ in range(k):
        pos = random.uniform(0, segments * seg_s - 2)
        session.hub.pushed.clear()
        q = time.perf_counter()
        player.seek(pos)
        while True:
            await session.hub.pushed.wait()
            at = (session.hub.ts - CLOCK) / CLOCK
            if pos - 1.05 <= at <= pos + 0.05:  # the keyframe at or before the position
                break
            session.hub.pushed.clear()
        lat.append(time.perf_counter() - q)
        off.append(pos - at)
        await asyncio.sleep(0.2)
    task.cancel()
    lat.sort()
    return {
        "seeks": k,
        "segment_s": seg_s,
        "seek_p50_ms": round(1000 * statistics.median(lat), 1),
        "seek_p95_ms": round(1000 * lat[max(0, int(len(lat) * 0.95) - 1)], 1),
        "seek_max_ms": round(1000 * lat[-1], 1),
        "landed_before_s_max": round(max(off), 3),
    }


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--channels", type=int, nargs="*", default=[50, 100, 200])
    ap.add_argument("--duration", type=float, default=20)
    ap.add_argument("--mbps", type=float, default=2.0)
    ap.add_argument("--index-channels", type=int, default=1000)
    ap.add_argument("--index-days", type=int, default=30)
    ap.add_argument("--index-segment-s", type=int, default=600)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--seeks", type=int, default=0)
    args = ap.parse_args()
    results: dict[str, Any] = {"writers": [], "index": None}
    for n in args.channels:
        with tempfile.TemporaryDirectory() as tmp:
            r = await writers(n, args.duration, args.mbps, Path(tmp))
        print(json.dumps(r), flush=True)
        results["writers"].append(r)
    if args.index_channels:
        with tempfile.TemporaryDirectory() as tmp:
            results["index"] = await index(
                args.index_channels,
                args.index_days,
                args.index_segment_s,
                args.queries,
                Path(tmp),
            )
        print(json.dumps(results["index"]), flush=True)
    if args.seeks:
        with tempfile.TemporaryDirectory() as tmp:
            results["seeks"] = await seeks(args.seeks, Path(tmp))
        print(json.dumps(results["seeks"]), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
