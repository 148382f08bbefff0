"""Recordings: device recordings (find, play, control, download) and platform recording.

Times in and out are Unix seconds; inputs may also be ISO 8601 (a time without
a zone is the node's ``sip.timezone``). Playback answers like ``play`` (signed
WebSocket/HLS URLs); the stream's controls are MANSRTSP to the device.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from sharpeyes.api.deps import NodeDep, require
from sharpeyes.api.params import Int64
from sharpeyes.jobs import JobNotFound
from sharpeyes.live.history import ControlAction, ControlError
from sharpeyes.recording.plans import PlanIn, PlanNotFound
from sharpeyes.recording.service import NoRecording
from sharpeyes.sharing.principal import Permission, Principal

router = APIRouter(tags=["recording"])

Player = Annotated[Principal, Depends(require(Permission.PLAYBACK))]
Downloader = Annotated[Principal, Depends(require(Permission.DOWNLOAD))]

# Unix seconds or an ISO time (local time of sip.timezone when it has no offset).
TimeIn = Int64 | datetime


def _unix(node: Any, value: TimeIn) -> int:
    if isinstance(value, int):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=node.recording.tz)
    return int(value.timestamp())


def _client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


class PlaybackIn(BaseModel):
    source: Literal["device", "platform"] = "device"
    start: TimeIn
    end: TimeIn


class PlaybackOut(BaseModel):
    session_id: str
    source: str
    kind: str
    start: int
    end: int
    duration_s: float
    transport: str
    ws_url: str
    hls_url: str
    token: str
    expires_at: datetime
    codec: str | None
    mime_codec: str | None
    mime: str | None
    width: int | None
    height: int | None


class ControlIn(BaseModel):
    action: ControlAction
    position_s: float | None = Field(default=None, description="seek: seconds from the start")
    scale: float | None = Field(default=None, description="speed: 0.25, 0.5, 1, 2, 4 or 8")


class DownloadIn(BaseModel):
    start: TimeIn
    end: TimeIn
    speed: int = Field(default=1, ge=1, le=8, description="the device's DownloadSpeed")


@router.get("/api/channels/{channel_pk}/device-records")
async def device_records(
    channel_pk: Int64,
    principal: Player,
    node: NodeDep,
    start: Annotated[TimeIn, Query()],
    end: Annotated[TimeIn, Query()],
    type: Literal["time", "alarm", "manual", "all"] = "all",
) -> dict[str, Any]:
    """RecordInfo to the device (a day per query), parts aggregated, spans merged."""
    return await node.recording.device_records.channel_records(
        principal, channel_pk, _unix(node, start), _unix(node, end), type
    )


@router.post("/api/channels/{channel_pk}/playback", response_model=PlaybackOut)
async def playback(
    channel_pk: Int64, body: PlaybackIn, request: Request, principal: Player, node: NodeDep
) -> PlaybackOut:
    """Play a recording: ``source=device`` INVITEs the camera/NVR with ``s=Playback``."""
    start, end = _unix(node, body.start), _unix(node, body.end)
    if body.source == "platform":
        try:
            grant = await node.recording.play_platform(
                principal, channel_pk, start, end, client_ip=_client_ip(request)
            )
        except NoRecording as exc:
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    else:
        grant = await node.live.history.open(
            principal, channel_pk, start, end, client_ip=_client_ip(request)
        )
    s = grant.session
    ws_scheme = "wss" if request.url.scheme == "https" else "ws"
    base = f"{request.url.netloc}/api/streams/{s.id}"
    info = s.hub.info()
    return PlaybackOut(
        session_id=s.id,
        source=body.source,
        kind=s.key.kind.value,
        start=start,
        end=end,
        duration_s=float(end - start),
        transport=s.transport,
        ws_url=f"{ws_scheme}://{base}/ws?token={grant.token}",
        hls_url=f"{request.url.scheme}://{base}/hls/index.m3u8?token={grant.token}",
        token=grant.token,
        expires_at=datetime.fromtimestamp(grant.expires_at, UTC),
        codec=info["codec"],  # type: ignore[arg-type]
        mime_codec=info["mime_codec"],  # type: ignore[arg-type]
        mime=info["mime"],  # type: ignore[arg-type]
        width=info["width"],  # type: ignore[arg-type]
        height=info["height"],  # type: ignore[arg-type]
    )


@router.post("/api/streams/{session_id}/control")
async def control(
    session_id: str, body: ControlIn, principal: Player, node: NodeDep
) -> dict[str, Any]:
    """pause | resume | seek (position_s) | speed (scale) a playback stream."""
    try:
        r = await node.recording.control(
            principal, session_id, body.action, position_s=body.position_s, scale=body.scale
        )
    except LookupError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    except ControlError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from exc
    return {
        "session_id": r.session_id,
        "action": body.action.value,
        "position_s": round(r.position_s, 3),
        "paused": r.paused,
        "scale": r.scale,
    }


@router.post("/api/channels/{channel_pk}/downloads", status_code=202)
async def start_download(
    channel_pk: Int64, body: DownloadIn, request: Request, principal: Downloader, node: NodeDep
) -> dict[str, Any]:
    """A background job downloading the device's recording (``s=Download``) into an MP4."""
    state = await node.recording.downloads.submit(
        principal,
        channel_pk,
        _unix(node, body.start),
        _unix(node, body.end),
        speed=body.speed,
        client_ip=_client_ip(request),
    )
    return state.as_dict()


