"""Device recordings as streams: Playback and Download sessions beside live ones.

They use the live machinery unchanged (port, INVITE, RTP → demux → hub → fMP4
viewers) with three differences: the INVITE says ``s=Playback``/``s=Download``
with ``u=<channel>:0`` and ``t=<start> <end>`` and a history SSRC (digit 1 =
1); each request gets its own session (its position, speed and pause are its
own); and it is controlled in its dialog with MANSRTSP over INFO (Appendix B)
and ends when the device says the file is over (MediaStatus 121) with reason
``eof``. The fMP4 writer keeps the browser's timeline continuous across seeks
and speed changes; the media position comes from ``live.playback``.
"""

from __future__ import annotations

import asyncio
import logging
import math
import secrets
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sharpeyes.devices.messaging import DeviceUnavailable
from sharpeyes.gb28181 import mansrtsp
from sharpeyes.gb28181.manscdp import ManscdpError, ManscdpMessage, parse_manscdp
from sharpeyes.gb28181.message import SipRequest
from sharpeyes.live.audit import AuditRecord, audit
from sharpeyes.live.session import EndReason, LiveSession, SessionKey, SessionKind
from sharpeyes.sharing.principal import Principal, Right
from sharpeyes.sharing.scope import can_see_channel, require_right
from sharpeyes.sharing.stream_tokens import issue_stream_token
from sharpeyes.sip.stack import SipTimeout
from sharpeyes.store.models import ChannelKind

if TYPE_CHECKING:
    from sharpeyes.live.service import LiveService, PlayGrant

log = logging.getLogger(__name__)

MAX_RANGE_S = 7 * 86400
SPEEDS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
MEDIA_STATUS_EOF = "121"


class ControlAction(StrEnum):
    PAUSE = "pause"
    RESUME = "resume"
    SEEK = "seek"
    SPEED = "speed"


class ControlError(ValueError):
    """A control that does not apply (not a playback, bad position or speed)."""


@dataclass(frozen=True, slots=True)
class ControlResult:
    session_id: str
    position_s: float
    paused: bool
    scale: float


def check_range(start: int, end: int, now: float) -> None:
    if end <= start:
        raise ValueError("end must be after start")
    if end - start > MAX_RANGE_S:
        raise ValueError(f"a range is at most {MAX_RANGE_S // 86400} days")
    if start > now:
        raise ValueError("start is in the future")


