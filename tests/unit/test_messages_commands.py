"""Control builders and the subscription table (pure code, no sockets)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sharpeyes.gb28181 import manscdp
from sharpeyes.gb28181.ptz import decode_ptz
from sharpeyes.messages import commands
from sharpeyes.messages.commands import Control
from sharpeyes.messages.subscriptions import EventKind, EventSubscription, SubscriptionTable


@pytest.mark.parametrize(
    ("action", "params", "name", "d1", "d2"),
    [
        ("focus_far", {"speed": 64}, "focus-far", 64, 0),
        ("iris_close", {"speed": 32}, "iris-close", 0, 32),
        ("cruise_add", {"group": 3, "preset": 7}, "cruise-add", 3, 7),
        ("cruise_remove", {"group": 3}, "cruise-delete", 3, 0),
        ("cruise_speed", {"group": 1, "value": 0x234}, "cruise-speed", 1, 0x34),
        ("scan_right", {"group": 2}, "scan-right", 2, 2),
        ("wiper_on", {}, "aux-on", 1, 0),
        ("aux_off", {"switch": 5}, "aux-off", 5, 0),
        ("cruise_stop", {}, "stop", 0, 0),
    ],
)
def test_ptz_command_codes(action: str, params: dict, name: str, d1: int, d2: int) -> None:  # type: ignore[type-arg]
    cmd = decode_ptz(commands.ptz_command(action, params))
    assert cmd.describe() == name and (cmd.d1, cmd.d2) == (d1, d2)


def test_twelve_bit_values_split_into_data2_and_data3() -> None:
    cmd = decode_ptz(commands.ptz_command("cruise_dwell", {"group": 1, "value": 4095}))
    assert cmd.data12 == 4095 and cmd.d3 == 0xF


@pytest.mark.parametrize(
    ("action", "params"),
    [("cruise_add", {}), ("aux_on", {}), ("cruise_speed", {"value": 4096}), ("nope", {})],
)
def test_bad_ptz_parameters_raise_value_error(action: str, params: dict) -> None:  # type: ignore[type-arg]
    with pytest.raises(ValueError):
        commands.ptz_command(action, params)


def test_control_bodies_follow_appendix_a() -> None:
    def body(control: Control, **params: object) -> bytes:
        fields = commands.control_fields(control, params)
        return manscdp.build_manscdp("Control", "DeviceControl", 1, "34020000001320000001", fields)

    assert b"<TeleBoot>Boot</TeleBoot>" in body(Control.TELEBOOT)
    assert b"<RecordCmd>StopRecord</RecordCmd>" in body(Control.RECORD_STOP)
    assert b"<GuardCmd>SetGuard</GuardCmd>" in body(Control.GUARD_SET)
    assert b"<IFameCmd>Send</IFameCmd>" in body(Control.IFRAME)
    reset = body(Control.ALARM_RESET, alarm_method=2, alarm_type=1)
    assert b"<AlarmCmd>ResetAlarm</AlarmCmd>" in reset and b"<AlarmMethod>2</AlarmMethod>" in reset
    drag = body(
        Control.DRAG_ZOOM_OUT, length=10, width=20, mid_x=5, mid_y=6, length_x=2, length_y=3
    )
    msg = manscdp.parse_manscdp(drag)
    assert msg.fields == {
        "Length": "10",
        "Width": "20",
        "MidPointX": "5",
        "MidPointY": "6",
        "LengthX": "2",
        "LengthY": "3",
    }
    home = manscdp.parse_manscdp(body(Control.HOME_POSITION, enabled=False))
    assert home.fields == {"Enabled": "0"}
    with pytest.raises(ValueError):
        commands.control_fields(Control.DRAG_ZOOM_IN, {"length": -1})


def test_basic_param_validation() -> None:
    assert commands.basic_param({"heartbeat_interval": 30}) == [("HeartBeatInterval", 30)]
    for bad in ({}, {"expiration": 5}, {"name": ""}, {"heartbeat_count": True}):
        with pytest.raises(ValueError):
            commands.basic_param(bad)
    with pytest.raises(ValueError):
        commands.snapshot_config({"upload_url": "file:///etc/passwd"})


@given(
    st.dictionaries(
        st.sampled_from(["group", "preset", "value", "switch", "speed"]), st.integers(-5, 5000)
    )
)
def test_ptz_command_only_raises_value_error(params: dict) -> None:  # type: ignore[type-arg]
    for action in ("cruise_add", "cruise_speed", "scan_start", "aux_on", "focus_near"):
        with contextlib.suppress(ValueError):
            decode_ptz(commands.ptz_command(action, params))


def test_subscription_table_schedules_refresh_before_expiry() -> None:
    table = SubscriptionTable(fraction=0.5)
    sub = EventSubscription("d", EventKind.ALARM, "c", "t", 1, {}, 600)
    table.put(sub)
    table.granted(sub, 600, now=1000.0)
    assert table.next_timer() == 1300.0
    assert table.due(1299.0) == [] and table.due(1300.0) == [sub]
    table.failed(sub, "no answer", now=1300.0)
    assert sub.last_error == "no answer" and table.next_timer() == 1310.0
    assert table.of_device("d") == [sub] and table.drop("d", EventKind.ALARM) is sub
    assert table.next_timer() is None
