"""``[ops]`` settings: who may scrape metrics, and the log format."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class OpsSettings(BaseModel):
    metrics_token: str | None = Field(
        default=None,
        description="bearer token a scraper presents at /metrics on the API port; unset: "
        "/metrics is refused there (use metrics_port)",
    )
    metrics_host: str = Field(
        default="127.0.0.1", description="management address of the metrics-only listener"
    )
    metrics_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="a metrics-only listener on metrics_host (no token: bind it to a "
        "management network); unset: none",
    )
    log_format: Literal["text", "json"] = Field(
        default="text", description="json: one JSON object per line (for log shippers)"
    )
