"""The ``proxies`` table: one RTSP/ONVIF camera pulled by this node.

The proxy's video channel itself is a row of ``channels`` under a virtual device,
both owned by ``devices/`` and written only through ``DeviceService.virtual``;
here we keep what the pull needs (URL, credentials, transport, on-demand) and
the ONVIF endpoint when the camera was added through ONVIF.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from sharpeyes.store.models import Base, UTCDateTime, utcnow


class Proxy(Base):
    __tablename__ = "proxies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128))
    url: Mapped[str] = mapped_column(String(1024))  # main stream, without credentials
    sub_url: Mapped[str | None] = mapped_column(String(1024))
    # Write-only through the API. Kept in plaintext on purpose: RTSP/ONVIF digest and
    # basic authentication need it (like ``devices.password``); protect the database.
    username: Mapped[str | None] = mapped_column(String(128))
    password: Mapped[str | None] = mapped_column(String(128))
    transport: Mapped[str] = mapped_column(String(8), default="tcp")  # tcp | udp
    on_demand: Mapped[bool] = mapped_column(Boolean, default=True)
    gb_id: Mapped[str] = mapped_column(String(20), unique=True)
    civil_code: Mapped[str | None] = mapped_column(String(12))
    org: Mapped[str | None] = mapped_column(String(128))
    longitude: Mapped[float | None] = mapped_column(Float)
    latitude: Mapped[float | None] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(8), default="rtsp")  # rtsp | onvif
    onvif_xaddr: Mapped[str | None] = mapped_column(String(512))  # device service URL
    onvif_profile: Mapped[str | None] = mapped_column(String(64))  # main profile token
    onvif_ptz: Mapped[bool] = mapped_column(Boolean, default=False)
    manufacturer: Mapped[str | None] = mapped_column(String(64))
    model: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


__all__ = ["Proxy"]
