"""Change history of the ledger: every change attributed to the user who made it.

Rows are written in the same transaction as the change they describe (so a change
without its history row cannot exist), and never updated. Exports are recorded
here too, with their filters and row count, until the audit module (M5.5) takes
over auditing — it should import these rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from sharpeyes.audit.service import Actor, record_on_commit
from sharpeyes.ledger.models import LedgerChange
from sharpeyes.sharing.principal import Principal
from sharpeyes.store.models import utcnow


def _plain(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.isoformat()
    return v


def diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, list[Any]]:
    """``{field: [old, new]}`` for every field of ``new`` whose value changed."""
    return {k: [_plain(old.get(k)), _plain(v)] for k, v in new.items() if old.get(k) != v}


def change_row(
    principal: Principal | None,
    entity: str,
    entity_id: object,
    action: str,
    changes: dict[str, Any] | None,
    *,
    job_id: str | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    return {
        "at": at or utcnow(),
        "user_id": principal.user_id if principal else None,
        "username": principal.username if principal else "system",
        "entity": entity,
        "entity_id": None if entity_id is None else str(entity_id),
        "action": action,
        "changes": changes,
        "job_id": job_id,
    }


async def record(
    session: AsyncSession,
    principal: Principal | None,
    entity: str,
    entity_id: object,
    action: str,
    changes: dict[str, Any] | None = None,
    *,
    job_id: str | None = None,
) -> None:
    """Add one history row, and its audit-trail row (sealed at commit), to the caller's
    transaction."""
    session.add(
        LedgerChange(**change_row(principal, entity, entity_id, action, changes, job_id=job_id))
    )
    record_on_commit(
        session,
        Actor.of(principal),
        f"ledger.{action}",
        entity,
        entity_id if entity_id is not None else "",
        detail={"changes": changes, "job_id": job_id},
    )


async def record_many(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Bulk form for imports (rows from :func:`change_row`); one audit row per batch."""
    if rows:
        await session.execute(insert(LedgerChange), rows)
        first = rows[0]
        record_on_commit(
            session,
            Actor(
                f"user:{first['user_id']}" if first["user_id"] is not None else "system",
                first["username"],
            ),
            "ledger.import",
            first["entity"],
            first.get("job_id") or "",
            detail={"rows": len(rows), "actions": sorted({r["action"] for r in rows})},
        )
