"""Voice toward a device: INVITE ``s=Talk`` with G.711 audio, fed from the browser.

The platform offers ``m=audio`` PCMA/PCMU ``sendrecv`` (GB/T 28181 voice intercom);
the device answers with where it listens. The browser's microphone arrives as
16-bit 8 kHz mono PCM over a WebSocket; :class:`G711Packetizer` (sans-IO) turns
it into 20 ms G.711 RTP packets (PyAV's encoder) and the talk session sends them.
Only devices that answer the Talk INVITE with an audio line get voice; others
refuse it (488) and the API says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import av

from sharpeyes.devices.invite import InviteRefused
from sharpeyes.devices.messaging import DeviceMessaging, DeviceUnavailable
from sharpeyes.devices.registry import DeviceRegistry
from sharpeyes.devices.service import DeviceService
from sharpeyes.events import EventBus
from sharpeyes.gb28181 import manscdp
from sharpeyes.gb28181.manscdp import ManscdpMessage
from sharpeyes.gb28181.message import (
    SipParseError,
    SipRequest,
    SipResponse,
    parse_name_addr,
    response_for,
)
from sharpeyes.gb28181.sdp import (
    PROTO_UDP,
    MediaDescription,
    SdpError,
    SessionDescription,
    build_subject,
    make_ssrc,
    parse_sdp,
    parse_ssrc,
)
from sharpeyes.live.audit import AuditRecord, audit
from sharpeyes.media.rtp import build_rtp
from sharpeyes.sharing.principal import Principal
from sharpeyes.sharing.stream_tokens import decode_stream_token, issue_stream_token
from sharpeyes.sharing.tokens import TokenError
from sharpeyes.sip.dialog import Dialog, DialogLayer, InviteFailed
from sharpeyes.sip.router import DEVICE_SIDE, SipRouter
from sharpeyes.sip.stack import SipTimeout, new_tag
from sharpeyes.sip.transport import Peer

log = logging.getLogger(__name__)

PT_CODECS = {8: "pcm_alaw", 0: "pcm_mulaw"}
SAMPLES_PER_PACKET = 160  # 20 ms at 8 kHz
MAX_PCM_MESSAGE = 16_000 * 2  # two seconds of audio per WebSocket message at most


class G711Packetizer:
    """PCM s16le 8 kHz mono in, G.711 RTP packets out (20 ms each, continuous timestamps)."""

    def __init__(self, pt: int, ssrc: int) -> None:
        if pt not in PT_CODECS:
            raise ValueError(f"payload type {pt} is not G.711")
        enc = av.CodecContext.create(PT_CODECS[pt], "w")
        enc.sample_rate = 8000  # type: ignore[attr-defined]
        enc.layout = "mono"  # type: ignore[attr-defined]
        enc.format = "s16"  # type: ignore[attr-defined]
        enc.open()
        self._enc = enc
        self.pt = pt
        self.ssrc = ssrc
        self._seq = secrets.randbelow(0x10000)
        self._ts = secrets.randbelow(0x1_0000_0000)
        self._pending = b""
        self.packets = 0

    def push(self, pcm: bytes) -> list[bytes]:
        if len(pcm) % 2:
            raise ValueError("PCM must be whole 16-bit samples")
        data = self._pending + pcm
        whole = len(data) // (SAMPLES_PER_PACKET * 2) * SAMPLES_PER_PACKET * 2
        self._pending = data[whole:]
        out: list[bytes] = []
        for pos in range(0, whole, SAMPLES_PER_PACKET * 2):
            frame = av.AudioFrame(format="s16", layout="mono", samples=SAMPLES_PER_PACKET)
            frame.planes[0].update(data[pos : pos + SAMPLES_PER_PACKET * 2])
            frame.sample_rate = 8000
            payload = b"".join(bytes(p) for p in self._enc.encode(frame))
            out.append(
                build_rtp(
                    payload,
                    pt=self.pt,
                    seq=self._seq,
                    ts=self._ts,
                    ssrc=self.ssrc,
                    marker=self.packets == 0,
                )
            )
            self._seq = (self._seq + 1) & 0xFFFF
            self._ts = (self._ts + SAMPLES_PER_PACKET) & 0xFFFFFFFF
            self.packets += 1
        return out


class _Sender(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.received = 0

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.received += 1  # the device's own audio (not played back yet)


@dataclass
class TalkSession:
    id: str
    user_id: int
    username: str
    channel_pk: int
    device_id: str
    channel_id: str
    dialog: Dialog
    dest: tuple[str, int]
    packetizer: G711Packetizer
    transport: asyncio.DatagramTransport
    protocol: _Sender
    started: float = field(default_factory=time.time)
    bytes_in: int = 0

    @property
    def codec(self) -> str:
        return "PCMA" if self.packetizer.pt == 8 else "PCMU"

    def describe(self) -> dict[str, Any]:
        return {
            "talk_id": self.id,
            "channel_pk": self.channel_pk,
            "device_id": self.device_id,
            "channel_id": self.channel_id,
            "codec": self.codec,
            "packets_sent": self.packetizer.packets,
            "packets_received": self.protocol.received,
        }


class TalkService:
    def __init__(
        self,
        dialogs: DialogLayer,
        registry: DeviceRegistry,
        devices: DeviceService,
        bus: EventBus,
        *,
        server_id: str,
        domain: str,
        bind_host: str,
        advertised_host: str,
        secret: Any,
        token_ttl_s: int = 90,
        invite_timeout: float = 8.0,
    ) -> None:
        self.dialogs = dialogs
        self.registry = registry
        self.devices = devices
        self.bus = bus
        self.server_id = server_id
        self.domain = domain
        self.bind_host = bind_host
        self.advertised_host = advertised_host
        self._secret = secret  # callable returning the node's stream-token secret
        self.token_ttl_s = token_ttl_s
        self.invite_timeout = invite_timeout
        self.sessions: dict[str, TalkSession] = {}
        # device ID -> (future, principal, channel pk, channel ID) while a broadcast is set up
        self._awaiting: dict[str, tuple[asyncio.Future[TalkSession], Principal, int, str]] = {}
        self._serial = 0

    async def start(
        self, principal: Principal, channel_pk: int, *, client_ip: str | None = None
    ) -> tuple[TalkSession, str, int]:
        """INVITE Talk to the channel; returns the session and a WebSocket token."""
        ch = await self.devices.get_channel(principal, channel_pk)
        live = self.registry.get(ch.device_id)
        if live is None or not live.online or live.peer is None:
            raise DeviceUnavailable(f"device {ch.device_id} is offline", 409)
        loop = asyncio.get_running_loop()
        transport, protocol = await loop.create_datagram_endpoint(
            _Sender, local_addr=(self.bind_host, 0)
        )
        port = transport.get_extra_info("sockname")[1]
        self._serial += 1
        ssrc_text = make_ssrc(self.domain, self._serial % 10_000)
        offer = SessionDescription(
            origin_user=self.server_id,
            origin_address=self.advertised_host,
            session_name="Talk",
            connection_address=self.advertised_host,
            media=[
                MediaDescription(
                    media="audio",
                    port=port,
                    proto=PROTO_UDP,
                    formats=[8, 0],
                    rtpmap={8: "PCMA/8000", 0: "PCMU/8000"},
                    direction="sendrecv",
                    ssrc=ssrc_text,
                )
            ],
        )
        stack = self.dialogs.stack
        subject = build_subject(ch.channel_id, "0", self.server_id, "0")
        try:
            dialog = await self.dialogs.invite(
                uri=f"sip:{ch.channel_id}@{live.peer.host}:{live.peer.port}",
                peer=live.peer,
                from_uri=f"sip:{self.server_id}@{self.domain}",
                to_uri=f"sip:{ch.channel_id}@{self.domain}",
                contact=f"sip:{self.server_id}@{stack.advertised_host}:{stack.port}",
                body=offer.to_bytes(),
                headers=[("Subject", subject)],
                timeout=self.invite_timeout,
            )
        except InviteFailed as exc:
            transport.close()
            raise InviteRefused(
                f"device {ch.device_id} refused voice on {ch.channel_id} "
                f"({exc.status} {exc.reason}): it may not support talk",
                502,
                exc.status,
            ) from exc
        try:
            answer = parse_sdp(dialog.answer.body)
            m = answer.first("audio")
            pt = next(p for p in m.formats if p in PT_CODECS)
            dest = (answer.address_of(m), m.port)
            text = m.ssrc or answer.ssrc
            ssrc = parse_ssrc(text) if text else parse_ssrc(ssrc_text)
        except (SdpError, StopIteration, ValueError) as exc:
            await self.dialogs.bye(dialog)
            transport.close()
            raise InviteRefused(
                f"device answered Talk with an unusable SDP: {exc}", 502, 200
            ) from exc
        session = TalkSession(
            id=secrets.token_urlsafe(9),
            user_id=principal.user_id,
            username=principal.username,
            channel_pk=ch.id,
            device_id=ch.device_id,
            channel_id=ch.channel_id,
            dialog=dialog,
            dest=dest,
            packetizer=G711Packetizer(pt, ssrc),
            transport=transport,
            protocol=protocol,
        )
        self.sessions[session.id] = session
        dialog.on_bye = lambda _d, _r, sid=session.id: self._remote_bye(sid)
        return self._granted(principal, session, client_ip, mode="talk")

    def _granted(
        self, principal: Principal, session: TalkSession, client_ip: str | None, *, mode: str
    ) -> tuple[TalkSession, str, int]:
        token, exp = issue_stream_token(
            self._secret(),
            user_id=principal.user_id,
            channel_pk=session.channel_pk,
            session_id=f"talk:{session.id}",
            ttl_s=self.token_ttl_s,
            now=time.time(),
        )
        audit(
            self.bus,
            AuditRecord.by(
                principal,
                action="device.talk",
                target_type="channel",
                target_id=session.channel_id,
                device_id=session.device_id,
                client_ip=client_ip,
                detail={
                    "channel_pk": session.channel_pk,
                    "talk_id": session.id,
                    "codec": session.codec,
                    "mode": mode,
                },
            ),
        )
        return session, token, exp

    def session_for(self, talk_id: str, token: str) -> TalkSession:
        """Check a talk WebSocket's token; TokenError or LookupError (ended)."""
        claims = decode_stream_token(token, self._secret(), time.time())
        if claims.session_id != f"talk:{talk_id}":
            raise TokenError("malformed", "token belongs to another talk session")
        s = self.sessions.get(talk_id)
        if s is None:
            raise LookupError("talk session has ended")
        if s.user_id != claims.user_id:
            raise TokenError("malformed", "token belongs to another user")
        return s

    def speak(self, s: TalkSession, pcm: bytes) -> int:
        """Send one chunk of microphone PCM; returns the RTP packets sent."""
        if len(pcm) > MAX_PCM_MESSAGE:
            raise ValueError("audio chunk too large")
        s.bytes_in += len(pcm)
        packets = s.packetizer.push(pcm)
        for p in packets:
            s.transport.sendto(p, s.dest)
        return len(packets)

    async def stop(self, principal: Principal | None, talk_id: str) -> bool:
        s = self.sessions.pop(talk_id, None)
        if s is None:
            return False
        if principal is not None and principal.user_id != s.user_id:
            self.sessions[talk_id] = s
            raise PermissionError("another user's talk session")
        s.transport.close()
        with contextlib.suppress(Exception):
            await self.dialogs.bye(s.dialog, timeout=4.0)
        return True

    # ------------------------------------------------------------- broadcast
    async def broadcast(
        self,
        principal: Principal,
        channel_pk: int,
        messaging: DeviceMessaging,
        *,
        client_ip: str | None = None,
    ) -> tuple[TalkSession, str, int]:
        """9.12 voice broadcast: Notify Broadcast, then the device INVITEs us for audio."""
        ch = await self.devices.get_channel(principal, channel_pk)
        live = messaging.target(ch.device_id)
        if ch.device_id in self._awaiting:
            raise DeviceUnavailable(f"a broadcast to {ch.device_id} is being set up", 409)
        fut: asyncio.Future[TalkSession] = asyncio.get_running_loop().create_future()
        self._awaiting[ch.device_id] = (fut, principal, ch.id, ch.channel_id)
        sn = messaging.next_sn()
        body = manscdp.build_manscdp(
            "Notify",
            "Broadcast",
            sn,
            None,  # type: ignore[arg-type]  # A.2.5 d: SourceID/TargetID, no DeviceID
            [("SourceID", self.server_id), ("TargetID", ch.channel_id)],
            charset=live.charset,
        )
        try:
            with messaging.awaiting("Broadcast", sn) as answer:
                await messaging.send(live, body)
                session = await asyncio.wait_for(
                    _invite_unless_refused(fut, answer), self.invite_timeout
                )
        except TimeoutError as exc:
            raise DeviceUnavailable(
                f"device {ch.device_id} accepted the broadcast but sent no INVITE", 504
            ) from exc
        except SipTimeout as exc:
            raise DeviceUnavailable(f"device {ch.device_id} did not answer", 504) from exc
        finally:
            self._awaiting.pop(ch.device_id, None)
        return self._granted(principal, session, client_ip, mode="broadcast")

    def sip_routes(self, router: SipRouter) -> None:
        """A device answering our broadcast with its own INVITE (GB/T 28181 §9.12)."""
        router.add("INVITE", DEVICE_SIDE, self.on_invite, when=lambda req, _p: self.expects(req))

    def expects(self, req: SipRequest) -> bool:
        """Is this INVITE a device answering our broadcast?"""
        try:
            frm = parse_name_addr(req.headers["From"]).uri.user
            to = parse_name_addr(req.headers["To"]).uri.user
        except (SipParseError, KeyError):
            return False
        return to == self.server_id and any(
            frm in (dev, channel) for dev, (_f, _p, _pk, channel) in self._awaiting.items()
        )

    async def on_invite(self, req: SipRequest, peer: Peer) -> SipResponse:
        """Answer the device's broadcast INVITE with where our audio comes from."""
        frm = parse_name_addr(req.headers["From"])
        key = next(d for d, (_f, _p, _pk, c) in self._awaiting.items() if frm.uri.user in (d, c))
        fut, principal, channel_pk, channel_id = self._awaiting[key]
        to_tag = new_tag()
        try:
            offer = parse_sdp(req.body)
            m = offer.first("audio")
            pt = next(p for p in m.formats if p in PT_CODECS)
            dest = (offer.address_of(m), m.port)
            text = m.ssrc or offer.ssrc
            ssrc = parse_ssrc(text) if text else secrets.randbits(31)
        except (SdpError, StopIteration, ValueError) as exc:
            if not fut.done():
                fut.set_exception(DeviceUnavailable(f"broadcast INVITE unusable: {exc}", 502))
            return response_for(req, 488, "G.711 audio required", to_tag=to_tag)
        loop = asyncio.get_running_loop()
        transport, protocol = await loop.create_datagram_endpoint(
            _Sender, local_addr=(self.bind_host, 0)
        )
        answer = SessionDescription(
            origin_user=self.server_id,
            origin_address=self.advertised_host,
            session_name=offer.session_name or "Play",
            connection_address=self.advertised_host,
            media=[
                MediaDescription(
                    media="audio",
                    port=transport.get_extra_info("sockname")[1],
                    formats=[pt],
                    rtpmap={pt: "PCMA/8000" if pt == 8 else "PCMU/8000"},
                    direction="sendonly",
                    ssrc=f"{ssrc:010d}",
                )
            ],
        )
        stack = self.dialogs.stack
        resp = response_for(
            req,
            200,
            to_tag=to_tag,
            headers=[
                ("Contact", f"<sip:{self.server_id}@{stack.advertised_host}:{stack.port}>"),
                ("Content-Type", "application/sdp"),
            ],
            body=answer.to_bytes(),
        )
        contact = req.headers.get("Contact")
        dialog = Dialog(
            call_id=req.call_id,
            local_uri=str(parse_name_addr(req.headers["To"]).uri),
            local_tag=to_tag,
            remote_uri=str(frm.uri),
            remote_tag=frm.tag,
            remote_target=str(parse_name_addr(contact).uri) if contact else str(frm.uri),
            peer=peer,
            local_cseq=1,
            answer=resp,
        )
        session = TalkSession(
            id=secrets.token_urlsafe(9),
            user_id=principal.user_id,
            username=principal.username,
            channel_pk=channel_pk,
            device_id=key,
            channel_id=channel_id,
            dialog=dialog,
            dest=dest,
            packetizer=G711Packetizer(pt, ssrc),
            transport=transport,
            protocol=protocol,
        )
        dialog.on_bye = lambda _d, _r, sid=session.id: self._remote_bye(sid)
        self.dialogs.dialogs[req.call_id] = dialog  # in-dialog BYE both ways
        self.sessions[session.id] = session
        if not fut.done():
            fut.set_result(session)
        return resp

    def _remote_bye(self, talk_id: str) -> None:
        """The device hung up: forget the session (its WebSocket then closes)."""
        s = self.sessions.pop(talk_id, None)
        if s is not None:
            s.transport.close()

    async def close(self) -> None:
        for talk_id in list(self.sessions):
            await self.stop(None, talk_id)


async def _invite_unless_refused(
    invite: asyncio.Future[TalkSession], answer: asyncio.Future[ManscdpMessage]
) -> TalkSession:
    """The device's INVITE, or a 502 as soon as its Response Broadcast says ERROR (9.12:
    a device that cannot play audio refuses instead of leaving us to time out)."""
    both: set[asyncio.Future[Any]] = {invite, answer}
    done, _ = await asyncio.wait(both, return_when=asyncio.FIRST_COMPLETED)
    refused = answer.result().fields.get("Result", "") if invite not in done else ""
    if refused.strip().upper() == "ERROR":
        raise DeviceUnavailable("the device refused the broadcast (Result ERROR)", 502)
    return await invite
