"""Per-user saved views: each user sees and changes only their own rows."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select

from sharpeyes.console.models import ConsoleView, ViewKind
from sharpeyes.sharing.principal import Principal
from sharpeyes.store.db import Database

MAX_VIEWS_PER_KIND = 200


def _out(row: ConsoleView) -> dict[str, Any]:
    return {
        "id": row.id,
        "kind": row.kind,
        "name": row.name,
        "data": row.data,
        "updated_at": row.updated_at,
    }


async def list_views(db: Database, principal: Principal, kind: ViewKind) -> list[dict[str, Any]]:
    stmt = (
        select(ConsoleView)
        .where(ConsoleView.user_id == principal.user_id, ConsoleView.kind == kind.value)
        .order_by(ConsoleView.name)
    )
    async with db.session() as s:
        return [_out(r) for r in (await s.execute(stmt)).scalars()]


async def save_view(
    db: Database, principal: Principal, kind: ViewKind, name: str, data: dict[str, Any]
) -> dict[str, Any]:
    """Create or replace the user's view of that kind and name."""
    async with db.session() as s:
        row = (
            await s.execute(
                select(ConsoleView).where(
                    ConsoleView.user_id == principal.user_id,
                    ConsoleView.kind == kind.value,
                    ConsoleView.name == name,
                )
            )
        ).scalar()
        if row is None:
            existing = await s.scalar(
                select(func.count(ConsoleView.id)).where(
                    ConsoleView.user_id == principal.user_id, ConsoleView.kind == kind.value
                )
            )
            if (existing or 0) >= MAX_VIEWS_PER_KIND:
                raise ValueError(f"at most {MAX_VIEWS_PER_KIND} saved {kind.value}s per user")
            row = ConsoleView(user_id=principal.user_id, kind=kind.value, name=name, data=data)
            s.add(row)
        else:
            row.data = data
        await s.commit()
        await s.refresh(row)
        return _out(row)


async def delete_view(db: Database, principal: Principal, view_id: int) -> bool:
    async with db.session() as s:
        result = await s.execute(
            delete(ConsoleView).where(
                ConsoleView.id == view_id, ConsoleView.user_id == principal.user_id
            )
        )
        await s.commit()
    return bool(result.rowcount)
