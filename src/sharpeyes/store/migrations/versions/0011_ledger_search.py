"""ledger: indexes for contains-search, region-prefix filters and counts at city scale

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02

Written by hand, frozen: it must not import the live models.

PostgreSQL: ``pg_trgm`` GIN indexes make ``name/code/location_name LIKE '%q%'``
an index lookup instead of a scan of every record; ``varchar_pattern_ops``
b-trees serve the region-prefix filter (``LIKE '3401%'``) whatever the database
collation; a composite (status, point_class, region_code) index answers the
list's count without the heap. If the extension may not be created (no
privilege), the trigram indexes are skipped and search stays a scan.
"""

from collections.abc import Sequence

from alembic import context, op
from sqlalchemy import text

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TRGM_COLUMNS = ("name", "code", "location_name")


def upgrade() -> None:
    bind = op.get_bind()
    # The quality cache's freshness check reads max(updated_at); also serves sort=updated_at.
    op.create_index("ix_camera_records_updated_at", "camera_records", ["updated_at"])
    if bind.dialect.name != "postgresql":
        return
    op.execute(
        "CREATE INDEX IF NOT EXISTS ix_camera_records_region_code_pattern "
        "ON camera_records (region_code varchar_pattern_ops)"
    )
    op.execute(
        "CREATE INDEX IF NOT EXISTS ix_camera_records_code_pattern "
        "ON camera_records (code varchar_pattern_ops)"
    )
    op.execute(
        "CREATE INDEX IF NOT EXISTS ix_camera_records_status_class_region "
        "ON camera_records (status, point_class, region_code varchar_pattern_ops)"
    )
    if context.is_offline_mode():  # SQL script: no way to probe, the DBA runs it as is
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        have: object = True
    else:
        have = bind.execute(text("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")).first()
    if have is None:
        sp = bind.begin_nested()
        try:
            bind.execute(text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
            sp.commit()
        except Exception:  # no privilege: degrade to scans, the rest still applies
            sp.rollback()
            return
    for col in TRGM_COLUMNS:
        op.execute(
            f"CREATE INDEX IF NOT EXISTS ix_camera_records_{col}_trgm "
            f"ON camera_records USING gin ({col} gin_trgm_ops)"
        )


def downgrade() -> None:
    op.drop_index("ix_camera_records_updated_at", table_name="camera_records")
    if op.get_bind().dialect.name != "postgresql":
        return
    for col in TRGM_COLUMNS:
        op.execute(f"DROP INDEX IF EXISTS ix_camera_records_{col}_trgm")
    for name in ("region_code_pattern", "code_pattern", "status_class_region"):
        op.execute(f"DROP INDEX IF EXISTS ix_camera_records_{name}")
