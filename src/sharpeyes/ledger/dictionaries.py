"""Closed vocabularies of the ledger: stored codes, their Chinese labels and import aliases.

The database and the API speak short English codes (stable, sortable, no encoding
surprises in URLs); the survey forms and the console speak Chinese. Every list the
seed forms and REQUIREMENTS M3.1 name lives here once, so the importer, the
exporter, validation and ``GET /api/ledger/dictionaries`` cannot disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


@dataclass(frozen=True)
class Vocabulary:
    """code → label, plus extra spellings accepted on import (traditional, short forms)."""

    name: str
    labels: Mapping[str, str]
    aliases: Mapping[str, str] = field(default_factory=dict)

    def label(self, code: str | None) -> str | None:
        return None if code is None else self.labels.get(code, code)

    def parse(self, text: str) -> str | None:
        """The code for a label, a code or an alias; None when unknown."""
        t = text.strip()
        if t in self.labels:
            return t
        for code, label in self.labels.items():
            if label == t:
                return code
        return self.aliases.get(t)

    def as_list(self) -> list[dict[str, str]]:
        return [{"code": c, "label": lbl} for c, lbl in self.labels.items()]


def _vocab(name: str, labels: dict[str, str], aliases: dict[str, str] | None = None) -> Vocabulary:
    return Vocabulary(name, MappingProxyType(labels), MappingProxyType(aliases or {}))


STATUS = _vocab(
    "status",
    {"in_use": "在用", "disabled": "停用", "faulty": "故障", "removed": "拆除"},
    {"使用": "in_use", "正常": "in_use", "損壞": "faulty", "损坏": "faulty", "已拆除": "removed"},
)

INTEGRATION_METHOD = _vocab(
    "integration_method",
    {
        "keep": "保留",
        "migrate": "迁移",
        "multi_use": "一机多用",
        "relocate": "以迁代拆",
        "lease": "以租代建",
        "pole_reuse": "杆塔复用",
        "algorithm_upgrade": "算法升级",
    },
    {
        "遷移": "migrate",
        "一機多用": "multi_use",
        "以遷代拆": "relocate",
        "桿塔復用": "pole_reuse",
        "算法升級": "algorithm_upgrade",
    },
)

NETWORK = _vocab(
    "network",
    {
        "police_video": "公安视频专网",
        "gov_extranet": "政务外网",
        "industry": "行业专网",
        "internet": "互联网",
        "social": "社会资源接入网",
    },
    {
        "公安視頻專網": "police_video",
        "视频专网": "police_video",
        "政務外網": "gov_extranet",
        "政务网": "gov_extranet",
        "行業專網": "industry",
        "互聯網": "internet",
        "社會資源接入網": "social",
    },
)

# Digit 14 of a 20-digit code (GB/T 28181 D.1) that each network domain may carry.
NETWORK_CODE_DIGITS: Mapping[str, frozenset[int]] = MappingProxyType(
    {
        "police_video": frozenset({0, 1, 2, 3, 4, 5}),
        "gov_extranet": frozenset({6}),
        "industry": frozenset({0, 1, 2, 3, 4, 6}),
        "internet": frozenset({7}),
        "social": frozenset({8}),
    }
)

POLE_CONDITION = _vocab(
    "pole_condition",
    {"intact": "完整", "worn": "破损", "damaged": "损坏"},
    {"破損": "worn", "損壞": "damaged"},
)

POINT_CLASS = _vocab(
    "point_class",
    {"1": "一类", "2": "二类", "3": "三类"},
    {"一類": "1", "二類": "2", "三類": "3", "一类点": "1", "二类点": "2", "三类点": "3"},
)

# GB/T 28181-2016 Appendix O DirectionType (camera facing).
DIRECTION = _vocab(
    "direction",
    {
        "1": "东",
        "2": "西",
        "3": "南",
        "4": "北",
        "5": "东南",
        "6": "东北",
        "7": "西南",
        "8": "西北",
    },
    {"東": "1", "東南": "5", "東北": "6"},
)

# GB/T 28181-2016 Appendix O PTZType.
CAMERA_TYPE = _vocab(
    "camera_type",
    {"1": "球机", "2": "半球", "3": "固定枪机", "4": "遥控枪机"},
    {"球機": "1", "枪机": "3", "槍機": "3", "固定槍機": "3", "遙控槍機": "4"},
)

YES_NO: Mapping[str, bool] = MappingProxyType(
    {"是": True, "否": False, "yes": True, "no": False, "y": True, "n": False, "true": True}
    | {"false": False, "1": True, "0": False, "有": True, "无": False, "無": False}
)

REGION_LEVEL = _vocab(
    "region_level",
    {
        "province": "省级",
        "city": "地市级",
        "county": "县级",
        "township": "乡镇/街道",
        "village": "村",
        "community": "社区",
    },
)

ORG_LEVEL = _vocab(
    "org_level",
    {"province": "省级", "city": "市级", "county": "县级", "township": "乡镇级", "village": "村级"},
)

ORG_TYPE = _vocab(
    "org_type",
    {
        "government": "党政机关",
        "public_security": "公安",
        "data_bureau": "数据资源管理局",
        "politics_law": "政法委/综治",
        "education": "教育",
        "health": "卫健",
        "transport": "交通",
        "urban_management": "城管",
        "emergency": "应急",
        "culture_tourism": "文旅",
        "water": "水利",
        "environment": "生态环境",
        "natural_resources": "自然资源",
        "market_regulation": "市场监管",
        "township_government": "乡镇政府/街道办",
        "village_committee": "村(居)委会",
        "enterprise": "企事业单位",
        "operator": "运营商",
        "other": "其他",
    },
    {"公安局": "public_security", "派出所": "public_security", "数据局": "data_bureau"},
)

# Default key-area categories (重点区域类别) after GB 37300-2018, which names 13 classes
# of key public areas; the seed lists 党政机关、车站、商贸中心、学校、医院、旅游景区 among
# them. Deployments replace this list in settings (``ledger.key_area_categories``):
# verify the wording against the copy of the standard in force locally.
DEFAULT_KEY_AREA_CATEGORIES: dict[str, str] = {
    "government": "党政机关",
    "square": "广场",
    "transport_hub": "车站码头机场等交通场站",
    "commercial": "商贸中心",
    "school": "学校",
    "hospital": "医院",
    "scenic": "旅游景区",
    "culture_sports": "文化体育场所",
    "religious": "宗教活动场所",
    "finance": "金融机构",
    "road": "主要道路路口",
    "city_entrance": "城市出入口与治安卡口",
    "utilities": "水电气热等重要设施",
}
