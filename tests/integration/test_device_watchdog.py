"""The device watchdog on the deadline queue, driven by an injected clock (no sleeping)."""

from __future__ import annotations

from sqlalchemy import select

from sharpeyes.devices.registry import DeviceRegistry
from sharpeyes.events import EventBus
from sharpeyes.sip.transport import Peer
from sharpeyes.store.db import Database
from sharpeyes.store.models import Device

T0 = 1_800_000_000.0
PEER = Peer("udp", "127.0.0.1", 5060)


async def _online(reg: DeviceRegistry, n: int, expires: int = 3600) -> list[str]:
    ids = [f"3402000000132{i:07d}" for i in range(n)]
    for did in ids:
        live = await reg.create_pending_or_admitted(did, "admitted", PEER, T0)
        await reg.registered(live, PEER, None, expires, T0)
    return ids


async def test_keepalives_hold_devices_and_silence_takes_them_offline(database: Database) -> None:
    reg = DeviceRegistry(database, EventBus(), keepalive_interval=60, keepalive_timeout_count=3)
    ids = await _online(reg, 6)
    # three keep sending keepalives, three fall silent after registering
    for t in (60.0, 120.0, 170.0):
        for did in ids[:3]:
            live = reg.get(did)
            assert live is not None
            assert await reg.keepalive(live, PEER, T0 + t)
        assert reg.due(T0 + t) == []
    assert reg.due(T0 + 179.0) == []
    due = reg.due(T0 + 180.0)
    assert sorted((d.id, r) for d, r in due) == [(i, "keepalive_timeout") for i in ids[3:]]
    assert [d.id for d, _ in reg.due(T0 + 180.0)] == [d.id for d, _ in due]  # idempotent
    assert await reg.check_deadlines(T0 + 180.0) == 3
    assert reg.due(T0 + 200.0) == []
    # the first three's deadline moved with each keepalive: 170 + 180
    assert reg.due(T0 + 349.0) == []
    assert sorted(d.id for d, _ in reg.due(T0 + 350.0)) == ids[:3]
    async with database.session() as s:
        online = dict((await s.execute(select(Device.id, Device.online))).all())
    assert [online[i] for i in ids] == [True, True, True, False, False, False]
    # the keepalive timestamps were queued for the batched flush, only the active ones
    assert await reg.flush() == 3
    assert await reg.flush() == 0


async def test_registration_expiry_before_keepalive_and_offline_device_revived(
    database: Database,
) -> None:
    reg = DeviceRegistry(database, EventBus(), keepalive_interval=60, keepalive_timeout_count=3)
    (did,) = await _online(reg, 1, expires=100)
    live = reg.get(did)
    assert live is not None
    assert await reg.keepalive(live, PEER, T0 + 90.0)
    assert [(d.id, r) for d, r in reg.due(T0 + 100.0)] == [(did, "register_expired")]
    assert await reg.check_deadlines(T0 + 100.0) == 1
    assert not live.online
    # it registers again and goes silent: due again, from the new registration
    await reg.registered(live, PEER, None, 3600, T0 + 500.0)
    assert reg.due(T0 + 679.0) == []
    assert [r for _, r in reg.due(T0 + 680.0)] == ["keepalive_timeout"]
