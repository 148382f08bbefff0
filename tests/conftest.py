"""Shared fixtures.

Database tests run on SQLite by default. Set ``SHARPEYES_TEST_PG`` to a server URL
(e.g. ``postgresql+asyncpg://postgres@127.0.0.1:5432/postgres``) to run them on
PostgreSQL instead: each test then gets its own freshly created database.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.engine import URL, make_url

from sharpeyes.store.db import Database

PG_ENV = "SHARPEYES_TEST_PG"


def _asyncpg_kwargs(url: URL) -> dict[str, object]:
    return {
        "host": url.host or "127.0.0.1",
        "port": url.port or 5432,
        "user": url.username,
        "password": url.password,
        "database": url.database or "postgres",
    }


async def _pg_admin(url: URL, sql: str, *args: object) -> None:
    import asyncpg

    conn = await asyncpg.connect(**_asyncpg_kwargs(url))
    try:
        await conn.execute(sql, *args)
    finally:
        await conn.close()


@pytest.fixture
async def db_url(tmp_path: Path) -> AsyncIterator[str]:
    """URL of an empty database that exists only for this test."""
    server = os.environ.get(PG_ENV)
    if not server:
        # A subdirectory that does not exist yet: Database must create it.
        yield f"sqlite+aiosqlite:///{tmp_path / 'data' / 'sharpeyes.db'}"
        return
    base = make_url(server)
    name = f"sharpeyes_test_{uuid.uuid4().hex[:16]}"
    await _pg_admin(base, f'CREATE DATABASE "{name}"')
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        await _pg_admin(
            base,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = $1 AND pid <> pg_backend_pid()",
            name,
        )
        await _pg_admin(base, f'DROP DATABASE IF EXISTS "{name}"')


@pytest.fixture
async def database(db_url: str) -> AsyncIterator[Database]:
    """A migrated :class:`Database` on ``db_url``."""
    db = Database(db_url)
    await db.upgrade()
    try:
        yield db
    finally:
        await db.dispose()


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> dict[str, object]:
    """Tests run on uvloop, as the node does in production (``sharpeyes serve``)."""
    import uvloop

    return {"uvloop": uvloop.new_event_loop}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that touch a database run again on PostgreSQL (``make test-pg``)."""
    for item in items:
        if "db_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.db)
