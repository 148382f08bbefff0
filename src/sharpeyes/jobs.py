"""Background jobs: long work (a 100,000-row import) off the request, with progress.

A job runs as an asyncio task on the node's loop; its CPU-heavy parts go to
threads (``asyncio.to_thread``) so the loop, which also carries SIP, stays
responsive. State lives in memory for fast polling and in the ``jobs`` table so
``GET /api/jobs/{id}`` still answers after the job's node restarted (jobs caught
running by a restart are marked failed: their work is not resumable).

Only the user who started a job, or an admin, may read it.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Float, Integer, String, select, update
from sqlalchemy.orm import Mapped, mapped_column

from sharpeyes.events import EventBus
from sharpeyes.sharing.principal import Principal, Role
from sharpeyes.store.db import Database
from sharpeyes.store.models import Base, JSONType, UTCDateTime, utcnow

log = logging.getLogger(__name__)

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"


class Job(Base):
    """One background job and its outcome."""

    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16))
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    user_id: Mapped[int | None] = mapped_column(Integer, index=True)
    username: Mapped[str | None] = mapped_column(String(64))
    params: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    message: Mapped[str | None] = mapped_column(String(1024))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class JobNotFound(LookupError):
    """Unknown job, or one the principal may not read (indistinguishable on purpose)."""


@dataclass
class JobState:
    id: str
    kind: str
    user_id: int | None
    username: str | None
    params: dict[str, Any]
    state: str = QUEUED
    progress: float = 0.0
    result: dict[str, Any] = field(default_factory=dict)
    message: str | None = None
    created_at: datetime = field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "job_id": self.id,
            "kind": self.kind,
            "state": self.state,
            "progress": round(self.progress, 4),
            "message": self.message,
            "username": self.username,
            "params": self.params,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
        }
        out["imported"] = self.result.get("imported", 0)
        out["errors"] = self.result.get("errors", [])
        out.update({k: v for k, v in self.result.items() if k not in out})
        return out

    @classmethod
    def from_row(cls, row: Job) -> JobState:
        return cls(
            id=row.id,
            kind=row.kind,
            user_id=row.user_id,
            username=row.username,
            params=row.params or {},
            state=row.state,
            progress=row.progress,
            result=row.result or {},
            message=row.message,
            created_at=row.created_at,
            started_at=row.started_at,
            finished_at=row.finished_at,
        )


class JobContext:
    """What a running job sees: report progress and results; persisted in throttled steps."""

    PERSIST_EVERY_S = 1.0

    def __init__(self, runner: JobRunner, state: JobState) -> None:
        self._runner = runner
        self.state = state
        self._last_persist = 0.0

    @property
    def id(self) -> str:
        return self.state.id

    async def progress(self, fraction: float, **result: Any) -> None:
        self.state.progress = max(0.0, min(1.0, fraction))
        self.state.result.update(result)
        now = time.monotonic()
        if now - self._last_persist >= self.PERSIST_EVERY_S:
            self._last_persist = now
            await self._runner._persist(self.state)
            self._runner._publish(self.state)


JobFn = Callable[[JobContext], Awaitable[None]]


class JobFailed(Exception):
    """Raised by a job to end as ``failed`` with a message meant for the user."""


class JobRunner:
    """Runs jobs, at most ``max_concurrent`` at a time (imports compete for the writer)."""

    def __init__(self, db: Database, bus: EventBus | None = None, max_concurrent: int = 1) -> None:
        self.db = db
        self.bus = bus
        self._jobs: dict[str, JobState] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._slots = asyncio.Semaphore(max_concurrent)

    async def start(self) -> None:
        """Jobs a previous run left unfinished cannot resume: say so."""
        async with self.db.session() as s:
            await s.execute(
                update(Job)
                .where(Job.state.in_((QUEUED, RUNNING)))
                .values(state=FAILED, message="interrupted by a node restart", finished_at=utcnow())
            )
            await s.commit()

    async def stop(self) -> None:
        tasks = list(self._tasks.values())
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=5)

    async def submit(
        self, principal: Principal, kind: str, params: dict[str, Any], fn: JobFn
    ) -> JobState:
        state = JobState(
            id=uuid.uuid4().hex,
            kind=kind,
            user_id=principal.user_id,
            username=principal.username,
            params=params,
        )
        async with self.db.session() as s:
            s.add(
                Job(
                    id=state.id,
                    kind=kind,
                    state=QUEUED,
                    progress=0.0,
                    user_id=state.user_id,
                    username=state.username,
                    params=params,
                    created_at=state.created_at,
                )
            )
            await s.commit()
        self._jobs[state.id] = state
        self._tasks[state.id] = asyncio.create_task(self._run(state, fn), name=f"job-{state.id}")
        return state

    async def wait(self, job_id: str) -> None:
        """Until the job has finished (tests, CLI)."""
        task = self._tasks.get(job_id)
        if task is not None:
            await asyncio.wait([task])

    async def get(self, principal: Principal, job_id: str) -> JobState:
        state = self._jobs.get(job_id)
        if state is None:
            async with self.db.session() as s:
                row = await s.get(Job, job_id)
            if row is None:
                raise JobNotFound(job_id)
            state = JobState.from_row(row)
        if principal.role != Role.ADMIN and state.user_id != principal.user_id:
            raise JobNotFound(job_id)
        return state

    async def list(self, principal: Principal, limit: int = 50) -> list[JobState]:
        stmt = select(Job).order_by(Job.created_at.desc()).limit(limit)
        if principal.role != Role.ADMIN:
            stmt = stmt.where(Job.user_id == principal.user_id)
        async with self.db.session() as s:
            rows = list((await s.execute(stmt)).scalars())
        return [self._jobs.get(r.id) or JobState.from_row(r) for r in rows]

    # ------------------------------------------------------------ internals
    async def _run(self, state: JobState, fn: JobFn) -> None:
        ctx = JobContext(self, state)
        try:
            async with self._slots:
                state.state = RUNNING
                state.started_at = utcnow()
                await self._persist(state)
                self._publish(state)
                await fn(ctx)
                if state.state == RUNNING:
                    state.state = DONE
                    state.progress = 1.0
        except asyncio.CancelledError:
            state.state = FAILED
            state.message = "cancelled (node stopping)"
        except JobFailed as exc:
            state.state = FAILED
            state.message = str(exc)
        except Exception as exc:
            log.exception("job %s (%s) failed", state.id, state.kind)
            state.state = FAILED
            state.message = f"internal error: {type(exc).__name__}: {exc}"[:1000]
        finally:
            state.finished_at = utcnow()
            try:
                await asyncio.shield(self._persist(state))
            except Exception:  # the DB may be gone when the node stops
                log.warning("could not store the outcome of job %s", state.id)
            self._publish(state)
            self._tasks.pop(state.id, None)
            # Keep finished jobs in memory for a while; the table has them anyway.
            if len(self._jobs) > 200:
                for jid in [j for j, s in self._jobs.items() if s.finished_at][:100]:
                    self._jobs.pop(jid, None)

    async def _persist(self, state: JobState) -> None:
        async with self.db.session() as s:
            await s.execute(
                update(Job)
                .where(Job.id == state.id)
                .values(
                    state=state.state,
                    progress=state.progress,
                    result=state.result,
                    message=state.message,
                    started_at=state.started_at,
                    finished_at=state.finished_at,
                )
            )
            await s.commit()

    def _publish(self, state: JobState) -> None:
        if self.bus is not None:
            self.bus.publish(
                "job.updated",
                id=state.id,
                kind=state.kind,
                state=state.state,
                progress=round(state.progress, 4),
                user_id=state.user_id,
            )
