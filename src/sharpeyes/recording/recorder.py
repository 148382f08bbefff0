"""The recorder: keeps every channel a plan wants recorded on the live hub, writing segments.

It is a consumer of the live service like a viewer (one upstream per channel: no
second INVITE when someone is already watching, and the stream stays up while it
records). Every ``PLAN_EVERY_S`` it compares what the plans want now with what it
records; a stream that ended (device offline, BYE, no media) closes its segment
— the hole is a gap in the index — and is re-INVITEd with exponential backoff
while the plan still says record. Segments are flushed every second; retention
and the disk guard run every ``recording.retention_every_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any

from sharpeyes.devices.messaging import DeviceUnavailable
from sharpeyes.live.service import LiveService
from sharpeyes.live.session import LiveSession, StreamEnded
from sharpeyes.recording.plans import PlanStore, Wanted
from sharpeyes.recording.segments import ChannelRecorder, SegmentStore
from sharpeyes.recording.settings import RecordingSettings
from sharpeyes.sharing.principal import Principal, Role

log = logging.getLogger(__name__)

PLAN_EVERY_S = 2.0
FLUSH_EVERY_S = 1.0
SYSTEM = Principal(user_id=0, username="recorder", role=Role.ADMIN)


@dataclass
class _State:
    wanted: Wanted
    session: LiveSession | None = None
    rec: ChannelRecorder | None = None
    failures: int = 0
    next_try: float = 0.0
    last_error: str | None = None
    starting: bool = False


class Recorder:
    def __init__(
        self,
        settings: RecordingSettings,
        *,
        live: LiveService,
        plans: PlanStore,
        store: SegmentStore,
        tz: tzinfo,
    ) -> None:
        self.settings = settings
        self.live = live
        self.plans = plans
        self.store = store
        self.tz = tz
        self.states: dict[int, _State] = {}
        self._task: asyncio.Task[None] | None = None
        self._plans_at = 0.0
        self._retention_at = 0.0

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for pk in list(self.states):
            self._stop_channel(pk)
        with contextlib.suppress(Exception):
            await self.store.flush()

    def refresh(self) -> None:
        """Plans changed: re-evaluate at the next tick."""
        self._plans_at = 0.0

    async def _loop(self) -> None:
        while True:
            try:
                await self.tick(time.time())
            except Exception:
                log.exception("recorder tick failed")
            await asyncio.sleep(FLUSH_EVERY_S)

    async def tick(self, now: float) -> None:
        mono = time.monotonic()
        if mono - self._plans_at >= PLAN_EVERY_S:
            self._plans_at = mono
            await self._apply(await self.plans.wanted(now), mono)
        else:
            self._check_sessions(mono)
        await self.store.flush()
        if mono - self._retention_at >= self.settings.retention_every_s:
            self._retention_at = mono
            await self.store.disk_guard()

    async def _apply(self, wanted: dict[int, Wanted], mono: float) -> None:
        for pk in [pk for pk in self.states if pk not in wanted]:
            self._stop_channel(pk)
            del self.states[pk]
        for pk, w in wanted.items():
            st = self.states.get(pk)
            if st is None:
                st = self.states[pk] = _State(w)
            elif st.wanted != w and st.session is not None:
                self._stop_channel(pk)  # other stream or retention: start over
            st.wanted = w
        self._check_sessions(mono)

    def _check_sessions(self, mono: float) -> None:
        for pk, st in self.states.items():
            if st.session is not None and st.session.state == "ended":
                st.last_error = f"{st.session.end_reason}: {st.session.end_detail}"
                self._stop_channel(pk)
                self._backoff(st, mono)
            if st.session is None and not st.starting and mono >= st.next_try:
                st.starting = True
                self.live._spawn(self._start_channel(pk, st))

    def _backoff(self, st: _State, mono: float) -> None:
        lo, hi = self.settings.retry_backoff_s
        st.failures += 1
        st.next_try = mono + min(hi, lo * 2 ** (st.failures - 1))

    async def _start_channel(self, pk: int, st: _State) -> None:
        w = st.wanted
        rec = ChannelRecorder(
            pk,
            "",
            segment_s=self.settings.segment_s,
            storage_days=w.storage_days,
            tz=self.tz,
        )
        try:
            ch = await self.live.devices.get_channel(SYSTEM, pk)
            rec.channel_id = ch.channel_id
            session = await self.live.hold(SYSTEM, pk, w.stream, rec)
        except (DeviceUnavailable, StreamEnded, LookupError, ValueError) as exc:
            st.last_error = str(exc)
            self._backoff(st, time.monotonic())
            return
        finally:
            st.starting = False
        if self.states.get(pk) is not st:  # the plan stopped wanting it meanwhile
            self.live.release(session, rec)
            return
        st.session, st.rec = session, rec
        st.failures = 0
        st.last_error = None
        self.store.add(rec)

    def _stop_channel(self, pk: int) -> None:
        st = self.states.get(pk)
        if st is None:
            return
        if st.session is not None and st.rec is not None:
            self.live.release(st.session, st.rec)
        self.store.remove(pk)
        st.session = None
        st.rec = None

    def status(self, channel_pk: int) -> dict[str, Any]:
        st = self.states.get(channel_pk)
        if st is None:
            return {"recording": False, "wanted": False}
        return {
            "recording": st.session is not None and st.session.state != "ended",
            "wanted": True,
            "stream": st.wanted.stream,
            "storage_days": st.wanted.storage_days,
            "failures": st.failures,
            "last_error": st.last_error,
        }


__all__ = ["Recorder"]
