"""Live video: play/stop/snapshot a channel, list streams, and the stream endpoints.

Stream endpoints (fMP4 over WebSocket, HLS) are opened by URL, from players that
cannot send an Authorization header, so they take the short-lived stream token
from ``play`` in the ``token`` query parameter; it is checked before anything is
sent. WebSocket protocol: a text message ``{"type": "init", "codec", "mime", ...}``,
the binary init segment, then binary moof+mdat fragments starting at the cached
keyframe; when the stream ends a text message ``{"type": "end", "reason",
"detail"}`` precedes the close. A new ``init`` may follow if the camera changes
resolution or codec.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import (
    APIRouter,
    Depends,
    HTTPException,
    Request,
    Response,
    WebSocket,
    WebSocketDisconnect,
    status,
)
from pydantic import BaseModel

from sharpeyes.api.deps import NodeDep, require
from sharpeyes.api.params import Int64
from sharpeyes.live.session import LiveSession
from sharpeyes.live.viewer import WsViewer
from sharpeyes.sharing.principal import Permission, Principal, Right, has_permission
from sharpeyes.sharing.scope import decide
from sharpeyes.sharing.stream_tokens import StreamClaims
from sharpeyes.sharing.tokens import TokenError

router = APIRouter(tags=["live"])

Viewer = Annotated[Principal, Depends(require(Permission.LIVE_VIEW))]
Operator = Annotated[Principal, Depends(require(Permission.DEVICES_WRITE))]

_SEGMENT = re.compile(r"seg(\d{1,9})\.m4s")
_NO_STORE = {"Cache-Control": "no-store"}


class PlayIn(BaseModel):
    stream: Literal["main", "sub"] = "main"


class PlayOut(BaseModel):
    session_id: str
    stream: str
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
    passthrough: bool = True  # video is forwarded as the camera sends it (H.265 stays H.265)


def _client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


@router.post("/api/channels/{channel_pk}/play", response_model=PlayOut)
async def play(
    channel_pk: Int64,
    request: Request,
    principal: Viewer,
    node: NodeDep,
    body: PlayIn | None = None,
) -> PlayOut:
    """Open (or join) the channel's live stream; returns signed URLs for fMP4/WS and HLS."""
    stream = body.stream if body else "main"
    grant = await node.live.play(
        principal, channel_pk, stream=stream, client_ip=_client_ip(request)
    )
    s = grant.session
    ws_scheme = "wss" if request.url.scheme == "https" else "ws"
    base = f"{request.url.netloc}/api/streams/{s.id}"
    info = s.hub.info()
    return PlayOut(
        session_id=s.id,
        stream=s.key.stream,
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


@router.post("/api/channels/{channel_pk}/stop")
async def stop(channel_pk: Int64, principal: Operator, node: NodeDep) -> dict[str, int]:
    """End the channel's live streams for every viewer now (BYE to the device)."""
    return {"stopped": await node.live.stop_channel(principal, channel_pk)}


@router.get("/api/channels/{channel_pk}/snapshot")
async def snapshot(
    channel_pk: Int64, request: Request, principal: Viewer, node: NodeDep
) -> Response:
    """JPEG of the latest keyframe (starts a short-lived stream when none is running)."""
    jpeg = await node.live.snapshot(principal, channel_pk, client_ip=_client_ip(request))
    return Response(jpeg, media_type="image/jpeg", headers=_NO_STORE)


@router.get("/api/streams")
async def list_streams(principal: Viewer, node: NodeDep) -> dict[str, Any]:
    """Active streams (with receive statistics and viewers) and recently ended ones (why)."""
    return node.live.describe(principal)


# --- stream endpoints (token in the URL) ----------------------------------------------


def _token_failure(exc: TokenError) -> HTTPException:
    foreign = "another" in str(exc)
    return HTTPException(
        status.HTTP_403_FORBIDDEN if foreign else status.HTTP_401_UNAUTHORIZED,
        f"stream token refused: {exc}",
    )


async def _hls(node: Any, session_id: str, token: str) -> tuple[LiveSession, StreamClaims]:
    """Token check, then the user is reloaded: a polling client stops being served once
    its user is disabled, deleted, loses the right or the region (every request)."""
    try:
        s, claims = node.live.hls_session(session_id, token)
    except TokenError as exc:
        raise _token_failure(exc) from exc
    except LookupError as exc:
        raise HTTPException(status.HTTP_410_GONE, str(exc)) from exc
    principal = await node.users.get_principal(claims.user_id)
    if principal is None or not await may_watch(node, principal, s):
        s.hls_clients.pop(claims.token_id, None)
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "this user may no longer watch the stream; play again"
        )
    return s, claims


def _with_token(playlist: str, token: str) -> str:
    """Every URI in the playlist carries the caller's token (segments are fetched by URL)."""
    out = []
    for line in playlist.splitlines():
        if line and not line.startswith("#"):
            line = f"{line}?token={token}"
        elif line.startswith("#EXT-X-MAP:URI="):
            line = line[:-1] + f'?token={token}"'
        out.append(line)
    return "\n".join(out) + "\n"


