"""The survey forms' columns, groups and kinds (seed 004 附件1), and the file limits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sharpeyes.ledger import dictionaries as d
from sharpeyes.ledger.dictionaries import Vocabulary

XLSX = "xlsx"
CSV = "csv"
SAMPLE_MARKERS = frozenset({"样例", "樣例", "示例", "例"})
HEADER_SCAN_ROWS = 12
MAX_COLUMNS = 200
MAX_UNZIPPED_BYTES = 768 * 1024 * 1024
MAX_ZIP_RATIO = 250


class FormError(ValueError):
    """The file as a whole cannot be read as this form (answered with 400)."""


@dataclass(frozen=True)
class Column:
    header: str  # the seed's words (simplified characters)
    field: str  # record attribute, or a reference handled by the importer
    kind: str  # serial|code|text|coord|date|bool|enum|int|float|region|police|org|category|id
    seed: bool = True
    group: str | None = None
    csv_header: str | None = None  # unique name for one-row headers (CSV)
    aliases: tuple[str, ...] = ()
    vocab: Vocabulary | None = None
    note: str = ""
    width: int = 14
    sample: Any = None

    @property
    def flat_header(self) -> str:
        return self.csv_header or self.header


@dataclass(frozen=True)
class FormSpec:
    name: str
    title: str
    columns: tuple[Column, ...]
    notes: tuple[str, ...] = ()
    unit_line: str = "填报单位：                          联系电话："

    def column(self, field_name: str) -> Column:
        for c in self.columns:
            if c.field == field_name:
                return c
        raise KeyError(field_name)


G_CAMERA, G_POLE, G_EXT = "摄像头", "杆件（自建）", "台账扩展字段（可选）"

CAMERA_FORM = FormSpec(
    name="camera",
    title="公共场所视频监控资源整合接入调研表（摄像机）",
    notes=(
        "1. 20位编码及名称由视频监控平台导出；20位编码请以文本格式填写，勿存为数字。",
        "2. 经度、纬度（WGS-84）小数点后不少于6位，第6位不为0。",
        "3. 序号为“样例”的行不导入。“台账扩展字段”各列可选；表头须保留调研表原有各列。",
        "4. 所在县（市、区、乡镇街道）填写区县名称加乡镇街道名称，如“霍邱县城关镇”，"
        "或填写区划代码。",
    ),
    columns=(
        Column("序号", "serial", "serial", group=G_CAMERA, width=7, sample="样例"),
        Column(
            "20位编码",
            "code",
            "code",
            group=G_CAMERA,
            aliases=("国标编码", "编码", "设备编码", "20位国标编码"),
            width=24,
            sample="34012341001320175079",
        ),
        Column(
            "位置名称", "location_name", "text", group=G_CAMERA, width=28, sample="**区**路口东南角"
        ),
        Column(
            "管理平台名称",
            "platform_name",
            "text",
            group=G_CAMERA,
            width=20,
            sample="全市旅游视频管理平台",
        ),
        Column("品牌", "brand", "text", group=G_CAMERA, sample="XXX"),
        Column(
            "所在县（市、区、乡镇街道）",
            "region_code",
            "region",
            group=G_CAMERA,
            aliases=("所在县市区乡镇街道", "所在区县", "所在区划", "区划代码", "行政区划"),
            width=20,
            sample="**区***街道",
        ),
        Column("所属派出所", "police_station_id", "police", group=G_CAMERA, width=16),
        Column(
            "经度（保留后六位）",
            "longitude",
            "coord",
            group=G_CAMERA,
            aliases=("经度",),
            width=14,
            sample=117.266573,
        ),
        Column(
            "纬度（保留后六位）",
            "latitude",
            "coord",
            group=G_CAMERA,
            aliases=("纬度",),
            width=14,
            sample=31.870837,
        ),
        Column(
            "建设时间",
            "build_date",
            "date",
            group=G_CAMERA,
            csv_header="建设时间",
            aliases=("摄像机建设时间",),
            sample="2020.03",
        ),
        Column(
            "视频图像命名及视频图像文字标注",
            "name",
            "text",
            group=G_CAMERA,
            aliases=("视频图像命名", "名称", "点位名称", "摄像机名称"),
            width=28,
        ),
        Column("是否以租代建", "leased", "bool", group=G_CAMERA, width=10),
        Column("状态", "status", "enum", group=G_CAMERA, vocab=d.STATUS, width=8, sample="在用"),
        Column(
            "计划整合方式",
            "integration_method",
            "enum",
            group=G_CAMERA,
            vocab=d.INTEGRATION_METHOD,
            width=12,
            sample="保留",
        ),
        Column(
            "建设时间",
            "pole_build_date",
            "date",
            group=G_POLE,
            csv_header="杆件建设时间",
            sample="2020.03",
        ),
        Column(
            "编号",
            "pole_number",
            "text",
            group=G_POLE,
            csv_header="杆件编号",
            aliases=("杆件编号",),
        ),
        Column(
            "高度（米）",
            "pole_height_m",
            "float",
            group=G_POLE,
            csv_header="杆件高度（米）",
            aliases=("杆件高度米", "杆件高度", "高度"),
        ),
        Column(
            "横臂数量",
            "pole_arms",
            "int",
            group=G_POLE,
            csv_header="杆件横臂数量",
            aliases=("杆件横臂数量",),
            sample=1,
        ),
        Column(
            "杆件状况",
            "pole_condition",
            "enum",
            group=G_POLE,
            vocab=d.POLE_CONDITION,
            note="完整/破损/损坏",
            sample="完整",
        ),
        # ---- beyond the seed form
        Column(
            "视频图像文字标注（OSD）",
            "osd_text",
            "text",
            seed=False,
            group=G_EXT,
            aliases=("OSD", "视频图像文字标注", "OSD文字"),
            width=28,
        ),
        Column(
            "点位类别",
            "point_class",
            "enum",
            seed=False,
            group=G_EXT,
            vocab=d.POINT_CLASS,
            note="一类/二类/三类",
            sample="一类",
        ),
        Column(
            "重点区域类别",
            "key_area_category",
            "category",
            seed=False,
            group=G_EXT,
            note="GB 37300 重点区域类别，见“字典”页",
            width=16,
        ),
        Column("场所/场景", "place", "text", seed=False, group=G_EXT, aliases=("场所", "场景")),
        Column(
            "网络类型",
            "network",
            "enum",
            seed=False,
            group=G_EXT,
            vocab=d.NETWORK,
            aliases=("网络", "所属网络", "网络域"),
            width=14,
        ),
        Column(
            "建设（权属）单位",
            "owner_org_id",
            "org",
            seed=False,
            group=G_EXT,
            aliases=("建设单位", "权属单位", "所属单位"),
            width=18,
        ),
        Column(
            "维护单位",
            "maintainer_org_id",
            "org",
            seed=False,
            group=G_EXT,
            aliases=("运维单位",),
            width=18,
        ),
        Column("是否共享", "shareable", "bool", seed=False, group=G_EXT, width=10),
        Column(
            "存储天数",
            "storage_days",
            "int",
            seed=False,
            group=G_EXT,
            aliases=("视频存储天数", "存储时长"),
            sample=30,
        ),
        Column(
            "摄像机类型",
            "camera_type",
            "enum",
            seed=False,
            group=G_EXT,
            vocab=d.CAMERA_TYPE,
            note="球机/半球/固定枪机/遥控枪机",
        ),
        Column(
            "朝向",
            "direction",
            "enum",
            seed=False,
            group=G_EXT,
            vocab=d.DIRECTION,
            aliases=("方向", "监视方位"),
            note="东/西/南/北/东南/东北/西南/西北",
        ),
        Column(
            "位置类型",
            "position_type",
            "int",
            seed=False,
            group=G_EXT,
            note="GB/T 28181 PositionType 代码",
        ),
        Column("室内外", "room_type", "int", seed=False, group=G_EXT, note="1室外 2室内"),
        Column("用途", "use_type", "int", seed=False, group=G_EXT, note="1治安 2交通 3重点"),
        Column("分辨率", "resolution", "text", seed=False, group=G_EXT),
        Column("编码格式", "codec", "text", seed=False, group=G_EXT, aliases=("视频编码",)),
        Column(
            "社会资源点位",
            "social",
            "bool",
            seed=False,
            group=G_EXT,
            aliases=("是否社会资源",),
            note="是：非国标接入的社会点位",
        ),
        Column("备注", "remark", "text", seed=False, group=G_EXT, width=20),
        Column(
            "台账ID",
            "id",
            "id",
            seed=False,
            group=G_EXT,
            note="导出时填写；再次导入时用于匹配无编码的点位",
        ),
    ),
)

PLATFORM_FORM = FormSpec(
    name="platform",
    title="公共场所视频监控资源整合接入调研表（平台）",
    columns=(
        Column("序号", "serial", "serial", width=7, sample="样例"),
        Column("项目名称", "name", "text", width=24, sample="全市旅游管理平台"),
        Column("平台厂家（品牌）", "vendor", "text", sample="华为"),
        Column("是否符合GB/T28181", "gb28181", "bool", aliases=("是否符合GB/T 28181",)),
        Column("是否符合GA/T 1400", "gat1400", "text", note="1.视图库 2.视频图像解析算法/算力资源"),
        Column("单位地址", "address", "text", width=24, sample="**区**路100号"),
        Column("联网方式（局域网/互联网等等）", "network_mode", "text", aliases=("联网方式",)),
        Column("视频监控网络安全防护", "security", "text", note="有无安全设备，品牌，型号，版本"),
        Column("视频存储时长", "storage_days", "int", note="天", sample=30),
        Column("平台描述", "description", "text", width=24, sample="管理4A级景区出入口视频"),
        Column("品牌型号/系统版本", "model_version", "text", sample="XX版本平台/XX型号NVR"),
        Column("平台共享和转发能力", "sharing_capability", "text", width=24),
        Column("是否对接本级雪亮平台", "connected", "text", sample="已对接"),
        Column("20位编码", "code", "code", width=24),
        Column("省市县级联情况", "cascade", "text"),
        Column("建设时间", "build_date", "date", sample="2020.03"),
        Column("建设费用（万元）", "build_cost", "float"),
        Column("运维费用（万元/年）", "om_cost", "float"),
        Column("所属区划", "region_code", "region", seed=False),
        Column("填报单位", "org_id", "org", seed=False),
        Column("台账ID", "id", "id", seed=False),
    ),
)

INTERNAL_SYSTEM_FORM = FormSpec(
    name="internal_system",
    title="内部视频监控系统调研表",
    notes=(
        "重要出入口监控点位是指可以拍摄单位主要出入口、大厅，以及周围路段、路口、场馆、"
        "广场、其他重点单位等的摄像机数量。",
    ),
    columns=(
        Column("序号", "serial", "serial", width=7, sample="样例"),
        Column("项目名称", "name", "text", group="视频监控", sample="XX视频监控系统"),
        Column("建设地址", "address", "text", group="视频监控"),
        Column("所属派出所", "police_station_id", "police", group="视频监控"),
        Column("建设时间", "build_date", "date", group="视频监控", sample="2020.03"),
        Column("监控点位总数", "camera_count", "int", group="视频监控", sample=200),
        Column("前端设备品牌型号", "front_end_models", "text", group="视频监控"),
        Column("系统品牌型号", "system_model", "text", group="视频监控"),
        Column("是否符合GB/T28181", "gb28181", "bool", group="视频监控"),
        Column("编码型号", "codec", "text", group="视频监控", sample="H.264"),
        Column("重要出入口监控点位数量", "key_entrance_count", "int", group="视频监控", sample=5),
        Column(
            "联网方式（局域网/互联网等）", "network_mode", "text", group="视频监控", sample="局域网"
        ),
        Column("数据资源说明", "data_description", "text", group="数据"),
        Column(
            "系统品牌型号", "data_system_model", "text", group="数据", csv_header="数据系统品牌型号"
        ),
        Column("前端类型及型号", "data_front_end", "text", group="数据"),
        Column("数据量（日均X条）", "data_volume", "text", group="数据"),
        Column(
            "联网方式（局域网/互联网等）",
            "data_network_mode",
            "text",
            group="数据",
            csv_header="数据联网方式",
        ),
        Column("备注", "remark", "text"),
        Column("所属区划", "region_code", "region", seed=False),
        Column("填报单位", "org_id", "org", seed=False),
        Column("台账ID", "id", "id", seed=False),
    ),
)

FORMS: dict[str, FormSpec] = {f.name: f for f in (CAMERA_FORM, PLATFORM_FORM, INTERNAL_SYSTEM_FORM)}
