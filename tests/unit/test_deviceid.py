"""Rule-A device IDs (Appendix D.1) and civil-code region nodes (A.1, Appendix O)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sharpeyes.gb28181.deviceid import (
    CivilLevel,
    DeviceId,
    InvalidDeviceId,
    civil_code_level,
    civil_code_parent,
    is_device_id,
    make_device_id,
    parse_device_id,
)


def test_parse_seed_sample() -> None:
    d = parse_device_id("34012341001320175079")
    assert d == DeviceId(
        value="34012341001320175079",
        center="34012341",
        province="34",
        city="01",
        county="23",
        grassroots="41",
        industry="00",
        type_code=132,
        network=0,
        serial="175079",
    )
    assert d.kind == "peripheral"
    assert d.is_video_channel
    assert "IPC" in d.type_name
    assert "社会治安路面" in d.industry_name
    assert "专网" in d.network_name
    assert d.civil_code == "34012341"
    assert str(d) == "34012341001320175079"


@pytest.mark.parametrize(
    ("center", "civil"),
    [
        ("34012341", "34012341"),
        ("34012300", "340123"),
        ("34010000", "3401"),
        ("34000000", "34"),
        ("34010012", "34010012"),
    ],
)
def test_civil_code_trims_unused_levels(center: str, civil: str) -> None:
    assert parse_device_id(center + "001320000001").civil_code == civil


@pytest.mark.parametrize(
    ("type_code", "kind", "video"),
    [
        (111, "front_end_device", False),
        (118, "front_end_device", False),
        (130, "front_end_device", False),
        (131, "peripheral", True),
        (132, "peripheral", True),
        (134, "peripheral", False),
        (199, "peripheral", False),
        (200, "platform", False),
        (214, "platform", False),
        (215, "business_group", False),
        (216, "virtual_org", False),
        (217, "platform", False),
        (300, "center_user", False),
        (400, "terminal_user", False),
        (500, "external_platform", False),
        (110, "unknown", False),
        (600, "unknown", False),
    ],
)
def test_kind_and_video_channel(type_code: int, kind: str, video: bool) -> None:
    d = parse_device_id(make_device_id("65010200", 0, type_code, 0, 1))
    assert d.kind == kind
    assert d.is_video_channel is video


def test_names_from_appendix_d_tables() -> None:
    d = parse_device_id("65010200002150000001")
    assert "业务分组" in d.type_name
    assert "virtual" in parse_device_id("65010200002160000002").type_name
    assert "NVR" in parse_device_id("34020000001180000001").type_name
    assert "扩展" in parse_device_id("34020000001190000001").type_name
    assert "交通卡口" in parse_device_id("34020000051320000001").industry_name
    assert "预留" in parse_device_id("34020000131320000001").industry_name  # 12-39 reserved
    assert "电力" in parse_device_id("34020000441320000001").industry_name
    assert parse_device_id("34020000001327000001").network_name == "Internet"
    assert "公安信息网" in parse_device_id("34020000001325000001").network_name
    assert "预留" in parse_device_id("34020000001329000001").network_name


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "3401234100132017507",  # 19
        "340123410013201750790",  # 21
        "3401234100132017507a",
        " 4012341001320175079",
        "３４０１２３４１００１３２０１７５０７９",  # full-width digits
        "٣٤٠١٢٣٤١٠٠١٣٢٠١٧٥٠٧٩",  # Arabic-Indic digits pass str.isdigit()
    ],
)
def test_parse_rejects(bad: str) -> None:
    with pytest.raises(InvalidDeviceId, match="20 ASCII digits"):
        parse_device_id(bad)
    assert not is_device_id(bad)


def test_parse_rejects_non_str() -> None:
    with pytest.raises(InvalidDeviceId):
        parse_device_id(34012341001320175079)  # type: ignore[arg-type]
    assert not is_device_id(34012341001320175079)


def test_make_device_id() -> None:
    assert make_device_id("34020000", 0, 132, 0, 1) == "34020000001320000001"
    assert make_device_id("34020000", "05", 200, 7, "123456") == "34020000052007123456"


@pytest.mark.parametrize(
    "args",
    [
        ("3402000", 0, 132, 0, 1),
        ("34020000", 100, 132, 0, 1),
        ("34020000", "5", 132, 0, 1),
        ("34020000", 0, 1000, 0, 1),
        ("34020000", 0, 132, 10, 1),
        ("34020000", 0, 132, 0, 1_000_000),
        ("34020000", 0, 132, 0, "12345"),
        ("34020000", 0, 132, 0, -1),
        ("34020000", 0, True, 0, 1),
    ],
)
def test_make_device_id_validates(args: tuple[str, object, int, int, object]) -> None:
    with pytest.raises(InvalidDeviceId):
        make_device_id(*args)  # type: ignore[arg-type]


@given(
    st.from_regex(r"[0-9]{8}", fullmatch=True),
    st.integers(0, 99),
    st.integers(0, 999),
    st.integers(0, 9),
    st.integers(0, 999_999),
)
def test_make_parse_round_trip(center: str, ind: int, typ: int, net: int, serial: int) -> None:
    d = parse_device_id(make_device_id(center, ind, typ, net, serial))
    assert (d.center, int(d.industry), d.type_code, d.network, int(d.serial)) == (
        center,
        ind,
        typ,
        net,
        serial,
    )
    assert isinstance(d.type_name, str) and isinstance(d.industry_name, str)
    assert isinstance(d.network_name, str) and d.kind
    assert civil_code_level(d.civil_code) == len(d.civil_code)


@given(st.text(max_size=30))
def test_parse_only_raises_invalid_device_id(s: str) -> None:
    try:
        d = parse_device_id(s)
    except InvalidDeviceId:
        assert not is_device_id(s)
    else:
        assert d.value == s and is_device_id(s)


@pytest.mark.parametrize(
    ("code", "level", "parent"),
    [
        ("65", CivilLevel.PROVINCE, None),
        ("6501", CivilLevel.CITY, "65"),
        ("650102", CivilLevel.COUNTY, "6501"),
        ("65010211", CivilLevel.GRASSROOTS, "650102"),
    ],
)
def test_civil_code_levels(code: str, level: CivilLevel, parent: str | None) -> None:
    assert civil_code_level(code) == level
    assert civil_code_level(code) == len(code)
    assert civil_code_parent(code) == parent


@pytest.mark.parametrize("bad", ["", "6", "650", "6501021", "6501021100", "65a1", "６５"])
def test_civil_code_rejects(bad: str) -> None:
    with pytest.raises(InvalidDeviceId):
        civil_code_level(bad)
    with pytest.raises(InvalidDeviceId):
        civil_code_parent(bad)
