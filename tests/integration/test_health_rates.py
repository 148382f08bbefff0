"""Rates from a scripted history are exact: partial days, midnight in the zone, a restart."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, select, text

from sharpeyes.health.models import ChannelDay, ChannelMonth
from sharpeyes.health.rates import RateBook, _split_range, day_spans
from sharpeyes.sharing.principal import Principal, Role
from sharpeyes.store.db import Database

SH = ZoneInfo("Asia/Shanghai")
DEV = "34152200001320000001"
CH_A = "34152200001310000001"
CH_B = "34150000001310000002"  # another county of the same city


def t(day: int, hh: int, mm: int = 0) -> datetime:
    """Local Shanghai time on 2026-03-<day>, as the aware UTC the store uses."""
    return datetime(2026, 3, day, hh, mm, tzinfo=SH).astimezone(UTC)


async def attrs(ids: Any) -> dict[str, dict[str, Any]]:
    table = {
        CH_A: {"region_code": "341522000000", "maintainer_org_id": 7, "point_class": 1},
        CH_B: {"region_code": "341500000000", "maintainer_org_id": 8, "point_class": 2},
    }
    return {i: table[i] for i in ids if i in table}


def test_day_spans_split_at_local_midnight_not_utc() -> None:
    spans = day_spans(t(1, 23, 30), t(2, 0, 30), SH)
    assert spans == [("2026-03-01", 1800.0), ("2026-03-02", 1800.0)]
    # 16:00 UTC is midnight in Shanghai: a UTC-day split would put it all on one day
    assert day_spans(t(1, 20), t(2, 4), SH) == [
        ("2026-03-01", 4 * 3600.0),
        ("2026-03-02", 4 * 3600.0),
    ]
    assert day_spans(t(2, 1), t(2, 1), SH) == []


async def test_scripted_history_exact_with_midnight_and_restart(database: Database) -> None:
    book = RateBook(database, "Asia/Shanghai", attrs)
    await book.resume(t(1, 9))
    # A: first seen 10:00 on day 1 (a partial day), off 23:30 → back 00:30 (across midnight)
    await book.transition(DEV, CH_A, True, t(1, 10))
    await book.transition(DEV, CH_A, True, t(1, 11))  # a duplicate changes nothing
    await book.transition(DEV, CH_A, False, t(1, 23, 30))
    await book.transition(DEV, CH_A, True, t(2, 0, 30))
    # B: whole of day 2 observed from 00:00, offline 03:00-04:00
    await book.transition(DEV, CH_B, True, t(2, 0))
    await book.transition(DEV, CH_B, False, t(2, 3))
    await book.transition(DEV, CH_B, True, t(2, 4))
    # The node stops at 06:00 (last checkpoint) and comes back at 08:00.
    await book.checkpoint(t(2, 6))
    book2 = RateBook(database, "Asia/Shanghai", attrs)
    await book2.resume(t(2, 8))
    await book2.transition(DEV, CH_A, False, t(2, 12))
    await book2.checkpoint(t(2, 18))

    async with database.session() as s:
        rows = {(r.day, r.channel_id): r for r in (await s.execute(select(ChannelDay))).scalars()}
    a1, a2, b2 = rows[("2026-03-01", CH_A)], rows[("2026-03-02", CH_A)], rows[("2026-03-02", CH_B)]
    assert (a1.observed_s, a1.online_s) == (14 * 3600, 13.5 * 3600)
    # day 2 of A: 00:00-06:00 and 08:00-18:00 observed (16 h); online 00:30-06:00 + 08:00-12:00
    assert (a2.observed_s, a2.online_s) == (16 * 3600, 9.5 * 3600)
    # B stays online across the restart: 00:00-03:00, 04:00-06:00, 08:00-18:00
    assert (b2.observed_s, b2.online_s) == (16 * 3600, 15 * 3600)
    assert a1.region_code == "341522000000" and a1.maintainer_org_id == 7

    day1 = await book2.rates(
        None, group_by="channel", from_day="2026-03-01", to_day="2026-03-01", now=t(2, 18)
    )
    assert [(g["key"], g["online_rate"]) for g in day1] == [(CH_A, round(100 * 13.5 / 14, 4))]
    by_region = await book2.rates(
        None, group_by="region", from_day="2026-03-01", to_day="2026-03-02", now=t(2, 18)
    )
    assert {g["key"]: g["online_rate"] for g in by_region} == {
        "341500": round(100 * 15 / 16, 4),
        "341522": round(100 * (13.5 + 9.5) / 30, 4),
    }
    assert all("recording_rate" not in g for g in by_region)  # absent, not zero
    by_maint = await book2.rates(
        None, group_by="maintainer", from_day="2026-03-02", to_day="2026-03-02", now=t(2, 18)
    )
    assert {g["key"]: g["online_s"] for g in by_maint} == {7: 9.5 * 3600, 8: 15 * 3600}


async def test_open_interval_counts_up_to_now_and_scope_applies(database: Database) -> None:
    book = RateBook(database, "Asia/Shanghai", attrs)
    await book.resume(t(3, 0))
    await book.transition(DEV, CH_A, True, t(3, 0))
    await book.transition(DEV, CH_B, False, t(3, 0))
    got = await book.rates(
        None, group_by="channel", from_day="2026-03-03", to_day="2026-03-03", now=t(3, 6)
    )
    assert {g["key"]: (g["observed_s"], g["online_rate"]) for g in got} == {
        CH_A: (6 * 3600, 100.0),
        CH_B: (6 * 3600, 0.0),
    }
    county = Principal(user_id=2, username="huoqiu", role=Role.VIEWER, region_codes=("341522",))
    await book.checkpoint(t(3, 5))  # a mix of stored rows and open intervals
    mine = await book.rates(
        county, group_by="channel", from_day="2026-03-03", to_day="2026-03-03", now=t(3, 6)
    )
    assert [g["key"] for g in mine] == [CH_A]
    assert mine[0]["observed_s"] == 6 * 3600


async def test_probes_give_image_and_intact_rates(database: Database) -> None:
    book = RateBook(database, "Asia/Shanghai", attrs)
    await book.transition(DEV, CH_A, True, t(4, 0))
    await book.transition(DEV, CH_B, True, t(4, 0))
    await book.record_probe(DEV, CH_A, t(4, 9), frame_ok=True, diagnosed=True, intact=True)
    await book.record_probe(DEV, CH_B, t(4, 9), frame_ok=True, diagnosed=True, intact=False)
    await book.checkpoint(t(4, 12))
    [g] = await book.rates(
        None, group_by="day", from_day="2026-03-04", to_day="2026-03-04", now=t(4, 12)
    )
    assert (g["image_rate"], g["intact_rate"], g["online_rate"]) == (100.0, 50.0, 100.0)
    with pytest.raises(ValueError):
        await book.rates(
            None, group_by="colour", from_day="2026-03-04", to_day="2026-03-04", now=t(4, 12)
        )


def test_split_range_reads_whole_months_from_the_rollup() -> None:
    assert _split_range("2026-01-01", "2026-12-31", by_month=True) == ([], ("2026-01", "2026-12"))
    assert _split_range("2026-01-15", "2026-03-10", by_month=True) == (
        [("2026-01-15", "2026-01-31"), ("2026-03-01", "2026-03-10")],
        ("2026-02", "2026-02"),
    )
    # no whole month inside: days only; group_by=day never reads months
    assert _split_range("2026-01-15", "2026-02-10", by_month=True) == (
        [("2026-01-15", "2026-02-10")],
        None,
    )
    assert _split_range("2026-02-01", "2026-02-28", by_month=False)[1] is None
    assert _split_range("2024-02-01", "2024-02-29", by_month=True) == ([], ("2024-02", "2024-02"))


def m(month: int, day: int, hh: int) -> datetime:
    return datetime(2026, month, day, hh, tzinfo=SH).astimezone(UTC)


async def test_month_rollup_matches_day_rows_and_serves_long_ranges(database: Database) -> None:
    book = RateBook(database, "Asia/Shanghai", attrs)
    await book.resume(m(1, 31, 12))
    await book.transition(DEV, CH_A, True, m(1, 31, 12))
    await book.transition(DEV, CH_B, True, m(1, 31, 12))
    # A goes off across the Jan/Feb midnight (local) and again inside March
    await book.transition(DEV, CH_A, False, m(1, 31, 22))
    await book.transition(DEV, CH_A, True, m(2, 1, 2))
    await book.record_probe(DEV, CH_A, m(2, 3, 9), frame_ok=True, diagnosed=True, intact=True)
    await book.record_probe(DEV, CH_A, m(2, 3, 10), frame_ok=True, diagnosed=True, intact=False)
    await book.record_probe(DEV, CH_B, m(2, 4, 9), frame_ok=False, diagnosed=False, intact=False)
    await book.record_probe(DEV, CH_B, m(3, 1, 9), frame_ok=True, diagnosed=True, intact=True)
    await book.transition(DEV, CH_A, False, m(3, 2, 6))
    await book.checkpoint(m(3, 2, 12))

    async with database.session() as s:
        days = (await s.execute(select(ChannelDay))).scalars().all()
        months = {
            (r.month, r.channel_id): r for r in (await s.execute(select(ChannelMonth))).scalars()
        }
    want: dict[tuple[str, str], list[float]] = {}
    for d in days:
        w = want.setdefault((d.day[:7], d.channel_id), [0.0] * 6)
        for i, v in enumerate(
            (
                d.online_s,
                d.observed_s,
                d.probes > 0,
                d.frames_ok > 0,
                d.diag_n > 0,
                d.diag_n > 0 and d.diag_ok == d.diag_n and d.online_s > 0,
            )
        ):
            w[i] += float(v)
    got = {
        k: [r.online_s, r.observed_s, r.probed_days, r.image_days, r.diagnosed_days, r.intact_days]
        for k, r in months.items()
    }
    assert got == want
    feb_a = months[("2026-02", CH_A)]
    # Feb: A offline 00:00-02:00 on the 1st, else online; a day once intact then not is not
    assert (feb_a.observed_s, feb_a.online_s) == (28 * 86400, 28 * 86400 - 2 * 3600)
    assert (feb_a.diagnosed_days, feb_a.intact_days) == (1, 0)
    assert feb_a.region_code == "341522000000"

    # The answer over Jan 15 – Mar 31 is the same whether February is read from months…
    kw: dict[str, Any] = {"group_by": "region", "from_day": "2026-01-15", "now": m(3, 2, 12)}
    before = await book.rates(None, to_day="2026-03-31", **kw)
    per_day = await book.rates(
        None, group_by="day", from_day="2026-01-15", to_day="2026-03-31", now=m(3, 2, 12)
    )
    assert sum(g["online_s"] for g in before) == pytest.approx(sum(g["online_s"] for g in per_day))
    assert sum(g["channels"] for g in before) == 2  # distinct over days and months
    # …and it is: without February's day rows the figures do not change.
    async with database.session() as s:
        await s.execute(delete(ChannelDay).where(ChannelDay.day.like("2026-02-%")))
        await s.commit()
    assert await book.rates(None, to_day="2026-03-31", **kw) == before
    # a scoped user sees the rollup of their regions only
    county = Principal(user_id=2, username="c", role=Role.VIEWER, region_codes=("341522",))
    scoped = await book.rates(county, to_day="2026-03-31", **kw)
    assert [g["key"] for g in scoped] == ["341522"]


async def test_migration_folds_existing_day_rows_into_months(db_url: str) -> None:
    db = Database(db_url)
    try:
        await db.upgrade("0009")
        async with db.engine.begin() as conn:
            for day, online, diag_ok in (("2026-02-27", 3600.0, 1), ("2026-02-28", 0.0, 1)):
                await conn.execute(
                    text(
                        "INSERT INTO health_days (day, device_id, channel_id, region_code,"
                        " online_s, observed_s, probes, frames_ok, diag_n, diag_ok)"
                        " VALUES (:d, :dev, :ch, '341522', :on, 86400, 1, 1, 1, :ok)"
                    ),
                    {"d": day, "dev": DEV, "ch": CH_A, "on": online, "ok": diag_ok},
                )
        await db.upgrade()
        async with db.session() as s:
            [mo] = (await s.execute(select(ChannelMonth))).scalars().all()
        assert (mo.month, mo.channel_id, mo.region_code) == ("2026-02", CH_A, "341522")
        assert (mo.online_s, mo.observed_s) == (3600.0, 2 * 86400.0)
        # the 28th was offline all day: diagnosed but not intact
        assert (mo.probed_days, mo.image_days, mo.diagnosed_days, mo.intact_days) == (2, 2, 2, 1)
    finally:
        await db.dispose()
