"""Survey forms as files: seed headers, header matching, hostile files, injection guard."""

from __future__ import annotations

import csv
import io
import re
import zipfile

import openpyxl
import pytest

from sharpeyes.ledger.survey_form import (
    CAMERA_FORM,
    FORMS,
    INTERNAL_SYSTEM_FORM,
    PLATFORM_FORM,
    FormError,
    cell_text,
    header_key,
    map_headers,
    open_table,
    render_row,
    write_csv,
    write_xlsx,
)

MAX = 64 * 1024 * 1024

# The camera form's columns as seed 004 (附件1, 摄像机) lists them.
SEED_CAMERA_HEADERS = [
    "序号",
    "20位编码",
    "位置名称",
    "管理平台名称",
    "品牌",
    "所在县（市、区、乡镇街道）",
    "所属派出所",
    "经度（保留后六位）",
    "纬度（保留后六位）",
    "建设时间",
    "视频图像命名及视频图像文字标注",
    "是否以租代建",
    "状态",
    "计划整合方式",
    "建设时间",  # 杆件（自建）
    "编号",
    "高度（米）",
    "横臂数量",
    "杆件状况",
]


def _xlsx(rows: list[list[object]]) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_camera_form_starts_with_the_seed_columns() -> None:
    assert [
        c.header for c in CAMERA_FORM.columns[: len(SEED_CAMERA_HEADERS)]
    ] == SEED_CAMERA_HEADERS
    assert all(c.seed for c in CAMERA_FORM.columns[: len(SEED_CAMERA_HEADERS)])
    assert not any(c.seed for c in CAMERA_FORM.columns[len(SEED_CAMERA_HEADERS) :])
    assert set(FORMS) == {"camera", "platform", "internal_system"}
    assert PLATFORM_FORM.columns[1].header == "项目名称"
    assert "数据量（日均X条）" in [c.header for c in INTERNAL_SYSTEM_FORM.columns]


def test_template_xlsx_layout_and_it_reads_back_with_no_rows() -> None:
    data = write_xlsx(CAMERA_FORM, [], template=True, dictionaries={"重点区域类别": ["学校"]})
    wb = openpyxl.load_workbook(io.BytesIO(data))
    ws = wb["调研表"]
    assert ws.cell(1, 1).value == "公共场所视频监控资源整合接入调研表（摄像机）"
    assert [ws.cell(4, i + 1).value for i in range(len(SEED_CAMERA_HEADERS))] == SEED_CAMERA_HEADERS
    assert ws.cell(3, 15).value == "杆件（自建）"
    assert ws.cell(5, 1).value == "样例"  # the seed's sample row, skipped on import
    assert ws.cell(5, 2).value == "34012341001320175079"
    assert "填写说明" in wb.sheetnames
    table = open_table(CAMERA_FORM, data, "t.xlsx", max_bytes=MAX)
    assert table.headers.row == 4
    by_field = {c.field: i for i, c in table.headers.positions.items()}
    assert by_field["build_date"] == 9 and by_field["pole_build_date"] == 14


def test_template_csv_has_unique_flat_headers() -> None:
    text = write_csv(CAMERA_FORM, [], template=True).decode("utf-8-sig")
    header = next(csv.reader(io.StringIO(text)))
    assert len(header) == len(set(header))
    assert "杆件建设时间" in header and "建设时间" in header
    assert open_table(CAMERA_FORM, text.encode(), "t.csv", max_bytes=MAX).headers.row == 1


def test_headers_match_traditional_characters_and_punctuation_variants() -> None:
    traditional = [
        "序號",
        "20位編碼",
        "位置名稱",
        "管理平臺名稱",
        "品牌",
        "所在縣(市、區、鄉鎮街道",
        "所屬派出所",
        "經度(保留後六位)",
        "緯度(保留後六位",
        "建設時間",
        "視頻圖像命名及視頻圖像文字標註",
        "是否以租代建",
        "狀態",
        "計劃整合方式",
        "建設時間",
        "編號",
        "高度(米)",
        "橫臂數量",
        "桿件狀況",
    ]
    hm = map_headers(CAMERA_FORM, traditional, 1)
    assert {c.field for c in hm.positions.values()} >= {"code", "pole_condition", "pole_build_date"}
    assert header_key("经度（保留后六位）") == header_key("經度(保留後六位)")


