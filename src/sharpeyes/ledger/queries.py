"""Filters over camera records, shared by the list, the export and the map.

One definition so that "what the list shows", "what the export contains" and
"what the map draws" for the same filter can never differ. Scope is applied by
the caller through ``sharing.scope.scope_camera_records``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import Select, and_, exists, func, or_, select

from sharpeyes.ledger.models import CameraRecord
from sharpeyes.store.models import Channel

_S = TypeVar("_S", bound=Select[Any])


@dataclass
class CameraFilters:
    region: str | None = None  # region code prefix (subtree)
    org_ids: list[int] | None = None  # org subtree, resolved by the service
    org_role: str = "any"  # owner | maintainer | any
    point_class: int | None = None
    category: str | None = None
    status: str | None = None
    network: str | None = None
    complete: bool | None = None
    on_map: bool | None = None
    social: bool | None = None
    linked: bool | None = None  # a channel with this code exists
    police_station_id: int | None = None
    platform_id: int | None = None
    integration_method: str | None = None
    q: str | None = None
    ids: list[int] | None = field(default=None)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None and v != "any"}


def linked_clause() -> Any:
    return exists().where(Channel.channel_id == CameraRecord.code)


NO_LINK: dict[str, Any] = {"online": None, "device_id": None, "channel_pk": None}


async def channel_links(session: Any, codes: Iterable[str | None]) -> dict[str, dict[str, Any]]:
    """The linked channel of each code: ``{online, device_id, channel_pk}``.

    A code may be reported by more than one device (the channel key is device +
    channel id); the online one wins, then the oldest row. Only the given codes
    are looked up (a page of the list, the single points of a map view).
    """
    wanted = sorted({c for c in codes if c})
    out: dict[str, dict[str, Any]] = {}
    for start in range(0, len(wanted), 500):
        part = wanted[start : start + 500]
        rows = (
            await session.execute(
                select(Channel.channel_id, Channel.id, Channel.device_id, Channel.online)
                .where(Channel.channel_id.in_(part))
                .order_by(Channel.channel_id, Channel.id)
            )
        ).all()
        for code, pk, device_id, online in rows:
            cur = out.get(code)
            if cur is None or (online and not cur["online"]):
                out[code] = {"online": bool(online), "device_id": device_id, "channel_pk": pk}
    return out


def apply_filters(stmt: _S, f: CameraFilters) -> _S:
    c = CameraRecord
    if f.region:
        no_region = or_(c.region_code.is_(None), c.region_code == "")
        stmt = stmt.where(
            or_(
                c.region_code.startswith(f.region, autoescape=True),
                and_(no_region, c.code.startswith(f.region, autoescape=True)),
            )
        )
    if f.org_ids is not None:
        if f.org_role == "owner":
            stmt = stmt.where(c.owner_org_id.in_(f.org_ids))
        elif f.org_role == "maintainer":
            stmt = stmt.where(c.maintainer_org_id.in_(f.org_ids))
        else:
            stmt = stmt.where(
                or_(c.owner_org_id.in_(f.org_ids), c.maintainer_org_id.in_(f.org_ids))
            )
    for col, value in (
        (c.point_class, f.point_class),
        (c.key_area_category, f.category),
        (c.status, f.status),
        (c.network, f.network),
        (c.complete, f.complete),
        (c.on_map, f.on_map),
        (c.social, f.social),
        (c.police_station_id, f.police_station_id),
        (c.platform_id, f.platform_id),
        (c.integration_method, f.integration_method),
    ):
        if value is not None:
            stmt = stmt.where(col == value)
    if f.linked is not None:
        stmt = stmt.where(linked_clause() if f.linked else ~linked_clause())
    if f.q:
        stmt = stmt.where(
            or_(
                c.name.contains(f.q, autoescape=True),
                c.code.contains(f.q, autoescape=True),
                c.location_name.contains(f.q, autoescape=True),
            )
        )
    if f.ids is not None:
        stmt = stmt.where(c.id.in_(f.ids))
    return stmt


def base_select(*cols: Any) -> Select[Any]:
    return select(*cols) if cols else select(CameraRecord)


COUNT_CAP = 2_000


async def counted_total(session: Any, base: Select[Any], *, estimate: bool) -> tuple[int, bool]:
    """The total of a filtered list, exact up to ``COUNT_CAP`` rows.

    Counting a million-row match exactly costs hundreds of milliseconds on every
    page; beyond the cap (and when ``estimate``, i.e. on PostgreSQL) the planner's
    row estimate is returned instead and flagged, so a deep page stays fast and
    the caller can say "about". Small sets — the usual filtered case — stay exact.
    """
    capped = (
        await session.execute(
            select(func.count()).select_from(base.limit(COUNT_CAP + 1).subquery())
        )
    ).scalar_one()
    if capped <= COUNT_CAP:
        return int(capped), False
    if not estimate:
        full = await session.execute(select(func.count()).select_from(base.subquery()))
        return int(full.scalar_one()), False
    conn = await session.connection()
    compiled = base.compile(dialect=conn.dialect)
    params = tuple(compiled.params[k] for k in (compiled.positiontup or ()))
    plan = (
        await conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + compiled.string, params)
    ).scalar_one()
    if isinstance(plan, str):
        plan = json.loads(plan)
    rows = int(plan[0]["Plan"]["Plan Rows"])
    return max(rows, COUNT_CAP + 1), True
