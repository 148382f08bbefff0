"""Online / 出图 / 完好 rates, rolled up per channel per local day as things happen.

The devices domain publishes ``channel.online`` / ``channel.offline`` after storing
each transition; :class:`RateBook` keeps one open interval per channel and, when a
transition (or a periodic checkpoint) closes it, adds its seconds to the day rows it
spans, split at local midnights of the configured zone. A query sums day rows over
the range (plus the still-open intervals for the current day): it never walks raw
transitions. Each day write also applies the day's change to its channel-month row
(:class:`ChannelMonth`), so a query reads month rows for the whole months of its
range and day rows only for the partial months at its edges.

Time the node was not running is *unobserved*: it counts neither as online nor in the
denominator. A checkpoint every minute bounds what a crash can lose, and on start the
gap between the last checkpoint and now is skipped. So the online rate of a channel
day is online seconds ÷ observed seconds of that day (a whole day when the node ran
all day; a channel first seen at noon is judged on its afternoon).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, NamedTuple, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, and_, func, or_, select, union_all

from sharpeyes.health.models import ChannelDay, ChannelMonth, ChannelState
from sharpeyes.sharing.principal import Principal
from sharpeyes.sharing.scope import scope_by_region
from sharpeyes.store.db import Database

GROUPS = ("region", "org", "maintainer", "class", "category", "network", "day", "channel")
ATTRS = ("region_code", "owner_org_id", "maintainer_org_id", "point_class", "category", "network")


def day_spans(start: datetime, end: datetime, tz: ZoneInfo) -> list[tuple[str, float]]:
    """Split ``[start, end)`` at local midnights: ``[(YYYY-MM-DD, seconds), …]``."""
    out: list[tuple[str, float]] = []
    if end <= start:
        return out
    cur = start
    while cur < end:
        local = cur.astimezone(tz)
        next_midnight = datetime.combine(local.date() + timedelta(days=1), time(), tz)
        stop = min(end, next_midnight.astimezone(UTC))
        out.append((local.date().isoformat(), (stop - cur).total_seconds()))
        cur = stop
    return out


class AttributeSource(Protocol):
    """Grouping attributes of a camera (from the ledger), keyed by its GB channel ID."""

    async def __call__(self, channel_ids: Iterable[str]) -> dict[str, dict[str, Any]]: ...


async def no_attributes(channel_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    return {}


class RecordingProvider(Protocol):
    """录像完好 per channel per day, from the recording domain once it exists."""

    async def recording_intact(
        self, channel_ids: Iterable[str], from_day: str, to_day: str
    ) -> dict[tuple[str, str], bool]: ...


@dataclass
class _Open:
    online: bool
    since: datetime


class RateBook:
    """Incremental per-channel-day figures, and the rate queries over them."""

    def __init__(
        self,
        db: Database,
        tz: str = "Asia/Shanghai",
        attributes: AttributeSource = no_attributes,
        recording: RecordingProvider | None = None,
        repair: Callable[[Principal | None, str, str, str], Awaitable[dict[Any, float]]]
        | None = None,
    ) -> None:
        self.db = db
        self.tz = ZoneInfo(tz)
        self.attributes = attributes
        self.recording = recording
        self.repair = repair
        self._open: dict[tuple[str, str], _Open] = {}
        self._lock = asyncio.Lock()

    def local_day(self, at: datetime) -> str:
        return at.astimezone(self.tz).date().isoformat()

    # ------------------------------------------------------------ writing
    async def resume(self, now: datetime) -> None:
        """After a (re)start: load open intervals; the downtime since the last
        checkpoint was not observed, so each interval restarts at ``now``."""
        async with self._lock, self.db.session() as s:
            rows = (await s.execute(select(ChannelState))).scalars().all()
            for r in rows:
                r.since = max(r.checkpoint_at, now)
                r.checkpoint_at = r.since
                self._open[(r.device_id, r.channel_id)] = _Open(r.online, r.since)
            await s.commit()

    async def transition(self, device_id: str, channel_id: str, online: bool, at: datetime) -> None:
        key = (device_id, channel_id)
        # Before the session: the attribute source may need the database itself.
        attrs = await self.attributes([channel_id])
        async with self._lock, self.db.session() as s:
            cur = self._open.get(key)
            state = await s.get(ChannelState, key)
            if cur is None or state is None:
                s.add(
                    ChannelState(
                        device_id=device_id,
                        channel_id=channel_id,
                        online=online,
                        since=at,
                        checkpoint_at=at,
                    )
                )
                self._open[key] = _Open(online, at)
                await s.commit()
                return
            if at < cur.since:  # a late event: the interval it closes was already counted
                at = cur.since
            await self._add_interval(s, device_id, channel_id, cur.online, cur.since, at, attrs)
            cur.online, cur.since = online, at
            state.online, state.since, state.checkpoint_at = online, at, at
            await s.commit()

    async def checkpoint(self, now: datetime) -> None:
        """Close every open interval at ``now`` into its days (and restart it there)."""
        attrs = await self.attributes({ch for _, ch in self._open})
        async with self._lock, self.db.session() as s:
            for (device_id, channel_id), cur in list(self._open.items()):
                if now <= cur.since:
                    continue
                await self._add_interval(
                    s, device_id, channel_id, cur.online, cur.since, now, attrs
                )
                cur.since = now
                state = await s.get(ChannelState, (device_id, channel_id))
                if state is not None:
                    state.since = now
                    state.checkpoint_at = now
            await s.commit()

    async def record_probe(
        self,
        device_id: str,
        channel_id: str,
        at: datetime,
        *,
        frame_ok: bool,
        diagnosed: bool,
        intact: bool,
    ) -> None:
        """One probe of the channel: a picture obtained (出图)? diagnosed intact (完好)?"""
        attrs = await self.attributes([channel_id])
        async with self._lock, self.db.session() as s:
            row = await self._day_row(s, self.local_day(at), device_id, channel_id, attrs)
            before = _contrib(row)
            row.probes += 1
            row.frames_ok += int(frame_ok)
            row.diag_n += int(diagnosed)
            row.diag_ok += int(diagnosed and intact)
            await self._roll_month(s, row, before)
            await s.commit()

    async def _add_interval(
        self,
        s: Any,
        device_id: str,
        channel_id: str,
        online: bool,
        a: datetime,
        b: datetime,
        attrs: dict[str, dict[str, Any]],
    ) -> None:
        for day, seconds in day_spans(a, b, self.tz):
            row = await self._day_row(s, day, device_id, channel_id, attrs)
            before = _contrib(row)
            row.observed_s += seconds
            if online:
                row.online_s += seconds
            await self._roll_month(s, row, before)

    async def _roll_month(self, s: Any, row: ChannelDay, before: _Contrib) -> None:
        """Apply the change of one day row to its month row (created on first use)."""
        key = (row.day[:7], row.device_id, row.channel_id)
        month = await s.get(ChannelMonth, key)
        if month is None:
            month = ChannelMonth(
                month=key[0],
                device_id=row.device_id,
                channel_id=row.channel_id,
                online_s=0.0,
                observed_s=0.0,
                probed_days=0,
                image_days=0,
                diagnosed_days=0,
                intact_days=0,
            )
            s.add(month)
        for k in ATTRS:  # the latest day written speaks for the month
            setattr(month, k, getattr(row, k))
        after = _contrib(row)
        for field, a, b in zip(_Contrib._fields, after, before, strict=True):
            if a != b:
                setattr(month, field, getattr(month, field) + (a - b))

    async def _day_row(
        self, s: Any, day: str, device_id: str, channel_id: str, known: dict[str, dict[str, Any]]
    ) -> ChannelDay:
        row = await s.get(ChannelDay, (day, device_id, channel_id))
        if row is None:
            attrs = known.get(channel_id, {})
            row = ChannelDay(
                day=day,
                device_id=device_id,
                channel_id=channel_id,
                online_s=0.0,
                observed_s=0.0,
                probes=0,
                frames_ok=0,
                diag_n=0,
                diag_ok=0,
                **{k: attrs.get(k) for k in ATTRS},
            )
            s.add(row)
            await s.flush()
        return row

    # ------------------------------------------------------------ reading
    @staticmethod
    def _group_key(t: Any, group_by: str, level: int) -> Any:
        """The grouping expression on either table (``t``: ChannelDay or ChannelMonth)."""
        if group_by == "region":
            return func.substr(func.coalesce(t.region_code, t.channel_id), 1, level)
        return {
            "org": t.owner_org_id,
            "maintainer": t.maintainer_org_id,
            "class": t.point_class,
            "category": t.category,
            "network": t.network,
            "day": getattr(t, "day", None),
            "channel": t.channel_id,
        }[group_by]

    async def rates(
        self,
        principal: Principal | None,
        *,
        group_by: str,
        from_day: str,
        to_day: str,
        now: datetime,
        level: int = 6,
        channel_id: str | None = None,
    ) -> list[dict[str, Any]]:
        """Rates per group over ``[from_day, to_day]`` (local days, inclusive)."""
        if group_by not in GROUPS:
            raise ValueError(f"group_by must be one of {', '.join(GROUPS)}")
        date.fromisoformat(from_day)  # ValueError on a bad date
        date.fromisoformat(to_day)
        if from_day > to_day:
            raise ValueError("from is after to")
        day_ranges, months = _split_range(from_day, to_day, by_month=group_by != "day")
        parts: list[Any] = []
        if day_ranges:
            d = ChannelDay
            intact_day = (d.diag_n > 0) & (d.diag_ok == d.diag_n) & (d.online_s > 0)
            parts.append(
                self._scoped(
                    select(
                        self._group_key(d, group_by, level).label("k"),
                        d.channel_id.label("ch"),
                        d.online_s.label("on"),
                        d.observed_s.label("obs"),
                        (d.probes > 0).cast(Integer).label("probed"),
                        (d.frames_ok > 0).cast(Integer).label("img"),
                        (d.diag_n > 0).cast(Integer).label("diag"),
                        intact_day.cast(Integer).label("intact"),
                    ).where(or_(*(and_(d.day >= a, d.day <= b) for a, b in day_ranges))),
                    d,
                    principal,
                    channel_id,
                )
            )
        if months:
            m = ChannelMonth
            parts.append(
                self._scoped(
                    select(
                        self._group_key(m, group_by, level).label("k"),
                        m.channel_id.label("ch"),
                        m.online_s.label("on"),
                        m.observed_s.label("obs"),
                        m.probed_days.label("probed"),
                        m.image_days.label("img"),
                        m.diagnosed_days.label("diag"),
                        m.intact_days.label("intact"),
                    ).where(m.month >= months[0], m.month <= months[1]),
                    m,
                    principal,
                    channel_id,
                )
            )
        both: Any = union_all(*parts) if len(parts) > 1 else parts[0]
        u = both.subquery()
        stmt = select(
            u.c.k,
            func.sum(u.c.on),
            func.sum(u.c.obs),
            func.sum(u.c.probed),
            func.sum(u.c.img),
            func.sum(u.c.diag),
            func.sum(u.c.intact),
            func.count(func.distinct(u.c.ch)),
        ).group_by(u.c.k)
        groups: dict[Any, dict[str, Any]] = {}
        async with self.db.session() as s:
            for k, on, obs, probed, img, diag, intact, n in (await s.execute(stmt)).all():
                groups[k] = {
                    "key": k,
                    "channels": n,
                    "online_s": on or 0.0,
                    "observed_s": obs or 0.0,
                    "probed_days": probed or 0,
                    "image_days": img or 0,
                    "diagnosed_days": diag or 0,
                    "intact_days": intact or 0,
                }
        await self._add_open_intervals(
            groups, principal, group_by, level, from_day, to_day, now, channel_id
        )
        repair = await self.repair(principal, group_by, from_day, to_day) if self.repair else {}
        if self.recording is not None:
            rec = self._scoped(
                select(
                    self._group_key(ChannelDay, group_by, level),
                    ChannelDay.channel_id,
                    ChannelDay.day,
                ).where(ChannelDay.day >= from_day, ChannelDay.day <= to_day),
                ChannelDay,
                principal,
                channel_id,
            )
            await self._add_recording(groups, rec, from_day, to_day)
        out = []
        for k, g in sorted(groups.items(), key=lambda kv: str(kv[0])):
            out.append(_finish(g, repair.get(k), self.recording is not None))
        return out

    @staticmethod
    def _scoped(stmt: Any, t: Any, principal: Principal | None, channel_id: str | None) -> Any:
        """One channel only if asked; only the principal's regions."""
        if channel_id is not None:
            stmt = stmt.where(t.channel_id == channel_id)
        if principal is not None:
            stmt = scope_by_region(stmt, func.coalesce(t.region_code, t.channel_id), principal)
        return stmt

    async def _add_recording(
        self, groups: dict[Any, dict[str, Any]], stmt: Any, from_day: str, to_day: str
    ) -> None:
        """录像完好率: share of channel-days the recording domain says were intact."""
        assert self.recording is not None
        async with self.db.session() as s:
            rows = (await s.execute(stmt)).all()
        intact = await self.recording.recording_intact({r[1] for r in rows}, from_day, to_day)
        counts: dict[Any, list[int]] = {}
        for k, ch, day in rows:
            c = counts.setdefault(k, [0, 0])
            if (ch, day) in intact:
                c[1] += 1
                c[0] += int(intact[(ch, day)])
        for k, (ok, n) in counts.items():
            if k in groups:
                groups[k]["recording_rate"] = _pct(ok, n)

    async def _add_open_intervals(
        self,
        groups: dict[Any, dict[str, Any]],
        principal: Principal | None,
        group_by: str,
        level: int,
        from_day: str,
        to_day: str,
        now: datetime,
        channel_id: str | None,
    ) -> None:
        """The intervals still open (since the last checkpoint) up to ``now``."""
        pending = [
            (dev, ch, cur, day, sec)
            for (dev, ch), cur in self._open.items()
            if channel_id is None or ch == channel_id
            for day, sec in day_spans(cur.since, now, self.tz)
            if from_day <= day <= to_day
        ]
        if not pending:
            return
        attrs = await self.attributes({p[1] for p in pending})
        for _dev, ch, cur, day, sec in pending:
            a = attrs.get(ch, {})
            region = a.get("region_code") or ch
            if (
                principal is not None
                and principal.region_codes is not None
                and not any(region.startswith(p) for p in principal.region_codes)
            ):
                continue
            k = {
                "region": region[:level],
                "org": a.get("owner_org_id"),
                "maintainer": a.get("maintainer_org_id"),
                "class": a.get("point_class"),
                "category": a.get("category"),
                "network": a.get("network"),
                "day": day,
                "channel": ch,
            }[group_by]
            g = groups.setdefault(
                k,
                {
                    "key": k,
                    "channels": 1,
                    "online_s": 0.0,
                    "observed_s": 0.0,
                    "probed_days": 0,
                    "image_days": 0,
                    "diagnosed_days": 0,
                    "intact_days": 0,
                },
            )
            g["observed_s"] += sec
            if cur.online:
                g["online_s"] += sec


