"""Live streams: one upstream per channel and stream, shared by every viewer.

``play`` finds the running session of a channel or starts one (port, INVITE with
SDP/SSRC/Subject, ACK, RTP socket), waits until the first keyframe is in the GOP
cache, and hands out a short-lived signed token for the WebSocket/HLS URLs. The
watchdog ends sessions that stop delivering (and says why), that lost their
device, or whose last viewer left more than ``idle_grace_s`` ago, with a BYE. New
sessions are refused with 503 when the node is at its configured capacity or its
event loop is already lagging, rather than letting every stream degrade.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Protocol

from sharpeyes.config import MediaSettings
from sharpeyes.devices.interop import InteropCounters, Quirk
from sharpeyes.devices.invite import InviteRefused, MediaInviter
from sharpeyes.devices.messaging import DeviceUnavailable
from sharpeyes.devices.registry import DeviceRegistry
from sharpeyes.devices.service import DeviceService
from sharpeyes.events import EventBus
from sharpeyes.gb28181.sdp import SdpError, build_subject, make_ssrc, play_offer
from sharpeyes.live.audit import AuditRecord, audit
from sharpeyes.live.history import HistoryStreams
from sharpeyes.live.ports import PortPool, PortsExhausted
from sharpeyes.live.rtp_io import TcpRtpEndpoint, open_udp
from sharpeyes.live.session import (
    FAILURES,
    Clock,
    EndReason,
    LiveSession,
    SessionKey,
    SessionKind,
    SessionState,
    StreamEnded,
)
from sharpeyes.live.snapshot import SnapshotError, keyframe_to_jpeg
from sharpeyes.live.viewer import WsViewer
from sharpeyes.media.hub import Consumer
from sharpeyes.sharing.principal import Principal, Right, Role
from sharpeyes.sharing.scope import can_see_channel, require_right
from sharpeyes.sharing.stream_tokens import StreamClaims, decode_stream_token, issue_stream_token
from sharpeyes.sharing.tokens import TokenError
from sharpeyes.sharing.watermark import burn_jpeg, needs_watermark, watermark_text
from sharpeyes.store.models import Channel, ChannelKind

log = logging.getLogger(__name__)

STREAMS = ("main", "sub")
TRANSPORTS = ("udp", "tcp-passive", "tcp-active")
TICK_S = 0.1
WATCHDOG_EVERY = 5  # ticks
ENDED_KEPT = 200
SESSION_NAMES = {
    SessionKind.LIVE: "Play",
    SessionKind.PLAYBACK: "Playback",
    SessionKind.DOWNLOAD: "Download",
}


class ExternalSource(Protocol):
    """An upstream that is pulled rather than INVITEd (``proxies/``: RTSP/ONVIF cameras).

    ``start`` begins feeding ``session.hub`` (on the loop) and reports failures by
    calling ``LiveService.end_session``; ``stop`` is called once when the session ends.
    """

    def owns(self, device_id: str) -> bool: ...

    def transport_of(self, ch: Channel) -> str: ...

    async def start(self, session: LiveSession) -> None: ...

    def stop(self, session: LiveSession) -> None: ...


@dataclass
class PlayGrant:
    session: LiveSession
    token: str
    expires_at: int


class LiveService:
    """See the module docstring. One per node (``node.live``)."""

    def __init__(
        self,
        media: MediaSettings,
        *,
        server_id: str,
        domain: str,
        signalling_host: str,
        inviter: MediaInviter,
        registry: DeviceRegistry,
        devices: DeviceService,
        bus: EventBus,
        loop_lag_ms: Callable[[], float] = lambda: 0.0,
        interop: InteropCounters | None = None,
    ) -> None:
        self.media = media
        self.interop = interop if interop is not None else InteropCounters()
        self.server_id = server_id
        self.domain = domain
        self.inviter = inviter
        self.registry = registry
        self.devices = devices
        self.bus = bus
        self.loop_lag_ms = loop_lag_ms
        self.bind_host = media.host
        wildcard = media.host in ("0.0.0.0", "::", "")
        self.advertised_host = media.advertised_host or (
            signalling_host if wildcard else media.host
        )
        self.ports = PortPool(*media.port_range)
        self.clock = Clock()
        self.sessions: dict[str, LiveSession] = {}
        self.by_key: dict[SessionKey, LiveSession] = {}
        self.ended: deque[dict[str, Any]] = deque(maxlen=ENDED_KEPT)
        self.secret = b""
        self._serials: set[int] = set()
        self._next_serial = 1
        self._civil: dict[str, str | None] = {}  # session id → channel civil code (scope)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._ticker: asyncio.Task[None] | None = None
        self._shutdown = False
        self.external: list[ExternalSource] = []  # pulled upstreams, registered by their owners
        self.stats = {"started": 0, "refused_capacity": 0, "ended": 0, "failed": 0}
        self.history = HistoryStreams(self)

    # ------------------------------------------------------------ lifecycle
    def start(self, secret: bytes) -> None:
        self.secret = secret
        self._ticker = asyncio.create_task(self._tick_loop())

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        self._shutdown = True
        for s in list(self.sessions.values()):
            self._end(s, EndReason.SHUTDOWN, "node shutting down", status=503)
        if self._tasks:
            # BYEs are best effort at shutdown: a device that is gone must not hold us up.
            await asyncio.wait(list(self._tasks), timeout=1.5)

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---------------------------------------------------------------- play
    async def play(
        self,
        principal: Principal,
        channel_pk: int,
        *,
        stream: str = "main",
        client_ip: str | None = None,
    ) -> PlayGrant:
        """Open (or join) the channel's live stream; waits for its first keyframe."""
        ch = await self.devices.get_channel(principal, channel_pk)
        require_right(principal, Right.LIVE, ch)
        session = await self._session_for(principal, ch, stream)
        token, exp = issue_stream_token(
            self.secret,
            user_id=principal.user_id,
            channel_pk=ch.id,
            session_id=session.id,
            ttl_s=self.media.token_ttl_s,
            now=time.time(),
        )
        audit(
            self.bus,
            AuditRecord.by(
                principal,
                action="live.play",
                target_type="channel",
                target_id=ch.channel_id,
                device_id=ch.device_id,
                client_ip=client_ip,
                detail={"channel_pk": ch.id, "stream": stream, "session": session.id},
            ),
        )
        return PlayGrant(session, token, exp)

    async def snapshot(
        self, principal: Principal, channel_pk: int, *, client_ip: str | None = None
    ) -> bytes:
        """JPEG of the latest keyframe; opens a short session when none is running."""
        ch = await self.devices.get_channel(principal, channel_pk)
        require_right(principal, Right.SNAPSHOT, ch)
        session = self._running(ch) or await self._session_for(principal, ch, "main")
        hub = session.hub
        keyframe = hub.last_keyframe
        if keyframe is None or hub.codec is None:
            raise StreamEnded(EndReason.DECODE_FAILURE, "no keyframe yet", 503)
        cached = session.snapshot_cache
        if cached is not None and cached[0] == hub.keyframes:
            jpeg = cached[1]
        else:
            try:
                jpeg = await asyncio.to_thread(keyframe_to_jpeg, hub.codec, keyframe.data)
            except SnapshotError as exc:
                raise StreamEnded(EndReason.DECODE_FAILURE, str(exc), 502) from exc
            session.snapshot_cache = (hub.keyframes, jpeg)
        if needs_watermark(principal):
            text = watermark_text(principal, ch.channel_id)
            jpeg = await asyncio.to_thread(burn_jpeg, jpeg, text)
        audit(
            self.bus,
            AuditRecord.by(
                principal,
                action="live.snapshot",
                target_type="channel",
                target_id=ch.channel_id,
                device_id=ch.device_id,
                client_ip=client_ip,
                detail={"channel_pk": ch.id, "session": session.id},
            ),
        )
        return jpeg

    def _running(self, ch: Channel) -> LiveSession | None:
        for stream in STREAMS:
            s = self.by_key.get(SessionKey(ch.device_id, ch.channel_id, stream))
            if s is not None and s.hub.ready:
                s.touch(self.clock.now)
                return s
        return None

    async def _session_for(self, principal: Principal, ch: Channel, stream: str) -> LiveSession:
        if stream not in STREAMS:
            raise ValueError(f"stream must be one of {', '.join(STREAMS)}")
        if ch.kind != ChannelKind.CHANNEL.value:
            raise ValueError(f"{ch.channel_id} is a {ch.kind}, not a video channel")
        source = self._source_of(ch.device_id)
        if not ch.online and source is None:  # a pulled source is tried: it may be back
            raise DeviceUnavailable(f"channel {ch.channel_id} is offline", 409)
        key = SessionKey(ch.device_id, ch.channel_id, stream)
        session = self.by_key.get(key)
        if session is None and source is not None:
            session = self.open_external(ch, source, stream=stream, started_by=principal.username)
        if session is None:
            device = await self.devices.get_device(principal, ch.device_id)
            transport = device.media_transport if device.media_transport in TRANSPORTS else "udp"
            session = self.by_key.get(key)  # another request may have started it meanwhile
            if session is None:
                session = self._create(key, ch, transport, principal.username)
                self._spawn(self._start(session))
        session.touch(self.clock.now)
        await asyncio.shield(session.ready)
        return session

    def _source_of(self, device_id: str) -> ExternalSource | None:
        for source in self.external:
            if source.owns(device_id):
                return source
        return None

    def open_external(
        self,
        ch: Channel,
        source: ExternalSource,
        *,
        stream: str = "main",
        started_by: str,
        pinned: bool = False,
    ) -> LiveSession:
        """The running session of a pulled channel, or a new one (not waiting for it)."""
        key = SessionKey(ch.device_id, ch.channel_id, stream)
        session = self.by_key.get(key)
        if session is None:
            session = self._create(key, ch, source.transport_of(ch), started_by)
            session.source = source
            self._spawn(self._start(session))
        session.pinned = session.pinned or pinned
        return session

    def end_session(
        self, s: LiveSession, reason: EndReason, detail: str, status: int = 502
    ) -> None:
        """End a session from outside (a pulled source failed or finished)."""
        self._end(s, reason, detail, bye=False, status=status)

    def _create(self, key: SessionKey, ch: Channel, transport: str, started_by: str) -> LiveSession:
        media = self.media
        if len(self.sessions) >= media.max_sessions:
            self.stats["refused_capacity"] += 1
            raise DeviceUnavailable(
                f"node at capacity: {len(self.sessions)} live streams (media.max_sessions)", 503
            )
        lag = self.loop_lag_ms()
        if lag > media.max_loop_lag_ms:
            self.stats["refused_capacity"] += 1
            raise DeviceUnavailable(
                f"node overloaded: event loop lags {lag:.0f} ms; not starting another stream", 503
            )
        serial = self._serial()
        session = LiveSession(
            key,
            channel_pk=ch.id,
            channel_name=ch.name,
            transport=transport,
            serial=serial,
            ssrc_text=make_ssrc(self.domain, serial, history=key.kind is not SessionKind.LIVE),
            clock=self.clock,
            strict_ssrc=media.ssrc_check == "strict",
            gop_max_bytes=media.gop_cache_max_bytes,
            hls_window=media.hls_window,
            hls_segment_s=media.hls_segment_s,
            started_by=started_by,
        )
        self.sessions[session.id] = session
        self.by_key[key] = session
        self._civil[session.id] = ch.civil_code
        self.stats["started"] += 1
        return session

    def _serial(self) -> int:
        for _ in range(9999):
            serial = self._next_serial
            self._next_serial = serial % 9999 + 1
            if serial not in self._serials:
                self._serials.add(serial)
                return serial
        raise DeviceUnavailable("no free SSRC serial (9999 streams)", 503)

    async def _start(self, s: LiveSession) -> None:
        key = s.key
        if s.source is not None:
            await self._start_external(s)
            return
        try:
            await self._bind(s)
            assert s.port is not None
            offer = play_offer(
                local_id=self.server_id,
                address=self.advertised_host,
                port=s.port,
                ssrc=s.ssrc_text,
                transport=s.transport,
                stream_number=1 if key.stream == "sub" else None,
                session_name=SESSION_NAMES[key.kind],
                channel_id=key.channel_id,
                start=key.start or 0,
                stop=key.end or 0,
                download_speed=s.download_speed if key.kind is SessionKind.DOWNLOAD else None,
            )
            subject = build_subject(key.channel_id, s.ssrc_text, self.server_id, str(s.serial))
            call = await self.inviter.invite(key.device_id, key.channel_id, offer, subject=subject)
        except InviteRefused as exc:
            self._end(s, EndReason.INVITE_FAILED, str(exc), status=exc.status)
            return
        except DeviceUnavailable as exc:
            reason = EndReason.DEVICE_OFFLINE if exc.status == 409 else EndReason.INVITE_FAILED
            self._end(s, reason, str(exc), status=exc.status)
            return
        except PortsExhausted as exc:
            self._end(s, EndReason.ERROR, str(exc), status=503)
            return
        except Exception as exc:
            log.exception("starting stream %s failed", s.id)
            self._end(s, EndReason.ERROR, f"internal error: {exc}", status=500)
            return
        dialog = call.dialog
        s.dialog = dialog
        if s.state == "ended":  # stopped while we were inviting
            self._spawn(self.inviter.bye(dialog, key.device_id))
            return
        dialog.on_bye = lambda _d, _req: self._end(
            s, EndReason.DEVICE_BYE, "the device ended the stream (BYE)", bye=False, status=502
        )
        dialog.on_message = lambda _d, req: self.history.on_dialog_message(s, req)
        if dialog.terminated:  # the device hung up while we were still sending the ACK
            self._end(s, EndReason.DEVICE_BYE, "the device hung up at once (BYE)", bye=False)
            return
        s.answer = call.answer
        try:
            m = call.answer.first("video")
            addr = call.answer.address_of(m)
            answered = call.answer.ssrc_of(m)
        except SdpError as exc:
            self._end(s, EndReason.ERROR, f"device SDP answer unusable: {exc}")
            return
        s.remote = (addr, m.port)
        bad_ssrc = call.answer.bad_ssrc_of(m)
        if bad_ssrc is not None:
            # A y= that is no SSRC (often the device ID): keep our offered one and learn
            # the real SSRC from the first packets that pass the source check.
            self.interop.count(key.device_id, Quirk.SDP_BAD_SSRC, f"(y={bad_ssrc!r})")
            s.rx.learn_ssrc()
        elif answered is not None and answered != s.ssrc:
            # Appendix F note 4: the sender's domain may choose the SSRC; its 200 says which.
            s.ssrc = answered
            s.ssrc_text = f"{answered:010d}"
            if s.strict_ssrc:
                s.rx.expected_ssrc = answered
        if self.media.check_source:
            hosts = {addr}
            if dialog.peer.host:
                hosts.add(dialog.peer.host)
            s.allowed_hosts = frozenset(hosts)
        if s.transport == "tcp-active":
            assert s.tcp is not None
            if not 0 < m.port < 65536:
                self._end(s, EndReason.MEDIA_CONNECT_FAILED, "device answered TCP port 0")
                return
            try:
                await s.tcp.connect(addr, m.port, self.media.tcp_connect_timeout_s)
            except (OSError, TimeoutError) as exc:
                self._end(
                    s,
                    EndReason.MEDIA_CONNECT_FAILED,
                    f"could not connect to the device's media port {addr}:{m.port}: "
                    f"{exc or type(exc).__name__}",
                )
                return
            if s.state == "ended":
                s.tcp.close()
                return
        s.media_started_mono = self.clock.now = time.monotonic()
        self.bus.publish(
            "stream.started",
            session_id=s.id,
            device_id=key.device_id,
            channel_id=key.channel_id,
            channel_pk=s.channel_pk,
            stream=key.stream,
            transport=s.transport,
            started_by=s.started_by,
        )

    async def _start_external(self, s: LiveSession) -> None:
        try:
            await s.source.start(s)
        except Exception as exc:
            log.exception("starting pulled stream %s failed", s.id)
            self._end(s, EndReason.ERROR, f"internal error: {exc}", bye=False, status=500)
            return
        if s.state == "ended":
            return
        s.media_started_mono = self.clock.now = time.monotonic()
        self.bus.publish(
            "stream.started",
            session_id=s.id,
            device_id=s.key.device_id,
            channel_id=s.key.channel_id,
            channel_pk=s.channel_pk,
            stream=s.key.stream,
            transport=s.transport,
            started_by=s.started_by,
        )

    async def _bind(self, s: LiveSession) -> None:
        host = self.bind_host
        last: OSError | None = None
        for _ in range(min(32, self.ports.size)):
            port = self.ports.reserve()
            try:
                if s.transport == "udp":
                    s.udp = await open_udp(
                        host, port, s.on_packet, batched=self.media.udp_receive == "batched"
                    )
                elif s.transport == "tcp-passive":
                    s.tcp = TcpRtpEndpoint(s.on_packet, allowed=self._source_check(s))
                    await s.tcp.listen(host, port)
                else:  # tcp-active: we connect out; the port is only advertised
                    s.tcp = TcpRtpEndpoint(s.on_packet, allowed=None)
            except OSError as exc:
                self.ports.release(port)
                s.tcp = None
                last = exc
                continue
            s.port = port
            return
        raise PortsExhausted(f"no RTP port could be bound on {host}: {last}")

    @staticmethod
    def _source_check(s: LiveSession) -> Callable[[str], bool]:
        def allowed(host: str) -> bool:
            hosts = s.allowed_hosts
            if hosts is None or host in hosts:
                return True
            s.wrong_source += 1
            s.last_wrong_source = host
            return False

        return allowed

    # ---------------------------------------------------------------- end
    def _end(
        self,
        s: LiveSession,
        reason: EndReason,
        detail: str,
        *,
        bye: bool = True,
        status: int = 502,
    ) -> None:
        if s.state == "ended":
            return
        s.state = SessionState.ENDED
        s.end_reason = reason
        s.end_detail = detail
        s.ended_at = time.time()
        if s.udp is not None:
            s.udp.close()
        if s.tcp is not None:
            s.tcp.close()
        if s.port is not None:
            self.ports.release(s.port)
        self._serials.discard(s.serial)
        self.sessions.pop(s.id, None)
        if self.by_key.get(s.key) is s:
            del self.by_key[s.key]
        civil = self._civil.pop(s.id, None)
        self.history.forget(s.id)
        if not s.ready.done():
            s.ready.set_exception(StreamEnded(reason, detail, status))
            s.ready.exception()  # retrieved: waiters re-raise it themselves
        for v in list(s.viewers):
            v.end(reason.value, detail)
        s.hub.drop_hls()
        if s.source is not None:
            try:
                s.source.stop(s)
            except Exception:
                log.exception("stopping pulled stream %s failed", s.id)
        if bye and s.dialog is not None and not s.dialog.terminated:
            self._spawn(
                self.inviter.bye(s.dialog, s.key.device_id, timeout=1.0 if self._shutdown else 4.0)
            )
        summary = s.describe(self.clock.now, self.media.hls_idle_s)
        summary["civil_code"] = civil
        self.ended.append(summary)
        self.stats["ended"] += 1
        failed = reason in FAILURES
        if failed:
            self.stats["failed"] += 1
        log.log(
            logging.WARNING if failed else logging.INFO,
            "stream %s of channel %s (device %s) ended: %s: %s",
            s.id,
            s.key.channel_id,
            s.key.device_id,
            reason.value,
            detail,
        )
        self.bus.publish(
            "stream.stopped",
            session_id=s.id,
            device_id=s.key.device_id,
            channel_id=s.key.channel_id,
            channel_pk=s.channel_pk,
            stream=s.key.stream,
            reason=reason.value,
            detail=detail,
        )

    async def stop_channel(self, principal: Principal, channel_pk: int) -> int:
        """Operator stop: end every stream of the channel now (BYE); returns how many."""
        ch = await self.devices.get_channel(principal, channel_pk)
        count = 0
        for stream in STREAMS:
            s = self.by_key.get(SessionKey(ch.device_id, ch.channel_id, stream))
            if s is not None:
                self._end(s, EndReason.STOPPED, f"stopped by {principal.username}", status=409)
                count += 1
        return count

    # ------------------------------------------------------- cascade forwards
    async def open_forward(self, channel_pk: int, forward: Any, started_by: str) -> LiveSession:
        """Join (or start) the channel's one upstream for a cascade forward.

        The forward counts as a viewer (it keeps the session from idling out and is
        told when the session ends). Its hub tap (raw frames, cached GOP first) is
        added by the caller once media can flow (the upper's ACK, or its TCP
        connection): tapping here too fed every frame twice.
        """
        principal = Principal(user_id=0, username=started_by, role=Role.ADMIN)
        ch = await self.devices.get_channel(principal, channel_pk)
        s = await self._session_for(principal, ch, "main")
        s.viewers.add(forward)
        s.idle_since = None
        return s

    def close_forward(self, session_id: str, forward: Any) -> None:
        s = self.sessions.get(session_id)
        if s is None:
            return
        s.hub.remove_tap(forward.on_frame)
        s.viewers.discard(forward)
        if not s.viewers and not s.hls_clients and s.state != "ended":
            s.idle_since = self.clock.now

    # ------------------------------------------------------------- viewers
    def _claims(self, session_id: str, token: str, *, allow_expired: bool) -> StreamClaims:
        claims = decode_stream_token(token, self.secret, time.time(), allow_expired=allow_expired)
        if claims.session_id != session_id:
            raise TokenError("malformed", "token belongs to another stream")
        return claims

    def viewer_session(self, session_id: str, token: str) -> tuple[LiveSession, StreamClaims]:
        """Check a WebSocket viewer's token; raise TokenError or LookupError (ended)."""
        claims = self._claims(session_id, token, allow_expired=False)
        s = self.sessions.get(session_id)
        if s is None:
            raise LookupError("stream has ended; request play again")
        if s.channel_pk != claims.channel_pk:
            raise TokenError("malformed", "token belongs to another channel")
        return s, claims

    def attach(self, s: LiveSession, viewer: WsViewer, *, audio: bool = False) -> None:
        s.hub.attach(viewer, audio=audio)
        s.viewers.add(viewer)
        s.idle_since = None

    def detach(self, s: LiveSession, viewer: WsViewer) -> None:
        s.hub.detach(viewer)
        s.viewers.discard(viewer)
        if not s.viewers and not s.hls_clients and not s.holders and s.state != "ended":
            s.idle_since = self.clock.now

    async def hold(
        self, principal: Principal, channel_pk: int, stream: str, consumer: Consumer
    ) -> LiveSession:
        """Open (or join) a live stream for a non-viewer consumer such as the recorder."""
        ch = await self.devices.get_channel(principal, channel_pk)
        s = await self._session_for(principal, ch, stream)
        s.hub.attach(consumer)
        s.holders.add(consumer)
        s.idle_since = None
        return s

    def release(self, s: LiveSession, consumer: Consumer) -> None:
        s.hub.detach(consumer)
        s.holders.discard(consumer)
        if not s.viewers and not s.hls_clients and not s.holders and s.state != "ended":
            s.idle_since = self.clock.now

    def hls_session(self, session_id: str, token: str) -> tuple[LiveSession, StreamClaims]:
        """Check an HLS request; a client already polling may continue past token expiry."""
        claims = self._claims(session_id, token, allow_expired=True)
        s = self.sessions.get(session_id)
        if s is None:
            raise LookupError("stream has ended; request play again")
        if s.channel_pk != claims.channel_pk:
            raise TokenError("malformed", "token belongs to another channel")
        if claims.expired and claims.token_id not in s.hls_clients:
            raise TokenError("expired")
        if time.time() - claims.issued_at > self.media.hls_session_max_s:
            s.hls_clients.pop(claims.token_id, None)
            raise TokenError("expired", "HLS session lifetime (media.hls_session_max_s) is over")
        s.hls_clients[claims.token_id] = self.clock.now
        s.idle_since = None
        return s, claims

    async def hls_playlist(self, s: LiveSession, wait_s: float | None = None) -> str:
        """The playlist; the first request waits (bounded) until one segment is cut."""
        limit = wait_s if wait_s is not None else 3 * self.media.hls_segment_s + 2
        deadline = time.monotonic() + limit
        while True:
            hls = s.hub.hls()
            if hls is not None and hls.segments:
                return hls.playlist()
            if s.state == "ended":
                raise LookupError(f"stream ended: {s.end_detail}")
            if time.monotonic() >= deadline:
                raise TimeoutError("no HLS segment yet")
            await asyncio.sleep(0.1)

    # ------------------------------------------------------------- reading
    def civil_code_of(self, session_id: str) -> str | None:
        """The civil code of the session's channel (what scope decisions use)."""
        return self._civil.get(session_id)

    def visible(self, principal: Principal) -> list[LiveSession]:
        return [
            s
            for s in self.sessions.values()
            if can_see_channel(principal, s.key.channel_id, self._civil.get(s.id), s.channel_pk)
        ]

    def describe(self, principal: Principal) -> dict[str, Any]:
        now = self.clock.now
        hls_idle = self.media.hls_idle_s
        return {
            "items": [s.describe(now, hls_idle) for s in self.visible(principal)],
            "ended": [
                {k: v for k, v in e.items() if k != "civil_code"}
                for e in reversed(self.ended)
                if can_see_channel(
                    principal, e["channel_id"], e.get("civil_code"), e.get("channel_pk")
                )
            ][:50],
            "capacity": {
                "sessions": len(self.sessions),
                "max_sessions": self.media.max_sessions,
                "ports_in_use": self.ports.in_use,
                "ports": self.ports.size,
            },
        }

    # ------------------------------------------------------------ watchdog
    async def _tick_loop(self) -> None:
        n = 0
        while True:
            await asyncio.sleep(TICK_S)
            now = time.monotonic()
            self.clock.now = now
            for s in list(self.sessions.values()):
                rx = s.rx
                if rx.held:
                    rx.poll(now)
            n += 1
            if n % WATCHDOG_EVERY == 0:
                try:
                    self._watchdog(now)
                except Exception:
                    log.exception("live watchdog failed")

    def _watchdog(self, now: float) -> None:
        media = self.media
        for s in list(self.sessions.values()):
            if s.state == "ended":
                continue
            s.sample(now)
            # pulled sources and our own segments play without a GB device
            if s.source is None and s.key.source != "platform":
                live = self.registry.get(s.key.device_id)
                if live is None or not live.online:
                    self._end(s, EndReason.DEVICE_OFFLINE, "the device went offline", status=409)
                    continue
            if s.source is None:  # a pulled source judges its own liveness
                verdict = s.verdict(now, media.no_rtp_timeout_s)
                if verdict is not None:
                    self._end(s, verdict[0], verdict[1])
                    continue
            if not s.hub.ready or s.pinned or s.key.kind is SessionKind.DOWNLOAD:
                continue  # always-on pulls stay; a download's consumer is its job
            ws, hls = s.viewer_count(now, media.hls_idle_s)
            if ws or hls or s.holders:
                s.idle_since = None
            elif s.idle_since is None:
                s.idle_since = now
            elif now - s.idle_since >= media.idle_grace_s:
                self._end(s, EndReason.IDLE, f"no viewer for {media.idle_grace_s:g} s", status=410)


__all__ = ["STREAMS", "ExternalSource", "LiveService", "PlayGrant"]
