"""One page of a scoped SELECT plus the total it was cut from (every list endpoint)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from sharpeyes.store.db import Database


@dataclass
class Page:
    items: list[Any]
    total: int
    offset: int
    limit: int
    total_estimated: bool = False  # total is the planner's estimate (deep, large sets)


async def fetch_page(db: Database, stmt: Any, offset: int, limit: int) -> Page:
    """ORM rows of ``stmt`` (already scoped and ordered) with the unpaginated count."""
    async with db.session() as s:
        total = (
            await s.execute(select(func.count()).select_from(stmt.order_by(None).subquery()))
        ).scalar_one()
        items = list((await s.execute(stmt.offset(offset).limit(limit))).scalars())
    return Page(items, total, offset, limit)
