"""One stream served to an upper platform: hub frames → GB PS (with PSM) → RTP out.

The forward is a consumer of the channel's one live upstream (``StreamHub`` tap):
every access unit becomes one PS pack (our ``PsMuxer``: pack header, and system
header + PSM before each keyframe, H.264 or H.265), split into RTP packets with
the SSRC agreed in SDP. Delivery follows the plan: UDP datagrams to the offer's
address, or RFC 4571 length-prefixed packets over TCP (we connect, or the upper
connects to the port we answered). A TCP peer that closes ends the forward; a
slow one that lets our write buffer pass ``TCP_WRITE_LIMIT`` loses whole frames
(counted in ``dropped``) instead of growing memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

from sharpeyes.cascade.sdp import ForwardPlan, SendMode
from sharpeyes.media.es import EsFrame
from sharpeyes.media.psmux import PsMuxer, packetize_rtp
from sharpeyes.media.rtp import frame_rfc4571
from sharpeyes.sip.transport import Peer

log = logging.getLogger(__name__)

TCP_WRITE_LIMIT = 4 * 1024 * 1024


class _Tcp(asyncio.Protocol):
    def __init__(self, fwd: Forward) -> None:
        self.fwd = fwd
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.fwd._tcp_up(self)

    def data_received(self, data: bytes) -> None:
        pass  # RTCP or nothing: ignored

    def connection_lost(self, exc: Exception | None) -> None:
        self.fwd._tcp_down(self)


@dataclass(eq=False)
class Forward:
    """See the module docstring; the SIP side (dialog) is kept here too."""

    upper_id: int
    upper_server_id: str
    exposed_id: str
    channel_pk: int
    device_id: str
    channel_id: str
    call_id: str
    local_uri: str
    local_tag: str
    remote_uri: str
    remote_tag: str
    remote_target: str
    sip_peer: Peer
    plan: ForwardPlan
    on_end: Callable[[Forward, str, bool], None]
    bind_host: str = "0.0.0.0"
    session_id: str | None = None
    record_id: int | None = None
    started_at: float = field(default_factory=time.time)
    acked: bool = False
    ended: bool = False
    end_reason: str | None = None
    bytes_sent: int = 0
    packets_sent: int = 0
    frames_sent: int = 0
    dropped: int = 0
    local_port: int = 0
    _seq: int = 0
    _mux: PsMuxer | None = None
    _udp: asyncio.DatagramTransport | None = None
    _server: asyncio.Server | None = None
    _tcp: _Tcp | None = None
    _cseq: int = 1
    # called once media can flow (at once for UDP; TCP: when the connection is up), so
    # the cached GOP replayed on attach reaches the upper and it starts on a keyframe
    on_ready: Callable[[], None] | None = None

    # ----------------------------------------------------------- sockets
    async def open(self) -> int:
        """Bind what the answer advertises; returns our media port."""
        loop = asyncio.get_running_loop()
        if self.plan.mode == SendMode.UDP:
            transport, _ = await loop.create_datagram_endpoint(
                asyncio.DatagramProtocol, local_addr=(self.bind_host, 0)
            )
            self._udp = transport
            self.local_port = transport.get_extra_info("sockname")[1]
        elif self.plan.mode == SendMode.TCP_LISTEN:
            self._server = await loop.create_server(
                lambda: _Tcp(self), self.bind_host, 0, backlog=2
            )
            self.local_port = self._server.sockets[0].getsockname()[1]
        return self.local_port

    async def connect(self, timeout: float = 5.0) -> None:
        """TCP active: connect to the upper's listening port (after the ACK)."""
        loop = asyncio.get_running_loop()
        try:
            await asyncio.wait_for(
                loop.create_connection(
                    lambda: _Tcp(self), self.plan.dest_host, self.plan.dest_port
                ),
                timeout,
            )
        except (OSError, TimeoutError) as exc:
            self.end(f"media connect to {self.plan.dest_host}:{self.plan.dest_port} failed: {exc}")

    def _tcp_up(self, conn: _Tcp) -> None:
        if self.ended or self._tcp is not None:
            if conn.transport is not None:
                conn.transport.close()
            return
        self._tcp = conn
        self._ready()

    def media_ready(self, hook: Callable[[], None]) -> None:
        """Run ``hook`` (attach to the hub) now if media can flow, else when it can."""
        self.on_ready = hook
        if self.plan.mode == SendMode.UDP or self._tcp is not None:
            self._ready()

    def _ready(self) -> None:
        hook, self.on_ready = self.on_ready, None
        if hook is not None and not self.ended:
            hook()

    def _tcp_down(self, conn: _Tcp) -> None:
        if self._tcp is conn:
            self._tcp = None
            self.end("the upper closed the media connection")

    # ------------------------------------------------------------- media
    def on_frame(self, frame: EsFrame) -> None:
        """Hub tap: one access unit in → one PS pack out as RTP."""
        if self.ended or frame.stream != "video":
            return
        if self._mux is None or self._mux.video_codec != frame.codec:
            if frame.codec not in ("h264", "h265"):
                return
            self._mux = PsMuxer(frame.codec)
        pts = frame.pts if frame.pts is not None else (frame.dts or 0)
        pack = self._mux.mux_video(frame.data, pts, frame.keyframe, frame.dts)
        pkts = packetize_rtp(pack, ssrc=self.plan.ssrc, seq_start=self._seq, ts=pts & 0xFFFFFFFF)
        self._seq = (self._seq + len(pkts)) & 0xFFFF
        if self._udp is not None:
            sendto, dest = self._udp.sendto, (self.plan.dest_host, self.plan.dest_port)
            for p in pkts:
                sendto(p, dest)
        elif self._tcp is not None and self._tcp.transport is not None:
            t = self._tcp.transport
            if t.get_write_buffer_size() > TCP_WRITE_LIMIT:
                self.dropped += 1
                return
            t.write(b"".join(frame_rfc4571(p) for p in pkts))
        else:
            self.dropped += 1
            return
        self.frames_sent += 1
        self.packets_sent += len(pkts)
        self.bytes_sent += sum(len(p) for p in pkts)

    # --------------------------------------------------------------- end
    def end(self, reason: str, detail: str = "", *, bye: bool = True) -> None:
        """Stop sending and close sockets; ``on_end`` sends the BYE and the record."""
        if self.ended:
            return
        self.ended = True
        self.end_reason = reason if not detail else f"{reason}: {detail}"
        self.close()
        try:
            self.on_end(self, self.end_reason, bye)
        except Exception:
            log.exception("forward end hook failed")

    def close(self) -> None:
        if self._udp is not None:
            self._udp.close()
            self._udp = None
        if self._server is not None:
            self._server.close()
            self._server = None
        if self._tcp is not None and self._tcp.transport is not None:
            with contextlib.suppress(Exception):
                self._tcp.transport.close()
        self._tcp = None

    def next_cseq(self) -> int:
        self._cseq += 1
        return self._cseq

    def describe(self) -> dict[str, object]:
        return {
            "upper_id": self.upper_id,
            "channel_pk": self.channel_pk,
            "channel_id": self.channel_id,
            "exposed_id": self.exposed_id,
            "transport": self.plan.mode.value,
            "dest": f"{self.plan.dest_host}:{self.plan.dest_port}",
            "ssrc": self.plan.ssrc_text,
            "started_at": self.started_at,
            "bytes": self.bytes_sent,
            "frames": self.frames_sent,
            "dropped": self.dropped,
            "session_id": self.session_id,
        }


__all__ = ["Forward"]
