"""Response and request bodies of the HTTP API (the OpenAPI contract)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, computed_field, field_validator

from sharpeyes.devices.service import device_kind

T = TypeVar("T")


class PageOut(BaseModel, Generic[T]):
    items: list[T]
    total: int
    offset: int
    limit: int


class LoginIn(BaseModel):
    username: str = Field(max_length=128)
    password: str = Field(max_length=1024)
    otp: str | None = Field(default=None, max_length=12, description="TOTP code, when enrolled")


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    username: str
    role: str
    display_name: str | None = None
    disabled: bool = False
    region_codes: list[str] | None = None
    org_id: int | None = None
    totp_enabled: bool = False
    must_change_password: bool = False


class LoginOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int
    user: UserOut


class DeviceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    name: str | None
    manufacturer: str | None
    model: str | None
    firmware: str | None
    admission: str
    transport: str
    remote_host: str | None
    remote_port: int | None
    charset: str
    media_transport: str
    online: bool
    registered_at: datetime | None
    register_expires_at: datetime | None
    last_keepalive_at: datetime | None
    keepalive_deadline: datetime | None
    keepalive_interval: int
    keepalive_timeout_count: int
    channel_count: int
    catalog_synced_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @computed_field(description="platform: a lower platform (ID type 200); device otherwise")
    def kind(self) -> str:
        return device_kind(self.id)


class DeviceDetailOut(DeviceOut):
    id_info: dict[str, Any] | None = None
    has_password_override: bool = False
    interop: dict[str, int] = Field(
        default_factory=dict, description="third-party habits tolerated from this device, counted"
    )


class DeviceUpdateIn(BaseModel):
    name: str | None = Field(default=None, max_length=128)
    password: str | None = Field(
        default=None, max_length=128, description="per-device SIP password; empty clears"
    )
    charset: Literal["GB2312", "UTF-8"] | None = None
    media_transport: Literal["udp", "tcp-passive", "tcp-active"] | None = None

    @field_validator("charset", "media_transport", mode="before")
    @classmethod
    def _not_null(cls, value: object) -> object:
        # These columns always have a value: null is refused, omitting keeps it.
        if value is None:
            raise ValueError("must not be null; omit the field to keep the current value")
        return value


class AdmissionIn(BaseModel):
    admission: Literal["admitted", "pending", "rejected"]


class ChannelOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    device_id: str
    channel_id: str
    kind: str
    online: bool
    name: str | None
    manufacturer: str | None
    model: str | None
    owner: str | None
    civil_code: str | None
    block: str | None
    address: str | None
    parental: int | None
    parent_id: str | None
    safety_way: int | None
    register_way: int | None
    cert_num: str | None
    certifiable: int | None
    err_code: int | None
    end_time: datetime | None
    secrecy: int | None
    ip_address: str | None
    port: int | None
    status: str | None
    longitude: float | None
    latitude: float | None
    ptz_type: int | None
    position_type: int | None
    room_type: int | None
    use_type: int | None
    supply_light_type: int | None
    direction_type: int | None
    resolution: str | None
    business_group_id: str | None
    download_speed: str | None
    svc_space_support_mode: int | None
    svc_time_support_mode: int | None
    extra: dict[str, Any] | None
    updated_at: datetime


class StatusEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    device_id: str
    channel_id: str | None
    online: bool
    at: datetime
    reason: str


class AlarmOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    device_id: str
    alarm_device_id: str
    priority: int | None
    method: int | None
    alarm_type: int | None
    alarm_time: datetime | None
    received_at: datetime
    description: str | None
    longitude: float | None
    latitude: float | None
    extra: dict[str, Any] | None
    reset_sent_at: datetime | None
    acknowledged_by: str | None
    acknowledged_at: datetime | None


PtzAction = Literal[
    "left", "right", "up", "down", "upleft", "upright", "downleft", "downright",
    "zoomin", "zoomout", "stop", "preset_set", "preset_call", "preset_delete",
    "focus_near", "focus_far", "iris_open", "iris_close", "fi_stop",
    "cruise_add", "cruise_remove", "cruise_speed", "cruise_dwell", "cruise_start", "cruise_stop",
    "scan_left", "scan_right", "scan_speed", "scan_start", "scan_stop",
    "wiper_on", "wiper_off", "aux_on", "aux_off",
]  # fmt: skip


class PtzIn(BaseModel):
    action: PtzAction
    speed: int = Field(default=128, ge=0, le=255)
    preset: int | None = Field(default=None, ge=1, le=255)
    group: int | None = Field(default=None, ge=0, le=255, description="cruise / scan number")
    value: int | None = Field(
        default=None, ge=1, le=4095, description="cruise speed, dwell seconds or scan speed"
    )
    switch: int | None = Field(default=None, ge=0, le=255, description="auxiliary switch")


class PtzOut(BaseModel):
    ok: bool = True
    command: str


class CatalogSyncOut(BaseModel):
    complete: bool
    items: int
    expected: int | None


class UserCreateIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=8, max_length=1024)
    role: Literal[
        "admin",
        "operator",
        "viewer",
        "reviewer_police",
        "reviewer_data",
        "department",
        "auditor",
    ]
    display_name: str | None = Field(default=None, max_length=128)
    region_codes: list[str] | None = None
    org_id: int | None = None
    temporary_password: bool = Field(
        default=False, description="the user must choose a new password at first login"
    )


class UserUpdateIn(BaseModel):
    password: str | None = Field(default=None, min_length=8, max_length=1024)
    role: (
        Literal[
            "admin",
            "operator",
            "viewer",
            "reviewer_police",
            "reviewer_data",
            "department",
            "auditor",
        ]
        | None
    ) = None
    display_name: str | None = Field(default=None, max_length=128)
    disabled: bool | None = None
    region_codes: list[str] | None = None
    org_id: int | None = None
    must_change_password: bool | None = None
