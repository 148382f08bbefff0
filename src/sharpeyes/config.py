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

from sharpeyes.ledger.settings import LedgerSettings


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


class DbSettings(BaseModel):
    url: str = "sqlite+aiosqlite:///data/sharpeyes.db"


class MediaSettings(BaseModel):
    host: str = "127.0.0.1"
    port_range: tuple[int, int] = (30000, 30999)


class AuthSettings(BaseModel):
    admin_password: str | None = None
    token_ttl_s: int = 8 * 3600
    login_max_failures: int = 5
    login_lockout_s: float = 300.0


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHARPEYES_", env_nested_delimiter="__")

    sip: SipSettings = SipSettings()
    http: HttpSettings = HttpSettings()
    db: DbSettings = DbSettings()
    media: MediaSettings = MediaSettings()
    auth: AuthSettings = AuthSettings()
    ledger: LedgerSettings = LedgerSettings()

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