@router.get("/api/streams/{session_id}/hls/index.m3u8")
async def hls_playlist(session_id: str, node: NodeDep, token: str = "") -> Response:
    # Players poll the playlist every segment: _hls re-decides, which ends an HLS viewer
    # whose grant expired or was revoked within one segment duration.
    s, _ = await _hls(node, session_id, token)
    try:
        text = await node.live.hls_playlist(s)
    except TimeoutError as exc:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "no HLS segment yet", {"Retry-After": "1"}
        ) from exc
    except LookupError as exc:
        raise HTTPException(status.HTTP_410_GONE, str(exc)) from exc
    return Response(
        _with_token(text, token), media_type="application/vnd.apple.mpegurl", headers=_NO_STORE
    )


@router.get("/api/streams/{session_id}/hls/init.mp4")
async def hls_init(session_id: str, node: NodeDep, token: str = "") -> Response:
    s, _ = await _hls(node, session_id, token)
    hls = s.hub.hls()
    if hls is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no HLS stream yet")
    return Response(hls.init_segment(), media_type="video/mp4")


@router.get("/api/streams/{session_id}/hls/{name}")
async def hls_segment(session_id: str, name: str, node: NodeDep, token: str = "") -> Response:
    m = _SEGMENT.fullmatch(name)
    if m is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such HLS resource")
    s, _ = await _hls(node, session_id, token)
    hls = s.hub.hls()
    try:
        data = hls.segment(int(m.group(1))) if hls is not None else None
    except KeyError:
        data = None
    if data is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "segment not (or no longer) available")
    return Response(data, media_type="video/iso.segment")


@router.websocket("/api/streams/{session_id}/ws")
async def stream_ws(ws: WebSocket, session_id: str, token: str = "", audio: bool = False) -> None:
    """fMP4 over WebSocket for MSE players (see the module docstring for the protocol).

    ``audio=1`` asks for sound: the init segment then has an AAC track (G.711 is
    transcoded only while such a viewer is connected) and ``init`` says ``audio``.
    """
    node = ws.app.state.services
    try:
        session, claims = node.live.viewer_session(session_id, token)
    except TokenError as exc:
        await ws.close(code=status.WS_1008_POLICY_VIOLATION, reason=f"stream token refused: {exc}")
        return
    except LookupError as exc:
        await ws.close(code=4410, reason=str(exc)[:120])
        return
    principal = await node.users.get_principal(claims.user_id)
    if principal is None or not await may_watch(node, principal, session):
        await ws.close(code=status.WS_1008_POLICY_VIOLATION, reason="not allowed")
        return
    await ws.accept()
    viewer = WsViewer(
        max_bytes=node.settings.media.viewer_queue_max_bytes,
        user=principal.username,
        user_id=principal.user_id,
    )
    try:
        node.live.attach(session, viewer, audio=audio)
    except LookupError as exc:
        await _end(ws, "error", f"stream not ready: {exc}")
        return
    reader = asyncio.create_task(_read_until_closed(ws, viewer))
    closed_by_client = False
    try:
        while True:
            batch = await viewer.next_batch()
            for kind, data in batch:
                if kind == "binary":
                    await ws.send_bytes(data)  # type: ignore[arg-type]
                else:
                    await ws.send_text(data)  # type: ignore[arg-type]
            if not batch and viewer.ended is not None:
                closed_by_client = viewer.ended[0] == "client_closed"
                break
    except (WebSocketDisconnect, RuntimeError, OSError):
        closed_by_client = True
    finally:
        node.live.detach(session, viewer)
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await reader
    if not closed_by_client and viewer.ended is not None:
        await _end(ws, *viewer.ended)


async def may_watch(node: Any, principal: Principal, session: LiveSession) -> bool:
    """Still allowed to watch this session (live or a recording), through the one decision
    (``sharing.scope.decide``): the role's permission and the right on the channel."""
    history = session.timeline is not None
    needed = Permission.PLAYBACK if history else Permission.LIVE_VIEW
    if not has_permission(principal, needed):
        return False
    try:
        ch = await node.devices.get_channel(principal, session.channel_pk)
    except LookupError:
        return False
    return decide(
        principal,
        Right.PLAYBACK if history else Right.LIVE,
        channel_pk=ch.id,
        channel_id=ch.channel_id,
        civil_code=ch.civil_code,
    )


async def _read_until_closed(ws: WebSocket, viewer: WsViewer) -> None:
    """Read (and ignore) client messages so a close is noticed at once."""
    try:
        while True:
            msg = await ws.receive()
            if msg.get("type") == "websocket.disconnect":
                break
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass
    finally:
        viewer.end("client_closed", "the viewer closed the connection")


async def _end(ws: WebSocket, reason: str, detail: str) -> None:
    with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
        await ws.send_text(json.dumps({"type": "end", "reason": reason, "detail": detail}))
        code = 1000 if reason in ("idle", "stopped", "shutdown") else 1011
        await ws.close(code=code, reason=reason)
