"""Stream hub: one upstream's access units fanned out to many consumers (sans-IO).

One hub per live session. It keeps a GOP cache (every frame since the last
keyframe) so a new viewer starts decoding at once instead of waiting up to a GOP,
and it remuxes only for whom it must:

- frames always go through the cache (cheap: a list append of an existing object);
- a shared fMP4 writer exists only while at least one fMP4 consumer is attached.
  It turns each frame into one moof+mdat once, whatever the number of viewers; a
  joining viewer gets the init segment and one fragment covering the cached GOP
  followed by the fragments written since, all on the same timeline;
- an HLS writer is created on the first HLS request (from the cached GOP) and
  dropped by the session when no HLS client has asked for a while.

Video is passed through as it came (H.264 or H.265, no transcoding). Audio goes
only to viewers who attached with ``audio=True``: they get an init segment with an
AAC track 2 beside the shared video track, and the audio fragments of an
:class:`~sharpeyes.media.audio.AudioPipe` (AAC passed through, G.711 transcoded)
that exists only while such a viewer is attached. Nothing here blocks, logs or
reads a clock.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from .audio import PLAYABLE, AudioError, AudioPipe, av_init_segment
from .es import EsError, EsFrame, codec_string, parameter_sets, parse_sps
from .fmp4 import Fmp4Error, Fmp4Writer
from .hls import HlsWriter

FMP4_CODECS = frozenset({"h264", "h265"})
DEFAULT_FRAME_TICKS = 3600  # 40 ms at 90 kHz, until the stream shows its own frame rate


class Consumer(Protocol):
    """Something that takes fMP4 bytes without blocking (a WebSocket viewer's queue)."""

    def send_init(self, info: dict[str, object], init: bytes) -> None: ...

    def send_media(self, data: bytes, keyframe: bool) -> None: ...


class StreamHub:
    """See the module docstring. ``on_ready`` fires once, at the first usable keyframe."""

    def __init__(
        self,
        *,
        gop_max_bytes: int = 8 * 1024 * 1024,
        gop_max_frames: int = 750,
        hls_window: int = 6,
        hls_segment_s: float = 2.0,
        on_ready: Callable[[StreamHub], None] | None = None,
    ) -> None:
        self.gop_max_bytes = gop_max_bytes
        self.gop_max_frames = gop_max_frames
        self.hls_window = hls_window
        self.hls_segment_s = hls_segment_s
        self.on_ready = on_ready
        self.codec: str | None = None
        self.mime_codec: str | None = None
        self.width: int | None = None
        self.height: int | None = None
        self.audio_codec: str | None = None
        self.last_keyframe: EsFrame | None = None
        self.error: str | None = None  # why the stream cannot be served, if it cannot
        self.frames = 0  # every video frame that came out of the depacketizer
        self.accepted = 0  # ... of which usable: from the first good keyframe on
        self.keyframes = 0
        self.audio_frames = 0
        self.video_bytes = 0
        self.skipped = 0  # video frames before the first usable keyframe
        self.bad_keyframes = 0
        self.gop_overflows = 0
        self._params: tuple[bytes, ...] | None = None
        self._gop: list[EsFrame] = []
        self._gop_bytes = 0
        self._gop_ok = False
        self._consumers: list[Consumer] = []
        self._pending: list[Consumer] = []  # attached while nothing was cached: wait for a keyframe
        self._writer: Fmp4Writer | None = None
        self._init: bytes = b""
        self._frags: list[bytes] = []
        self._hls: HlsWriter | None = None
        self._taps: list[Callable[[EsFrame], None]] = []  # raw-frame consumers (forwards)
        self._last_dts: int | None = None
        self._delta = DEFAULT_FRAME_TICKS
        self._last_audio: EsFrame | None = None
        self._audio_pipe: AudioPipe | None = None
        self._audio_consumers: list[Consumer] = []

    # -- state -------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """A keyframe with usable parameter sets has been seen."""
        return self._params is not None

    @property
    def consumers(self) -> int:
        return len(self._consumers) + len(self._pending)

    @property
    def remuxing(self) -> bool:
        """True while an fMP4 writer runs (only when someone consumes fMP4)."""
        return self._writer is not None

    @property
    def gop_frames(self) -> int:
        return len(self._gop)

    def info(self) -> dict[str, object]:
        return {
            "codec": self.codec,
            "mime_codec": self.mime_codec,
            "mime": f'video/mp4; codecs="{self.mime_codec}"' if self.mime_codec else None,
            "width": self.width,
            "height": self.height,
            "audio_codec": self.audio_codec,
        }

    # -- input -------------------------------------------------------------------

    def push(self, frame: EsFrame) -> None:
        """One access unit in decode order (from the depacketizer)."""
        if frame.stream != "video":
            self.audio_frames += 1
            self.audio_codec = frame.codec
            self._last_audio = frame
            pipe = self._audio_pipe
            if pipe is not None:
                frag = pipe.push(frame)
                if frag:
                    for c in self._audio_consumers:
                        if c in self._consumers:
                            c.send_media(frag, False)
            return
        self.frames += 1
        self.video_bytes += len(frame.data)
        dts = frame.dts if frame.dts is not None else frame.pts
        if dts is not None:
            last = self._last_dts
            if last is not None and 0 < dts - last <= 90000:
                self._delta = dts - last
            self._last_dts = dts
        if frame.keyframe:
            if not self._keyframe(frame):
                return
        elif not self._gop_ok:
            if self._params is None:
                self.skipped += 1
                return
        else:
            self._gop_bytes += len(frame.data)
            if len(self._gop) >= self.gop_max_frames or self._gop_bytes > self.gop_max_bytes:
                # A camera with a very long GOP: stop caching until the next keyframe
                # (viewers already attached keep getting every frame).
                self.gop_overflows += 1
                self._gop = []
                self._gop_bytes = 0
                self._gop_ok = False
                self._frags = []
            else:
                self._gop.append(frame)
        self.accepted += 1
        writer = self._writer
        if writer is not None:
            end = dts + self._delta if dts is not None else None
            frag = writer.fragment((frame,), end_dts=end)
            if self._gop_ok:
                self._frags.append(frag)
            if self._pending and frame.keyframe:
                self._consumers.extend(self._pending)
                self._pending = []
            for c in self._consumers:
                c.send_media(frag, frame.keyframe)
        hls = self._hls
        if hls is not None:
            hls.push(frame)
        for tap in self._taps:
            tap(frame)

    def _keyframe(self, frame: EsFrame) -> bool:
        """Start a new GOP; (re)learn the stream's parameters when they change."""
        codec = frame.codec
        if codec not in FMP4_CODECS:
            self.error = f"video codec {codec} cannot be remuxed to fMP4 (H.264/H.265 only)"
            self.bad_keyframes += 1
            return False
        ps = parameter_sets(codec, frame.data)
        if "sps" not in ps or "pps" not in ps or (codec == "h265" and "vps" not in ps):
            if self._params is None or codec != self.codec:
                self.bad_keyframes += 1
                return False
        else:
            params = (codec.encode(), ps.get("vps", b""), ps["sps"], ps["pps"])
            if params != self._params and not self._learn(codec, ps, params, frame):
                return False
        first = self.keyframes == 0
        self.keyframes += 1
        self.last_keyframe = frame
        self._gop = [frame]
        self._gop_bytes = len(frame.data)
        self._gop_ok = True
        self._frags = []
        if first and self.on_ready is not None:
            self.on_ready(self)
        return True

    def _learn(
        self, codec: str, ps: dict[str, bytes], params: tuple[bytes, ...], frame: EsFrame
    ) -> bool:
        try:
            sps = parse_sps(codec, ps["sps"])
            writer = Fmp4Writer.from_keyframe(codec, frame.data) if self._writer else None
        except (EsError, Fmp4Error, ValueError, IndexError) as exc:
            self.bad_keyframes += 1
            self.error = f"unusable {codec} parameter sets: {exc}"
            return False
        self._params = params
        self.error = None
        self.codec = codec
        self.width, self.height = sps.width, sps.height
        self.mime_codec = codec_string(sps)
        if writer is not None:
            # Resolution or codec changed under attached viewers: new init segment.
            self._writer = writer
            self._init = writer.init_segment()
            for c in self._consumers + self._pending:
                c.send_init(*self._init_for(c))
        if self._hls is not None:
            self._hls = None  # HLS clients re-request; a new writer starts at this keyframe
        return True

    # -- fMP4 consumers ------------------------------------------------------------

    def attach(self, consumer: Consumer, *, audio: bool = False) -> None:
        """Add a viewer: it is sent the init segment and the cached GOP at once.

        With ``audio`` (and a stream whose audio can become AAC) the init segment has
        an audio track and the viewer gets audio fragments too. Raises
        ``LookupError`` while no usable keyframe has been seen.
        """
        if self._params is None or self.codec is None or self.last_keyframe is None:
            raise LookupError("no keyframe yet")
        if self._writer is None:
            try:
                writer = Fmp4Writer.from_keyframe(self.codec, self.last_keyframe.data)
            except Fmp4Error as exc:
                raise LookupError(str(exc)) from exc
            self._writer = writer
            self._init = writer.init_segment()
            gop = self._gop if self._gop_ok else []
            self._frags = []
            if gop:
                # The keyframe alone first, so a player can show a picture before the rest
                # of the cached GOP has arrived; then the rest in one fragment.
                key_end = self._dts(gop[1]) if len(gop) > 1 else self._end_of(gop[0])
                self._frags.append(writer.fragment(gop[:1], end_dts=key_end))
                if len(gop) > 1:
                    self._frags.append(writer.fragment(gop[1:], end_dts=self._end_of(gop[-1])))
        if audio:
            self._start_audio(consumer)
        consumer.send_init(*self._init_for(consumer))
        if self._frags:
            consumer.send_media(self._frags[0], True)
            if len(self._frags) > 1:
                consumer.send_media(b"".join(self._frags[1:]), False)
            self._consumers.append(consumer)
        else:
            self._pending.append(consumer)

    def detach(self, consumer: Consumer) -> None:
        """Remove a viewer; with none left the fMP4 writer is dropped (no remux cost)."""
        if consumer in self._pending:
            self._pending.remove(consumer)
        elif consumer in self._consumers:
            self._consumers.remove(consumer)
        else:
            return
        if consumer in self._audio_consumers:
            self._audio_consumers.remove(consumer)
            if not self._audio_consumers:
                self._audio_pipe = None  # nobody listens: stop transcoding
        if not self._consumers and not self._pending:
            self._writer = None
            self._init = b""
            self._frags = []

    # -- audio -----------------------------------------------------------------------

    @property
    def audio_active(self) -> bool:
        """True while an audio pipe runs (some viewer has sound on)."""
        return self._audio_pipe is not None

    @property
    def audio_transcoding(self) -> bool:
        return self._audio_pipe is not None and self._audio_pipe.transcoding

    def _start_audio(self, consumer: Consumer) -> None:
        if self.audio_codec not in PLAYABLE:
            return  # no audio (yet) or a codec we cannot play: video only
        pipe = self._audio_pipe
        if pipe is None:
            try:
                pipe = AudioPipe(self.audio_codec, self._video_origin)
            except (AudioError, ValueError):
                return
            if pipe.track is None and self._last_audio is not None:
                pipe.push(self._last_audio)  # learn the AAC configuration from ADTS
            if pipe.track is None:
                return
            self._audio_pipe = pipe
        self._audio_consumers.append(consumer)

    def _video_origin(self) -> int | None:
        writer = self._writer
        if writer is None or writer.origin is None:
            return None
        return writer.origin * 90000 // writer.timescale

    def _init_for(self, consumer: Consumer) -> tuple[dict[str, object], bytes]:
        pipe = self._audio_pipe
        if consumer in self._audio_consumers and pipe is not None and pipe.track is not None:
            info = self.info()
            codecs = f"{self.mime_codec},{pipe.track.mime_codec}"
            info.update(
                mime=f'video/mp4; codecs="{codecs}"',
                audio_mime_codec=pipe.track.mime_codec,
                audio=True,
            )
            return info, av_init_segment(self._init, pipe.track)
        return {**self.info(), "audio": False}, self._init

    @staticmethod
    def _dts(frame: EsFrame) -> int | None:
        return frame.dts if frame.dts is not None else frame.pts

    def _end_of(self, frame: EsFrame) -> int | None:
        dts = self._dts(frame)
        return None if dts is None else dts + self._delta

    # -- raw-frame taps (cascade forwards re-mux to PS themselves) -----------------

    def add_tap(self, tap: Callable[[EsFrame], None]) -> None:
        """Feed ``tap`` every usable video frame, starting with the cached GOP."""
        if self._gop_ok:
            for f in self._gop:
                tap(f)
        self._taps.append(tap)

    def remove_tap(self, tap: Callable[[EsFrame], None]) -> None:
        if tap in self._taps:
            self._taps.remove(tap)

    # -- HLS -----------------------------------------------------------------------

    def hls(self) -> HlsWriter | None:
        """The HLS writer, created from the cached GOP on first use (None before a keyframe)."""
        if self._hls is not None:
            return self._hls
        if self._params is None or self.codec is None or not self._gop_ok or not self._gop:
            return None
        try:
            writer = Fmp4Writer.from_keyframe(self.codec, self._gop[0].data)
        except Fmp4Error:
            return None
        hls = HlsWriter(writer, window=self.hls_window, segment_duration=self.hls_segment_s)
        for f in self._gop:
            hls.push(f)
        self._hls = hls
        return hls

    @property
    def hls_active(self) -> bool:
        return self._hls is not None

    def drop_hls(self) -> None:
        self._hls = None


__all__ = ["FMP4_CODECS", "Consumer", "StreamHub"]
