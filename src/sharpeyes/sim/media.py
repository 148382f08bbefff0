"""Simulated cameras' live media: answer INVITE, send real video over RTP, stop on BYE.

Video is real H.264 (or H.265) encoded once by PyAV (``media.testvideo``) and looped
with rising timestamps, so one clip serves any number of cameras: the picture of a
camera is chosen by its channel ID among ``patterns`` seeds (different cameras show
different pictures, so snapshots differ, while 1,000 cameras cost 8 encodes). The
container is GB PS with PSM (our ``PsMuxer``, optionally with G.711A audio), or
MPEG-TS (PT 33), or raw H.264/H.265 (RFC 6184/7798), as a device would send it.

Transport follows the offer: UDP to the ``c=``/``m=`` address; with ``TCP/RTP/AVP``
and ``a=setup:passive`` (the platform listens) the camera connects out, with
``a=setup:active`` the camera listens on a port it answers with (RFC 4571 framing
either way). Sending starts at the ACK and stops at a BYE (either side's).

Media faults (``SimDeviceConfig.faults``): ``invite_reject`` (486), ``invite_silent``
(no answer at all), ``no_media`` (200 but nothing sent), ``wrong_ssrc`` (sends with
another SSRC than y=). Quirk ``sdp_bad_ssrc`` (a third-party habit the platform must
tolerate): the 200 OK carries ``y=<device ID>`` (20 digits, no SSRC) and the camera
sends with an SSRC of its own.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import struct
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import TYPE_CHECKING, cast

from sharpeyes.gb28181 import mansrtsp
from sharpeyes.gb28181.manscdp import build_manscdp
from sharpeyes.gb28181.message import SipParseError, SipRequest, SipResponse, parse_name_addr
from sharpeyes.gb28181.message import response_for as _response_for
from sharpeyes.gb28181.sdp import MediaDescription, SdpError, parse_sdp, parse_ssrc, play_answer
from sharpeyes.media.detect import nal_payloads
from sharpeyes.media.psmux import PsMuxer, pack_header, packetize_rtp
from sharpeyes.media.rtp import build_rtp, frame_rfc4571
from sharpeyes.media.testscene import FAULTS as SCENE_FAULTS
from sharpeyes.media.testvideo import (
    CLOCK,
    EncodedFrame,
    generate_g711a,
    generate_video,
    loop_frames,
)
from sharpeyes.media.tsmux import TsMuxer, packetize_ts_rtp
from sharpeyes.sim import recordings as sim_recordings
from sharpeyes.sip.stack import SipTimeout, new_tag

if TYPE_CHECKING:
    from sharpeyes.sim.device import SimDevice

log = logging.getLogger("sharpeyes.sim")

MEDIA_FAULTS = frozenset({"invite_reject", "invite_silent", "no_media", "wrong_ssrc"})
MEDIA_QUIRKS = frozenset({"sdp_bad_ssrc"})
# Per-channel video faults (``SimDevice.set_video_fault``): pictures of a broken camera
# (media.testscene), and behaviours: no_video (INVITE answered, no RTP), clock_drift
# (DeviceTime off by ``SimDeviceConfig.clock_drift_s``), ptz_ignored (PTZ accepted,
# nothing moves; a healthy simulated camera pans its picture on a PTZ move).
PICTURE_FAULTS = SCENE_FAULTS
VIDEO_FAULTS = PICTURE_FAULTS | {"no_video", "clock_drift", "ptz_ignored"}
VIDEO_FAULT_ALIASES = {
    "colour_cast": "color_cast",
    "scene_change": "scene_moved",
    "freeze": "frozen",
    "dark": "black",
    "no_rtp": "no_video",
}


def parse_video_fault(name: str) -> str:
    """A fault name from the CLI/config (``colour-cast`` and ``color_cast`` alike)."""
    key = name.strip().lower().replace("-", "_")
    key = VIDEO_FAULT_ALIASES.get(key, key)
    if key not in VIDEO_FAULTS:
        raise ValueError(f"unknown video fault {name!r}; known: {', '.join(sorted(VIDEO_FAULTS))}")
    return key


TCP_WRITE_LIMIT = 4 * 1024 * 1024  # beyond this the platform is not reading: drop frames
_PAYLOADS = {
    "ps": (96, "PS/90000"),
    "ts": (33, "MP2T/90000"),
    "h264": (98, "H264/90000"),
    "h265": (99, "H265/90000"),
}


@dataclass
class SimMediaConfig:
    """What a simulated camera streams. Defaults are small so tests encode quickly."""

    codec: str = "h264"  # h264 | h265
    width: int = 320
    height: int = 240
    fps: int = 25
    gop: int = 25
    bitrate: int = 400_000
    frames: int = 50  # length of the encoded clip that is looped
    container: str = "ps"  # ps | ts | es
    audio: bool = False  # G.711A in the PS (PS only)
    patterns: int = 8  # distinct pictures shared by all cameras
    seed: int | None = None  # fixed picture; default: from the channel ID
    picture: str = "scene"  # "scene" (camera-like, media.testscene) | "pattern" (testvideo)
    mtu: int = 1400

    def __post_init__(self) -> None:
        if self.codec not in ("h264", "h265"):
            raise ValueError("codec must be h264 or h265")
        if self.container not in ("ps", "ts", "es"):
            raise ValueError("container must be ps, ts or es")
        if self.audio and self.container != "ps":
            raise ValueError("G.711A audio is only simulated inside PS")
        if self.fps <= 0 or self.frames <= 0 or self.patterns <= 0:
            raise ValueError("fps, frames and patterns must be positive")

    def seed_for(self, channel_id: str) -> int:
        if self.seed is not None:
            return self.seed
        return 1 + zlib.crc32(channel_id.encode()) % self.patterns

    def clip(self, seed: int, fault: str = "") -> tuple[EncodedFrame, ...]:
        """The looped clip of one picture, showing a picture ``fault`` (see VIDEO_FAULTS)."""
        return generate_video(
            self.codec,
            width=self.width,
            height=self.height,
            fps=self.fps,
            frames=self.frames,
            gop=self.gop,
            bitrate=self.bitrate,
            seed=seed,
            picture=self.picture,
            fault=fault if fault in PICTURE_FAULTS else "",
        )

    @property
    def payload(self) -> tuple[int, str]:
        return _PAYLOADS[self.codec if self.container == "es" else self.container]


_RTP_HDR = struct.Struct("!BBHII")


def _pes_ts(prefix: int, ts: int) -> bytes:
    ts &= (1 << 33) - 1
    return bytes(
        (
            (prefix << 4) | ((ts >> 29) & 0x0E) | 1,
            (ts >> 22) & 0xFF,
            ((ts >> 14) & 0xFE) | 1,
            (ts >> 7) & 0xFF,
            ((ts << 1) & 0xFE) | 1,
        )
    )


@lru_cache(maxsize=64)
def _ps_templates(
    clip: tuple[EncodedFrame, ...], codec: str, mtu: int
) -> tuple[tuple[tuple[bytes, ...], int], ...]:
    """Each clip frame muxed to PS once and cut into RTP payloads: (payloads, PES offset).

    Only the pack header (SCR) and the first PES header (PTS/DTS) change from one
    loop to the next, and both sit in the first payload, so sending a frame costs a
    patch of ~20 bytes instead of a remux: a few hundred cameras fit in one process.
    """
    mux = PsMuxer(codec)
    room = mtu - 12
    out = []
    for f in clip:
        pack = mux.mux_video(f.data, 0, f.keyframe)
        pes = pack.find(b"\x00\x00\x01\xe0", 14)
        if not 0 < pes <= room - 19:
            raise ValueError("PS headers do not fit the first RTP payload")
        chunks = tuple(pack[i : i + room] for i in range(0, len(pack), room))
        out.append((chunks, pes))
    return tuple(out)


class RtpSource:
    """Turns the looped clip into RTP packets, frame by frame (no socket, no clock)."""

    def __init__(self, cfg: SimMediaConfig, *, seed: int, ssrc: int, fault: str = "") -> None:
        self.cfg = cfg
        self.ssrc = ssrc & 0xFFFFFFFF
        self.pt = cfg.payload[0]
        self.step = CLOCK // cfg.fps
        self._clip = cfg.clip(seed, fault)
        self._frames: Iterator[EncodedFrame] = loop_frames(
            self._clip, frame_duration=self.step, start_pts=CLOCK
        )
        self._audio: Iterator[EncodedFrame] | None = None
        if cfg.audio:
            tone = generate_g711a(1000, frame_ms=1000 // cfg.fps, seed=seed)
            self._audio = loop_frames(tone, frame_duration=self.step, start_pts=CLOCK)
        self._seq = zlib.crc32(str(ssrc).encode()) & 0xFFFF
        self._templates: tuple[tuple[tuple[bytes, ...], int], ...] | None = None
        self._index = 0
        if cfg.container == "ps":
            self._ps = PsMuxer(cfg.codec, "pcma" if cfg.audio else None)
            if not cfg.audio:
                self._templates = _ps_templates(cfg.clip(seed, fault), cfg.codec, cfg.mtu)
        elif cfg.container == "ts":
            self._ts = TsMuxer(cfg.codec)
        self.frames_sent = 0
        self.packets_sent = 0
        self.bytes_sent = 0

    def seek(self, start_pts: int) -> None:
        """Restart the clip (at its keyframe) with timestamps from ``start_pts`` (playback)."""
        self._frames = loop_frames(self._clip, frame_duration=self.step, start_pts=start_pts)
        self._index = 0
        if self._audio is not None:
            tone = generate_g711a(1000, frame_ms=1000 // self.cfg.fps, seed=0)
            self._audio = loop_frames(tone, frame_duration=self.step, start_pts=start_pts)

    def next_frame(self) -> list[bytes]:
        """RTP packets of the next video frame (and its audio chunk, for PS with audio)."""
        f = next(self._frames)
        cfg = self.cfg
        seq = self._seq
        templates = self._templates
        if templates is not None:
            chunks, pes = templates[self._index]
            self._index = (self._index + 1) % len(templates)
            pts = f.pts
            first = bytearray(chunks[0])
            first[0:14] = pack_header(pts)
            first[pes + 9 : pes + 14] = _pes_ts(3, pts)
            first[pes + 14 : pes + 19] = _pes_ts(1, pts)
            last = len(chunks) - 1
            pack, pt, ssrc = _RTP_HDR.pack, self.pt, self.ssrc
            ts = pts & 0xFFFFFFFF
            pkts = [pack(0x80, pt | (0x80 if last == 0 else 0), seq, ts, ssrc) + first]
            for i in range(1, last + 1):
                marker = 0x80 if i == last else 0
                pkts.append(pack(0x80, pt | marker, (seq + i) & 0xFFFF, ts, ssrc) + chunks[i])
        elif cfg.container == "ps":
            pkts = packetize_rtp(
                self._ps.mux_video(f.data, f.pts, f.keyframe),
                ssrc=self.ssrc,
                seq_start=seq,
                ts=f.pts,
                pt=self.pt,
                mtu=cfg.mtu,
            )
            if self._audio is not None:
                a = next(self._audio)
                pkts += packetize_rtp(
                    self._ps.mux_audio(a.data, a.pts),
                    ssrc=self.ssrc,
                    seq_start=seq + len(pkts),
                    ts=a.pts,
                    pt=self.pt,
                    mtu=cfg.mtu,
                )
        elif cfg.container == "ts":
            pkts = packetize_ts_rtp(
                self._ts.mux_video(f.data, f.pts, f.keyframe),
                ssrc=self.ssrc,
                seq_start=seq,
                ts=f.pts,
            )
        else:
            payloads = nal_payloads(cfg.codec, f.data, mtu=cfg.mtu)
            last = len(payloads) - 1
            pkts = [
                build_rtp(p, pt=self.pt, seq=seq + i, ts=f.pts, ssrc=self.ssrc, marker=i == last)
                for i, p in enumerate(payloads)
            ]
        self._seq = (seq + len(pkts)) & 0xFFFF
        self.frames_sent += 1
        self.packets_sent += len(pkts)
        self.bytes_sent += sum(len(p) for p in pkts)
        return pkts


class Pacer:
    """Calls ``tick`` at ``fps`` on the loop's clock, on schedule even when a tick was late."""

    def __init__(self, fps: int, tick: Callable[[], None]) -> None:
        self.period = 1.0 / fps
        self.tick = tick
        self._handle: asyncio.Handle | None = None
        self._t0 = 0.0
        self._n = 0
        self.late = 0

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._t0 = loop.time()
        self._n = 0
        self._handle = loop.call_soon(self._run)

    def _run(self) -> None:
        loop = asyncio.get_running_loop()
        self.tick()
        self._n += 1
        due = self._t0 + self._n * self.period
        if loop.time() - due > self.period:
            self.late += 1
        self._handle = loop.call_at(due, self._run)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None


