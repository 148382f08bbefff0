"""Access reconciliation (应接未接): what the ledger says should be connected versus
what is connected.

Three lists, each in the caller's scope: ledger records in use (or of no status yet) with no channel
of that code (应接未接), camera channels with no ledger record (接入未建档), and
admitted devices that are not registered — never registered (pre-provisioned,
waiting) or registered once and stopped (停止注册). Counts feed the dashboard.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy import exists, func, or_, select

from sharpeyes.ledger.models import CameraRecord
from sharpeyes.sharing.principal import Principal
from sharpeyes.sharing.scope import scope_camera_records, scope_channels, scope_devices
from sharpeyes.store.db import Database
from sharpeyes.store.models import Channel, Device


class Gap(StrEnum):
    RECORD_NO_CHANNEL = "record_no_channel"
    CHANNEL_NO_RECORD = "channel_no_record"
    NEVER_REGISTERED = "never_registered"
    STOPPED_REGISTERING = "stopped_registering"


def _statements(principal: Principal, camera_types: list[str]) -> dict[Gap, Any]:
    no_channel = scope_camera_records(
        select(CameraRecord.id, CameraRecord.code, CameraRecord.name, CameraRecord.region_code)
        .where(or_(CameraRecord.status == "in_use", CameraRecord.status.is_(None)))
        .where(~exists().where(Channel.channel_id == CameraRecord.code))
        .order_by(CameraRecord.code),
        principal,
    )
    no_record = scope_channels(
        select(Channel.id, Channel.channel_id, Channel.name, Channel.civil_code, Channel.device_id)
        .where(Channel.kind == "channel")
        .where(func.substr(Channel.channel_id, 11, 3).in_(camera_types))
        .where(~exists().where(CameraRecord.code == Channel.channel_id))
        .order_by(Channel.channel_id),
        principal,
    )
    admitted_offline = scope_devices(
        select(Device.id, Device.name, Device.registered_at, Device.last_keepalive_at)
        .where(Device.admission == "admitted")
        .where(Device.online.is_(False)),
        principal,
    )
    return {
        Gap.RECORD_NO_CHANNEL: no_channel,
        Gap.CHANNEL_NO_RECORD: no_record,
        Gap.NEVER_REGISTERED: admitted_offline.where(Device.registered_at.is_(None)).order_by(
            Device.id
        ),
        Gap.STOPPED_REGISTERING: admitted_offline.where(Device.registered_at.is_not(None)).order_by(
            Device.id
        ),
    }


async def reconciliation(
    db: Database, principal: Principal, camera_types: list[str], *, limit: int = 500
) -> dict[str, Any]:
    """``{"counts": {gap: n}, "items": {gap: [row, …]}}`` (items cut at ``limit``)."""
    counts: dict[str, int] = {}
    items: dict[str, list[dict[str, Any]]] = {}
    async with db.session() as s:
        for gap, stmt in _statements(principal, camera_types).items():
            count_stmt = select(func.count()).select_from(stmt.order_by(None).subquery())
            counts[gap] = int((await s.execute(count_stmt)).scalar_one())
            rows = (await s.execute(stmt.limit(limit))).mappings().all()
            items[gap] = [dict(r) for r in rows]
    return {"counts": counts, "items": items}
