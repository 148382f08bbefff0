"""Round trips through every table on the configured backend (SQLite or PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import selectinload

from sharpeyes.store.db import Database
from sharpeyes.store.models import (
    Alarm,
    Channel,
    ChannelKind,
    Device,
    SettingKV,
    StatusEvent,
    User,
)

CST = timezone(timedelta(hours=8))
DEV = "34020000001320000001"
CAM = "34020000001310000001"


def _assert_utc(value: datetime | None) -> None:
    assert value is not None
    assert value.tzinfo is not None
    assert value.utcoffset() == timedelta(0)


async def _add_device(db: Database, device_id: str = DEV, **kw: object) -> None:
    async with db.session() as s:
        s.add(Device(id=device_id, **kw))
        await s.commit()


async def test_device_defaults_and_round_trip(database: Database) -> None:
    registered = datetime(2024, 5, 1, 20, 30, 15, 123456, tzinfo=CST)
    await _add_device(
        database,
        name="南门摄像机",
        manufacturer="Hikvision",
        password="12345678",
        transport="tcp",
        remote_host="192.168.1.64",
        remote_port=5060,
        contact=f"<sip:{DEV}@192.168.1.64:5060>",
        online=True,
        registered_at=registered,
        register_expires_at=registered + timedelta(seconds=3600),
    )
    async with database.session() as s:
        d = await s.get(Device, DEV)
        assert d is not None
        assert (d.admission, d.charset, d.media_transport) == ("admitted", "GB2312", "udp")
        assert (d.keepalive_interval, d.keepalive_timeout_count, d.channel_count) == (60, 3, 0)
        assert d.name == "南门摄像机"
        assert d.online is True
        assert d.remote_port == 5060
        assert d.last_keepalive_at is None
        # Same instant, handed back as UTC whatever the backend stores.
        assert d.registered_at == registered
        _assert_utc(d.registered_at)
        assert d.registered_at.hour == 12  # 20:30 +08:00 == 12:30 UTC
        assert d.register_expires_at == registered + timedelta(hours=1)
        _assert_utc(d.created_at)
        _assert_utc(d.updated_at)


async def test_datetime_comparisons_and_updated_at(database: Database) -> None:
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    await _add_device(database, keepalive_deadline=t0, online=True)
    await _add_device(database, "34020000001320000002", keepalive_deadline=t0 + timedelta(hours=1))
    async with database.session() as s:
        # A deadline query written in another zone must compare instants, not text.
        overdue = await s.scalars(
            select(Device.id).where(
                Device.keepalive_deadline < datetime(2024, 1, 1, 8, 30, tzinfo=CST)
            )
        )
        assert list(overdue) == [DEV]
        d = await s.get(Device, DEV)
        assert d is not None
        before = d.updated_at
        d.online = False
        await s.commit()
        assert d.updated_at > before
        _assert_utc(d.updated_at)


async def test_naive_datetime_is_refused(database: Database) -> None:
    async with database.session() as s:
        s.add(Device(id=DEV, registered_at=datetime(2024, 1, 1, 12, 0)))
        with pytest.raises(StatementError, match="naive datetime"):
            await s.commit()


async def test_channel_round_trip_all_catalog_fields(database: Database) -> None:
    await _add_device(database)
    end = datetime(2030, 1, 1, tzinfo=UTC)
    fields = {
        "name": "Camera 1",
        "manufacturer": "Dahua",
        "model": "IPC-HFW",
        "owner": "Owner",
        "civil_code": "340200",
        "block": "Block A",
        "address": "长江路 1 号",
        "parental": 0,
        "parent_id": f"{DEV}/34020000002160000001",
        "safety_way": 0,
        "register_way": 1,
        "cert_num": "C-1",
        "certifiable": 0,
        "err_code": 400,
        "end_time": end,
        "secrecy": 0,
        "ip_address": "192.168.1.65",
        "port": 8000,
        "password": "chanpass",
        "status": "ON",
        "longitude": 117.2272345,
        "latitude": 31.8205671,
        "ptz_type": 1,
        "position_type": 2,
        "room_type": 1,
        "use_type": 1,
        "supply_light_type": 1,
        "direction_type": 3,
        "resolution": "3/5",
        "business_group_id": "34020000002150000001",
        "download_speed": "1/2/4",
        "svc_space_support_mode": 0,
        "svc_time_support_mode": 0,
    }
    extra = {"Info": {"PTZType": "1"}, "SomeVendorField": ["a", "东"], "n": 1.5, "none": None}
    async with database.session() as s:
        s.add(Channel(device_id=DEV, channel_id=CAM, extra=extra, online=True, **fields))
        await s.commit()
    async with database.session() as s:
        ch = await s.scalar(select(Channel).where(Channel.channel_id == CAM))
        assert ch is not None
        for key, value in fields.items():
            assert getattr(ch, key) == value, key
        assert ch.extra == extra
        assert ch.kind == ChannelKind.CHANNEL
        assert ch.online is True
        _assert_utc(ch.end_time)
        # Relationship loads explicitly under asyncio.
        dev = await s.scalar(
            select(Device).where(Device.id == DEV).options(selectinload(Device.channels))
        )
        assert dev is not None
        assert [c.channel_id for c in dev.channels] == [CAM]


async def test_channel_unique_per_device(database: Database) -> None:
    await _add_device(database)
    await _add_device(database, "34020000001320000002")
    async with database.session() as s:
        s.add(Channel(device_id=DEV, channel_id=CAM))
        # The same channel ID under another device (e.g. a platform) is allowed.
        s.add(Channel(device_id="34020000001320000002", channel_id=CAM))
        await s.commit()
    async with database.session() as s:
        s.add(Channel(device_id=DEV, channel_id=CAM))
        with pytest.raises(IntegrityError):
            await s.commit()


async def test_channel_needs_existing_device(database: Database) -> None:
    async with database.session() as s:
        s.add(Channel(device_id="34020000001329999999", channel_id=CAM))
        with pytest.raises(IntegrityError):
            await s.commit()


async def test_status_events_and_alarms(database: Database) -> None:
    await _add_device(database)
    t0 = datetime(2024, 3, 1, 0, 0, tzinfo=UTC)
    async with database.session() as s:
        s.add_all(
            [
                StatusEvent(device_id=DEV, online=True, at=t0, reason="register"),
                StatusEvent(
                    device_id=DEV,
                    channel_id=CAM,
                    online=False,
                    at=t0 + timedelta(minutes=5),
                    reason="notify_OFF",
                ),
                StatusEvent(
                    device_id=DEV,
                    online=False,
                    at=t0 + timedelta(minutes=10),
                    reason="keepalive_timeout",
                ),
            ]
        )
        s.add(
            Alarm(
                device_id=DEV,
                alarm_device_id=CAM,
                priority=1,
                method=5,
                alarm_type=2,
                alarm_time=datetime(2024, 3, 1, 8, 0, tzinfo=CST),
                description="区域入侵",
                longitude=117.1,
                latitude=31.2,
                extra={"AlarmTypeParam": {"EventType": 1}},
            )
        )
        await s.commit()
    async with database.session() as s:
        events = list(
            await s.scalars(
                select(StatusEvent).where(StatusEvent.device_id == DEV).order_by(StatusEvent.at)
            )
        )
        assert [(e.channel_id, e.online, e.reason) for e in events] == [
            (None, True, "register"),
            (CAM, False, "notify_OFF"),
            (None, False, "keepalive_timeout"),
        ]
        assert events[0].id < events[1].id < events[2].id
        _assert_utc(events[2].at)
        alarm = await s.scalar(select(Alarm))
        assert alarm is not None
        assert alarm.alarm_time == datetime(2024, 3, 1, 0, 0, tzinfo=UTC)
        assert alarm.description == "区域入侵"
        assert alarm.extra == {"AlarmTypeParam": {"EventType": 1}}
        _assert_utc(alarm.received_at)
        assert alarm.acknowledged_at is None
        alarm.acknowledged_by = "operator1"
        alarm.acknowledged_at = t0
        await s.commit()
    async with database.session() as s:
        alarm = await s.scalar(select(Alarm))
        assert alarm is not None
        assert (alarm.acknowledged_by, alarm.acknowledged_at) == ("operator1", t0)


@pytest.mark.parametrize("how", ["orm", "core"])
async def test_deleting_device_cascades(database: Database, how: str) -> None:
    other = "34020000001320000002"
    for dev in (DEV, other):
        await _add_device(database, dev)
        async with database.session() as s:
            s.add(Channel(device_id=dev, channel_id=CAM))
            s.add(StatusEvent(device_id=dev, online=True, at=datetime.now(UTC), reason="x"))
            s.add(Alarm(device_id=dev, alarm_device_id=CAM, priority=1, method=2))
            await s.commit()
    async with database.session() as s:
        if how == "orm":
            device = await s.get(Device, DEV)
            await s.delete(device)
        else:
            await s.execute(delete(Device).where(Device.id == DEV))
        await s.commit()
    async with database.session() as s:
        for model in (Channel, StatusEvent, Alarm):
            owners = list(await s.scalars(select(model.device_id)))
            assert owners == [other], model.__tablename__


async def test_users_json_null_and_list(database: Database) -> None:
    async with database.session() as s:
        s.add(User(username="all", password_hash="x", role="viewer", region_codes=None))
        s.add(User(username="some", password_hash="x", role="viewer", region_codes=["3402", "35"]))
        await s.commit()
    async with database.session() as s:
        # None must be SQL NULL (not JSON 'null'), or "sees everything" can't be queried.
        unrestricted = await s.scalars(select(User.username).where(User.region_codes.is_(None)))
        assert list(unrestricted) == ["all"]
        some = await s.scalar(select(User).where(User.username == "some"))
        assert some is not None
        assert some.region_codes == ["3402", "35"]
        assert some.disabled is False
        _assert_utc(some.created_at)
        s.add(User(username="some", password_hash="y", role="admin"))
        with pytest.raises(IntegrityError):
            await s.commit()


async def test_settings_kv(database: Database) -> None:
    async with database.session() as s:
        s.add(SettingKV(key="jwt", value={"k": "abc", "v": 1}))
        s.add(SettingKV(key="n", value=42))
        await s.commit()
    async with database.session() as s:
        await s.execute(update(SettingKV).where(SettingKV.key == "n").values(value=[1, 2]))
        await s.commit()
        rows = {r.key: r.value for r in await s.scalars(select(SettingKV))}
        assert rows == {"jwt": {"k": "abc", "v": 1}, "n": [1, 2]}
        assert await s.scalar(select(func.count()).select_from(SettingKV)) == 2
