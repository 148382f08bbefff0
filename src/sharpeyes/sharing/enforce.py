"""Ending what a grant allowed once it is gone: open live viewers of its channels
whose user can no longer watch (``sharing.scope.decide``) get an end message with
the reason (``grant_revoked`` / ``grant_expired``) and are disconnected."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sharpeyes.sharing.models import ShareGrant
from sharpeyes.sharing.principal import Right
from sharpeyes.sharing.scope import decide

if TYPE_CHECKING:
    from sharpeyes.live.service import LiveService
    from sharpeyes.sharing.users import UserService


async def end_streams_of_grant(
    live: LiveService, users: UserService, grant: ShareGrant, reason: str
) -> int:
    """Disconnect viewers that watched under ``grant``; returns how many."""
    channels = set(grant.channels or [])
    ended = 0
    for s in list(live.sessions.values()):
        if s.channel_pk not in channels:
            continue
        for viewer in list(s.viewers):
            uid = getattr(viewer, "user_id", None)
            if uid is None:
                continue
            p = await users.get_principal(uid)
            allowed = p is not None and decide(
                p,
                Right.LIVE,
                channel_pk=s.channel_pk,
                channel_id=s.key.channel_id,
                civil_code=live.civil_code_of(s.id),
            )
            if not allowed:
                detail = f"share grant {grant.id} {reason.removeprefix('grant_')}"
                viewer.end(reason, detail)
                ended += 1
    return ended
