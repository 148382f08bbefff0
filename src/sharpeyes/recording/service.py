"""The recording domain's entry point: what the API, the node and other domains use.

Owns its own job runner (downloads and clip exports run beside imports, not
behind them; the rows share the ``jobs`` table, so ``GET /api/jobs/{id}`` sees
them), the record plans, the recorder and the segment store, the timeline
(device and platform spans in one shape), platform playback and 录像完好率.
"""

from __future__ import annotations

import asyncio
import math
import secrets
import time
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sharpeyes.devices.messaging import DeviceMessaging, DeviceUnavailable
from sharpeyes.devices.service import DeviceService
from sharpeyes.events import EventBus
from sharpeyes.gb28181 import records
from sharpeyes.jobs import JobContext, JobFailed, JobRunner, JobState
from sharpeyes.live.audit import AuditRecord, audit
from sharpeyes.live.history import SPEEDS, ControlAction, ControlError, ControlResult, check_range
from sharpeyes.live.service import LiveService, PlayGrant
from sharpeyes.live.session import EndReason, LiveSession, SessionKey, SessionKind
from sharpeyes.recording.clips import export_clip
from sharpeyes.recording.device_records import DeviceRecords
from sharpeyes.recording.downloads import DeviceDownloads
from sharpeyes.recording.mp4 import Mp4Error
from sharpeyes.recording.plans import PlanIn, PlanStore, scheduled_windows
from sharpeyes.recording.player import SegmentPlayer, SegmentRef
from sharpeyes.recording.recorder import Recorder
from sharpeyes.recording.segments import SegmentStore, span_rows, spans_of
from sharpeyes.recording.settings import RecordingSettings
from sharpeyes.sharing.principal import Principal, Right
from sharpeyes.sharing.scope import require_right
from sharpeyes.sharing.stream_tokens import issue_stream_token
from sharpeyes.sharing.watermark import needs_watermark, watermark_text
from sharpeyes.store.db import Database

SOURCES = ("device", "platform", "all")


class NoRecording(LookupError):
    """Nothing recorded in the asked range."""


