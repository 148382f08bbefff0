"""Saved live-view layouts and camera groups (tours run over a group), per user."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from sharpeyes.store.models import Base, JSONType, UTCDateTime, utcnow


class ViewKind(StrEnum):
    LAYOUT = "layout"  # {"layout": 4|9|16, "channels": [pk or null, …]}
    GROUP = "group"  # {"channels": [pk, …], "dwell": seconds}


class ConsoleView(Base):
    __tablename__ = "console_views"
    __table_args__ = (UniqueConstraint("user_id", "kind", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
