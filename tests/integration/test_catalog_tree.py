"""Catalog application against a real database: platform trees, partial results, events."""

from __future__ import annotations

import time

from sqlalchemy import select

from sharpeyes.devices.registry import DeviceRegistry
from sharpeyes.events import EventBus
from sharpeyes.sip.transport import Peer
from sharpeyes.store.db import Database
from sharpeyes.store.models import Channel, StatusEvent

PLATFORM = "34020000002000000099"  # a lower platform registering as a device
GROUP = "34020000002150000001"  # 215 business group
ORG = "34020000002160000001"  # 216 virtual organisation
CAM1 = "34020000001310000001"
CAM2 = "34020000001310000002"

TREE = [
    {"DeviceID": "3402", "Name": "合肥市", "Parental": "1"},
    {"DeviceID": "340200", "Name": "市辖区", "ParentID": "3402", "Parental": "1"},
    {"DeviceID": GROUP, "Name": "治安监控", "ParentID": PLATFORM, "Parental": "1"},
    {
        "DeviceID": ORG,
        "Name": "城关派出所",
        "ParentID": GROUP,
        "BusinessGroupID": GROUP,
        "Parental": "1",
    },
    {
        "DeviceID": CAM1,
        "Name": "人民路口",
        "ParentID": ORG,
        "Parental": "0",
        "CivilCode": "340200",
        "Status": "ON",
        "Longitude": "117.123451",
        "Latitude": "31.654321",
        "PTZType": "1",
        "VendorField": "kept",
    },
    {
        "DeviceID": CAM2,
        "Name": "萳湖公园",
        "ParentID": f"{PLATFORM}/{GROUP}/{ORG}",
        "Status": "OFF",
        "PTZType": "x",
    },
]


async def _registry(database: Database) -> tuple[DeviceRegistry, EventBus]:
    bus = EventBus()
    reg = DeviceRegistry(database, bus)
    live = await reg.create_pending_or_admitted(
        PLATFORM, "admitted", Peer("udp", "127.0.0.1", 5060), time.time()
    )
    await reg.registered(live, Peer("udp", "127.0.0.1", 5060), None, 3600, time.time())
    return reg, bus


async def test_platform_tree_nodes_are_classified_and_linked(database: Database) -> None:
    reg, bus = await _registry(database)
    with bus.subscribe() as sub:
        result = await reg.apply_catalog(PLATFORM, TREE, full=True, now=time.time())
        assert result == {"added": 6, "updated": 0, "removed": 0}
        async with database.session() as s:
            rows = {c.channel_id: c for c in (await s.execute(select(Channel))).scalars()}
        assert {cid: rows[cid].kind for cid in rows} == {
            "3402": "region",
            "340200": "region",
            GROUP: "business_group",
            ORG: "virtual_org",
            CAM1: "channel",
            CAM2: "channel",
        }
        assert rows[ORG].business_group_id == GROUP and rows[ORG].parent_id == GROUP
        assert rows[CAM2].parent_id == f"{PLATFORM}/{GROUP}/{ORG}"  # 2022 path form kept
        assert rows[CAM1].online is True and rows[CAM2].online is False  # reported OFF
        assert rows[CAM1].ptz_type == 1 and rows[CAM1].longitude == 117.123451
        assert rows[CAM1].extra == {"VendorField": "kept"}
        assert rows[CAM2].ptz_type is None and rows[CAM2].extra == {
            "PTZType": "x"
        }  # untypable kept
        assert rows[CAM2].name == "萳湖公园"
        # tree nodes are never "online" channels
        assert not any(rows[c].online for c in ("3402", GROUP, ORG))
        types = [sub.queue.get_nowait().type for _ in range(sub.queue.qsize())]
        assert "catalog.changed" in types and types.count("channel.online") == 1


async def test_full_resync_removes_vanished_channels_but_partial_does_not(
    database: Database,
) -> None:
    reg, _ = await _registry(database)
    await reg.apply_catalog(PLATFORM, TREE, full=True, now=time.time())
    await reg.apply_catalog(PLATFORM, TREE[:5], full=False, now=time.time())  # partial (timeout)
    async with database.session() as s:
        assert len((await s.execute(select(Channel.id))).all()) == 6
    result = await reg.apply_catalog(PLATFORM, TREE[:5], full=True, now=time.time())
    assert result == {"added": 0, "updated": 5, "removed": 1}
    async with database.session() as s:
        ids = {r[0] for r in (await s.execute(select(Channel.channel_id))).all()}
    assert CAM2 not in ids


async def test_notify_events_change_state_and_are_recorded(database: Database) -> None:
    reg, _ = await _registry(database)
    await reg.apply_catalog(PLATFORM, TREE, full=True, now=time.time())
    await reg.apply_catalog_events(
        PLATFORM,
        [
            {"DeviceID": CAM1, "Event": "VLOST"},
            {"DeviceID": CAM2, "Event": "ON"},
            {"DeviceID": "34020000001310000003", "Event": "ADD", "Name": "新增", "Status": "ON"},
            {"DeviceID": ORG, "Event": "DEL"},
        ],
        time.time(),
    )
    async with database.session() as s:
        rows = {c.channel_id: c for c in (await s.execute(select(Channel))).scalars()}
        events = (
            (await s.execute(select(StatusEvent).where(StatusEvent.channel_id.is_not(None))))
            .scalars()
            .all()
        )
    assert ORG not in rows
    assert rows[CAM1].online is False and rows[CAM1].status == "VLOST"
    assert rows[CAM2].online is True
    assert rows["34020000001310000003"].online is True
    reasons = {(e.channel_id, e.reason) for e in events}
    assert (CAM1, "notify_VLOST") in reasons and (CAM2, "notify_ON") in reasons


async def test_device_offline_takes_channels_and_history_with_it(database: Database) -> None:
    reg, _ = await _registry(database)
    await reg.apply_catalog(PLATFORM, TREE, full=True, now=time.time())
    live = reg.get(PLATFORM)
    assert live is not None
    # registration expired: the watchdog's due() picks it up
    live.register_expires_at = time.time() - 1
    reg.reschedule(live)  # set by hand: the watchdog's queue must be told
    assert [(d.id, r) for d, r in reg.due(time.time())] == [(PLATFORM, "register_expired")]
    assert await reg.check_deadlines(time.time()) == 1
    async with database.session() as s:
        online = (await s.execute(select(Channel.channel_id).where(Channel.online))).all()
        last = (
            (
                await s.execute(
                    select(StatusEvent)
                    .where(StatusEvent.channel_id == CAM1)
                    .order_by(StatusEvent.id.desc())
                )
            )
            .scalars()
            .first()
        )
    assert online == []
    assert last is not None and last.online is False and last.reason == "register_expired"
    # keepalive deadline, second in line
    live.register_expires_at = time.time() + 100
    live.online = True
    live.keepalive_deadline = time.time() - 1
    reg.reschedule(live)
    assert [r for _, r in reg.due(time.time())] == ["keepalive_timeout"]
