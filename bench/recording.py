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
3. ``--seeks K``: platform playback seek latency (request → first frame at the new
   position pushed to the hub) from a recorded segment set.

    .venv/bin/python bench/recording.py --channels 50 100 200 --duration 20
    .venv/bin/python bench/recording.py --index-channels 10000 --index-days 30
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psutil
from sqlalchemy import insert

from sharpeyes.events import EventBus
from sharpeyes.recording.models import RecordSegment
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
    async with db.session() as s:
        for pk in range(1, channels + 1):
            rows = []
            for k in range(days * per_day):
                start = now - days * 86400 + k * seg_s
                rows.append(
                    {
                        "channel_pk": pk,
                        "channel_id": f"{pk:020d}",
                        "start": start,
                        "end": start + seg_s,
                        "bytes": 15_000_000,
                        "path": f"{pk}/{k}.mp4",
                        "codec": "h264",
                        "fmt": "fmp4",
                        "frames": seg_s * FPS,
                        "keep_until": start + 30 * 86400,
                        "complete": True,
                    }
                )
            await s.execute(insert(RecordSegment), rows)
        await s.commit()
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


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--channels", type=int, nargs="*", default=[50, 100, 200])
    ap.add_argument("--duration", type=float, default=20)
    ap.add_argument("--mbps", type=float, default=2.0)
    ap.add_argument("--index-channels", type=int, default=1000)
    ap.add_argument("--index-days", type=int, default=30)
    ap.add_argument("--index-segment-s", type=int, default=600)
    ap.add_argument("--queries", type=int, default=200)
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


if __name__ == "__main__":
    asyncio.run(main())