class RecordingService:
    def __init__(
        self,
        settings: RecordingSettings,
        *,
        db: Database,
        bus: EventBus,
        live: LiveService,
        messaging: DeviceMessaging,
        devices: DeviceService,
        timezone: str,
    ) -> None:
        self.settings = settings
        self.db = db
        self.bus = bus
        self.live = live
        self.devices = devices
        self.tz = ZoneInfo(timezone)
        self.root = Path(settings.path)
        self.jobs = JobRunner(db, bus, max_concurrent=settings.max_jobs)
        self.device_records = DeviceRecords(
            messaging,
            devices,
            self.tz,
            part_timeout=settings.record_part_timeout_s,
            query_timeout=settings.record_query_timeout_s,
        )
        self.downloads = DeviceDownloads(live, self.jobs, self.root / "exports")
        self.plans = PlanStore(db, self.tz)
        self.store = SegmentStore(
            db,
            bus,
            self.root / "segments",
            min_free_percent=settings.min_free_percent,
            quota_bytes=settings.quota_bytes,
        )
        self.recorder = Recorder(
            settings, live=live, plans=self.plans, store=self.store, tz=self.tz
        )
        self.players: dict[str, SegmentPlayer] = {}

    async def start(self) -> None:
        # Folders are made when the first segment or export is written, not here: a
        # node without record plans leaves no trace on disk.
        await self.store.repair()
        self.recorder.start()

    async def stop(self) -> None:
        await self.recorder.stop()
        for p in self.players.values():
            if p.task is not None:
                p.task.cancel()
        await self.jobs.stop()

    # -- plans -------------------------------------------------------------------------

    async def create_plan(self, body: PlanIn, by: str) -> dict[str, Any]:
        plan = await self.plans.create(body, by)
        self.recorder.refresh()
        return plan

    async def update_plan(self, plan_id: int, body: PlanIn) -> dict[str, Any]:
        plan = await self.plans.update(plan_id, body)
        self.recorder.refresh()
        return plan

    async def delete_plan(self, plan_id: int) -> None:
        await self.plans.delete(plan_id)
        self.recorder.refresh()

    # -- timeline ----------------------------------------------------------------------

    async def timeline(
        self, principal: Principal, channel_pk: int, start: int, end: int, source: str = "all"
    ) -> dict[str, Any]:
        """Device and platform spans in one shape, and the gaps no source covers."""
        if source not in SOURCES:
            raise ValueError("source must be device, platform or all")
        if end <= start:
            raise ValueError("end must be after start")
        if end - start > 31 * 86400:
            raise ValueError("a timeline covers at most 31 days")
        ch = await self.devices.get_channel(principal, channel_pk)
        require_right(principal, Right.PLAYBACK, ch)
        items: list[dict[str, Any]] = []
        errors: list[str] = []
        if source in ("platform", "all"):
            rows = await span_rows(self.db, ch.id, start, end)
            for s, e in spans_of(rows):
                items.append(
                    {
                        "source": "platform",
                        "start": max(s, start),
                        "end": min(e, end),
                        "type": "time",
                    }
                )
        if source in ("device", "all"):
            try:
                answer = await self.device_records.query(ch.device_id, ch.channel_id, start, end)
            except DeviceUnavailable as exc:
                if source == "device":
                    raise
                errors.append(f"device records unavailable: {exc}")
            else:
                for it in answer.items:
                    if it.end > start and it.start < end:
                        items.append(
                            {
                                "source": "device",
                                "start": max(it.start, start),
                                "end": min(it.end, end),
                                "type": it.type,
                            }
                        )
                if not answer.complete:
                    errors.append(f"device answer incomplete: {answer.missing} items missing")
        items.sort(key=lambda i: (i["start"], i["source"]))
        covered = [(i["start"], i["end"]) for i in items]
        gaps = records.gaps(covered, start, end) if covered else [(start, end)]
        return {
            "channel_pk": ch.id,
            "start": start,
            "end": end,
            "source": source,
            "items": items,
            "gaps": [{"start": s, "end": e} for s, e in gaps],
            "errors": errors,
            "recording": self.recorder.status(ch.id),
        }

    async def integrity(self, channel_pk: int, day: date) -> dict[str, Any]:
        """录像完好率 of one channel on one local day: recorded ÷ scheduled seconds.

        For the health domain (no principal: callers apply their own scope).
        ``ratio`` is None when no plan scheduled the channel that day.
        """
        windows = scheduled_windows(await self.plans.schedules_of(channel_pk), day, self.tz)
        day_start = datetime.combine(day, datetime.min.time(), self.tz).timestamp()
        day_end = datetime.combine(
            day + timedelta(days=1), datetime.min.time(), self.tz
        ).timestamp()
        spans = spans_of(await span_rows(self.db, channel_pk, day_start, day_end))
        scheduled = sum(e - s for s, e in windows)
        recorded = 0.0
        for ws, we in windows:
            for s, e in spans:
                recorded += max(0.0, min(e, we) - max(s, ws))
        return {
            "channel_pk": channel_pk,
            "day": day.isoformat(),
            "scheduled_s": round(scheduled, 3),
            "recorded_s": round(recorded, 3),
            "ratio": round(recorded / scheduled, 4) if scheduled else None,
        }

    async def recording_intact(
        self, channel_ids: Iterable[str], from_day: str, to_day: str
    ) -> dict[tuple[str, str], bool]:
        """录像完好 per (channel code, local day) for the health domain's rates.

        A day is intact when at least ``recording.intact_min_ratio`` of its scheduled seconds
        were recorded; days no plan scheduled are absent (not counted), as are channels
        that no plan names.
        """
        first, last = date.fromisoformat(from_day), date.fromisoformat(to_day)
        if last < first or (last - first).days > 400:
            return {}
        out: dict[tuple[str, str], bool] = {}
        pks = await self.devices.channel_pks_by_code(set(channel_ids))
        for code, pk_list in pks.items():
            for pk in pk_list:
                if not await self.plans.schedules_of(pk):
                    continue
                day = first
                while day <= last:
                    ratio = (await self.integrity(pk, day))["ratio"]
                    if ratio is not None:
                        out[(code, day.isoformat())] = ratio >= self.settings.intact_min_ratio
                    day += timedelta(days=1)
        return out

    async def recent_gaps(self, now: float, window_s: float) -> list[dict[str, Any]]:
        """Scheduled-but-unrecorded seconds of each channel a plan wants now, over the
        last ``window_s`` that ended one segment ago (the open segment is not stored
        yet). For the health domain's 录像缺失 alarm: no principal, callers scope.
        """
        end = now - self.settings.segment_s - 5.0
        start = end - window_s
        out: list[dict[str, Any]] = []
        for pk in await self.plans.wanted(now):
            schedules = await self.plans.schedules_of(pk)
            windows: list[tuple[float, float]] = []
            for day in {
                datetime.fromtimestamp(start, self.tz).date(),
                datetime.fromtimestamp(end, self.tz).date(),
            }:
                windows += scheduled_windows(schedules, day, self.tz)
            sched = [(max(a, start), min(b, end)) for a, b in windows if b > start and a < end]
            if not sched:
                continue
            spans = spans_of(await span_rows(self.db, pk, start, end))
            scheduled = sum(b - a for a, b in sched)
            recorded = sum(max(0.0, min(e, b) - max(s_, a)) for a, b in sched for s_, e in spans)
            out.append(
                {
                    "channel_pk": pk,
                    "scheduled_s": round(scheduled, 3),
                    "missing_s": round(max(0.0, scheduled - recorded), 3),
                    "recording": self.recorder.status(pk)["recording"],
                }
            )
        return out

    # -- playback of platform recordings ----------------------------------------------

    async def _refs(self, channel_pk: int, start: float, end: float) -> list[SegmentRef]:
        rows = await self.store.segments(channel_pk, start, end)
        return [
            SegmentRef(self.store.root / r.path, r.start, r.end, r.codec or "h264")
            for r in rows
            if r.bytes > 0
        ]

    async def play_platform(
        self, principal: Principal, channel_pk: int, start: int, end: int, *, client_ip: str | None
    ) -> PlayGrant:
        check_range(start, end, time.time())
        ch = await self.devices.get_channel(principal, channel_pk)
        require_right(principal, Right.PLAYBACK, ch)
        refs = await self._refs(ch.id, start, end)
        if not refs:
            raise NoRecording("no platform recording of this channel in that range")
        key = SessionKey(
            ch.device_id,
            ch.channel_id,
            "main",
            kind=SessionKind.PLAYBACK,
            start=start,
            end=end,
            nonce=secrets.token_hex(4),
            source="platform",
        )
        live = self.live
        s = live._create(key, ch, "file", principal.username)
        player = SegmentPlayer(
            s, refs, start, end, end_session=lambda x, r, d: live._end(x, r, d, status=410)
        )
        self.players[s.id] = player
        player.task = asyncio.create_task(player.run())
        player.task.add_done_callback(lambda _t: self.players.pop(s.id, None))
        try:
            await asyncio.wait_for(asyncio.shield(s.ready), 15)
        except TimeoutError:
            live._end(s, EndReason.DECODE_FAILURE, "no keyframe in the recorded segments")
            raise NoRecording("the recorded segments hold no playable keyframe") from None
        token, exp = issue_stream_token(
            live.secret,
            user_id=principal.user_id,
            channel_pk=ch.id,
            session_id=s.id,
            ttl_s=live.media.token_ttl_s,
            now=time.time(),
        )
        audit(
            self.bus,
            AuditRecord.by(
                principal,
                action="playback.platform",
                target_type="channel",
                target_id=ch.channel_id,
                device_id=ch.device_id,
                client_ip=client_ip,
                detail={"channel_pk": ch.id, "session": s.id, "start": start, "end": end},
            ),
        )
        return PlayGrant(s, token, exp)

    async def control(
        self,
        principal: Principal,
        session_id: str,
        action: ControlAction,
        *,
        position_s: float | None = None,
        scale: float | None = None,
    ) -> ControlResult:
        player = self.players.get(session_id)
        if player is None:
            return await self.live.history.control(
                principal, session_id, action, position_s=position_s, scale=scale
            )
        s: LiveSession = self.live.history.session(principal, session_id)
        t = s.timeline
        assert t is not None
        if action is ControlAction.PAUSE:
            t.paused = True
        elif action is ControlAction.RESUME:
            t.paused = False
        elif action is ControlAction.SEEK:
            if position_s is None or not math.isfinite(position_s):
                raise ControlError("seek needs position_s (seconds from the start of the range)")
            if not 0 <= position_s < t.duration_s:
                raise ControlError(f"position_s must be within 0..{t.duration_s:g}")
            t.paused = False
            t.seek(position_s)
            player.seek(position_s)
        else:
            if scale is None or scale not in SPEEDS:
                raise ControlError(f"scale must be one of {', '.join(f'{v:g}' for v in SPEEDS)}")
            t.scale = scale
        player.poke()
        return ControlResult(s.id, t.position_s, t.paused, t.scale)

    # -- clip export -------------------------------------------------------------------

    async def export(
        self, principal: Principal, channel_pk: int, start: int, end: int, *, client_ip: str | None
    ) -> JobState:
        check_range(start, end, time.time())
        if end - start > 6 * 3600:
            raise ValueError("a clip is at most 6 hours")
        ch = await self.devices.get_channel(principal, channel_pk)
        require_right(principal, Right.DOWNLOAD, ch)
        params = {"channel_pk": ch.id, "start": start, "end": end}
        folder = self.downloads.folder
        mark = watermark_text(principal, ch.channel_id) if needs_watermark(principal) else None

        async def run(ctx: JobContext) -> None:
            refs = await self._refs(ch.id, start, end)
            if not refs:
                raise JobFailed("no platform recording of this channel in that range")
            folder.mkdir(parents=True, exist_ok=True)
            await ctx.progress(0.1, segments=len(refs))
            try:
                info = await asyncio.to_thread(
                    export_clip, refs, start, end, self.downloads.file_of(ctx.id), mark
                )
            except Mp4Error as exc:
                raise JobFailed(str(exc)) from exc
            size = self.downloads.file_of(ctx.id).stat().st_size
            await ctx.progress(
                1.0,
                bytes=size,
                clip_start=info["start"],
                clip_end=info["end"],
                duration_s=round(info["duration_s"], 3),
                watermarked=mark is not None,
                file_url=f"/api/downloads/{ctx.id}/file",
            )

        state = await self.jobs.submit(principal, "clip", params, run)
        audit(
            self.bus,
            AuditRecord.by(
                principal,
                action="recording.export",
                target_type="channel",
                target_id=ch.channel_id,
                device_id=ch.device_id,
                client_ip=client_ip,
                detail={**params, "job_id": state.id, "watermarked": mark is not None},
            ),
        )
        return state


__all__ = ["SOURCES", "NoRecording", "RecordingService"]
