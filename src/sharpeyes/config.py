"""Node settings: one TOML file plus ``SHARPEYES_SECTION__KEY`` environment overrides.

Defaults are chosen so ``sharpeyes demo`` and the tests need no file at all.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from sharpeyes.audit.settings import AuditSettings
from sharpeyes.health.settings import HealthSettings
from sharpeyes.ledger.settings import LedgerSettings
from sharpeyes.nodes.settings import MediaNodeSettings, NatsSettings
from sharpeyes.ops.settings import OpsSettings
from sharpeyes.proxies.settings import ProxySettings
from sharpeyes.recording.settings import RecordingSettings


class SipSettings(BaseModel):
    id: str = "34020000002000000001"
    domain: str = "3402000000"
    host: str = "0.0.0.0"
    advertised_host: str | None = Field(
        default=None, description="address put in Via/Contact when host is a wildcard or behind NAT"
    )
    port: int = 5060
    password: str = "12345678"
    realm: str | None = Field(default=None, description="digest realm; defaults to the domain")
    digest_sha256: Literal["off", "offer", "prefer"] = Field(
        default="offer", description="also challenge devices with SHA-256 digest (GB/T 28181-2022)"
    )
    register_expires_min: int = 3600
    register_expires_default: int = 86400
    nonce_max_age: float = 300.0
    keepalive_interval: int = 60
    keepalive_timeout_count: int = 3
    admission: Literal["open", "approve"] = "open"
    auth_max_failures: int = 10
    auth_ip_max_failures: int = 200
    auth_lockout_s: float = 300.0
    catalog_timeout_s: float = 30.0
    query_timeout_s: float = 10.0
    charset: str = "GB2312"
    user_agent: str = "sharpeyes"
    timezone: str = "Asia/Shanghai"
    t1: float = 0.5

    @field_validator("id")
    @classmethod
    def _id_is_platform(cls, v: str) -> str:
        if not re.fullmatch(r"\d{20}", v) or v[10:13] != "200":
            raise ValueError("sip.id must be a 20-digit GB code with type 200 (digits 11-13)")
        return v

    @property
    def digest_realm(self) -> str:
        return self.realm or self.domain


class HttpSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 8080
    tls_cert: str | None = Field(
        default=None, description="PEM certificate (chain) file: serve HTTPS/WSS when set"
    )
    tls_key: str | None = Field(default=None, description="PEM private key file for tls_cert")


class DbSettings(BaseModel):
    url: str = "sqlite+aiosqlite:///data/sharpeyes.db"
    pool_size: int | None = Field(
        default=None, ge=1, description="pooled connections (default: SQLite 1, others 10)"
    )
    max_overflow: int | None = Field(
        default=None,
        ge=0,
        description="extra connections under bursts (default: SQLite 0, others 10)",
    )
    pool_timeout_s: float | None = Field(
        default=None,
        gt=0,
        description="wait for a pooled connection, then fail (default: SQLite 30 s, others 10 s)",
    )


class MediaSettings(BaseModel):
    """Live media (RTP in, fMP4/HLS out). Ports stay below 32768 (Linux ephemeral range)."""

    host: str = Field(default="127.0.0.1", description="address RTP sockets bind to")
    advertised_host: str | None = Field(
        default=None,
        description="address put in SDP c= (NAT); defaults to host, or the SIP address",
    )
    port_range: tuple[int, int] = (30000, 30999)
    max_sessions: int = Field(default=500, description="upstream streams; more get HTTP 503")
    max_loop_lag_ms: float = Field(
        default=250.0, description="refuse new streams while the event loop lags more than this"
    )
    udp_receive: Literal["batched", "native"] = Field(
        default="batched",
        description="batched: drain each RTP socket with recvmmsg (C) per wake-up; "
        "native: the event loop's one-datagram-per-read UDP transport",
    )
    invite_timeout_s: float = 8.0
    no_rtp_timeout_s: float = Field(
        default=10.0, description="no usable RTP (or no frames) this long ends the stream"
    )
    idle_grace_s: float = Field(default=15.0, description="BYE this long after the last viewer")
    tcp_connect_timeout_s: float = 5.0
    token_ttl_s: int = Field(default=90, description="stream URL tokens: time to start playing")
    ssrc_check: Literal["strict", "latch"] = Field(
        default="strict",
        description="strict: only the SSRC of y= counts; latch: follow what the device sends",
    )
    check_source: bool = Field(
        default=True, description="accept RTP only from the device's SIP or SDP address"
    )
    mode: Literal["embedded", "nodes"] = Field(
        default="embedded",
        description="embedded: media in this process; nodes: media nodes over NATS ([nats])",
    )
    token_key_file: str = Field(
        default="data/media-token-ed25519.pem",
        description="nodes mode: Ed25519 key signing media-node stream tokens (made if absent)",
    )
    gop_cache_max_bytes: int = 8 * 1024 * 1024
    viewer_queue_max_bytes: int = 8 * 1024 * 1024
    hls_segment_s: float = 2.0
    hls_window: int = 6
    hls_idle_s: float = 30.0
    hls_session_max_s: float = Field(
        default=4 * 3600,
        gt=0,
        description="an HLS client may poll this long after play; then it must play again",
    )

    @field_validator("port_range")
    @classmethod
    def _ports(cls, v: tuple[int, int]) -> tuple[int, int]:
        lo, hi = v
        if not 1024 <= lo <= hi <= 65535:
            raise ValueError("media.port_range must be two ports, low <= high, >= 1024")
        return v


class AuthSettings(BaseModel):
    admin_password: str | None = None
    token_ttl_s: int = 8 * 3600
    login_max_failures: int = 5
    login_lockout_s: float = 300.0


class UiSettings(BaseModel):
    """The web console (``[ui]``): where its files are and what its map shows."""

    dist: str | None = Field(
        default=None, description="folder of the built console; default: web/dist of the repo"
    )
    tile_url: str | None = Field(
        default=None,
        description="XYZ tile URL template, e.g. http://tiles.local/{z}/{x}/{y}.png; "
        "none: the console draws its bundled China basemap (offline networks)",
    )
    tile_attribution: str | None = None
    tile_subdomains: str = "abc"
    tile_max_zoom: int = Field(default=18, ge=1, le=22)
    map_crs: Literal["wgs84", "gcj02"] = Field(
        default="wgs84", description="gcj02 for Gaode/Tencent tiles: points are shifted to match"
    )
    map_center: tuple[float, float] | None = Field(
        default=None, description="initial [lon, lat]; default: fit the cameras"
    )
    map_zoom: int | None = Field(default=None, ge=1, le=19)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHARPEYES_", env_nested_delimiter="__")

    sip: SipSettings = SipSettings()
    http: HttpSettings = HttpSettings()
    db: DbSettings = DbSettings()
    media: MediaSettings = MediaSettings()
    auth: AuthSettings = AuthSettings()
    ledger: LedgerSettings = LedgerSettings()
    audit: AuditSettings = AuditSettings()
    health: HealthSettings = HealthSettings()
    ui: UiSettings = UiSettings()
    ops: OpsSettings = OpsSettings()
    proxies: ProxySettings = ProxySettings()
    recording: RecordingSettings = RecordingSettings()
    nats: NatsSettings = NatsSettings()
    media_node: MediaNodeSettings = MediaNodeSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # environment beats the TOML file, which is passed as init values
        return env_settings, init_settings


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = (
            _deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
        )
    return out


def load_settings(path: str | Path | None = None, **overrides: Any) -> Settings:
    """Settings from an optional TOML file, then env, then explicit overrides."""
    data: dict[str, Any] = {}
    if path is not None:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    settings = Settings(**data)
    if overrides:
        settings = Settings.model_validate(_deep_merge(settings.model_dump(), overrides))
    return settings
