"""Segment cutting, the disk-too-slow guard, torn-file repair, schedules (all sans-IO)."""

from __future__ import annotations

import struct
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from sharpeyes.recording.plans import PlanIn, active, scheduled_windows
from sharpeyes.recording.segments import ChannelRecorder, _repair_file, whole_boxes

TZ = ZoneInfo("Asia/Shanghai")
INIT = b"INIT"


class Clock:
    def __init__(self) -> None:
        self.t = 1_764_633_600.0

    def __call__(self) -> float:
        return self.t


def _recorder(clock: Clock, segment_s: float = 2.0) -> ChannelRecorder:
    rec = ChannelRecorder(
        7, "34020000001310000001", segment_s=segment_s, storage_days=3, tz=TZ, clock=clock
    )
    rec.send_init({"codec": "h264"}, INIT)
    return rec


def _feed(rec: ChannelRecorder, clock: Clock, frames: int, gop: int = 25, first: int = 0) -> None:
    for i in range(first, first + frames):
        rec.send_media(f"f{i};".encode(), i % gop == 0)
        clock.t += 0.04


def test_segments_start_at_keyframes_and_are_cut_after_segment_s() -> None:
    clock = Clock()
    rec = _recorder(clock)
    rec.send_media(b"before-any-keyframe", False)  # dropped: a segment must decode
    assert rec.current is None
    _feed(rec, clock, 130)  # 5.2 s at 25 fps, keyframes every second
    done = rec.done
    assert len(done) == 2  # cut at the keyframes at 2.0 s and 4.0 s
    for seg in done:
        assert seg.pending[0] == INIT and seg.pending[1].startswith(b"f")
        assert int(seg.pending[1][1:-1]) % 25 == 0  # the keyframe after the init
        assert seg.end - seg.start == pytest.approx(2.0)
        assert seg.keep_until == pytest.approx(seg.end + 3 * 86400)
        assert seg.closed and seg.frames == 50
    assert done[0].end == done[1].start  # contiguous: no artificial gap at a cut
    assert done[0].rel_path.startswith("34020000001310000001/20251202/")
    assert rec.current is not None and not rec.current.closed
    rec.stop()
    assert rec.current is None and len(rec.done) == 3


def test_a_new_init_segment_forces_a_cut_at_the_next_keyframe() -> None:
    clock = Clock()
    rec = _recorder(clock, segment_s=60)
    _feed(rec, clock, 30)
    rec.send_init({"codec": "h265"}, b"INIT2")
    _feed(rec, clock, 30, first=30)
    (old,) = rec.done
    assert rec.current is not None and rec.current.pending[0] == b"INIT2"
    assert rec.current.codec == "h265" and old.codec == "h264"


def test_a_slow_disk_drops_frames_until_a_keyframe_and_records_the_gap() -> None:
    clock = Clock()
    rec = _recorder(clock, segment_s=60)
    rec.max_buffered = 200
    _feed(rec, clock, 100)  # nobody flushes: the buffer fills up
    assert rec.dropped > 0
    cur = rec.current
    assert cur is not None and cur.pending_bytes <= 200
    cur.pending, cur.pending_bytes = [], 0  # a flush happened
    _feed(rec, clock, 30, first=100)  # resumes at the next keyframe: frame 100
    seg = rec.current
    assert seg is not None and len(seg.gaps) == 1
    hole_start, hole_end = seg.gaps[0]
    assert hole_end - hole_start > 0.5
    assert seg.pending[0] == b"f100;"  # resumed on a keyframe


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def test_repair_cuts_a_torn_tail_to_whole_boxes(tmp_path: Path) -> None:
    f = tmp_path / "seg.mp4"
    good = _box(b"ftyp", b"iso5") + _box(b"moov", b"x" * 20)
    good += _box(b"moof", b"m" * 10) + _box(b"mdat", b"d" * 50)
    torn = _box(b"moof", b"m" * 10) + _box(b"mdat", b"d" * 50)[:20]
    f.write_bytes(good + torn)
    assert whole_boxes(f) == len(good)
    assert _repair_file(f) == len(good) and f.read_bytes() == good
    f.write_bytes(b"\x00\x00\x00\x04moov")  # nonsense size
    assert _repair_file(f) == 0
    assert _repair_file(tmp_path / "missing.mp4") == 0


def test_schedules_union_weekdays_and_the_end_of_day() -> None:
    mon_9 = datetime(2025, 12, 1, 9, 0, tzinfo=TZ)  # a Monday
    sched = [
        {"weekday": 0, "start": "08:00", "end": "12:00"},
        {"weekday": 0, "start": "11:00", "end": "24:00"},
    ]
    assert active(sched, mon_9) and active([], mon_9) and active(None, mon_9)
    assert not active([{"weekday": 1, "start": "00:00", "end": "24:00"}], mon_9)
    assert not active(sched, datetime(2025, 12, 1, 7, 59, tzinfo=TZ))
    ((s, e),) = scheduled_windows([sched], date(2025, 12, 1), TZ)
    assert e - s == 16 * 3600  # 08:00–24:00, overlaps merged
    windows = scheduled_windows([sched, None], date(2025, 12, 2), TZ)  # Tuesday, one "always"
    assert [(e - s) for s, e in windows] == [86400]
    assert scheduled_windows([sched], date(2025, 12, 2), TZ) == []


def test_plan_input_is_validated() -> None:
    PlanIn(name="ok", schedule=[{"weekday": 6, "start": "00:00", "end": "24:00"}])
    for bad in (
        {"name": "", "schedule": []},
        {"name": "x", "schedule": [{"weekday": 7, "start": "00:00", "end": "01:00"}]},
        {"name": "x", "schedule": [{"weekday": 0, "start": "10:00", "end": "09:00"}]},
        {"name": "x", "schedule": [{"weekday": 0, "start": "25:00", "end": "26:00"}]},
        {"name": "x", "storage_days": 0},
        {"name": "x", "stream": "third"},
    ):
        with pytest.raises(ValidationError):
            PlanIn(**bad)  # type: ignore[arg-type]
