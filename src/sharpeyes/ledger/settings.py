"""Ledger settings (``[ledger]`` in the node's TOML, ``SHARPEYES_LEDGER__*`` in the env).

Everything a county may reasonably want different lives here: the naming rule, the
key-area category list, which fields each point class must fill, the duplicate
distance and the import limits. Defaults follow the seed forms and REQUIREMENTS M3.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from sharpeyes.ledger.dictionaries import DEFAULT_KEY_AREA_CATEGORIES

# Fields every record needs for 完整率, then the extra ones per point class.
DEFAULT_REQUIRED_FIELDS: dict[str, list[str]] = {
    "common": [
        "code",
        "name",
        "location_name",
        "region_code",
        "longitude",
        "latitude",
        "status",
        "point_class",
        "network",
        "owner_org_id",
        "build_date",
    ],
    "1": ["police_station_id", "key_area_category", "maintainer_org_id", "storage_days"],
    "2": ["key_area_category", "maintainer_org_id"],
    "3": [],
}


class LedgerSettings(BaseModel):
    # Name / OSD text rule: a regular expression the whole text must match. The
    # default allows Chinese, ASCII letters/digits and the punctuation seen in real
    # OSD names, 4–64 characters, no spaces.
    naming_pattern: str = r"^[\u4e00-\u9fffA-Za-z0-9()（）#\-_·、/]{4,64}$"
    naming_description: str = "4–64 个汉字、字母、数字或 ()（）#-_·、/，不含空格"
    # When true a name must start with its county's or township's name (a common
    # local rule: 区县 + 乡镇街道 + 地点 + 方位).
    naming_region_prefix: bool = False
    key_area_categories: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_KEY_AREA_CATEGORIES)
    )
    required_fields: dict[str, list[str]] = Field(
        default_factory=lambda: {k: list(v) for k, v in DEFAULT_REQUIRED_FIELDS.items()}
    )
    # Type codes (digits 11–13) a camera record's 20-digit code may carry.
    camera_type_codes: list[int] = Field(default_factory=lambda: [131, 132])
    duplicate_distance_m: float = 30.0
    # Import limits (hostile files): rows, upload size, characters per cell.
    import_max_rows: int = 200_000
    import_max_bytes: int = 64 * 1024 * 1024
    import_max_cell_chars: int = 1000
    import_chunk_rows: int = 1000
    # Errors kept in a job's answer (the count is always exact).
    import_max_reported_errors: int = 5000
    # Map: zoom from which single points are returned instead of grid clusters, and
    # the most points one answer may hold before it clusters anyway.
    map_point_zoom: int = 16
    map_max_points: int = 5000
    # Pre-aggregated map cells for low zooms (ledger.mapcells). A rebuild after a
    # burst of changes costs ~0.2 s per 100k records on SQLite (holding its one
    # writer) and ~1.6 s per 1M on PostgreSQL; "auto" uses them on PostgreSQL only.
    map_cells: str = Field(default="on", pattern="^(auto|on|off)$")
    # Load the GB/T 2260 province/city/county list into ``regions`` at start.
    seed_regions: bool = True
