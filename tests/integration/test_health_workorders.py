"""Work orders: every transition, SLA overdue, auto-open from an alarm, close suggestion."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sharpeyes.events import EventBus
from sharpeyes.health.alarms import AlarmCentre
from sharpeyes.health.settings import AlarmSettings
from sharpeyes.health.workorders import WorkOrderError, WorkOrders, link_alarms
from sharpeyes.sharing.principal import Principal, Role
from sharpeyes.store.db import Database

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
SLA = {"general": 72.0, "important": 24.0, "urgent": 4.0}


def h(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


async def test_every_transition_is_attributed(database: Database) -> None:
    wo = WorkOrders(database, EventBus(), SLA)
    o = await wo.open(
        title="摄像机黑屏",
        level="important",
        actor="alice",
        now=h(0),
        channel_id="34152200001310000001",
        region_code="341522",
    )
    assert o["state"] == "reported" and o["deadline"] == h(24)
    with pytest.raises(WorkOrderError):
        await wo.act(o["id"], "dispatch", "bob", assignee="carol", now=h(0.1))  # not confirmed
    steps = [
        ("confirm", "bob", {}, "confirmed"),
        ("dispatch", "bob", {"assignee": "carol"}, "dispatched"),
        ("suspend", "carol", {"note": "等待配件"}, "suspended"),
        ("resume", "carol", {}, "dispatched"),
        ("extend", "carol", {"note": "需要高空车", "extend_s": 7200}, "dispatched"),
        ("approve_extension", "bob", {}, "dispatched"),
        (
            "feedback",
            "carol",
            {"note": "换了镜头", "attachment_name": "fix.jpg", "attachment": b"\xff\xd8photo"},
            "feedback",
        ),
        ("reject", "bob", {"note": "画面仍模糊"}, "dispatched"),
        ("feedback", "carol", {"note": "重新对焦"}, "feedback"),
        ("confirm_feedback", "bob", {}, "feedback_confirmed"),
        ("close", "bob", {}, "closed"),
        ("reopen", "alice", {"note": "又坏了"}, "dispatched"),
    ]
    t = 1.0
    for action, actor, kw, expect in steps:
        o = await wo.act(o["id"], action, actor, now=h(t), **kw)
        assert o["state"] == expect, action
        t += 1.0
    full = await wo.get(o["id"])
    assert [(e["action"], e["actor"], e["to_state"]) for e in full["events"]] == [
        ("report", "alice", "reported"),
        *[(a, who, st) for a, who, _, st in steps],
    ]
    # suspended for 1 h (3 → 4) and extended by 2 h: deadline moved by 3 h
    assert full["deadline"] == h(24 + 1 + 2)
    photo = next(e for e in full["events"] if e["attachment_name"] == "fix.jpg")
    assert await wo.attachment(o["id"], photo["id"]) == ("fix.jpg", b"\xff\xd8photo")
    rejected = await wo.open(title="误报", level="general", actor="alice", now=h(0))
    rejected = await wo.act(rejected["id"], "reject", "bob", now=h(1))
    assert rejected["state"] == "rejected"
    assert (await wo.act(rejected["id"], "close", "bob", now=h(2)))["state"] == "closed"
    with pytest.raises(WorkOrderError):
        await wo.act(o["id"], "fly", "bob")
    with pytest.raises(WorkOrderError):
        await wo.act(o["id"], "deny_extension", "bob")  # none pending
    with pytest.raises(LookupError):
        await wo.act(999, "confirm", "bob")


async def test_sla_overdue_and_timeliness(database: Database) -> None:
    wo = WorkOrders(database, EventBus(), SLA)
    late = await wo.open(
        title="离线",
        level="urgent",
        actor="sys",
        now=h(0),
        assignee="dan",
        channel_id="34152200001310000009",
    )
    quick = await wo.open(
        title="偏色",
        level="urgent",
        actor="sys",
        now=h(0),
        assignee="eve",
        channel_id="34152200001310000009",
    )
    paused = await wo.open(title="遮挡", level="urgent", actor="sys", now=h(0))
    await wo.act(paused["id"], "confirm", "bob", now=h(1))
    await wo.act(paused["id"], "suspend", "bob", note="封路", now=h(2))
    assert await wo.tick(h(3.9)) == []
    for step, kw in (
        ("confirm", {}),
        ("dispatch", {}),
        ("feedback", {"note": "ok"}),
        ("confirm_feedback", {}),
        ("close", {}),
    ):
        await wo.act(quick["id"], step, "eve", now=h(3.95), **kw)
    assert await wo.tick(h(4.01)) == [late["id"]]  # suspended one's clock is stopped
    assert await wo.tick(h(5)) == []  # marked once
    board = await wo.list()
    assert board[0]["id"] == late["id"] and board[0]["overdue"] is True  # overdue first
    for step, kw in (
        ("confirm", {}),
        ("dispatch", {}),
        ("feedback", {"note": "ok"}),
        ("confirm_feedback", {}),
        ("close", {}),
    ):
        await wo.act(late["id"], step, "dan", now=h(6), **kw)
    st = await wo.stats(h(-1), h(10))
    assert (st["orders"], st["closed"], st["closed_in_time"], st["timeliness"]) == (3, 2, 1, 50.0)
    assert st["workload"]["dan"] == {"open": 0, "closed": 1, "overdue": 1}
    assert st["repeat_faults"] == {"34152200001310000009": 2}


async def test_auto_open_from_alarm_and_close_suggestion_on_recovery(database: Database) -> None:
    bus = EventBus()
    centre = AlarmCentre(database, bus, AlarmSettings())
    wo = WorkOrders(database, bus, SLA)

    async def maintainer_of(channel_id: str | None) -> int | None:
        return 42 if channel_id else None

    link_alarms(centre, wo, maintainer_of)
    await centre.create_rule({"kind": "vqd_fault", "level": "urgent", "auto_work_order": True})
    key = "vqd_fault:34152200001320000001/34152200001310000001"
    a = await centre.raise_condition(
        "vqd_fault",
        key,
        now=h(0),
        message="黑屏",
        device_id="34152200001320000001",
        channel_id="34152200001310000001",
        region_code="341522",
    )
    await centre.raise_condition("vqd_fault", key, now=h(0.5))  # dedup: no second order
    [o] = await wo.list()
    assert (o["alarm_id"], o["level"], o["maintainer_org_id"], o["opened_by"]) == (
        a["id"],
        "urgent",
        42,
        "system",
    )
    assert o["deadline"] == h(4) and o["close_suggested"] is False
    await centre.clear_condition(key, now=h(1))
    o = await wo.get(o["id"])
    assert o["close_suggested"] is True and o["state"] == "reported"  # people still close it
    assert o["events"][-1]["action"] == "suggest_close"
    # a rule without auto_work_order opens nothing
    await centre.raise_condition("channel_offline", "channel_offline:x", now=h(2))
    assert len(await wo.list()) == 1


async def test_statistics_and_board_of_a_scoped_user_cover_only_their_regions(
    database: Database,
) -> None:
    wo = WorkOrders(database, EventBus(), SLA)
    mine = await wo.open(
        title="黑屏", level="urgent", actor="a", now=h(0), region_code="341522001000"
    )
    # no region code: judged by the channel ID's civil-code digits
    by_id = await wo.open(
        title="模糊", level="urgent", actor="a", now=h(0), channel_id="34152200001310000001"
    )
    other = await wo.open(
        title="遮挡", level="urgent", actor="a", now=h(-0.5), channel_id="34150100001310000002"
    )
    await wo.tick(h(5))  # all three overdue
    county = Principal(user_id=3, username="huoqiu", role=Role.VIEWER, region_codes=("341522",))
    st = await wo.stats(h(-1), h(10), county)
    assert (st["orders"], st["overdue"]) == (2, 2)
    assert (await wo.stats(h(-1), h(10)))["orders"] == 3
    assert {o["id"] for o in await wo.list(principal=county)} == {mine["id"], by_id["id"]}
    # the limit applies after the scope: the other county's order is first on the
    # whole board (earliest deadline) but does not take a place on the scoped one
    assert len(await wo.list(principal=county, limit=2)) == 2
    assert other["id"] in {o["id"] for o in await wo.list()}
    nobody = Principal(user_id=4, username="x", role=Role.VIEWER, region_codes=())
    assert (await wo.stats(h(-1), h(10), nobody))["orders"] == 0
    assert await wo.list(principal=nobody) == []
    # a prefix is a prefix, not a LIKE pattern
    wild = Principal(user_id=5, username="w", role=Role.VIEWER, region_codes=("3415_%",))
    assert (await wo.stats(h(-1), h(10), wild))["orders"] == 0
