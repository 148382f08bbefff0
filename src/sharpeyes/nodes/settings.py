"""``[nats]`` and ``[media_node]`` settings (env ``SHARPEYES_NATS__URL`` etc.)."""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator


class NatsSettings(BaseModel):
    url: str = "nats://127.0.0.1:4222"


class MediaNodeSettings(BaseModel):
    """One ``sharpeyes media`` process: the RTP ports and viewer HTTP listener it owns."""

    id: str = Field(default="media-1", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    advertised_host: str = Field(
        default="127.0.0.1", description="address put in SDP c= and in viewer URLs"
    )
    port_range: tuple[int, int] = (31000, 31999)
    http_host: str = "127.0.0.1"
    http_port: int = 8090
    capacity: int = Field(default=500, ge=1, description="upstream streams this node accepts")
    heartbeat_s: float = Field(default=2.0, gt=0, le=5.0)
    token_public_key: str | None = Field(
        default=None,
        description="PEM file of the control node's Ed25519 public key (stream tokens)",
    )

    @field_validator("port_range")
    @classmethod
    def _ports(cls, v: tuple[int, int]) -> tuple[int, int]:
        lo, hi = v
        if not 1024 <= lo <= hi <= 65535:
            raise ValueError("media_node.port_range must be two ports, low <= high, >= 1024")
        return v
