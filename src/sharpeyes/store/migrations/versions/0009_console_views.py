"""console: saved live layouts and camera groups per user

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02

Written by hand, frozen: it must not import the live models.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")


def upgrade() -> None:
    op.create_table(
        "console_views",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("data", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_console_views_user_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_console_views"),
        sa.UniqueConstraint("user_id", "kind", "name", name="uq_console_views_user_id_kind_name"),
    )
    op.create_index("ix_console_views_user_id", "console_views", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_console_views_user_id", table_name="console_views")
    op.drop_table("console_views")
