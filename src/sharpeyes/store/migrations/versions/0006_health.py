"""health (运维): daily channel figures, clock checks, VQD plans/results/baselines,
platform alarm rules and alarms, work orders and their events

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02

Frozen: it must not import the live models (``health.models`` is the source).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")
BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "health_channel_state",
        sa.Column("device_id", sa.String(length=20), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("online", sa.Boolean(), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("checkpoint_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("device_id", "channel_id", name=op.f("pk_health_channel_state")),
    )
    op.create_table(
        "health_clock_checks",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("device_id", sa.String(length=20), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("drift_s", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_health_clock_checks")),
    )
    with op.batch_alter_table("health_clock_checks", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_health_clock_checks_device_id_at"), ["device_id", "at"], unique=False
        )

    op.create_table(
        "health_days",
        sa.Column("day", sa.String(length=10), nullable=False),
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
        sa.Column("probes", sa.Integer(), nullable=False),
        sa.Column("frames_ok", sa.Integer(), nullable=False),
        sa.Column("diag_n", sa.Integer(), nullable=False),
        sa.Column("diag_ok", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "device_id", "channel_id", name=op.f("pk_health_days")),
    )
    with op.batch_alter_table("health_days", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_health_days_day_region_code"), ["day", "region_code"], unique=False
        )

    op.create_table(
        "om_alarm_rules",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=True),
        sa.Column("dedup_s", sa.Float(), nullable=False),
        sa.Column("flap_window_s", sa.Float(), nullable=False),
        sa.Column("flap_max_changes", sa.Integer(), nullable=False),
        sa.Column("auto_work_order", sa.Boolean(), nullable=False),
        sa.Column("notify", JSON, nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_om_alarm_rules")),
    )
    with op.batch_alter_table("om_alarm_rules", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_om_alarm_rules_kind"), ["kind"], unique=False)

    op.create_table(
        "om_alarms",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("source_key", sa.String(length=96), nullable=False),
        sa.Column("device_id", sa.String(length=20), nullable=True),
        sa.Column("channel_id", sa.String(length=32), nullable=True),
        sa.Column("region_code", sa.String(length=32), nullable=True),
        sa.Column("message", sa.String(length=512), nullable=True),
        sa.Column("detail", JSON, nullable=True),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("flapping", sa.Boolean(), nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("shown_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=64), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("handled_by", sa.String(length=64), nullable=True),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recovered_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_om_alarms")),
    )
    with op.batch_alter_table("om_alarms", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_om_alarms_first_at"), ["first_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_om_alarms_kind"), ["kind"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_om_alarms_source_key_state"), ["source_key", "state"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_om_alarms_state"), ["state"], unique=False)

    op.create_table(
        "vqd_baselines",
        sa.Column("device_id", sa.String(length=20), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("image", sa.LargeBinary(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("device_id", "channel_id", name=op.f("pk_vqd_baselines")),
    )
    op.create_table(
        "vqd_plans",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("selector", JSON, nullable=True),
        sa.Column("checks", JSON, nullable=True),
        sa.Column("interval_s", sa.Integer(), nullable=True),
        sa.Column("concurrency", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vqd_plans")),
    )
    op.create_table(
        "vqd_results",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=True),
        sa.Column("channel_pk", sa.Integer(), nullable=True),
        sa.Column("device_id", sa.String(length=20), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("region_code", sa.String(length=32), nullable=True),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("faults", JSON, nullable=True),
        sa.Column("scores", JSON, nullable=True),
        sa.Column("rechecked", sa.Boolean(), nullable=False),
        sa.Column("thumbnail", sa.LargeBinary(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vqd_results")),
    )
    with op.batch_alter_table("vqd_results", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_vqd_results_at"), ["at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_vqd_results_channel_id_at"), ["channel_id", "at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_vqd_results_run_id"), ["run_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_vqd_results_verdict"), ["verdict"], unique=False)

    op.create_table(
        "work_orders",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("title", sa.String(length=256), nullable=False),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("alarm_id", sa.BigInteger(), nullable=True),
        sa.Column("device_id", sa.String(length=20), nullable=True),
        sa.Column("channel_id", sa.String(length=32), nullable=True),
        sa.Column("region_code", sa.String(length=32), nullable=True),
        sa.Column("maintainer_org_id", sa.Integer(), nullable=True),
        sa.Column("assignee", sa.String(length=64), nullable=True),
        sa.Column("opened_by", sa.String(length=64), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("overdue", sa.Boolean(), nullable=False),
        sa.Column("suspended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resume_state", sa.String(length=24), nullable=True),
        sa.Column("suspended_s", sa.Float(), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_in_time", sa.Boolean(), nullable=True),
        sa.Column("close_suggested", sa.Boolean(), nullable=False),
        sa.Column("pending_extension_s", sa.Float(), nullable=True),
        sa.Column("note", sa.String(length=1024), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_orders")),
    )
    with op.batch_alter_table("work_orders", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_work_orders_alarm_id"), ["alarm_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_work_orders_channel_id"), ["channel_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_work_orders_opened_at"), ["opened_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_work_orders_overdue"), ["overdue"], unique=False)
        batch_op.create_index(batch_op.f("ix_work_orders_state"), ["state"], unique=False)

    op.create_table(
        "work_order_events",
        sa.Column("id", BIGINT_PK, autoincrement=True, nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=24), nullable=False),
        sa.Column("from_state", sa.String(length=24), nullable=True),
        sa.Column("to_state", sa.String(length=24), nullable=False),
        sa.Column("note", sa.String(length=1024), nullable=True),
        sa.Column("attachment_name", sa.String(length=128), nullable=True),
        sa.Column("attachment", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["work_orders.id"],
            name=op.f("fk_work_order_events_order_id_work_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_order_events")),
    )
    with op.batch_alter_table("work_order_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_work_order_events_order_id"), ["order_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("work_order_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_work_order_events_order_id"))

    op.drop_table("work_order_events")
    with op.batch_alter_table("work_orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_work_orders_state"))
        batch_op.drop_index(batch_op.f("ix_work_orders_overdue"))
        batch_op.drop_index(batch_op.f("ix_work_orders_opened_at"))
        batch_op.drop_index(batch_op.f("ix_work_orders_channel_id"))
        batch_op.drop_index(batch_op.f("ix_work_orders_alarm_id"))

    op.drop_table("work_orders")
    with op.batch_alter_table("vqd_results", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_vqd_results_verdict"))
        batch_op.drop_index(batch_op.f("ix_vqd_results_run_id"))
        batch_op.drop_index(batch_op.f("ix_vqd_results_channel_id_at"))
        batch_op.drop_index(batch_op.f("ix_vqd_results_at"))

    op.drop_table("vqd_results")
    op.drop_table("vqd_plans")
    op.drop_table("vqd_baselines")
    with op.batch_alter_table("om_alarms", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_om_alarms_state"))
        batch_op.drop_index(batch_op.f("ix_om_alarms_source_key_state"))
        batch_op.drop_index(batch_op.f("ix_om_alarms_kind"))
        batch_op.drop_index(batch_op.f("ix_om_alarms_first_at"))

    op.drop_table("om_alarms")
    with op.batch_alter_table("om_alarm_rules", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_om_alarm_rules_kind"))

    op.drop_table("om_alarm_rules")
    with op.batch_alter_table("health_days", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_health_days_day_region_code"))

    op.drop_table("health_days")
    with op.batch_alter_table("health_clock_checks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_health_clock_checks_device_id_at"))

    op.drop_table("health_clock_checks")
    op.drop_table("health_channel_state")
