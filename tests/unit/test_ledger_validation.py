"""Ledger rules: codes, coordinates, naming, required fields, completeness."""

from __future__ import annotations

import pytest

from sharpeyes.ledger.fields import CAMERA_FIELDS, coerce_camera_input
from sharpeyes.ledger.regions import code_region_prefix, codes_consistent, normalise_region_code
from sharpeyes.ledger.settings import LedgerSettings
from sharpeyes.ledger.validation import (
    MISSING,
    Rules,
    coordinate_problem,
    coordinate_text_problem,
    evaluate,
    invalid_values,
    parse_date_text,
)

RULES = Rules(LedgerSettings())
CODE = "34152201001320000001"  # 霍邱县 grassroots unit 01, industry 00, IPC (132), net 0


def full_record(**over: object) -> dict[str, object]:
    rec: dict[str, object] = {f: None for f in CAMERA_FIELDS}
    rec.update(
        code=CODE,
        name="霍邱县城关镇人民路1号东南角",
        location_name="城关镇人民路1号",
        region_code="34152201",
        longitude=116.266573,
        latitude=32.370837,
        status="in_use",
        point_class=3,
        network="police_video",
        owner_org_id=1,
        build_date="2020-03",
        social=False,
    )
    rec.update(over)
    return rec


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (116.266573, None),
        (116.2665731, None),
        (116.26657, "小数点后不少于6位"),
        (116.0, "小数点后不少于6位"),
        (116.266503, None),
        (116.2665, "小数点后不少于6位"),
        (116.1234501, "小数点后第6位不能为0"),  # 7 decimals typed, 6th is 0
        (116.12345012345, None),  # computed (e.g. from GCJ-02): not a padded value
        (16.266573, "经度不在中国范围内"),
        (float("nan"), "不是有限数字"),
    ],
)
def test_coordinate_rule_on_stored_values(value: float, problem: str | None) -> None:
    got = coordinate_problem(value, "longitude")
    assert (got is None) if problem is None else (got is not None and got.startswith(problem))


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("117.266573", None),
        ("117.266570", "小数点后第6位不能为0"),  # the seed's own rule, literally
        ("117.2665700", "小数点后第6位不能为0"),
        ("117.26657", "小数点后不少于6位"),
        ("117,266573", "不是有效的度数"),
        ("31.870837", "经度不在中国范围内"),
    ],
)
def test_coordinate_rule_as_typed(text: str, problem: str | None) -> None:
    got = coordinate_text_problem(text, "longitude")
    assert (got is None) if problem is None else (got is not None and got.startswith(problem))


def test_swapped_coordinates_are_hinted() -> None:
    assert "填反" in (coordinate_text_problem("31.870837", "longitude") or "")


def test_code_region_prefix_and_consistency() -> None:
    assert code_region_prefix("34152200001320000001") == "341522"
    assert code_region_prefix("34150000001320000001") == "3415"
    assert code_region_prefix(CODE) == "34152201"
    assert codes_consistent(CODE, "34152201")
    assert codes_consistent(CODE, "341522")  # county record, code names one of its units
    assert codes_consistent("34152200001320000001", "34152203")  # township under the county
    assert codes_consistent(CODE, "341522100")  # 9-digit statistical township code
    assert not codes_consistent(CODE, "341523")
    assert not codes_consistent(CODE, "34152202")


def test_normalise_region_code() -> None:
    assert normalise_region_code("340000") == "34"
    assert normalise_region_code("341500") == "3415"
    assert normalise_region_code("341522") == "341522"
    assert normalise_region_code("34152201") == "34152201"
    for bad in ("3", "34a", "1234567890123", "３４"):
        with pytest.raises(ValueError):
            normalise_region_code(bad)


def test_valid_record_is_complete_and_on_map() -> None:
    ev = evaluate(full_record(), RULES)
    assert ev.issues == []
    assert ev.complete and ev.on_map


