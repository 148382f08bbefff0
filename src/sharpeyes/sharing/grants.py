"""Reading grants into a principal's scope (used on every authenticated request).

A grant counts only while ``starts_at <= now < ends_at`` and its state is active,
so expiry takes effect on the next request even before the sweeper marks the
grant expired; the sweeper's job is to end streams already open.
"""

from __future__ import annotations

from datetime import datetime
from types import MappingProxyType
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from sharpeyes.sharing.models import GrantState, ShareGrant
from sharpeyes.sharing.principal import Right


def _rights(values: Any) -> frozenset[Right]:
    out = set()
    for v in values or ():
        try:
            out.add(Right(v))
        except ValueError:
            continue
    return frozenset(out)


async def active_grants(
    session: AsyncSession, org_id: int | None, now: datetime
) -> MappingProxyType[int, frozenset[Right]]:
    """Channel pk → union of rights over the organisation's grants active at ``now``."""
    if org_id is None:
        return MappingProxyType({})
    rows = await session.scalars(
        select(ShareGrant).where(
            ShareGrant.org_id == org_id,
            ShareGrant.state == GrantState.ACTIVE.value,
            ShareGrant.starts_at <= now,
            ShareGrant.ends_at > now,
        )
    )
    out: dict[int, frozenset[Right]] = {}
    for g in rows:
        rights = _rights(g.rights)
        for pk in g.channels or ():
            out[int(pk)] = out.get(int(pk), frozenset()) | rights
    return MappingProxyType(out)
