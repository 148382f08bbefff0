"""Pulling one RTSP (or HTTP FLV/HLS/MP4) source with PyAV, off the event loop.

Why PyAV: it is FFmpeg's RTSP client (the one every NVR vendor tests against:
Basic and Digest auth, TCP interleaved and UDP transports, RTCP, reordering,
H.264/H.265/AAC/G.711 depacketizers, rtsps), already a dependency for snapshots,
and it releases the GIL while it waits for packets — so one thread per pull
costs almost nothing while blocked, and the event loop never waits on a socket
it does not own. Python RTSP clients on PyPI are small, unmaintained, or
H.264-only.

FFmpeg's RTP depacketizers hand out one packet per RTP timestamp *run*, but some
cameras (and GStreamer with ``config-interval=-1``) split one access unit across
packets with the same timestamp; :class:`AccessUnitAssembler` (sans-IO) joins
them into whole access units (Annex-B), adds the SPS/PPS from the SDP
(``sprop-parameter-sets``) to keyframes that lack them in band, and decides
keyframes from the NAL types rather than trusting packet flags. Video and audio
go to the live hub unchanged: no decoding, no transcoding.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from fractions import Fraction
from typing import Any

from sharpeyes.media.es import EsFrame, is_keyframe, iter_nals, nal_type, parameter_sets
from sharpeyes.proxies.state import ProxyError, classify, redact

log = logging.getLogger(__name__)

VIDEO_CODECS = {"h264": "h264", "hevc": "h265"}
AUDIO_CODECS = {"pcm_alaw": "pcma", "pcm_mulaw": "pcmu", "aac": "aac", "mp3": "mp3"}
AUD = {"h264": 9, "h265": 35}


def to_90k(value: int | None, time_base: Fraction | None) -> int | None:
    if value is None or time_base is None:
        return None
    return int(value * time_base.numerator * 90000 // time_base.denominator)


class AccessUnitAssembler:
    """Depacketized video packets → whole access units (see the module docstring)."""

    def __init__(self, codec: str, extradata: bytes | None = None) -> None:
        self.codec = codec
        self.params = b""
        if extradata and extradata[:3] in (b"\x00\x00\x01", b"\x00\x00\x00"):
            self.params = bytes(extradata)  # Annex-B SPS/PPS(/VPS) from the SDP
        self._parts: list[bytes] = []
        self._pts: int | None = None
        self._dts: int | None = None

    def _starts_unit(self, data: bytes) -> bool:
        for nal in iter_nals(data):
            return nal_type(self.codec, nal) == AUD[self.codec]
        return False

    def push(self, data: bytes, pts: int | None, dts: int | None) -> list[EsFrame]:
        out: list[EsFrame] = []
        if self._parts and (
            self._starts_unit(data)
            or (pts is not None and self._pts is not None and pts != self._pts)
        ):
            out.extend(self.flush())
        self._parts.append(data)
        if self._pts is None:
            self._pts, self._dts = pts, dts if dts is not None else pts
        return out

    def flush(self) -> list[EsFrame]:
        if not self._parts:
            return []
        au = b"".join(self._parts)
        self._parts = []
        pts, dts = self._pts, self._dts
        self._pts = self._dts = None
        key = is_keyframe(self.codec, au)
        if key and self.params and "sps" not in parameter_sets(self.codec, au):
            au = self.params + au
        return [EsFrame("video", self.codec, pts, dts, au, key)]


class RtspPull:
    """One pull in a daemon thread; results are posted to the loop with call_soon_threadsafe.

    ``on_frames(frames, nbytes)`` gets batches of access units; ``on_opened(info)``
    once the stream is described; ``on_end(error, detail)`` exactly once
    (``error`` None when it was stopped).
    """

    def __init__(
        self,
        url: str,
        *,
        transport: str,
        loop: asyncio.AbstractEventLoop,
        on_frames: Callable[[list[EsFrame], int], None],
        on_opened: Callable[[dict[str, Any]], None],
        on_end: Callable[[ProxyError | None, str], None],
        open_timeout_s: float = 8.0,
        read_timeout_s: float = 5.0,
        no_frames_timeout_s: float = 8.0,
        probe_s: float = 0.5,
        name: str = "pull",
    ) -> None:
        self.url = url
        self.transport = transport
        self.loop = loop
        self.on_frames = on_frames
        self.on_opened = on_opened
        self.on_end = on_end
        self.open_timeout_s = open_timeout_s
        self.read_timeout_s = read_timeout_s
        self.no_frames_timeout_s = no_frames_timeout_s
        self.probe_s = probe_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.frames = 0
        self.bytes = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Ask the thread to end (within one packet or ``read_timeout_s``)."""
        self._stop.set()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    # -- thread ----------------------------------------------------------------------

    def _post(self, fn: Callable[..., None], *args: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed under us (shutdown)
            self.loop.call_soon_threadsafe(fn, *args)

    def _run(self) -> None:
        error: ProxyError | None = None
        detail = "stopped"
        try:
            error, detail = self._pull()
        except Exception as exc:  # a bug must end this pull, never the node
            log.exception("pull of %s failed", redact(self.url))
            error, detail = ProxyError.CONNECT_FAILED, f"internal error: {exc}"
        if self._stop.is_set():
            error, detail = None, "stopped"
        self._post(self.on_end, error, detail)

    def _pull(self) -> tuple[ProxyError | None, str]:
        import av
        import av.error

        # FFmpeg probes 5 s of media by default before it returns from open; the hub
        # reads the parameter sets itself, so a short probe only costs codec details.
        # If the short probe saw too little (a slow or loaded source), try once more
        # with FFmpeg's own probe before calling it a failure.
        container = None
        for probe_s in (self.probe_s, max(self.probe_s, 5.0)):
            options = {
                "analyzeduration": str(int(probe_s * 1_000_000)),
                "probesize": "262144" if probe_s < 5 else "5000000",
            }
            if self.url.startswith("rtsp"):
                options["rtsp_transport"] = self.transport
            try:
                container = av.open(
                    self.url, options=options, timeout=(self.open_timeout_s, self.read_timeout_s)
                )
                break
            except av.error.InvalidDataError as exc:
                if self._stop.is_set() or probe_s >= 5.0:
                    return classify(exc), _message(exc, self.url)
            except (av.error.FFmpegError, OSError) as exc:
                return classify(exc), _message(exc, self.url)
        assert container is not None
        try:
            return self._demux(container)
        finally:
            container.close()

    def _demux(self, container: Any) -> tuple[ProxyError | None, str]:
        import av.error

        video = next((s for s in container.streams if s.type == "video"), None)
        audio = next((s for s in container.streams if s.type == "audio"), None)
        if video is None:
            return ProxyError.NO_FRAMES, "the source has no video stream"
        vname = video.codec_context.name
        codec = VIDEO_CODECS.get(vname)
        if codec is None:
            return ProxyError.UNSUPPORTED_CODEC, f"video is {vname}; only H.264/H.265 are remuxed"
        acodec = AUDIO_CODECS.get(audio.codec_context.name) if audio is not None else None
        self._post(
            self.on_opened,
            {
                "codec": codec,
                "audio_codec": acodec or (audio.codec_context.name if audio else None),
                "width": video.codec_context.width or None,
                "height": video.codec_context.height or None,
            },
        )
        asm = AccessUnitAssembler(codec, video.codec_context.extradata)
        streams = [video] + ([audio] if acodec else [])
        vtb, atb = video.time_base, audio.time_base if audio is not None else None
        opened = time.monotonic()
        last_video = opened
        batch: list[EsFrame] = []
        nbytes = 0
        try:
            for packet in container.demux(streams):
                if self._stop.is_set():
                    return None, "stopped"
                now = time.monotonic()
                if packet.size:
                    data = bytes(packet)
                    nbytes += len(data)
                    if packet.stream is video:
                        done = asm.push(data, to_90k(packet.pts, vtb), to_90k(packet.dts, vtb))
                        if done:
                            last_video = now
                            self.frames += len(done)
                            batch.extend(done)
                    else:
                        pts = to_90k(packet.pts, atb)
                        batch.append(EsFrame("audio", acodec or "", pts, pts, data, True))
                    if batch and (batch[-1].stream == "video" or len(batch) > 16):
                        self.bytes += nbytes
                        self._post(self.on_frames, batch, nbytes)
                        batch, nbytes = [], 0
                if now - last_video > self.no_frames_timeout_s:
                    what = "no video frame" if self.frames else "no video frame yet"
                    return ProxyError.NO_FRAMES, f"{what} for {self.no_frames_timeout_s:g} s"
        except av.error.ExitError:
            return ProxyError.NO_FRAMES, f"nothing received for {self.read_timeout_s:g} s"
        except EOFError:
            pass
        except (av.error.FFmpegError, OSError) as exc:
            return ProxyError.DISCONNECTED, _message(exc, self.url)
        if self._stop.is_set():
            return None, "stopped"
        return ProxyError.DISCONNECTED, "the source ended the stream"


def _message(exc: BaseException, url: str) -> str:
    """FFmpeg's message without the URL it quotes (which may hold credentials)."""
    text = getattr(exc, "strerror", None) or str(exc)
    return f"{text} ({redact(url)})"


__all__ = ["AccessUnitAssembler", "RtspPull", "to_90k"]
