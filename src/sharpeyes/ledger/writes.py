"""Attributed writes with history, and what every part of the ledger service shares.

Writes are attributed: each one adds a ``ledger_changes`` row in its own
transaction (``ledger.history``), and publishes ``ledger.changed`` on the bus.
The concern modules (``reference``, ``records``, ``cameras``, ``transfer``,
``analytics``) each add one layer on top of :class:`LedgerBase`; ``service``
joins them into ``LedgerService``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError

from sharpeyes.events import EventBus
from sharpeyes.jobs import JobRunner
from sharpeyes.ledger import history, quality
from sharpeyes.ledger.mapcells import MapCells
from sharpeyes.ledger.models import (
    Organisation,
    PoliceStation,
    Region,
)
from sharpeyes.ledger.regions import (
    seed_gb2260,
)
from sharpeyes.ledger.settings import LedgerSettings
from sharpeyes.ledger.validation import (
    Rules,
)
from sharpeyes.sharing.principal import Principal
from sharpeyes.sharing.scope import (
    region_in_scope,
)
from sharpeyes.store.db import Database
from sharpeyes.store.paging import Page, fetch_page


class LedgerNotFound(LookupError):
    """Unknown, or outside the principal's scope (indistinguishable on purpose)."""


class LedgerConflict(Exception):
    """The change contradicts what is stored (duplicate code, record still in use)."""


class InvalidRecord(ValueError):
    """Values that break the ledger's rules; ``issues`` says which and why."""

    def __init__(self, issues: list[dict[str, Any]]) -> None:
        self.issues = issues
        super().__init__("; ".join(f"{i['field']}: {i['reason']}" for i in issues))


class LedgerBase:
    """State and the generic scoped read / attributed write helpers."""

    def __init__(
        self,
        db: Database,
        bus: EventBus,
        settings: LedgerSettings | None = None,
        jobs: JobRunner | None = None,
    ) -> None:
        self.db = db
        self.bus = bus
        self.settings = settings or LedgerSettings()
        self.rules = Rules(self.settings)
        self.jobs = jobs or JobRunner(db, bus)
        mode = self.settings.map_cells
        self.map_cells = MapCells(db, enabled=mode == "on" or (mode == "auto" and not db.is_sqlite))
        self.rates_cache = quality.RatesCache()

    async def start(self) -> None:
        if self.map_cells.enabled and not await self.map_cells.is_fresh():
            self.map_cells.schedule()
        if self.settings.seed_regions:
            async with self.db.session() as s:
                counts = await seed_gb2260(s)
                await s.commit()
            if counts["added"]:
                self.bus.publish("ledger.changed", entity="region", action="seed", **counts)

    async def stop(self) -> None:
        await self.map_cells.stop()

    # ================================================================ helpers
    async def _page(self, stmt: Any, offset: int, limit: int) -> Page:
        return await fetch_page(self.db, stmt, offset, limit)

    async def _get_scoped(self, model: Any, pk: int, principal: Principal) -> Any:
        async with self.db.session() as s:
            row = await s.get(model, pk)
        if row is None or (
            hasattr(model, "region_code")
            and principal.region_codes is not None
            and not region_in_scope(principal, row.region_code)
        ):
            raise LedgerNotFound(str(pk))
        return row

    async def _create(
        self,
        model: Any,
        entity: str,
        principal: Principal,
        data: dict[str, Any],
        *,
        scoped: bool = True,
    ) -> Any:
        if scoped and not region_in_scope(principal, data.get("region_code")):
            raise PermissionError("the region is outside your scope")
        async with self.db.session() as s:
            for f, ref in (
                ("region_code", Region),
                ("org_id", Organisation),
                ("parent_id", Organisation),
                ("police_station_id", PoliceStation),
            ):
                if (
                    f in data
                    and data[f] is not None
                    and hasattr(model, f)
                    and await s.get(ref, data[f]) is None
                ):
                    raise ValueError(f"{f}: {data[f]} does not exist")
            row = model(**data)
            if hasattr(model, "updated_by"):
                row.updated_by = principal.username
            s.add(row)
            try:
                await s.flush()
            except IntegrityError as exc:
                raise LedgerConflict(f"{entity} conflicts with an existing one") from exc
            await history.record(s, principal, entity, row.id, "create", _row_dict(row))
            await s.commit()
        self.bus.publish("ledger.changed", entity=entity, action="create", id=row.id)
        return row

    async def _update(
        self,
        model: Any,
        entity: str,
        principal: Principal,
        pk: int,
        changes: dict[str, Any],
        *,
        scoped: bool = True,
    ) -> Any:
        async with self.db.session() as s:
            row = await s.get(model, pk)
            if row is None or (scoped and not region_in_scope(principal, row.region_code)):
                raise LedgerNotFound(str(pk))
            if (
                scoped
                and "region_code" in changes
                and not region_in_scope(principal, changes["region_code"])
            ):
                raise PermissionError("the new region is outside your scope")
            for f, ref in (
                ("region_code", Region),
                ("org_id", Organisation),
                ("parent_id", Organisation),
                ("police_station_id", PoliceStation),
            ):
                if changes.get(f) is not None and await s.get(ref, changes[f]) is None:
                    raise ValueError(f"{f}: {changes[f]} does not exist")
            old = _row_dict(row)
            for k, v in changes.items():
                setattr(row, k, v)
            if hasattr(model, "updated_by"):
                row.updated_by = principal.username
            await history.record(s, principal, entity, pk, "update", history.diff(old, changes))
            try:
                await s.commit()
            except IntegrityError as exc:
                raise LedgerConflict(f"{entity} conflicts with an existing one") from exc
        self.bus.publish("ledger.changed", entity=entity, action="update", id=pk)
        return row

    async def _delete(
        self, model: Any, entity: str, principal: Principal, pk: int, *, scoped: bool = True
    ) -> None:
        async with self.db.session() as s:
            row = await s.get(model, pk)
            if row is None or (scoped and not region_in_scope(principal, row.region_code)):
                raise LedgerNotFound(str(pk))
            old = _row_dict(row)
            await s.delete(row)
            await history.record(s, principal, entity, pk, "delete", old)
            try:
                await s.commit()
            except IntegrityError as exc:
                raise LedgerConflict(f"{entity} {pk} is still in use") from exc
        self.bus.publish("ledger.changed", entity=entity, action="delete", id=pk)


# --------------------------------------------------------------------- helpers
def _flags(ev: Any) -> dict[str, Any]:
    return {"complete": ev.complete, "on_map": ev.on_map, "issues": ev.issues or None}


def _row_dict(row: Any) -> dict[str, Any]:
    out = {}
    for col in row.__table__.columns:
        v = getattr(row, col.key)
        out[col.key] = v.isoformat() if hasattr(v, "isoformat") else v
    return out
