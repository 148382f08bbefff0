"""Tables of platform recording (中心录像): record plans and the segment index.

Segments are the index queries use (the timeline, playback, clips, retention,
the disk guard): nothing ever scans the recording folders except the repair at
start. Times are Unix seconds as floats (sub-second cut points, cheap range
queries on both backends). ``complete`` is false only for the segment being
written; after a crash the repair makes the row and the file agree.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from sharpeyes.store.models import Base, BigIntPK, JSONType, UTCDateTime, utcnow


class RecordPlan(Base):
    __tablename__ = "record_plans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    # [{"weekday": 0-6 (Monday 0), "start": "HH:MM", "end": "HH:MM"}]; empty: always
    schedule: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONType)
    storage_days: Mapped[int] = mapped_column(Integer, default=30)
    stream: Mapped[str] = mapped_column(String(8), default="main")
    channels: Mapped[list[int] | None] = mapped_column(JSONType)  # channel primary keys
    # {"devices": [...], "regions": [...civil-code prefixes], "orgs": [...], "classes": [...]}
    selectors: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class RecordSegment(Base):
    __tablename__ = "record_segments"
    __table_args__ = (
        Index("ix_record_segments_channel_pk_start", "channel_pk", "start"),
        Index("ix_record_segments_keep_until", "keep_until"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    channel_pk: Mapped[int] = mapped_column(Integer)
    channel_id: Mapped[str] = mapped_column(String(20))
    start: Mapped[float] = mapped_column(Float)
    end: Mapped[float] = mapped_column(Float)
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    path: Mapped[str] = mapped_column(String(512))  # relative to recording.path
    codec: Mapped[str | None] = mapped_column(String(16))
    fmt: Mapped[str] = mapped_column(String(8), default="fmp4")
    frames: Mapped[int] = mapped_column(Integer, default=0)
    # holes inside the segment (lost packets that cost frames): [[start, end], ...]
    gaps: Mapped[list[list[float]] | None] = mapped_column(JSONType)
    keep_until: Mapped[float] = mapped_column(Float)  # end + the longest storage_days
    complete: Mapped[bool] = mapped_column(Boolean, default=False)


__all__ = ["RecordPlan", "RecordSegment"]
