"""SQLAlchemy models: the single definition of the schema.

Migrations in ``store/migrations/versions`` must produce exactly this schema on
SQLite and PostgreSQL; ``tests/integration/test_store_migrations.py`` compares them.
Rules kept here so that stays true:

* every constraint and index gets its name from ``NAMING_CONVENTION`` (never a
  backend-generated name), so autogenerate diffs are deterministic;
* datetimes are :class:`UTCDateTime` (tz-aware UTC in Python, whatever the backend);
* JSON is :data:`JSONType` (JSONB on PostgreSQL so it can be compared and indexed).
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """Current time as an aware UTC datetime (the only kind the store accepts)."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """``DateTime(timezone=True)`` that always hands back aware UTC datetimes.

    PostgreSQL (timestamptz) keeps the instant itself; SQLite has no datetime
    type, so values are normalised to UTC and stored without an offset, then
    re-tagged as UTC on the way out. Naive datetimes are refused: their zone is
    unknowable here, and GB device times must be converted at the protocol edge.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: the store needs an aware (UTC) datetime")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


JSONType = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")
"""JSON column type; Python ``None`` is SQL NULL (not JSON ``null``) so ``IS NULL`` works."""

BigIntPK = BigInteger().with_variant(Integer(), "sqlite")
"""64-bit key on PostgreSQL; INTEGER on SQLite, where only that is a ROWID alias."""


class Base(DeclarativeBase):
    """Declarative base sharing one named MetaData."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}  # noqa: RUF012 (SQLAlchemy reads it)


class Admission(StrEnum):
    """Front-end admission (前端准入) state of a device (M1.7)."""

    ADMITTED = "admitted"
    PENDING = "pending"
    REJECTED = "rejected"


class SignalTransport(StrEnum):
    """Transport the device's SIP signalling uses."""

    UDP = "udp"
    TCP = "tcp"


class MediaTransport(StrEnum):
    """RTP transport requested in INVITEs to the device."""

    UDP = "udp"
    TCP_PASSIVE = "tcp-passive"
    TCP_ACTIVE = "tcp-active"


class ChannelKind(StrEnum):
    """What a catalog item is, decoded from its ID type code (tree nodes vs cameras)."""

    CHANNEL = "channel"
    REGION = "region"
    BUSINESS_GROUP = "business_group"
    VIRTUAL_ORG = "virtual_org"
    DEVICE = "device"
    OTHER = "other"


class Device(Base):
    """A GB/T 28181 device or lower platform that registers to us."""

    __tablename__ = "devices"

    id: Mapped[str] = mapped_column(String(20), primary_key=True)  # 20-digit GB device ID
    name: Mapped[str | None] = mapped_column(String)
    manufacturer: Mapped[str | None] = mapped_column(String)
    model: Mapped[str | None] = mapped_column(String)
    firmware: Mapped[str | None] = mapped_column(String)
    admission: Mapped[str] = mapped_column(String(16), default=Admission.ADMITTED.value)
    # Per-device SIP password override, stored in plaintext on purpose: digest
    # authentication (RFC 2617 / GB 28181 §J) needs the plaintext or HA1, a one-way
    # hash would make REGISTER impossible. Protect the database accordingly.
    password: Mapped[str | None] = mapped_column(String(128))
    transport: Mapped[str] = mapped_column(String(8), default=SignalTransport.UDP.value)
    remote_host: Mapped[str | None] = mapped_column(String(64))
    remote_port: Mapped[int | None] = mapped_column(Integer)
    contact: Mapped[str | None] = mapped_column(String)
    charset: Mapped[str] = mapped_column(String(16), default="GB2312")
    media_transport: Mapped[str] = mapped_column(String(16), default=MediaTransport.UDP.value)
    online: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    registered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    register_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_keepalive_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    keepalive_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime())
    keepalive_interval: Mapped[int] = mapped_column(Integer, default=60)
    keepalive_timeout_count: Mapped[int] = mapped_column(Integer, default=3)
    channel_count: Mapped[int] = mapped_column(Integer, default=0)
    catalog_synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    # Rows are removed by the database (ON DELETE CASCADE); lazy="raise" because an
    # implicit lazy load cannot run under asyncio anyway: use selectinload().
    channels: Mapped[list[Channel]] = relationship(
        back_populates="device", cascade="all, delete-orphan", passive_deletes=True, lazy="raise"
    )


