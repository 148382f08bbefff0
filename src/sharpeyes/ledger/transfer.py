"""Import and export of the survey forms (模板, 导出, 导入任务)."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from sqlalchemy import select

from sharpeyes.jobs import JobState
from sharpeyes.ledger import dictionaries as d
from sharpeyes.ledger import history
from sharpeyes.ledger.cameras import ChannelLinks
from sharpeyes.ledger.fields import CAMERA_FIELDS
from sharpeyes.ledger.importer import (
    ALL_OR_NOTHING,
    CameraImport,
    Lookups,
    RecordImport,
    form_fields,
    load_existing,
)
from sharpeyes.ledger.models import (
    CameraRecord,
    InternalSystemRecord,
    Organisation,
    PlatformRecord,
    PoliceStation,
    Region,
)
from sharpeyes.ledger.queries import (
    CameraFilters,
    apply_filters,
)
from sharpeyes.ledger.regions import (
    RegionIndex,
)
from sharpeyes.ledger.survey_form import (
    CAMERA_FORM,
    CSV,
    FORMS,
    XLSX,
    open_table,
    render_row,
    write_csv,
    write_xlsx,
)
from sharpeyes.sharing.principal import Principal
from sharpeyes.sharing.scope import (
    can_see_camera_record,
    scope_by_region,
    scope_camera_records,
)


class Transfer(ChannelLinks):
    """Survey-form templates, exports and import jobs (narrow ``ImportContext``)."""

    # ======================================================== forms (I/O)
    def template(self, fmt: str, form: str = "camera") -> bytes:
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