def test_wrong_headers_name_the_missing_and_unknown_columns() -> None:
    headers = [h for h in SEED_CAMERA_HEADERS if h not in ("所属派出所", "状态")] + ["颜色"]
    with pytest.raises(FormError) as err:
        map_headers(CAMERA_FORM, headers, 1)
    msg = str(err.value)
    assert "缺少列：所属派出所、状态" in msg
    assert "无法识别的列：颜色" in msg
    dup = [*SEED_CAMERA_HEADERS, "品牌"]
    with pytest.raises(FormError, match="重复的列：品牌"):
        map_headers(CAMERA_FORM, dup, 1)


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"hello, world\n", "x.xlsx", "不是有效的 .xlsx"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "x.xls", "旧版 .xls"),
        (b"PK\x03\x04garbage", "x.xlsx", "无法解压"),
        (b"", "x.csv", "文件为空"),
        (b"\x89PNG\r\n\x1a\n\0\0\0", "x.png", "既不是"),
        (b"a,b,c\n1,2,3\n", "x.csv", "未找到"),
    ],
)
def test_not_a_form(data: bytes, name: str, message: str) -> None:
    with pytest.raises(FormError, match=re.escape(message)):
        open_table(CAMERA_FORM, data, name, max_bytes=MAX)


def test_zip_without_workbook_and_zip_bomb() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("hello.txt", "hi")
    with pytest.raises(FormError, match=r"workbook\.xml"):
        open_table(CAMERA_FORM, buf.getvalue(), "x.xlsx", max_bytes=MAX)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("xl/workbook.xml", "<workbook/>")
        zf.writestr("xl/worksheets/sheet1.xml", b"\0" * (64 * 1024 * 1024))
    with pytest.raises(FormError, match="压缩"):
        open_table(CAMERA_FORM, buf.getvalue(), "x.xlsx", max_bytes=MAX)


def test_upload_size_cap() -> None:
    with pytest.raises(FormError, match="上限"):
        open_table(CAMERA_FORM, b"x" * 2048, "x.csv", max_bytes=1024)


def test_header_found_below_title_rows_in_any_sheet() -> None:
    data = _xlsx([["某县调研表"], ["填报单位：公安局"], [], SEED_CAMERA_HEADERS, ["1"]])
    table = open_table(CAMERA_FORM, data, "x.xlsx", max_bytes=MAX)
    assert table.headers.row == 4
    assert [n for n, _ in table.rows] == [5]


def test_csv_in_gb18030_is_read() -> None:
    text = ",".join(SEED_CAMERA_HEADERS) + "\r\n1,34152201001320000001\r\n"
    table = open_table(CAMERA_FORM, text.encode("gb18030"), "x.csv", max_bytes=MAX)
    (row,) = list(table.rows)
    assert row[0] == 2 and row[1][1] == "34152201001320000001"


def test_export_guards_against_formula_injection_and_reader_undoes_it() -> None:
    values = {"name": "=1+1", "location_name": "-路口", "remark": "@x", "brand": "+86"}
    row = render_row(CAMERA_FORM, values)
    cells = {c.field: v for c, v in zip(CAMERA_FORM.columns, row, strict=True)}
    assert cells["name"] == "'=1+1"
    assert cells["location_name"] == "'-路口"
    assert cells["remark"] == "'@x" and cells["brand"] == "'+86"
    assert cell_text("'-路口") == "-路口"
    assert cell_text("'abc") == "'abc"  # only our own guard is undone
    # a workbook written with such a value holds text, not a formula
    data = write_xlsx(CAMERA_FORM, [row])
    wb = openpyxl.load_workbook(io.BytesIO(data))
    ws = wb.active
    name_col = [c.field for c in CAMERA_FORM.columns].index("name") + 1
    assert ws.cell(5, name_col).data_type == "s"


def test_codes_are_written_as_text() -> None:
    row = render_row(CAMERA_FORM, {"code": "34152201001320000001"})
    data = write_xlsx(CAMERA_FORM, [row])
    ws = openpyxl.load_workbook(io.BytesIO(data)).active
    assert ws.cell(5, 2).value == "34152201001320000001"
    assert ws.cell(5, 2).number_format == "@"
