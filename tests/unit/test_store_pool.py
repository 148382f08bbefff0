"""The database pool: SQLite writes queue for one connection (none lost); PostgreSQL pools."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import text

from sharpeyes.store.db import Database


async def test_sqlite_concurrent_read_modify_writes_are_all_kept(tmp_path: Path) -> None:
    """Many tasks writing at once (a registration storm): queued, none lost or refused."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    try:
        async with db.engine.begin() as c:
            await c.execute(text("create table t (id integer primary key, n integer)"))
            await c.execute(text("insert into t values (1, 0)"))

        async def bump() -> None:
            async with db.session() as s:
                n = (await s.execute(text("select n from t where id = 1"))).scalar_one()
                await asyncio.sleep(0.005)  # other tasks run between the read and the write
                await s.execute(text("update t set n = :n where id = 1"), {"n": n + 1})
                await s.commit()

        await asyncio.wait_for(asyncio.gather(*(bump() for _ in range(40))), 30)
        async with db.session() as s:
            assert (await s.execute(text("select n from t"))).scalar() == 40
    finally:
        await db.dispose()


def test_pool_is_configurable_and_postgres_gets_a_real_pool() -> None:
    db = Database("postgresql+asyncpg://u:p@127.0.0.1:1/x", pool_size=7, pool_timeout_s=3)
    assert db.engine.pool.size() == 7 and db.engine.pool.timeout() == 3  # type: ignore[attr-defined]
    db2 = Database("postgresql+asyncpg://u:p@127.0.0.1:1/x")
    assert db2.engine.pool.size() == 10  # type: ignore[attr-defined]
