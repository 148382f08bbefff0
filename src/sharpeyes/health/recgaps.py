"""录像缺失: a gap in the recording of a channel some plan schedules raises an alarm.

The recording domain reports, per channel a plan wants recorded now, how many of the
scheduled seconds of a recent window have no stored segment
(``RecordingService.recent_gaps``); this module turns that into platform alarms
(kind ``recording_gap``), raised beyond ``recording_gap_min_s`` and cleared when the
window is whole again. Reads the recording and devices domains through their
services only.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Protocol

from sharpeyes.health.alarms import AlarmCentre, AlarmKind

log = logging.getLogger(__name__)


class RecordingGaps(Protocol):
    async def recent_gaps(self, now: float, window_s: float) -> list[dict[str, Any]]: ...


# channel pk → (device_id, channel_id, region_code), or None when unknown
ChannelLookup = Callable[[int], Awaitable[tuple[str, str, str | None] | None]]


async def check_recording_gaps(
    alarms: AlarmCentre,
    source: RecordingGaps,
    lookup: ChannelLookup,
    now: datetime,
    *,
    window_s: float,
    min_missing_s: float,
) -> list[str]:
    """One pass: raise or clear the gap alarm of every scheduled channel; returns the
    source keys raised."""
    raised: list[str] = []
    for gap in await source.recent_gaps(now.timestamp(), window_s):
        ids = await lookup(int(gap["channel_pk"]))
        if ids is None:
            continue
        device_id, channel_id, region = ids
        key = f"{AlarmKind.RECORDING_GAP}:{device_id}/{channel_id}"
        missing = float(gap["missing_s"])
        if missing >= min_missing_s:
            alarm = await alarms.raise_condition(
                AlarmKind.RECORDING_GAP,
                key,
                now=now,
                value=missing,
                device_id=device_id,
                channel_id=channel_id,
                region_code=region,
                message=f"计划录像缺失 {missing:.0f} s（最近 {window_s:.0f} s 内）",
                detail={k: gap.get(k) for k in ("scheduled_s", "missing_s", "recording")},
            )
            if alarm is not None:
                raised.append(key)
        else:
            await alarms.clear_condition(key, now=now)
    return raised


__all__ = ["RecordingGaps", "check_recording_gaps"]
