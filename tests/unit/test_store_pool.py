"""The database pool: never one connection with a 60 s wait (a slow request stalled every read)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import text

from sharpeyes.store.db import Database


async def test_sqlite_file_pool_serves_a_read_while_a_connection_is_held(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    pool = db.engine.pool
    assert pool.size() >= 2 and pool.timeout() <= 10  # type: ignore[attr-defined]
    try:
        async with db.engine.connect() as held:  # e.g. a request stuck behind media work
            await held.execute(text("select 1"))
            async with db.session() as s:  # another request still gets a connection
                assert (await asyncio.wait_for(s.execute(text("select 2")), 2)).scalar() == 2
    finally:
        await db.dispose()


def test_pool_is_configurable_and_postgres_gets_a_real_pool() -> None:
    db = Database("postgresql+asyncpg://u:p@127.0.0.1:1/x", pool_size=7, pool_timeout_s=3)
    assert db.engine.pool.size() == 7 and db.engine.pool.timeout() == 3  # type: ignore[attr-defined]
    db2 = Database("postgresql+asyncpg://u:p@127.0.0.1:1/x")
    assert db2.engine.pool.size() == 10  # type: ignore[attr-defined]