class _TcpSender(asyncio.Protocol):
    def __init__(self, call: SimCall) -> None:
        self.call = call
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.call._tcp_ready(self)

    def data_received(self, data: bytes) -> None:
        pass  # RTCP or garbage from the platform: ignored

    def connection_lost(self, exc: Exception | None) -> None:
        self.call._tcp_lost(self)


@dataclass
class PlaybackState:
    """Where a Playback/Download call is in its ``t=`` range (seconds from its start)."""

    kind: str  # playback | download
    start: int  # Unix seconds (t= start)
    end: int
    position_s: float = 0.0
    scale: float = 1.0
    download_speed: int = 1
    paused: bool = False
    finished: bool = False
    eof_sent: bool = False
    controls: list[mansrtsp.Command] = field(default_factory=list)

    @property
    def duration_s(self) -> float:
        return float(self.end - self.start)

    @property
    def rate(self) -> float:
        return float(self.download_speed) if self.kind == "download" else self.scale


@dataclass(eq=False)
class SimCall:
    """One answered INVITE on the camera side (a dialog and its media sender)."""

    device: SimDevice
    channel_id: str
    call_id: str
    local_uri: str
    local_tag: str
    remote_uri: str
    remote_tag: str
    remote_target: str
    mode: str  # udp | tcp-active (we connect) | tcp-passive (we listen)
    dest: tuple[str, int]
    source: RtpSource
    send_media: bool = True
    acked: bool = False
    udp: asyncio.DatagramTransport | None = None
    server: asyncio.Server | None = None
    tcp: _TcpSender | None = None
    pacer: Pacer | None = None
    ended: bool = False
    started_at: float | None = None
    cseq: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    dropped_frames: int = 0
    playback: PlaybackState | None = None  # Playback/Download: the position in the range

    # -- media -------------------------------------------------------------------

    def start(self) -> None:
        """ACK received: start sending (TCP active first connects)."""
        if self.acked or self.ended:
            return
        self.acked = True
        if not self.send_media:
            return
        if self.mode == "tcp-active":
            self.device.fleet.stack.schedule(self._connect())
        elif self.mode == "udp" or self.tcp is not None:
            self._run()

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            await loop.create_connection(lambda: _TcpSender(self), *self.dest)
        except OSError as exc:
            log.info("sim %s: cannot connect media to %s: %s", self.channel_id, self.dest, exc)

    def _tcp_ready(self, conn: _TcpSender) -> None:
        if self.ended:
            if conn.transport is not None:
                conn.transport.close()
            return
        self.tcp = conn
        if self.acked and self.send_media and self.pacer is None:
            self._run()

    def _tcp_lost(self, conn: _TcpSender) -> None:
        if self.tcp is conn:
            self.tcp = None
            if self.pacer is not None:
                self.pacer.stop()
                self.pacer = None

    def _run(self) -> None:
        if self.started_at is None:
            self.started_at = time.monotonic()
        pb = self.playback
        if pb is not None and (pb.paused or pb.finished):
            return
        rate = self.source.cfg.fps * (pb.rate if pb is not None else 1.0)
        self.pacer = Pacer(rate, self._tick)  # type: ignore[arg-type]
        self.pacer.start()

    def _restart(self) -> None:
        if self.pacer is not None:
            self.pacer.stop()
            self.pacer = None
        if self.acked and self.send_media and (self.mode == "udp" or self.tcp is not None):
            self._run()

    def control(self, cmd: mansrtsp.Command) -> None:
        """Obey a MANSRTSP PLAY/PAUSE (B.2): seek, speed, pause, resume."""
        pb = self.playback
        if pb is None:
            return
        pb.controls.append(cmd)
        if cmd.method is mansrtsp.Method.PAUSE:
            pb.paused = True
            if self.pacer is not None:
                self.pacer.stop()
                self.pacer = None
            return
        if cmd.method is not mansrtsp.Method.PLAY:
            return
        pb.paused = False
        if cmd.scale is not None:
            pb.scale = abs(cmd.scale)
        if cmd.position_s is not None:
            pb.position_s = min(cmd.position_s, pb.duration_s)
            pb.finished = False
            self.source.seek(CLOCK + round(pb.position_s * CLOCK))
        self._restart()

    def _finish(self) -> None:
        """The range is sent: stop and say so with MediaStatus 121 (in the dialog)."""
        pb = self.playback
        assert pb is not None
        pb.finished = True
        if self.pacer is not None:
            self.pacer.stop()
            self.pacer = None
        self.device.fleet.stack.schedule(self._media_status())

    async def _media_status(self) -> None:
        device = self.device
        body = build_manscdp(
            "Notify",
            "MediaStatus",
            next(device._sn),
            self.channel_id,
            [("NotifyType", "121")],
            charset=device.config.charset,
        )
        req = device.fleet.stack.build_request(
            "MESSAGE",
            self.remote_target,
            from_uri=self.local_uri,
            to_uri=self.remote_uri,
            from_tag=self.local_tag,
            to_tag=self.remote_tag,
            call_id=self.call_id,
            cseq=next(self.cseq) + 1,
            body=body,
            content_type="Application/MANSCDP+xml",
        )
        try:
            await device.fleet.send(req)
            assert self.playback is not None
            self.playback.eof_sent = True
        except (SipTimeout, OSError) as exc:
            log.info("sim %s: MediaStatus not delivered: %s", self.channel_id, exc)

    def _tick(self) -> None:
        pb = self.playback
        if pb is not None:
            if pb.position_s >= pb.duration_s - 1e-6:
                self._finish()
                return
            pb.position_s += 1.0 / self.source.cfg.fps
        pkts = self.source.next_frame()
        if self.udp is not None:
            sendto, dest = self.udp.sendto, self.dest
            for p in pkts:
                sendto(p, dest)
        elif self.tcp is not None and self.tcp.transport is not None:
            t = self.tcp.transport
            if t.get_write_buffer_size() > TCP_WRITE_LIMIT:
                self.dropped_frames += 1
                return
            t.write(b"".join(frame_rfc4571(p) for p in pkts))

    def stop(self) -> None:
        """Stop sending and close sockets (BYE either way, or the device stopping)."""
        self.ended = True
        if self.pacer is not None:
            self.pacer.stop()
            self.pacer = None
        if self.udp is not None:
            self.udp.close()
            self.udp = None
        if self.server is not None:
            self.server.close()
            self.server = None
        if self.tcp is not None and self.tcp.transport is not None:
            self.tcp.transport.close()
        self.tcp = None


