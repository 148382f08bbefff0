"""One live upstream: a device channel's RTP stream, its receive chain and its viewers.

Per packet (``on_packet``): a source-address check (one string compare), then the
sans-IO chain ``RtpReceiver`` (SSRC, order, loss) → ``PayloadDepacketizer`` (PS,
TS or raw ES, auto-detected) → ``StreamHub`` (GOP cache, fan-out). Nothing per
packet reads the clock, logs or allocates beyond what the parsers need: liveness
is judged by the service's watchdog from counters (packets, wrong-SSRC packets,
frames) sampled a few times a second, which is also where bitrate and fps come
from. Demuxing runs for every session because every session exists for someone
(a viewer, a snapshot, or the grace period after the last viewer, which is what
makes a returning viewer's start instant); remuxing to fMP4/HLS runs only while
someone consumes it (see ``media.hub``).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sharpeyes.gb28181.sdp import SessionDescription
from sharpeyes.live.playback import PlaybackTimeline
from sharpeyes.live.rtp_io import TcpRtpEndpoint, UdpRtpEndpoint
from sharpeyes.live.viewer import WsViewer
from sharpeyes.media.detect import PayloadDepacketizer
from sharpeyes.media.hub import StreamHub
from sharpeyes.media.rtp import RtpReceiver
from sharpeyes.sip.dialog import Dialog


class SessionState(StrEnum):
    """starting → live (first media) → ended; compares equal to its string value."""

    STARTING = "starting"
    LIVE = "live"
    ENDED = "ended"


class EndReason(StrEnum):
    """Why a live session ended: what an operator reads to know what to fix."""

    NO_PACKETS = "no_packets"  # nothing arrived (firewall, NAT, wrong SDP address)
    SSRC_MISMATCH = "ssrc_mismatch"  # packets arrived, but with another SSRC than y=
    WRONG_SOURCE = "wrong_source"  # packets arrived from an address that is not the device
    DECODE_FAILURE = "decode_failure"  # packets arrived, no usable video came out
    DEVICE_BYE = "device_bye"  # the device hung up
    INVITE_FAILED = "invite_failed"  # the device refused or ignored the INVITE
    MEDIA_CONNECT_FAILED = "media_connect_failed"  # TCP active: could not reach the device
    DEVICE_OFFLINE = "device_offline"
    IDLE = "idle"  # the last viewer left and the grace period passed
    STOPPED = "stopped"  # an operator stopped it
    SHUTDOWN = "shutdown"
    EOF = "eof"  # playback/download: the device said the file ended (MediaStatus 121)
    COMPLETE = "complete"  # download: the requested range has been received
    ERROR = "error"
    MEDIA_NODE_LOST = "media_node_lost"  # the media node holding it stopped heartbeating
    # pulled sources (proxies/): RTSP/ONVIF cameras
    AUTH_FAILED = "auth_failed"  # the camera refused our credentials (401/403)
    CONNECT_FAILED = "connect_failed"  # refused, unreachable, timed out, not found
    NO_FRAMES = "no_frames"  # connected, but no usable video arrived
    UNSUPPORTED_CODEC = "unsupported_codec"  # not H.264/H.265
    DISCONNECTED = "disconnected"  # the source ended a running stream


FAILURES = frozenset(
    {
        EndReason.NO_PACKETS,
        EndReason.SSRC_MISMATCH,
        EndReason.WRONG_SOURCE,
        EndReason.DECODE_FAILURE,
        EndReason.INVITE_FAILED,
        EndReason.MEDIA_CONNECT_FAILED,
        EndReason.ERROR,
        EndReason.AUTH_FAILED,
        EndReason.CONNECT_FAILED,
        EndReason.NO_FRAMES,
        EndReason.UNSUPPORTED_CODEC,
        EndReason.DISCONNECTED,
        EndReason.MEDIA_NODE_LOST,
    }
)


class StreamEnded(Exception):
    """The session is over (or never started); ``status`` is the HTTP status to report."""

    def __init__(self, reason: EndReason, detail: str, status: int = 502) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail
        self.status = status


class SessionKind(StrEnum):
    """What a session carries: the same upstream machinery serves all three."""

    LIVE = "live"
    PLAYBACK = "playback"
    DOWNLOAD = "download"


@dataclass(frozen=True, slots=True)
class SessionKey:
    """Live sessions are shared per (device, channel, stream); history ones are not.

    A playback/download key holds its time range (Unix seconds) and a ``nonce``,
    because each has its own position, speed and pause state.
    """

    device_id: str
    channel_id: str
    stream: str  # "main" | "sub"
    kind: SessionKind = SessionKind.LIVE
    start: int | None = None
    end: int | None = None
    nonce: str = ""
    source: str = "device"  # "platform": served from our own segments, no upstream


class Clock:
    """A coarse monotonic clock the service ticks; packets read it instead of the OS clock."""

    __slots__ = ("now",)

    def __init__(self) -> None:
        self.now = time.monotonic()


class LiveSession:
    """See the module docstring. Created and ended by ``LiveService`` only."""

    def __init__(
        self,
        key: SessionKey,
        *,
        channel_pk: int,
        channel_name: str | None,
        transport: str,
        serial: int,
        ssrc_text: str,
        clock: Clock,
        strict_ssrc: bool,
        gop_max_bytes: int,
        hls_window: int,
        hls_segment_s: float,
        started_by: str,
    ) -> None:
        self.id = secrets.token_urlsafe(9)
        self.key = key
        self.channel_pk = channel_pk
        self.channel_name = channel_name
        self.transport = transport
        self.serial = serial
        self.ssrc_text = ssrc_text
        self.ssrc = int(ssrc_text)
        self.clock = clock
        self.started_by = started_by
        self.created_at = time.time()
        self.created_mono = clock.now
        self.state = SessionState.STARTING
        self.download_speed = 1  # Download sessions: a=downloadspeed
        self.port: int | None = None
        self.dialog: Dialog | None = None
        self.answer: SessionDescription | None = None
        self.remote: tuple[str, int] | None = None  # where the device says it sends from
        self.allowed_hosts: frozenset[str] | None = None
        self.udp: UdpRtpEndpoint | asyncio.DatagramTransport | None = None
        self.tcp: TcpRtpEndpoint | None = None
        self.media_started_mono: float | None = None
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.hub = StreamHub(
            gop_max_bytes=gop_max_bytes,
            hls_window=hls_window,
            hls_segment_s=hls_segment_s,
            on_ready=self._on_ready,
        )
        self.depay = PayloadDepacketizer()
        self.rx = RtpReceiver(
            self.ssrc if strict_ssrc else None,
            on_payload=self._on_payload,
            relatch_after=0 if strict_ssrc else 50,
        )
        self.strict_ssrc = strict_ssrc
        self.wrong_source = 0
        self.last_wrong_source: str | None = None
        self.viewers: set[WsViewer] = set()
        self.holders: set[object] = set()  # non-viewer consumers (the recorder) keep it open
        self.hls_clients: dict[str, float] = {}  # token id → last request (monotonic)
        self.idle_since: float | None = None
        self.end_reason: EndReason | None = None
        self.end_detail = ""
        self.ended_at: float | None = None
        # watchdog samples
        self._seen_packets = 0
        self._seen_wrong = 0
        self._seen_frames = 0
        self._packets_at: float | None = None
        self._frames_at: float | None = None
        self._seen_wrong_source = 0
        self._rate_at = clock.now
        self._rate_started = False
        self._rate_bytes = 0
        self._rate_frames = 0
        self.bitrate_bps = 0.0
        self.fps = 0.0
        self.snapshot_cache: tuple[int, bytes] | None = None
        # A pulled upstream (``live.service.ExternalSource``) instead of an INVITE; it
        # judges its own liveness. ``pinned``: kept without viewers (always-on proxies).
        self.source: Any = None
        self.pinned = False
        # Playback/download only: where the media is in the requested range.
        self.timeline: PlaybackTimeline | None = None
        if key.kind is not SessionKind.LIVE and key.start is not None and key.end is not None:
            self.timeline = PlaybackTimeline(key.start, key.end)

    # -- hot path ------------------------------------------------------------------

    def on_packet(self, data: bytes, addr: Any) -> None:
        """One RTP packet from the socket (UDP datagram or deframed TCP packet)."""
        allowed = self.allowed_hosts
        if allowed is not None and addr[0] not in allowed:
            self.wrong_source += 1
            self.last_wrong_source = addr[0]
            return
        self.rx.push(data, self.clock.now)

    def _on_payload(self, payload: memoryview, marker: bool, ts: int, gap: bool) -> None:
        frames = self.depay.push(payload, marker, ts, gap)
        if frames:
            push = self.hub.push
            timeline = self.timeline
            for f in frames:
                if timeline is not None and f.stream == "video":
                    timeline.on_frame(f.dts if f.dts is not None else f.pts, f.keyframe)
                push(f)

    def _on_ready(self, hub: StreamHub) -> None:
        if self.state == SessionState.STARTING:
            self.state = SessionState.LIVE
        if not self.ready.done():
            self.ready.set_result(None)

    # -- viewers -------------------------------------------------------------------

    def viewer_count(self, now: float, hls_idle_s: float) -> tuple[int, int]:
        """(WebSocket viewers, HLS clients seen within ``hls_idle_s``)."""
        stale = [k for k, t in self.hls_clients.items() if now - t > hls_idle_s]
        for k in stale:
            del self.hls_clients[k]
        if not self.hls_clients and self.hub.hls_active:
            self.hub.drop_hls()  # nobody polls the playlist: stop cutting segments
        return len(self.viewers), len(self.hls_clients)

    def touch(self, now: float) -> None:
        """Someone asked for this stream: restart the idle grace period."""
        if self.idle_since is not None:
            self.idle_since = now

    # -- watchdog ------------------------------------------------------------------

    def sample(self, now: float) -> None:
        """Fold counter changes into liveness timestamps and rates (called by the watchdog)."""
        rx = self.rx
        if rx.packets != self._seen_packets:
            # Usable RTP arrived: whatever misdirected packets came so far do not matter.
            self._seen_packets = rx.packets
            self._packets_at = now
            self._seen_wrong = rx.wrong_ssrc
            self._seen_wrong_source = self.wrong_source
        hub = self.hub
        if hub.accepted != self._seen_frames:  # usable frames, not decoded garbage
            self._seen_frames = hub.accepted
            self._frames_at = now
        if not self._rate_started:
            if hub.frames:  # measure from the first frame, not from the INVITE
                self._rate_started = True
                self._rate_at, self._rate_bytes, self._rate_frames = now, rx.bytes, hub.frames
            return
        dt = now - self._rate_at
        if dt >= 2.0 or (dt >= 1.0 and not self.fps):
            self.bitrate_bps = (rx.bytes - self._rate_bytes) * 8 / dt
            self.fps = (hub.frames - self._rate_frames) / dt
            self._rate_at, self._rate_bytes, self._rate_frames = now, rx.bytes, hub.frames

    def verdict(self, now: float, timeout: float) -> tuple[EndReason, str] | None:
        """Why this stream should end now, if it should (no packets, wrong SSRC, no video)."""
        start = self.media_started_mono
        if start is None:
            return None
        timeline = self.timeline
        if timeline is not None:
            if timeline.paused:
                return None  # a paused playback sends nothing, on purpose
            if timeline.resumed_mono is not None:
                start = max(start, timeline.resumed_mono)
                # liveness counts from the resume, not from before the pause
                if self._packets_at is not None and self._packets_at < start:
                    self._packets_at = start
                if self._frames_at is not None and self._frames_at < start:
                    self._frames_at = start
        last_packet = self._packets_at if self._packets_at is not None else start
        if now - last_packet >= timeout:
            # Only misdirected packets since the last usable one: say which kind.
            wrong_ssrc = self.rx.wrong_ssrc - self._seen_wrong
            if wrong_ssrc:
                seen = self.rx.last_wrong_ssrc
                return (
                    EndReason.SSRC_MISMATCH,
                    f"{wrong_ssrc} RTP packets carried SSRC "
                    f"{seen if seen is None else f'{seen:010d}'}, expected {self.ssrc:010d} "
                    f"(y= in the SDP); none matched for {timeout:g} s",
                )
            wrong_source = self.wrong_source - self._seen_wrong_source
            if wrong_source:
                return (
                    EndReason.WRONG_SOURCE,
                    f"{wrong_source} RTP packets came from {self.last_wrong_source}, "
                    f"which is not the device ({', '.join(sorted(self.allowed_hosts or ()))})",
                )
            tcp = self.tcp
            extra = f"; {tcp.last_error}" if tcp is not None and tcp.last_error else ""
            if self._packets_at is None:
                where = f"port {self.port}/{'tcp' if tcp else 'udp'}"
                return (
                    EndReason.NO_PACKETS,
                    f"no RTP arrived on {where} within {timeout:g} s after the INVITE{extra}",
                )
            return (
                EndReason.NO_PACKETS,
                f"RTP stopped: nothing for {now - last_packet:.0f} s{extra}",
            )
        last_frame = self._frames_at if self._frames_at is not None else start
        if now - last_frame >= timeout:
            return EndReason.DECODE_FAILURE, self._decode_problem(timeout, "no usable video")
        if not self.hub.ready and now - start >= 2 * timeout:
            return EndReason.DECODE_FAILURE, self._decode_problem(2 * timeout, "no usable keyframe")
        return None

    def _decode_problem(self, window: float, what: str) -> str:
        dp = self.depay
        hub = self.hub
        if hub.error:
            why = hub.error
        elif dp.format is None:
            why = f"payload format not recognised ({dp.stats['undetected']} payloads undetected)"
        else:
            inner = {k: v for k, v in dp.demuxer_stats.items() if v}
            why = f"{dp.format} payloads did not yield frames (demuxer: {inner or 'nothing'})"
        return f"{what} for {window:g} s while RTP kept arriving: {why}"

    # -- reporting -----------------------------------------------------------------

    def describe(self, now: float, hls_idle_s: float) -> dict[str, Any]:
        rx = self.rx
        hub = self.hub
        ws, hls = self.viewer_count(now, hls_idle_s) if self.state != SessionState.ENDED else (0, 0)
        expected = rx.received + rx.lost
        return {
            "id": self.id,
            "channel_pk": self.channel_pk,
            "device_id": self.key.device_id,
            "channel_id": self.key.channel_id,
            "channel_name": self.channel_name,
            "stream": self.key.stream,
            "transport": self.transport,
            "state": self.state,
            "ssrc": self.ssrc_text,
            "port": self.port,
            "remote": f"{self.remote[0]}:{self.remote[1]}" if self.remote else None,
            "format": self.depay.format,
            "codec": hub.codec,
            "mime_codec": hub.mime_codec,
            "width": hub.width,
            "height": hub.height,
            "audio_codec": hub.audio_codec,
            "fps": round(self.fps, 1),
            "bitrate_kbps": round(self.bitrate_bps / 1000, 1),
            "packets": rx.packets,
            "bytes": rx.bytes,
            "lost": rx.lost,
            "loss_pct": round(100 * rx.lost / expected, 3) if expected else 0.0,
            "reordered": rx.reordered,
            "duplicates": rx.duplicates,
            "wrong_ssrc": rx.wrong_ssrc,
            "wrong_source": self.wrong_source,
            "malformed": rx.malformed,
            "frames": hub.frames,
            "keyframes": hub.keyframes,
            "viewers": {"ws": ws, "hls": hls, "total": ws + hls},
            "dropped_for_slow_viewers": sum(v.dropped for v in self.viewers),
            "kind": self.key.kind.value,
            "range": [self.key.start, self.key.end] if self.timeline is not None else None,
            "position_s": round(self.timeline.position_s, 3) if self.timeline else None,
            "paused": self.timeline.paused if self.timeline else None,
            "scale": self.timeline.scale if self.timeline else None,
            "started_at": self.created_at,
            "started_by": self.started_by,
            "ended_at": self.ended_at,
            "end_reason": self.end_reason.value if self.end_reason else None,
            "end_detail": self.end_detail or None,
        }


__all__ = [
    "FAILURES",
    "Clock",
    "EndReason",
    "LiveSession",
    "SessionKey",
    "SessionKind",
    "StreamEnded",
]
