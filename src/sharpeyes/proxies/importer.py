"""Bulk import of proxies: CSV, or rows of the ledger's survey form (.xlsx) with a stream URL.

Headers are matched by name, English or Chinese (the survey form's 视频图像命名,
设备编码, 经度, 纬度 … plus a column holding the stream URL such as 取流地址 /
RTSP地址 / 视频流地址); rows without a stream URL are skipped (counted), each
bad row is reported with its line number and the rest are imported. Credentials
written into the URL (rtsp://user:pass@host/...) are split off.
"""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING, Any

from sharpeyes.sharing.principal import Principal

if TYPE_CHECKING:
    from sharpeyes.proxies.service import ProxyService

MAX_ROWS = 10_000

HEADERS: dict[str, tuple[str, ...]] = {
    "name": (
        "name", "名称", "视频图像命名", "视频图像命名及视频图像文字标注", "摄像机名称",
        "点位名称", "设备名称",
    ),
    "url": (
        "url", "stream_url", "rtsp", "rtsp_url", "取流地址", "视频流地址", "流地址",
        "rtsp地址", "播放地址", "视频地址",
    ),
    "sub_url": ("sub_url", "子码流地址", "辅码流地址"),
    "username": ("username", "user", "用户名", "账号"),
    "password": ("password", "密码"),
    "transport": ("transport", "传输协议", "传输方式"),
    "on_demand": ("on_demand", "按需拉流"),
    "gb_id": ("gb_id", "设备编码", "国标编码", "编码", "20位编码", "20位国标编码"),
    "civil_code": ("civil_code", "行政区划代码", "行政区划", "区划代码"),
    "org": ("org", "建设单位", "所属单位", "管理单位", "权属单位"),
    "longitude": ("longitude", "lon", "经度"),
    "latitude": ("latitude", "lat", "纬度"),
}  # fmt: skip
_BY_HEADER = {alias.lower(): key for key, aliases in HEADERS.items() for alias in aliases}
_TRUE = {"1", "true", "yes", "y", "是", "按需"}
_FALSE = {"0", "false", "no", "n", "否", "常开", "always"}


def _key(header: Any) -> str | None:
    text = str(header or "").strip().lower().replace(" ", "")
    text = text.split("(")[0].split("（")[0].rstrip("*")
    return _BY_HEADER.get(text)


def read_rows(filename: str, data: bytes) -> list[tuple[int, dict[str, Any]]]:
    """(line number, {field: value}) for every data row of a CSV or an .xlsx."""
    if filename.lower().endswith((".xlsx", ".xlsm")) or data[:2] == b"PK":
        return _xlsx_rows(data)
    text = data.decode("utf-8-sig") if _is_utf8(data) else data.decode("gb18030")
    reader = csv.reader(io.StringIO(text))
    return _rows(list(reader))


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _xlsx_rows(data: bytes) -> list[tuple[int, dict[str, Any]]]:
    import openpyxl

    try:
        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:
        raise ValueError(f"not a readable .xlsx file: {exc}") from exc
    for ws in wb.worksheets:
        rows = [list(r) for r in ws.iter_rows(values_only=True, max_row=MAX_ROWS + 10)]
        found = _rows(rows)
        if found:
            return found
    return []


def _rows(table: list[list[Any]]) -> list[tuple[int, dict[str, Any]]]:
    """Find the header row (the first naming a URL column) within the first 10 rows."""
    for h, header in enumerate(table[:10]):
        keys = [_key(c) for c in header]
        if "url" not in keys:
            continue
        out = []
        for i, row in enumerate(table[h + 1 :], start=h + 2):
            values = {
                k: (str(v).strip() if v is not None else "")
                for k, v in zip(keys, row, strict=False)
                if k
            }
            if any(values.values()):
                out.append((i, values))
        if len(out) > MAX_ROWS:
            raise ValueError(f"more than {MAX_ROWS} rows")
        return out
    raise ValueError("no header row with a stream URL column (url / 取流地址 / RTSP地址 …)")


def to_body(values: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {k: v for k, v in values.items() if v not in ("", None)}
    if "on_demand" in body:
        flag = str(body["on_demand"]).lower()
        if flag not in _TRUE | _FALSE:
            raise ValueError(f"on_demand: {body['on_demand']!r} is not yes/no")
        body["on_demand"] = flag in _TRUE
    if "transport" in body:
        body["transport"] = str(body["transport"]).lower()
    for axis in ("longitude", "latitude"):
        if axis in body:
            try:
                body[axis] = float(body[axis])
            except ValueError as exc:
                raise ValueError(f"{axis}: {body[axis]!r} is not a number") from exc
    if "gb_id" in body and len(str(body["gb_id"])) != 20:
        raise ValueError("gb_id must be 20 digits")
    if "civil_code" in body:
        body["civil_code"] = str(body["civil_code"]).split(".")[0]
    return body


async def import_rows(
    proxies: ProxyService,
    principal: Principal,
    rows: list[tuple[int, dict[str, Any]]],
    *,
    validate_only: bool = False,
    client_ip: str | None = None,
) -> dict[str, Any]:
    created: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    skipped = 0
    for line, values in rows:
        if not values.get("url"):
            skipped += 1
            continue
        try:
            body = to_body(values)
            body.setdefault("name", body["url"])
            proxies._clean(body)  # raises ValueError on a bad URL, transport, coordinates
            if not validate_only:
                p = await proxies.create(principal, body, client_ip=client_ip)
                created.append({"line": line, "id": p["id"], "gb_id": p["gb_id"]})
        except (ValueError, PermissionError) as exc:
            errors.append({"line": line, "error": str(exc)})
        except Exception as exc:  # ConflictError and the like: reported, not fatal
            errors.append({"line": line, "error": f"{type(exc).__name__}: {exc}"})
    return {
        "rows": len(rows),
        "created": len(created) if not validate_only else 0,
        "valid": len(rows) - skipped - len(errors),
        "skipped_without_url": skipped,
        "errors": errors,
        "items": created,
        "validate_only": validate_only,
    }


__all__ = ["import_rows", "read_rows", "to_body"]
