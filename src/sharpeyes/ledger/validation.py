"""Validation of camera records: what makes a value wrong, and a record complete.

Two kinds of finding, kept apart on purpose:

* **invalid** — a value is present but wrong (a 19-digit code, a code naming
  another county, a coordinate with 5 decimals or outside China, a name breaking
  the naming rule, a text starting with ``=``). Imports reject such a row and API
  writes answer 400, so bad values do not enter the ledger by hand.
* **missing** — a field the record's point class requires is empty. That is
  allowed (a survey is filled in over time) and is exactly what 完整率 measures.

A record is *complete* when every required field is filled and valid, and *on the
map* when both coordinates are valid. Both are stored with the record (see
``ledger.models``) and recomputed when the rules change.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sharpeyes.gb28181.deviceid import parse_device_id
from sharpeyes.ledger import dictionaries as d
from sharpeyes.ledger.geo import in_china
from sharpeyes.ledger.regions import code_region_prefix, codes_consistent
from sharpeyes.ledger.settings import LedgerSettings

MISSING = "必填项缺失"
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")

# Every field a camera record holds that people maintain (API and forms).
TEXT_FIELDS = (
    "name",
    "osd_text",
    "location_name",
    "platform_name",
    "brand",
    "pole_number",
    "place",
    "resolution",
    "codec",
    "remark",
)


@dataclass(frozen=True, slots=True)
class Issue:
    field: str
    reason: str
    value: Any = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"field": self.field, "reason": self.reason}
        if self.value is not None:
            out["value"] = (
                self.value if isinstance(self.value, int | float | bool) else str(self.value)
            )
        return out


@dataclass(frozen=True, slots=True)
class Evaluation:
    complete: bool
    on_map: bool
    issues: list[dict[str, Any]]


class Rules:
    """The configured rules, compiled once per settings object."""

    def __init__(self, settings: LedgerSettings) -> None:
        self.settings = settings
        self.naming = re.compile(settings.naming_pattern)
        self.categories = dict(settings.key_area_categories)
        self.camera_types = frozenset(settings.camera_type_codes)
        req = settings.required_fields
        self.required_common = tuple(req.get("common", ()))
        self.required_by_class = {k: tuple(v) for k, v in req.items() if k != "common"}

    def required_for(self, point_class: int | None) -> tuple[str, ...]:
        extra = self.required_by_class.get(str(point_class), ()) if point_class else ()
        return self.required_common + tuple(f for f in extra if f not in self.required_common)

    def category_code(self, text: str) -> str | None:
        t = text.strip()
        if t in self.categories:
            return t
        for code, label in self.categories.items():
            if label == t:
                return code
        return None


# ----------------------------------------------------------------- scalar checks
def coordinate_problem(value: float | None, axis: str) -> str | None:
    """Why a stored longitude/latitude is not valid, or None.

    Checked on the shortest text that round-trips the float, which is what was
    typed for up to 15 significant digits: at least 6 decimals and the 6th not 0
    (the seed's rule against values padded from 5 decimals). A value with 8 or
    more decimals was computed (e.g. converted from GCJ-02), not padded, so its
    6th digit is not held against it; typed input gets the literal rule first
    (:func:`coordinate_text_problem`).
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "不是数字"
    if value != value or value in (float("inf"), float("-inf")):
        return "不是有限数字"
    text = repr(float(value))
    if "e" in text or "E" in text:
        return "不是有效的度数"
    decimals = text.split(".", 1)[1] if "." in text else ""
    if len(decimals) < 6:
        return "小数点后不少于6位"
    if decimals[5] == "0" and len(decimals) < 8:
        return "小数点后第6位不能为0"
    return _range_problem(float(value), axis)


def coordinate_text_problem(text: str, axis: str) -> str | None:
    """The seed's rule on a coordinate as typed (import cell, API string)."""
    t = text.strip()
    if not re.fullmatch(r"[+-]?\d{1,3}(\.\d+)?", t):
        return "不是有效的度数"
    decimals = t.split(".", 1)[1] if "." in t else ""
    if len(decimals) < 6:
        return "小数点后不少于6位"
    if decimals[5] == "0":
        return "小数点后第6位不能为0"
    return _range_problem(float(t), axis)


def _range_problem(value: float, axis: str) -> str | None:
    lo, hi = (73.66, 135.05) if axis == "longitude" else (3.86, 53.55)
    if not lo < value < hi:
        name = "经度" if axis == "longitude" else "纬度"
        swapped = " （经纬度是否填反？）" if (axis == "longitude" and 3.86 < value < 53.55) else ""
        return f"{name}不在中国范围内（{lo}–{hi}）{swapped}"
    return None


def text_problem(value: str, max_len: int) -> str | None:
    if value.startswith("="):
        return "不能以“=”开头（公式不被接受）"
    if len(value) > max_len:
        return f"超过{max_len}个字符"
    if _CONTROL.search(value):
        return "含控制字符"
    return None


def code_problems(code: str, rules: Rules) -> list[str]:
    try:
        parsed = parse_device_id(code)
    except ValueError:
        return ["20位编码须为20位数字"]
    out: list[str] = []
    if parsed.type_code not in rules.camera_types:
        allowed = "/".join(str(t) for t in sorted(rules.camera_types))
        out.append(f"第11–13位类型码{parsed.type_code}不是摄像机（{allowed}）")
    if not parsed.province or parsed.province == "00":
        out.append("前2位省级代码无效")
    return out


# ------------------------------------------------------------------ record checks
TEXT_LIMITS: Mapping[str, int] = {
    "name": 128,
    "osd_text": 128,
    "location_name": 256,
    "platform_name": 128,
    "brand": 64,
    "pole_number": 64,
    "place": 128,
    "resolution": 32,
    "codec": 16,
    "remark": 512,
}


def invalid_values(
    rec: Mapping[str, Any],
    rules: Rules,
    region_prefixes: Callable[[str], list[str]] | None = None,
) -> list[Issue]:
    """Problems with values that are present (see module docstring)."""
    issues: list[Issue] = []
    for f, limit in TEXT_LIMITS.items():
        v = rec.get(f)
        if isinstance(v, str) and v:
            p = text_problem(v, limit)
            if p:
                issues.append(Issue(f, p, v))
    code = rec.get("code")
    if code:
        problems = code_problems(code, rules)
        issues.extend(Issue("code", p, code) for p in problems)
        if not problems:
            region = rec.get("region_code")
            if region and not codes_consistent(code, region):
                issues.append(
                    Issue(
                        "code",
                        f"编码所属区划{code_region_prefix(code)}与点位区划{region}不一致",
                        code,
                    )
                )
            network = rec.get("network")
            if network in d.NETWORK_CODE_DIGITS and code.isdigit() and len(code) == 20:
                digit = int(code[13])
                if digit not in d.NETWORK_CODE_DIGITS[network]:
                    issues.append(
                        Issue(
                            "network",
                            f"网络类型{d.NETWORK.label(network)}与编码第14位网络标识{digit}不一致",
                            d.NETWORK.label(network),
                        )
                    )
    for axis in ("longitude", "latitude"):
        p = coordinate_problem(rec.get(axis), axis)
        if p:
            issues.append(Issue(axis, p, rec.get(axis)))
    lon, lat = rec.get("longitude"), rec.get("latitude")
    if (lon is None) != (lat is None):
        issues.append(Issue("longitude" if lon is None else "latitude", "经纬度须同时填写"))
    for f in ("name", "osd_text"):
        v = rec.get(f)
        if isinstance(v, str) and v and not rules.naming.fullmatch(v):
            issues.append(Issue(f, f"不符合命名规则：{rules.settings.naming_description}", v))
        elif (
            isinstance(v, str)
            and v
            and rules.settings.naming_region_prefix
            and region_prefixes is not None
            and rec.get("region_code")
        ):
            names = region_prefixes(rec["region_code"])
            if names and not any(v.startswith(n) for n in names):
                issues.append(Issue(f, f"须以所属区县或乡镇街道名称开头（{'/'.join(names)}）", v))
    cat = rec.get("key_area_category")
    if cat is not None and cat not in rules.categories:
        issues.append(Issue("key_area_category", "不在重点区域类别列表中", cat))
    _range(issues, rec, "pole_height_m", 0.5, 100.0, "杆件高度应在0.5–100米之间")
    _range(issues, rec, "pole_arms", 0, 20, "横臂数量应在0–20之间")
    _range(issues, rec, "storage_days", 1, 3650, "存储天数应在1–3650之间")
    for f, date in (
        ("build_date", rec.get("build_date")),
        ("pole_build_date", rec.get("pole_build_date")),
    ):
        if date is not None and not _DATE_RE.fullmatch(str(date)):
            issues.append(Issue(f, "日期格式应为YYYY-MM或YYYY-MM-DD", date))
    return issues


def _range(
    issues: list[Issue], rec: Mapping[str, Any], f: str, lo: float, hi: float, msg: str
) -> None:
    v = rec.get(f)
    if v is not None and not lo <= v <= hi:
        issues.append(Issue(f, msg, v))


def missing_required(rec: Mapping[str, Any], rules: Rules) -> list[str]:
    return [f for f in rules.required_for(rec.get("point_class")) if rec.get(f) in (None, "")]


def evaluate(
    rec: Mapping[str, Any],
    rules: Rules,
    region_prefixes: Callable[[str], list[str]] | None = None,
    invalid: list[Issue] | None = None,
) -> Evaluation:
    """complete / on_map / issues for a record's full set of values."""
    if invalid is None:
        invalid = invalid_values(rec, rules, region_prefixes)
    missing = missing_required(rec, rules)
    required = set(rules.required_for(rec.get("point_class")))
    bad_fields = {i.field for i in invalid}
    complete = not missing and not (required & bad_fields)
    lon, lat = rec.get("longitude"), rec.get("latitude")
    on_map = (
        lon is not None
        and lat is not None
        and not ({"longitude", "latitude"} & bad_fields)
        and in_china(lon, lat)
    )
    issues = [i.as_dict() for i in invalid] + [{"field": f, "reason": MISSING} for f in missing]
    return Evaluation(complete=complete, on_map=on_map, issues=issues)


# ------------------------------------------------------------------ value parsing
_DATE_RE = re.compile(r"\d{4}-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?")
_DATE_IN = re.compile(
    r"^\s*(\d{4})\s*[.\-/年]\s*(\d{1,2})\s*(?:[.\-/月]\s*(\d{1,2})\s*日?)?\s*月?\s*$"
)


def parse_date_text(text: str) -> str:
    """``2020.03`` / ``2020-3`` / ``2020/03/15`` / ``2020年3月`` → ``2020-03`` (``-15``)."""
    m = _DATE_IN.match(text)
    if not m:
        if re.fullmatch(r"\s*\d{4}\s*", text):
            raise ValueError("日期须含年月（如2020.03）")
        raise ValueError("日期格式应如2020.03或2020-03-15")
    year, month, day = int(m.group(1)), int(m.group(2)), m.group(3)
    if not 1900 <= year <= 2100 or not 1 <= month <= 12:
        raise ValueError("年份或月份超出范围")
    out = f"{year:04d}-{month:02d}"
    if day is not None:
        dd = int(day)
        if not 1 <= dd <= 31:
            raise ValueError("日超出范围")
        out += f"-{dd:02d}"
    return out


def parse_bool_text(text: str) -> bool:
    v = d.YES_NO.get(text.strip().lower())
    if v is None:
        raise ValueError("应填“是”或“否”")
    return v
