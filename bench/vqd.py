"""Health benchmark: VQD diagnoses per second per core, a 10,000-channel patrol, and rate
queries over a year of daily rows.

* Diagnoses: the real checks on decoded 320×240 frames of the simulator's scene
  (healthy and faulty), one core, single OpenCV thread.
* Patrol: :class:`~sharpeyes.health.patrol.Patrol` over N channels whose frame source
  costs what a real probe does on the wire (``--probe-s``: INVITE, first keyframe and
  the second sample a GOP later, measured ≈1.5–2.5 s against the simulator) plus the
  real diagnosis in a worker thread; a share of faulty channels is re-checked. Wall
  time at ``--concurrency``; the wire latency dominates, so the figure is
  ≈ N × probe_s / concurrency unless the CPU saturates first.
* Rates: ``--channels`` × ``--days`` ``health_days`` rows and their ``health_months``
  rollup bulk-inserted into a fresh database (``--db-url`` for an empty PostgreSQL
  database, else SQLite), then ``RateBook.rates`` over 30 days and over the year,
  grouped by region and by maintainer (p50/p95 ms).

    .venv/bin/python bench/vqd.py
    .venv/bin/python bench/vqd.py --channels 10000 --days 365 --concurrency 200
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from sharpeyes.health.models import ChannelDay, ChannelMonth
from sharpeyes.health.patrol import Patrol, Probe, Target, summary
from sharpeyes.health.rates import ATTRS, RateBook
from sharpeyes.health.settings import VqdThresholds
from sharpeyes.health.vqd import diagnose
from sharpeyes.store.db import Database


def frames(fault: str, seed: int = 3) -> list[np.ndarray]:
    import av

    from sharpeyes.sim.media import SimMediaConfig

    ctx = av.CodecContext.create("h264", "r")
    out = []
    for f in SimMediaConfig().clip(seed, fault):
        for pkt in ctx.parse(f.data):
            out += [fr.to_ndarray(format="bgr24") for fr in ctx.decode(pkt)]
    return [out[0], out[25]]


def bench_diagnose(seconds: float) -> float:
    cv2.setNumThreads(1)
    t = VqdThresholds()
    samples = [frames(f) for f in ("", "blur", "noise", "occlusion")]
    base = samples[0][0]
    n = 0
    start, cpu0 = time.perf_counter(), time.process_time()
    while time.perf_counter() - start < seconds:
        diagnose(samples[n % len(samples)], t, baseline=base)
        n += 1
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu0
    rate = n / cpu  # per CPU-second: what one core does (the machine may be shared)
    print(
        f"diagnose: {rate:.1f} diagnoses/s per core ({1000 / rate:.1f} ms CPU each; "
        f"{n / wall:.1f}/s wall on this machine now)"
    )
    return rate


async def bench_patrol(channels: int, concurrency: int, probe_s: float, faulty: float) -> None:
    t = VqdThresholds()
    good, bad = frames(""), frames("black")
    rng = random.Random(1)
    broken = {i for i in range(channels) if rng.random() < faulty}

    async def source(target: Target, with_ptz: bool) -> Probe:
        await asyncio.sleep(probe_s)
        return Probe(True, list(bad if target.pk in broken else good))

    patrol = Patrol(source, t, concurrency=concurrency, spacing_s=0.0, recheck_delay_s=probe_s)
    targets = [Target(i, f"dev{i // 8}", f"ch{i}") for i in range(channels)]
    cpu0 = time.process_time()
    start = time.perf_counter()
    results = await patrol.run(targets)
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu0
    print(
        f"patrol: {channels} channels at concurrency {concurrency}, probe {probe_s} s, "
        f"{len(broken)} faulty (re-checked): {wall:.1f} s wall, {cpu:.1f} s CPU, {summary(results)}"
    )
    bound = channels * probe_s / concurrency
    print(f"        wire-bound estimate {bound:.1f} s; aim < 300 s")


async def bench_rates(channels: int, days: int, repeats: int, db_url: str | None) -> None:
    tmp = tempfile.mkdtemp(prefix="sharpeyes-bench-vqd-")
    db = Database(db_url or f"sqlite+aiosqlite:///{tmp}/bench.db")
    await db.upgrade()
    print(f"rates on {db.engine.dialect.name}")
    first = date(2025, 1, 1)
    towns = [f"3415220{i:02d}000" for i in range(1, 21)]
    rng = random.Random(2)
    t0 = time.perf_counter()
    batch: list[dict[str, object]] = []
    months: dict[tuple[str, int], dict[str, Any]] = {}  # the rollup RateBook keeps
    async with db.engine.begin() as conn:
        for d in range(days):
            day = (first + timedelta(days=d)).isoformat()
            for c in range(channels):
                online = 86400.0 if rng.random() < 0.8 else rng.uniform(0, 86400)
                batch.append(
                    {
                        "day": day,
                        "device_id": f"341522000013200{c // 8:05d}",
                        "channel_id": f"34152200001310{c:06d}",
                        "region_code": towns[c % 20],
                        "owner_org_id": c % 7,
                        "maintainer_org_id": c % 5,
                        "point_class": c % 3,
                        "category": None,
                        "network": None,
                        "online_s": online,
                        "observed_s": 86400.0,
                        "probes": 1,
                        "frames_ok": int(online > 0),
                        "diag_n": 1,
                        "diag_ok": int(rng.random() < 0.95),
                    }
                )
                row = batch[-1]
                mo = months.get((day[:7], c))
                if mo is None:
                    mo = months[(day[:7], c)] = {
                        "month": day[:7],
                        **{k: row[k] for k in ("device_id", "channel_id", *ATTRS)},
                        "online_s": 0.0,
                        "observed_s": 0.0,
                        "probed_days": 0,
                        "image_days": 0,
                        "diagnosed_days": 0,
                        "intact_days": 0,
                    }
                mo["online_s"] += online
                mo["observed_s"] += 86400.0
                mo["probed_days"] += 1
                mo["image_days"] += int(online > 0)
                mo["diagnosed_days"] += 1
                mo["intact_days"] += int(row["diag_ok"] == 1 and online > 0)
                if len(batch) >= 20000:
                    await conn.execute(insert(ChannelDay), batch)
                    batch.clear()
        if batch:
            await conn.execute(insert(ChannelDay), batch)
        rollup = list(months.values())
        for i in range(0, len(rollup), 20000):
            await conn.execute(insert(ChannelMonth), rollup[i : i + 20000])
    print(
        f"rates: {channels * days:,} day rows + {len(rollup):,} month rows inserted "
        f"in {time.perf_counter() - t0:.1f} s"
    )
    book = RateBook(db, "Asia/Shanghai")
    now = datetime.now(UTC)
    last = (first + timedelta(days=days - 1)).isoformat()
    month_start = (first + timedelta(days=max(0, days - 30))).isoformat()
    # A range of whole months reads the rollup; one that starts mid-month also reads
    # the edge days (the worst case: ~30 days of day rows at each end).
    mid = (first + timedelta(days=14)).isoformat()
    for label, frm, grp in (
        ("30 days/region", month_start, "region"),
        ("year/region", first.isoformat(), "region"),
        ("year/maintainer", first.isoformat(), "maintainer"),
        ("year from mid-month/region", mid, "region"),
    ):
        times = []
        for _ in range(repeats):
            s = time.perf_counter()
            await book.rates(None, group_by=grp, from_day=frm, to_day=last, now=now, level=9)
            times.append((time.perf_counter() - s) * 1000)
        times.sort()
        p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
        print(f"rates {label}: p50 {statistics.median(times):.0f} ms, p95 {p95:.0f} ms")
    await db.dispose()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=5.0, help="diagnosis loop length")
    p.add_argument("--patrol-channels", type=int, default=10000)
    p.add_argument("--concurrency", type=int, default=100)
    p.add_argument("--probe-s", type=float, default=2.0)
    p.add_argument("--faulty", type=float, default=0.05)
    p.add_argument("--channels", type=int, default=10000, help="rate rows: channels")
    p.add_argument("--days", type=int, default=365, help="rate rows: days")
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--db-url", default=None, help="rates on this database (default SQLite)")
    p.add_argument("--skip", default="", help="comma list of diagnose,patrol,rates to skip")
    a = p.parse_args()
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, OpenCV {cv2.__version__}"
    )
    skip = set(a.skip.split(","))
    if "diagnose" not in skip:
        bench_diagnose(a.seconds)
    if "patrol" not in skip:
        asyncio.run(bench_patrol(a.patrol_channels, a.concurrency, a.probe_s, a.faulty))
    if "rates" not in skip:
        asyncio.run(bench_rates(a.channels, a.days, a.repeats, a.db_url))


if __name__ == "__main__":
    main()
