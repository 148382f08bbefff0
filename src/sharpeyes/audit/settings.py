"""``[audit]`` settings."""

from __future__ import annotations

from pydantic import BaseModel, Field


class AuditSettings(BaseModel):
    retention_days: int | None = Field(
        default=None, ge=1, description="archive and remove rows older than this; none: keep all"
    )
    archive_dir: str = Field(
        default="audit-archive", description="where archived rows go (JSON lines)"
    )