class HistoryStreams:
    """Playback/download sessions of device recordings (see the module docstring)."""

    def __init__(self, live: LiveService) -> None:
        self.live = live
        self._cseq: dict[str, int] = {}  # session id → last MANSRTSP CSeq (per dialog)

    async def open(
        self,
        principal: Principal,
        channel_pk: int,
        start: int,
        end: int,
        *,
        kind: SessionKind = SessionKind.PLAYBACK,
        speed: int = 1,
        client_ip: str | None = None,
        audit_action: str | None = "playback.device",
    ) -> PlayGrant:
        """INVITE the device for its recording of [start, end); waits for a keyframe."""
        from sharpeyes.live.service import PlayGrant

        live = self.live
        check_range(start, end, time.time())
        ch = await live.devices.get_channel(principal, channel_pk)
        require_right(principal, Right.PLAYBACK, ch)
        if ch.kind != ChannelKind.CHANNEL.value:
            raise ValueError(f"{ch.channel_id} is a {ch.kind}, not a video channel")
        if not ch.online:
            raise DeviceUnavailable(f"channel {ch.channel_id} is offline", 409)
        device = await live.devices.get_device(principal, ch.device_id)
        transport = device.media_transport if device.media_transport in _TRANSPORTS else "udp"
        key = SessionKey(
            ch.device_id,
            ch.channel_id,
            "main",
            kind=kind,
            start=start,
            end=end,
            nonce=secrets.token_hex(4),
        )
        s = live._create(key, ch, transport, principal.username)
        s.download_speed = max(1, min(8, int(speed)))
        live._spawn(live._start(s))
        await asyncio.shield(s.ready)
        token, exp = issue_stream_token(
            live.secret,
            user_id=principal.user_id,
            channel_pk=ch.id,
            session_id=s.id,
            ttl_s=live.media.token_ttl_s,
            now=time.time(),
        )
        if audit_action is not None:
            audit(
                live.bus,
                AuditRecord.by(
                    principal,
                    action=audit_action,
                    target_type="channel",
                    target_id=ch.channel_id,
                    device_id=ch.device_id,
                    client_ip=client_ip,
                    detail={
                        "channel_pk": ch.id,
                        "session": s.id,
                        "source": "device",
                        "start": start,
                        "end": end,
                    },
                ),
            )
        return PlayGrant(s, token, exp)

    def session(self, principal: Principal, session_id: str) -> LiveSession:
        s = self.live.sessions.get(session_id)
        if s is None or not can_see_channel(
            principal, s.key.channel_id, self.live._civil.get(s.id)
        ):
            raise LookupError("no such stream (or it has ended)")
        return s

    async def control(
        self,
        principal: Principal,
        session_id: str,
        action: ControlAction,
        *,
        position_s: float | None = None,
        scale: float | None = None,
    ) -> ControlResult:
        """Pause/resume/seek/speed a device playback with MANSRTSP over INFO."""
        s = self.session(principal, session_id)
        timeline = s.timeline
        if s.key.kind is not SessionKind.PLAYBACK or timeline is None or s.dialog is None:
            raise ControlError("only a playback stream can be controlled")
        cseq = self._cseq.get(s.id, 0) + 1
        self._cseq[s.id] = cseq
        if action is ControlAction.PAUSE:
            cmd = mansrtsp.pause(cseq)
        elif action is ControlAction.RESUME:
            cmd = mansrtsp.play(cseq)
        elif action is ControlAction.SEEK:
            if position_s is None or not math.isfinite(position_s):
                raise ControlError("seek needs position_s (seconds from the start of the range)")
            if not 0 <= position_s < timeline.duration_s:
                raise ControlError(f"position_s must be within 0..{timeline.duration_s:g}")
            cmd = mansrtsp.play(cseq, position_s=position_s)
        else:
            if scale is None or scale not in SPEEDS:
                raise ControlError(f"scale must be one of {', '.join(f'{v:g}' for v in SPEEDS)}")
            cmd = mansrtsp.play(cseq, scale=scale)
        dialog = s.dialog
        device = self.live.registry.get(s.key.device_id)
        if device is not None and device.peer is not None:
            dialog.peer = device.peer  # it may have re-registered from another address
        try:
            resp = await self.live.inviter.dialogs.info(
                dialog, cmd.to_bytes(), mansrtsp.CONTENT_TYPE
            )
        except (SipTimeout, OSError) as exc:
            raise DeviceUnavailable(f"the device did not answer the {action} control", 504) from exc
        if resp.status >= 300:
            raise DeviceUnavailable(
                f"the device refused the {action} control ({resp.status} {resp.reason})", 502
            )
        now = time.monotonic()
        if action is ControlAction.PAUSE:
            timeline.paused = True
        else:
            if timeline.paused:
                timeline.resumed_mono = now
            timeline.paused = False
            if action is ControlAction.SEEK:
                assert position_s is not None
                timeline.seek(position_s)
                timeline.resumed_mono = now
            elif action is ControlAction.SPEED:
                assert scale is not None
                timeline.scale = scale
        return ControlResult(s.id, timeline.position_s, timeline.paused, timeline.scale)

    # -- the device says the file is over --------------------------------------------------

    def on_dialog_message(self, s: LiveSession, req: SipRequest) -> None:
        try:
            msg = parse_manscdp(req.body)
        except ManscdpError as exc:
            log.info("unusable in-dialog MESSAGE on stream %s: %s", s.id, exc)
            return
        self._media_status(s, msg)

    def on_media_status(self, sender: str, msg: ManscdpMessage) -> None:
        """MediaStatus outside the dialog (some devices): match by device and channel."""
        for s in list(self.live.sessions.values()):
            if s.key.kind is SessionKind.LIVE or s.key.device_id != sender:
                continue
            if msg.device_id in (s.key.channel_id, sender):
                self._media_status(s, msg)

    def _media_status(self, s: LiveSession, msg: ManscdpMessage) -> None:
        if msg.cmd_type != "MediaStatus" or s.key.kind is SessionKind.LIVE:
            return
        if msg.fields.get("NotifyType", "").strip() != MEDIA_STATUS_EOF:
            return
        self.live._end(s, EndReason.EOF, "the device finished sending the recording", status=410)

    def forget(self, session_id: str) -> None:
        self._cseq.pop(session_id, None)

    def describe(self, s: LiveSession) -> dict[str, Any]:
        t = s.timeline
        return {
            "session_id": s.id,
            "position_s": t.position_s if t else None,
            "paused": t.paused if t else None,
            "scale": t.scale if t else None,
        }


_TRANSPORTS = ("udp", "tcp-passive", "tcp-active")

__all__ = [
    "SPEEDS",
    "ControlAction",
    "ControlError",
    "ControlResult",
    "HistoryStreams",
    "check_range",
]
