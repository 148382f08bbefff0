"""Finding and mapping a form's header row: traditional characters, punctuation variants."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from sharpeyes.ledger.survey_form.specs import MAX_COLUMNS, Column, FormError, FormSpec

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


def looks_like_header(spec: FormSpec, cells: Sequence[object]) -> int:
    keys = {header_key(c) for c in cells[:MAX_COLUMNS] if c is not None and str(c).strip()}
    known = {header_key(c.header) for c in spec.columns if c.seed} | {
        header_key(c.flat_header) for c in spec.columns
    }
    return len(keys & known)
