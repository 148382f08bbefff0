"""The shareable channel catalogue a requester may ask for (共享目录).

A department sees no channels before approval, yet must name what it asks for:
this lists id, name, civil code and map position only — no video, no device
addresses, credentials or status — and leaves out cameras the ledger marks as not
shareable.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select

from sharpeyes.store.db import Database
from sharpeyes.store.models import Channel, ChannelKind

MAX_ITEMS = 5000


async def list_catalogue(
    db: Database,
    *,
    q: str | None = None,
    civil_code_prefix: str | None = None,
    ids: list[int] | None = None,
    limit: int = 1000,
) -> list[dict[str, Any]]:
    """Catalogue entries ordered by civil code then name; ``ids`` narrows to those channels."""
    from sharpeyes.ledger.models import CameraRecord

    stmt = (
        select(
            Channel.id,
            Channel.channel_id,
            Channel.name,
            Channel.civil_code,
            Channel.longitude,
            Channel.latitude,
            CameraRecord.name,
            CameraRecord.longitude,
            CameraRecord.latitude,
        )
        .outerjoin(CameraRecord, CameraRecord.code == Channel.channel_id)
        .where(Channel.kind == ChannelKind.CHANNEL.value)
        .where(or_(CameraRecord.shareable.is_(None), CameraRecord.shareable.is_(True)))
    )
    if ids is not None:
        stmt = stmt.where(Channel.id.in_(ids))
    if civil_code_prefix:
        stmt = stmt.where(
            or_(
                Channel.civil_code.startswith(civil_code_prefix, autoescape=True),
                Channel.channel_id.startswith(civil_code_prefix, autoescape=True),
            )
        )
    if q:
        like = f"%{q}%"
        stmt = stmt.where(
            or_(
                Channel.name.ilike(like),
                Channel.channel_id.ilike(like),
                CameraRecord.name.ilike(like),
            )
        )
    stmt = stmt.order_by(Channel.civil_code, Channel.channel_id).limit(min(limit, MAX_ITEMS))
    async with db.session() as s:
        rows = (await s.execute(stmt)).all()
    out: list[dict[str, Any]] = []
    seen: set[int] = set()
    for pk, cid, name, civil, lon, lat, rname, rlon, rlat in rows:
        if pk in seen:
            continue
        seen.add(pk)
        out.append(
            {
                "id": pk,
                "channel_id": cid,
                "name": rname or name or cid,
                "civil_code": civil or cid[:6],
                "longitude": rlon if rlon is not None else lon,
                "latitude": rlat if rlat is not None else lat,
            }
        )
    return out
