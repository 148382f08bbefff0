"""resource ledger: regions, police stations, organisations, platform / internal-system
records, camera records, change history, jobs, map cells; R*Tree (SQLite) / GiST
(PostgreSQL); triggers marking the map cells stale

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-02

Written by hand, frozen: it must not import the live models. Constraint and index
names follow ``models.NAMING_CONVENTION``. The SQLite R*Tree, its triggers and the
PostgreSQL GiST index are outside the models' metadata (``store.schema.include_name``).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")
BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# Records with valid coordinates, mirrored into an R*Tree (32-bit float boxes, rounded
# outwards by SQLite, so the index never misses a point; queries re-check exactly).
SQLITE_RTREE = [
    "CREATE VIRTUAL TABLE camera_records_rtree USING rtree(id, min_lon, max_lon, min_lat, max_lat)",
    """CREATE TRIGGER camera_records_rtree_ai AFTER INSERT ON camera_records
       WHEN NEW.on_map BEGIN
         INSERT INTO camera_records_rtree VALUES
           (NEW.id, NEW.longitude, NEW.longitude, NEW.latitude, NEW.latitude);
       END""",
    """CREATE TRIGGER camera_records_rtree_au AFTER UPDATE OF longitude, latitude, on_map
       ON camera_records BEGIN
         DELETE FROM camera_records_rtree WHERE id = OLD.id;
         INSERT INTO camera_records_rtree
           SELECT NEW.id, NEW.longitude, NEW.longitude, NEW.latitude, NEW.latitude
           WHERE NEW.on_map;
       END""",
    """CREATE TRIGGER camera_records_rtree_ad AFTER DELETE ON camera_records BEGIN
         DELETE FROM camera_records_rtree WHERE id = OLD.id;
       END""",
]
SQLITE_RTREE_DROP = [
    "DROP TRIGGER IF EXISTS camera_records_rtree_ai",
    "DROP TRIGGER IF EXISTS camera_records_rtree_au",
    "DROP TRIGGER IF EXISTS camera_records_rtree_ad",
    "DROP TABLE IF EXISTS camera_records_rtree",
]
# Any change that can move a record on the map marks the pre-aggregated cells stale.
SQLITE_MAP_VERSION = [
    f"""CREATE TRIGGER camera_records_mapver_{name} AFTER {event} ON camera_records BEGIN
         UPDATE camera_map_state SET data_version = data_version + 1 WHERE id = 1;
       END"""
    for name, event in (
        ("ai", "INSERT"),
        ("ad", "DELETE"),
        ("au", "UPDATE OF longitude, latitude, on_map, region_code, code"),
    )
]
SQLITE_MAP_VERSION_DROP = [
    f"DROP TRIGGER IF EXISTS camera_records_mapver_{n}" for n in ("ai", "ad", "au")
]
PG_MAP_VERSION = [
    """CREATE FUNCTION camera_records_mapver() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         UPDATE camera_map_state SET data_version = data_version + 1 WHERE id = 1;
         RETURN NULL;
       END $$""",
    """CREATE TRIGGER camera_records_mapver AFTER INSERT OR DELETE OR TRUNCATE OR UPDATE OF
       longitude, latitude, on_map, region_code, code ON camera_records
       FOR EACH STATEMENT EXECUTE FUNCTION camera_records_mapver()""",
]
PG_MAP_VERSION_DROP = [
    "DROP TRIGGER IF EXISTS camera_records_mapver ON camera_records",
    "DROP FUNCTION IF EXISTS camera_records_mapver()",
]
# Built-in geometric types, no PostGIS needed: point(lon, lat) <@ box(...) uses it.
PG_GIST = (
    "CREATE INDEX ix_camera_records_geo_gist ON camera_records "
    "USING gist (point(longitude, latitude)) WHERE on_map"
)


def _ts(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _stamps() -> list[sa.Column]:
    return [_ts("created_at", nullable=False), _ts("updated_at", nullable=False)]


def _fk(col: str, table: str, ref: str, ondelete: str) -> sa.ForeignKeyConstraint:
    ref_table = ref.split(".")[0]
    return sa.ForeignKeyConstraint(
        [col], [ref], name=f"fk_{table}_{col}_{ref_table}", ondelete=ondelete
    )


def upgrade() -> None:
    op.create_table(
        "regions",
        sa.Column("code", sa.String(12), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(16), nullable=True),
        sa.Column("parent_code", sa.String(12), nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
        *_stamps(),
        sa.PrimaryKeyConstraint("code", name="pk_regions"),
        _fk("parent_code", "regions", "regions.code", "RESTRICT"),
    )
    op.create_index("ix_regions_name", "regions", ["name"])
    op.create_index("ix_regions_parent_code", "regions", ["parent_code"])

    op.create_table(
        "police_stations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("region_code", sa.String(12), nullable=False),
        sa.Column("code", sa.String(32), nullable=True),
        sa.Column("address", sa.String(256), nullable=True),
        sa.Column("phone", sa.String(32), nullable=True),
        *_stamps(),
        sa.PrimaryKeyConstraint("id", name="pk_police_stations"),
        _fk("region_code", "police_stations", "regions.code", "RESTRICT"),
        sa.UniqueConstraint("region_code", "name", name="uq_police_stations_region_code_name"),
    )
    op.create_index("ix_police_stations_region_code", "police_stations", ["region_code"])

    op.create_table(
        "organisations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("level", sa.String(16), nullable=True),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("region_code", sa.String(12), nullable=True),
        sa.Column("code", sa.String(32), nullable=True),
        sa.Column("contact", sa.String(64), nullable=True),
        sa.Column("phone", sa.String(32), nullable=True),
        *_stamps(),
        sa.PrimaryKeyConstraint("id", name="pk_organisations"),
        _fk("parent_id", "organisations", "organisations.id", "RESTRICT"),
        _fk("region_code", "organisations", "regions.code", "RESTRICT"),
    )
    op.create_index("ix_organisations_name", "organisations", ["name"])
    op.create_index("ix_organisations_parent_id", "organisations", ["parent_id"])
    op.create_index("ix_organisations_region_code", "organisations", ["region_code"])

    op.create_table(
        "platform_records",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("vendor", sa.String(64), nullable=True),
        sa.Column("gb28181", sa.Boolean(), nullable=True),
        sa.Column("gat1400", sa.String(256), nullable=True),
        sa.Column("address", sa.String(256), nullable=True),
        sa.Column("network_mode", sa.String(256), nullable=True),
        sa.Column("security", sa.String(256), nullable=True),
        sa.Column("storage_days", sa.Integer(), nullable=True),
        sa.Column("description", sa.String(512), nullable=True),
        sa.Column("model_version", sa.String(256), nullable=True),
        sa.Column("sharing_capability", sa.String(512), nullable=True),
        sa.Column("connected", sa.String(128), nullable=True),
        sa.Column("code", sa.String(20), nullable=True),
        sa.Column("cascade", sa.String(128), nullable=True),
        sa.Column("build_date", sa.String(10), nullable=True),
        sa.Column("build_cost", sa.Float(), nullable=True),
        sa.Column("om_cost", sa.Float(), nullable=True),
        sa.Column("org_id", sa.Integer(), nullable=True),
        sa.Column("region_code", sa.String(12), nullable=True),
        *_stamps(),
        sa.Column("updated_by", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_platform_records"),
        _fk("org_id", "platform_records", "organisations.id", "SET NULL"),
        _fk("region_code", "platform_records", "regions.code", "RESTRICT"),
    )
    op.create_index("ix_platform_records_name", "platform_records", ["name"])
    op.create_index("ix_platform_records_code", "platform_records", ["code"])
    op.create_index("ix_platform_records_org_id", "platform_records", ["org_id"])
    op.create_index("ix_platform_records_region_code", "platform_records", ["region_code"])

    op.create_table(
        "internal_systems",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("address", sa.String(256), nullable=True),
        sa.Column("police_station_id", sa.Integer(), nullable=True),
        sa.Column("build_date", sa.String(10), nullable=True),
        sa.Column("camera_count", sa.Integer(), nullable=True),
        sa.Column("front_end_models", sa.String(512), nullable=True),
        sa.Column("system_model", sa.String(256), nullable=True),
        sa.Column("gb28181", sa.Boolean(), nullable=True),
        sa.Column("codec", sa.String(32), nullable=True),
        sa.Column("key_entrance_count", sa.Integer(), nullable=True),
        sa.Column("network_mode", sa.String(128), nullable=True),
        sa.Column("data_description", sa.String(512), nullable=True),
        sa.Column("data_system_model", sa.String(256), nullable=True),
        sa.Column("data_front_end", sa.String(256), nullable=True),
        sa.Column("data_volume", sa.String(128), nullable=True),
        sa.Column("data_network_mode", sa.String(128), nullable=True),
        sa.Column("remark", sa.String(512), nullable=True),
        sa.Column("org_id", sa.Integer(), nullable=True),
        sa.Column("region_code", sa.String(12), nullable=True),
        *_stamps(),
        sa.Column("updated_by", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_internal_systems"),
        _fk("police_station_id", "internal_systems", "police_stations.id", "SET NULL"),
        _fk("org_id", "internal_systems", "organisations.id", "SET NULL"),
        _fk("region_code", "internal_systems", "regions.code", "RESTRICT"),
    )
    op.create_index("ix_internal_systems_name", "internal_systems", ["name"])
    op.create_index(
        "ix_internal_systems_police_station_id", "internal_systems", ["police_station_id"]
    )
    op.create_index("ix_internal_systems_org_id", "internal_systems", ["org_id"])
    op.create_index("ix_internal_systems_region_code", "internal_systems", ["region_code"])

    op.create_table(
        "camera_records",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("code", sa.String(20), nullable=True),
        sa.Column("name", sa.String(128), nullable=True),
        sa.Column("osd_text", sa.String(128), nullable=True),
        sa.Column("location_name", sa.String(256), nullable=True),
        sa.Column("platform_name", sa.String(128), nullable=True),
        sa.Column("platform_id", sa.Integer(), nullable=True),
        sa.Column("brand", sa.String(64), nullable=True),
        sa.Column("region_code", sa.String(12), nullable=True),
        sa.Column("police_station_id", sa.Integer(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("build_date", sa.String(10), nullable=True),
        sa.Column("leased", sa.Boolean(), nullable=True),
        sa.Column("status", sa.String(16), nullable=True),
        sa.Column("integration_method", sa.String(24), nullable=True),
        sa.Column("pole_build_date", sa.String(10), nullable=True),
        sa.Column("pole_number", sa.String(64), nullable=True),
        sa.Column("pole_height_m", sa.Float(), nullable=True),
        sa.Column("pole_arms", sa.Integer(), nullable=True),
        sa.Column("pole_condition", sa.String(16), nullable=True),
        sa.Column("point_class", sa.Integer(), nullable=True),
        sa.Column("key_area_category", sa.String(32), nullable=True),
        sa.Column("place", sa.String(128), nullable=True),
        sa.Column("network", sa.String(16), nullable=True),
        sa.Column("owner_org_id", sa.Integer(), nullable=True),
        sa.Column("maintainer_org_id", sa.Integer(), nullable=True),
        sa.Column("shareable", sa.Boolean(), nullable=True),
        sa.Column("storage_days", sa.Integer(), nullable=True),
        sa.Column("camera_type", sa.Integer(), nullable=True),
        sa.Column("direction", sa.Integer(), nullable=True),
        sa.Column("position_type", sa.Integer(), nullable=True),
        sa.Column("room_type", sa.Integer(), nullable=True),
        sa.Column("use_type", sa.Integer(), nullable=True),
        sa.Column("resolution", sa.String(32), nullable=True),
        sa.Column("codec", sa.String(16), nullable=True),
        sa.Column("social", sa.Boolean(), nullable=False),
        sa.Column("remark", sa.String(512), nullable=True),
        sa.Column("complete", sa.Boolean(), nullable=False),
        sa.Column("on_map", sa.Boolean(), nullable=False),
        sa.Column("issues", JSON, nullable=True),
        *_stamps(),
        sa.Column("created_by", sa.String(64), nullable=True),
        sa.Column("updated_by", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_camera_records"),
        sa.UniqueConstraint("code", name="uq_camera_records_code"),
        _fk("platform_id", "camera_records", "platform_records.id", "SET NULL"),
        _fk("region_code", "camera_records", "regions.code", "RESTRICT"),
        _fk("police_station_id", "camera_records", "police_stations.id", "SET NULL"),
        _fk("owner_org_id", "camera_records", "organisations.id", "SET NULL"),
        _fk("maintainer_org_id", "camera_records", "organisations.id", "SET NULL"),
    )
    for cols in (
        ["name"],
        ["platform_id"],
        ["region_code"],
        ["police_station_id"],
        ["status"],
        ["point_class"],
        ["key_area_category"],
        ["network"],
        ["owner_org_id"],
        ["maintainer_org_id"],
        ["complete"],
        ["on_map", "longitude", "latitude"],
    ):
        op.create_index(f"ix_camera_records_{'_'.join(cols)}", "camera_records", cols)

    op.create_table(
        "ledger_changes",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        _ts("at", nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(64), nullable=True),
        sa.Column("entity", sa.String(32), nullable=False),
        sa.Column("entity_id", sa.String(32), nullable=True),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("changes", JSON, nullable=True),
        sa.Column("job_id", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_ledger_changes"),
    )
    op.create_index("ix_ledger_changes_at", "ledger_changes", ["at"])
    op.create_index(
        "ix_ledger_changes_entity_entity_id_at", "ledger_changes", ["entity", "entity_id", "at"]
    )

    op.create_table(
        "jobs",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(64), nullable=True),
        sa.Column("params", JSON, nullable=True),
        sa.Column("result", JSON, nullable=True),
        sa.Column("message", sa.String(1024), nullable=True),
        _ts("created_at", nullable=False),
        _ts("started_at"),
        _ts("finished_at"),
        sa.PrimaryKeyConstraint("id", name="pk_jobs"),
    )
    op.create_index("ix_jobs_user_id", "jobs", ["user_id"])
    op.create_index("ix_jobs_created_at", "jobs", ["created_at"])

    op.create_table(
        "camera_map_cells",
        sa.Column("zoom", sa.SmallInteger(), nullable=False),
        sa.Column("cx", sa.Integer(), nullable=False),
        sa.Column("cy", sa.Integer(), nullable=False),
        sa.Column("scope_key", sa.String(6), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("sum_lon", sa.Float(), nullable=False),
        sa.Column("sum_lat", sa.Float(), nullable=False),
        sa.Column("min_lon", sa.Float(), nullable=False),
        sa.Column("min_lat", sa.Float(), nullable=False),
        sa.Column("max_lon", sa.Float(), nullable=False),
        sa.Column("max_lat", sa.Float(), nullable=False),
        sa.Column("min_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("zoom", "cx", "cy", "scope_key", name="pk_camera_map_cells"),
    )
    op.create_table(
        "camera_map_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("data_version", sa.BigInteger(), nullable=False),
        sa.Column("cells_version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_camera_map_state"),
    )
    op.execute("INSERT INTO camera_map_state (id, data_version, cells_version) VALUES (1, 1, 0)")

    dialect = op.get_context().dialect.name
    if dialect == "sqlite":
        for sql in SQLITE_RTREE + SQLITE_MAP_VERSION:
            op.execute(sql)
    elif dialect == "postgresql":
        op.execute(PG_GIST)
        for sql in PG_MAP_VERSION:
            op.execute(sql)


def downgrade() -> None:
    dialect = op.get_context().dialect.name
    if dialect == "sqlite":
        for sql in SQLITE_RTREE_DROP + SQLITE_MAP_VERSION_DROP:
            op.execute(sql)
    elif dialect == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_camera_records_geo_gist")
        for sql in PG_MAP_VERSION_DROP:
            op.execute(sql)
    for table in (
        "camera_map_state",
        "camera_map_cells",
        "jobs",
        "ledger_changes",
        "camera_records",
        "internal_systems",
        "platform_records",
        "organisations",
        "police_stations",
        "regions",
    ):
        op.drop_table(table)
