"""Two pooled SQLite connections writing: the second waits for the first, it is not lost."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import text

from sharpeyes.store.db import Database


async def test_a_write_waits_behind_a_slow_transaction_instead_of_failing(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'w.db'}")
    try:
        async with db.engine.begin() as c:
            await c.execute(text("create table t (id integer primary key, n integer)"))
            await c.execute(text("insert into t values (1, 0)"))
        locked = asyncio.Event()

        async def slow_writer() -> None:
            async with db.session() as s:
                await s.execute(text("update t set n = n + 1 where id = 1"))
                locked.set()
                await asyncio.sleep(6)  # e.g. a request whose loop is saturated by media
                await s.commit()

        async def second_writer() -> None:
            await locked.wait()
            async with db.session() as s:
                await s.execute(text("update t set n = n + 10 where id = 1"))
                await s.commit()

        await asyncio.wait_for(asyncio.gather(slow_writer(), second_writer()), 20)
        async with db.session() as s:
            assert (await s.execute(text("select n from t"))).scalar() == 11
    finally:
        await db.dispose()
