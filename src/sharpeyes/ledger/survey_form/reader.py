"""Reading uploaded .xlsx / .csv survey forms (hostile until proven otherwise) and their cells."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from sharpeyes.ledger.survey_form.headers import HeaderMap, looks_like_header, map_headers
from sharpeyes.ledger.survey_form.specs import (
    CSV,
    HEADER_SCAN_ROWS,
    MAX_COLUMNS,
    MAX_UNZIPPED_BYTES,
    MAX_ZIP_RATIO,
    SAMPLE_MARKERS,
    XLSX,
    FormError,
    FormSpec,
)


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
                if looks_like_header(spec, cells) >= 3:
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
        if looks_like_header(spec, cells) >= 3:
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
