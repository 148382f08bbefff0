"""Request and response bodies of the ledger, map and jobs API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from sharpeyes.api.schemas import PageOut

Loose = str | int | float | bool | None


class RegionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    code: str
    name: str
    level: str
    kind: str | None = None
    parent_code: str | None = None
    source: str


class RegionDetailOut(RegionOut):
    path: list[dict[str, str]]
    children: int


class RegionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(pattern=r"^\d{2,12}$")
    name: str = Field(min_length=1, max_length=64)
    parent_code: str = Field(pattern=r"^\d{2,12}$")
    level: str | None = Field(default=None, description="township | village | community …")
    kind: str | None = Field(default=None, max_length=16, description="镇 / 乡 / 街道 / 村 / 社区")


class RegionBulkIn(BaseModel):
    items: list[RegionIn] = Field(max_length=5000)


class RegionPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=64)
    level: str | None = None
    kind: str | None = Field(default=None, max_length=16)


class PoliceStationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    region_code: str
    code: str | None = None
    address: str | None = None
    phone: str | None = None


class PoliceStationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=64)
    region_code: str = Field(pattern=r"^\d{2,12}$")
    code: str | None = Field(default=None, max_length=32)
    address: str | None = Field(default=None, max_length=256)
    phone: str | None = Field(default=None, max_length=32)


class PoliceStationPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=64)
    region_code: str | None = Field(default=None, pattern=r"^\d{2,12}$")
    code: str | None = Field(default=None, max_length=32)
    address: str | None = Field(default=None, max_length=256)
    phone: str | None = Field(default=None, max_length=32)


class OrganisationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    type: str
    level: str | None = None
    parent_id: int | None = None
    region_code: str | None = None
    code: str | None = None
    contact: str | None = None
    phone: str | None = None


class OrganisationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=128)
    type: str = Field(description="public_security, data_bureau, education … or its Chinese label")
    level: str | None = Field(default=None, description="city | county | township | village")
    parent_id: int | None = None
    region_code: str | None = Field(default=None, pattern=r"^\d{2,12}$")
    code: str | None = Field(default=None, max_length=32)
    contact: str | None = Field(default=None, max_length=64)
    phone: str | None = Field(default=None, max_length=32)


class OrganisationPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=128)
    type: str | None = None
    level: str | None = None
    parent_id: int | None = None
    region_code: str | None = Field(default=None, pattern=r"^\d{2,12}$")
    code: str | None = Field(default=None, max_length=32)
    contact: str | None = Field(default=None, max_length=64)
    phone: str | None = Field(default=None, max_length=32)


class PlatformFields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    vendor: str | None = Field(default=None, max_length=64)
    gb28181: bool | None = None
    gat1400: str | None = Field(default=None, max_length=256)
    address: str | None = Field(default=None, max_length=256)
    network_mode: str | None = Field(default=None, max_length=256)
    security: str | None = Field(default=None, max_length=256)
    storage_days: int | None = Field(default=None, ge=0, le=36500)
    description: str | None = Field(default=None, max_length=512)
    model_version: str | None = Field(default=None, max_length=256)
    sharing_capability: str | None = Field(default=None, max_length=512)
    connected: str | None = Field(default=None, max_length=128)
    code: str | None = Field(default=None, pattern=r"^\d{20}$")
    cascade: str | None = Field(default=None, max_length=128)
    build_date: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}(-\d{2})?$")
    build_cost: float | None = Field(default=None, ge=0)
    om_cost: float | None = Field(default=None, ge=0)
    org_id: int | None = None
    region_code: str | None = Field(default=None, pattern=r"^\d{2,12}$")


class PlatformIn(PlatformFields):
    name: str = Field(min_length=1, max_length=128)


class PlatformPatch(PlatformFields):
    name: str | None = Field(default=None, min_length=1, max_length=128)


class PlatformOut(PlatformFields):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    code: str | None = None
    build_date: str | None = None
    updated_at: datetime | None = None
    updated_by: str | None = None


class InternalSystemFields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    address: str | None = Field(default=None, max_length=256)
    police_station_id: int | None = None
    build_date: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}(-\d{2})?$")
    camera_count: int | None = Field(default=None, ge=0)
    front_end_models: str | None = Field(default=None, max_length=512)
    system_model: str | None = Field(default=None, max_length=256)
    gb28181: bool | None = None
    codec: str | None = Field(default=None, max_length=32)
    key_entrance_count: int | None = Field(default=None, ge=0)
    network_mode: str | None = Field(default=None, max_length=128)
    data_description: str | None = Field(default=None, max_length=512)
    data_system_model: str | None = Field(default=None, max_length=256)
    data_front_end: str | None = Field(default=None, max_length=256)
    data_volume: str | None = Field(default=None, max_length=128)
    data_network_mode: str | None = Field(default=None, max_length=128)
    remark: str | None = Field(default=None, max_length=512)
    org_id: int | None = None
    region_code: str | None = Field(default=None, pattern=r"^\d{2,12}$")


class InternalSystemIn(InternalSystemFields):
    name: str = Field(min_length=1, max_length=128)


class InternalSystemPatch(InternalSystemFields):
    name: str | None = Field(default=None, min_length=1, max_length=128)


class InternalSystemOut(InternalSystemFields):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    build_date: str | None = None
    updated_at: datetime | None = None
    updated_by: str | None = None


class CameraIn(BaseModel):
    """Ledger fields of a camera record. Closed lists take the code or the Chinese
    label (``"status": "在用"``); coordinates may be strings so that typed decimals
    are checked as typed (≥ 6 decimals, the 6th not 0)."""

    model_config = ConfigDict(extra="forbid")
    code: str | None = Field(default=None, max_length=20)
    name: str | None = Field(default=None, max_length=128)
    osd_text: str | None = Field(default=None, max_length=128)
    location_name: str | None = Field(default=None, max_length=256)
    platform_name: str | None = Field(default=None, max_length=128)
    platform_id: int | None = None
    brand: str | None = Field(default=None, max_length=64)
    region_code: str | None = Field(default=None, max_length=12)
    police_station_id: int | None = None
    longitude: float | str | None = None
    latitude: float | str | None = None
    build_date: str | None = Field(default=None, max_length=16)
    leased: bool | str | None = None
    status: str | None = Field(default=None, max_length=16)
    integration_method: str | None = Field(default=None, max_length=24)
    pole_build_date: str | None = Field(default=None, max_length=16)
    pole_number: str | None = Field(default=None, max_length=64)
    pole_height_m: float | None = None
    pole_arms: int | None = None
    pole_condition: str | None = Field(default=None, max_length=16)
    point_class: int | str | None = None
    key_area_category: str | None = Field(default=None, max_length=32)
    place: str | None = Field(default=None, max_length=128)
    network: str | None = Field(default=None, max_length=16)
    owner_org_id: int | None = None
    maintainer_org_id: int | None = None
    shareable: bool | str | None = None
    storage_days: int | None = None
    camera_type: int | str | None = None
    direction: int | str | None = None
    position_type: int | None = None
    room_type: int | None = None
    use_type: int | None = None
    resolution: str | None = Field(default=None, max_length=32)
    codec: str | None = Field(default=None, max_length=16)
    social: bool | str | None = None
    remark: str | None = Field(default=None, max_length=512)


class CameraOut(BaseModel):
    """A record: ledger fields, derived quality flags, names of what it references,
    and — when a channel with its code exists — the device's own view (read-only)
    with the overlapping fields compared."""

    model_config = ConfigDict(extra="allow")
    id: int
    code: str | None
    name: str | None
    longitude: float | None
    latitude: float | None
    region_code: str | None
    status: str | None
    point_class: int | None
    key_area_category: str | None
    network: str | None
    complete: bool
    on_map: bool
    issues: list[dict[str, Any]]
    linked: bool
    region_name: str | None = None
    police_station_name: str | None = None
    owner_org_name: str | None = None
    maintainer_org_name: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    updated_by: str | None = None
    device: dict[str, Any] | None = None
    compare: dict[str, Any] | None = None


class ChangeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    at: datetime
    username: str | None
    entity: str
    entity_id: str | None
    action: str
    changes: dict[str, Any] | None
    job_id: str | None


class ImportErrorOut(BaseModel):
    row: int
    column: str
    value: Any = None
    reason: str


class JobOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    job_id: str
    kind: str
    state: str
    progress: float
    imported: int = 0
    errors: list[ImportErrorOut] = []
    message: str | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None


class JobStartOut(BaseModel):
    job_id: str
    state: str


class CameraPageOut(PageOut[CameraOut]):
    """A page of the camera list; ``total`` is the planner's estimate when
    ``total_estimated`` (more than ``ledger.queries.COUNT_CAP`` matches, PostgreSQL)."""

    total_estimated: bool = False
