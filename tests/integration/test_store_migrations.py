"""Migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

import sharpeyes.store
from sharpeyes.store.db import Database, alembic_config, is_sqlite
from sharpeyes.store.models import Base
from sharpeyes.store.schema import include_name

TABLES = {
    "devices",
    "channels",
    "status_events",
    "alarms",
    "users",
    "settings_kv",
    # 0002: resource ledger and jobs
    "regions",
    "police_stations",
    "organisations",
    "platform_records",
    "internal_systems",
    "camera_records",
    "ledger_changes",
    "jobs",
    "camera_map_cells",
    "camera_map_state",
    # 0003: sharing and audit
    "share_requests",
    "share_reviews",
    "share_grants",
    "apps",
    "app_nonces",
    "webhooks",
    "webhook_deliveries",
    "audit_events",
    "audit_checkpoints",
    # 0008: messages (mobile positions)
    "mobile_positions",
    # 0007: RTSP/ONVIF proxies
    "proxies",
    # 0005: platform recording
    "record_plans",
    "record_segments",
    # 0004: cascade
    "cascade_uppers",
    "cascade_channels",
    "cascade_forwards",
    # 0006: health (运维)
    "health_channel_state",
    "health_days",
    "health_clock_checks",
    "vqd_plans",
    "vqd_results",
    "vqd_baselines",
    "om_alarm_rules",
    "om_alarms",
    "work_orders",
    "work_order_events",
    # 0009: console saved views
    "console_views",
    # 0010: health monthly rollup
    "health_months",
}
ALEMBIC_INI = Path(sharpeyes.store.__file__).parent / "alembic.ini"


def _head() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


async def _diff(db: Database, metadata: sa.MetaData) -> list[Any]:
    def run(conn: sa.Connection) -> list[Any]:
        ctx = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "compare_server_default": True,
                # As env.py: the R*Tree / GiST made by hand in 0002 are not models.
                "include_name": include_name,
            },
        )
        return list(compare_metadata(ctx, metadata))

    async with db.engine.connect() as conn:
        return await conn.run_sync(run)


async def _tables(db: Database) -> set[str]:
    """Model tables present (the R*Tree and its SQLite shadow tables are not models)."""
    async with db.engine.connect() as conn:
        names = await conn.run_sync(lambda c: sa.inspect(c).get_table_names())
    return {n for n in names if include_name(n, "table", {})}


async def _raw_tables(db: Database) -> set[str]:
    async with db.engine.connect() as conn:
        return set(await conn.run_sync(lambda c: sa.inspect(c).get_table_names()))


async def test_upgrade_from_empty_to_head_matches_models(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No alembic.ini where we run: the config must come from the package itself.
    monkeypatch.chdir(tmp_path)
    db = Database(db_url)
    try:
        assert await db.current_revision() is None
        assert await _tables(db) == set()
        await db.upgrade()
        assert await db.current_revision() == _head()
        assert await _tables(db) == TABLES | {"alembic_version"}
        assert await _diff(db, Base.metadata) == []
        await db.upgrade()  # idempotent at head
        assert await db.current_revision() == _head()
    finally:
        await db.dispose()


async def test_diff_detects_drift(database: Database) -> None:
    """Guard for the test above: the comparison must be able to fail."""
    drifted = sa.MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.tables.values():
        table.to_metadata(drifted)
    devices = drifted.tables["devices"]
    devices.append_column(sa.Column("not_migrated", sa.Integer, nullable=True))
    sa.Index(None, devices.c.name)
    diff = await _diff(database, drifted)
    kinds = {d[0] for d in diff}
    assert "add_column" in kinds
    assert "add_index" in kinds


async def test_named_constraints_and_indexes(database: Database) -> None:
    def inspect(conn: sa.Connection) -> dict[str, Any]:
        insp = sa.inspect(conn)
        return {
            "ix_channels": {i["name"] for i in insp.get_indexes("channels")},
            "ix_events": {i["name"] for i in insp.get_indexes("status_events")},
            "uq_channels": {u["name"] for u in insp.get_unique_constraints("channels")},
            "fk_channels": insp.get_foreign_keys("channels"),
        }

    async with database.engine.connect() as conn:
        got = await conn.run_sync(inspect)
    assert {
        "ix_channels_online",
        "ix_channels_civil_code",
        "ix_channels_name",
        "ix_channels_device_id",
    } <= got["ix_channels"]
    assert {"ix_status_events_device_id_at", "ix_status_events_channel_id_at"} <= got["ix_events"]
    assert got["uq_channels"] == {"uq_channels_device_id_channel_id"}
    (fk,) = got["fk_channels"]
    assert fk["name"] == "fk_channels_device_id_devices"
    assert fk["options"].get("ondelete") == "CASCADE"


async def test_downgrade_to_base_and_up_again(database: Database) -> None:
    await database.downgrade("base")
    assert await database.current_revision() is None
    # Nothing left behind, the hand-made R*Tree included.
    assert await _raw_tables(database) <= {"alembic_version"}
    await database.upgrade()
    assert await _tables(database) == TABLES | {"alembic_version"}
    assert await _diff(database, Base.metadata) == []


async def _alembic_cli(url: str, cwd: Path, *args: str) -> tuple[int, str]:
    env = {**os.environ, "SHARPEYES_DB__URL": url}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "alembic",
        "-c",
        str(ALEMBIC_INI),
        *args,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    return proc.returncode or 0, out.decode()


async def test_alembic_cli_upgrade_and_check(db_url: str, tmp_path: Path) -> None:
    code, out = await _alembic_cli(db_url, tmp_path, "upgrade", "head")
    assert code == 0, out
    assert "Running upgrade  -> 0001" in out
    code, out = await _alembic_cli(db_url, tmp_path, "check")
    assert code == 0, out
    assert "No new upgrade operations detected" in out
    db = Database(db_url)
    try:
        assert await db.current_revision() == _head()
    finally:
        await db.dispose()


async def test_alembic_cli_offline_sql(db_url: str, tmp_path: Path) -> None:
    code, out = await _alembic_cli(db_url, tmp_path, "upgrade", "head", "--sql")
    assert code == 0, out
    assert "CREATE TABLE devices" in out
    assert "CREATE INDEX ix_status_events_device_id_at" in out


async def test_sqlite_pragmas_on_every_connection(db_url: str) -> None:
    if not is_sqlite(db_url):
        pytest.skip("SQLite only")
    db = Database(db_url)
    try:
        assert Path(sa.make_url(db_url).database or "").parent.is_dir()
        await db.upgrade()
        # The pool holds one connection (SQLite has one writer); a fresh one after
        # dispose() must get the pragmas too, and foreign keys must be back on
        # after the migration switched them off.
        for _ in range(2):
            async with db.engine.connect() as conn:
                pragmas = {
                    name: (await conn.exec_driver_sql(f"PRAGMA {name}")).scalar()
                    for name in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
                }
                assert pragmas == {
                    "journal_mode": "wal",
                    "foreign_keys": 1,
                    "busy_timeout": 30000,
                    "synchronous": 1,  # NORMAL
                }
            await db.engine.dispose()
    finally:
        await db.dispose()


def test_is_sqlite() -> None:
    assert is_sqlite("sqlite+aiosqlite:///data/x.db")
    assert is_sqlite("sqlite://")
    assert not is_sqlite("postgresql+asyncpg://postgres@127.0.0.1/test")