def _calls(device: SimDevice) -> dict[str, SimCall]:
    return device.media_calls


def _wants_sub_stream(m: MediaDescription) -> bool:
    """True when the offer selects a stream other than the main one, as GB devices read
    it: ``a=streamnumber:`` (GB/T 28181-2022) or the widespread ``a=streamprofile:``."""
    for name, value in m.attributes:
        if name in ("streamnumber", "streamprofile") and (value or "0").strip() not in ("", "0"):
            return True
    return False


def _sub_stream(cfg: SimMediaConfig) -> SimMediaConfig:
    """The sub-stream: half the width and height (even), a quarter of the bitrate."""
    return replace(
        cfg,
        width=max(32, cfg.width // 4 * 2),
        height=max(32, cfg.height // 4 * 2),
        bitrate=max(50_000, cfg.bitrate // 4),
    )


async def on_invite(device: SimDevice, req: SipRequest) -> SipResponse | None:
    """Answer a live INVITE like a GB camera (see the module docstring)."""
    faults = device.faults
    if "invite_silent" in faults:
        return None
    to_tag = new_tag()
    if "invite_reject" in faults:
        return _response_for(req, 486, "Busy Here", to_tag=to_tag)
    calls = _calls(device)
    if req.call_id in calls:
        return None  # a retransmission racing the first answer: the stack re-sends ours
    try:
        channel_id = req.uri.split(":", 1)[1].split("@", 1)[0]
        device.channel(channel_id)
    except (IndexError, KeyError):
        return _response_for(req, 404, "No such channel", to_tag=to_tag)
    try:
        offer = parse_sdp(req.body)
        m = offer.first("video")
        dest = (offer.address_of(m), m.port)
        ssrc_text = m.ssrc or offer.ssrc
        ssrc = parse_ssrc(ssrc_text) if ssrc_text else zlib.crc32(req.call_id.encode())
        frm = parse_name_addr(req.headers["From"])
        to = parse_name_addr(req.headers["To"])
        contact = req.headers.get("Contact")
        target = str(parse_name_addr(contact).uri) if contact else str(frm.uri)
    except (SdpError, SipParseError, KeyError) as exc:
        # No (usable) offer: GB devices answer 488 to SDP they cannot satisfy (F note 5).
        log.info("sim %s: unusable INVITE: %s", device.device_id, exc)
        return _response_for(req, 488, "Not Acceptable Here", to_tag=to_tag)
    playback: PlaybackState | None = None
    if offer.operation in ("playback", "download"):
        if not 0 < offer.start < offer.stop:
            return _response_for(req, 488, "Playback needs t=<start> <end>", to_tag=to_tag)
        if not sim_recordings.covered(
            device.config.recordings, channel_id, offer.start, offer.stop
        ):
            return _response_for(req, 404, "No recording in that range", to_tag=to_tag)
        speed = 1
        for name, value in m.attributes:
            if name == "downloadspeed" and value and value.strip().isdigit():
                speed = max(1, min(32, int(value.strip())))
        playback = PlaybackState(offer.operation, offer.start, offer.stop, download_speed=speed)
    elif offer.operation != "play":
        return _response_for(req, 488, f"s={offer.session_name} not supported", to_tag=to_tag)
    cfg = device.config.media or SimMediaConfig()
    if _wants_sub_stream(m):
        cfg = _sub_stream(cfg)
    if m.tcp:
        mode = "tcp-active" if m.setup in (None, "passive", "actpass") else "tcp-passive"
    else:
        mode = "udp"
    if not 0 < dest[1] < 65536 and mode != "tcp-passive":
        return _response_for(req, 488, "Offer has no usable port", to_tag=to_tag)
    sent_ssrc = ssrc + 1 if "wrong_ssrc" in faults else ssrc
    answered_ssrc = f"{ssrc:010d}"
    if "sdp_bad_ssrc" in faults:
        answered_ssrc = device.device_id
        sent_ssrc = zlib.crc32(device.device_id.encode()) & 0xFFFFFFFF
    seed = cfg.seed_for(channel_id)
    # The first INVITE for a picture encodes the clip: off the loop (the demo runs the
    # simulator inside the node's process). Later calls hit generate_video's cache.
    await asyncio.to_thread(cfg.clip, seed)
    fault = device.video_faults.get(channel_id, "")
    if device.ptz_moves.get(channel_id) and fault != "ptz_ignored":
        seed = seed + 1000 * device.ptz_moves[channel_id]  # the camera looks elsewhere now
    await asyncio.to_thread(cfg.clip, seed, fault)
    source = RtpSource(cfg, seed=seed, ssrc=sent_ssrc, fault=fault)
    call = SimCall(
        device=device,
        channel_id=channel_id,
        call_id=req.call_id,
        local_uri=str(to.uri),
        local_tag=to_tag,
        remote_uri=str(frm.uri),
        remote_tag=frm.tag,
        remote_target=target,
        mode=mode,
        dest=dest,
        source=source,
        send_media="no_media" not in faults and fault != "no_video",
        playback=playback,
    )
    fleet = device.fleet
    loop = asyncio.get_running_loop()
    if mode == "udp":
        transport, _ = await loop.create_datagram_endpoint(
            asyncio.DatagramProtocol, local_addr=(fleet.local_host, 0)
        )
        call.udp = transport
        port = transport.get_extra_info("sockname")[1]
    elif mode == "tcp-passive":
        call.server = await loop.create_server(
            lambda: _TcpSender(call), fleet.local_host, 0, backlog=2
        )
        port = call.server.sockets[0].getsockname()[1]
    else:
        port = 9  # RFC 4145: the active side's port is not used; never 0
    calls[req.call_id] = call
    answer = play_answer(
        offer,
        local_id=channel_id,
        address=fleet.advertised_host,
        port=port,
        ssrc=answered_ssrc,
        payload=cfg.payload,
    )
    return _response_for(
        req,
        200,
        to_tag=to_tag,
        headers=[
            ("Contact", f"<sip:{channel_id}@{fleet.advertised_host}:{fleet.port}>"),
            ("Content-Type", "application/sdp"),
        ],
        body=answer.to_bytes(),
    )


def on_ack(device: SimDevice, req: SipRequest) -> None:
    call = _calls(device).get(req.call_id)
    if call is not None:
        call.start()


def on_info(device: SimDevice, req: SipRequest) -> SipResponse:
    """MANSRTSP in INFO (Appendix B) for a Playback call; answered with its CSeq."""
    call = _calls(device).get(req.call_id)
    if call is None:
        return _response_for(req, 481)
    try:
        cmd = mansrtsp.parse(req.body)
    except mansrtsp.MansrtspError as exc:
        return _response_for(req, 400, str(exc)[:80])
    if call.playback is None:
        return _response_for(req, 488, "Not a playback session")
    call.control(cmd)
    return _response_for(
        req,
        200,
        headers=[("Content-Type", mansrtsp.CONTENT_TYPE)],
        body=mansrtsp.response(cmd.cseq),
    )


def on_bye(device: SimDevice, req: SipRequest) -> SipResponse:
    call = _calls(device).pop(req.call_id, None)
    if call is None:
        return _response_for(req, 481)
    call.stop()
    return _response_for(req, 200)


async def hang_up(device: SimDevice, channel_id: str | None = None) -> list[int]:
    """The camera ends its streams (BYE from the device side); returns the BYE statuses."""
    calls = _calls(device)
    out: list[int] = []
    for call_id, call in list(calls.items()):
        if channel_id is not None and call.channel_id != channel_id:
            continue
        calls.pop(call_id, None)
        call.stop()
        req = device.fleet.stack.build_request(
            "BYE",
            call.remote_target,
            from_uri=call.local_uri,
            to_uri=call.remote_uri,
            from_tag=call.local_tag,
            to_tag=call.remote_tag,
            call_id=call.call_id,
            cseq=next(call.cseq) + 100,
        )
        try:
            resp = await device.fleet.send(req)
            out.append(resp.status)
        except SipTimeout:
            out.append(408)
    return out


def stop_all(device: SimDevice) -> None:
    """Silence every stream (the device shuts down without signalling)."""
    calls = _calls(device)
    for call in calls.values():
        call.stop()
    calls.clear()


def active_calls(device: SimDevice) -> list[SimCall]:
    return list(_calls(device).values())


__all__ = [
    "MEDIA_FAULTS",
    "Pacer",
    "PlaybackState",
    "RtpSource",
    "SimCall",
    "SimMediaConfig",
    "active_calls",
    "hang_up",
    "on_ack",
    "on_bye",
    "on_info",
    "on_invite",
    "stop_all",
]
