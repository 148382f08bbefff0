"""Alembic environment for sharpeyes.

Two ways in:

* programmatically (``Database.upgrade``): the caller passes an open sync
  ``Connection`` in ``config.attributes["connection"]`` (from
  ``AsyncConnection.run_sync``); we migrate on it and the caller commits;
* the ``alembic`` CLI (``-c src/sharpeyes/store/alembic.ini``): the URL comes from
  ``SHARPEYES_DB__URL`` (or ``sqlalchemy.url``), and we open an async engine ourselves.
"""

from __future__ import annotations

import asyncio
import os
from logging.config import fileConfig
from typing import Any

from alembic import context
from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url

from sharpeyes.store.db import Database
from sharpeyes.store.models import UTCDateTime
from sharpeyes.store.schema import include_name, metadata

config = context.config
# Every table of the node (store, ledger, jobs): schema imports their modules.
target_metadata = metadata

# Serialises concurrent upgrades of one PostgreSQL database (several nodes starting).
_PG_MIGRATION_LOCK_ID = 0x5E_28181


def _render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    # Keep generated migrations free of imports from the live models module.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _configure_kwargs(dialect_name: str) -> dict[str, Any]:
    return {
        "target_metadata": target_metadata,
        "render_as_batch": dialect_name == "sqlite",
        "compare_type": True,
        "compare_server_default": True,
        "render_item": _render_item,
        # The R*Tree and GiST index are made by hand in 0002: never diff them.
        "include_name": include_name,
    }


def _url() -> str:
    url = os.environ.get("SHARPEYES_DB__URL") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("set SHARPEYES_DB__URL to the database URL to migrate")
    return url


def run_migrations_offline() -> None:
    """``alembic upgrade --sql``: emit SQL instead of executing it."""
    url = _url()
    context.configure(
        url=url,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        **_configure_kwargs(make_url(url).get_backend_name()),
    )
    with context.begin_transaction():
        context.run_migrations()


def do_run_migrations(connection: Connection) -> None:
    context.configure(connection=connection, **_configure_kwargs(connection.dialect.name))
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK_ID}
            )
        context.run_migrations()


async def _run_cli_migrations() -> None:
    db = Database(_url())
    try:
        async with db.engine.connect() as conn:
            if db.is_sqlite:
                # As in Database.upgrade: batch table rebuilds must not fire cascades.
                await conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
                await conn.commit()
            await conn.run_sync(do_run_migrations)
            await conn.commit()
    finally:
        await db.dispose()


def run_migrations_online() -> None:
    connection: Connection | None = config.attributes.get("connection")
    if connection is not None:
        do_run_migrations(connection)
    else:
        asyncio.run(_run_cli_migrations())


if config.attributes.get("connection") is None and config.config_file_name is not None:
    fileConfig(config.config_file_name)

if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
