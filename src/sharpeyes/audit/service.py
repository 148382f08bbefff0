"""Writing, searching, exporting, verifying and pruning the audit trail.

:func:`record` adds a sealed row to the *caller's* transaction, so an action that
writes to the database and its audit row commit or roll back together. Actions
that write nothing (a live view, a snapshot) reach the trail through
``sharpeyes.live.audit.audit``, whose records :class:`AuditService` writes from a
queue, each in its own transaction.

Sealing: on PostgreSQL a transaction-scoped advisory lock serialises writers
until commit; on SQLite the row is inserted first, which takes the database
write lock, before the previous hash is read. Either way two writers cannot link
to the same predecessor (``prev_hash`` is unique as a last line of defence).
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, event, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from sharpeyes.audit.chain import GENESIS, Verdict, canonical_detail, row_hash, verify
from sharpeyes.audit.models import AuditCheckpoint, AuditEvent
from sharpeyes.events import EventBus
from sharpeyes.live.audit import AuditRecord, add_sink, remove_sink
from sharpeyes.store.db import Database
from sharpeyes.store.models import utcnow

log = logging.getLogger(__name__)

_PG_LOCK_KEY = 0x5E_A0D1  # advisory lock id for the audit chain
EXPORT_COLUMNS = (
    "id",
    "at",
    "actor",
    "actor_name",
    "org_id",
    "action",
    "target_type",
    "target_id",
    "outcome",
    "client_ip",
    "detail",
    "hash",
)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acted, as the trail names them."""

    actor: str  # user:<id> | app:<id> | system | anonymous
    name: str
    org_id: int | None = None

    @classmethod
    def of(cls, principal: Any) -> Actor:
        if principal is None:
            return SYSTEM
        return cls(principal.actor, principal.username, getattr(principal, "org_id", None))


SYSTEM = Actor("system", "system")


def _seal(
    session: Session,
    actor: Actor,
    action: str,
    target_type: str,
    target_id: object,
    outcome: str,
    client_ip: str | None,
    detail: dict[str, Any] | None,
    at: datetime | None,
) -> AuditEvent:
    """Insert and seal one row on a sync session (inside the caller's transaction)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
    row = AuditEvent(
        at=at or utcnow(),
        actor=actor.actor[:32],
        actor_name=actor.name[:128],
        org_id=actor.org_id,
        action=action[:64],
        target_type=target_type[:32],
        target_id=str(target_id)[:128],
        outcome=outcome[:16],
        client_ip=client_ip[:64] if client_ip else None,
        detail=canonical_detail(detail),
    )
    session.add(row)
    session.flush()  # takes the write lock (SQLite) and assigns the id
    prev = session.scalar(
        select(AuditEvent.hash)
        .where(AuditEvent.id < row.id)
        .order_by(AuditEvent.id.desc())
        .limit(1)
    )
    if prev is None:
        prev = session.scalar(
            select(AuditCheckpoint.last_hash).order_by(AuditCheckpoint.id.desc()).limit(1)
        )
    row.prev_hash = prev or GENESIS
    row.hash = row_hash(row.prev_hash, row)
    session.flush()
    return row


async def record(
    session: AsyncSession,
    actor: Actor,
    action: str,
    target_type: str,
    target_id: object,
    *,
    outcome: str = "ok",
    client_ip: str | None = None,
    detail: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> AuditEvent:
    """Add one sealed audit row to the caller's transaction (flushes now)."""
    return await session.run_sync(
        _seal, actor, action, target_type, target_id, outcome, client_ip, detail, at
    )


_PENDING = "sharpeyes.audit.pending"


def _seal_pending(session: Session) -> None:
    pending = session.info.pop(_PENDING, [])
    for args in pending:
        _seal(session, *args)


def _drop_pending(session: Session, *_: Any) -> None:
    session.info.pop(_PENDING, None)


