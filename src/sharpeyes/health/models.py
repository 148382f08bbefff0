"""Tables of the health (运维) domain; nothing outside ``health/`` reads them.

Channels are keyed by (device_id, channel_id), the GB IDs the device and bus events
carry. Daily rows denormalise the grouping attributes the ledger had when the day was
written (region, organisations, class, category, network) so rate queries are one
GROUP BY over the date range, never a walk over raw transitions.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from sharpeyes.store.models import Base, BigIntPK, JSONType, UTCDateTime, utcnow


class ChannelState(Base):
    """The open interval of each channel: state since when, last checkpoint."""

    __tablename__ = "health_channel_state"

    device_id: Mapped[str] = mapped_column(String(20), primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    online: Mapped[bool] = mapped_column(Boolean)
    since: Mapped[datetime] = mapped_column(UTCDateTime())
    checkpoint_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ChannelDay(Base):
    """One channel's figures for one local day (the unit every rate is made of)."""

    __tablename__ = "health_days"
    __table_args__ = (Index(None, "day", "region_code"),)

    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # YYYY-MM-DD local
    device_id: Mapped[str] = mapped_column(String(20), primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    region_code: Mapped[str | None] = mapped_column(String(12))
    owner_org_id: Mapped[int | None] = mapped_column(Integer)
    maintainer_org_id: Mapped[int | None] = mapped_column(Integer)
    point_class: Mapped[int | None] = mapped_column(Integer)
    category: Mapped[str | None] = mapped_column(String(32))
    network: Mapped[str | None] = mapped_column(String(16))
    online_s: Mapped[float] = mapped_column(Float, default=0.0)
    observed_s: Mapped[float] = mapped_column(Float, default=0.0)
    probes: Mapped[int] = mapped_column(Integer, default=0)
    frames_ok: Mapped[int] = mapped_column(Integer, default=0)
    diag_n: Mapped[int] = mapped_column(Integer, default=0)
    diag_ok: Mapped[int] = mapped_column(Integer, default=0)


class ChannelMonth(Base):
    """One channel's day figures summed over a local month (the rollup year queries read).

    Kept in step with :class:`ChannelDay` on every write (the day's contribution is
    applied as a delta), so a range of whole months reads ≈ 1/30 of the rows. The
    grouping attributes are those of the latest day written in the month.
    """

    __tablename__ = "health_months"
    __table_args__ = (Index(None, "month", "region_code"),)

    month: Mapped[str] = mapped_column(String(7), primary_key=True)  # YYYY-MM local
    device_id: Mapped[str] = mapped_column(String(20), primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    region_code: Mapped[str | None] = mapped_column(String(12))
    owner_org_id: Mapped[int | None] = mapped_column(Integer)
    maintainer_org_id: Mapped[int | None] = mapped_column(Integer)
    point_class: Mapped[int | None] = mapped_column(Integer)
    category: Mapped[str | None] = mapped_column(String(32))
    network: Mapped[str | None] = mapped_column(String(16))
    online_s: Mapped[float] = mapped_column(Float, default=0.0)
    observed_s: Mapped[float] = mapped_column(Float, default=0.0)
    probed_days: Mapped[int] = mapped_column(Integer, default=0)
    image_days: Mapped[int] = mapped_column(Integer, default=0)
    diagnosed_days: Mapped[int] = mapped_column(Integer, default=0)
    intact_days: Mapped[int] = mapped_column(Integer, default=0)


class ClockCheck(Base):
    """A DeviceTime reading compared with server time (校时)."""

    __tablename__ = "health_clock_checks"
    __table_args__ = (Index(None, "device_id", "at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    device_id: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    drift_s: Mapped[float] = mapped_column(Float)


class VqdPlan(Base):
    """A patrol plan (诊断预案): which channels, which checks, when, how many at once."""

    __tablename__ = "vqd_plans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128))
    selector: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    checks: Mapped[list[str] | None] = mapped_column(JSONType)
    interval_s: Mapped[int | None] = mapped_column(Integer)  # None: only when run by hand
    concurrency: Mapped[int] = mapped_column(Integer, default=4)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(64))


class VqdResult(Base):
    """One diagnosis of one channel, with the thumbnail of the judged frame."""

    __tablename__ = "vqd_results"
    __table_args__ = (Index(None, "channel_id", "at"), Index(None, "run_id"))

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    run_id: Mapped[str | None] = mapped_column(String(32))
    channel_pk: Mapped[int | None] = mapped_column(Integer)
    device_id: Mapped[str] = mapped_column(String(20))
    channel_id: Mapped[str] = mapped_column(String(32))
    region_code: Mapped[str | None] = mapped_column(String(32))
    verdict: Mapped[str] = mapped_column(String(16), index=True)
    faults: Mapped[list[str] | None] = mapped_column(JSONType)
    scores: Mapped[dict[str, float] | None] = mapped_column(JSONType)
    rechecked: Mapped[bool] = mapped_column(Boolean, default=False)
    thumbnail: Mapped[bytes | None] = mapped_column(LargeBinary)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class VqdBaseline(Base):
    """The reference picture of a channel (scene change is judged against it)."""

    __tablename__ = "vqd_baselines"

    device_id: Mapped[str] = mapped_column(String(20), primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    image: Mapped[bytes] = mapped_column(LargeBinary)  # JPEG
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AlarmRule(Base):
    """When a platform condition becomes an alarm, at which level, who is told."""

    __tablename__ = "om_alarm_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(32), index=True)
    level: Mapped[str] = mapped_column(String(16))
    threshold: Mapped[float | None] = mapped_column(Float)
    dedup_s: Mapped[float] = mapped_column(Float, default=300.0)
    flap_window_s: Mapped[float] = mapped_column(Float, default=600.0)
    flap_max_changes: Mapped[int] = mapped_column(Integer, default=4)
    auto_work_order: Mapped[bool] = mapped_column(Boolean, default=False)
    notify: Mapped[list[dict[str, str]] | None] = mapped_column(JSONType)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)


class OmAlarm(Base):
    """A platform alarm and its life: triggered → shown → acknowledged → handled → recovered."""

    __tablename__ = "om_alarms"
    __table_args__ = (Index(None, "source_key", "state"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    rule_id: Mapped[int | None] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    level: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), index=True)
    source_key: Mapped[str] = mapped_column(String(96))
    device_id: Mapped[str | None] = mapped_column(String(20))
    channel_id: Mapped[str | None] = mapped_column(String(32))
    region_code: Mapped[str | None] = mapped_column(String(32))
    message: Mapped[str | None] = mapped_column(String(512))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    count: Mapped[int] = mapped_column(Integer, default=1)
    flapping: Mapped[bool] = mapped_column(Boolean, default=False)
    first_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    shown_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acknowledged_by: Mapped[str | None] = mapped_column(String(64))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    handled_by: Mapped[str | None] = mapped_column(String(64))
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    recovered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class WorkOrder(Base):
    """A fault to fix (工单), with its deadline and who holds it."""

    __tablename__ = "work_orders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    title: Mapped[str] = mapped_column(String(256))
    state: Mapped[str] = mapped_column(String(24), index=True)
    level: Mapped[str] = mapped_column(String(16))
    alarm_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    device_id: Mapped[str | None] = mapped_column(String(20))
    channel_id: Mapped[str | None] = mapped_column(String(32), index=True)
    region_code: Mapped[str | None] = mapped_column(String(32))
    maintainer_org_id: Mapped[int | None] = mapped_column(Integer)
    assignee: Mapped[str | None] = mapped_column(String(64))
    opened_by: Mapped[str] = mapped_column(String(64))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    deadline: Mapped[datetime] = mapped_column(UTCDateTime())
    overdue: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resume_state: Mapped[str | None] = mapped_column(String(24))
    suspended_s: Mapped[float] = mapped_column(Float, default=0.0)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_in_time: Mapped[bool | None] = mapped_column(Boolean)
    close_suggested: Mapped[bool] = mapped_column(Boolean, default=False)
    pending_extension_s: Mapped[float | None] = mapped_column(Float)
    note: Mapped[str | None] = mapped_column(String(1024))


class WorkOrderEvent(Base):
    """Every transition of a work order, attributed (append-only)."""

    __tablename__ = "work_order_events"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    order_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("work_orders.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(24))
    from_state: Mapped[str | None] = mapped_column(String(24))
    to_state: Mapped[str] = mapped_column(String(24))
    note: Mapped[str | None] = mapped_column(String(1024))
    attachment_name: Mapped[str | None] = mapped_column(String(128))
    attachment: Mapped[bytes | None] = mapped_column(LargeBinary)
