"""A simulated county for demos: 霍邱县 (Huoqiu, Lu'an, Anhui; GB/T 2260 code 341522).

Townships, roads, sites and camera names read like a real county's ledger so the
console, map and O&M views look like production; a few devices misbehave the way
real ones do (never online, silent keepalive, wrong password, UTF-8 names, the
rare character "萳"). Everything is derived from ``seed``: the same seed gives the
same county, byte for byte.

Township civil codes are the county code plus a two-digit serial (8 digits, the
GB/T 28181 grassroots level); they are illustrative, not the statistics bureau's.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from sharpeyes.gb28181.deviceid import make_device_id
from sharpeyes.sim.device import SimChannel, SimDeviceConfig

PROVINCE = "安徽省"
CITY = "六安市"
COUNTY = "霍邱县"
COUNTY_CODE = "341522"
DEMO_VIDEO_FAULTS = (
    "black",
    "frozen",
    "blur",
    "color_cast",
    "noise",
    "occlusion",
    "no_video",
    "clock_drift",
    "ptz_ignored",
)
SEAT = (116.278, 32.353)  # 城关镇, the county seat
RARE = "萳"


@dataclass(frozen=True)
class _Township:
    name: str
    dlon: float  # offset of its centre from the county seat, degrees
    dlat: float
    roads: tuple[str, ...]
    villages: tuple[str, ...]


_TOWNSHIPS = (
    _Township(
        "城关镇",
        0.0,
        0.0,
        ("人民路", "淮河路", "蓼城路", "光明大道", "迎宾大道", "城西湖路", "水门塘路", "东湖路"),
        ("东湖社区", "西湖社区", "南门社区", "北门社区"),
    ),
    _Township(
        "孟集镇",
        -0.112,
        -0.094,
        ("孟集大街", "振兴路", "建设路", "沿河路", "工业路"),
        ("孟集村", "双塘村", "新河村", "枣林村"),
    ),
    _Township(
        "周集镇",
        0.134,
        0.121,
        ("周集老街", "团结路", "幸福路", "淮堤路", "中心街"),
        ("周集村", "塘湾村", "龙潭村", "庙台村"),
    ),
    _Township(
        "花园镇",
        -0.147,
        0.058,
        ("花园街", "建设路", "育才路", "花园大道", "新街"),
        ("花园村", "柳林村", "桥口村", "杨湾村"),
    ),
    _Township(
        "河口镇",
        0.071,
        -0.083,
        ("河口大街", "沿淮路", "新华路", "商贸街", "码头路"),
        ("河口村", "大桥村", "黄岗村", "陈庄村"),
    ),
    _Township(
        "临水镇",
        0.205,
        0.187,
        ("临水大街", "滨河路", "民主路", "文化路", "老街"),
        ("临水村", "三岔村", "双河村", "李台村"),
    ),
    _Township(
        "新店镇",
        0.188,
        -0.046,
        ("新店大街", "车站路", "和平路", "工业大道", "东街"),
        ("新店村", "刘楼村", "王湾村", "高岗村"),
    ),
    _Township(
        "石店镇",
        -0.053,
        -0.172,
        ("石店街", "迎宾路", "人民路", "学府路", "西街"),
        ("石店村", "大塘村", "枫树村", "程湾村"),
    ),
)

_DIRECTIONS = ("东北角", "西北角", "东南角", "西南角", "东侧", "西侧", "南侧", "北侧")
_LANDMARKS = ("农商银行", "邮政所", "加油站", "供销社", "超市", "药店", "公交站台", "便民服务中心")
# (site, industry, network, [(spot, ptz_type)]): where NVRs sit and what they watch.
_SITES: tuple[tuple[str, int, int, tuple[tuple[str, int], ...]], ...] = (
    (
        "中心学校",
        11,
        6,
        (
            ("校门口", 3),
            ("操场", 1),
            ("教学楼一楼走廊", 2),
            ("教学楼二楼走廊", 2),
            ("食堂", 2),
            ("宿舍楼门口", 3),
            ("东围墙", 3),
            ("西围墙", 3),
        ),
    ),
    (
        "卫生院",
        9,
        6,
        (
            ("正门", 3),
            ("门诊大厅", 2),
            ("收费处", 2),
            ("药房", 2),
            ("住院部走廊", 2),
            ("停车场", 1),
            ("急诊入口", 3),
            ("后门", 3),
        ),
    ),
    (
        "农贸市场",
        8,
        8,
        (
            ("东入口", 3),
            ("西入口", 3),
            ("水产区", 2),
            ("肉类区", 2),
            ("蔬菜区", 2),
            ("停车场", 1),
            ("管理办公室", 2),
            ("北通道", 3),
        ),
    ),
    (
        "人民政府",
        0,
        6,
        (
            ("大门", 3),
            ("办公楼大厅", 2),
            ("院内停车场", 1),
            ("信访接待室", 2),
            ("后院", 3),
            ("会议室走廊", 2),
            ("东侧道路", 3),
            ("西侧道路", 3),
        ),
    ),
)
_SPOT_SUFFIX = ("", "2号", "3号", "4号")


def _camera_word(ptz_type: int) -> str:
    return {1: "球机", 2: "半球", 3: "枪机", 4: "枪机"}[ptz_type]


def _committee(village: str) -> str:
    """村委会 for a village, 居委会 for an urban community."""
    return village + ("居委会" if village.endswith("社区") else "村委会")


class _Builder:
    def __init__(self, seed: int, owner: str, password: str, keepalive: float, expires: int):
        self.rng = random.Random(seed)
        self.owner = owner
        self.password = password
        self.keepalive = keepalive
        self.expires = expires
        self.configs: list[SimDeviceConfig] = []
        self.used: set[tuple[str, ...]] = set()

    def coord(self, base: float, spread: float) -> float:
        """A coordinate with six decimals whose sixth is never 0 (surveyed precision)."""
        value = round(base + self.rng.uniform(-spread, spread), 5)
        return round(value + self.rng.randint(1, 9) / 1e6, 6)

    def township(self, index: int, town: _Township, cameras: int) -> None:
        rng = self.rng
        civil = f"{COUNTY_CODE}{index + 1:02d}"
        serial = iter(range(1, 1_000_000))
        lon0, lat0 = SEAT[0] + town.dlon, SEAT[1] + town.dlat
        spread = 0.025 if index == 0 else 0.012

        # one NVR per township watching a site: 16 channels in the seat, 8 or 16 elsewhere
        nvr_channels = 16 if index == 0 else rng.choice((8, 16))
        nvr_channels = min(nvr_channels, max(0, cameras - 1))
        if nvr_channels:
            site, industry, network, spots = _SITES[index % len(_SITES)]
            nvr_id = make_device_id(civil, industry, 118, network, next(serial))
            site_lon, site_lat = self.coord(lon0, spread), self.coord(lat0, spread)
            road = rng.choice(town.roads)
            address = f"{PROVINCE}{CITY}{COUNTY}{town.name}{road}{rng.randint(1, 200)}号"
            channels = []
            for k in range(nvr_channels):
                spot, ptz = spots[k % len(spots)]
                spot += _SPOT_SUFFIX[k // len(spots)]
                channels.append(
                    SimChannel(
                        channel_id=make_device_id(civil, industry, 131, network, next(serial)),
                        name=f"{town.name}{site}{spot}{_camera_word(ptz)}",
                        civil_code=civil,
                        longitude=self.coord(site_lon, 0.0008),
                        latitude=self.coord(site_lat, 0.0008),
                        ptz_type=ptz,
                        address=address,
                        parent_id=nvr_id,
                        model="SIM-IPC-D4" if ptz == 1 else "SIM-IPC-B4",
                        owner=self.owner,
                    )
                )
            self.configs.append(
                SimDeviceConfig(
                    device_id=nvr_id,
                    password=self.password,
                    kind="nvr",
                    channels=channels,
                    name=f"{town.name}{site}NVR",
                    model=f"SIM-NVR-{16 if nvr_channels > 8 else 8}",
                    firmware=rng.choice(("V4.1.72 build 221116", "V4.3.12 build 230508")),
                    keepalive_interval=self.keepalive,
                    register_expires=self.expires,
                )
            )

        for _ in range(cameras - nvr_channels):
            industry, network, ptz, road, place = self.street_spot(town)
            name = f"{town.name}{place}{_camera_word(ptz)}"
            device_id = make_device_id(civil, industry, 132, network, next(serial))
            channel = SimChannel(
                channel_id=make_device_id(civil, industry, 131, network, next(serial)),
                name=name,
                civil_code=civil,
                longitude=self.coord(lon0, spread),
                latitude=self.coord(lat0, spread),
                ptz_type=ptz,
                address=f"{PROVINCE}{CITY}{COUNTY}{town.name}{road}",
                parent_id=device_id,
                model="SIM-IPC-D4" if ptz == 1 else "SIM-IPC-B4",
                owner=self.owner,
            )
            self.configs.append(
                SimDeviceConfig(
                    device_id=device_id,
                    password=self.password,
                    kind="ipc",
                    channels=[channel],
                    name=name,
                    model=channel.model,
                    firmware=rng.choice(("V5.5.800 build 210628", "V5.7.3 build 220112")),
                    keepalive_interval=self.keepalive,
                    register_expires=self.expires,
                )
            )

    def street_spot(self, town: _Township) -> tuple[int, int, int, str, str]:
        """(industry, network, PTZType, road, place) of a stand-alone IPC; places are unique."""
        rng = self.rng
        for _ in range(50):
            kind = rng.random()
            if kind < 0.6:  # road junction
                a, b = rng.sample(town.roads, 2)
                corner = rng.choice(_DIRECTIONS)
                key = (town.name, *sorted((a, b)), corner)
                spot = (0, 0, rng.choice((1, 3, 3)), a, f"{a}与{b}交叉口{corner}")
            elif kind < 0.85:  # shop front on a road
                road = rng.choice(town.roads)
                place = f"{road}{rng.randint(1, 300)}号{rng.choice(_LANDMARKS)}门口"
                key = (town.name, place)
                spot = (0, rng.choice((0, 8)), 3, road, place)
            else:  # village or community committee
                village = rng.choice(town.villages)
                place = f"{_committee(village)}门前"
                key = (town.name, place)
                spot = (1, 0, rng.choice((1, 3)), village, place)
            if key not in self.used:
                self.used.add(key)
                return spot
        raise ValueError(f"too many cameras for the places of {town.name}")

    def misbehave(self) -> None:
        """Mark the devices that break the way real ones do (IPCs only, seed-chosen)."""
        ipcs = [c for c in self.configs if c.kind == "ipc"]
        if len(ipcs) < 8:
            raise ValueError("a county needs at least 8 IPCs to host its misbehaving devices")
        picks = self.rng.sample(ipcs, 8)
        picks[0].faults.add("offline")
        picks[1].faults.add("offline")
        picks[2].faults.add("no_keepalive")
        picks[3].faults.add("wrong_password")
        utf8 = picks[4]
        utf8.charset = "UTF-8"
        self._rare(utf8, "萳湖村")
        # the rare character also travels in GB18030 bodies
        for cfg, village in zip(picks[5:8], ("萳塘村", "萳港村", "萳溪村"), strict=True):
            self._rare(cfg, village)
        # broken pictures for the O&M pages (VQD), one camera each, among the healthy rest
        healthy = [c for c in ipcs if c not in picks]
        for cfg, fault in zip(
            self.rng.sample(healthy, min(len(healthy), len(DEMO_VIDEO_FAULTS))),
            DEMO_VIDEO_FAULTS,
            strict=False,
        ):
            cfg.video_faults[cfg.channels[0].channel_id] = fault
            if fault == "clock_drift":
                cfg.clock_drift_s = 95.0

    @staticmethod
    def _rare(cfg: SimDeviceConfig, village: str) -> None:
        ch = cfg.channels[0]
        town = ch.name[: ch.name.index("镇") + 1]
        ch.name = f"{town}{_committee(village)}门前{_camera_word(ch.ptz_type)}"
        ch.address = f"{PROVINCE}{CITY}{COUNTY}{town}{village}"
        cfg.name = ch.name


def build_county(
    seed: int = 1,
    *,
    platform_domain: str,
    townships: int = 4,
    cameras_per_township: int = 25,
    password: str = "12345678",
    keepalive_interval: float = 60.0,
    register_expires: int = 3600,
    misbehaving: bool = True,
) -> list[SimDeviceConfig]:
    """Devices of 霍邱县: per township one NVR (8/16 channels) plus single-channel IPCs.

    ``platform_domain`` (the county platform's SIP domain) is written as each
    camera's catalog ``Owner``. With ``misbehaving`` (the default) the county has
    2 devices that never come online, 1 that stops keepalives, 1 with a wrong
    password, 1 with UTF-8 bodies, a few names with the rare character "萳", and one
    camera with each video fault of ``DEMO_VIDEO_FAULTS`` (black, frozen, blurred…).
    """
    if not platform_domain:
        raise ValueError("platform_domain is required")
    if not 1 <= townships <= len(_TOWNSHIPS):
        raise ValueError(f"townships must be 1..{len(_TOWNSHIPS)}")
    if cameras_per_township < 2:
        raise ValueError("cameras_per_township must be at least 2")
    builder = _Builder(seed, platform_domain, password, keepalive_interval, register_expires)
    for i, town in enumerate(_TOWNSHIPS[:townships]):
        builder.township(i, town, cameras_per_township)
    if misbehaving:
        builder.misbehave()
    return builder.configs


def township_names(townships: int = 4) -> list[tuple[str, str]]:
    """(civil code, name) of the first ``townships`` townships, as build_county numbers them."""
    return [(f"{COUNTY_CODE}{i + 1:02d}", t.name) for i, t in enumerate(_TOWNSHIPS[:townships])]
