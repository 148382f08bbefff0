"""Device controls, configuration, 2022 queries, event subscriptions and positions."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from sharpeyes.api.deps import DevicesDep, MessagesDep, Reader, Writer
from sharpeyes.messages.commands import Control
from sharpeyes.messages.subscriptions import EventKind
from sharpeyes.sharing.principal import Permission, has_permission

router = APIRouter(prefix="/api/devices", tags=["messages"])

DeviceId = Annotated[str, Field(max_length=20)]
ChannelIdQ = Annotated[str | None, Query(pattern=r"^\d{20}$")]


def _ip(request: Request) -> str | None:
    return request.client.host if request.client else None


class ControlIn(BaseModel):
    command: Control
    channel_id: str | None = Field(default=None, pattern=r"^\d{20}$")
    alarm_method: int | None = Field(default=None, ge=0, le=7)
    alarm_type: int | None = Field(default=None, ge=0, le=99)
    length: int | None = Field(default=None, ge=0, le=100_000, description="window width px")
    width: int | None = Field(default=None, ge=0, le=100_000, description="window height px")
    mid_x: int | None = Field(default=None, ge=0, le=100_000)
    mid_y: int | None = Field(default=None, ge=0, le=100_000)
    length_x: int | None = Field(default=None, ge=0, le=100_000)
    length_y: int | None = Field(default=None, ge=0, le=100_000)
    enabled: bool | None = None
    reset_time: int | None = Field(default=None, ge=0, le=86_400)
    preset_index: int | None = Field(default=None, ge=0, le=255)


class ControlOut(BaseModel):
    control: str
    target: str
    result: str


class BasicParamIn(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=64)
    expiration: int | None = Field(default=None, ge=60, le=604_800)
    heartbeat_interval: int | None = Field(default=None, ge=5, le=3600)
    heartbeat_count: int | None = Field(default=None, ge=1, le=100)


class SnapshotConfigIn(BaseModel):
    snap_num: int = Field(default=1, ge=1, le=10)
    interval: int = Field(default=1, ge=1, le=3600)
    upload_url: str = Field(max_length=256)
    session_id: str = Field(default="", max_length=128)


class ConfigIn(BaseModel):
    channel_id: str | None = Field(default=None, pattern=r"^\d{20}$")
    basic: BasicParamIn | None = None
    svac_encode: dict[str, Any] | None = None
    svac_decode: dict[str, Any] | None = None
    snapshot: SnapshotConfigIn | None = None


class ConfigOut(BaseModel):
    target: str
    result: str


class SubscribeIn(BaseModel):
    kind: Literal["alarm", "mobile_position"]
    expires: int = Field(default=3600, ge=10, le=86_400)
    interval: int | None = Field(default=None, ge=1, le=3600, description="MobilePosition, s")


class SubscriptionOut(BaseModel):
    device_id: str
    kind: str
    expires: int
    active: bool
    refreshes: int
    refresh_at: float
    fields: dict[str, Any]
    last_error: str | None


class PositionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    source_id: str
    at: datetime
    longitude: float
    latitude: float
    speed: float | None
    direction: float | None
    altitude: float | None


Query2022 = Literal[
    "ptz_position", "sd_card_status", "home_position", "cruise_tracks", "cruise_track"
]
_KINDS = {"alarm": EventKind.ALARM, "mobile_position": EventKind.MOBILE_POSITION}
_DRAG = {Control.DRAG_ZOOM_IN, Control.DRAG_ZOOM_OUT, Control.HOME_POSITION}


@router.post("/{device_id}/control", response_model=ControlOut)
async def control(
    device_id: str, body: ControlIn, principal: Writer, messages: MessagesDep, request: Request
) -> ControlOut:
    """TeleBoot, RecordCmd, GuardCmd, AlarmCmd, IFameCmd, DragZoomIn/Out, HomePosition."""
    params = body.model_dump(exclude={"command", "channel_id"}, exclude_none=True)
    # these move the camera: the PTZ right too
    if body.command in _DRAG and not has_permission(principal, Permission.PTZ):
        raise PermissionError("permission ptz required")
    out = await messages.control(
        principal,
        device_id,
        body.command,
        params,
        channel_id=body.channel_id,
        client_ip=_ip(request),
    )
    return ControlOut(**out)


@router.post("/{device_id}/config", response_model=ConfigOut)
async def configure(
    device_id: str, body: ConfigIn, principal: Writer, messages: MessagesDep, request: Request
) -> ConfigOut:
    """DeviceConfig: BasicParam, SVACEncodeConfig, SVACDecodeConfig, SnapShotConfig (2022)."""
    sections = {
        "basic": body.basic.model_dump(exclude_none=True) if body.basic else None,
        "svac_encode": body.svac_encode,
        "svac_decode": body.svac_decode,
        "snapshot": body.snapshot.model_dump() if body.snapshot else None,
    }
    out = await messages.configure(
        principal, device_id, sections, channel_id=body.channel_id, client_ip=_ip(request)
    )
    return ConfigOut(**out)


@router.get("/{device_id}/config")
async def config_download(
    device_id: str,
    principal: Reader,
    messages: MessagesDep,
    type: Annotated[str, Query(max_length=80, pattern=r"^[A-Za-z/]+$")] = "BasicParam",
) -> dict[str, Any]:
    """ConfigDownload: BasicParam, VideoParamOpt, SVACEncodeConfig, SVACDecodeConfig ("/")."""
    return await messages.config_download(principal, device_id, type)


@router.get("/{device_id}/query/alarm")
async def query_alarm(
    device_id: str,
    principal: Reader,
    messages: MessagesDep,
    start_priority: Annotated[int, Query(ge=0, le=4)] = 0,
    end_priority: Annotated[int, Query(ge=0, le=4)] = 0,
    method: Annotated[int, Query(ge=0, le=1234567)] = 0,
    alarm_type: Annotated[int | None, Query(ge=0, le=99)] = None,
    start_time: Annotated[str | None, Query(pattern=r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$")] = None,
    end_time: Annotated[str | None, Query(pattern=r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$")] = None,
) -> dict[str, Any]:
    filters = {
        "start_priority": start_priority,
        "end_priority": end_priority,
        "method": method,
        "alarm_type": alarm_type,
        "start_time": start_time,
        "end_time": end_time,
    }
    return await messages.query_alarms(principal, device_id, filters)


@router.get("/{device_id}/query/{what}")
async def query_2022(
    device_id: str,
    what: Query2022,
    principal: Reader,
    messages: MessagesDep,
    channel_id: ChannelIdQ = None,
    number: Annotated[int | None, Query(ge=0, le=255)] = None,
) -> dict[str, Any]:
    """GB/T 28181-2022 queries (PTZPosition, SDCardStatus, HomePosition, cruise tracks)."""
    return await messages.query_2022(
        principal, device_id, what, channel_id=channel_id, number=number
    )


@router.post("/{device_id}/subscriptions", response_model=SubscriptionOut)
async def subscribe(
    device_id: str, body: SubscribeIn, principal: Writer, messages: MessagesDep, request: Request
) -> SubscriptionOut:
    """Alarm or MobilePosition SUBSCRIBE (Event: presence), refreshed before it expires."""
    sub = await messages.subscribe(
        principal,
        device_id,
        _KINDS[body.kind],
        expires=body.expires,
        interval=body.interval,
        client_ip=_ip(request),
    )
    return SubscriptionOut(**sub.as_dict())


@router.get("/{device_id}/subscriptions", response_model=list[SubscriptionOut])
async def subscriptions(
    device_id: str, principal: Reader, messages: MessagesDep
) -> list[SubscriptionOut]:
    return [SubscriptionOut(**s) for s in await messages.subscriptions(principal, device_id)]


@router.delete("/{device_id}/subscriptions/{kind}")
async def unsubscribe(
    device_id: str,
    kind: Literal["alarm", "mobile_position"],
    principal: Writer,
    messages: MessagesDep,
    request: Request,
) -> dict[str, bool]:
    gone = await messages.unsubscribe(principal, device_id, _KINDS[kind], client_ip=_ip(request))
    return {"unsubscribed": gone}


@router.get("/{device_id}/positions", response_model=list[PositionOut])
async def positions(
    device_id: str,
    principal: Reader,
    messages: MessagesDep,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[PositionOut]:
    rows = await messages.positions(principal, device_id, since=since, until=until, limit=limit)
    return [PositionOut.model_validate(r) for r in rows]


@router.get("/{device_id}/track")
async def track(
    device_id: str,
    principal: Reader,
    messages: MessagesDep,
    since: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> dict[str, Any]:
    """The positions as one GeoJSON LineString Feature (the console map draws it)."""
    rows = await messages.positions(principal, device_id, since=since, limit=limit)
    coordinates = [[r.longitude, r.latitude] for r in rows]
    return {
        "type": "Feature",
        "geometry": {"type": "LineString", "coordinates": coordinates},
        "properties": {
            "device_id": device_id,
            "points": len(rows),
            "times": [r.at.isoformat() for r in rows],
        },
    }


@router.get("/{device_id}/messages")
async def message_counters(
    device_id: str, principal: Reader, messages: MessagesDep, devices: DevicesDep
) -> dict[str, int]:
    """Per-device counters: MANSCDP CmdTypes we do not know (answered per the standard)."""
    await devices.get_device(principal, device_id)
    return {"unknown_cmd": messages.unknown_count(device_id)}


__all__ = ["router"]