class Channel(Base):
    """One Catalog item of a device: a camera channel or a tree node (region, group…).

    Columns mirror the GB/T 28181 Catalog ``Item`` fields (snake_case), all nullable
    because devices omit most of them. Integers where the standard says integer;
    values the caller cannot parse, and fields the standard does not name, go to
    ``extra`` so nothing a device reports is lost.
    """

    __tablename__ = "channels"
    __table_args__ = (UniqueConstraint("device_id", "channel_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    device_id: Mapped[str] = mapped_column(
        String(20), ForeignKey("devices.id", ondelete="CASCADE"), index=True
    )
    channel_id: Mapped[str] = mapped_column(String(32))
    name: Mapped[str | None] = mapped_column(String, index=True)
    manufacturer: Mapped[str | None] = mapped_column(String)
    model: Mapped[str | None] = mapped_column(String)
    owner: Mapped[str | None] = mapped_column(String)
    civil_code: Mapped[str | None] = mapped_column(String(32), index=True)
    block: Mapped[str | None] = mapped_column(String)
    address: Mapped[str | None] = mapped_column(String)
    parental: Mapped[int | None] = mapped_column(Integer)
    parent_id: Mapped[str | None] = mapped_column(String)  # may be "a/b/c" paths (2022)
    safety_way: Mapped[int | None] = mapped_column(Integer)
    register_way: Mapped[int | None] = mapped_column(Integer)
    cert_num: Mapped[str | None] = mapped_column(String)
    certifiable: Mapped[int | None] = mapped_column(Integer)
    err_code: Mapped[int | None] = mapped_column(Integer)
    end_time: Mapped[datetime | None] = mapped_column(UTCDateTime())
    secrecy: Mapped[int | None] = mapped_column(Integer)
    ip_address: Mapped[str | None] = mapped_column(String(64))
    port: Mapped[int | None] = mapped_column(Integer)
    password: Mapped[str | None] = mapped_column(String)
    status: Mapped[str | None] = mapped_column(String(16))  # as reported: "ON", "OFF", …
    longitude: Mapped[float | None] = mapped_column(Float)
    latitude: Mapped[float | None] = mapped_column(Float)
    ptz_type: Mapped[int | None] = mapped_column(Integer)
    position_type: Mapped[int | None] = mapped_column(Integer)
    room_type: Mapped[int | None] = mapped_column(Integer)
    use_type: Mapped[int | None] = mapped_column(Integer)
    supply_light_type: Mapped[int | None] = mapped_column(Integer)
    direction_type: Mapped[int | None] = mapped_column(Integer)
    resolution: Mapped[str | None] = mapped_column(String)
    business_group_id: Mapped[str | None] = mapped_column(String(32))
    download_speed: Mapped[str | None] = mapped_column(String)
    svc_space_support_mode: Mapped[int | None] = mapped_column(Integer)
    svc_time_support_mode: Mapped[int | None] = mapped_column(Integer)
    extra: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    # Effective state: device online AND reported status ON (kept by devices/).
    online: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    kind: Mapped[str] = mapped_column(String(16), default=ChannelKind.CHANNEL.value)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    device: Mapped[Device] = relationship(back_populates="channels", lazy="raise")


class StatusEvent(Base):
    """Online/offline transitions; the history behind online-rate (在线率) statistics."""

    __tablename__ = "status_events"
    __table_args__ = (
        Index(None, "device_id", "at"),
        Index(None, "channel_id", "at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    device_id: Mapped[str] = mapped_column(String(20), ForeignKey("devices.id", ondelete="CASCADE"))
    channel_id: Mapped[str | None] = mapped_column(String(32))  # None: the device itself
    online: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    # "register", "keepalive_timeout", "register_expired", "unregister", "catalog",
    # "notify_OFF", "restart_recovery", "deleted", …
    reason: Mapped[str] = mapped_column(String(32))


class Alarm(Base):
    """A device alarm (Notify CmdType=Alarm) and how it was handled."""

    __tablename__ = "alarms"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    device_id: Mapped[str] = mapped_column(
        String(20), ForeignKey("devices.id", ondelete="CASCADE"), index=True
    )
    alarm_device_id: Mapped[str] = mapped_column(String(32))  # channel / alarm input ID
    # Nullable: a malformed Notify is still recorded rather than dropped.
    priority: Mapped[int | None] = mapped_column(Integer)
    method: Mapped[int | None] = mapped_column(Integer)
    alarm_type: Mapped[int | None] = mapped_column(Integer)
    alarm_time: Mapped[datetime | None] = mapped_column(UTCDateTime())  # device clock, as UTC
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    description: Mapped[str | None] = mapped_column(String)
    longitude: Mapped[float | None] = mapped_column(Float)
    latitude: Mapped[float | None] = mapped_column(Float)
    extra: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    reset_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acknowledged_by: Mapped[str | None] = mapped_column(String(64))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class User(Base):
    """A console/API user; roles and scopes are interpreted by ``sharing/``."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))  # argon2id PHC string
    role: Mapped[str] = mapped_column(String(16))
    display_name: Mapped[str | None] = mapped_column(String)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # Civil-code prefixes the user may see; None (SQL NULL) means everything.
    region_codes: Mapped[list[str] | None] = mapped_column(JSONType)
    # The user's organisation (ledger organisation tree); its grants widen the scope.
    org_id: Mapped[int | None] = mapped_column(Integer, index=True)
    totp_secret: Mapped[str | None] = mapped_column(String(255))  # Fernet-sealed base32
    must_change_password: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    # Bumped to revoke every session at once (logout everywhere, password change, disable).
    token_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class SettingKV(Base):
    """Node-level persistent values (e.g. the JWT signing secret)."""

    __tablename__ = "settings_kv"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[Any] = mapped_column(JSONType)
