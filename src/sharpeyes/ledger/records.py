"""Camera records: the list (filters, scope, capped totals), reads, writes, revalidation."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from sharpeyes.jobs import JobState
from sharpeyes.ledger import history
from sharpeyes.ledger.cameras_compare import DEVICE_FIELDS, _compare
from sharpeyes.ledger.fields import CAMERA_FIELDS, coerce_camera_input
from sharpeyes.ledger.geo import gcj02_to_wgs84
from sharpeyes.ledger.models import (
    CameraRecord,
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
from sharpeyes.ledger.reference import ReferenceData
from sharpeyes.ledger.regions import (
    RegionIndex,
)
from sharpeyes.ledger.validation import (
    coordinate_text_problem,
    evaluate,
    invalid_values,
)
from sharpeyes.ledger.writes import (
    InvalidRecord,
    LedgerConflict,
    LedgerNotFound,
    _flags,
)
from sharpeyes.sharing.principal import Principal
from sharpeyes.sharing.scope import (
    can_see_camera_record,
    scope_camera_records,
)
from sharpeyes.store.models import Channel
from sharpeyes.store.paging import Page


class CameraRecords(ReferenceData):
    """Camera records: scoped list and read, validated attributed writes, history."""

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
