"""Ledger benchmark: viewport clustering, filtered lists and import throughput.

Builds a ledger of N camera records (default 100,000) in a fresh database, then
measures, in-process through ``LedgerService`` (no HTTP, which adds ~1 ms):

* the survey-form import job (parse, validate, write) in rows/s, for a workbook
  written the way Excel writes one (shared strings) and for CSV;
* ``GET /api/map/points``' query at zooms 4–18 for a 1280×800-pixel viewport
  centred on random points of the data (p50/p95 ms, clusters returned);
* the filtered camera list (filters + count + page of 100) and nearest-camera queries.

Records beyond the imported ones are bulk-inserted (already validated values):
they are spread over Anhui province so that low zooms aggregate everything and
high zooms see a dense county.

    .venv/bin/python bench/ledger.py --records 100000
    .venv/bin/python bench/ledger.py --records 1000000 \\
        --db postgresql+asyncpg://postgres:postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import psutil
from sqlalchemy import insert, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from sharpeyes.events import EventBus
from sharpeyes.jobs import JobRunner
from sharpeyes.ledger import sample
from sharpeyes.ledger.mapcells import MAX_ZOOM
from sharpeyes.ledger.models import CameraRecord
from sharpeyes.ledger.queries import CameraFilters
from sharpeyes.ledger.service import LedgerService
from sharpeyes.ledger.settings import LedgerSettings
from sharpeyes.sharing.principal import Principal, Role
from sharpeyes.store.db import Database

ADMIN = Principal(user_id=1, username="bench", role=Role.ADMIN)
ANHUI = (114.9, 29.4, 119.6, 34.6)
VIEW_W, VIEW_H = 1280, 800


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, math.ceil(q * len(s)) - 1))]


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB, "
        f"Python {platform.python_version()}"
    )


def viewport(lon: float, lat: float, zoom: int) -> tuple[float, float, float, float]:
    """The WGS-84 box a 1280×800 web-mercator viewport shows at ``zoom``."""
    deg_per_px = 360.0 / (256 * 2**zoom)
    half_w = VIEW_W / 2 * deg_per_px
    half_h = VIEW_H / 2 * deg_per_px * math.cos(math.radians(lat))
    return (
        max(-180.0, lon - half_w),
        max(-90.0, lat - half_h),
        min(180.0, lon + half_w),
        min(90.0, lat + half_h),
    )


async def fresh_database(url: str | None, keep: str | None = None) -> tuple[str, Any]:
    """A URL of an empty database (or of the kept one, ``--keep-db``), and a cleanup coroutine."""
    if url is None or make_url(url).get_backend_name() == "sqlite":
        tmp = tempfile.mkdtemp(prefix="sharpeyes-bench-")
        path = Path(tmp) / "ledger.db"

        async def cleanup() -> None:
            for p in Path(tmp).glob("*"):
                p.unlink()
            os.rmdir(tmp)

        return f"sqlite+aiosqlite:///{path}", cleanup
    import asyncpg

    base = make_url(url)
    name = f"sharpeyes_bench_{uuid.uuid4().hex[:10]}"
    kw = dict(
        host=base.host,
        port=base.port or 5432,
        user=base.username,
        password=base.password,
        database=base.database or "postgres",
    )
    conn = await asyncpg.connect(**kw)
    if keep is not None:
        name = keep
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname=$1", name)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{name}"')
        await conn.close()

        async def keep_db() -> None:
            return None

        return base.set(database=name).render_as_string(hide_password=False), keep_db
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()

    async def cleanup_pg() -> None:
        c = await asyncpg.connect(**kw)
        await c.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname=$1", name
        )
        await c.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await c.close()

    return base.set(database=name).render_as_string(hide_password=False), cleanup_pg


async def timed_import(svc: LedgerService, data: bytes, name: str) -> tuple[int, float]:
    t0 = time.perf_counter()
    job = await svc.start_camera_import(ADMIN, data, name)
    await svc.jobs.wait(job.id)
    state = await svc.jobs.get(ADMIN, job.id)
    dt = time.perf_counter() - t0
    if state.state != "done":
        raise RuntimeError(f"import failed: {state.message} {state.result.get('errors', [])[:3]}")
    return state.result["imported"], dt


async def bulk_load(
    svc: LedgerService, refs: sample.SampleRefs, start: int, n: int, seed: int
) -> float:
    """Insert ``n`` valid records spread over Anhui (what a year of imports leaves)."""
    rng = random.Random(seed)
    t0 = time.perf_counter()
    chunk = 5000
    for off in range(0, n, chunk):
        rows = sample.record_values(min(chunk, n - off), refs, seed=seed + off, start=start + off)
        for r in rows:
            # 80% in dense towns, 20% spread over the province
            if rng.random() < 0.2:
                lon, lat = rng.uniform(ANHUI[0], ANHUI[2]), rng.uniform(ANHUI[1], ANHUI[3])
            else:
                c = rng.randrange(40)
                crng = random.Random(c)
                cx, cy = crng.uniform(ANHUI[0], ANHUI[2]), crng.uniform(ANHUI[1], ANHUI[3])
                lon, lat = rng.gauss(cx, 0.08), rng.gauss(cy, 0.06)
            mlon, mlat = round(lon * 1e6), round(lat * 1e6)
            mlon += mlon % 10 == 0
            mlat += mlat % 10 == 0
            r["longitude"], r["latitude"] = mlon / 1e6, mlat / 1e6
        async with svc.db.session() as s:
            await s.execute(insert(CameraRecord), rows)
            await s.commit()
    if not svc.db.is_sqlite:
        async with svc.db.engine.connect() as conn:
            await conn.execute(text("ANALYZE camera_records"))
            await conn.commit()
    else:
        async with svc.db.engine.connect() as conn:
            await conn.execute(text("ANALYZE"))
            await conn.commit()
    return time.perf_counter() - t0


async def measure(label: str, fn: Any, reps: int) -> dict[str, Any]:
    times: list[float] = []
    sizes: list[int] = []
    for i in range(reps):
        t0 = time.perf_counter()
        size = await fn(i)
        times.append((time.perf_counter() - t0) * 1000)
        sizes.append(size)
    return {
        "label": label,
        "p50": statistics.median(times),
        "p95": pct(times, 0.95),
        "max": max(times),
        "size": statistics.median(sizes),
    }


async def run(args: argparse.Namespace) -> None:
    url, cleanup = await fresh_database(args.db, args.keep_db)
    db = Database(url)
    backend = "SQLite" if db.is_sqlite else "PostgreSQL"
    try:
        await db.upgrade()
        bus = EventBus()
        settings = LedgerSettings(map_cells=args.map_cells)
        svc = LedgerService(db, bus, settings, jobs=JobRunner(db, bus))
        await svc.start()
        refs = await sample.ensure_reference_data(svc, ADMIN)
        async with db.engine.connect() as conn:
            version = (
                await conn.execute(
                    text("select sqlite_version()" if db.is_sqlite else "show server_version")
                )
            ).scalar()
        print(f"# machine: {machine()}")
        print(f"# database: {backend} {version}; records: {args.records:,}")

        async with db.session() as s:
            have = (await s.execute(text("SELECT count(*) FROM camera_records"))).scalar_one()
        # --- import throughput (the job path: parse in a thread, validate, chunked writes)
        n_imp = min(args.import_rows, args.records)
        if have >= args.records:  # a kept database already loaded: measure queries only
            print(f"# kept database: {have:,} records already loaded, import and load skipped")
            n_imp = 0
        if n_imp:
            half = n_imp // 2
            values = sample.camera_values(n_imp, seed=7)
            xlsx = sample.survey_file(values[:half], "xlsx")
            csv = sample.survey_file(values[half:], "csv")
            n1, t1 = await timed_import(svc, xlsx, "bench.xlsx")
            n2, t2 = await timed_import(svc, csv, "bench.csv")
            print(
                f"import xlsx: {n1:,} rows in {t1:.1f} s = {n1 / t1:,.0f} rows/s "
                f"({len(xlsx) / 2**20:.1f} MiB)"
            )
            print(
                f"import csv:  {n2:,} rows in {t2:.1f} s = {n2 / t2:,.0f} rows/s "
                f"({len(csv) / 2**20:.1f} MiB)"
            )

        # --- bulk-load the rest
        rest = args.records - n_imp if have < args.records else 0
        if rest > 0:
            dt = await bulk_load(svc, refs, n_imp, rest, seed=11)
            print(f"bulk load: {rest:,} records in {dt:.1f} s")

        if svc.map_cells.enabled:
            t0 = time.perf_counter()
            await svc.map_cells.stop()
            await svc.map_cells.rebuild()
            print(
                f"map cells rebuilt in {time.perf_counter() - t0:.1f} s "
                f"(zooms 0–{MAX_ZOOM}, used for unfiltered views)"
            )
        else:
            print("map cells: off (every view aggregated live)")

        rng = random.Random(3)
        async with db.session() as s:
            pts = (
                await s.execute(
                    text("SELECT longitude, latitude FROM camera_records ORDER BY id LIMIT 20000")
                )
            ).all()
        centres = [pts[rng.randrange(len(pts))] for _ in range(args.reps)]

        results = []
        for zoom in args.zooms:
            sources: set[str] = set()

            async def vp(i: int, zoom: int = zoom, sources: set[str] = sources) -> int:
                lon, lat = centres[i]
                res = await svc.map_points(ADMIN, viewport(lon, lat, zoom), zoom)
                sources.add(res.get("source", "points"))
                return len(res["items"])

            await vp(0)  # warm
            r = await measure(f"viewport z{zoom:<2}", vp, args.reps)
            r["label"] += f" ({'/'.join(sorted(sources))})"
            results.append(r)

        statuses = ["in_use", "disabled", "faulty"]
        towns = [t[0] for t in sample.TOWNSHIPS]

        async def listing(i: int) -> int:
            f = CameraFilters(
                region=towns[i % len(towns)], status=statuses[i % 3], point_class=1 + i % 3
            )
            page = await svc.list_cameras(ADMIN, f, offset=(i % 5) * 100, limit=100)
            return len(page.items)

        async def listing_q(i: int) -> int:
            f = CameraFilters(q=f"{(i * 37) % 900 + 100}号", network="police_video")
            page = await svc.list_cameras(ADMIN, f, limit=100)
            return len(page.items)

        async def nearest(i: int) -> int:
            lon, lat = centres[i]
            return len(await svc.nearest(ADMIN, lon, lat, limit=10))

        for label, fn in (
            ("list filtered", listing),
            ("list text search", listing_q),
            ("nearest 10", nearest),
        ):
            await fn(0)
            results.append(await measure(label, fn, args.reps))

        async def quality(i: int) -> int:
            return len((await svc.quality(ADMIN, level="county"))["groups"])

        t0 = time.perf_counter()
        await quality(0)  # the GROUP BY over every record; later calls hit the rates cache
        cold = (time.perf_counter() - t0) * 1000
        results.append(await measure("quality by county", quality, max(5, args.reps // 10)))
        results.append(
            {
                "label": "quality, cold (after a change)",
                "p50": cold,
                "p95": cold,
                "max": cold,
                "size": results[-1]["size"],
            }
        )

        print(f"{'query':<28}{'p50 ms':>10}{'p95 ms':>10}{'max ms':>10}{'items':>10}")
        for r in results:
            print(
                f"{r['label']:<28}{r['p50']:>10.1f}{r['p95']:>10.1f}{r['max']:>10.1f}"
                f"{r['size']:>10.0f}"
            )
    finally:
        await db.dispose()
        await cleanup()


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--db", default=None, help="database server URL (default: a temp SQLite file)")
    ap.add_argument(
        "--import-rows",
        type=int,
        default=20_000,
        help="rows imported through the survey-form job (half xlsx, half csv)",
    )
    ap.add_argument(
        "--keep-db",
        default=None,
        metavar="NAME",
        help="PostgreSQL: load into this database once and keep it; later runs only measure",
    )
    ap.add_argument("--reps", type=int, default=100, help="queries per measurement")
    ap.add_argument(
        "--map-cells",
        choices=["auto", "on", "off"],
        default="on",
        help="pre-aggregated map cells (off: every view is aggregated live)",
    )
    ap.add_argument("--zooms", type=int, nargs="+", default=[4, 6, 8, 10, 12, 14, 16, 18])
    args = ap.parse_args()
    try:
        import uvloop

        uvloop.run(run(args))
    except ImportError:
        asyncio.run(run(args))


if __name__ == "__main__":
    main()
