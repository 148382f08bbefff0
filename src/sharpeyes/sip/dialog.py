"""INVITE dialogs, client side (RFC 3261 12-15): INVITE → 2xx → ACK, later BYE.

The transaction layer (``sip.stack``) ends an INVITE client transaction at the
first final response; everything the dialog needs after that lives here:

- the ACK for a 2xx is its own request (new branch, Request-URI = the 2xx's
  Contact, CSeq number of the INVITE) and is re-sent whenever the 2xx is
  retransmitted (the stack hands those over through ``on_stray_response``);
- the ACK for a 3xx-6xx reuses the INVITE's Via branch (17.1.1.3) and is also
  re-sent on retransmissions, so a device that refused us stops repeating itself;
- a 2xx that arrives after we gave up (timeout, cancelled play) is ACKed and then
  BYEd at once, so a slow camera does not stream into a port nobody reads;
- BYE/INFO from the device are matched to the dialog by Call-ID and both tags
  and handed to the dialog's owner; anything unmatched gets 481.

Route sets (Record-Route) are not kept: GB devices and lower platforms talk to us
directly.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from sharpeyes.gb28181.message import (
    Headers,
    SipParseError,
    SipRequest,
    SipResponse,
    parse_name_addr,
    response_for,
)
from sharpeyes.sip.router import DEVICE_SIDE, SipRouter
from sharpeyes.sip.stack import ResponseHook, SipStack, SipTimeout, new_call_id, new_tag
from sharpeyes.sip.transport import Peer

log = logging.getLogger(__name__)

SDP_TYPE = "application/sdp"


class InviteFailed(Exception):
    """The INVITE got no dialog: ``status`` is the SIP final status, 408 for no answer."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status} {reason}".strip())
        self.status = status
        self.reason = reason


class DialogState(StrEnum):
    """An outgoing INVITE's fate; kept after it ends to answer late retransmissions."""

    PENDING = "pending"
    CONFIRMED = "confirmed"
    FAILED = "failed"
    ABANDONED = "abandoned"  # we gave up (timeout, cancel): a late 2xx is ACKed and BYEd


@dataclass(eq=False)
class Dialog:
    """A confirmed INVITE dialog we started (we are the UAC)."""

    call_id: str
    local_uri: str
    local_tag: str
    remote_uri: str
    remote_tag: str
    remote_target: str  # Request-URI for in-dialog requests: the 2xx's Contact
    peer: Peer  # where in-dialog requests go (the device's signalling address)
    local_cseq: int
    answer: SipResponse
    contact: str | None = None
    terminated: bool = False
    # Called (synchronously) when the remote side sends BYE; the dialog is gone by then.
    on_bye: Callable[[Dialog, SipRequest], None] | None = None
    on_info: Callable[[Dialog, SipRequest], None] | None = None
    # In-dialog MESSAGE (J.14.17: MediaStatus 121 at the end of a playback file).
    on_message: Callable[[Dialog, SipRequest], None] | None = None
    created_at: float = field(default_factory=time.time)


@dataclass(eq=False)
class _Call:
    """What we remember about an INVITE to answer its retransmitted responses."""

    invite: SipRequest
    peer: Peer
    state: DialogState = DialogState.PENDING
    ack: bytes | None = None  # bytes to re-send on a retransmitted final response
    to_tag: str = ""
    expires: float = 0.0


