"""cascade: upper-platform links, channels shared per upper, forwards served

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02

Written by hand, frozen: it must not import the live models. Constraint and index
names follow ``models.NAMING_CONVENTION``.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")
BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _ts(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "cascade_uppers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("server_id", sa.String(20), nullable=False),
        sa.Column("domain", sa.String(20), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("transport", sa.String(8), nullable=False),
        sa.Column("password", sa.String(128), nullable=False),
        sa.Column("local_id", sa.String(20), nullable=False),
        sa.Column("realm", sa.String(64), nullable=False),
        sa.Column("register_expires", sa.Integer(), nullable=False),
        sa.Column("keepalive_interval", sa.Integer(), nullable=False),
        sa.Column("keepalive_timeout_count", sa.Integer(), nullable=False),
        sa.Column("charset", sa.String(16), nullable=False),
        sa.Column("catalog_group_size", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("share_all", sa.Boolean(), nullable=False),
        sa.Column("share_device_ids", JSON, nullable=True),
        sa.Column("share_civil_code_prefixes", JSON, nullable=True),
        sa.Column("share_org_ids", JSON, nullable=True),
        _ts("created_at", nullable=False),
        _ts("updated_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_cascade_uppers"),
    )
    op.create_table(
        "cascade_channels",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("upper_id", sa.Integer(), nullable=False),
        sa.Column("channel_pk", sa.Integer(), nullable=False),
        sa.Column("explicit", sa.Boolean(), nullable=False),
        sa.Column("custom_id", sa.String(20), nullable=True),
        sa.Column("custom_name", sa.String(128), nullable=True),
        sa.ForeignKeyConstraint(
            ["upper_id"],
            ["cascade_uppers.id"],
            name="fk_cascade_channels_upper_id_cascade_uppers",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["channel_pk"],
            ["channels.id"],
            name="fk_cascade_channels_channel_pk_channels",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_cascade_channels"),
        sa.UniqueConstraint(
            "upper_id", "channel_pk", name="uq_cascade_channels_upper_id_channel_pk"
        ),
        sa.UniqueConstraint("upper_id", "custom_id", name="uq_cascade_channels_upper_id_custom_id"),
    )
    op.create_index("ix_cascade_channels_upper_id", "cascade_channels", ["upper_id"])
    op.create_index("ix_cascade_channels_channel_pk", "cascade_channels", ["channel_pk"])
    op.create_table(
        "cascade_forwards",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("upper_id", sa.Integer(), nullable=True),
        sa.Column("upper_server_id", sa.String(20), nullable=False),
        sa.Column("channel_pk", sa.Integer(), nullable=True),
        sa.Column("channel_id", sa.String(32), nullable=False),
        sa.Column("exposed_id", sa.String(32), nullable=False),
        sa.Column("transport", sa.String(16), nullable=False),
        _ts("started_at", nullable=False),
        _ts("ended_at"),
        sa.Column("bytes_sent", sa.BigInteger(), nullable=False),
        sa.Column("end_reason", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_cascade_forwards"),
    )
    op.create_index("ix_cascade_forwards_upper_id", "cascade_forwards", ["upper_id"])
    op.create_index("ix_cascade_forwards_started_at", "cascade_forwards", ["started_at"])


def downgrade() -> None:
    op.drop_table("cascade_forwards")
    op.drop_table("cascade_channels")
    op.drop_table("cascade_uppers")
