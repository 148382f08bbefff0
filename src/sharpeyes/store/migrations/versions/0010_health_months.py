"""health: monthly rollup of the channel-day figures (year-long rate queries)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02

Frozen: it must not import the live models. Existing day rows are folded into
months here, with the attributes of any of the month's days (MAX).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "health_months",
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("device_id", sa.String(length=20), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=True),
        sa.Column("owner_org_id", sa.Integer(), nullable=True),
        sa.Column("maintainer_org_id", sa.Integer(), nullable=True),
        sa.Column("point_class", sa.Integer(), nullable=True),
        sa.Column("category", sa.String(length=32), nullable=True),
        sa.Column("network", sa.String(length=16), nullable=True),
        sa.Column("online_s", sa.Float(), nullable=False),
        sa.Column("observed_s", sa.Float(), nullable=False),
        sa.Column("probed_days", sa.Integer(), nullable=False),
        sa.Column("image_days", sa.Integer(), nullable=False),
        sa.Column("diagnosed_days", sa.Integer(), nullable=False),
        sa.Column("intact_days", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("month", "device_id", "channel_id", name=op.f("pk_health_months")),
    )
    with op.batch_alter_table("health_months", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_health_months_month_region_code"),
            ["month", "region_code"],
            unique=False,
        )
    op.execute(
        """
        INSERT INTO health_months (month, device_id, channel_id, region_code, owner_org_id,
            maintainer_org_id, point_class, category, network, online_s, observed_s,
            probed_days, image_days, diagnosed_days, intact_days)
        SELECT substr(day, 1, 7), device_id, channel_id, MAX(region_code), MAX(owner_org_id),
            MAX(maintainer_org_id), MAX(point_class), MAX(category), MAX(network),
            SUM(online_s), SUM(observed_s),
            SUM(CASE WHEN probes > 0 THEN 1 ELSE 0 END),
            SUM(CASE WHEN frames_ok > 0 THEN 1 ELSE 0 END),
            SUM(CASE WHEN diag_n > 0 THEN 1 ELSE 0 END),
            SUM(CASE WHEN diag_n > 0 AND diag_ok = diag_n AND online_s > 0 THEN 1 ELSE 0 END)
        FROM health_days
        GROUP BY substr(day, 1, 7), device_id, channel_id
        """
    )


def downgrade() -> None:
    with op.batch_alter_table("health_months", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_health_months_month_region_code"))
    op.drop_table("health_months")
