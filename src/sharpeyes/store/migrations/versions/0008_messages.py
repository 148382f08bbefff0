"""messages: positions reported by mobile devices (MobilePosition Notify)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02

Written by hand, frozen: it must not import the live models.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "mobile_positions",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("device_id", sa.String(length=20), nullable=False),
        sa.Column("source_id", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("longitude", sa.Float(), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=False),
        sa.Column("speed", sa.Float(), nullable=True),
        sa.Column("direction", sa.Float(), nullable=True),
        sa.Column("altitude", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_mobile_positions_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mobile_positions")),
    )
    op.create_index(
        "ix_mobile_positions_device_id_at", "mobile_positions", ["device_id", "at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_mobile_positions_device_id_at", table_name="mobile_positions")
    op.drop_table("mobile_positions")
