"""NATS subjects and message bodies between the control node and media nodes.

Requests are JSON on ``sharpeyes.media.<node>.<verb>`` (request/reply); heartbeats and
stream events are published on ``sharpeyes.media.heartbeat`` / ``sharpeyes.media.event``
so any control node can listen.  Bodies are validated by pydantic: a hostile or broken
peer gets a refusal, not a crash.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field

HEARTBEAT_SUBJECT = "sharpeyes.media.heartbeat"
EVENT_SUBJECT = "sharpeyes.media.event"


class Verb(StrEnum):
    OPEN = "open"
    ATTACH = "attach"
    DETACH = "detach"
    CLOSE = "close"


def request_subject(node_id: str, verb: Verb) -> str:
    return f"sharpeyes.media.{node_id}.{verb.value}"


class Heartbeat(BaseModel):
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    host: str = Field(max_length=255)
    pid: int = Field(ge=0)
    http_url: str = Field(max_length=512)
    capacity: int = Field(ge=1)
    streams: list[str] = Field(default_factory=list, max_length=100_000)
    viewers: int = Field(default=0, ge=0)
    cpu: float = Field(default=0.0, ge=0)
    loop_lag_ms: float = Field(default=0.0, ge=0)
    bytes_per_s: float = Field(default=0.0, ge=0)
    started_at: float = 0.0


class OpenReceiver(BaseModel):
    stream: str = Field(min_length=1, max_length=128)
    ssrc: int = Field(ge=0, le=0xFFFFFFFF)
    transport: Literal["udp", "tcp_active", "tcp_passive"] = "udp"
    peer: tuple[str, int] | None = None  # tcp_active: the device's address from its SDP


class OpenReply(BaseModel):
    port: int = Field(ge=1, le=65535)
    host: str


class StreamEventKind(StrEnum):
    FIRST_PACKET = "first_packet"
    TIMEOUT = "timeout"
    ENDED = "ended"


class StreamEvent(BaseModel):
    node: str
    stream: str
    kind: StreamEventKind
    reason: str | None = None