class _Contrib(NamedTuple):
    """What one day row adds to its month row (field names are the month's columns)."""

    online_s: float
    observed_s: float
    probed_days: int
    image_days: int
    diagnosed_days: int
    intact_days: int


def _contrib(row: ChannelDay) -> _Contrib:
    return _Contrib(
        row.online_s,
        row.observed_s,
        int(row.probes > 0),
        int(row.frames_ok > 0),
        int(row.diag_n > 0),
        int(row.diag_n > 0 and row.diag_ok == row.diag_n and row.online_s > 0),
    )


def _month_end(first: date) -> date:
    nxt = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return nxt - timedelta(days=1)


def _split_range(
    from_day: str, to_day: str, *, by_month: bool
) -> tuple[list[tuple[str, str]], tuple[str, str] | None]:
    """``[from, to]`` as day ranges (partial months at the edges) and a month range.

    Returns ``(day_ranges, (first_month, last_month) | None)``; with ``by_month`` false
    everything is read from day rows.
    """
    a, b = date.fromisoformat(from_day), date.fromisoformat(to_day)
    first = a if a.day == 1 else _month_end(a) + timedelta(days=1)
    last = b.replace(day=1) if _month_end(b) == b else b.replace(day=1) - timedelta(days=1)
    if not by_month or first > b or _month_end(last) < first or last < first:
        return [(from_day, to_day)], None
    ranges = []
    if a < first:
        ranges.append((from_day, (first - timedelta(days=1)).isoformat()))
    end = _month_end(last)
    if end < b:
        ranges.append(((end + timedelta(days=1)).isoformat(), to_day))
    return ranges, (first.isoformat()[:7], last.isoformat()[:7])


def _pct(num: float, den: float) -> float | None:
    return round(100.0 * num / den, 4) if den else None


def _finish(g: dict[str, Any], repair: float | None, has_recording: bool) -> dict[str, Any]:
    """One group's figures; 录像完好率 is absent (not zero) without a recording domain."""
    out = {
        "key": g["key"],
        "channels": g["channels"],
        "online_rate": _pct(g["online_s"], g["observed_s"]),
        "image_rate": _pct(g["image_days"], g["probed_days"]),
        "intact_rate": _pct(g["intact_days"], g["diagnosed_days"]),
        "repair_rate": repair,
        "online_s": round(g["online_s"], 3),
        "observed_s": round(g["observed_s"], 3),
        "probed_days": g["probed_days"],
        "image_days": g["image_days"],
        "diagnosed_days": g["diagnosed_days"],
        "intact_days": g["intact_days"],
    }
    if has_recording:
        out["recording_rate"] = g.get("recording_rate")
    return out


__all__ = ["GROUPS", "RateBook", "RecordingProvider", "day_spans"]
