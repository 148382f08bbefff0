"""Clock and location checks, hostile input to the health parsers, the sim's fault list."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sharpeyes.health.assessment import month_range, rank
from sharpeyes.health.clock import drift_seconds, parse_device_time
from sharpeyes.health.location import check_location, inside_region
from sharpeyes.health.settings import VqdThresholds
from sharpeyes.health.vqd import diagnose
from sharpeyes.sim.cli import _parser, apply_video_faults
from sharpeyes.sim.device import SimChannel, SimDeviceConfig
from sharpeyes.sim.media import parse_video_fault


def test_device_time_is_local_time_in_the_configured_zone() -> None:
    now = datetime(2026, 3, 1, 4, 0, 0, tzinfo=UTC)  # 12:00 in Beijing
    assert drift_seconds("2026-03-01T12:00:00", now) == 0.0
    assert drift_seconds("2026-03-01T12:05:00.500", now) == 300.5
    assert drift_seconds("2026-03-01T11:59:30", now) == -30.0
    assert drift_seconds("2026-03-01T04:00:00", now, "UTC") == 0.0
    with pytest.raises(ValueError):
        parse_device_time("yesterday")


@given(st.text(max_size=40))
@settings(max_examples=200, deadline=None)
def test_hostile_device_time_raises_value_error_only(text: str) -> None:
    with contextlib.suppress(ValueError):
        parse_device_time(text)


def test_location_uses_the_real_county_boundary() -> None:
    # 霍邱县 (341522): the county seat is inside; Hefei (安徽省会) is not, though both lie
    # inside any bounding box of Anhui drawn around the county's neighbours.
    assert inside_region("341522", 116.278, 32.353) is True
    assert inside_region("341522", 117.227, 31.820) is False
    # just across the Huai river to the north-west lies Henan (固始县 is 411525)
    assert inside_region("411525", 115.654, 32.168) is True
    assert inside_region("341522", 115.654, 32.168) is False
    assert inside_region("999999", 116.0, 32.0) is None  # no boundary: no verdict
    assert check_location("341522", (116.278, 32.353), (116.2781, 32.3531)) == []
    assert check_location("341522", (117.227, 31.820), (116.278, 32.353)) == [
        "outside_region",
        "ledger_device_apart",
    ]


@given(st.integers(0, 3), st.integers(1, 64), st.integers(1, 64))
@settings(max_examples=30, deadline=None)
def test_vqd_takes_any_frame_without_crashing(channels: int, h: int, w: int) -> None:
    rng = np.random.default_rng(h * w)
    shape = (h, w) if channels == 0 else (h, w, 3)
    frame = rng.integers(0, 256, size=shape, dtype=np.uint8)
    if channels == 0:
        frame = np.dstack([frame] * 3)
    d = diagnose([frame, frame], VqdThresholds())
    assert d.verdict.value in ("ok", "fault")
    assert all(isinstance(v, float) for v in d.scores.values())


def test_month_range_and_ranking() -> None:
    assert month_range("2026-02") == ("2026-02-01", "2026-02-28")
    assert month_range("2026-12") == ("2026-12-01", "2026-12-31")
    for bad in ("2026-13", "march", "", "2026"):
        with pytest.raises(ValueError):
            month_range(bad)
    rows = [
        {"key": "a", "online_rate": 35.0, "image_rate": None},
        {"key": "b", "online_rate": 70.0, "image_rate": 25.0},
        {"key": "c"},
    ]
    ranked = rank(rows, {"online": 1.0, "image": 1.0}, {"online": 70.0, "image": 50.0})
    assert [(r["key"], r["score"], r["rank"]) for r in ranked] == [
        ("b", 75.0, 1),
        ("a", 50.0, 2),
        ("c", None, 3),
    ]


def _cfg(n: int) -> SimDeviceConfig:
    cid = f"3402000000131{n:07d}"
    return SimDeviceConfig(
        device_id=f"3402000000132{n:07d}",
        password="x",
        channels=[SimChannel(cid, f"c{n}", "340200", 117.0, 31.0)],
    )


def test_video_faults_go_to_the_first_channel_of_successive_devices() -> None:
    args = _parser().parse_args(
        [
            "--server",
            "127.0.0.1:5060",
            "--server-id",
            "34020000002000000001",
            "--video-faults",
            "black,frozen,colour-cast",
        ]
    )
    assert args.video_faults == ["black", "frozen", "color_cast"]
    configs = [_cfg(n) for n in range(1, 6)]
    apply_video_faults(configs, args.video_faults)
    assert [c.video_faults for c in configs] == [
        {configs[0].channels[0].channel_id: "black"},
        {configs[1].channels[0].channel_id: "frozen"},
        {configs[2].channels[0].channel_id: "color_cast"},
        {},
        {},
    ]
    with pytest.raises(ValueError):
        apply_video_faults(configs[:1], ["black", "blur"])
    with pytest.raises(ValueError):
        parse_video_fault("melted")
    with pytest.raises(SystemExit):
        _parser().parse_args(["--server", "h:1", "--server-id", "x", "--video-faults", "melted"])
