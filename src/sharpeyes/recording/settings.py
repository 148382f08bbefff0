"""Recording settings (``[recording]`` in the TOML, ``SHARPEYES_RECORDING__*`` in the env)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class RecordingSettings(BaseModel):
    path: str = Field(default="data/recordings", description="segments and exported files")
    segment_s: float = Field(default=60.0, gt=0, description="segment length, cut at keyframes")
    min_free_percent: float = Field(
        default=5.0, ge=0, le=99, description="disk guard: free space kept on the recording disk"
    )
    quota_bytes: int | None = Field(
        default=None, description="cap on the bytes segments may use (besides the disk guard)"
    )
    retention_every_s: float = Field(default=60.0, gt=0)
    intact_min_ratio: float = Field(
        default=0.95,
        ge=0,
        le=1,
        description="录像完好: a scheduled day recorded at least this much",
    )
    retry_backoff_s: tuple[float, float] = (2.0, 60.0)
    record_part_timeout_s: float = Field(
        default=5.0, description="RecordInfo: partial result this long after the last part"
    )
    record_query_timeout_s: float = Field(
        default=10.0, description="RecordInfo: no part at all this long → 504"
    )
    max_jobs: int = Field(default=4, ge=1, description="downloads/clip exports at once")


__all__ = ["RecordingSettings"]