def record_on_commit(
    session: AsyncSession,
    actor: Actor,
    action: str,
    target_type: str,
    target_id: object,
    *,
    outcome: str = "ok",
    client_ip: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Like :func:`record`, but sealed when the caller commits (still in its transaction).

    For callers that map a constraint error of their own change at ``commit()``:
    nothing is flushed before then, so that error still surfaces at commit.
    """
    sync = session.sync_session
    if not event.contains(sync, "before_commit", _seal_pending):
        event.listen(sync, "before_commit", _seal_pending)
        event.listen(sync, "after_rollback", _drop_pending)
    sync.info.setdefault(_PENDING, []).append(
        (actor, action, target_type, target_id, outcome, client_ip, detail, utcnow())
    )


def _from_record(rec: AuditRecord) -> tuple[Actor, dict[str, Any]]:
    actor = Actor(rec.actor or f"user:{rec.user_id}", rec.username, rec.org_id)
    detail = dict(rec.detail)
    if rec.device_id:
        detail.setdefault("device_id", rec.device_id)
    return actor, detail


class AuditService:
    """The node's audit trail: the queue behind ``live.audit.audit`` and the queries."""

    def __init__(
        self,
        db: Database,
        bus: EventBus,
        *,
        retention_days: int | None = None,
        archive_dir: str = "",
    ) -> None:
        self.db = db
        self.bus = bus
        self.retention_days = retention_days
        self.archive_dir = archive_dir
        self._queue: asyncio.Queue[AuditRecord] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None
        self._pending = 0
        self._idle = asyncio.Event()
        self._idle.set()

    # ---------------------------------------------------------- lifecycle
    def start(self) -> None:
        add_sink(self.bus, self._offer)
        self._writer = asyncio.create_task(self._write_loop())

    async def stop(self) -> None:
        remove_sink(self.bus, self._offer)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.flush(), 5)
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer

    def _offer(self, rec: AuditRecord) -> None:
        self._pending += 1
        self._idle.clear()
        self._queue.put_nowait(rec)

    async def flush(self) -> None:
        """Wait until every queued record is written (tests, shutdown)."""
        await self._idle.wait()

    async def _write_loop(self) -> None:
        while True:
            rec = await self._queue.get()
            try:
                actor, detail = _from_record(rec)
                async with self.db.session() as s:
                    await record(
                        s,
                        actor,
                        rec.action,
                        rec.target_type,
                        rec.target_id,
                        outcome=rec.outcome,
                        client_ip=rec.client_ip,
                        detail=detail,
                        at=datetime.fromtimestamp(rec.at).astimezone(),
                    )
                    await s.commit()
            except Exception:  # the trail must keep going; the record is in the log
                log.exception("could not write audit record %s", rec.action)
            finally:
                self._pending -= 1
                if self._pending == 0:
                    self._idle.set()

    # ------------------------------------------------------------ reading
    async def search(
        self,
        *,
        actor: str | None = None,
        org_id: int | None = None,
        action: str | None = None,
        target: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> tuple[list[AuditEvent], int]:
        stmt = select(AuditEvent)
        if actor:
            stmt = stmt.where((AuditEvent.actor == actor) | (AuditEvent.actor_name == actor))
        if org_id is not None:
            stmt = stmt.where(AuditEvent.org_id == org_id)
        if action:
            stmt = stmt.where(AuditEvent.action.startswith(action, autoescape=True))
        if target:
            stmt = stmt.where(AuditEvent.target_id == target)
        if since:
            stmt = stmt.where(AuditEvent.at >= since)
        if until:
            stmt = stmt.where(AuditEvent.at < until)
        async with self.db.session() as s:
            total = await s.scalar(select(func.count()).select_from(stmt.subquery())) or 0
            rows = await s.scalars(stmt.order_by(AuditEvent.id.desc()).offset(offset).limit(limit))
            return list(rows), total

    async def _iter_rows(
        self, session: AsyncSession, batch: int = 1000
    ) -> AsyncIterator[AuditEvent]:
        last = 0
        while True:
            rows = list(
                await session.scalars(
                    select(AuditEvent)
                    .where(AuditEvent.id > last)
                    .order_by(AuditEvent.id)
                    .limit(batch)
                )
            )
            if not rows:
                return
            for r in rows:
                yield r
            last = rows[-1].id
            session.expunge_all()

    async def verify(self) -> Verdict:
        """Walk the whole chain from the last checkpoint (or genesis)."""
        async with self.db.session() as s:
            start = await s.scalar(
                select(AuditCheckpoint.last_hash).order_by(AuditCheckpoint.id.desc()).limit(1)
            )
            rows = [r async for r in self._iter_rows(s)]
        return verify(rows, start or GENESIS)

    async def export(self, fmt: str, **filters: Any) -> bytes:
        """CSV or XLSX of the matching rows (the caller audits the export itself)."""
        rows, _ = await self.search(**filters, offset=0, limit=100_000)
        table = [[_cell(getattr(r, c)) for c in EXPORT_COLUMNS] for r in rows]
        if fmt == "csv":
            buf = io.StringIO()
            w = csv.writer(buf)
            w.writerow(EXPORT_COLUMNS)
            w.writerows(table)
            return ("\ufeff" + buf.getvalue()).encode()  # BOM: Excel opens UTF-8 correctly
        if fmt == "xlsx":
            from openpyxl import Workbook

            wb = Workbook(write_only=True)
            ws = wb.create_sheet("audit")
            ws.append(list(EXPORT_COLUMNS))
            for line in table:
                ws.append(line)
            out = io.BytesIO()
            wb.save(out)
            return out.getvalue()
        raise ValueError("format must be csv or xlsx")

    # ---------------------------------------------------------- retention
    async def prune(self, now: datetime | None = None) -> int:
        """Archive rows older than the retention period, keep a checkpoint, delete them.

        Verification afterwards starts from the checkpoint's hash, so the remaining
        chain stays verifiable; the archive file can be verified on its own.
        """
        if self.retention_days is None:
            return 0
        cutoff = (now or utcnow()) - timedelta(days=self.retention_days)
        async with self.db.session() as s:
            rows = list(
                await s.scalars(
                    select(AuditEvent).where(AuditEvent.at < cutoff).order_by(AuditEvent.id)
                )
            )
            # Only a prefix of the chain can go: stop at the first row that is still young.
            first_young = await s.scalar(
                select(func.min(AuditEvent.id)).where(AuditEvent.at >= cutoff)
            )
            if first_young is not None:
                rows = [r for r in rows if r.id < first_young]
            if not rows:
                return 0
            path = None
            if self.archive_dir:
                d = Path(self.archive_dir)
                d.mkdir(parents=True, exist_ok=True)
                path = d / f"audit-{rows[0].id}-{rows[-1].id}.jsonl"
                with path.open("w", encoding="utf-8") as f:
                    for r in rows:
                        f.write(
                            json.dumps(
                                {c: _cell(getattr(r, c)) for c in (*EXPORT_COLUMNS, "prev_hash")},
                                ensure_ascii=False,
                            )
                            + "\n"
                        )
            s.add(
                AuditCheckpoint(
                    last_id=rows[-1].id,
                    last_hash=rows[-1].hash or "",
                    rows=len(rows),
                    archive=str(path) if path else None,
                )
            )
            await s.execute(delete(AuditEvent).where(AuditEvent.id <= rows[-1].id))
            await s.commit()
            return len(rows)


def _cell(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.isoformat()
    return v
