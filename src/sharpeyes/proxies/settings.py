"""Proxy settings (``[proxies]`` in the node's TOML, ``SHARPEYES_PROXIES__*`` in the env)."""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator


class ProxySettings(BaseModel):
    civil_code: str | None = Field(
        default=None,
        description="8-digit civil code of assigned gb_ids; default: the first 8 of sip.domain",
    )
    industry: str = Field(default="00", pattern=r"^\d{2}$", description="digits 9-10")
    serial_range: tuple[int, int] = Field(
        default=(1, 999999), description="digits 15-20 of assigned gb_ids (type 132, network 8)"
    )
    open_timeout_s: float = Field(default=8.0, description="RTSP connect + DESCRIBE/SETUP/PLAY")
    read_timeout_s: float = Field(default=5.0, description="no packet this long ends the pull")
    no_frames_timeout_s: float = Field(
        default=8.0, description="connected but no usable video this long: no_frames"
    )
    probe_s: float = Field(
        default=0.5, ge=0.05, le=10, description="how much media FFmpeg probes before playing"
    )
    backoff_initial_s: float = Field(default=1.0, description="always-on: first retry delay")
    backoff_max_s: float = 60.0
    backoff_jitter: float = Field(default=0.1, ge=0, le=0.5)
    onvif_timeout_s: float = 10.0
    discovery_timeout_s: float = 3.0
    discovery_port: int = Field(default=3702, description="WS-Discovery port of unicast probes")

    @field_validator("serial_range")
    @classmethod
    def _range(cls, v: tuple[int, int]) -> tuple[int, int]:
        lo, hi = v
        if not 0 <= lo <= hi <= 999999:
            raise ValueError("proxies.serial_range must be two serials 0..999999, low <= high")
        return v

    @field_validator("civil_code")
    @classmethod
    def _civil(cls, v: str | None) -> str | None:
        if v is not None and (len(v) != 8 or not v.isdigit()):
            raise ValueError("proxies.civil_code must be 8 digits")
        return v


__all__ = ["ProxySettings"]
