"""Cascade tables: upper-platform links, the channels shared with each, forwards run.

Owned by the cascade domain; nothing else writes them. Channel sharing is explicit
rows (``explicit``) plus rules on the link (``share_*``) that are evaluated at read
time, so a new camera in a shared region is shared without an operator. A custom
ID/name toward one upper is a row too (``explicit`` false when only the override
is stored for a rule-matched channel).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from sharpeyes.store.models import Base, BigIntPK, JSONType, UTCDateTime, utcnow


class UpperTransport(StrEnum):
    UDP = "udp"
    TCP = "tcp"


class CascadeUpper(Base):
    """One upper platform we register to (we are its lower platform)."""

    __tablename__ = "cascade_uppers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128))
    server_id: Mapped[str] = mapped_column(String(20))
    domain: Mapped[str] = mapped_column(String(20))
    host: Mapped[str] = mapped_column(String(255))
    port: Mapped[int] = mapped_column(Integer)
    transport: Mapped[str] = mapped_column(String(8), default=UpperTransport.UDP.value)
    password: Mapped[str] = mapped_column(String(128), default="")
    local_id: Mapped[str] = mapped_column(String(20))
    realm: Mapped[str] = mapped_column(String(64))
    register_expires: Mapped[int] = mapped_column(Integer, default=3600)
    keepalive_interval: Mapped[int] = mapped_column(Integer, default=60)
    keepalive_timeout_count: Mapped[int] = mapped_column(Integer, default=3)
    charset: Mapped[str] = mapped_column(String(16), default="GB2312")
    catalog_group_size: Mapped[int] = mapped_column(Integer, default=10)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    share_all: Mapped[bool] = mapped_column(Boolean, default=False)
    share_device_ids: Mapped[list[str] | None] = mapped_column(JSONType)
    share_civil_code_prefixes: Mapped[list[str] | None] = mapped_column(JSONType)
    share_org_ids: Mapped[list[Any] | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class CascadeChannel(Base):
    """A channel chosen for one upper, and/or its custom ID/name toward that upper."""

    __tablename__ = "cascade_channels"
    __table_args__ = (
        UniqueConstraint("upper_id", "channel_pk"),
        UniqueConstraint("upper_id", "custom_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    upper_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("cascade_uppers.id", ondelete="CASCADE"), index=True
    )
    channel_pk: Mapped[int] = mapped_column(
        Integer, ForeignKey("channels.id", ondelete="CASCADE"), index=True
    )
    explicit: Mapped[bool] = mapped_column(Boolean, default=True)
    custom_id: Mapped[str | None] = mapped_column(String(20))
    custom_name: Mapped[str | None] = mapped_column(String(128))


class CascadeForward(Base):
    """One stream served to an upper (kept for the audit trail and the console)."""

    __tablename__ = "cascade_forwards"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    upper_id: Mapped[int | None] = mapped_column(Integer, index=True)
    upper_server_id: Mapped[str] = mapped_column(String(20))
    channel_pk: Mapped[int | None] = mapped_column(Integer)
    channel_id: Mapped[str] = mapped_column(String(32))
    exposed_id: Mapped[str] = mapped_column(String(32))
    transport: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    bytes_sent: Mapped[int] = mapped_column(BigInteger, default=0)
    end_reason: Mapped[str | None] = mapped_column(String(64))


__all__ = ["CascadeChannel", "CascadeForward", "CascadeUpper", "UpperTransport"]
