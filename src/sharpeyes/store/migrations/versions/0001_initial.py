"""initial schema: devices, channels, status_events, alarms, users, settings_kv

Revision ID: 0001
Revises:
Create Date: 2025-01-01

Written by hand, frozen: it must not import the live models. Constraint and index
names follow ``models.NAMING_CONVENTION``.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")
BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _ts(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "devices",
        sa.Column("id", sa.String(20), nullable=False),
        sa.Column("name", sa.String(), nullable=True),
        sa.Column("manufacturer", sa.String(), nullable=True),
        sa.Column("model", sa.String(), nullable=True),
        sa.Column("firmware", sa.String(), nullable=True),
        sa.Column("admission", sa.String(16), nullable=False),
        sa.Column("password", sa.String(128), nullable=True),
        sa.Column("transport", sa.String(8), nullable=False),
        sa.Column("remote_host", sa.String(64), nullable=True),
        sa.Column("remote_port", sa.Integer(), nullable=True),
        sa.Column("contact", sa.String(), nullable=True),
        sa.Column("charset", sa.String(16), nullable=False),
        sa.Column("media_transport", sa.String(16), nullable=False),
        sa.Column("online", sa.Boolean(), nullable=False),
        _ts("registered_at"),
        _ts("register_expires_at"),
        _ts("last_keepalive_at"),
        _ts("keepalive_deadline"),
        sa.Column("keepalive_interval", sa.Integer(), nullable=False),
        sa.Column("keepalive_timeout_count", sa.Integer(), nullable=False),
        sa.Column("channel_count", sa.Integer(), nullable=False),
        _ts("catalog_synced_at"),
        _ts("created_at", nullable=False),
        _ts("updated_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_devices"),
    )
    op.create_index("ix_devices_online", "devices", ["online"])

    op.create_table(
        "channels",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("device_id", sa.String(20), nullable=False),
        sa.Column("channel_id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(), nullable=True),
        sa.Column("manufacturer", sa.String(), nullable=True),
        sa.Column("model", sa.String(), nullable=True),
        sa.Column("owner", sa.String(), nullable=True),
        sa.Column("civil_code", sa.String(32), nullable=True),
        sa.Column("block", sa.String(), nullable=True),
        sa.Column("address", sa.String(), nullable=True),
        sa.Column("parental", sa.Integer(), nullable=True),
        sa.Column("parent_id", sa.String(), nullable=True),
        sa.Column("safety_way", sa.Integer(), nullable=True),
        sa.Column("register_way", sa.Integer(), nullable=True),
        sa.Column("cert_num", sa.String(), nullable=True),
        sa.Column("certifiable", sa.Integer(), nullable=True),
        sa.Column("err_code", sa.Integer(), nullable=True),
        _ts("end_time"),
        sa.Column("secrecy", sa.Integer(), nullable=True),
        sa.Column("ip_address", sa.String(64), nullable=True),
        sa.Column("port", sa.Integer(), nullable=True),
        sa.Column("password", sa.String(), nullable=True),
        sa.Column("status", sa.String(16), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("ptz_type", sa.Integer(), nullable=True),
        sa.Column("position_type", sa.Integer(), nullable=True),
        sa.Column("room_type", sa.Integer(), nullable=True),
        sa.Column("use_type", sa.Integer(), nullable=True),
        sa.Column("supply_light_type", sa.Integer(), nullable=True),
        sa.Column("direction_type", sa.Integer(), nullable=True),
        sa.Column("resolution", sa.String(), nullable=True),
        sa.Column("business_group_id", sa.String(32), nullable=True),
        sa.Column("download_speed", sa.String(), nullable=True),
        sa.Column("svc_space_support_mode", sa.Integer(), nullable=True),
        sa.Column("svc_time_support_mode", sa.Integer(), nullable=True),
        sa.Column("extra", JSON, nullable=True),
        sa.Column("online", sa.Boolean(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        _ts("created_at", nullable=False),
        _ts("updated_at", nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name="fk_channels_device_id_devices",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_channels"),
        sa.UniqueConstraint("device_id", "channel_id", name="uq_channels_device_id_channel_id"),
    )
    op.create_index("ix_channels_device_id", "channels", ["device_id"])
    op.create_index("ix_channels_name", "channels", ["name"])
    op.create_index("ix_channels_civil_code", "channels", ["civil_code"])
    op.create_index("ix_channels_online", "channels", ["online"])

    op.create_table(
        "status_events",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("device_id", sa.String(20), nullable=False),
        sa.Column("channel_id", sa.String(32), nullable=True),
        sa.Column("online", sa.Boolean(), nullable=False),
        _ts("at", nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name="fk_status_events_device_id_devices",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_status_events"),
    )
    op.create_index("ix_status_events_device_id_at", "status_events", ["device_id", "at"])
    op.create_index("ix_status_events_channel_id_at", "status_events", ["channel_id", "at"])

    op.create_table(
        "alarms",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("device_id", sa.String(20), nullable=False),
        sa.Column("alarm_device_id", sa.String(32), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=True),
        sa.Column("method", sa.Integer(), nullable=True),
        sa.Column("alarm_type", sa.Integer(), nullable=True),
        _ts("alarm_time"),
        _ts("received_at", nullable=False),
        sa.Column("description", sa.String(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("extra", JSON, nullable=True),
        _ts("reset_sent_at"),
        sa.Column("acknowledged_by", sa.String(64), nullable=True),
        _ts("acknowledged_at"),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name="fk_alarms_device_id_devices",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_alarms"),
    )
    op.create_index("ix_alarms_device_id", "alarms", ["device_id"])
    op.create_index("ix_alarms_received_at", "alarms", ["received_at"])

    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("display_name", sa.String(), nullable=True),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("region_codes", JSON, nullable=True),
        _ts("created_at", nullable=False),
        _ts("updated_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("username", name="uq_users_username"),
    )

    op.create_table(
        "settings_kv",
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("value", JSON, nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_settings_kv"),
    )


def downgrade() -> None:
    op.drop_table("settings_kv")
    op.drop_table("users")
    op.drop_index("ix_alarms_received_at", table_name="alarms")
    op.drop_index("ix_alarms_device_id", table_name="alarms")
    op.drop_table("alarms")
    op.drop_index("ix_status_events_channel_id_at", table_name="status_events")
    op.drop_index("ix_status_events_device_id_at", table_name="status_events")
    op.drop_table("status_events")
    op.drop_index("ix_channels_online", table_name="channels")
    op.drop_index("ix_channels_civil_code", table_name="channels")
    op.drop_index("ix_channels_name", table_name="channels")
    op.drop_index("ix_channels_device_id", table_name="channels")
    op.drop_table("channels")
    op.drop_index("ix_devices_online", table_name="devices")
    op.drop_table("devices")
