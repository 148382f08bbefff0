"""Reference data of the ledger: regions (GB/T 2260), police stations, units, platforms."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from sharpeyes.ledger import dictionaries as d
from sharpeyes.ledger import history
from sharpeyes.ledger.models import (
    InternalSystemRecord,
    Organisation,
    PlatformRecord,
    PoliceStation,
    Region,
)
from sharpeyes.ledger.regions import (
    GB2260_SOURCE,
    RegionIndex,
    level_for_code,
    normalise_region_code,
)
from sharpeyes.ledger.writes import (
    LedgerBase,
    LedgerConflict,
    LedgerNotFound,
    _row_dict,
)
from sharpeyes.sharing.principal import Principal
from sharpeyes.sharing.scope import (
    region_in_scope,
    scope_by_region,
)
from sharpeyes.store.paging import Page


class ReferenceData(LedgerBase):
    """Regions, police stations, organisations, platforms and internal systems."""

    # ================================================================ regions
    async def list_regions(
        self,
        *,
        parent: str | None = None,
        level: str | None = None,
        q: str | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> Page:
        stmt = select(Region)
        if parent is not None:
            stmt = stmt.where(Region.parent_code == normalise_region_code(parent))
        elif not q and not level:
            stmt = stmt.where(Region.parent_code.is_(None))
        if level:
            stmt = stmt.where(Region.level == level)
        if q:
            stmt = stmt.where(Region.name.contains(q, autoescape=True))
        return await self._page(stmt.order_by(Region.code), offset, limit)

    async def get_region(self, code: str) -> dict[str, Any]:
        code = normalise_region_code(code)
        async with self.db.session() as s:
            row = await s.get(Region, code)
            if row is None:
                raise LedgerNotFound(code)
            path: list[dict[str, str]] = []
            cur: Region | None = row
            while cur is not None and len(path) < 12:
                path.insert(0, {"code": cur.code, "name": cur.name, "level": cur.level})
                cur = await s.get(Region, cur.parent_code) if cur.parent_code else None
            children = (
                await s.execute(select(func.count()).where(Region.parent_code == code))
            ).scalar_one()
        return {**_row_dict(row), "path": path, "children": children}

    async def create_regions(
        self, principal: Principal, items: list[dict[str, Any]], *, source: str = "operator"
    ) -> list[Region]:
        """Add regions below county (townships, villages, communities); parents first."""
        created: list[Region] = []
        async with self.db.session() as s:
            for item in items:
                code = normalise_region_code(str(item["code"]))
                name = str(item.get("name") or "").strip()
                if not name or len(name) > 64:
                    raise ValueError(f"region {code}: name must be 1–64 characters")
                parent_code = item.get("parent_code")
                parent_code = normalise_region_code(str(parent_code)) if parent_code else None
                if parent_code is None:
                    raise ValueError(f"region {code}: parent_code is required")
                parent = await s.get(Region, parent_code)
                if parent is None:
                    raise ValueError(f"region {code}: parent {parent_code} does not exist")
                if not code.startswith(parent_code) or len(code) <= len(parent_code):
                    raise ValueError(
                        f"region {code}: a child's code must extend its parent's ({parent_code}…)"
                    )
                if not region_in_scope(principal, code):
                    raise PermissionError(f"region {code} is outside your scope")
                if await s.get(Region, code) is not None:
                    raise LedgerConflict(f"region {code} already exists")
                level = item.get("level") or level_for_code(code, parent.level)
                if level not in d.REGION_LEVEL.labels:
                    raise ValueError(f"region {code}: unknown level {level!r}")
                row = Region(
                    code=code,
                    name=name,
                    level=level,
                    kind=item.get("kind"),
                    parent_code=parent_code,
                    source=source,
                )
                s.add(row)
                await s.flush()
                await history.record(s, principal, "region", code, "create", _row_dict(row))
                created.append(row)
            await s.commit()
        self.bus.publish("ledger.changed", entity="region", action="create", count=len(created))
        return created

    async def update_region(
        self, principal: Principal, code: str, changes: dict[str, Any]
    ) -> Region:
        code = normalise_region_code(code)
        if not region_in_scope(principal, code):
            raise LedgerNotFound(code)
        async with self.db.session() as s:
            row = await s.get(Region, code)
            if row is None:
                raise LedgerNotFound(code)
            if row.source == GB2260_SOURCE:
                raise LedgerConflict("GB/T 2260 regions are maintained by the national list")
            allowed = {k: v for k, v in changes.items() if k in ("name", "kind", "level")}
            if "level" in allowed and allowed["level"] not in d.REGION_LEVEL.labels:
                raise ValueError(f"unknown level {allowed['level']!r}")
            old = _row_dict(row)
            for k, v in allowed.items():
                setattr(row, k, v)
            await history.record(s, principal, "region", code, "update", history.diff(old, allowed))
            await s.commit()
        return row

    async def delete_region(self, principal: Principal, code: str) -> None:
        code = normalise_region_code(code)
        if not region_in_scope(principal, code):
            raise LedgerNotFound(code)
        async with self.db.session() as s:
            row = await s.get(Region, code)
            if row is None:
                raise LedgerNotFound(code)
            if row.source == GB2260_SOURCE:
                raise LedgerConflict("GB/T 2260 regions cannot be deleted")
            old = _row_dict(row)
            await s.delete(row)
            await history.record(s, principal, "region", code, "delete", old)
            try:
                await s.commit()
            except IntegrityError as exc:
                raise LedgerConflict(f"region {code} is still used (children or records)") from exc

    # ========================================================= police stations
    async def list_police_stations(
        self,
        principal: Principal,
        *,
        region: str | None = None,
        q: str | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> Page:
        stmt = scope_by_region(select(PoliceStation), PoliceStation.region_code, principal)
        if region:
            stmt = stmt.where(PoliceStation.region_code.startswith(region, autoescape=True))
        if q:
            stmt = stmt.where(PoliceStation.name.contains(q, autoescape=True))
        return await self._page(
            stmt.order_by(PoliceStation.region_code, PoliceStation.name), offset, limit
        )

    async def get_police_station(self, principal: Principal, pk: int) -> PoliceStation:
        return await self._get_scoped(PoliceStation, pk, principal)

    async def create_police_station(
        self, principal: Principal, data: dict[str, Any]
    ) -> PoliceStation:
        data = dict(data)
        data["region_code"] = normalise_region_code(str(data["region_code"]))
        return await self._create(PoliceStation, "police_station", principal, data)

    async def update_police_station(
        self, principal: Principal, pk: int, changes: dict[str, Any]
    ) -> PoliceStation:
        if changes.get("region_code"):
            changes["region_code"] = normalise_region_code(str(changes["region_code"]))
        return await self._update(PoliceStation, "police_station", principal, pk, changes)

    async def delete_police_station(self, principal: Principal, pk: int) -> None:
        await self._delete(PoliceStation, "police_station", principal, pk)

    # =========================================================== organisations
    async def list_organisations(
        self,
        *,
        parent_id: int | None = None,
        roots: bool = False,
        type_: str | None = None,
        region: str | None = None,
        q: str | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> Page:
        stmt = select(Organisation)
        if parent_id is not None:
            stmt = stmt.where(Organisation.parent_id == parent_id)
        elif roots:
            stmt = stmt.where(Organisation.parent_id.is_(None))
        if type_:
            stmt = stmt.where(Organisation.type == type_)
        if region:
            stmt = stmt.where(Organisation.region_code.startswith(region, autoescape=True))
        if q:
            stmt = stmt.where(Organisation.name.contains(q, autoescape=True))
        return await self._page(stmt.order_by(Organisation.id), offset, limit)

    async def get_organisation(self, pk: int) -> Organisation:
        async with self.db.session() as s:
            row = await s.get(Organisation, pk)
        if row is None:
            raise LedgerNotFound(str(pk))
        return row

    async def organisation_tree(self) -> list[dict[str, Any]]:
        async with self.db.session() as s:
            rows = list((await s.execute(select(Organisation).order_by(Organisation.id))).scalars())
        nodes = {r.id: {**_row_dict(r), "children": []} for r in rows}
        roots: list[dict[str, Any]] = []
        for r in rows:
            (nodes[r.parent_id]["children"] if r.parent_id in nodes else roots).append(nodes[r.id])
        return roots

    async def org_subtree(self, pk: int) -> list[int]:
        async with self.db.session() as s:
            rows = (await s.execute(select(Organisation.id, Organisation.parent_id))).all()
        children: dict[int | None, list[int]] = {}
        for oid, parent in rows:
            children.setdefault(parent, []).append(oid)
        out, stack = [], [pk]
        while stack:
            cur = stack.pop()
            if cur in out:
                continue
            out.append(cur)
            stack.extend(children.get(cur, []))
        return out

    async def create_organisation(self, principal: Principal, data: dict[str, Any]) -> Organisation:
        self._check_org(data)
        return await self._create(Organisation, "organisation", principal, data)

    async def update_organisation(
        self, principal: Principal, pk: int, changes: dict[str, Any]
    ) -> Organisation:
        self._check_org(changes)
        await self._org_writable(principal, pk)
        parent = changes.get("parent_id")
        if parent is not None and parent in await self.org_subtree(pk):
            raise ValueError("an organisation cannot be moved under itself")
        return await self._update(Organisation, "organisation", principal, pk, changes)

    async def delete_organisation(self, principal: Principal, pk: int) -> None:
        await self._org_writable(principal, pk)
        await self._delete(Organisation, "organisation", principal, pk)

    async def _org_writable(self, principal: Principal, pk: int) -> None:
        """Units are readable by everyone (shared reference data) but changed only
        within the principal's regions: 403, not 404, for one the user can see."""
        org = await self.get_organisation(pk)
        if not region_in_scope(principal, org.region_code):
            raise PermissionError("the organisation's region is outside your scope")

    def _check_org(self, data: dict[str, Any]) -> None:
        if data.get("type") is not None and data["type"] not in d.ORG_TYPE.labels:
            code = d.ORG_TYPE.parse(str(data["type"]))
            if code is None:
                raise ValueError(f"unknown organisation type {data['type']!r}")
            data["type"] = code
        if data.get("level") is not None and data["level"] not in d.ORG_LEVEL.labels:
            raise ValueError(f"unknown organisation level {data['level']!r}")
        if data.get("region_code"):
            data["region_code"] = normalise_region_code(str(data["region_code"]))

    # ============================================ platform / internal systems
    async def list_platforms(
        self, principal: Principal, *, q: str | None = None, offset: int = 0, limit: int = 100
    ) -> Page:
        stmt = scope_by_region(select(PlatformRecord), PlatformRecord.region_code, principal)
        if q:
            stmt = stmt.where(PlatformRecord.name.contains(q, autoescape=True))
        return await self._page(stmt.order_by(PlatformRecord.id), offset, limit)

    async def get_platform(self, principal: Principal, pk: int) -> PlatformRecord:
        return await self._get_scoped(PlatformRecord, pk, principal)

    async def create_platform(self, principal: Principal, data: dict[str, Any]) -> PlatformRecord:
        return await self._create(PlatformRecord, "platform", principal, self._norm_region(data))

    async def update_platform(
        self, principal: Principal, pk: int, changes: dict[str, Any]
    ) -> PlatformRecord:
        return await self._update(
            PlatformRecord, "platform", principal, pk, self._norm_region(changes)
        )

    async def delete_platform(self, principal: Principal, pk: int) -> None:
        await self._delete(PlatformRecord, "platform", principal, pk)

    async def list_internal_systems(
        self, principal: Principal, *, q: str | None = None, offset: int = 0, limit: int = 100
    ) -> Page:
        stmt = scope_by_region(
            select(InternalSystemRecord), InternalSystemRecord.region_code, principal
        )
        if q:
            stmt = stmt.where(InternalSystemRecord.name.contains(q, autoescape=True))
        return await self._page(stmt.order_by(InternalSystemRecord.id), offset, limit)

    async def get_internal_system(self, principal: Principal, pk: int) -> InternalSystemRecord:
        return await self._get_scoped(InternalSystemRecord, pk, principal)

    async def create_internal_system(
        self, principal: Principal, data: dict[str, Any]
    ) -> InternalSystemRecord:
        return await self._create(
            InternalSystemRecord, "internal_system", principal, self._norm_region(data)
        )

    async def update_internal_system(
        self, principal: Principal, pk: int, changes: dict[str, Any]
    ) -> InternalSystemRecord:
        return await self._update(
            InternalSystemRecord, "internal_system", principal, pk, self._norm_region(changes)
        )

    async def delete_internal_system(self, principal: Principal, pk: int) -> None:
        await self._delete(InternalSystemRecord, "internal_system", principal, pk)

    @staticmethod
    def _norm_region(data: dict[str, Any]) -> dict[str, Any]:
        if data.get("region_code"):
            data = {**data, "region_code": normalise_region_code(str(data["region_code"]))}
        return data

    @staticmethod
    def region_prefix_names(index: RegionIndex | None) -> Callable[[str], list[str]]:
        """Names a record's name may start with: its county's and below (naming rule)."""

        def names(code: str) -> list[str]:
            if index is None:
                return []
            out = []
            for c in index.ancestors(code):
                if len(c) >= 6:
                    out.append(index.name[c])
            return out

        return names

    async def _region_index(self) -> RegionIndex:
        async with self.db.session() as s:
            rows = (
                await s.execute(select(Region.code, Region.name, Region.parent_code, Region.level))
            ).all()
        return RegionIndex(tuple(r) for r in rows)
