"""platform recording: record plans and the segment index

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02

Written by hand, frozen: it must not import the live models.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")
BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "record_plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("schedule", JSON, nullable=True),
        sa.Column("storage_days", sa.Integer(), nullable=False),
        sa.Column("stream", sa.String(length=8), nullable=False),
        sa.Column("channels", JSON, nullable=True),
        sa.Column("selectors", JSON, nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_record_plans")),
    )
    op.create_table(
        "record_segments",
        sa.Column("id", BIGINT_PK, nullable=False),
        sa.Column("channel_pk", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.String(length=20), nullable=False),
        sa.Column("start", sa.Float(), nullable=False),
        sa.Column("end", sa.Float(), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("path", sa.String(length=512), nullable=False),
        sa.Column("codec", sa.String(length=16), nullable=True),
        sa.Column("fmt", sa.String(length=8), nullable=False),
        sa.Column("frames", sa.Integer(), nullable=False),
        sa.Column("gaps", JSON, nullable=True),
        sa.Column("keep_until", sa.Float(), nullable=False),
        sa.Column("complete", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_record_segments")),
    )
    op.create_index(
        "ix_record_segments_channel_pk_start", "record_segments", ["channel_pk", "start"]
    )
    op.create_index("ix_record_segments_keep_until", "record_segments", ["keep_until"])


def downgrade() -> None:
    op.drop_index("ix_record_segments_keep_until", table_name="record_segments")
    op.drop_index("ix_record_segments_channel_pk_start", table_name="record_segments")
    op.drop_table("record_segments")
    op.drop_table("record_plans")
