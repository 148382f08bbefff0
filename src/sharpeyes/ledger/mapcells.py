"""Pre-aggregated grid cells for low-zoom map views over millions of cameras.

Aggregating a whole province at zoom 6 means reading every record: ~0.5 ms per
1,000 rows, i.e. hundreds of milliseconds at 1M. The grid (``geo.cell_size_deg``)
halves exactly from one zoom to the next, so cell (cx, cy) at zoom z−1 is
(cx // 2, cy // 2) of zoom z: one GROUP BY over the records at ``MAX_ZOOM`` and a
cheap roll-up per coarser level give every cluster of every low zoom, and a view
then reads a few hundred cell rows.

Freshness: triggers bump ``camera_map_state.data_version`` on any insert, delete
or move of a record, whoever writes it; the cells are used only while
``cells_version`` equals it. Otherwise the query is answered live (same answer,
slower) and a rebuild is scheduled, debounced so an import causes one rebuild.
Cells are used for the unfiltered map (optionally region-scoped to ≤ 6 digits);
any filter is answered live.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from sqlalchemy import Integer, cast, delete, func, insert, literal, or_, select, text, update

from sharpeyes.ledger.geo import GRID_ORIGIN_LAT, GRID_ORIGIN_LON, cell_size_deg
from sharpeyes.ledger.models import CameraRecord, MapCell, MapState
from sharpeyes.sharing.principal import Principal
from sharpeyes.store.db import Database

log = logging.getLogger(__name__)

MAX_ZOOM = 12  # finest pre-aggregated level (cells of 0.022°, ~2 km)
DEBOUNCE_S = 1.0
SCOPE_KEY_LEN = 6


def floor_nonneg(db: Database, expr: Any) -> Any:
    """floor() for values >= 0; SQLite may be built without floor(), and CAST truncates."""
    if db.is_sqlite:
        return cast(expr, Integer)
    return cast(func.floor(expr), Integer)


def cell_exprs(db: Database, zoom: int) -> tuple[Any, Any]:
    c = CameraRecord
    cell = cell_size_deg(zoom)
    return (
        floor_nonneg(db, (c.longitude - GRID_ORIGIN_LON) / cell),
        floor_nonneg(db, (c.latitude - GRID_ORIGIN_LAT) / cell),
    )


def scope_key_expr() -> Any:
    """The scope rule's key (region, else 20-digit code), cut to six digits."""
    c = CameraRecord
    return func.substr(func.coalesce(func.nullif(c.region_code, ""), c.code, ""), 1, SCOPE_KEY_LEN)


def usable_for(principal: Principal) -> bool:
    prefixes = principal.region_codes
    return prefixes is None or all(len(p) <= SCOPE_KEY_LEN for p in prefixes)


class MapCells:
    def __init__(self, db: Database, *, enabled: bool) -> None:
        self.db = db
        self.enabled = enabled
        self._task: asyncio.Task[None] | None = None
        self.last_build_s: float | None = None
        self.builds = 0

    async def is_fresh(self) -> bool:
        async with self.db.session() as s:
            row = (await s.execute(select(MapState.data_version, MapState.cells_version))).first()
        return row is not None and row[0] == row[1]

    def schedule(self) -> None:
        """Rebuild soon (once, however many changes arrive meanwhile)."""
        if self.enabled and (self._task is None or self._task.done()):
            self._task = asyncio.create_task(self._debounced(), name="ledger-map-cells")

    async def _debounced(self) -> None:
        try:
            for _ in range(5):  # changes during a build: build again, a few times at most
                await asyncio.sleep(DEBOUNCE_S)
                await self.rebuild()
                if await self.is_fresh():
                    return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("map cell rebuild failed; the map is answered live meanwhile")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def rebuild(self) -> None:
        """Recompute every cell from the records, in one transaction."""
        t0 = time.perf_counter()
        c = CameraRecord
        async with self.db.session() as s:
            if not self.db.is_sqlite:
                got = await s.scalar(text("SELECT pg_try_advisory_xact_lock(2818101)"))
                if not got:
                    return  # another node is building them
            version = await s.scalar(select(MapState.data_version).where(MapState.id == 1))
            await s.execute(delete(MapCell))
            cx, cy = cell_exprs(self.db, MAX_ZOOM)
            key = scope_key_expr()
            base = (
                select(
                    literal(MAX_ZOOM),
                    cx.label("cx"),
                    cy.label("cy"),
                    key.label("k"),
                    func.count(),
                    func.sum(c.longitude),
                    func.sum(c.latitude),
                    func.min(c.longitude),
                    func.min(c.latitude),
                    func.max(c.longitude),
                    func.max(c.latitude),
                    func.min(c.id),
                )
                .where(c.on_map.is_(True))
                .group_by(text("cx"), text("cy"), text("k"))
            )
            cols = [
                "zoom",
                "cx",
                "cy",
                "scope_key",
                "n",
                "sum_lon",
                "sum_lat",
                "min_lon",
                "min_lat",
                "max_lon",
                "max_lat",
                "min_id",
            ]
            await s.execute(insert(MapCell).from_select(cols, base))
            m = MapCell
            for z in range(MAX_ZOOM, 0, -1):
                # integer division floors for the non-negative cell indices
                px, py = (m.cx // 2).label("px"), (m.cy // 2).label("py")
                up = (
                    select(
                        literal(z - 1),
                        cast(px, Integer),
                        cast(py, Integer),
                        m.scope_key,
                        func.sum(m.n),
                        func.sum(m.sum_lon),
                        func.sum(m.sum_lat),
                        func.min(m.min_lon),
                        func.min(m.min_lat),
                        func.max(m.max_lon),
                        func.max(m.max_lat),
                        func.min(m.min_id),
                    )
                    .where(m.zoom == z)
                    .group_by(text("px"), text("py"), m.scope_key)
                )
                await s.execute(insert(MapCell).from_select(cols, up))
            await s.execute(update(MapState).where(MapState.id == 1).values(cells_version=version))
            await s.commit()
        self.last_build_s = time.perf_counter() - t0
        self.builds += 1
        log.info("map cells rebuilt in %.2f s", self.last_build_s)

    async def clusters(
        self,
        principal: Principal,
        zoom: int,
        cell_range: tuple[int, int, int, int],
    ) -> list[Any]:
        """Rows (cx, cy, n, lon, lat, min_lon, min_lat, max_lon, max_lat, id) for a view."""
        m = MapCell
        cx0, cy0, cx1, cy1 = cell_range
        n = func.sum(m.n)
        stmt = (
            select(
                m.cx.label("cx"),
                m.cy.label("cy"),
                n.label("n"),
                (func.sum(m.sum_lon) / n).label("lon"),
                (func.sum(m.sum_lat) / n).label("lat"),
                func.min(m.min_lon).label("min_lon"),
                func.min(m.min_lat).label("min_lat"),
                func.max(m.max_lon).label("max_lon"),
                func.max(m.max_lat).label("max_lat"),
                func.min(m.min_id).label("id"),
            )
            .where(m.zoom == zoom, m.cx.between(cx0, cx1), m.cy.between(cy0, cy1))
            .group_by(m.cx, m.cy)
        )
        if principal.region_codes is not None:
            stmt = stmt.where(
                or_(*(m.scope_key.startswith(p, autoescape=True) for p in principal.region_codes))
                if principal.region_codes
                else literal(False)
            )
        async with self.db.session() as s:
            return list((await s.execute(stmt)).all())
