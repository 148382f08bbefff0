"""Positions reported by mobile devices (vehicles, body cameras): A.2.5 e."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from sharpeyes.store.models import Base, BigIntPK, UTCDateTime, utcnow


class MobilePosition(Base):
    """One MobilePosition Notify; a device's rows ordered by time are its track."""

    __tablename__ = "mobile_positions"
    __table_args__ = (Index("ix_mobile_positions_device_id_at", "device_id", "at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    device_id: Mapped[str] = mapped_column(String(20), ForeignKey("devices.id", ondelete="CASCADE"))
    # The body's DeviceID: the device itself or one of its channels.
    source_id: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime())  # device clock (<Time>) as UTC
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    longitude: Mapped[float] = mapped_column(Float)
    latitude: Mapped[float] = mapped_column(Float)
    speed: Mapped[float | None] = mapped_column(Float)  # km/h
    direction: Mapped[float | None] = mapped_column(Float)  # degrees clockwise from north
    altitude: Mapped[float | None] = mapped_column(Float)  # metres