@router.get("/api/downloads/{job_id}")
async def get_download(job_id: str, principal: Downloader, node: NodeDep) -> dict[str, Any]:
    try:
        return await node.recording.downloads.get(principal, job_id)
    except (LookupError, JobNotFound) as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such download") from exc


@router.get("/api/downloads/{job_id}/file")
async def download_file(job_id: str, principal: Downloader, node: NodeDep) -> FileResponse:
    """The MP4 of a finished download (or clip export): only its owner (or an admin)."""
    try:
        state = await node.recording.jobs.get(principal, job_id)
    except JobNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such download") from exc
    path = node.recording.downloads.file_of(state.id)
    if state.state != "done" or not path.is_file():
        raise HTTPException(status.HTTP_409_CONFLICT, f"the job is {state.state}, no file yet")
    return FileResponse(path, media_type="video/mp4", filename=f"{state.kind}-{state.id}.mp4")


# --- platform recording ---------------------------------------------------------------

Planner = Annotated[Principal, Depends(require(Permission.RECORDING_PLANS))]


class ClipIn(BaseModel):
    start: TimeIn
    end: TimeIn


@router.get("/api/channels/{channel_pk}/recordings")
async def recordings(
    channel_pk: Int64,
    principal: Player,
    node: NodeDep,
    start: Annotated[TimeIn, Query()],
    end: Annotated[TimeIn, Query()],
    source: Literal["device", "platform", "all"] = "all",
) -> dict[str, Any]:
    """The timeline: device and platform spans as ``{source, start, end, type}``, and gaps."""
    return await node.recording.timeline(
        principal, channel_pk, _unix(node, start), _unix(node, end), source
    )


@router.get("/api/channels/{channel_pk}/recordings/integrity")
async def integrity(
    channel_pk: Int64, principal: Player, node: NodeDep, day: date | None = None
) -> dict[str, Any]:
    """录像完好率 of a local day (default today): recorded ÷ scheduled seconds."""
    ch = await node.devices.get_channel(principal, channel_pk)  # scope
    when = day or datetime.now(node.recording.tz).date()
    return await node.recording.integrity(ch.id, when)


@router.post("/api/channels/{channel_pk}/clips", status_code=202)
async def export_clip(
    channel_pk: Int64, body: ClipIn, request: Request, principal: Downloader, node: NodeDep
) -> dict[str, Any]:
    """Clip export from platform segments: a job; poll ``GET /api/jobs/{job_id}``."""
    try:
        state = await node.recording.export(
            principal,
            channel_pk,
            _unix(node, body.start),
            _unix(node, body.end),
            client_ip=_client_ip(request),
        )
    except NoRecording as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    return state.as_dict()


@router.get("/api/recording/plans")
async def list_plans(principal: Player, node: NodeDep) -> list[dict[str, Any]]:
    return await node.recording.plans.list_all()


@router.post("/api/recording/plans", status_code=201)
async def create_plan(body: PlanIn, principal: Planner, node: NodeDep) -> dict[str, Any]:
    """A record plan: schedule (empty = always), storage_days, stream, channels, selectors."""
    return await node.recording.create_plan(body, principal.username)


@router.get("/api/recording/plans/{plan_id}")
async def get_plan(plan_id: Int64, principal: Player, node: NodeDep) -> dict[str, Any]:
    return await _plan(node.recording.plans.get(plan_id))


@router.put("/api/recording/plans/{plan_id}")
async def update_plan(
    plan_id: Int64, body: PlanIn, principal: Planner, node: NodeDep
) -> dict[str, Any]:
    return await _plan(node.recording.update_plan(plan_id, body))


@router.delete("/api/recording/plans/{plan_id}", status_code=204)
async def delete_plan(plan_id: Int64, principal: Planner, node: NodeDep) -> None:
    await _plan(node.recording.delete_plan(plan_id))


async def _plan(coro: Any) -> Any:
    try:
        return await coro
    except PlanNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no record plan {exc}") from exc


@router.get("/api/recording/status")
async def recording_status(principal: Player, node: NodeDep) -> dict[str, Any]:
    """What the recorder does now (per channel) and the store's figures."""
    rec = node.recording
    return {
        "channels": {pk: rec.recorder.status(pk) for pk in rec.recorder.states},
        "store": {**rec.store.stats, "used_bytes": await rec.store.used_bytes()},
    }
