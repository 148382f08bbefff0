"""Writing templates and exports (.xlsx streaming with inline strings, CSV) safely."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

from sharpeyes.ledger.survey_form.specs import Column, FormSpec


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
