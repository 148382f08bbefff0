"""Device recording downloads (9.9): a background job that turns ``s=Download`` into an MP4.

The job opens a Download session (``a=downloadspeed``), takes the hub's fMP4
fragments as a consumer (the same remux as viewers use), appends them to a file
in a worker thread every half second, and stops when the device says the file is
over (MediaStatus 121) or the requested range has arrived. The result is remuxed
into a plain MP4 at ``result.file_url`` (re-encoded with the security watermark
for non-admin users). Progress is media time over the range.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sharpeyes.jobs import JobContext, JobFailed, JobRunner, JobState
from sharpeyes.live.audit import AuditRecord, audit
from sharpeyes.live.history import check_range
from sharpeyes.live.session import EndReason, SessionKind, StreamEnded
from sharpeyes.recording.mp4 import Mp4Error, append, remux_to_mp4
from sharpeyes.sharing.principal import Principal, Right
from sharpeyes.sharing.scope import require_right
from sharpeyes.sharing.watermark import needs_watermark, watermark_text

if TYPE_CHECKING:
    from sharpeyes.live.service import LiveService

log = logging.getLogger(__name__)

FLUSH_EVERY_S = 0.5
STALL_S = 30.0  # no media progress this long: the download failed


class FileSink:
    """A hub consumer that buffers fMP4 bytes until the job flushes them (no IO here)."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self.has_init = False
        self.bytes = 0

    def send_init(self, info: dict[str, object], init: bytes) -> None:
        if not self.has_init:  # a mid-file codec change would need a second file: keep the first
            self.has_init = True
            self._chunks.append(init)

    def send_media(self, data: bytes, keyframe: bool) -> None:
        if self.has_init:
            self._chunks.append(data)
            self.bytes += len(data)

    def take(self) -> bytes:
        out = b"".join(self._chunks)
        self._chunks = []
        return out


class DeviceDownloads:
    def __init__(self, live: LiveService, jobs: JobRunner, folder: Path) -> None:
        self.live = live
        self.jobs = jobs
        self.folder = folder

    def file_of(self, job_id: str) -> Path:
        return self.folder / f"{job_id}.mp4"

    async def submit(
        self,
        principal: Principal,
        channel_pk: int,
        start: int,
        end: int,
        *,
        speed: int = 1,
        client_ip: str | None = None,
    ) -> JobState:
        check_range(start, end, time.time())
        if not 1 <= speed <= 8:
            raise ValueError("speed must be 1..8")
        ch = await self.live.devices.get_channel(principal, channel_pk)
        require_right(principal, Right.DOWNLOAD, ch)
        params = {"channel_pk": ch.id, "start": start, "end": end, "speed": speed}

        mark = watermark_text(principal, ch.channel_id) if needs_watermark(principal) else None

        async def run(ctx: JobContext) -> None:
            await self._run(ctx, principal, ch.id, start, end, speed, mark)

        state = await self.jobs.submit(principal, "download", params, run)
        audit(
            self.live.bus,
            AuditRecord.by(
                principal,
                action="download.device",
                target_type="channel",
                target_id=ch.channel_id,
                device_id=ch.device_id,
                client_ip=client_ip,
                detail={**params, "job_id": state.id, "watermarked": mark is not None},
            ),
        )
        return state

    async def _run(
        self,
        ctx: JobContext,
        principal: Principal,
        pk: int,
        start: int,
        end: int,
        speed: int,
        mark: str | None = None,
    ) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        part = self.folder / f"{ctx.id}.part.mp4"
        try:
            grant = await self.live.history.open(
                principal, pk, start, end, kind=SessionKind.DOWNLOAD, speed=speed, audit_action=None
            )
        except StreamEnded as exc:
            raise JobFailed(f"the device did not start the download: {exc.detail}") from exc
        s = grant.session
        timeline = s.timeline
        assert timeline is not None
        sink = FileSink()
        s.hub.attach(sink)
        written = 0
        last_pos, last_move = -1.0, time.monotonic()
        reason = "complete"
        try:
            while True:
                await asyncio.sleep(FLUSH_EVERY_S)
                data = sink.take()
                if data:
                    written += await asyncio.to_thread(append, part, data)
                pos = timeline.position_s
                await ctx.progress(pos / timeline.duration_s, bytes=written, media_s=round(pos, 3))
                if s.state == "ended":
                    reason = s.end_reason.value if s.end_reason else "ended"
                    break
                frame = 1.0 / 25
                if pos >= timeline.duration_s - frame:
                    self.live._end(s, EndReason.COMPLETE, "the requested range has arrived")
                    break
                now = time.monotonic()
                if pos > last_pos:
                    last_pos, last_move = pos, now
                elif now - last_move > STALL_S:
                    self.live._end(s, EndReason.NO_PACKETS, "the download stalled")
                    raise JobFailed(f"no media for {STALL_S:g} s")
        finally:
            s.hub.detach(sink)
            if s.state != "ended":
                self.live._end(s, EndReason.STOPPED, "download job ended")
        data = sink.take()
        if data:
            written += await asyncio.to_thread(append, part, data)
        if reason not in ("complete", EndReason.EOF.value, EndReason.COMPLETE.value):
            part.unlink(missing_ok=True)
            raise JobFailed(f"the download ended early: {reason}: {s.end_detail}")
        try:
            duration = await asyncio.to_thread(remux_to_mp4, part, self.file_of(ctx.id), mark)
        except Mp4Error as exc:
            raise JobFailed(str(exc)) from exc
        finally:
            part.unlink(missing_ok=True)
        size = self.file_of(ctx.id).stat().st_size
        await ctx.progress(
            1.0,
            bytes=size,
            media_s=round(timeline.position_s, 3),
            duration_s=round(duration, 3),
            end_reason=reason,
            watermarked=mark is not None,
            file_url=f"/api/downloads/{ctx.id}/file",
        )

    async def get(self, principal: Principal, job_id: str) -> dict[str, Any]:
        state = await self.jobs.get(principal, job_id)
        if state.kind != "download":
            raise LookupError(job_id)
        return state.as_dict()


__all__ = ["DeviceDownloads", "FileSink"]
