"""Engine, sessions and schema migration for SQLite (embedded) and PostgreSQL."""

from __future__ import annotations

import bisect
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import StaticPool

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

COMMIT_BUCKETS: tuple[float, ...] = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0)


@dataclass
class CommitLatency:
    """Every commit's duration, as cumulative-ready bucket counts (Prometheus reads it at
    scrape time; the store stays free of the metrics library)."""

    buckets: tuple[float, ...] = COMMIT_BUCKETS
    counts: list[int] = field(default_factory=lambda: [0] * (len(COMMIT_BUCKETS) + 1))
    total: float = 0.0
    count: int = 0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, seconds)] += 1
        self.total += seconds
        self.count += 1


class TimedSession(AsyncSession):
    """An ``AsyncSession`` whose commits are timed into its database's ``CommitLatency``."""

    latency: CommitLatency | None = None

    async def commit(self) -> None:
        t0 = time.perf_counter()
        try:
            await super().commit()
        finally:
            if self.latency is not None:
                self.latency.observe(time.perf_counter() - t0)


SQLITE_PRAGMAS: tuple[tuple[str, str], ...] = (
    # WAL: readers never block the writer; the node reads constantly while SIP writes.
    ("journal_mode", "WAL"),
    # SQLite ships with FKs off; ON DELETE CASCADE (device → channels/events) needs it.
    ("foreign_keys", "ON"),
    # Wait for a competing writer instead of failing with "database is locked". As long
    # as the pool's own wait: with several pooled connections a write now waits here, in
    # the connection's thread, where it used to queue for the one connection. 5 s lost
    # keepalive flushes in a soak (1,000 devices, 50 streams) whenever a saturated loop
    # kept another connection's transaction open that long.
    ("busy_timeout", "30000"),
    # Durable at checkpoints, not every commit: safe with WAL, far fewer fsyncs.
    ("synchronous", "NORMAL"),
)


def is_sqlite(url: str | URL) -> bool:
    """True for any SQLite URL (``sqlite://``, ``sqlite+aiosqlite://``…)."""
    return make_url(url).get_backend_name() == "sqlite"


def _is_memory_sqlite(url: URL) -> bool:
    db = url.database
    return not db or db == ":memory:" or "mode=memory" in db


def _set_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        for name, value in SQLITE_PRAGMAS:
            cursor.execute(f"PRAGMA {name}={value}")
    finally:
        cursor.close()


def alembic_config() -> Config:
    """Alembic config built in code, pointing at the migrations shipped in the package.

    No alembic.ini is read, so migrations run the same from a checkout, an installed
    wheel or any working directory.
    """
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("path_separator", "os")
    return cfg


class Database:
    """One engine + session factory per node; call :meth:`upgrade` before use."""

    def __init__(
        self,
        url: str,
        *,
        echo: bool = False,
        pool_size: int | None = None,
        max_overflow: int | None = None,
        pool_timeout_s: float | None = None,
    ) -> None:
        parsed = make_url(url)
        self.url = url
        self.dialect_name = parsed.get_backend_name()
        kwargs: dict[str, Any] = {"echo": echo}
        if self.dialect_name == "sqlite":
            if _is_memory_sqlite(parsed):
                # Each new connection would be a new empty database: share one.
                kwargs["poolclass"] = StaticPool
            else:
                Path(parsed.database or "").expanduser().parent.mkdir(parents=True, exist_ok=True)
                # One connection by default: SQLite has one writer, and several pooled
                # connections contending for it either fail ("database is locked" once
                # busy_timeout runs out: lost keepalive flushes in a 1,000-device soak
                # with 2 + 2) or, with a long busy_timeout, sleep in the busy handler
                # until the pool's wait runs out (a registration storm of 1,000 devices
                # then failed). Queuing for the one connection is cheaper (55
                # registrations/s with 5 connections, see docs/benchmarks.md). Scale is
                # PostgreSQL's job; pool_size raises it for read-heavy SQLite nodes.
                kwargs.update(
                    pool_size=pool_size or 1,
                    max_overflow=0 if max_overflow is None else max_overflow,
                    pool_timeout=pool_timeout_s or 30.0,
                )
        else:
            # Survive a PostgreSQL restart without handing out dead pooled connections.
            kwargs["pool_pre_ping"] = True
            kwargs.update(
                pool_size=pool_size or 10,
                max_overflow=10 if max_overflow is None else max_overflow,
                pool_timeout=pool_timeout_s or 10.0,
            )
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if self.dialect_name == "sqlite":
            event.listen(self.engine.sync_engine, "connect", _set_sqlite_pragmas)
        self.commit_latency = CommitLatency()
        timed = type("NodeTimedSession", (TimedSession,), {"latency": self.commit_latency})
        self.sessionmaker: async_sessionmaker[AsyncSession] = async_sessionmaker(
            self.engine, class_=timed, expire_on_commit=False
        )

    @property
    def is_sqlite(self) -> bool:
        return self.dialect_name == "sqlite"

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session; commit explicitly, anything uncommitted is rolled back on exit."""
        async with self.sessionmaker() as session:
            yield session

    async def upgrade(self, revision: str = "head") -> None:
        """Apply Alembic migrations up to ``revision`` (idempotent)."""
        await self._migrate(command.upgrade, revision)

    async def downgrade(self, revision: str) -> None:
        """Revert migrations down to ``revision`` (``"base"`` drops everything)."""
        await self._migrate(command.downgrade, revision)

    async def current_revision(self) -> str | None:
        """The revision the database is at, None if never migrated."""
        from alembic.runtime.migration import MigrationContext

        def _current(conn: Connection) -> str | None:
            return MigrationContext.configure(conn).get_current_revision()

        async with self.engine.connect() as conn:
            return await conn.run_sync(_current)

    async def _migrate(self, fn: Any, revision: str) -> None:
        async with self.engine.connect() as conn:
            if self.is_sqlite:
                await _sqlite_foreign_keys(conn, on=False)
            try:
                await conn.run_sync(_run_alembic, fn, revision)
                await conn.commit()
                if self.is_sqlite:
                    bad = (await conn.exec_driver_sql("PRAGMA foreign_key_check")).fetchall()
                    if bad:
                        raise RuntimeError(f"migration left foreign-key violations: {bad[:5]}")
            finally:
                if self.is_sqlite:
                    await conn.rollback()
                    await _sqlite_foreign_keys(conn, on=True)

    async def dispose(self) -> None:
        """Close pooled connections (call on shutdown)."""
        await self.engine.dispose()


async def _sqlite_foreign_keys(conn: AsyncConnection, *, on: bool) -> None:
    # SQLite ignores this PRAGMA inside a transaction, so it runs in its own. FKs are
    # off while migrating because batch mode recreates tables, and dropping a parent
    # table with FKs on would cascade-delete its children's rows.
    await conn.exec_driver_sql(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
    await conn.commit()


def _run_alembic(connection: Connection, fn: Any, revision: str) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    fn(cfg, revision)
