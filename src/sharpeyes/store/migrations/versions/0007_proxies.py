"""proxies: RTSP/ONVIF cameras pulled by the node (社会资源接入)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02

Written by hand, frozen: it must not import the live models.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "proxies",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("url", sa.String(length=1024), nullable=False),
        sa.Column("sub_url", sa.String(length=1024), nullable=True),
        sa.Column("username", sa.String(length=128), nullable=True),
        sa.Column("password", sa.String(length=128), nullable=True),
        sa.Column("transport", sa.String(length=8), nullable=False),
        sa.Column("on_demand", sa.Boolean(), nullable=False),
        sa.Column("gb_id", sa.String(length=20), nullable=False),
        sa.Column("civil_code", sa.String(length=12), nullable=True),
        sa.Column("org", sa.String(length=128), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("onvif_xaddr", sa.String(length=512), nullable=True),
        sa.Column("onvif_profile", sa.String(length=64), nullable=True),
        sa.Column("onvif_ptz", sa.Boolean(), nullable=False),
        sa.Column("manufacturer", sa.String(length=64), nullable=True),
        sa.Column("model", sa.String(length=64), nullable=True),
        sa.Column("last_error", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proxies")),
        sa.UniqueConstraint("gb_id", name=op.f("uq_proxies_gb_id")),
    )


def downgrade() -> None:
    op.drop_table("proxies")
