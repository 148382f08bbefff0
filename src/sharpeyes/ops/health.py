"""Readiness: the database answers and its schema is at the migrations' head."""

from __future__ import annotations

import asyncio
import time
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import text

from sharpeyes.store.db import alembic_config

if TYPE_CHECKING:
    from sharpeyes.services import Services as Node


@lru_cache(maxsize=1)
def migration_heads() -> tuple[str, ...]:
    from alembic.script import ScriptDirectory

    return tuple(sorted(ScriptDirectory.from_config(alembic_config()).get_heads()))


async def readiness(node: Node, timeout: float = 3.0) -> tuple[bool, dict[str, Any]]:
    """(ready, checks): each check says ok and, when not, why."""
    checks: dict[str, Any] = {}
    t0 = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):
            async with node.db.session() as s:
                await s.execute(text("SELECT 1"))
            current = await node.db.current_revision()
        checks["database"] = {"ok": True, "ms": round((time.perf_counter() - t0) * 1000, 2)}
        heads = migration_heads()
        checks["migrations"] = {
            "ok": current in heads,
            "current": current,
            "head": heads[0] if len(heads) == 1 else list(heads),
        }
    except Exception as exc:  # unreachable, timed out, wrong credentials...
        checks["database"] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
        checks["migrations"] = {"ok": False, "error": "database unreachable"}
    checks["sip"] = {"ok": node.stack.transport._udp is not None}
    return all(c["ok"] for c in checks.values()), checks
