"""WebSocket stream of node events (online/offline, alarms, catalog changes).

Browsers cannot set headers on a WebSocket, so the bearer token comes as the
``token`` query parameter; it is checked before the socket is accepted.
"""

from __future__ import annotations

import asyncio
import contextlib

from fastapi import APIRouter, HTTPException, WebSocket, WebSocketDisconnect, status

from sharpeyes.api.deps import principal_from_token
from sharpeyes.sharing.principal import Permission, Principal, Role, has_permission
from sharpeyes.sharing.scope import event_visible

router = APIRouter(tags=["events"])


@router.websocket("/api/events")
async def events(ws: WebSocket, token: str = "") -> None:
    node = ws.app.state.services
    try:
        principal = await principal_from_token(node, token)
    except HTTPException:
        await ws.close(code=status.WS_1008_POLICY_VIOLATION, reason="invalid or missing token")
        return
    if not has_permission(principal, Permission.DEVICES_READ):
        await ws.close(code=status.WS_1008_POLICY_VIOLATION, reason="not allowed")
        return
    await ws.accept()
    cache: dict[str, bool] = {}
    with node.bus.subscribe() as sub:
        reader = asyncio.create_task(_drain(ws))
        try:
            while not reader.done():
                getter = asyncio.create_task(sub.get())
                done, _ = await asyncio.wait({getter, reader}, return_when=asyncio.FIRST_COMPLETED)
                if getter not in done:
                    getter.cancel()
                    break
                event = getter.result()
                if event.type == "grant.changed":
                    # The principal's grants changed: reload it, forget cached answers.
                    if event.data.get("org_id") == principal.org_id:
                        fresh = await node.users.get_principal(principal.user_id)
                        if fresh is None:
                            break
                        principal, cache = fresh, {}
                    elif not has_permission(principal, Permission.SHARING_ADMIN):
                        continue
                elif event.type.startswith("audit."):
                    # who watched what, from where: auditors and admins see every
                    # record, anyone else only their own
                    if not (
                        has_permission(principal, Permission.AUDIT_READ)
                        or event.data.get("user_id") == principal.user_id
                    ):
                        continue
                else:
                    async with node.db.session() as session:
                        if not await event_visible(session, principal, event.data, cache):
                            continue
                if event.type == "job.updated" and not _may_see_job(principal, event.data):
                    continue
                payload = event.as_dict()
                if sub.dropped:
                    payload["dropped"] = sub.dropped
                    sub.dropped = 0
                await ws.send_json(payload)
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
                await reader


def _may_see_job(principal: Principal, data: dict[str, object]) -> bool:
    """Job progress goes to the user it is about, and to admins."""
    return principal.role == Role.ADMIN or data.get("user_id") == principal.user_id


async def _drain(ws: WebSocket) -> None:
    """Read (and ignore) client frames so a close is noticed."""
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            await ws.receive_text()
