"""Cameras as devices report them: records created from channels, ledger vs device."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import exists, func, select

from sharpeyes.ledger import history
from sharpeyes.ledger.fields import CAMERA_FIELDS
from sharpeyes.ledger.models import (
    CameraRecord,
)
from sharpeyes.ledger.records import CameraRecords
from sharpeyes.ledger.regions import (
    RegionIndex,
    code_region_prefix,
    normalise_region_code,
)
from sharpeyes.ledger.validation import (
    coordinate_problem,
    evaluate,
)
from sharpeyes.sharing.principal import Principal
from sharpeyes.sharing.scope import (
    scope_channels,
)
from sharpeyes.store.models import Channel


class ChannelLinks(CameraRecords):
    """Ledger records from (and for) the channels devices report."""

    async def sync_from_channels(self, principal: Principal) -> dict[str, int]:
        """Create ledger records for camera channels that have none (M3.2).

        Device values become the first ledger values (name, brand, coordinates if
        valid, region from the civil code or the code); what fails the rules is
        kept and listed as issues rather than refused — the device said so.
        """
        cam_types = [str(t) for t in self.rules.camera_types]
        stmt = (
            select(Channel)
            .where(Channel.kind == "channel")
            .where(func.substr(Channel.channel_id, 11, 3).in_(cam_types))
            .where(~exists().where(CameraRecord.code == Channel.channel_id))
            .order_by(Channel.channel_id, Channel.id)
        )
        stmt = scope_channels(stmt, principal)
        index = await self._region_index()
        names = self.region_prefix_names(index)
        async with self.db.session() as s:
            channels = list((await s.execute(stmt)).scalars())
        created = 0
        seen: set[str] = set()
        for start in range(0, len(channels), 500):
            batch = []
            for ch in channels[start : start + 500]:
                if ch.channel_id in seen or len(ch.channel_id) != 20:
                    continue
                seen.add(ch.channel_id)
                batch.append(self._record_from_channel(ch, index, names))
            async with self.db.session() as s:
                for values in batch:
                    row = CameraRecord(
                        **values, created_by=principal.username, updated_by=principal.username
                    )
                    s.add(row)
                    await s.flush()
                    await history.record(
                        s, principal, "camera", row.id, "sync", {"from_channel": values["code"]}
                    )
                await s.commit()
            created += len(batch)
        if created:
            self.bus.publish("ledger.changed", entity="camera", action="sync", count=created)
        return {"created": created, "channels": len(channels)}

    async def record_for_channel(
        self, principal: Principal, channel_id: str, values: dict[str, Any]
    ) -> int | None:
        """The ledger record of one channel, made like ``sync_from_channels`` does, with
        ``values`` (e.g. a proxy's network 社会资源接入网) on top; None if one exists."""
        stmt = scope_channels(select(Channel).where(Channel.channel_id == channel_id), principal)
        async with self.db.session() as s:
            ch = (await s.execute(stmt)).scalars().first()
            if ch is None or await s.scalar(
                select(CameraRecord.id).where(CameraRecord.code == channel_id)
            ):
                return None
        index = await self._region_index()
        names = self.region_prefix_names(index)
        v = self._record_from_channel(ch, index, names)
        v = {k: x for k, x in v.items() if k not in ("complete", "on_map", "issues")} | values
        ev = evaluate(v, self.rules, names)
        async with self.db.session() as s:
            row = CameraRecord(
                **v,
                complete=ev.complete,
                on_map=ev.on_map,
                issues=ev.issues or None,
                created_by=principal.username,
                updated_by=principal.username,
            )
            s.add(row)
            await s.flush()
            await history.record(
                s, principal, "camera", row.id, "sync", {"from_channel": channel_id}
            )
            await s.commit()
            pk = row.id
        self.bus.publish("ledger.changed", entity="camera", action="create", id=pk)
        return pk

    def _record_from_channel(
        self, ch: Channel, index: RegionIndex, names: Callable[[str], list[str]]
    ) -> dict[str, Any]:
        region = None
        for cand in (ch.civil_code, code_region_prefix(ch.channel_id)):
            if not cand:
                continue
            try:
                cand = normalise_region_code(cand)
            except ValueError:
                continue
            # a township the regions table lacks falls back to its nearest known ancestor
            while len(cand) >= 2 and cand not in index:
                cand = cand[:-1]
            if len(cand) >= 2:
                region = cand
                break
        lon, lat = ch.longitude, ch.latitude
        if coordinate_problem(lon, "longitude") or coordinate_problem(lat, "latitude"):
            lon = lat = None
        v: dict[str, Any] = {f: None for f in CAMERA_FIELDS} | {
            "code": ch.channel_id,
            "name": (ch.name or None) and ch.name[:128],
            "brand": (ch.manufacturer or None) and ch.manufacturer[:64],
            "location_name": (ch.address or None) and ch.address[:256],
            "region_code": region,
            "longitude": lon,
            "latitude": lat,
            "status": "in_use",
            "camera_type": ch.ptz_type if ch.ptz_type in (1, 2, 3, 4) else None,
            "direction": ch.direction_type if ch.direction_type in range(1, 9) else None,
            "position_type": ch.position_type,
            "room_type": ch.room_type,
            "use_type": ch.use_type,
            "resolution": (ch.resolution or None) and ch.resolution[:32],
            "social": False,
        }
        ev = evaluate(v, self.rules, names)
        return v | {"complete": ev.complete, "on_map": ev.on_map, "issues": ev.issues or None}
