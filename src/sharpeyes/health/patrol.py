"""VQD patrols (诊断巡检): probe channels, diagnose, re-check the abnormal ones.

A patrol never floods devices or viewers: at most ``concurrency`` probes are in
flight, probe starts are at least ``spacing_s`` apart, and one device (an NVR with
many channels) is probed one channel at a time. Probes take frames through the
snapshot path, which reuses a running stream when somebody is watching and opens
a short one otherwise. A channel found abnormal is probed again after
``recheck_delay_s``; only the re-check's verdict counts (a passing glitch clears).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sharpeyes.health.settings import VqdThresholds
from sharpeyes.health.vqd import Diagnosis, Fault, Verdict, diagnose


@dataclass(frozen=True, slots=True)
class Target:
    pk: int
    device_id: str
    channel_id: str
    region_code: str | None = None
    ptz: bool = False


@dataclass
class Probe:
    """What one look at a channel gave: frames a second or so apart, or why none."""

    reachable: bool
    frames: list[np.ndarray] = field(default_factory=list)
    ptz_pair: tuple[np.ndarray, np.ndarray] | None = None
    error: str | None = None


FrameSource = Callable[[Target, bool], Awaitable[Probe]]  # (target, with PTZ move)
BaselineGet = Callable[[Target], Awaitable[np.ndarray | None]]
BaselinePut = Callable[[Target, np.ndarray], Awaitable[None]]
ResultSink = Callable[[Target, Probe, Diagnosis, bool], Awaitable[None]]  # rechecked?


@dataclass
class PatrolResult:
    target: Target
    diagnosis: Diagnosis
    rechecked: bool


def restrict(d: Diagnosis, checks: Sequence[str] | None) -> Diagnosis:
    """Keep only the faults of the plan's checks (scores stay for reference)."""
    if not checks or d.verdict == Verdict.UNREACHABLE:
        return d
    wanted = set(checks)
    faults = [f for f in d.faults if f.value in wanted]
    return Diagnosis(Verdict.FAULT if faults else Verdict.OK, faults, d.scores)


class Patrol:
    def __init__(
        self,
        source: FrameSource,
        thresholds: VqdThresholds,
        *,
        concurrency: int = 4,
        spacing_s: float = 0.2,
        recheck_delay_s: float = 30.0,
        baseline_get: BaselineGet | None = None,
        baseline_put: BaselinePut | None = None,
        sink: ResultSink | None = None,
    ) -> None:
        self.source = source
        self.thresholds = thresholds
        self.concurrency = max(1, concurrency)
        self.spacing_s = spacing_s
        self.recheck_delay_s = recheck_delay_s
        self.baseline_get = baseline_get
        self.baseline_put = baseline_put
        self.sink = sink
        self._next_start = 0.0
        self._start_lock = asyncio.Lock()
        self._devices: dict[str, asyncio.Lock] = {}

    async def _pace(self) -> None:
        async with self._start_lock:
            now = time.monotonic()
            wait = self._next_start - now
            self._next_start = max(now, self._next_start) + self.spacing_s
        if wait > 0:
            await asyncio.sleep(wait)

    async def look(self, t: Target, checks: Sequence[str] | None, rechecked: bool) -> Diagnosis:
        """Probe and diagnose one channel once (and store the result)."""
        lock = self._devices.setdefault(t.device_id, asyncio.Lock())
        async with lock:
            await self._pace()
            with_ptz = t.ptz and bool(checks) and Fault.PTZ_UNRESPONSIVE.value in (checks or ())
            probe = await self.source(t, with_ptz)
        baseline = await self.baseline_get(t) if self.baseline_get else None
        d = await asyncio.to_thread(
            diagnose,
            probe.frames,
            self.thresholds,
            baseline=baseline,
            ptz_pair=probe.ptz_pair,
            reachable=probe.reachable,
        )
        d = restrict(d, checks)
        if baseline is None and d.verdict == Verdict.OK and probe.frames and self.baseline_put:
            await self.baseline_put(t, probe.frames[0])
        if self.sink is not None:
            await self.sink(t, probe, d, rechecked)
        return d

    async def run(
        self,
        targets: Sequence[Target],
        checks: Sequence[str] | None = None,
        progress: Callable[[int, int], Awaitable[None]] | None = None,
    ) -> list[PatrolResult]:
        slots = asyncio.Semaphore(self.concurrency)
        done = 0
        total = len(targets)

        async def one(t: Target) -> PatrolResult:
            nonlocal done
            async with slots:
                d = await self.look(t, checks, False)
            rechecked = False
            if d.verdict != Verdict.OK:
                await asyncio.sleep(self.recheck_delay_s)
                async with slots:
                    d = await self.look(t, checks, True)
                rechecked = True
            done += 1
            if progress is not None:
                await progress(done, total)
            return PatrolResult(t, d, rechecked)

        return list(await asyncio.gather(*(one(t) for t in targets)))


def summary(results: Sequence[PatrolResult]) -> dict[str, Any]:
    by = {v.value: 0 for v in Verdict}
    for r in results:
        by[r.diagnosis.verdict.value] += 1
    return {"channels": len(results), **by, "rechecked": sum(r.rechecked for r in results)}


__all__ = ["Patrol", "Probe", "Target", "restrict", "summary"]
