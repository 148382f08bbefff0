"""Voice toward a device (INVITE Talk, G.711) from the browser's microphone.

``POST /api/channels/{pk}/talk`` opens the call and returns a WebSocket URL with a
short-lived token; the browser sends binary messages of 16-bit little-endian
8 kHz mono PCM, which the node encodes to G.711 RTP toward the device. Closing
the socket or ``DELETE /api/talk/{id}`` hangs up.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, WebSocket, WebSocketDisconnect, status
from pydantic import BaseModel

from sharpeyes.api.deps import NodeDep, Writer
from sharpeyes.api.params import Int64
from sharpeyes.devices.service import NotFound
from sharpeyes.sharing.principal import Permission, has_permission
from sharpeyes.sharing.tokens import TokenError

router = APIRouter(tags=["talk"])


class TalkOut(BaseModel):
    talk_id: str
    codec: str
    ws_url: str
    token: str
    expires_at: datetime
    sample_rate: int = 8000
    pcm_format: str = "s16le"


@router.post("/api/channels/{channel_pk}/talk", response_model=TalkOut)
async def start_talk(
    channel_pk: Int64, request: Request, principal: Writer, node: NodeDep
) -> TalkOut:
    s, token, exp = await node.talk.start(
        principal, channel_pk, client_ip=request.client.host if request.client else None
    )
    base = str(request.base_url).replace("http", "ws", 1).rstrip("/")
    return TalkOut(
        talk_id=s.id,
        codec=s.codec,
        ws_url=f"{base}/api/talk/{s.id}/ws?token={token}",
        token=token,
        expires_at=datetime.fromtimestamp(exp, UTC),
    )


@router.post("/api/channels/{channel_pk}/broadcast", response_model=TalkOut)
async def start_broadcast(
    channel_pk: Int64, request: Request, principal: Writer, node: NodeDep
) -> TalkOut:
    """Voice broadcast (9.12): Notify Broadcast; the device INVITEs us; same WebSocket."""
    s, token, exp = await node.talk.broadcast(
        principal,
        channel_pk,
        node.messaging,
        client_ip=request.client.host if request.client else None,
    )
    base = str(request.base_url).replace("http", "ws", 1).rstrip("/")
    return TalkOut(
        talk_id=s.id,
        codec=s.codec,
        ws_url=f"{base}/api/talk/{s.id}/ws?token={token}",
        token=token,
        expires_at=datetime.fromtimestamp(exp, UTC),
    )


@router.get("/api/talk/{talk_id}")
async def talk_status(talk_id: str, principal: Writer, node: NodeDep) -> dict[str, Any]:
    s = node.talk.sessions.get(talk_id)
    if s is None or s.user_id != principal.user_id:
        raise NotFound(talk_id)
    return s.describe()  # type: ignore[no-any-return]


@router.delete("/api/talk/{talk_id}")
async def stop_talk(talk_id: str, principal: Writer, node: NodeDep) -> dict[str, bool]:
    return {"stopped": await node.talk.stop(principal, talk_id)}


@router.websocket("/api/talk/{talk_id}/ws")
async def talk_ws(ws: WebSocket, talk_id: str, token: str = "") -> None:
    node = ws.app.state.services
    try:
        session = node.talk.session_for(talk_id, token)
    except TokenError as exc:
        await ws.close(code=status.WS_1008_POLICY_VIOLATION, reason=f"token refused: {exc}")
        return
    except LookupError as exc:
        await ws.close(code=4410, reason=str(exc)[:120])
        return
    principal = await node.users.get_principal(session.user_id)
    if principal is None or not has_permission(principal, Permission.DEVICES_WRITE):
        await ws.close(code=status.WS_1008_POLICY_VIOLATION, reason="not allowed")
        return
    await ws.accept()
    try:
        while True:
            msg = await ws.receive()
            if msg.get("type") == "websocket.disconnect":
                break
            data = msg.get("bytes")
            if data:
                try:
                    node.talk.speak(session, data)
                except ValueError as exc:
                    await ws.close(code=1003, reason=str(exc)[:120])
                    break
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            await node.talk.stop(None, talk_id)
