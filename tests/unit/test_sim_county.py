"""The simulated county (霍邱县) is realistic, valid and deterministic."""

from __future__ import annotations

from collections import Counter

import pytest

from sharpeyes.gb28181.deviceid import parse_device_id
from sharpeyes.gb28181.manscdp import catalog_responses, parse_manscdp
from sharpeyes.sim.county import COUNTY_CODE, SEAT, build_county, township_names

DOMAIN = "3415220000"


@pytest.fixture(scope="module")
def county() -> list:
    return build_county(1, platform_domain=DOMAIN)


def test_shape(county: list) -> None:
    cameras = [ch for cfg in county for ch in cfg.channels]
    assert 90 <= len(cameras) <= 110
    towns = Counter(ch.civil_code for ch in cameras)
    assert len(towns) >= 3 and all(n >= 20 for n in towns.values())
    assert set(towns) == {code for code, _ in township_names(4)}
    kinds = Counter(cfg.kind for cfg in county)
    assert kinds["nvr"] >= 3 and kinds["ipc"] >= 30
    for cfg in county:
        expected = {1} if cfg.kind == "ipc" else {8, 16}
        assert len(cfg.channels) in expected
    assert {ch.ptz_type for ch in cameras} >= {1, 3}
    town_names = dict(township_names(4))
    assert "城关镇" in town_names.values()
    for ch in cameras:
        assert ch.name.startswith(town_names[ch.civil_code])
        assert ch.name.endswith(("枪机", "球机", "半球"))
        assert ch.owner == DOMAIN
    assert any("交叉口" in ch.name for ch in cameras)


def test_ids_follow_the_gb_rule(county: list) -> None:
    ids = [cfg.device_id for cfg in county] + [ch.channel_id for c in county for ch in c.channels]
    assert len(ids) == len(set(ids))
    for cfg in county:
        dev = parse_device_id(cfg.device_id)
        assert dev.center.startswith(COUNTY_CODE) and len(dev.civil_code) == 8
        assert dev.type_code == (118 if cfg.kind == "nvr" else 132)
        assert dev.industry in {"00", "01", "08", "09", "11"} and dev.network in {0, 6, 8}
        for ch in cfg.channels:
            cid = parse_device_id(ch.channel_id)
            assert cid.type_code == 131 and cid.is_video_channel
            assert cid.center == dev.center == ch.civil_code
            assert ch.parent_id == cfg.device_id


def test_coordinates_have_six_real_decimals(county: list) -> None:
    for ch in (ch for cfg in county for ch in cfg.channels):
        for value, centre in ((ch.longitude, SEAT[0]), (ch.latitude, SEAT[1])):
            assert abs(value - centre) < 0.4
            text = repr(value)
            assert len(text.split(".")[1]) == 6 and text[-1] != "0"
            item = ch.catalog_item(ch.parent_id)
            assert item["Longitude"] == f"{ch.longitude:.6f}"


def test_misbehaving_devices(county: list) -> None:
    faults = Counter(f for cfg in county for f in cfg.faults)
    assert faults == {"offline": 2, "no_keepalive": 1, "wrong_password": 1}
    assert [cfg.charset for cfg in county].count("UTF-8") == 1
    rare = [ch.name for cfg in county for ch in cfg.channels if "萳" in ch.name]
    assert 2 <= len(rare) <= 6
    names = [ch.name for cfg in county for ch in cfg.channels]
    assert len(names) == len(set(names))
    assert build_county(1, platform_domain=DOMAIN, misbehaving=False)[0].faults == set()


def test_rare_character_survives_a_gb_catalog(county: list) -> None:
    cfg = next(
        c for c in county if c.charset == "GB2312" and any("萳" in ch.name for ch in c.channels)
    )
    items = [ch.catalog_item(cfg.device_id) for ch in cfg.channels]
    (body,) = catalog_responses(1, cfg.device_id, items, charset=cfg.charset)
    assert parse_manscdp(body).items[0]["Name"] == cfg.channels[0].name


def test_deterministic_per_seed() -> None:
    def snapshot(seed: int) -> list:
        return [
            (c.device_id, c.name, c.charset, sorted(c.faults), [vars(ch) for ch in c.channels])
            for c in build_county(seed, platform_domain=DOMAIN)
        ]

    assert snapshot(1) == snapshot(1)
    assert snapshot(2) == snapshot(2)
    assert snapshot(1) != snapshot(2)


def test_size_options() -> None:
    small = build_county(3, platform_domain=DOMAIN, townships=3, cameras_per_township=20)
    assert len({ch.civil_code for c in small for ch in c.channels}) == 3
    assert sum(len(c.channels) for c in small) == 60
    with pytest.raises(ValueError):
        build_county(1, platform_domain="")
    with pytest.raises(ValueError):
        build_county(1, platform_domain=DOMAIN, townships=99)


def test_demo_county_has_one_camera_with_each_video_fault() -> None:
    from sharpeyes.sim.county import DEMO_VIDEO_FAULTS

    configs = build_county(1, platform_domain=DOMAIN)
    shown = sorted(f for c in configs for f in c.video_faults.values())
    assert shown == sorted(DEMO_VIDEO_FAULTS)
    broken = [c for c in configs if c.video_faults]
    assert all(not c.faults for c in broken)  # they register and stream: VQD finds them