class DialogLayer:
    """Client INVITE dialogs over a :class:`SipStack` (see the module docstring)."""

    def __init__(self, stack: SipStack, *, linger: float | None = None) -> None:
        self.stack = stack
        self.linger = linger if linger is not None else 64 * stack.t1
        self.dialogs: dict[str, Dialog] = {}
        self._calls: dict[str, _Call] = {}
        self._expiry: deque[tuple[float, str]] = deque()
        self._previous_hook: ResponseHook | None = stack.on_stray_response
        stack.on_stray_response = self._on_stray_response
        self.stats = {
            "invites": 0,
            "invite_failures": 0,
            "invite_timeouts": 0,
            "re_acks": 0,
            "late_2xx_hung_up": 0,
            "remote_byes": 0,
            "byes": 0,
        }

    # ------------------------------------------------------------ outbound
    async def invite(
        self,
        *,
        uri: str,
        peer: Peer,
        from_uri: str,
        to_uri: str,
        contact: str,
        body: bytes,
        content_type: str = SDP_TYPE,
        headers: Iterable[tuple[str, str]] = (),
        timeout: float | None = None,
    ) -> Dialog:
        """Send an INVITE; return the confirmed dialog (ACK sent) or raise :class:`InviteFailed`."""
        stack = self.stack
        call_id = new_call_id(stack.advertised_host)
        tag = new_tag()
        cseq = stack.next_cseq()
        req = stack.build_request(
            "INVITE",
            uri,
            from_uri=from_uri,
            to_uri=to_uri,
            from_tag=tag,
            call_id=call_id,
            cseq=cseq,
            contact=contact,
            headers=headers,
            body=body,
            content_type=content_type,
        )
        call = _Call(req, peer)
        self._calls[call_id] = call
        self.stats["invites"] += 1
        try:
            resp = await stack.request(req, peer, timeout=timeout)
        except SipTimeout as exc:
            self.stats["invite_timeouts"] += 1
            self._retire(call_id, DialogState.ABANDONED)
            raise InviteFailed(408, f"no answer to INVITE ({exc})") from exc
        except BaseException:
            self._retire(call_id, DialogState.ABANDONED)  # a late 2xx is then ACKed and BYEd
            raise
        if resp.status >= 300:
            self.stats["invite_failures"] += 1
            call.ack = self._failure_ack(req, resp)
            self._retire(call_id, DialogState.FAILED)
            await self._send_raw(call.ack, peer)
            raise InviteFailed(resp.status, resp.reason)
        try:
            to = parse_name_addr(resp.headers.get("To") or "")
            contact_value = resp.headers.get("Contact")
            target = str(parse_name_addr(contact_value).uri) if contact_value else uri
        except SipParseError as exc:
            self._retire(call_id, DialogState.ABANDONED)
            await self._hang_up_late(call, resp)
            raise InviteFailed(502, f"unusable 2xx: {exc}") from exc
        dialog = Dialog(
            call_id=call_id,
            local_uri=from_uri,
            local_tag=tag,
            remote_uri=to_uri,
            remote_tag=to.tag,
            remote_target=target,
            peer=peer,
            local_cseq=cseq,
            answer=resp,
            contact=contact,
        )
        call.state = DialogState.CONFIRMED
        call.to_tag = to.tag
        self.dialogs[call_id] = dialog  # before the ACK goes out: a BYE may follow at once
        ack = self._dialog_request(dialog, "ACK", cseq=cseq)
        call.ack = ack.to_bytes()
        try:
            call.ack = await self._send_ack(ack, peer)
        except OSError as exc:
            log.info("ACK for %s could not be sent to %s: %s", call_id, peer, exc)
        return dialog

    async def bye(self, dialog: Dialog, *, timeout: float = 4.0) -> int | None:
        """End our dialog; returns the BYE's final status (None: no answer). Idempotent."""
        if dialog.terminated:
            return None
        dialog.terminated = True
        self._forget(dialog)
        dialog.local_cseq += 1
        req = self._dialog_request(dialog, "BYE", cseq=dialog.local_cseq)
        self.stats["byes"] += 1
        try:
            resp = await self.stack.request(req, dialog.peer, timeout=timeout)
        except SipTimeout:
            log.info("BYE for %s got no answer from %s", dialog.call_id, dialog.peer)
            return None
        except OSError as exc:
            log.info("BYE for %s could not be sent to %s: %s", dialog.call_id, dialog.peer, exc)
            return None
        return resp.status

    async def info(
        self, dialog: Dialog, body: bytes, content_type: str, *, timeout: float = 4.0
    ) -> SipResponse:
        """An in-dialog INFO (MANSRTSP playback control); raises SipTimeout/OSError."""
        if dialog.terminated:
            raise SipTimeout("the dialog has ended")
        dialog.local_cseq += 1
        req = self.stack.build_request(
            "INFO",
            dialog.remote_target,
            from_uri=dialog.local_uri,
            to_uri=dialog.remote_uri,
            from_tag=dialog.local_tag,
            to_tag=dialog.remote_tag or None,
            call_id=dialog.call_id,
            cseq=dialog.local_cseq,
            body=body,
            content_type=content_type,
        )
        return await self.stack.request(req, dialog.peer, timeout=timeout)

    def sip_routes(self, router: SipRouter) -> None:
        """In-dialog requests from devices; register before out-of-dialog MESSAGE."""
        router.add(
            "MESSAGE",  # MediaStatus in a playback's dialog
            DEVICE_SIDE,
            self.on_request,
            when=lambda req, _peer: self.has_dialog(req.call_id),
        )
        for method in ("BYE", "INFO", "CANCEL"):
            router.add(method, DEVICE_SIDE, self.on_request)

    def has_dialog(self, call_id: str) -> bool:
        return call_id in self.dialogs

    def _forget(self, dialog: Dialog) -> None:
        self.dialogs.pop(dialog.call_id, None)
        self._retire(dialog.call_id, DialogState.CONFIRMED)

    # ------------------------------------------------------------- inbound
    def on_request(self, req: SipRequest, peer: Peer) -> SipResponse | None:
        """In-dialog requests from devices (BYE, INFO, ACK, CANCEL); 481 when unmatched."""
        if req.method == "ACK":
            return None
        dialog = self.dialogs.get(req.call_id)
        if dialog is None or not self._matches(dialog, req):
            return response_for(req, 481)
        if req.method == "BYE":
            self.stats["remote_byes"] += 1
            dialog.terminated = True
            self._forget(dialog)
            if dialog.on_bye is not None:
                try:
                    dialog.on_bye(dialog, req)
                except Exception:
                    log.exception("BYE handler failed for %s", dialog.call_id)
            return response_for(req, 200)
        if req.method == "INFO":
            if dialog.on_info is not None:
                dialog.on_info(dialog, req)
            return response_for(req, 200)
        if req.method == "MESSAGE":
            if dialog.on_message is not None:
                try:
                    dialog.on_message(dialog, req)
                except Exception:
                    log.exception("MESSAGE handler failed for %s", dialog.call_id)
            return response_for(req, 200)
        return response_for(req, 481)  # CANCEL: we never answer INVITEs here

    @staticmethod
    def _matches(dialog: Dialog, req: SipRequest) -> bool:
        try:
            frm = parse_name_addr(req.headers.get("From") or "")
            to = parse_name_addr(req.headers.get("To") or "")
        except SipParseError:
            return False
        return frm.tag == dialog.remote_tag and to.tag == dialog.local_tag

    def _on_stray_response(self, resp: SipResponse, peer: Peer) -> None:
        """Retransmitted final responses to our INVITEs (the transaction is over)."""
        try:
            method = resp.cseq[1]
        except (SipParseError, ValueError):
            method = ""
        call = self._calls.get(resp.call_id) if method == "INVITE" else None
        if call is None:
            if self._previous_hook is not None:
                self._previous_hook(resp, peer)
            return
        if resp.status < 200:
            return
        to_tag = _to_tag(resp)
        if call.ack is not None and (
            (resp.status >= 300 and call.state == DialogState.FAILED)
            or (call.state == DialogState.CONFIRMED and to_tag == call.to_tag)
        ):
            self.stats["re_acks"] += 1
            self.stack.transport.send_now(call.ack, call.peer)
            return
        if 200 <= resp.status < 300 and call.state in (DialogState.ABANDONED, DialogState.PENDING):
            # We gave up on this INVITE (or it is a second 2xx): take the call and end it.
            self.stats["late_2xx_hung_up"] += 1
            self.stack.schedule(self._hang_up_late(call, resp))

    async def _hang_up_late(self, call: _Call, resp: SipResponse) -> None:
        try:
            to = parse_name_addr(resp.headers.get("To") or "")
            frm = parse_name_addr(call.invite.headers.get("From") or "")
            contact_value = resp.headers.get("Contact")
            target = str(parse_name_addr(contact_value).uri) if contact_value else call.invite.uri
        except SipParseError:
            return
        cseq = call.invite.cseq[0]
        dialog = Dialog(
            call_id=call.invite.call_id,
            local_uri=str(frm.uri),
            local_tag=frm.tag,
            remote_uri=str(to.uri),
            remote_tag=to.tag,
            remote_target=target,
            peer=call.peer,
            local_cseq=cseq,
            answer=resp,
        )
        ack = self._dialog_request(dialog, "ACK", cseq=cseq)
        try:
            call.ack = await self._send_ack(ack, call.peer)
        except OSError:
            return
        call.to_tag = to.tag
        call.state = DialogState.CONFIRMED
        await self.bye(dialog, timeout=4.0)

    # ------------------------------------------------------------- helpers
    def _dialog_request(self, dialog: Dialog, method: str, *, cseq: int) -> SipRequest:
        return self.stack.build_request(
            method,
            dialog.remote_target,
            from_uri=dialog.local_uri,
            to_uri=dialog.remote_uri,
            from_tag=dialog.local_tag,
            to_tag=dialog.remote_tag or None,
            call_id=dialog.call_id,
            cseq=cseq,
        )

    async def _send_ack(self, ack: SipRequest, peer: Peer) -> bytes:
        await self.stack.send_stateless(ack, peer)
        return ack.to_bytes()

    @staticmethod
    def _failure_ack(invite: SipRequest, resp: SipResponse) -> bytes:
        """17.1.1.3: same Request-URI, Call-ID, From, CSeq number and top Via as the INVITE."""
        h = Headers()
        h.add("Via", (invite.headers.get("Via") or "").split(",")[0])
        h.add("From", invite.headers.get("From") or "")
        h.add("To", resp.headers.get("To") or invite.headers.get("To") or "")
        h.add("Call-ID", invite.call_id)
        h.add("CSeq", f"{invite.cseq[0]} ACK")
        h.add("Max-Forwards", "70")
        return SipRequest(headers=h, method="ACK", uri=invite.uri).to_bytes()

    async def _send_raw(self, data: bytes, peer: Peer) -> None:
        try:
            await self.stack.transport.send(data, peer)
        except OSError as exc:
            log.debug("cannot send ACK to %s: %s", peer, exc)

    def _retire(self, call_id: str, state: DialogState) -> None:
        """Keep the call for retransmissions for ``linger`` seconds, then forget it."""
        call = self._calls.get(call_id)
        if call is None:
            return
        if state != DialogState.CONFIRMED or call.state != DialogState.CONFIRMED:
            call.state = state
        now = time.monotonic()
        call.expires = now + self.linger
        self._expiry.append((call.expires, call_id))
        self._sweep(now)

    def _sweep(self, now: float) -> None:
        q = self._expiry
        while q and q[0][0] <= now:
            _, call_id = q.popleft()
            call = self._calls.get(call_id)
            if call is not None and call.expires <= now and call_id not in self.dialogs:
                del self._calls[call_id]


def _to_tag(resp: SipResponse) -> str:
    try:
        return parse_name_addr(resp.headers.get("To") or "").tag
    except SipParseError:
        return ""


__all__ = ["SDP_TYPE", "Dialog", "DialogLayer", "InviteFailed"]
