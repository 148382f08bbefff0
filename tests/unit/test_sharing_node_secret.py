from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from sharpeyes.sharing.node_secret import get_or_create_secret
from sharpeyes.store.db import Database
from sharpeyes.store.models import SettingKV


async def test_secret_is_created_once_and_persists(database: Database, db_url: str) -> None:
    s1 = await get_or_create_secret(database, "jwt")
    assert isinstance(s1, bytes) and len(s1) == 32
    assert await get_or_create_secret(database, "jwt") == s1
    assert await get_or_create_secret(database, "stream") != s1
    # A restarted node (new engine, same database) signs with the same key.
    again = Database(db_url)
    try:
        assert await get_or_create_secret(again, "jwt") == s1
    finally:
        await again.dispose()
    async with database.session() as s:
        keys = set(await s.scalars(select(SettingKV.key)))
    assert keys == {"secret.jwt", "secret.stream"}


async def test_concurrent_creation_agrees(database: Database) -> None:
    results = await asyncio.gather(*(get_or_create_secret(database, "race") for _ in range(8)))
    assert len(set(results)) == 1


async def test_empty_name_rejected(database: Database) -> None:
    with pytest.raises(ValueError):
        await get_or_create_secret(database, "")
