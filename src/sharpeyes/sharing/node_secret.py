"""Node-level secrets (e.g. the JWT signing key) persisted in ``settings_kv``.

Kept in the database so issued tokens stay valid across restarts and every node
of a PostgreSQL-backed cluster signs with the same key.
"""

from __future__ import annotations

import base64
import secrets

from sqlalchemy.exc import IntegrityError

from sharpeyes.store.db import Database
from sharpeyes.store.models import SettingKV

SECRET_BYTES = 32  # HS256 wants a key at least as long as its 256-bit output


def _key(name: str) -> str:
    return f"secret.{name}"


def _decode(value: object) -> bytes:
    if not isinstance(value, str):
        raise ValueError("stored secret is not a base64 string")
    return base64.urlsafe_b64decode(value.encode("ascii"))


async def get_or_create_secret(db: Database, name: str) -> bytes:
    """The secret called ``name``, generated (random, 32 bytes) on first use.

    Safe when several nodes race: the primary key decides the winner and the
    losers read the winner's value.
    """
    if not name:
        raise ValueError("secret name must not be empty")
    key = _key(name)
    async with db.session() as session:
        row = await session.get(SettingKV, key)
        if row is not None:
            return _decode(row.value)
        value = base64.urlsafe_b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")
        session.add(SettingKV(key=key, value=value))
        try:
            await session.commit()
            return _decode(value)
        except IntegrityError:
            await session.rollback()
    async with db.session() as session:
        row = await session.get(SettingKV, key)
        if row is None:  # pragma: no cover - the conflicting row vanished
            raise RuntimeError(f"secret {name!r} could not be created")
        return _decode(row.value)
