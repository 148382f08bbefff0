"""The recording domain's entry point: what the API and the node use.

Owns its own job runner (downloads and clip exports run beside imports, not
behind them; the rows share the ``jobs`` table, so ``GET /api/jobs/{id}`` sees
them) and, when platform recording is on, the recorder and the segment store.
"""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

from sharpeyes.devices.messaging import DeviceMessaging, DeviceUnavailable
from sharpeyes.devices.service import DeviceService
from sharpeyes.events import EventBus
from sharpeyes.jobs import JobRunner
from sharpeyes.live.history import ControlAction, ControlResult
from sharpeyes.live.service import LiveService, PlayGrant
from sharpeyes.recording.device_records import DeviceRecords
from sharpeyes.recording.downloads import DeviceDownloads
from sharpeyes.recording.settings import RecordingSettings
from sharpeyes.sharing.principal import Principal
from sharpeyes.store.db import Database


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

    async def control(
        self,
        principal: Principal,
        session_id: str,
        action: ControlAction,
        *,
        position_s: float | None = None,
        scale: float | None = None,
    ) -> ControlResult:
        return await self.live.history.control(
            principal, session_id, action, position_s=position_s, scale=scale
        )

    async def play_platform(
        self, principal: Principal, channel_pk: int, start: int, end: int, *, client_ip: str | None
    ) -> PlayGrant:
        raise DeviceUnavailable("playback of platform recordings is not available yet", 501)

    async def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)

    async def stop(self) -> None:
        await self.jobs.stop()


__all__ = ["RecordingService"]