@pytest.mark.parametrize(
    ("over", "field", "reason_part"),
    [
        ({"code": "3415220100132000000"}, "code", "20位"),
        ({"code": "34152201001180000001"}, "code", "不是摄像机"),  # type 118 = NVR
        ({"region_code": "341523"}, "code", "不一致"),
        ({"network": "internet"}, "network", "第14位"),  # digit 0 is a private network
        ({"name": "霍邱 人民路"}, "name", "命名规则"),  # a space
        ({"name": "=HYPERLINK(1)"}, "name", "="),
        ({"osd_text": "ab"}, "osd_text", "命名规则"),  # too short
        ({"latitude": 32.37}, "latitude", "6位"),
        ({"longitude": None}, "longitude", "同时填写"),
        ({"key_area_category": "moon"}, "key_area_category", "类别"),
        ({"storage_days": 0}, "storage_days", "1–3650"),
        ({"pole_height_m": 300.0}, "pole_height_m", "0.5–100"),
        ({"remark": "a\x00b"}, "remark", "控制字符"),
    ],
)
def test_invalid_values(over: dict[str, object], field: str, reason_part: str) -> None:
    issues = invalid_values(full_record(**over), RULES)
    assert any(i.field == field and reason_part in i.reason for i in issues), issues


def test_missing_required_fields_depend_on_point_class() -> None:
    # class 3 needs only the common fields; class 1 also police station, category…
    assert evaluate(full_record(point_class=3), RULES).complete
    ev = evaluate(full_record(point_class=1), RULES)
    assert not ev.complete and ev.on_map
    missing = {i["field"] for i in ev.issues if i["reason"] == MISSING}
    assert missing == {
        "police_station_id",
        "key_area_category",
        "maintainer_org_id",
        "storage_days",
    }
    ev = evaluate(
        full_record(
            point_class=1,
            police_station_id=1,
            key_area_category="school",
            maintainer_org_id=2,
            storage_days=30,
        ),
        RULES,
    )
    assert ev.complete


def test_invalid_required_field_makes_incomplete_and_off_map() -> None:
    ev = evaluate(full_record(latitude=32.37), RULES)
    assert not ev.complete and not ev.on_map
    # an invalid optional field does not cost completeness
    ev = evaluate(full_record(pole_height_m=300.0), RULES)
    assert ev.complete and ev.issues


def test_configurable_naming_rule_and_region_prefix() -> None:
    rules = Rules(
        LedgerSettings(naming_pattern=r"^[\u4e00-\u9fff0-9]{6,20}$", naming_region_prefix=True)
    )
    names = {"34152201": ["城关镇", "霍邱县"]}
    rec = full_record(name="人民路1号东南角口")
    issues = invalid_values(rec, rules, lambda code: names.get(code, []))
    assert any("须以所属区县" in i.reason for i in issues)
    rec = full_record(name="霍邱县城关镇人民路1号")
    assert invalid_values(rec, rules, lambda code: names.get(code, [])) == []


def test_required_fields_are_configurable() -> None:
    rules = Rules(LedgerSettings(required_fields={"common": ["code"], "1": [], "2": [], "3": []}))
    assert evaluate({"code": CODE}, rules).complete


@pytest.mark.parametrize(
    ("text", "out"),
    [
        ("2020.03", "2020-03"),
        ("2020.3", "2020-03"),
        ("2020-3-5", "2020-03-05"),
        ("2020/03/15", "2020-03-15"),
        ("2020年3月", "2020-03"),
        ("2020年3月5日", "2020-03-05"),
    ],
)
def test_dates(text: str, out: str) -> None:
    assert parse_date_text(text) == out


@pytest.mark.parametrize("text", ["2020", "2020.13", "March 2020", "1800.01"])
def test_bad_dates(text: str) -> None:
    with pytest.raises(ValueError):
        parse_date_text(text)


def test_api_input_accepts_codes_and_labels() -> None:
    out = coerce_camera_input(
        {
            "status": "在用",
            "point_class": "一类",
            "network": "政务外网",
            "leased": "是",
            "key_area_category": "学校",
            "direction": "东南",
            "region_code": "341500",
        },
        RULES,
    )
    assert out == {
        "status": "in_use",
        "point_class": 1,
        "network": "gov_extranet",
        "leased": True,
        "key_area_category": "school",
        "direction": 5,
        "region_code": "3415",
    }
    with pytest.raises(ValueError, match="status"):
        coerce_camera_input({"status": "maybe"}, RULES)
    with pytest.raises(ValueError, match="unknown"):
        coerce_camera_input({"complete": True}, RULES)
