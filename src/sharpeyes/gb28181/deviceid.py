"""GB/T 28181 unified codes (Appendix D.1, rule A) and civil-code region nodes.

A 20-digit ID is centre (8, a GB/T 2260 admin code padded with zeros) + industry
(2) + type (3) + network (1) + serial (6). Every module that needs to know what an
ID *is* asks this one, so the tables live in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class InvalidDeviceId(ValueError):
    """A string that is not a valid rule-A device ID (or region code)."""


_TYPE_NAMES: dict[int, str] = {
    111: "DVR",
    112: "视频服务器 / video server",
    113: "编码器 / encoder",
    114: "解码器 / decoder",
    115: "视频切换矩阵 / video matrix",
    116: "音频切换矩阵 / audio matrix",
    117: "报警控制器 / alarm controller",
    118: "NVR",
    130: "HVR",
    131: "摄像机 / camera",
    132: "网络摄像机 / IPC",
    133: "显示器 / monitor",
    134: "报警输入设备 / alarm input",
    135: "报警输出设备 / alarm output",
    136: "语音输入设备 / voice input",
    137: "语音输出设备 / voice output",
    138: "移动传输设备 / mobile transmission",
    139: "其他外围设备 / other peripheral",
    200: "中心信令控制服务器 / SIP server",
    201: "Web应用服务器 / web application server",
    202: "媒体分发服务器 / media distribution server",
    203: "代理服务器 / proxy server",
    204: "安全服务器 / security server",
    205: "报警服务器 / alarm server",
    206: "数据库服务器 / database server",
    207: "GIS服务器 / GIS server",
    208: "管理服务器 / management server",
    209: "接入网关 / access gateway",
    210: "媒体存储服务器 / media storage server",
    211: "信令安全路由网关 / signalling security gateway",
    215: "业务分组 / business group",
    216: "虚拟组织 / virtual organisation",
    300: "中心用户 / centre user",
    400: "终端用户 / terminal user",
    500: "视频图像信息综合应用平台信令服务器 / video application platform",
    501: "视频图像信息运维管理平台信令服务器 / O&M platform",
}

# (low, high, label) for codes without an entry above, checked in order.
_TYPE_RANGES: tuple[tuple[int, int, str], ...] = (
    (111, 130, "扩展前端主设备 / extended front-end device"),
    (131, 199, "扩展前端外围设备 / extended peripheral"),
    (200, 299, "扩展平台设备 / extended platform device"),
    (301, 343, "中心行业角色用户 / centre role user"),
    (300, 399, "扩展中心用户 / extended centre user"),
    (401, 443, "终端行业角色用户 / terminal role user"),
    (400, 499, "扩展终端用户 / extended terminal user"),
    (500, 599, "扩展平台外接服务器 / extended external platform"),
    (600, 999, "扩展类型 / extended type"),
)

_INDUSTRY_NAMES: dict[int, str] = {
    0: "社会治安路面接入 / public security, street",
    1: "社会治安社区接入 / public security, community",
    2: "社会治安内部接入 / public security, internal",
    3: "社会治安其他接入 / public security, other",
    4: "交通路面接入 / traffic, road",
    5: "交通卡口接入 / traffic, checkpoint",
    6: "交通内部接入 / traffic, internal",
    7: "交通其他接入 / traffic, other",
    8: "城市管理接入 / city management",
    9: "卫生环保接入 / health and environment",
    10: "商检海关接入 / inspection and customs",
    11: "教育部门接入 / education",
    40: "农林牧渔业接入 / agriculture, forestry, fishery",
    41: "采矿企业接入 / mining",
    42: "制造企业接入 / manufacturing",
    43: "冶金企业接入 / metallurgy",
    44: "电力企业接入 / electric power",
    45: "燃气企业接入 / gas",
    46: "建筑企业接入 / construction",
    47: "物流企业接入 / logistics",
    48: "邮政企业接入 / postal",
    49: "信息企业接入 / information technology",
    50: "住宿和餐饮业接入 / hotels and catering",
    51: "金融企业接入 / finance",
    52: "房地产业接入 / real estate",
    53: "商务服务业接入 / business services",
    54: "水利企业接入 / water",
    55: "娱乐企业接入 / entertainment",
}

_INDUSTRY_RANGES: tuple[tuple[int, int, str], ...] = (
    (12, 39, "政府机关预留 / reserved, government"),
    (56, 79, "企事业单位预留 / reserved, enterprise"),
    (80, 89, "居民自建预留 / reserved, residents"),
    (90, 99, "其他主体预留 / reserved, other"),
)

_NETWORK_NAMES: dict[int, str] = {
    5: "公安信息网 / public security network",
    6: "政务网 / government network",
    7: "Internet",
    8: "社会资源接入网 / social resources network",
    9: "预留 / reserved",
}


def _lookup(code: int, names: dict[int, str], ranges: tuple[tuple[int, int, str], ...]) -> str:
    if code in names:
        return names[code]
    for low, high, label in ranges:
        if low <= code <= high:
            return label
    return "未定义 / undefined"


def _is_digits(s: object, length: int) -> bool:
    # str.isdigit() accepts non-ASCII digits such as "١"; IDs are ASCII only.
    return isinstance(s, str) and len(s) == length and s.isascii() and s.isdigit()


@dataclass(frozen=True, slots=True)
class DeviceId:
    """A parsed rule-A device ID; build it with :func:`parse_device_id`."""

    value: str
    center: str
    province: str
    city: str
    county: str
    grassroots: str
    industry: str
    type_code: int
    network: int
    serial: str

    def __str__(self) -> str:
        return self.value

    @property
    def type_name(self) -> str:
        return _lookup(self.type_code, _TYPE_NAMES, _TYPE_RANGES)

    @property
    def industry_name(self) -> str:
        return _lookup(int(self.industry), _INDUSTRY_NAMES, _INDUSTRY_RANGES)

    @property
    def network_name(self) -> str:
        if self.network <= 4:
            return "监控报警专网 / surveillance private network"
        return _NETWORK_NAMES[self.network]

    @property
    def kind(self) -> str:
        """Coarse class of the ID, as used to build trees and pick INVITE targets."""
        t = self.type_code
        if t == 215:
            return "business_group"
        if t == 216:
            return "virtual_org"
        for low, high, kind in (
            (111, 130, "front_end_device"),
            (131, 199, "peripheral"),
            (200, 299, "platform"),
            (300, 399, "center_user"),
            (400, 499, "terminal_user"),
            (500, 599, "external_platform"),
        ):
            if low <= t <= high:
                return kind
        return "unknown"

    @property
    def is_video_channel(self) -> bool:
        """Cameras (131) and IPCs (132) are what an INVITE asks for video."""
        return self.type_code in (131, 132)

    @property
    def civil_code(self) -> str:
        """The centre code trimmed to its meaningful level (2/4/6/8 digits, A.1).

        Rule A pads unused levels with "00", so "34010000" is the city "3401".
        """
        code = self.center
        while len(code) > 2 and code.endswith("00"):
            code = code[:-2]
        return code


def parse_device_id(s: str) -> DeviceId:
    """Parse a 20-digit rule-A ID; raise InvalidDeviceId otherwise."""
    if not isinstance(s, str):
        raise InvalidDeviceId(f"device ID must be a str, not {type(s).__name__}")
    if not _is_digits(s, 20):
        shown = s if len(s) <= 40 else s[:40] + "…"
        raise InvalidDeviceId(f"device ID must be exactly 20 ASCII digits, got {shown!r}")
    return DeviceId(
        value=s,
        center=s[0:8],
        province=s[0:2],
        city=s[2:4],
        county=s[4:6],
        grassroots=s[6:8],
        industry=s[8:10],
        type_code=int(s[10:13]),
        network=int(s[13]),
        serial=s[14:20],
    )


def is_device_id(s: object) -> bool:
    """True if s is a syntactically valid 20-digit ID."""
    return _is_digits(s, 20)


def _field(value: str | int, width: int, name: str) -> str:
    if isinstance(value, bool):
        raise InvalidDeviceId(f"{name} must be a str or int, not bool")
    if isinstance(value, int):
        if not 0 <= value < 10**width:
            raise InvalidDeviceId(f"{name} {value} out of range 0..{10**width - 1}")
        return f"{value:0{width}d}"
    if not _is_digits(value, width):
        raise InvalidDeviceId(f"{name} must be {width} ASCII digits, got {value!r}")
    return value


def make_device_id(
    center: str, industry: str | int, type_code: int, network: int, serial: int | str
) -> str:
    """Assemble an ID from its code segments, validating each width."""
    if not _is_digits(center, 8):
        raise InvalidDeviceId(f"centre code must be 8 ASCII digits, got {center!r}")
    return (
        center
        + _field(industry, 2, "industry")
        + _field(type_code, 3, "type code")
        + _field(network, 1, "network")
        + _field(serial, 6, "serial")
    )


class CivilLevel(IntEnum):
    """Region node level; the value is the code length in digits (A.1, Appendix O)."""

    PROVINCE = 2
    CITY = 4
    COUNTY = 6
    GRASSROOTS = 8


def civil_code_level(code: str) -> CivilLevel:
    """Level of an Appendix O region node ("65" province … "65010211" grassroots)."""
    if not isinstance(code, str) or not (code.isascii() and code.isdigit()):
        raise InvalidDeviceId(f"civil code must be ASCII digits, got {code!r}")
    if len(code) not in (2, 4, 6, 8):
        raise InvalidDeviceId(f"civil code must have 2, 4, 6 or 8 digits, got {len(code)}")
    return CivilLevel(len(code))


def civil_code_parent(code: str) -> str | None:
    """Parent region node, or None for a province."""
    level = civil_code_level(code)
    return None if level == CivilLevel.PROVINCE else code[:-2]
