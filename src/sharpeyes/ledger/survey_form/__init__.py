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

Split by concern: ``specs`` (the forms), ``headers`` (header matching),
``reader`` (opening files, cell values) and ``writer`` (templates, exports).
"""

from __future__ import annotations

from sharpeyes.ledger.survey_form.headers import HeaderMap, header_key, map_headers
from sharpeyes.ledger.survey_form.reader import (
    CellError,
    Table,
    cell_text,
    is_formula,
    is_sample_row,
    open_table,
    row_is_empty,
    shown,
    sniff_format,
)
from sharpeyes.ledger.survey_form.specs import (
    CAMERA_FORM,
    CSV,
    FORMS,
    INTERNAL_SYSTEM_FORM,
    PLATFORM_FORM,
    XLSX,
    Column,
    FormError,
    FormSpec,
)
from sharpeyes.ledger.survey_form.writer import render_row, write_csv, write_xlsx

__all__ = [
    "CAMERA_FORM",
    "CSV",
    "FORMS",
    "INTERNAL_SYSTEM_FORM",
    "PLATFORM_FORM",
    "XLSX",
    "CellError",
    "Column",
    "FormError",
    "FormSpec",
    "HeaderMap",
    "Table",
    "cell_text",
    "header_key",
    "is_formula",
    "is_sample_row",
    "map_headers",
    "open_table",
    "render_row",
    "row_is_empty",
    "shown",
    "sniff_format",
    "write_csv",
    "write_xlsx",
]
