"""A simulated device's recording index (前端录像): synthetic, deterministic, no files.

Each channel "has" the last ``days`` days (up to ``now``) as files of
``file_s`` seconds aligned to the clock, with a few gaps (a file missing now and
then, as when a camera rebooted) and some files marked ``alarm``. The pattern
follows from the channel ID, so the platform can be tested against a known
answer; ``records()`` answers a RecordInfo query.
"""

from __future__ import annotations

import time
import zlib
from dataclasses import dataclass

from sharpeyes.gb28181.records import RecordItem, RecordType


@dataclass
class SimRecordingConfig:
    days: int = 7
    file_s: int = 1800
    gap_every: int = 11  # every n-th file (by a per-channel offset) is missing
    alarm_every: int = 7  # every n-th present file is an alarm recording
    bytes_per_s: int = 50_000
    per_message: int = 10  # items per RecordInfo MESSAGE (Appendix N)
    now: float | None = None  # fixed "now" for tests; default: the wall clock


def _slot_missing(cfg: SimRecordingConfig, salt: int, slot: int) -> bool:
    return cfg.gap_every > 0 and (slot + salt) % cfg.gap_every == 0


def records(
    cfg: SimRecordingConfig,
    channel_id: str,
    start: int,
    end: int,
    record_type: str = RecordType.ALL.value,
) -> list[RecordItem]:
    """The files overlapping [start, end), clipped to the recorded window."""
    now = int(cfg.now if cfg.now is not None else time.time())
    first = now - cfg.days * 86400
    lo, hi = max(start, first), min(end, now)
    if hi <= lo:
        return []
    salt = zlib.crc32(channel_id.encode()) % 97
    out: list[RecordItem] = []
    slot = lo // cfg.file_s
    while slot * cfg.file_s < hi:
        s = slot * cfg.file_s
        e = min(s + cfg.file_s, now)
        if not _slot_missing(cfg, salt, slot) and e > s:
            kind = (
                RecordType.ALARM.value
                if cfg.alarm_every and (slot + salt) % cfg.alarm_every == 0
                else RecordType.TIME.value
            )
            if record_type in (RecordType.ALL.value, "", kind):
                out.append(
                    RecordItem(
                        start=max(s, first),
                        end=e,
                        type=kind,
                        file_path=f"/sim/{channel_id}/{s}.ps",
                        size=(e - max(s, first)) * cfg.bytes_per_s,
                        device_id=channel_id,
                    )
                )
        slot += 1
    return out


def covered(cfg: SimRecordingConfig, channel_id: str, start: int, end: int) -> bool:
    """Whether [start, end) has any recording (Playback of nothing is refused)."""
    return bool(records(cfg, channel_id, start, end))


__all__ = ["SimRecordingConfig", "covered", "records"]
