"""The health (运维) domain's service: what the node constructs and the API calls.

It reads other domains only through their services (devices, live, ledger, jobs)
and the bus (``channel.online``/``channel.offline``/``device.*`` after the devices
domain stored them), and owns its tables (``health.models``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from sqlalchemy import select

from sharpeyes.events import Event, EventBus
from sharpeyes.health import assessment, recgaps
from sharpeyes.health.alarms import AlarmCentre, AlarmKind
from sharpeyes.health.clock import drift_seconds
from sharpeyes.health.models import ClockCheck, VqdBaseline, VqdPlan, VqdResult
from sharpeyes.health.patrol import Patrol, Probe, Target, summary
from sharpeyes.health.rates import RateBook, RecordingProvider
from sharpeyes.health.settings import LEVEL_NAMES, HealthSettings
from sharpeyes.health.vqd import Diagnosis, Fault, Verdict, decode_jpeg, thumbnail
from sharpeyes.health.workorders import WorkOrders, link_alarms
from sharpeyes.sharing.principal import Principal, Role
from sharpeyes.sharing.scope import region_in_scope
from sharpeyes.store.db import Database

if TYPE_CHECKING:
    from sharpeyes.devices.service import DeviceService
    from sharpeyes.jobs import JobContext, JobRunner
    from sharpeyes.ledger.service import LedgerService
    from sharpeyes.live.service import LiveService

log = logging.getLogger(__name__)

SYSTEM = Principal(user_id=0, username="system:health", role=Role.ADMIN, region_codes=None)
CHECKPOINT_S = 60.0
FAULT_KINDS = tuple(f.value for f in Fault)


class HealthError(ValueError):
    """Bad input for a health request (HTTP 422)."""


class LedgerAttributes:
    """Grouping attributes of cameras from the ledger service, cached for a while."""

    def __init__(self, ledger: LedgerService | None, ttl_s: float = 300.0) -> None:
        self.ledger = ledger
        self.ttl_s = ttl_s
        self._cache: dict[str, dict[str, Any]] = {}
        self._loaded = 0.0

    def invalidate(self) -> None:
        self._loaded = 0.0

    async def _load(self) -> None:
        from sharpeyes.ledger.queries import CameraFilters

        assert self.ledger is not None
        out: dict[str, dict[str, Any]] = {}
        offset = 0
        while True:
            page = await self.ledger.list_cameras(
                SYSTEM, CameraFilters(), offset=offset, limit=1000
            )
            for c in page.items:
                if c.get("code"):
                    out[c["code"]] = {
                        "region_code": c.get("region_code"),
                        "owner_org_id": c.get("owner_org_id"),
                        "maintainer_org_id": c.get("maintainer_org_id"),
                        "point_class": c.get("point_class"),
                        "category": c.get("key_area_category"),
                        "network": c.get("network"),
                        "longitude": c.get("longitude"),
                        "latitude": c.get("latitude"),
                    }
            offset += len(page.items)
            if not page.items or offset >= page.total:
                break
        self._cache = out
        self._loaded = time.monotonic()

    async def __call__(self, channel_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        if self.ledger is None:
            return {}
        if time.monotonic() - self._loaded > self.ttl_s:
            try:
                await self._load()
            except Exception:  # the ledger being busy must not stop the rollup
                log.exception("could not load ledger attributes")
        return {c: self._cache[c] for c in channel_ids if c in self._cache}


class PtzSender(Protocol):
    """``MessageService.ptz``: one A.3 front-end command to a channel."""

    async def __call__(
        self, principal: Principal, channel_pk: int, action: str, params: Mapping[str, Any]
    ) -> str: ...


class HealthService:
    def __init__(
        self,
        db: Database,
        bus: EventBus,
        settings: HealthSettings,
        *,
        devices: DeviceService | None = None,
        live: LiveService | None = None,
        ledger: LedgerService | None = None,
        jobs: JobRunner | None = None,
        recording: RecordingProvider | None = None,
        ptz: PtzSender | None = None,
    ) -> None:
        self.db = db
        self.ptz = ptz  # the messages domain's front-end control (the PTZ probe)
        self.bus = bus
        self.settings = settings
        self.devices = devices
        self.live = live
        self.ledger = ledger
        self.jobs = jobs
        self.attributes = LedgerAttributes(ledger)
        self.orders = WorkOrders(db, bus, settings.sla_hours)
        self.alarms = AlarmCentre(db, bus, settings.alarms)
        self.rates = RateBook(db, settings.timezone, self.attributes, recording, self._repair)
        self.recording = recording
        link_alarms(self.alarms, self.orders, self._maintainer_of)
        self._tasks: list[asyncio.Task[None]] = []
        self._background: set[asyncio.Task[None]] = set()
        self._clock_slots = asyncio.Semaphore(4)  # a mass re-registration stays gentle
        self.auto_clock_check = settings.clock_check_on_register
        self.sample_gap_s = 1.1  # > one GOP of a usual camera: the next snapshot is new
        self.frames_per_probe = 2
        self.frame_timeout_s = 10.0

    # ------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        await self.rates.resume(datetime.now(UTC))
        self._tasks = [
            asyncio.create_task(self._consume(), name="health-events"),
            asyncio.create_task(self._tick_loop(), name="health-tick"),
        ]

    async def stop(self) -> None:
        for t in [*self._tasks, *self._background]:
            t.cancel()
        for t in [*self._tasks, *self._background]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        with contextlib.suppress(Exception):
            await self.rates.checkpoint(datetime.now(UTC))
        await self.alarms.stop()

    async def _consume(self) -> None:
        with self.bus.subscribe(maxsize=10000) as sub:
            while True:
                event = await sub.get()
                try:
                    await self.on_event(event)
                except Exception:
                    log.exception("health: event %s not handled", event.type)

    async def on_event(self, event: Event) -> None:
        d = event.data
        at = datetime.fromtimestamp(event.at, UTC)
        if event.type in ("channel.online", "channel.offline"):
            online = event.type == "channel.online"
            dev, ch = d["device_id"], d["channel_id"]
            await self.rates.transition(dev, ch, online, at)
            key = f"{AlarmKind.CHANNEL_OFFLINE}:{dev}/{ch}"
            if online:
                await self.alarms.clear_condition(key, now=at)
            else:
                region = (await self.attributes([ch])).get(ch, {}).get("region_code")
                await self.alarms.raise_condition(
                    AlarmKind.CHANNEL_OFFLINE,
                    key,
                    now=at,
                    device_id=dev,
                    channel_id=ch,
                    region_code=region,
                    message=f"通道离线 ({d.get('reason')})",
                )
        elif event.type in ("device.online", "device.offline"):
            dev = d["device_id"]
            key = f"{AlarmKind.DEVICE_OFFLINE}:{dev}"
            if event.type == "device.online":
                await self.alarms.clear_condition(key, now=at)
                if self.auto_clock_check:
                    self._spawn(self._clock_after_register(dev))
            else:
                await self.alarms.raise_condition(
                    AlarmKind.DEVICE_OFFLINE,
                    key,
                    now=at,
                    device_id=dev,
                    message=f"设备离线 ({d.get('reason')})",
                )
        elif event.type.startswith("ledger.") or event.type == "catalog.changed":
            self.attributes.invalidate()
        else:
            await self._platform_condition(event, at)

    async def _platform_condition(self, event: Event, at: datetime) -> None:
        """Platform alarms from other domains' events: an upper-platform link down, the
        recording disk guard, an RTSP pull's reconnect storm."""
        d = event.data
        if event.type == "cascade.upper.state":
            key = f"{AlarmKind.UPLINK_DOWN}:{d.get('upper_id')}"
            if d.get("state") == "failed":
                await self.alarms.raise_condition(
                    AlarmKind.UPLINK_DOWN,
                    key,
                    now=at,
                    device_id=d.get("server_id"),
                    message=f"上级平台链路中断 ({d.get('error') or 'failed'})",
                )
            elif d.get("state") in ("registered", "disabled"):
                await self.alarms.clear_condition(key, now=at)
        elif event.type == "recording.disk_guard":
            await self.alarms.raise_condition(
                AlarmKind.DISK_LOW,
                f"{AlarmKind.DISK_LOW}:recording",
                now=at,
                value=float(d.get("deleted") or 0),
                message=f"录像磁盘空间不足：提前删除 {d.get('deleted')} 个未到期录像段",
                detail={k: d.get(k) for k in ("used_bytes", "quota_bytes", "min_free_percent")},
            )
        elif event.type == "proxy.reconnect_storm":
            await self.alarms.raise_condition(
                AlarmKind.MEDIA_TIMEOUTS,
                f"{AlarmKind.MEDIA_TIMEOUTS}:{d.get('device_id')}",
                now=at,
                value=float(d.get("failures") or 0),
                device_id=d.get("device_id"),
                message=f"拉流反复失败 ({d.get('failures')} 次)",
            )
        elif event.type == "proxy.state" and d.get("state") == "streaming":
            await self.alarms.clear_condition(
                f"{AlarmKind.MEDIA_TIMEOUTS}:{d.get('device_id') or d.get('gb_id')}", now=at
            )

    async def check_recording_gaps(self, now: datetime) -> list[str]:
        """录像缺失 alarms from the recording domain's recent gaps (when it is present)."""
        if self.recording is None or not hasattr(self.recording, "recent_gaps"):
            return []
        a = self.settings.alarms
        return await recgaps.check_recording_gaps(
            self.alarms,
            self.recording,  # type: ignore[arg-type]
            self._channel_ids,
            now,
            window_s=a.recording_gap_window_s,
            min_missing_s=a.recording_gap_min_s,
        )

    async def _channel_ids(self, pk: int) -> tuple[str, str, str | None] | None:
        if self.devices is None:
            return None
        try:
            ch = await self.devices.get_channel(SYSTEM, pk)
        except Exception:  # deleted since the plan was read
            return None
        return ch.device_id, ch.channel_id, ch.civil_code

    async def _tick_loop(self) -> None:
        last_checkpoint = last_gaps = time.monotonic()
        while True:
            await asyncio.sleep(5.0)
            now = datetime.now(UTC)
            try:
                if time.monotonic() - last_checkpoint >= CHECKPOINT_S:
                    await self.rates.checkpoint(now)
                    last_checkpoint = time.monotonic()
                await self.alarms.tick(now)
                await self.orders.tick(now)
                await self._run_due_plans(now)
                every = self.settings.alarms.recording_gap_check_s
                if every and time.monotonic() - last_gaps >= every:
                    last_gaps = time.monotonic()
                    await self.check_recording_gaps(now)
            except Exception:
                log.exception("health tick failed")

    async def _maintainer_of(self, channel_id: str | None) -> int | None:
        if not channel_id:
            return None
        return (await self.attributes([channel_id])).get(channel_id, {}).get("maintainer_org_id")

    async def _repair(
        self, principal: Principal | None, group_by: str, from_day: str, to_day: str
    ) -> dict[Any, float]:
        """修复率 per group: orders opened in the range closed within their deadline."""
        tz = self.rates.tz
        since = datetime.fromisoformat(from_day).replace(tzinfo=tz).astimezone(UTC)
        until = (datetime.fromisoformat(to_day).replace(tzinfo=tz) + timedelta(days=1)).astimezone(
            UTC
        )
        rows = await self.orders.repair_counts(since, until)
        attrs = await self.attributes({r["channel_id"] for r in rows if r["channel_id"]})
        counts: dict[Any, list[int]] = {}
        for r in rows:
            a = attrs.get(r["channel_id"] or "", {})
            region = r["region_code"] or a.get("region_code") or r["channel_id"] or ""
            if principal is not None and not region_in_scope(principal, region):
                continue
            key = {
                "region": region[:6],
                "org": a.get("owner_org_id"),
                "maintainer": r["maintainer_org_id"] or a.get("maintainer_org_id"),
                "class": a.get("point_class"),
                "category": a.get("category"),
                "network": a.get("network"),
                "day": r["opened_at"].astimezone(tz).date().isoformat(),
                "channel": r["channel_id"],
            }.get(group_by)
            c = counts.setdefault(key, [0, 0])
            c[0] += int(r["fixed_in_time"])
            c[1] += 1
        return {k: round(100.0 * ok / n, 4) for k, (ok, n) in counts.items() if n}

    # ------------------------------------------------------------ clock / location
    async def check_clock(
        self, device_id: str, device_time: str, *, now: datetime | None = None
    ) -> float:
        """校时: record the drift of a DeviceTime reading; alarm beyond the threshold."""
        now = now or datetime.now(UTC)
        drift = drift_seconds(device_time, now, self.settings.timezone)
        async with self.db.session() as s:
            s.add(ClockCheck(device_id=device_id, at=now, drift_s=drift))
            await s.commit()
        key = f"{AlarmKind.CLOCK_DRIFT}:{device_id}"
        if abs(drift) > self.settings.alarms.clock_drift_max_s:
            await self.alarms.raise_condition(
                AlarmKind.CLOCK_DRIFT,
                key,
                now=now,
                value=drift,
                device_id=device_id,
                message=f"设备时钟偏差 {drift:+.0f} s",
                detail={"drift_s": drift},
            )
        else:
            await self.alarms.clear_condition(key, now=now)
        return drift

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _clock_after_register(self, device_id: str) -> None:
        """校时 once a device comes online: ask DeviceStatus, compare DeviceTime."""
        async with self._clock_slots:
            await asyncio.sleep(2.0)  # after the catalog query the registration triggers
            try:
                await self.check_device_clock(SYSTEM, device_id)
            except Exception as exc:  # devices that do not answer are not a clock fault
                log.info("clock check of %s skipped: %s", device_id, exc)

    async def check_device_clock(self, principal: Principal, device_id: str) -> dict[str, Any]:
        """Ask the device (DeviceStatus) for its time and check it."""
        assert self.devices is not None
        status = await self.devices.device_status(principal, device_id)
        text = status.get("DeviceTime")
        if not text:
            raise HealthError("the device reported no DeviceTime")
        drift = await self.check_clock(device_id, str(text))
        return {
            "device_id": device_id,
            "device_time": text,
            "drift_s": drift,
            "threshold_s": self.settings.alarms.clock_drift_max_s,
            "ok": abs(drift) <= self.settings.alarms.clock_drift_max_s,
        }

    # ------------------------------------------------------------ VQD
    async def create_plan(self, principal: Principal, data: dict[str, Any]) -> dict[str, Any]:
        checks = data.get("checks") or list(FAULT_KINDS)
        bad = [c for c in checks if c not in FAULT_KINDS]
        if bad:
            raise HealthError(f"unknown checks {bad}; known: {', '.join(FAULT_KINDS)}")
        selector = _selector(data.get("selector"), data.get("channels"))
        interval = data.get("interval_s")
        if interval is not None and int(interval) < 60:
            raise HealthError("interval_s must be at least 60")
        plan = VqdPlan(
            name=str(data.get("name") or "巡检预案")[:128],
            selector=selector,
            checks=list(checks),
            interval_s=int(interval) if interval is not None else None,
            concurrency=max(
                1, min(64, int(data.get("concurrency") or self.settings.patrol_concurrency))
            ),
            enabled=bool(data.get("enabled", True)),
            created_by=principal.username,
        )
        async with self.db.session() as s:
            s.add(plan)
            await s.commit()
        return _plan_dict(plan)

    async def list_plans(self) -> list[dict[str, Any]]:
        async with self.db.session() as s:
            return [_plan_dict(p) for p in (await s.execute(select(VqdPlan))).scalars()]

    async def _run_due_plans(self, now: datetime) -> None:
        if self.jobs is None:
            return
        async with self.db.session() as s:
            plans = (
                (
                    await s.execute(
                        select(VqdPlan).where(
                            VqdPlan.enabled.is_(True), VqdPlan.interval_s.is_not(None)
                        )
                    )
                )
                .scalars()
                .all()
            )
            due = [
                p
                for p in plans
                if p.last_run_at is None
                or (now - p.last_run_at).total_seconds() >= (p.interval_s or 0)
            ]
            for p in due:
                p.last_run_at = now
            await s.commit()
        for p in due:
            await self.start_run(SYSTEM, plan_id=p.id)

    async def targets(self, principal: Principal, selector: dict[str, Any]) -> list[Target]:
        assert self.devices is not None
        out: list[Target] = []
        if selector.get("channels"):
            for pk in selector["channels"]:
                ch = await self.devices.get_channel(principal, int(pk))
                out.append(
                    Target(ch.id, ch.device_id, ch.channel_id, ch.civil_code, ch.ptz_type in (1, 4))
                )
            return out
        offset = 0
        while True:
            page = await self.devices.list_channels(
                principal,
                device_id=selector.get("device_id"),
                online=selector.get("online"),
                civil_code=selector.get("region"),
                q=selector.get("q"),
                offset=offset,
                limit=500,
            )
            out += [
                Target(c.id, c.device_id, c.channel_id, c.civil_code, c.ptz_type in (1, 4))
                for c in page.items
            ]
            offset += len(page.items)
            if not page.items or offset >= page.total:
                return out

    async def start_run(
        self,
        principal: Principal,
        *,
        channels: list[int] | None = None,
        selector: dict[str, Any] | None = None,
        plan_id: int | None = None,
        checks: list[str] | None = None,
    ) -> dict[str, Any]:
        """Start a patrol as a background job: ``{run_id, job_id}``; progress in the job."""
        if self.jobs is None or self.live is None:
            raise HealthError("VQD runs need the live service")
        concurrency = self.settings.patrol_concurrency
        if plan_id is not None:
            async with self.db.session() as s:
                plan = await s.get(VqdPlan, plan_id)
            if plan is None:
                raise LookupError(f"plan {plan_id}")
            sel = plan.selector or {}
            checks = checks or plan.checks
            concurrency = plan.concurrency
        else:
            sel = _selector(selector, channels)
        if checks:
            bad = [c for c in checks if c not in FAULT_KINDS]
            if bad:
                raise HealthError(f"unknown checks {bad}")
        targets = await self.targets(principal, sel)  # scope-checked here, up front
        run_id = uuid.uuid4().hex
        patrol = Patrol(
            self._probe,
            self.settings.vqd,
            concurrency=concurrency,
            spacing_s=self.settings.patrol_spacing_s,
            recheck_delay_s=self.settings.vqd_recheck_delay_s,
            baseline_get=self._baseline,
            baseline_put=self.set_baseline,
            sink=lambda t, p, d, r: self._store(run_id, t, p, d, r),
        )

        async def job(ctx: JobContext) -> None:
            async def progress(done: int, total: int) -> None:
                await ctx.progress(done / max(1, total), run_id=run_id, done=done, total=total)

            await ctx.progress(0.0, run_id=run_id, done=0, total=len(targets))
            results = await patrol.run(targets, checks, progress)
            await ctx.progress(1.0, run_id=run_id, **summary(results))

        state = await self.jobs.submit(principal, "vqd.run", {"run_id": run_id, **sel}, job)
        return {"run_id": run_id, "job_id": state.id, "channels": len(targets)}

    async def _probe(self, t: Target, with_ptz: bool) -> Probe:
        """Frames through the snapshot path (a short INVITE when nobody is watching)."""
        from sharpeyes.devices.messaging import DeviceUnavailable
        from sharpeyes.devices.service import NotFound
        from sharpeyes.live.session import EndReason, StreamEnded

        assert self.live is not None
        unreachable = {
            EndReason.INVITE_FAILED,
            EndReason.MEDIA_CONNECT_FAILED,
            EndReason.DEVICE_OFFLINE,
        }
        frames: list[np.ndarray] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.frame_timeout_s
        last: bytes | None = None
        error: str | None = None
        while len(frames) < self.frames_per_probe and loop.time() < deadline:
            try:
                jpeg = await self.live.snapshot(SYSTEM, t.pk, client_ip=None)
            except (DeviceUnavailable, NotFound) as exc:
                return Probe(False, error=str(exc))
            except StreamEnded as exc:
                if exc.reason in unreachable:
                    return Probe(False, error=str(exc))
                error = str(exc)
                if exc.status != 503:  # no packets / undecodable: the signal is lost
                    return Probe(True, [], error=error)
                await asyncio.sleep(0.3)
                continue
            if jpeg != last:
                img = decode_jpeg(jpeg)
                if img is not None:
                    frames.append(img)
                last = jpeg
            if len(frames) < self.frames_per_probe:
                await asyncio.sleep(self.sample_gap_s)
        if len(frames) < self.frames_per_probe and frames:
            frames.append(frames[-1])  # the picture never changed: identical frames (frozen)
        pair = None
        if with_ptz and frames and self.ptz is not None:
            pair = await self._ptz_probe(t, frames[-1])
        return Probe(True, frames, pair, error)

    async def _ptz_probe(
        self, t: Target, before: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """Pan, then look again: a camera whose picture did not change ignored the move."""
        assert self.ptz is not None and self.live is not None
        try:
            await self.ptz(SYSTEM, t.pk, "left", {"speed": 128})
            await asyncio.sleep(1.0)
            await self.ptz(SYSTEM, t.pk, "stop", {})
            await self.live.stop_channel(SYSTEM, t.pk)  # the next look opens a fresh stream
            await asyncio.sleep(0.5)
            probe = await self._probe(t, False)
        except Exception as exc:
            log.info("PTZ probe of %s failed: %s", t.channel_id, exc)
            return None
        return (before, probe.frames[0]) if probe.frames else None

    async def _baseline(self, t: Target) -> np.ndarray | None:
        async with self.db.session() as s:
            row = await s.get(VqdBaseline, (t.device_id, t.channel_id))
        return decode_jpeg(row.image) if row is not None else None

    async def set_baseline(self, t: Target, frame: np.ndarray) -> None:
        jpeg = await asyncio.to_thread(thumbnail, frame, 320, 85)
        async with self.db.session() as s:
            row = await s.get(VqdBaseline, (t.device_id, t.channel_id))
            if row is None:
                s.add(
                    VqdBaseline(
                        device_id=t.device_id,
                        channel_id=t.channel_id,
                        image=jpeg,
                        at=datetime.now(UTC),
                    )
                )
            else:
                row.image, row.at = jpeg, datetime.now(UTC)
            await s.commit()

    async def reset_baseline(self, principal: Principal, pk: int) -> None:
        """Forget the baseline; the next passing diagnosis becomes the new one."""
        [t] = await self.targets(principal, {"channels": [pk]})
        async with self.db.session() as s:
            row = await s.get(VqdBaseline, (t.device_id, t.channel_id))
            if row is not None:
                await s.delete(row)
                await s.commit()

    async def _store(
        self, run_id: str, t: Target, probe: Probe, d: Diagnosis, rechecked: bool
    ) -> None:
        now = datetime.now(UTC)
        thumb = await asyncio.to_thread(thumbnail, probe.frames[0]) if probe.frames else None
        async with self.db.session() as s:
            s.add(
                VqdResult(
                    run_id=run_id,
                    channel_pk=t.pk,
                    device_id=t.device_id,
                    channel_id=t.channel_id,
                    region_code=t.region_code,
                    verdict=d.verdict.value,
                    faults=[f.value for f in d.faults],
                    scores=d.scores,
                    rechecked=rechecked,
                    thumbnail=thumb,
                    at=now,
                )
            )
            await s.commit()
        final = rechecked or d.verdict == Verdict.OK
        if not final:
            return  # a first abnormal look: wait for the re-check before judging
        await self.rates.record_probe(
            t.device_id,
            t.channel_id,
            now,
            frame_ok=bool(probe.frames),
            diagnosed=d.verdict != Verdict.UNREACHABLE,
            intact=d.verdict == Verdict.OK,
        )
        key = f"{AlarmKind.VQD_FAULT}:{t.device_id}/{t.channel_id}"
        if d.verdict == Verdict.FAULT:
            await self.alarms.raise_condition(
                AlarmKind.VQD_FAULT,
                key,
                now=now,
                device_id=t.device_id,
                channel_id=t.channel_id,
                region_code=t.region_code,
                message="视频质量异常: " + ", ".join(f.value for f in d.faults),
                detail={"faults": [f.value for f in d.faults], "run_id": run_id},
            )
        elif d.verdict == Verdict.OK:
            await self.alarms.clear_condition(key, now=now)

    async def results(
        self,
        principal: Principal,
        *,
        run_id: str | None = None,
        channel: int | None = None,
        verdict: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 500,
    ) -> list[dict[str, Any]]:
        if verdict is not None and verdict not in set(Verdict):
            raise HealthError("verdict must be ok, fault or unreachable")
        stmt = select(VqdResult).order_by(VqdResult.at.desc(), VqdResult.id.desc()).limit(limit)
        if run_id:
            stmt = stmt.where(VqdResult.run_id == run_id)
        if channel is not None:
            stmt = stmt.where(VqdResult.channel_pk == channel)
        if verdict:
            stmt = stmt.where(VqdResult.verdict == verdict)
        if since:
            stmt = stmt.where(VqdResult.at >= since)
        if until:
            stmt = stmt.where(VqdResult.at <= until)
        async with self.db.session() as s:
            rows = (await s.execute(stmt)).scalars().all()
        return [
            _result_dict(r)
            for r in rows
            if region_in_scope(principal, r.region_code or r.channel_id)
        ]

    async def thumbnail(self, principal: Principal, result_id: int) -> tuple[bytes, str, str]:
        """The JPEG of a stored diagnosis, with its channel and device IDs (for the audit)."""
        async with self.db.session() as s:
            r = await s.get(VqdResult, result_id)
        if (
            r is None
            or r.thumbnail is None
            or not region_in_scope(principal, r.region_code or r.channel_id)
        ):
            raise LookupError(f"thumbnail {result_id}")
        return r.thumbnail, r.channel_id, r.device_id

    async def channel_timeline(
        self, principal: Principal, pk: int, days: int = 7
    ) -> dict[str, Any]:
        """States (per-day online figures and the open interval), probes and diagnoses."""
        assert self.devices is not None
        ch = await self.devices.get_channel(principal, pk)  # scope check
        now = datetime.now(UTC)
        to_day = self.rates.local_day(now)
        from_day = self.rates.local_day(now - timedelta(days=days - 1))
        per_day = await self.rates.rates(
            None,
            group_by="day",
            from_day=from_day,
            to_day=to_day,
            now=now,
            channel_id=ch.channel_id,
        )
        history = await self.devices.status_history(principal, ch.device_id, limit=200)
        cur = self.rates._open.get((ch.device_id, ch.channel_id))
        return {
            "channel": ch.id,
            "channel_id": ch.channel_id,
            "device_id": ch.device_id,
            "online": ch.online,
            "state_since": cur.since if cur else None,
            "days": per_day,
            "transitions": [
                {"at": e.at, "online": e.online, "reason": e.reason}
                for e in history
                if e.channel_id in (None, ch.channel_id)
            ],
            "diagnoses": await self.results(principal, channel=pk, limit=50),
        }

    # ------------------------------------------------------------ assessment
    async def assessment(
        self, principal: Principal, month: str, group_by: str = "region", level: int = 6
    ) -> dict[str, Any]:
        """Score and rank the regions of one level (or the organisations) for a month,
        with that level's weights and targets."""
        if group_by not in ("region", "org", "maintainer"):
            raise HealthError("group_by must be region, org or maintainer")
        if group_by == "region" and level not in LEVEL_NAMES:
            raise HealthError(f"level must be one of {', '.join(map(str, LEVEL_NAMES))}")
        from_day, to_day = assessment.month_range(month)
        now = datetime.now(UTC)
        rows = await self.rates.rates(
            principal, group_by=group_by, from_day=from_day, to_day=to_day, now=now, level=level
        )
        await self._add_ledger_rates(principal, rows, group_by)
        weights, targets = self.settings.weights_for(level if group_by == "region" else None)
        ranking = assessment.rank(rows, weights, targets)
        trend = await self.rates.rates(
            principal, group_by="day", from_day=from_day, to_day=to_day, now=now
        )
        return {
            "month": month,
            "group_by": group_by,
            "level": level if group_by == "region" else None,
            "ranking": ranking,
            "trend": trend,
            "weights": weights,
            "targets": targets,
        }

    async def _add_ledger_rates(
        self, principal: Principal, rows: list[dict[str, Any]], group_by: str
    ) -> None:
        """档案完整率 and 上图率 from the ledger's quality figures (as percentages)."""
        if self.ledger is None or group_by not in ("region", "org"):
            return
        try:
            q = await self.ledger.quality(principal, group_by=group_by)
        except Exception:
            log.exception("ledger quality figures unavailable")
            return
        by_key = {str(g["key"]): g for g in q.get("groups", [])}
        for r in rows:
            g = by_key.get(str(r["key"])) or by_key.get(str(r["key"]).ljust(12, "0"))
            if g is None:
                continue
            r["name"] = g.get("name")
            r["ledger_complete_rate"] = round(100 * g["completeness_rate"], 4)
            r["on_map_rate"] = round(100 * g["on_map_rate"], 4)

    async def report(self, principal: Principal, month: str, fmt: str) -> bytes:
        if fmt not in ("xlsx", "pdf"):
            raise HealthError("format must be xlsx or pdf")
        a = await self.assessment(principal, month)
        orgs = await self.assessment(principal, month, "org")
        build = assessment.report_xlsx if fmt == "xlsx" else assessment.report_pdf
        return await asyncio.to_thread(
            build, month, a["ranking"], a["trend"], a["targets"], orgs["ranking"]
        )


def _selector(selector: Any, channels: Any) -> dict[str, Any]:
    if channels:
        if not isinstance(channels, list) or not all(isinstance(c, int) for c in channels):
            raise HealthError("channels must be a list of channel pks")
        return {"channels": channels}
    if selector is None:
        raise HealthError("give channels: [pk…] or a selector")
    if not isinstance(selector, dict):
        raise HealthError("selector must be an object")
    allowed = {"region", "device_id", "online", "q"}
    extra = set(selector) - allowed
    if extra:
        raise HealthError(f"unknown selector keys {sorted(extra)}; known: {sorted(allowed)}")
    return dict(selector)


def _plan_dict(p: VqdPlan) -> dict[str, Any]:
    return {
        "id": p.id,
        "name": p.name,
        "selector": p.selector,
        "checks": p.checks,
        "interval_s": p.interval_s,
        "concurrency": p.concurrency,
        "enabled": p.enabled,
        "last_run_at": p.last_run_at,
        "created_at": p.created_at,
        "created_by": p.created_by,
    }


def _result_dict(r: VqdResult) -> dict[str, Any]:
    return {
        "id": r.id,
        "run_id": r.run_id,
        "channel": r.channel_pk,
        "channel_id": r.channel_id,
        "device_id": r.device_id,
        "verdict": r.verdict,
        "faults": r.faults or [],
        "scores": r.scores or {},
        "rechecked": r.rechecked,
        "thumbnail_url": f"/api/vqd/results/{r.id}/thumbnail" if r.thumbnail else None,
        "at": r.at,
    }


__all__ = ["HealthError", "HealthService"]
