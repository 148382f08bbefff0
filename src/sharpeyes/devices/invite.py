"""Invite orchestration: ask a device for a channel's live stream, in GB terms.

The live layer decides *what* it wants (port, SSRC, transport); this module knows
*how to ask a device*: where its signalling goes (the registered address), the
Request-URI (the channel ID at the device), the Subject header (Appendix K), and
how to turn each way a device can say no into a message an operator understands.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sharpeyes.devices.messaging import DeviceUnavailable
from sharpeyes.devices.registry import DeviceRegistry
from sharpeyes.gb28181.sdp import SdpError, SessionDescription, parse_sdp
from sharpeyes.sip.dialog import Dialog, DialogLayer, InviteFailed

log = logging.getLogger(__name__)

_REFUSALS = {
    400: "rejected the INVITE as malformed",
    403: "refused the stream (forbidden)",
    404: "does not know this channel",
    415: "does not accept our SDP",
    480: "says the channel is temporarily unavailable",
    486: "is busy: it serves no more streams",
    488: "cannot provide the requested media (transport or format not supported)",
    500: "failed internally",
    503: "is overloaded or out of service",
}


class InviteRefused(DeviceUnavailable):
    """The device refused or ignored the INVITE; ``sip_status`` says how (408 = no answer)."""

    def __init__(self, message: str, status: int, sip_status: int) -> None:
        super().__init__(message, status)
        self.sip_status = sip_status


@dataclass
class LiveCall:
    """An answered INVITE: the dialog and what the device will send where."""

    dialog: Dialog
    answer: SessionDescription


class MediaInviter:
    """INVITE/BYE towards devices for media sessions (live today; playback later)."""

    def __init__(
        self,
        dialogs: DialogLayer,
        registry: DeviceRegistry,
        *,
        server_id: str,
        domain: str,
        timeout: float = 8.0,
    ) -> None:
        self.dialogs = dialogs
        self.registry = registry
        self.server_id = server_id
        self.domain = domain
        self.timeout = timeout

    async def invite(
        self, device_id: str, channel_id: str, offer: SessionDescription, *, subject: str
    ) -> LiveCall:
        """Send the INVITE for ``channel_id`` of ``device_id``; the ACK is sent on success."""
        live = self.registry.get(device_id)
        if live is None:
            raise DeviceUnavailable(f"unknown device {device_id}", 404)
        if not live.online or live.peer is None:
            raise DeviceUnavailable(f"device {device_id} is offline", 409)
        peer = live.peer
        stack = self.dialogs.stack
        try:
            dialog = await self.dialogs.invite(
                uri=f"sip:{channel_id}@{peer.host}:{peer.port}",
                peer=peer,
                from_uri=f"sip:{self.server_id}@{self.domain}",
                to_uri=f"sip:{channel_id}@{self.domain}",
                contact=f"sip:{self.server_id}@{stack.advertised_host}:{stack.port}",
                body=offer.to_bytes(),
                headers=[("Subject", subject)],
                timeout=self.timeout,
            )
        except InviteFailed as exc:
            raise _refusal(device_id, channel_id, exc, self.timeout) from exc
        try:
            if not dialog.answer.body:
                raise SdpError("the 200 OK carries no SDP")
            answer = parse_sdp(dialog.answer.body)
            answer.first("video")
        except SdpError as exc:
            await self.dialogs.bye(dialog)
            raise InviteRefused(
                f"device {device_id} accepted channel {channel_id} with an unusable SDP: {exc}",
                502,
                200,
            ) from exc
        return LiveCall(dialog, answer)

    async def bye(self, dialog: Dialog, device_id: str, *, timeout: float = 4.0) -> int | None:
        """End a media dialog; sent to the device's current address if it re-registered."""
        live = self.registry.get(device_id)
        if live is not None and live.peer is not None:
            dialog.peer = live.peer
        return await self.dialogs.bye(dialog, timeout=timeout)


def _refusal(device_id: str, channel_id: str, exc: InviteFailed, timeout: float) -> InviteRefused:
    if exc.status == 408:
        return InviteRefused(
            f"device {device_id} did not answer the INVITE for channel {channel_id} "
            f"within {timeout:g} s",
            504,
            408,
        )
    what = _REFUSALS.get(exc.status) or _REFUSALS.get(exc.status // 100 * 100, "refused the stream")
    return InviteRefused(
        f"device {device_id} {what} ({exc.status} {exc.reason}) for channel {channel_id}",
        502,
        exc.status,
    )


__all__ = ["InviteRefused", "LiveCall", "MediaInviter"]
