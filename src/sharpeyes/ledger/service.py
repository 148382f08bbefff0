"""What the API may ask of the ledger: scoped reads, attributed writes, imports,
exports, quality and map queries. The API layer stays thin; scope is applied here
through ``sharing.scope`` on every camera read, export and map query.

Writes are attributed: each one adds a ``ledger_changes`` row in its own
transaction (``ledger.history``), and publishes ``ledger.changed`` on the bus.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, ClassVar

from sqlalchemy import delete, exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from sharpeyes.events import EventBus
from sharpeyes.jobs import JobRunner, JobState
from sharpeyes.ledger import dictionaries as d
from sharpeyes.ledger import history, mapquery, quality
from sharpeyes.ledger.fields import CAMERA_FIELDS, coerce_camera_input
from sharpeyes.ledger.geo import gcj02_to_wgs84, haversine_m
from sharpeyes.ledger.importer import (
    ALL_OR_NOTHING,
    CameraImport,
    Lookups,
    RecordImport,
    form_fields,
    load_existing,
)
from sharpeyes.ledger.mapcells import MapCells
from sharpeyes.ledger.models import (
    CameraRecord,
    InternalSystemRecord,
    LedgerChange,
    Organisation,
    PlatformRecord,
    PoliceStation,
    Region,
)
from sharpeyes.ledger.queries import (
    NO_LINK,
    CameraFilters,
    apply_filters,
    channel_links,
    counted_total,
    linked_clause,
)
from sharpeyes.ledger.regions import (
    GB2260_SOURCE,
    RegionIndex,
    level_for_code,
    normalise_region_code,
    seed_gb2260,
)
from sharpeyes.ledger.settings import LedgerSettings
from sharpeyes.ledger.survey_form import (
    CAMERA_FORM,
    CSV,
    XLSX,
    open_table,
    render_row,
    write_csv,
    write_xlsx,
)
from sharpeyes.ledger.validation import (
    Rules,
    coordinate_text_problem,
    evaluate,
    invalid_values,
)
from sharpeyes.sharing.principal import Principal
from sharpeyes.sharing.scope import (
    can_see_camera_record,
    region_in_scope,
    scope_by_region,
    scope_camera_records,
    scope_channels,
)
from sharpeyes.store.db import Database
from sharpeyes.store.models import Channel
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


# Fields shown side by side when a record has a channel: ledger vs device.
OVERLAPS: tuple[tuple[str, str], ...] = (
    ("name", "name"),
    ("brand", "manufacturer"),
    ("region_code", "civil_code"),
    ("location_name", "address"),
    ("camera_type", "ptz_type"),
    ("direction", "direction_type"),
    ("position_type", "position_type"),
    ("room_type", "room_type"),
    ("use_type", "use_type"),
    ("resolution", "resolution"),
)
DEVICE_FIELDS = (
    "device_id",
    "channel_id",
    "name",
    "manufacturer",
    "model",
    "owner",
    "civil_code",
    "address",
    "status",
    "online",
    "longitude",
    "latitude",
    "ptz_type",
    "direction_type",
    "position_type",
    "room_type",
    "use_type",
    "resolution",
    "ip_address",
    "updated_at",
)


class LedgerService:
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

    # ================================================================ cameras
    def _camera_select(self) -> Any:
        owner = aliased(Organisation)
        maint = aliased(Organisation)
        return (
            select(
                CameraRecord,
                Region.name.label("region_name"),
                PoliceStation.name.label("police_station_name"),
                owner.name.label("owner_org_name"),
                maint.name.label("maintainer_org_name"),
                linked_clause().label("linked"),
            )
            .outerjoin(Region, Region.code == CameraRecord.region_code)
            .outerjoin(PoliceStation, PoliceStation.id == CameraRecord.police_station_id)
            .outerjoin(owner, owner.id == CameraRecord.owner_org_id)
            .outerjoin(maint, maint.id == CameraRecord.maintainer_org_id)
        )

    async def resolve_filters(self, f: CameraFilters, org_id: int | None) -> CameraFilters:
        if org_id is not None:
            f.org_ids = await self.org_subtree(org_id)
        if f.category is not None and f.category not in self.rules.categories:
            code = self.rules.category_code(f.category)
            if code is None:
                raise ValueError(f"unknown key-area category {f.category!r}")
            f.category = code
        return f

    async def list_cameras(
        self,
        principal: Principal,
        filters: CameraFilters,
        *,
        offset: int = 0,
        limit: int = 100,
        sort: str = "id",
    ) -> Page:
        order = {
            "id": CameraRecord.id,
            "-id": CameraRecord.id.desc(),
            "code": CameraRecord.code,
            "name": CameraRecord.name,
            "updated_at": CameraRecord.updated_at,
            "-updated_at": CameraRecord.updated_at.desc(),
        }.get(sort)
        if order is None:
            raise ValueError("sort must be id, -id, code, name, updated_at or -updated_at")
        base = apply_filters(scope_camera_records(select(CameraRecord.id), principal), filters)
        stmt = apply_filters(scope_camera_records(self._camera_select(), principal), filters)
        async with self.db.session() as s:
            total, estimated = await counted_total(s, base, estimate=not self.db.is_sqlite)
            rows = (
                await s.execute(stmt.order_by(order, CameraRecord.id).offset(offset).limit(limit))
            ).all()
            items = [_camera_dict(r) for r in rows]
            links = await channel_links(s, (i["code"] for i in items))
        for i in items:
            i.update(links.get(i["code"], NO_LINK) if i["code"] else NO_LINK)
        return Page(items, total, offset, limit, total_estimated=estimated)

    async def get_camera(self, principal: Principal, pk: int) -> dict[str, Any]:
        stmt = scope_camera_records(self._camera_select().where(CameraRecord.id == pk), principal)
        async with self.db.session() as s:
            row = (await s.execute(stmt)).first()
            if row is None:
                raise LedgerNotFound(str(pk))
            out = _camera_dict(row)
            channel = None
            if out["code"]:
                channel = (
                    await s.execute(
                        select(Channel)
                        .where(Channel.channel_id == out["code"])
                        .order_by(Channel.online.desc(), Channel.updated_at.desc())
                        .limit(1)
                    )
                ).scalar()
        out["device"] = None if channel is None else {f: getattr(channel, f) for f in DEVICE_FIELDS}
        out["compare"] = _compare(out, channel)
        out.update(
            NO_LINK
            if channel is None
            else {
                "online": channel.online,
                "device_id": channel.device_id,
                "channel_pk": channel.id,
            }
        )
        return out

    async def _check_refs(self, s: Any, values: dict[str, Any]) -> None:
        checks = (
            ("region_code", Region),
            ("police_station_id", PoliceStation),
            ("owner_org_id", Organisation),
            ("maintainer_org_id", Organisation),
            ("platform_id", PlatformRecord),
        )
        for f, model in checks:
            v = values.get(f)
            if v is not None and await s.get(model, v) is None:
                raise ValueError(f"{f}: {v} does not exist")

    def _prepare(
        self, merged: dict[str, Any], raw: dict[str, Any], crs: str, index: RegionIndex | None
    ) -> dict[str, Any]:
        """Literal checks on typed input, GCJ-02 conversion, rules; raises InvalidRecord."""
        issues: list[dict[str, Any]] = []
        for axis in ("longitude", "latitude"):
            v = raw.get(axis)
            if isinstance(v, str) and v.strip():
                p = coordinate_text_problem(v, axis)
                if p:
                    issues.append({"field": axis, "reason": p, "value": v})
        if issues:
            raise InvalidRecord(issues)
        typed_coords = "longitude" in raw or "latitude" in raw
        lon, lat = merged.get("longitude"), merged.get("latitude")
        if crs == "gcj02" and typed_coords and lon is not None and lat is not None:
            merged["longitude"], merged["latitude"] = gcj02_to_wgs84(lon, lat)
        names = self.region_prefix_names(index) if index is not None else None
        invalid = invalid_values(merged, self.rules, names)
        if invalid:
            raise InvalidRecord([i.as_dict() for i in invalid])
        ev = evaluate(merged, self.rules, names, invalid=[])
        return {"complete": ev.complete, "on_map": ev.on_map, "issues": ev.issues or None}

    async def create_camera(
        self, principal: Principal, data: dict[str, Any], *, crs: str = "wgs84"
    ) -> dict[str, Any]:
        values = coerce_camera_input(data, self.rules)
        merged = {f: None for f in CAMERA_FIELDS} | {"social": False} | values
        if merged.get("social") is None:
            merged["social"] = False
        if not can_see_camera_record(principal, merged.get("region_code"), merged.get("code")):
            raise PermissionError("the record's region is outside your scope")
        index = await self._region_index() if self.settings.naming_region_prefix else None
        flags = self._prepare(merged, data, crs, index)
        async with self.db.session() as s:
            await self._check_refs(s, merged)
            if merged.get("code") and await s.scalar(
                select(CameraRecord.id).where(CameraRecord.code == merged["code"])
            ):
                raise LedgerConflict(f"a record with code {merged['code']} already exists")
            row = CameraRecord(
                **merged, **flags, created_by=principal.username, updated_by=principal.username
            )
            s.add(row)
            await s.flush()
            await history.record(
                s,
                principal,
                "camera",
                row.id,
                "create",
                {k: v for k, v in merged.items() if v is not None},
            )
            try:
                await s.commit()
            except IntegrityError as exc:
                raise LedgerConflict("the record conflicts with an existing one") from exc
            pk = row.id
        self.bus.publish("ledger.changed", entity="camera", action="create", id=pk)
        return await self.get_camera(principal, pk)

    async def update_camera(
        self, principal: Principal, pk: int, data: dict[str, Any], *, crs: str = "wgs84"
    ) -> dict[str, Any]:
        values = coerce_camera_input(data, self.rules)
        if "social" in values and values["social"] is None:
            values["social"] = False
        index = await self._region_index() if self.settings.naming_region_prefix else None
        async with self.db.session() as s:
            row = (
                await s.execute(
                    scope_camera_records(
                        select(CameraRecord).where(CameraRecord.id == pk), principal
                    )
                )
            ).scalar()
            if row is None:
                raise LedgerNotFound(str(pk))
            old = {f: getattr(row, f) for f in CAMERA_FIELDS}
            merged = old | values
            if not can_see_camera_record(principal, merged.get("region_code"), merged.get("code")):
                raise PermissionError("the record's new region is outside your scope")
            flags = self._prepare(merged, data, crs, index)
            await self._check_refs(s, values)
            if (
                values.get("code")
                and values["code"] != old["code"]
                and await s.scalar(
                    select(CameraRecord.id).where(CameraRecord.code == values["code"])
                )
            ):
                raise LedgerConflict(f"a record with code {values['code']} already exists")
            new = {f: merged[f] for f in CAMERA_FIELDS}
            changes = history.diff(old, new)
            for f, v in new.items():
                setattr(row, f, v)
            for f, v in flags.items():
                setattr(row, f, v)
            row.updated_by = principal.username
            if changes:
                await history.record(s, principal, "camera", pk, "update", changes)
            await s.commit()
        self.bus.publish("ledger.changed", entity="camera", action="update", id=pk)
        return await self.get_camera(principal, pk)

    async def delete_camera(self, principal: Principal, pk: int) -> None:
        async with self.db.session() as s:
            row = (
                await s.execute(
                    scope_camera_records(
                        select(CameraRecord).where(CameraRecord.id == pk), principal
                    )
                )
            ).scalar()
            if row is None:
                raise LedgerNotFound(str(pk))
            old = {f: getattr(row, f) for f in CAMERA_FIELDS if getattr(row, f) is not None}
            await s.delete(row)
            await history.record(s, principal, "camera", pk, "delete", old)
            await s.commit()
        self.bus.publish("ledger.changed", entity="camera", action="delete", id=pk)

    async def history(
        self,
        principal: Principal,
        *,
        entity: str | None = None,
        entity_id: str | None = None,
        limit: int = 200,
    ) -> list[LedgerChange]:
        if entity == "camera" and entity_id is not None:
            await self.get_camera(principal, int(entity_id))  # scope check
        stmt = select(LedgerChange).order_by(LedgerChange.id.desc()).limit(limit)
        if entity:
            stmt = stmt.where(LedgerChange.entity == entity)
        if entity_id is not None:
            stmt = stmt.where(LedgerChange.entity_id == str(entity_id))
        if principal.region_codes is not None and entity_id is None:
            # The global feed mixes regions: restricted users see their own actions.
            stmt = stmt.where(LedgerChange.user_id == principal.user_id)
        async with self.db.session() as s:
            return list((await s.execute(stmt)).scalars())

    async def sync_from_channels(self, principal: Principal) -> dict[str, int]:
        """Create ledger records for camera channels that have none (M3.2).

        Device values become the first ledger values (name, brand, coordinates if
        valid, region from the civil code or the code); what fails the rules is
        kept and listed as issues rather than refused — the device said so.
        """
        cam_types = [str(t) for t in self.rules.camera_types]
        stmt = (
            select(Channel)
            .where(Channel.kind == "channel")
            .where(func.substr(Channel.channel_id, 11, 3).in_(cam_types))
            .where(~exists().where(CameraRecord.code == Channel.channel_id))
            .order_by(Channel.channel_id, Channel.id)
        )
        stmt = scope_channels(stmt, principal)
        index = await self._region_index()
        names = self.region_prefix_names(index)
        async with self.db.session() as s:
            channels = list((await s.execute(stmt)).scalars())
        created = 0
        seen: set[str] = set()
        for start in range(0, len(channels), 500):
            batch = []
            for ch in channels[start : start + 500]:
                if ch.channel_id in seen or len(ch.channel_id) != 20:
                    continue
                seen.add(ch.channel_id)
                batch.append(self._record_from_channel(ch, index, names))
            async with self.db.session() as s:
                for values in batch:
                    row = CameraRecord(
                        **values, created_by=principal.username, updated_by=principal.username
                    )
                    s.add(row)
                    await s.flush()
                    await history.record(
                        s, principal, "camera", row.id, "sync", {"from_channel": values["code"]}
                    )
                await s.commit()
            created += len(batch)
        if created:
            self.bus.publish("ledger.changed", entity="camera", action="sync", count=created)
        return {"created": created, "channels": len(channels)}

    async def record_for_channel(
        self, principal: Principal, channel_id: str, values: dict[str, Any]
    ) -> int | None:
        """The ledger record of one channel, made like ``sync_from_channels`` does, with
        ``values`` (e.g. a proxy's network 社会资源接入网) on top; None if one exists."""
        stmt = scope_channels(select(Channel).where(Channel.channel_id == channel_id), principal)
        async with self.db.session() as s:
            ch = (await s.execute(stmt)).scalars().first()
            if ch is None or await s.scalar(
                select(CameraRecord.id).where(CameraRecord.code == channel_id)
            ):
                return None
        index = await self._region_index()
        names = self.region_prefix_names(index)
        v = self._record_from_channel(ch, index, names)
        v = {k: x for k, x in v.items() if k not in ("complete", "on_map", "issues")} | values
        ev = evaluate(v, self.rules, names)
        async with self.db.session() as s:
            row = CameraRecord(
                **v,
                complete=ev.complete,
                on_map=ev.on_map,
                issues=ev.issues or None,
                created_by=principal.username,
                updated_by=principal.username,
            )
            s.add(row)
            await s.flush()
            await history.record(
                s, principal, "camera", row.id, "sync", {"from_channel": channel_id}
            )
            await s.commit()
            pk = row.id
        self.bus.publish("ledger.changed", entity="camera", action="create", id=pk)
        return pk

    def _record_from_channel(
        self, ch: Channel, index: RegionIndex, names: Callable[[str], list[str]]
    ) -> dict[str, Any]:
        from sharpeyes.ledger.regions import code_region_prefix
        from sharpeyes.ledger.validation import coordinate_problem

        region = None
        for cand in (ch.civil_code, code_region_prefix(ch.channel_id)):
            if not cand:
                continue
            try:
                cand = normalise_region_code(cand)
            except ValueError:
                continue
            # a township the regions table lacks falls back to its nearest known ancestor
            while len(cand) >= 2 and cand not in index:
                cand = cand[:-1]
            if len(cand) >= 2:
                region = cand
                break
        lon, lat = ch.longitude, ch.latitude
        if coordinate_problem(lon, "longitude") or coordinate_problem(lat, "latitude"):
            lon = lat = None
        v: dict[str, Any] = {f: None for f in CAMERA_FIELDS} | {
            "code": ch.channel_id,
            "name": (ch.name or None) and ch.name[:128],
            "brand": (ch.manufacturer or None) and ch.manufacturer[:64],
            "location_name": (ch.address or None) and ch.address[:256],
            "region_code": region,
            "longitude": lon,
            "latitude": lat,
            "status": "in_use",
            "camera_type": ch.ptz_type if ch.ptz_type in (1, 2, 3, 4) else None,
            "direction": ch.direction_type if ch.direction_type in range(1, 9) else None,
            "position_type": ch.position_type,
            "room_type": ch.room_type,
            "use_type": ch.use_type,
            "resolution": (ch.resolution or None) and ch.resolution[:32],
            "social": False,
        }
        ev = evaluate(v, self.rules, names)
        return v | {"complete": ev.complete, "on_map": ev.on_map, "issues": ev.issues or None}

    async def revalidate(self, principal: Principal) -> JobState:
        """Recompute complete / on_map / issues of every record (after rule changes)."""

        async def run(ctx: Any) -> None:
            index = await self._region_index()
            names = self.region_prefix_names(index)
            last = 0
            done = 0
            async with self.db.session() as s:
                total = (
                    await s.execute(select(func.count()).select_from(CameraRecord))
                ).scalar_one()
            while True:
                cols = [CameraRecord.id, *(getattr(CameraRecord, f) for f in CAMERA_FIELDS)]
                async with self.db.session() as s:
                    rows = [
                        dict(r._mapping)
                        for r in (
                            await s.execute(
                                select(*cols)
                                .where(CameraRecord.id > last)
                                .order_by(CameraRecord.id)
                                .limit(1000)
                            )
                        ).all()
                    ]
                if not rows:
                    break
                updates = await asyncio.to_thread(
                    lambda rs=rows: [
                        {"id": r["id"], **_flags(evaluate(r, self.rules, names))} for r in rs
                    ]
                )
                from sqlalchemy import update as sa_update

                async with self.db.session() as s:
                    await s.execute(sa_update(CameraRecord), updates)
                    await s.commit()
                last = rows[-1]["id"]
                done += len(rows)
                await ctx.progress(done / max(1, total), checked=done)

        return await self.jobs.submit(principal, "ledger.revalidate", {}, run)

    # ======================================================== forms (I/O)
    def template(self, fmt: str, form: str = "camera") -> bytes:
        from sharpeyes.ledger.survey_form import FORMS

        spec = FORMS[form]
        if fmt == XLSX:
            dictionaries = {
                "重点区域类别": list(self.rules.categories.values()),
                **{
                    v.name: list(v.labels.values())
                    for v in (d.STATUS, d.INTEGRATION_METHOD, d.NETWORK, d.POLE_CONDITION)
                },
            }
            return write_xlsx(spec, [], template=True, dictionaries=dictionaries)
        if fmt == CSV:
            return write_csv(spec, [], template=True)
        raise ValueError("format must be xlsx or csv")

    async def export_cameras(
        self, principal: Principal, filters: CameraFilters, fmt: str
    ) -> tuple[bytes, int]:
        """The records in scope and filter as the survey form; recorded in history."""
        if fmt not in (XLSX, CSV):
            raise ValueError("format must be xlsx or csv")
        cols = [CameraRecord.id, *(getattr(CameraRecord, f) for f in CAMERA_FIELDS)]
        stmt = apply_filters(scope_camera_records(select(*cols), principal), filters).order_by(
            CameraRecord.id
        )
        async with self.db.session() as s:
            rows = [dict(r._mapping) for r in (await s.execute(stmt)).all()]
            police = dict((await s.execute(select(PoliceStation.id, PoliceStation.name))).all())
            orgs = dict((await s.execute(select(Organisation.id, Organisation.name))).all())
        index = await self._region_index()

        def build() -> bytes:
            cats = self.rules.categories
            out_rows = []
            for n, r in enumerate(rows, start=1):
                v = dict(r)
                v["serial"] = n
                v["region_code"] = _unique_path(index, r["region_code"])
                v["police_station_id"] = police.get(r["police_station_id"])
                v["owner_org_id"] = orgs.get(r["owner_org_id"])
                v["maintainer_org_id"] = orgs.get(r["maintainer_org_id"])
                v["key_area_category"] = cats.get(r["key_area_category"], r["key_area_category"])
                for f in ("point_class", "camera_type", "direction"):
                    if v[f] is not None:
                        v[f] = str(v[f])
                out_rows.append(render_row(CAMERA_FORM, v))
            if fmt == XLSX:
                return write_xlsx(CAMERA_FORM, out_rows)
            return write_csv(CAMERA_FORM, out_rows)

        data = await asyncio.to_thread(build)
        async with self.db.session() as s:
            await history.record(
                s,
                principal,
                "camera",
                None,
                "export",
                {"format": fmt, "rows": len(rows), "filters": filters.as_dict()},
            )
            await s.commit()
        self.bus.publish(
            "ledger.exported", entity="camera", format=fmt, rows=len(rows), user=principal.username
        )
        return data, len(rows)

    async def start_camera_import(
        self,
        principal: Principal,
        data: bytes,
        filename: str | None,
        *,
        mode: str = ALL_OR_NOTHING,
        crs: str = "wgs84",
    ) -> JobState:
        """Open and check the file's shape now (400 for a bad file), import in a job."""
        if crs not in ("wgs84", "gcj02"):
            raise ValueError("crs must be wgs84 or gcj02")
        table = await asyncio.to_thread(
            open_table, CAMERA_FORM, data, filename, max_bytes=self.settings.import_max_bytes
        )
        try:
            job = CameraImport(self, principal, table, mode=mode, crs=crs)
        except ValueError:
            if table.close:
                table.close()
            raise
        params = {
            "filename": (filename or "")[:200],
            "mode": mode,
            "format": table.fmt,
            "crs": crs,
            "bytes": len(data),
        }
        return await self.jobs.submit(principal, "ledger.import", params, job.run)

    # Survey forms other than cameras: form name → (model, history entity).
    RECORD_FORMS: ClassVar[dict[str, tuple[Any, str]]] = {
        "platform": (PlatformRecord, "platform"),
        "internal_system": (InternalSystemRecord, "internal_system"),
    }

    async def start_form_import(
        self,
        principal: Principal,
        form: str,
        data: bytes,
        filename: str | None,
        *,
        mode: str = ALL_OR_NOTHING,
    ) -> JobState:
        """Import the platform or internal-system survey form (same job as cameras)."""
        from sharpeyes.ledger.survey_form import FORMS

        model, entity = self.RECORD_FORMS[form]
        table = await asyncio.to_thread(
            open_table, FORMS[form], data, filename, max_bytes=self.settings.import_max_bytes
        )
        try:
            job = RecordImport(self, principal, table, mode=mode, model=model, entity=entity)
        except ValueError:
            if table.close:
                table.close()
            raise
        params = {
            "form": form,
            "filename": (filename or "")[:200],
            "mode": mode,
            "format": table.fmt,
            "bytes": len(data),
        }
        return await self.jobs.submit(principal, "ledger.import", params, job.run)

    async def export_records(
        self, principal: Principal, form: str, fmt: str, *, q: str | None = None
    ) -> tuple[bytes, int]:
        """Platform / internal-system records in scope as their survey form; recorded."""
        from sharpeyes.ledger.survey_form import FORMS

        if fmt not in (XLSX, CSV):
            raise ValueError("format must be xlsx or csv")
        model, entity = self.RECORD_FORMS[form]
        spec = FORMS[form]
        fields = form_fields(spec)
        stmt = scope_by_region(
            select(model.id, *(getattr(model, f) for f in fields)), model.region_code, principal
        )
        if q:
            stmt = stmt.where(model.name.contains(q, autoescape=True))
        async with self.db.session() as s:
            rows = [dict(r._mapping) for r in (await s.execute(stmt.order_by(model.id))).all()]
            police = dict((await s.execute(select(PoliceStation.id, PoliceStation.name))).all())
            orgs = dict((await s.execute(select(Organisation.id, Organisation.name))).all())
        index = await self._region_index()

        def build() -> bytes:
            out_rows = []
            for n, r in enumerate(rows, start=1):
                v = dict(r)
                v["serial"] = n
                if "region_code" in v:
                    v["region_code"] = _unique_path(index, r["region_code"])
                if "police_station_id" in v:
                    v["police_station_id"] = police.get(r["police_station_id"])
                if "org_id" in v:
                    v["org_id"] = orgs.get(r["org_id"])
                out_rows.append(render_row(spec, v))
            if fmt == XLSX:
                return write_xlsx(spec, out_rows)
            return write_csv(spec, out_rows)

        data = await asyncio.to_thread(build)
        filters = {"q": q} if q else {}
        async with self.db.session() as s:
            await history.record(
                s,
                principal,
                entity,
                None,
                "export",
                {"format": fmt, "rows": len(rows), "filters": filters},
            )
            await s.commit()
        self.bus.publish(
            "ledger.exported", entity=entity, format=fmt, rows=len(rows), user=principal.username
        )
        return data, len(rows)

    async def import_lookups(self, principal: Principal) -> Lookups:
        async with self.db.session() as s:
            regions = (
                await s.execute(select(Region.code, Region.name, Region.parent_code, Region.level))
            ).all()
            police_rows = (
                await s.execute(
                    select(PoliceStation.id, PoliceStation.name, PoliceStation.region_code)
                )
            ).all()
            org_rows = (
                await s.execute(
                    select(Organisation.id, Organisation.name, Organisation.region_code)
                )
            ).all()
            plat_rows = (await s.execute(select(PlatformRecord.id, PlatformRecord.name))).all()
        police: dict[str, list[tuple[int, str]]] = {}
        for pid, name, rc in police_rows:
            police.setdefault(name, []).append((pid, rc))
        orgs: dict[str, list[tuple[int, str | None]]] = {}
        for oid, name, rc in org_rows:
            orgs.setdefault(name, []).append((oid, rc))
        platforms: dict[str, list[int]] = {}
        for pid, name in plat_rows:
            platforms.setdefault(name, []).append(pid)
        return Lookups(
            regions=RegionIndex(tuple(r) for r in regions),
            police=police,
            orgs=orgs,
            platforms=platforms,
            in_scope=lambda region, code: can_see_camera_record(principal, region, code),
        )

    async def existing_for_import(
        self, codes: list[str], ids: list[int]
    ) -> dict[str, dict[str, Any]]:
        return await load_existing(self, codes, ids)

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

    # ====================================================== quality and map
    async def quality(
        self,
        principal: Principal,
        *,
        group_by: str = "region",
        level: str = "county",
        org_field: str = "owner",
        filters: CameraFilters | None = None,
    ) -> dict[str, Any]:
        names: dict[Any, str] = {}
        async with self.db.session() as s:
            if group_by == "region":
                names = dict((await s.execute(select(Region.code, Region.name))).all())
            else:
                names = dict((await s.execute(select(Organisation.id, Organisation.name))).all())
        return await quality.rates(
            self.db,
            principal,
            group_by=group_by,
            level=level,
            org_field=org_field,
            filters=filters,
            names=names,
            cache=self.rates_cache,
        )

    async def duplicates(
        self,
        principal: Principal,
        *,
        distance_m: float | None = None,
        same_direction: bool = True,
        filters: CameraFilters | None = None,
    ) -> dict[str, Any]:
        return await quality.duplicates(
            self.db,
            principal,
            distance_m=distance_m or self.settings.duplicate_distance_m,
            same_direction=same_direction,
            filters=filters,
        )

    async def map_points(
        self,
        principal: Principal,
        bbox: tuple[float, float, float, float],
        zoom: int,
        *,
        crs: str = "wgs84",
        filters: CameraFilters | None = None,
    ) -> dict[str, Any]:
        return await mapquery.viewport(
            self.db,
            principal,
            bbox,
            zoom,
            filters=filters,
            crs=crs,
            point_zoom=self.settings.map_point_zoom,
            max_points=self.settings.map_max_points,
            cells=self.map_cells,
        )

    async def nearest(
        self,
        principal: Principal,
        lon: float,
        lat: float,
        *,
        limit: int = 10,
        max_radius_m: float = 50_000,
        crs: str = "wgs84",
        filters: CameraFilters | None = None,
    ) -> list[dict[str, Any]]:
        return await mapquery.nearest(
            self.db,
            principal,
            lon,
            lat,
            limit=limit,
            max_radius_m=max_radius_m,
            crs=crs,
            filters=filters,
        )

    async def category_counts(
        self, principal: Principal, *, region: str | None = None, level: str = "county"
    ) -> dict[str, Any]:
        async with self.db.session() as s:
            names = dict((await s.execute(select(Region.code, Region.name))).all())
        return await mapquery.category_counts(
            self.db,
            principal,
            self.rules.categories,
            region=region,
            level=level,
            region_names=names,
        )

    def dictionaries(self) -> dict[str, Any]:
        vocabs = (
            d.STATUS,
            d.INTEGRATION_METHOD,
            d.NETWORK,
            d.POLE_CONDITION,
            d.POINT_CLASS,
            d.DIRECTION,
            d.CAMERA_TYPE,
            d.REGION_LEVEL,
            d.ORG_LEVEL,
            d.ORG_TYPE,
        )
        out: dict[str, Any] = {v.name: v.as_list() for v in vocabs}
        out["key_area_category"] = [
            {"code": c, "label": lbl} for c, lbl in self.rules.categories.items()
        ]
        out["naming_rule"] = {
            "pattern": self.settings.naming_pattern,
            "description": self.settings.naming_description,
            "region_prefix": self.settings.naming_region_prefix,
        }
        out["required_fields"] = self.settings.required_fields
        from sharpeyes.ledger.survey_form import CAMERA_FORM

        # the survey form's own column words, for showing field names to people
        out["field_labels"] = {c.field: c.flat_header for c in CAMERA_FORM.columns}
        out["field_labels"]["coordinates"] = "经纬度"
        return out

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

    async def clear_cameras(self, principal: Principal) -> int:
        """Delete every camera record in scope (tests, demo reset); recorded."""
        async with self.db.session() as s:
            ids = list(
                (
                    await s.execute(scope_camera_records(select(CameraRecord.id), principal))
                ).scalars()
            )
            for start in range(0, len(ids), 500):
                await s.execute(
                    delete(CameraRecord).where(CameraRecord.id.in_(ids[start : start + 500]))
                )
            await history.record(s, principal, "camera", None, "delete", {"count": len(ids)})
            await s.commit()
        return len(ids)


# --------------------------------------------------------------------- helpers
def _flags(ev: Any) -> dict[str, Any]:
    return {"complete": ev.complete, "on_map": ev.on_map, "issues": ev.issues or None}


def _row_dict(row: Any) -> dict[str, Any]:
    out = {}
    for col in row.__table__.columns:
        v = getattr(row, col.key)
        out[col.key] = v.isoformat() if hasattr(v, "isoformat") else v
    return out


def _camera_dict(row: Any) -> dict[str, Any]:
    rec: CameraRecord = row[0]
    out: dict[str, Any] = {"id": rec.id}
    for f in CAMERA_FIELDS:
        out[f] = getattr(rec, f)
    out.update(
        complete=rec.complete,
        on_map=rec.on_map,
        issues=rec.issues or [],
        created_at=rec.created_at,
        updated_at=rec.updated_at,
        created_by=rec.created_by,
        updated_by=rec.updated_by,
        region_name=row.region_name,
        police_station_name=row.police_station_name,
        owner_org_name=row.owner_org_name,
        maintainer_org_name=row.maintainer_org_name,
        linked=bool(row.linked),
    )
    return out


def _compare(rec: dict[str, Any], channel: Channel | None) -> dict[str, Any]:
    if channel is None:
        return {}
    out: dict[str, Any] = {}
    for ledger_f, dev_f in OVERLAPS:
        a, b = rec.get(ledger_f), getattr(channel, dev_f)
        if a is None and b is None:
            continue
        same = a == b
        if ledger_f == "region_code" and a and b:
            try:
                same = normalise_region_code(b) == a
            except ValueError:
                same = False
        out[ledger_f] = {"ledger": a, "device": b, "same": same}
    lon, lat = rec.get("longitude"), rec.get("latitude")
    if lon is not None or channel.longitude is not None:
        dist = None
        if None not in (lon, lat, channel.longitude, channel.latitude):
            dist = round(haversine_m(lon, lat, channel.longitude, channel.latitude), 2)  # type: ignore[arg-type]
        out["coordinates"] = {
            "ledger": [lon, lat],
            "device": [channel.longitude, channel.latitude],
            "distance_m": dist,
            # within a centimetre (six decimals) counts as the same point
            "same": dist is not None and dist < 0.01,
        }
    return out


def _unique_path(index: RegionIndex, code: str | None) -> str | None:
    """Shortest name path (from county down) that the importer resolves to ``code``."""
    if code is None:
        return None
    if code not in index:
        return code
    chain = index.ancestors(code)  # self first
    text = ""
    for i, node in enumerate(chain):
        text = index.name[node] + text
        if i + 1 < len(chain) and len(node) > 6:
            continue  # always go up to the county at least
        resolved, _ = index.resolve(text)
        if resolved == code:
            return text
    return code
