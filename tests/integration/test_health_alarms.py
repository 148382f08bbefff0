"""Alarm rules: dedup, flap damping, recovery; webhook and SMTP deliveries received."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sharpeyes.events import EventBus
from sharpeyes.health.alarms import AlarmCentre, AlarmError
from sharpeyes.health.settings import AlarmSettings
from sharpeyes.store.db import Database
from tests.integration.health_helpers import smtp_server, webhook_sink

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
KEY = "channel_offline:34152200001320000001/34152200001310000001"


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


async def test_dedup_counts_and_recovery_notifies_by_webhook_and_mail(database: Database) -> None:
    async with webhook_sink() as hook, smtp_server() as (box, port):
        centre = AlarmCentre(
            database, EventBus(), AlarmSettings(smtp_host="127.0.0.1", smtp_port=port)
        )
        await centre.create_rule(
            {
                "kind": "channel_offline",
                "level": "important",
                "dedup_s": 60,
                "notify": [
                    {"type": "webhook", "url": hook.url},
                    {"type": "email", "to": "om@county.example"},
                ],
            }
        )
        a = await centre.raise_condition("channel_offline", KEY, now=at(0), message="离线")
        assert a is not None and a["state"] == "triggered" and a["level"] == "important"
        for i in range(1, 6):  # still offline: the same alarm counts, nobody is told again
            b = await centre.raise_condition("channel_offline", KEY, now=at(i * 10))
            assert b is not None and b["id"] == a["id"]
        assert b["count"] == 6
        assert len(await centre.list()) == 1
        r = await centre.clear_condition(KEY, now=at(100))
        assert r is not None and r["state"] == "recovered" and r["recovered_at"] == at(100)
        await centre.notifier.drain()
        assert [(b["event"], b["alarm"]["id"]) for b in hook.bodies] == [
            ("triggered", a["id"]),
            ("recovered", a["id"]),
        ]
        assert len(box.messages) == 2
        assert box.messages[0]["To"] == "om@county.example"
        assert "告警" in box.subjects()[0] and "告警恢复" in box.subjects()[1]
        assert all(d.ok for d in centre.notifier.deliveries)
        # raised again soon after recovery: reopened, not a second alarm
        c = await centre.raise_condition("channel_offline", KEY, now=at(130))
        assert c is not None and c["id"] == a["id"] and c["state"] == "triggered"
        # much later: a new alarm
        await centre.clear_condition(KEY, now=at(140))
        d = await centre.raise_condition("channel_offline", KEY, now=at(1000))
        assert d is not None and d["id"] != a["id"]


async def test_flap_damping_suppresses_notices_and_recovers_after_a_quiet_window(
    database: Database,
) -> None:
    async with webhook_sink() as hook:
        centre = AlarmCentre(database, EventBus(), AlarmSettings())
        await centre.create_rule(
            {
                "kind": "device_offline",
                "dedup_s": 120,
                "flap_window_s": 300,
                "flap_max_changes": 4,
                "notify": [{"type": "webhook", "url": hook.url}],
            }
        )
        key = "device_offline:34152200001320000001"
        # up/down every 10 s
        for i in range(6):
            await centre.raise_condition("device_offline", key, now=at(20 * i))
            await centre.clear_condition(key, now=at(20 * i + 10))
        await centre.notifier.drain()
        [alarm] = await centre.list()
        assert alarm["flapping"] is True
        assert alarm["state"] != "recovered"  # a flapping key does not recover on each clear
        sent = len(hook.bodies)
        assert sent <= 4  # the first changes were told, the flapping ones not
        assert await centre.tick(at(110 + 299)) == []  # not yet a whole quiet window
        [rec] = await centre.tick(at(110 + 300))
        assert rec["id"] == alarm["id"] and rec["state"] == "recovered"
        await centre.notifier.drain()
        assert hook.bodies[-1]["event"] == "recovered"


async def test_threshold_states_and_bad_input(database: Database) -> None:
    centre = AlarmCentre(database, EventBus(), AlarmSettings())
    await centre.create_rule({"kind": "clock_drift", "threshold": 10, "level": "general"})
    assert await centre.raise_condition("clock_drift", "clock:dev", now=at(0), value=3.0) is None
    a = await centre.raise_condition("clock_drift", "clock:dev", now=at(1), value=-42.0)
    assert a is not None
    s = await centre.transition(a["id"], "shown", "op")
    assert s["state"] == "shown"
    s = await centre.transition(a["id"], "acknowledged", "op")
    assert (s["state"], s["acknowledged_by"]) == ("acknowledged", "op")
    with pytest.raises(AlarmError):
        await centre.transition(a["id"], "shown", "op")  # never backwards
    s = await centre.transition(a["id"], "handled", "op2")
    assert (s["state"], s["handled_by"]) == ("handled", "op2")
    r = await centre.clear_condition("clock:dev", now=at(5))
    assert r is not None and r["state"] == "recovered"
    with pytest.raises(AlarmError):
        await centre.create_rule({"kind": "nonsense"})
    with pytest.raises(AlarmError):
        await centre.create_rule({"kind": "disk_low", "notify": [{"type": "pigeon"}]})
    with pytest.raises(AlarmError):
        await centre.transition(a["id"], "recovered", "op")


async def test_failed_webhook_is_recorded_not_raised(database: Database) -> None:
    centre = AlarmCentre(database, EventBus(), AlarmSettings(webhook_timeout_s=2))
    await centre.create_rule(
        {"kind": "disk_low", "notify": [{"type": "webhook", "url": "http://127.0.0.1:9/x"}]}
    )
    await centre.raise_condition("disk_low", "disk:/data", now=at(0))
    await centre.notifier.drain()
    [d] = centre.notifier.deliveries
    assert d.ok is False and d.error
