"""The seed's survey forms (调研表) as spreadsheets: columns, template, reading, writing.

Seed 004 (Huoqiu county guidance, 附件1) has three forms: platforms, cameras and
internal video systems. The camera form's columns, in the seed's order and words,
are the first columns here; columns the ledger needs beyond the seed (point class,
key-area category, network, owner and maintainer units…) follow them under a
“台账扩展字段” group so a file filled in from the seed form alone still imports.

Layout written (template and .xlsx export), read back by the same code:

    row 1  title                         公共场所视频监控资源整合接入调研表（摄像机）
    row 2  填报单位：…  联系电话：…
    row 3  groups                        摄像头 | 杆件（自建） | 台账扩展字段
    row 4  headers                       序号 | 20位编码 | 位置名称 | …
    row 5… data (the template has one 序号=“样例” row, which imports skip)

The reader does not rely on that: it finds the header row among the first rows,
accepts traditional characters and punctuation variants in headers, and maps the
seed's repeated 建设时间 (camera, then pole) by order. CSV has one header row with
unique names (杆件建设时间 …).

Files are hostile until proven otherwise: the upload size, the uncompressed zip
size, the row count and every cell's length are capped; formulas are never
evaluated (a cell starting with ``=`` is an error); exports prefix text starting
with = + - @ with an apostrophe so spreadsheet programs do not run it (CSV
injection), and the reader strips that apostrophe again.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
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

# --------------------------------------------------------------------- headers
# Traditional → simplified for the characters that occur in the forms' headers
# (seed 004 circulates in a traditional-character rendering too).
_T2S = str.maketrans(
    "編碼稱臺縣區鄉鎮屬經緯後設間視頻圖標註狀態計劃桿號橫數況項廠聯網絡護儲長務與級費運維萬內統備據資說類門點總碼電話單樣開時場車機槍權體廣衛應業線實內",
    "编码称台县区乡镇属经纬后设间视频图标注状态计划杆号横数况项厂联网络护储长务与级费运维万内统备据资说类门点总码电话单样开时场车机枪权体广卫应业线实内",
)
_HEADER_JUNK = re.compile(r"[\s()（）:：、,，.。*＊_\-—/／\\\[\]【】]+")


def header_key(text: object) -> str:
    """Normalised header: simplified characters, no spaces or punctuation, lower case."""
    s = str(text).translate(_T2S)
    s = s.replace("\u3000", "").replace("\ufeff", "")
    return _HEADER_JUNK.sub("", s).lower()


@dataclass
class HeaderMap:
    """Where each spec column sits in the file (0-based), and the header row number."""

    row: int  # 1-based row number of the header row
    positions: dict[int, Column] = field(default_factory=dict)

    @property
    def fields(self) -> set[str]:
        return {c.field for c in self.positions.values()}


def map_headers(spec: FormSpec, cells: Sequence[object], row: int) -> HeaderMap:
    """Match a header row to the spec; FormError names missing and unknown columns."""
    by_key: dict[str, list[Column]] = {}
    for col in spec.columns:
        for name in (col.header, col.flat_header, *col.aliases):
            lst = by_key.setdefault(header_key(name), [])
            if col not in lst:
                lst.append(col)
    used: set[str] = set()
    hm = HeaderMap(row=row)
    unknown: list[str] = []
    dup: list[str] = []
    for idx, cell in enumerate(cells[:MAX_COLUMNS]):
        if cell is None or str(cell).strip() == "":
            continue
        candidates = by_key.get(header_key(cell))
        if not candidates:
            unknown.append(str(cell).strip()[:40])
            continue
        # A repeated seed header (建设时间: camera, then pole) takes the next unused one.
        col = next((c for c in candidates if c.field not in used), None)
        if col is None:
            dup.append(str(cell).strip()[:40])
            continue
        used.add(col.field)
        hm.positions[idx] = col
    missing = [
        c.header for c in spec.columns if c.seed and c.kind != "serial" and c.field not in used
    ]
    problems: list[str] = []
    if missing:
        problems.append("缺少列：" + "、".join(missing))
    if unknown:
        problems.append("无法识别的列：" + "、".join(unknown))
    if dup:
        problems.append("重复的列：" + "、".join(dup))
    if problems:
        raise FormError(f"表头与“{spec.title}”不符（第{row}行）：" + "；".join(problems))
    return hm


def _looks_like_header(spec: FormSpec, cells: Sequence[object]) -> int:
    keys = {header_key(c) for c in cells[:MAX_COLUMNS] if c is not None and str(c).strip()}
    known = {header_key(c.header) for c in spec.columns if c.seed} | {
        header_key(c.flat_header) for c in spec.columns
    }
    return len(keys & known)


# ------------------------------------------------------------------- reading
@dataclass
class Table:
    """An opened form: its header map and a stream of (row number, cells)."""

    spec: FormSpec
    fmt: str
    headers: HeaderMap
    rows: Iterator[tuple[int, tuple[Any, ...]]]
    close: Any = None
    estimated_rows: int | None = None  # data rows, for progress only (may be wrong)


def sniff_format(data: bytes, filename: str | None) -> str:
    name = (filename or "").lower()
    if data[:4] == b"PK\x03\x04":
        return XLSX
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise FormError("不支持旧版 .xls 文件，请在 Excel 中另存为 .xlsx 后导入")
    if name.endswith((".xlsx", ".xlsm")):
        raise FormError("文件不是有效的 .xlsx 工作簿")
    if not data.strip():
        raise FormError("文件为空")
    if b"\x00" in data[:4096]:
        raise FormError("文件既不是 .xlsx 工作簿，也不是 CSV 文本")
    return CSV


def open_table(spec: FormSpec, data: bytes, filename: str | None, *, max_bytes: int) -> Table:
    """Open an upload as ``spec``; raises FormError for anything but a readable form."""
    if len(data) > max_bytes:
        raise FormError(f"文件超过{max_bytes // (1024 * 1024)} MB 上限")
    fmt = sniff_format(data, filename)
    return _open_xlsx(spec, data) if fmt == XLSX else _open_csv(spec, data)


def _check_zip(data: bytes) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            total = 0
            for info in zf.infolist():
                total += info.file_size
                if (
                    info.file_size > 10 * 1024 * 1024
                    and info.compress_size
                    and (info.file_size / info.compress_size > MAX_ZIP_RATIO)
                ):
                    raise FormError("工作簿压缩比异常（疑似压缩炸弹），拒绝读取")
            if total > MAX_UNZIPPED_BYTES:
                raise FormError("工作簿解压后过大，拒绝读取")
            if "xl/workbook.xml" not in zf.namelist():
                raise FormError("文件不是有效的 .xlsx 工作簿（缺少 xl/workbook.xml）")
    except zipfile.BadZipFile as exc:
        raise FormError("文件不是有效的 .xlsx 工作簿（无法解压）") from exc


def _open_xlsx(spec: FormSpec, data: bytes) -> Table:
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    _check_zip(data)
    try:
        # read_only streams rows; data_only=False so formulas arrive as "=…" text
        # (never evaluated) instead of their cached results.
        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except (InvalidFileException, KeyError, OSError, ValueError, zipfile.BadZipFile) as exc:
        raise FormError(f"文件不是有效的 .xlsx 工作簿（{type(exc).__name__}）") from exc
    except Exception as exc:  # malformed XML inside the zip, etc.
        raise FormError(f"无法读取工作簿：{type(exc).__name__}") from exc
    try:
        for ws in wb.worksheets:
            if not hasattr(ws, "iter_rows"):
                continue  # chartsheets
            declared = ws.max_row if isinstance(ws.max_row, int) else None
            ws.reset_dimensions()  # do not trust the file's own <dimension>
            it = ws.iter_rows(values_only=True, max_col=MAX_COLUMNS)
            for i in range(1, HEADER_SCAN_ROWS + 1):
                try:
                    cells = next(it)
                except StopIteration:
                    break
                if _looks_like_header(spec, cells) >= 3:
                    headers = map_headers(spec, cells, i)
                    rows = ((i + 1 + n, tuple(r)) for n, r in enumerate(it))
                    est = max(0, declared - i) if declared else None
                    return Table(spec, XLSX, headers, rows, close=wb.close, estimated_rows=est)
        raise FormError(f"未找到“{spec.title}”的表头行（应含“{_anchor(spec)}”等列）")
    except FormError:
        wb.close()
        raise
    except Exception as exc:
        wb.close()
        raise FormError(f"无法读取工作簿：{type(exc).__name__}") from exc


def _anchor(spec: FormSpec) -> str:
    return "、".join(c.header for c in spec.columns if c.seed and c.kind != "serial")[:60]


def _decode_text(data: bytes) -> str:
    for enc in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    raise FormError("CSV 文件编码无法识别（应为 UTF-8 或 GB18030）")


def _open_csv(spec: FormSpec, data: bytes) -> Table:
    text = _decode_text(data)
    reader = csv.reader(io.StringIO(text, newline=""))

    def numbered() -> Iterator[tuple[int, tuple[Any, ...]]]:
        try:
            for n, r in enumerate(reader, start=1):
                yield n, tuple(r)
        except csv.Error as exc:
            raise FormError(f"CSV 第{reader.line_num}行无法解析：{exc}") from exc

    it = numbered()
    for _ in range(HEADER_SCAN_ROWS):
        try:
            n, cells = next(it)
        except StopIteration:
            break
        if _looks_like_header(spec, cells) >= 3:
            headers = map_headers(spec, cells, n)
            est = max(0, text.count("\n") - n)
            return Table(spec, CSV, headers, it, estimated_rows=est)
    raise FormError(f"未找到“{spec.title}”的表头行（应含“{_anchor(spec)}”等列）")


# ---------------------------------------------------------------- cell values
@dataclass(frozen=True, slots=True)
class CellError:
    column: str
    value: Any
    reason: str


def cell_text(raw: Any) -> str | None:
    """A cell as text (numbers without a spurious ``.0``); None when empty."""
    if raw is None:
        return None
    if isinstance(raw, bool):
        return "是" if raw else "否"
    if isinstance(raw, float) and raw.is_integer() and abs(raw) < 1e15:
        return str(int(raw))
    if isinstance(raw, datetime):
        return raw.date().isoformat() if raw.time() == time(0) else raw.isoformat(sep=" ")
    if isinstance(raw, date):
        return raw.isoformat()
    s = str(raw).strip()
    if len(s) >= 2 and s[0] == "'" and s[1] in "=+-@":
        s = s[1:]  # our own CSV-injection guard, undone
    return s or None


def shown(raw: Any, limit: int = 100) -> Any:
    """A value as reported back in an error (short)."""
    if raw is None or isinstance(raw, int | float | bool):
        return raw
    s = str(raw)
    return s if len(s) <= limit else s[:limit] + "…"


def is_formula(raw: Any) -> bool:
    if isinstance(raw, str):
        return raw.lstrip().startswith("=")
    return type(raw).__name__ in ("ArrayFormula", "DataTableFormula")


def is_sample_row(headers: HeaderMap, cells: tuple[Any, ...]) -> bool:
    for idx, col in headers.positions.items():
        if col.kind == "serial" and idx < len(cells):
            return cell_text(cells[idx]) in SAMPLE_MARKERS
    return False


def row_is_empty(cells: Iterable[Any]) -> bool:
    return all(c is None or (isinstance(c, str) and not c.strip()) for c in cells)


# -------------------------------------------------------------------- writing
def _guard(value: Any) -> Any:
    """CSV/formula injection: text starting with = + - @ (or a control) gets a quote."""
    if isinstance(value, str) and value and value[0] in "=+-@\t\r":
        return "'" + value
    return value


def _render(col: Column, value: Any) -> Any:
    if value is None:
        return None
    if col.kind == "bool":
        return "是" if value else "否"
    if col.kind == "enum" and col.vocab is not None:
        return col.vocab.label(str(value))
    if col.kind == "date":
        return str(value).replace("-", ".", 1) if len(str(value)) == 7 else str(value)
    return value


def render_row(spec: FormSpec, values: dict[str, Any]) -> list[Any]:
    """Cells of one record, in spec order (references already turned into names)."""
    return [_guard(_render(c, values.get(c.field))) for c in spec.columns]


def _groups(spec: FormSpec) -> list[tuple[int, int, str]]:
    out: list[tuple[int, int, str]] = []
    for i, c in enumerate(spec.columns):
        if c.group is None:
            continue
        if out and out[-1][2] == c.group and out[-1][1] == i - 1:
            out[-1] = (out[-1][0], i, c.group)
        else:
            out.append((i, i, c.group))
    return out


def write_xlsx(
    spec: FormSpec,
    rows: Iterable[list[Any]],
    *,
    template: bool = False,
    dictionaries: dict[str, list[str]] | None = None,
) -> bytes:
    """A workbook in the form's layout. Templates get merges, a sample row, drop-down
    lists and an instructions sheet; exports stream (write-only) for 100k+ rows."""
    import openpyxl
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    ncols = len(spec.columns)
    if template:
        wb = openpyxl.Workbook()
        ws = wb.active
        ws.title = "调研表"
        ws.append([spec.title])
        ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=ncols)
        ws.cell(1, 1).font = Font(bold=True, size=14)
        ws.cell(1, 1).alignment = Alignment(horizontal="center")
        ws.append([spec.unit_line])
        ws.append([None] * ncols)
        for start, end, label in _groups(spec):
            ws.cell(3, start + 1, label).alignment = Alignment(horizontal="center")
            if end > start:
                ws.merge_cells(start_row=3, start_column=start + 1, end_row=3, end_column=end + 1)
        ws.append([c.header for c in spec.columns])
        for i, c in enumerate(spec.columns, start=1):
            ws.cell(4, i).font = Font(bold=True)
            ws.column_dimensions[get_column_letter(i)].width = c.width
        ws.append([_guard(_render(c, c.sample)) for c in spec.columns])
        for row in rows:
            ws.append(row)
        for i, c in enumerate(spec.columns, start=1):
            if c.kind in ("code",):
                for r in range(5, 5 + 1000):
                    ws.cell(r, i).number_format = "@"
        _add_validations(ws, spec, dictionaries or {})
        ws.freeze_panes = "C5"
        notes = wb.create_sheet("填写说明")
        for line in (*spec.notes, ""):
            notes.append([line])
        notes.append(["列名", "调研表原有列", "说明"])
        for c in spec.columns:
            allowed = "/".join(c.vocab.labels.values()) if c.vocab else ""
            notes.append([c.flat_header, "是" if c.seed else "否（扩展）", c.note or allowed])
        if dictionaries:
            dic = wb.create_sheet("字典")
            for j, (name, values) in enumerate(dictionaries.items(), start=1):
                dic.cell(1, j, name)
                for i, v in enumerate(values, start=2):
                    dic.cell(i, j, v)
    else:
        wb = openpyxl.Workbook(write_only=True)
        ws = wb.create_sheet("调研表")
        ws.append([spec.title])
        ws.append([spec.unit_line])
        group_row: list[Any] = [None] * ncols
        for start, _end, label in _groups(spec):
            group_row[start] = label
        ws.append(group_row)
        ws.append([c.header for c in spec.columns])
        code_idx = {i for i, c in enumerate(spec.columns) if c.kind == "code"}
        for row in rows:
            out: list[Any] = []
            for i, v in enumerate(row):
                if i in code_idx and v is not None:
                    cell = WriteOnlyCell(ws, value=v)
                    cell.number_format = "@"
                    out.append(cell)
                else:
                    out.append(v)
            ws.append(out)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _add_validations(ws: Any, spec: FormSpec, dictionaries: dict[str, list[str]]) -> None:
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    for i, c in enumerate(spec.columns, start=1):
        values: list[str] | None = None
        if c.vocab is not None:
            values = list(c.vocab.labels.values())
        elif c.kind == "bool":
            values = ["是", "否"]
        elif c.kind == "category":
            values = dictionaries.get("重点区域类别")
        if not values:
            continue
        formula = '"' + ",".join(values) + '"'
        if len(formula) > 255:
            continue  # Excel's limit for inline lists
        dv = DataValidation(type="list", formula1=formula, allow_blank=True)
        letter = get_column_letter(i)
        dv.add(f"{letter}5:{letter}10000")
        ws.add_data_validation(dv)


def write_csv(spec: FormSpec, rows: Iterable[list[Any]], *, template: bool = False) -> bytes:
    """UTF-8 with BOM (Excel opens it as UTF-8), one header row with unique names."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow([c.flat_header for c in spec.columns])
    if template:
        w.writerow([_guard(_render(c, c.sample)) for c in spec.columns])
    for row in rows:
        w.writerow(["" if v is None else v for v in row])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")
