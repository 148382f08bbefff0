"""Import of the camera survey form: row-by-row validation, then chunked writes.

Runs as a background job (``jobs.JobRunner``). The loop also carries SIP, so:

* reading and checking cells happens in a worker thread, 1,000 rows at a time;
* each write chunk is its own short transaction (SQLite has one writer: SIP
  state changes interleave between chunks).

``all_or_nothing`` (default) checks every row before writing any. Because writes
are chunked, a failure *while writing* (e.g. someone created the same code
meanwhile) is compensated: rows inserted by this job are deleted and updated
rows get their previous values back. ``valid_rows`` writes the rows that pass
and reports the others.

A row's code matches an existing record (update); a row without a code matches
by 台账ID when that record has no code either; otherwise a record is created.
Only the columns present in the file are written on update.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import delete as sa_delete
from sqlalchemy import insert, select, update

from sharpeyes.events import EventBus
from sharpeyes.jobs import JobContext, JobFailed
from sharpeyes.ledger import history
from sharpeyes.ledger.fields import CAMERA_FIELDS, _coerce
from sharpeyes.ledger.geo import gcj02_to_wgs84
from sharpeyes.ledger.models import CameraRecord
from sharpeyes.ledger.regions import RegionIndex, code_region_prefix
from sharpeyes.ledger.settings import LedgerSettings
from sharpeyes.ledger.survey_form import (
    CellError,
    FormError,
    FormSpec,
    HeaderMap,
    Table,
    cell_text,
    is_formula,
    is_sample_row,
    row_is_empty,
    shown,
)
from sharpeyes.ledger.validation import (
    Rules,
    coordinate_text_problem,
    evaluate,
    invalid_values,
)
from sharpeyes.sharing.principal import Principal
from sharpeyes.sharing.scope import region_in_scope
from sharpeyes.store.db import Database
from sharpeyes.store.models import utcnow


class ImportContext(Protocol):
    """What an import job needs of the ledger — not the whole service.

    ``LedgerService`` satisfies it; a test can pass a smaller object.
    """

    db: Database
    bus: EventBus
    settings: LedgerSettings
    rules: Rules

    async def import_lookups(self, principal: Principal) -> Lookups: ...

    def region_prefix_names(self, index: RegionIndex | None) -> Callable[[str], list[str]]: ...

    async def existing_for_import(
        self, codes: list[str], ids: list[int]
    ) -> dict[str, dict[str, Any]]: ...


ALL_OR_NOTHING, VALID_ROWS, VALIDATE = "all_or_nothing", "valid_rows", "validate"
MODES = (ALL_OR_NOTHING, VALID_ROWS, VALIDATE)
PARSE_SHARE = 0.7  # progress fraction spent reading/checking; the rest is writing


@dataclass
class Lookups:
    """Reference data the rows name, loaded once per import (small tables)."""

    regions: RegionIndex
    police: dict[str, list[tuple[int, str]]]  # name → [(id, region_code)]
    orgs: dict[str, list[tuple[int, str | None]]]
    platforms: dict[str, list[int]]
    in_scope: Callable[[str | None, str | None], bool]


@dataclass
class ParsedRow:
    row: int
    values: dict[str, Any]
    match_id: int | None = None


@dataclass
class WriteRow:
    row: int
    record_id: int | None  # None: insert
    values: dict[str, Any]
    old: dict[str, Any] | None = None


@dataclass
class ImportOutcome:
    total_rows: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    error_rows: set[int] = field(default_factory=set)
    error_count: int = 0
    created: int = 0
    updated: int = 0


# ----------------------------------------------------------------- cell parsing
def _header_of(headers: HeaderMap, field_name: str) -> str:
    for col in headers.positions.values():
        if col.field == field_name:
            return col.flat_header
    return field_name


def _pick_by_region(
    candidates: list[tuple[int, str | None]], region: str | None
) -> tuple[int | None, str | None]:
    if not candidates:
        return None, "不存在"
    if len(candidates) == 1:
        return candidates[0][0], None
    if region:
        near = [
            c
            for c in candidates
            if c[1] and (region.startswith(c[1]) or c[1].startswith(region[:6]))
        ]
        if len(near) == 1:
            return near[0][0], None
    return None, "名称不唯一，请联系管理员区分"


def parse_row(
    headers: HeaderMap,
    cells: tuple[Any, ...],
    rownum: int,
    rules: Rules,
    lookups: Lookups,
    *,
    max_cell_chars: int,
    crs: str,
) -> tuple[ParsedRow | None, list[CellError]]:
    """Cells → typed values and references; every problem becomes a CellError."""
    errors: list[CellError] = []
    values: dict[str, Any] = {}
    refs: dict[str, tuple[str, Any]] = {}
    match_id: int | None = None
    for idx, col in headers.positions.items():
        raw = cells[idx] if idx < len(cells) else None
        if col.kind == "serial":
            continue
        if is_formula(raw):
            errors.append(CellError(col.flat_header, shown(raw), "不接受公式，请填写数值或文本"))
            continue
        if isinstance(raw, str) and len(raw) > max_cell_chars:
            errors.append(
                CellError(col.flat_header, shown(raw), f"单元格超过{max_cell_chars}个字符")
            )
            continue
        text = cell_text(raw)
        try:
            if col.kind == "id":
                if text is not None:
                    if not text.isdigit():
                        raise ValueError("台账ID应为数字")
                    match_id = int(text)
            elif col.kind == "code":
                if isinstance(raw, float) or (isinstance(raw, int) and len(str(raw)) != 20):
                    raise ValueError("20位编码被存为数字，精度已丢失；请将该列设为文本后重新填写")
                if text is not None and not (len(text) == 20 and text.isascii() and text.isdigit()):
                    raise ValueError("20位编码须为20位数字")
                values["code"] = text
            elif col.kind == "coord":
                if text is None:
                    values[col.field] = None
                else:
                    typed = repr(raw) if isinstance(raw, float) else text
                    problem = coordinate_text_problem(typed, col.field)
                    if problem:
                        raise ValueError(problem)
                    values[col.field] = float(typed)
            elif col.kind == "date":
                if isinstance(raw, float):
                    text = f"{raw:.2f}"  # 2020.03 typed into Excel arrives as a number
                elif isinstance(raw, int):
                    raise ValueError("日期须含年月（如2020.03）")
                values[col.field] = _coerce(col.field, "date", text, rules)
            elif col.kind in ("region", "police", "org"):
                refs[col.field] = (col.kind, text)
            elif col.kind == "text":
                values[col.field] = text
            else:
                kind = CAMERA_FIELDS.get(col.field, col.kind)
                values[col.field] = _coerce(col.field, kind, text, rules)
        except ValueError as exc:
            msg = str(exc)
            prefix = f"{col.field}: "
            errors.append(
                CellError(
                    col.flat_header,
                    shown(raw),
                    msg[len(prefix) :] if msg.startswith(prefix) else msg,
                )
            )
    # coordinates typed in GCJ-02 (e.g. picked on a Gaode map) are stored as WGS-84
    if (
        crs == "gcj02"
        and values.get("longitude") is not None
        and values.get("latitude") is not None
    ):
        values["longitude"], values["latitude"] = gcj02_to_wgs84(
            values["longitude"], values["latitude"]
        )
    code = values.get("code")
    within = (
        code_region_prefix(code)
        if code and not any(e.column == _header_of(headers, "code") for e in errors)
        else None
    )
    # references, region first (police stations and units are narrowed by it)
    region_code: str | None = None
    if "region_code" in refs:
        _, text = refs["region_code"]
        if text is None:
            values["region_code"] = None
        else:
            region_code, why = lookups.regions.resolve(text, within)
            if why:
                errors.append(CellError(_header_of(headers, "region_code"), text, why))
            values["region_code"] = region_code
    for f, (kind, text) in refs.items():
        if f == "region_code":
            continue
        if text is None:
            values[f] = None
            continue
        table = lookups.police if kind == "police" else lookups.orgs
        ref_id, why = _pick_by_region(
            list(table.get(text, [])),
            region_code or within,  # type: ignore[arg-type]
        )
        if why:
            label = "派出所" if kind == "police" else "单位"
            errors.append(CellError(_header_of(headers, f), text, f"{label}“{text}”{why}"))
        values[f] = ref_id
    name = values.get("platform_name")
    if name:
        ids = lookups.platforms.get(name, [])
        values["platform_id"] = ids[0] if len(ids) == 1 else None
    elif "platform_name" in values:
        values["platform_id"] = None
    return ParsedRow(rownum, values, match_id), errors


# ------------------------------------------------------------------- the import
class CameraImport:
    """One import job over an opened :class:`Table`.

    ``mode=validate`` is a dry run: every row is read and checked exactly as in a
    real import (same errors), nothing is written, and the job ends ``done`` with
    ``imported: 0``. Subclasses (:class:`RecordImport`) reuse the loop, the write
    and the compensation for other survey forms.
    """

    entity = "camera"
    model: Any = CameraRecord
    fields: dict[str, str] = CAMERA_FIELDS

    def __init__(
        self,
        service: ImportContext,
        principal: Principal,
        table: Table,
        *,
        mode: str,
        crs: str = "wgs84",
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        self.service = service
        self.settings = service.settings
        self.rules = service.rules
        self.principal = principal
        self.table = table
        self.mode = mode
        self.crs = crs
        self.outcome = ImportOutcome()
        self._seen_codes: dict[str, int] = {}
        self._region_names: Callable[[str], list[str]] | None = None

    def _error(self, row: int, column: str, value: Any, reason: str) -> None:
        o = self.outcome
        o.error_count += 1
        o.error_rows.add(row)
        if len(o.errors) < self.settings.import_max_reported_errors:
            o.errors.append({"row": row, "column": column, "value": value, "reason": reason})

    def _result(self) -> dict[str, Any]:
        o = self.outcome
        return {
            "imported": o.created + o.updated,
            "created": o.created,
            "updated": o.updated,
            "total_rows": o.total_rows,
            "error_count": o.error_count,
            "error_rows": len(o.error_rows),
            "errors": o.errors,
            "errors_truncated": o.error_count > len(o.errors),
            "mode": self.mode,
            "dry_run": self.mode == VALIDATE,
            "form": self.entity,
        }

    async def run(self, ctx: JobContext) -> None:
        try:
            await self._run(ctx)
        finally:
            if self.table.close is not None:
                await asyncio.to_thread(self.table.close)

    async def _run(self, ctx: JobContext) -> None:
        lookups = await self.service.import_lookups(self.principal)
        self._region_names = self.service.region_prefix_names(lookups.regions)
        estimate = self.table.estimated_rows or 0
        chunk_n = self.settings.import_chunk_rows
        pending: list[WriteRow] = []
        while True:
            parsed, errors, done = await asyncio.to_thread(self._parse_chunk, lookups, chunk_n)
            for row, err in errors:
                self._error(row, err.column, err.value, err.reason)
            if parsed:
                existing = await self._existing(parsed)
                pending.extend(
                    await asyncio.to_thread(self._check_chunk, parsed, existing, lookups)
                )
            total = self.outcome.total_rows
            frac = total / max(estimate, total, 1) if estimate else 1 - 1 / (1 + total / 5000)
            await ctx.progress(PARSE_SHARE * min(frac, 0.999), **self._result())
            if self.outcome.total_rows > self.settings.import_max_rows:
                raise JobFailed(f"超过{self.settings.import_max_rows}行上限，未导入")
            if done:
                break
        if self.mode == VALIDATE:
            ctx.state.progress = 1.0
            ctx.state.result.update(self._result())
            return
        if self.mode == ALL_OR_NOTHING and self.outcome.error_count:
            await ctx.progress(1.0, **self._result())
            raise JobFailed(
                f"{len(self.outcome.error_rows)}行有错误，按“全部或不导入”未导入任何数据"
            )
        await self._write(ctx, pending)
        ctx.state.progress = 1.0
        ctx.state.result.update(self._result())
        self.service.bus.publish(
            "ledger.changed",
            entity=self.entity,
            action="import",
            job_id=ctx.id,
            created=self.outcome.created,
            updated=self.outcome.updated,
        )

    async def _existing(self, parsed: list[ParsedRow]) -> dict[str, dict[str, Any]]:
        return await self.service.existing_for_import(
            [p.values.get("code") for p in parsed if p.values.get("code")],
            [p.match_id for p in parsed if p.match_id and not p.values.get("code")],
        )

    # -- thread side
    def _parse_chunk(
        self, lookups: Lookups, n: int
    ) -> tuple[list[ParsedRow], list[tuple[int, CellError]], bool]:
        parsed: list[ParsedRow] = []
        errors: list[tuple[int, CellError]] = []
        headers = self.table.headers
        taken = 0
        for rownum, cells in self.table.rows:
            if row_is_empty(cells) or is_sample_row(headers, cells):
                continue
            self.outcome.total_rows += 1
            if self.outcome.total_rows > self.settings.import_max_rows:
                return parsed, errors, True
            p, errs = parse_row(
                headers,
                cells,
                rownum,
                self.rules,
                lookups,
                max_cell_chars=self.settings.import_max_cell_chars,
                crs=self.crs,
            )
            errors.extend((rownum, e) for e in errs)
            if p is not None and not errs:
                parsed.append(p)
            taken += 1
            if taken >= n:
                return parsed, errors, False
        return parsed, errors, True

    def _check_chunk(
        self, parsed: list[ParsedRow], existing: dict[str, dict[str, Any]], lookups: Lookups
    ) -> list[WriteRow]:
        """Merge with existing records, scope, duplicates and the record rules."""
        headers = self.table.headers
        file_fields = {c.field for c in headers.positions.values()} - {"serial", "id"}
        if "platform_name" in file_fields:
            file_fields.add("platform_id")
        out: list[WriteRow] = []
        by_code = existing
        for p in parsed:
            code = p.values.get("code")
            old: dict[str, Any] | None = None
            if code:
                prev = self._seen_codes.get(code)
                if prev is not None:
                    self._error(p.row, _header_of(headers, "code"), code, f"与第{prev}行编码重复")
                    continue
                self._seen_codes[code] = p.row
                old = by_code.get(code)
            elif p.match_id is not None:
                cand = by_code.get(f"#{p.match_id}")
                if cand is not None and not cand.get("code"):
                    old = cand
            if old is not None and not lookups.in_scope(old.get("region_code"), old.get("code")):
                self._error(
                    p.row, _header_of(headers, "code"), code, "该编码的点位不在您的权限范围内"
                )
                continue
            merged = {f: None for f in CAMERA_FIELDS} | {"social": False}
            if old is not None:
                merged.update({f: old.get(f) for f in CAMERA_FIELDS})
            merged.update(p.values)
            if not lookups.in_scope(merged.get("region_code"), merged.get("code")):
                self._error(
                    p.row,
                    _header_of(headers, "region_code"),
                    merged.get("region_code"),
                    "区划超出您的权限范围",
                )
                continue
            invalid = invalid_values(merged, self.rules, self._region_names)
            row_errors = [i for i in invalid if i.field in file_fields or old is None]
            if row_errors:
                for i in row_errors:
                    self._error(p.row, _header_of(headers, i.field), shown(i.value), i.reason)
                continue
            ev = evaluate(merged, self.rules, self._region_names, invalid=invalid)
            flags = {"complete": ev.complete, "on_map": ev.on_map, "issues": ev.issues or None}
            if old is None:
                out.append(WriteRow(p.row, None, merged | flags))
            else:
                values = {f: merged[f] for f in file_fields if f in CAMERA_FIELDS} | flags
                out.append(WriteRow(p.row, old["id"], values, old))
        return out

    # -- writes
    async def _write(self, ctx: JobContext, rows: list[WriteRow]) -> None:
        if self.mode == VALID_ROWS and self.outcome.error_rows:
            rows = [r for r in rows if r.row not in self.outcome.error_rows]
        n = self.settings.import_chunk_rows
        inserted: list[int] = []
        restored: list[dict[str, Any]] = []
        try:
            for start in range(0, len(rows), n):
                chunk = rows[start : start + n]
                ids, olds = await self._write_chunk(ctx, chunk)
                inserted.extend(ids)
                restored.extend(olds)
                done = min(len(rows), start + n)
                await ctx.progress(
                    PARSE_SHARE + (1 - PARSE_SHARE) * done / max(1, len(rows)), **self._result()
                )
        except Exception as exc:
            if self.mode == ALL_OR_NOTHING and (inserted or restored):
                await self._compensate(ctx, inserted, restored)
                self.outcome.created = self.outcome.updated = 0
                ctx.state.result.update(self._result())
                raise JobFailed(
                    f"写入时失败，已撤销本次导入：{type(exc).__name__}: {exc}"[:900]
                ) from exc
            raise

    async def _write_chunk(
        self, ctx: JobContext, chunk: list[WriteRow]
    ) -> tuple[list[int], list[dict[str, Any]]]:
        now = utcnow()
        user = self.principal.username
        inserts = [r for r in chunk if r.record_id is None]
        updates = [r for r in chunk if r.record_id is not None]
        hist: list[dict[str, Any]] = []
        ids: list[int] = []
        async with self.service.db.session() as s:
            if inserts:
                stamps = {
                    k: v
                    for k, v in (
                        ("created_at", now),
                        ("updated_at", now),
                        ("created_by", user),
                        ("updated_by", user),
                    )
                    if k in self.model.__table__.c
                }
                params = [r.values | stamps for r in inserts]
                res = await s.scalars(
                    insert(self.model).returning(self.model.id, sort_by_parameter_order=True),
                    params,
                )
                ids = list(res)
                # The values are the record itself: later diffs keep what changes.
                hist.extend(
                    history.change_row(
                        self.principal,
                        self.entity,
                        rid,
                        "import",
                        {"created": True},
                        job_id=ctx.id,
                        at=now,
                    )
                    for rid in ids
                )
            if updates:
                await s.execute(
                    update(self.model),
                    [
                        {"id": r.record_id, **r.values, "updated_at": now, "updated_by": user}
                        for r in updates
                    ],
                )
                for r in updates:
                    assert r.old is not None
                    changes = history.diff(
                        r.old, {k: v for k, v in r.values.items() if k in self.fields}
                    )
                    hist.append(
                        history.change_row(
                            self.principal,
                            self.entity,
                            r.record_id,
                            "import",
                            changes,
                            job_id=ctx.id,
                            at=now,
                        )
                    )
            await history.record_many(s, hist)
            await s.commit()
        self.outcome.created += len(inserts)
        self.outcome.updated += len(updates)
        olds = [
            {"id": r.record_id, **{k: r.old.get(k) for k in (*r.values.keys(),) if k in r.old}}
            for r in updates
            if r.old is not None
        ]
        return ids, olds

    async def _compensate(
        self, ctx: JobContext, inserted: list[int], restored: list[dict[str, Any]]
    ) -> None:
        async with self.service.db.session() as s:
            for start in range(0, len(inserted), 500):
                await s.execute(
                    sa_delete(self.model).where(self.model.id.in_(inserted[start : start + 500]))
                )
            if restored:
                await s.execute(update(self.model), restored)
            await history.record(
                s,
                self.principal,
                self.entity,
                None,
                "rollback",
                {"deleted": len(inserted), "restored": len(restored)},
                job_id=ctx.id,
            )
            await s.commit()


class RecordImport(CameraImport):
    """Import of the platform or internal-system survey form (seed 004).

    Same job, reading, modes, error report, chunked writes, compensation and
    history as cameras. Matching: a row's 台账ID updates that record (it must
    exist and be in scope); a row without one updates the single record of the
    same 项目名称 in scope, else creates one. Scope is the record's 所属区划.
    """

    def __init__(
        self,
        service: ImportContext,
        principal: Principal,
        table: Table,
        *,
        mode: str,
        model: Any,
        entity: str,
    ) -> None:
        super().__init__(service, principal, table, mode=mode)
        self.model = model
        self.entity = entity
        self.fields = form_fields(table.spec)
        self._seen_ids: dict[int, int] = {}

    async def _existing(self, parsed: list[ParsedRow]) -> dict[str, dict[str, Any]]:
        m = self.model
        cols = [m.id, *(getattr(m, f) for f in self.fields)]
        ids = [p.match_id for p in parsed if p.match_id is not None]
        names = [p.values["name"] for p in parsed if p.match_id is None and p.values.get("name")]
        out: dict[str, dict[str, Any]] = {}
        async with self.service.db.session() as s:
            for start in range(0, len(ids), 500):
                for row in await s.execute(select(*cols).where(m.id.in_(ids[start : start + 500]))):
                    r = dict(row._mapping)
                    out[f"#{r['id']}"] = r
            for start in range(0, len(names), 500):
                part = names[start : start + 500]
                for row in await s.execute(select(*cols).where(m.name.in_(part))):
                    r = dict(row._mapping)
                    if region_in_scope(self.principal, r.get("region_code")):
                        out.setdefault(f"name:{r['name']}", []).append(r)  # type: ignore[attr-defined]
        return out

    def _check_chunk(
        self, parsed: list[ParsedRow], existing: dict[str, Any], lookups: Lookups
    ) -> list[WriteRow]:
        headers = self.table.headers
        file_fields = {c.field for c in headers.positions.values()} - {"serial", "id"}
        table_cols = self.model.__table__.c
        out: list[WriteRow] = []
        for p in parsed:
            old: dict[str, Any] | None = None
            if p.match_id is not None:
                prev = self._seen_ids.get(p.match_id)
                if prev is not None:
                    self._error(
                        p.row, _header_of(headers, "id"), p.match_id, f"与第{prev}行台账ID重复"
                    )
                    continue
                self._seen_ids[p.match_id] = p.row
                old = existing.get(f"#{p.match_id}")
                if old is None or not region_in_scope(self.principal, old.get("region_code")):
                    self._error(
                        p.row,
                        _header_of(headers, "id"),
                        p.match_id,
                        "台账ID不存在或不在您的权限范围内",
                    )
                    continue
            else:
                same = existing.get(f"name:{p.values.get('name')}") or []
                if len(same) == 1:
                    old = same[0]
                    if old["id"] in self._seen_ids:
                        prev = self._seen_ids[old["id"]]
                        self._error(
                            p.row,
                            _header_of(headers, "name"),
                            p.values.get("name"),
                            f"与第{prev}行为同一记录",
                        )
                        continue
                    self._seen_ids[old["id"]] = p.row
            merged = {f: None for f in self.fields}
            if old is not None:
                merged.update({f: old.get(f) for f in self.fields})
            merged.update(p.values)
            errs: list[tuple[str, Any, str]] = []
            if not merged.get("name"):
                errs.append(("name", None, "项目名称不能为空"))
            if not region_in_scope(self.principal, merged.get("region_code")):
                errs.append(("region_code", merged.get("region_code"), "区划超出您的权限范围"))
            for f in file_fields:
                v = merged.get(f)
                length = getattr(table_cols[f].type, "length", None) if f in table_cols else None
                if isinstance(v, str) and length and len(v) > length:
                    errs.append((f, shown(v), f"超过{length}个字符"))
                elif isinstance(v, int | float) and not isinstance(v, bool) and v < 0:
                    errs.append((f, v, "不能为负数"))
            if errs:
                for f, v, why in errs:
                    self._error(p.row, _header_of(headers, f), v, why)
                continue
            if old is None:
                out.append(WriteRow(p.row, None, merged))
            else:
                values = {f: merged[f] for f in file_fields if f in self.fields}
                out.append(WriteRow(p.row, old["id"], values, old))
        return out


def form_fields(spec: FormSpec) -> dict[str, str]:
    """Stored fields of a survey form (its columns minus 序号 and 台账ID) and kinds."""
    return {c.field: c.kind for c in spec.columns if c.kind not in ("serial", "id")}


async def load_existing(
    service: ImportContext, codes: list[str], ids: list[int]
) -> dict[str, dict[str, Any]]:
    """Existing records by code, and by ``#id`` for rows matched on 台账ID."""
    cols = [CameraRecord.id, *(getattr(CameraRecord, f) for f in CAMERA_FIELDS)]
    out: dict[str, dict[str, Any]] = {}
    async with service.db.session() as s:
        for start in range(0, len(codes), 500):
            part = codes[start : start + 500]
            for row in await s.execute(select(*cols).where(CameraRecord.code.in_(part))):
                m = dict(row._mapping)
                out[m["code"]] = m
        for start in range(0, len(ids), 500):
            part_ids = ids[start : start + 500]
            for row in await s.execute(select(*cols).where(CameraRecord.id.in_(part_ids))):
                m = dict(row._mapping)
                out[f"#{m['id']}"] = m
    return out


__all__ = [
    "ALL_OR_NOTHING",
    "MODES",
    "VALIDATE",
    "VALID_ROWS",
    "CameraImport",
    "FormError",
    "ImportContext",
    "Lookups",
    "RecordImport",
    "form_fields",
    "load_existing",
    "parse_row",
]
