"""RecordInfo codec and aggregation (Appendix N), MANSRTSP parsing, the playback timeline."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sharpeyes.gb28181 import mansrtsp, records
from sharpeyes.gb28181.manscdp import parse_manscdp
from sharpeyes.gb28181.records import RecordItem
from sharpeyes.live.playback import PlaybackTimeline
from sharpeyes.recording.device_records import RecordInfoAggregator
from sharpeyes.sim.recordings import SimRecordingConfig
from sharpeyes.sim.recordings import records as sim_records

TZ = ZoneInfo("Asia/Shanghai")
CH = "34020000001310000001"
NOW = 1_764_633_600  # 2025-12-02 08:00 +08:00


def _items(n: int) -> list[RecordItem]:
    return [
        RecordItem(start=NOW - (n - i) * 600, end=NOW - (n - i) * 600 + 600, type="time")
        for i in range(n)
    ]


def _parts(items: list[RecordItem], per: int = 10, sn: int = 17430) -> list[bytes]:
    return records.responses(sn, CH, "Camera1", items, TZ, per_message=per)


def test_hundreds_of_items_over_many_parts_with_duplicates_and_reordering() -> None:
    items = _items(345)
    parts = _parts(items)
    assert len(parts) == 35
    agg = RecordInfoAggregator(TZ)
    key = (CH, 17430)
    order = parts[::-1] + parts[3:6]  # reversed, then three retransmissions
    answer = None
    for i, body in enumerate(order):
        got = agg.add(key, parse_manscdp(body), now=float(i))
        if got is not None:
            answer = got
            break
    assert answer is not None and answer.complete
    assert answer.expected == answer.received == 345 and answer.missing == 0
    assert [(r.start, r.end) for r in answer.items] == [(r.start, r.end) for r in items]
    assert i == len(parts) - 1  # complete at the last distinct part, before the repeats
    # a retransmission after completion does not produce a second answer
    assert agg.add(key, parse_manscdp(parts[4]), now=99.0) is None


def test_duplicates_do_not_complete_an_answer_early() -> None:
    items = _items(30)
    parts = _parts(items)
    agg = RecordInfoAggregator(TZ)
    key = (CH, 1)
    assert agg.add(key, parse_manscdp(parts[0]), 0.0) is None
    for _ in range(5):  # the same part again and again: still 10 of 30
        assert agg.add(key, parse_manscdp(parts[0]), 0.1) is None
    assert agg.add(key, parse_manscdp(parts[1]), 0.2) is None
    done = agg.add(key, parse_manscdp(parts[2]), 0.3)
    assert done is not None and done.received == 30 and done.parts == 8


def test_a_lost_part_gives_a_partial_answer_with_what_is_missing() -> None:
    items = _items(200)
    parts = _parts(items, per=20)
    agg = RecordInfoAggregator(TZ)
    key = (CH, 9)
    for i, body in enumerate(parts):
        if i == 4:
            continue  # lost on the network
        assert agg.add(key, parse_manscdp(body), float(i)) is None
    assert agg.expire(now=10.0, timeout=5.0) == []  # the last part is recent
    ((k, partial),) = agg.expire(now=20.0, timeout=5.0)
    assert k == key and not partial.complete
    assert (partial.expected, partial.received, partial.missing) == (200, 180, 20)
    lost = {(r.start, r.end) for r in items[80:100]}
    assert not lost & {(r.start, r.end) for r in partial.items}
    assert len(agg.collector) == 0


def test_empty_answer_and_unusable_items() -> None:
    agg = RecordInfoAggregator(TZ)
    (body,) = records.responses(3, CH, "c", [], TZ)
    answer = agg.add((CH, 3), parse_manscdp(body), 0.0)
    assert answer is not None and answer.items == [] and answer.complete
    bad = body.replace(b"<SumNum>0</SumNum>", b"<SumNum>2</SumNum>").replace(
        b"</Response>",
        b"<RecordList Num='2'><Item><StartTime>garbage</StartTime><EndTime>x</EndTime></Item>"
        b"<Item><StartTime>2025-12-01T10:00:00</StartTime><EndTime>2025-12-01T10:30:00"
        b"</EndTime><Type>alarm</Type></Item></RecordList></Response>",
    )
    answer = agg.add((CH, 4), parse_manscdp(bad), 0.0)
    assert answer is not None and answer.unusable == 1
    (item,) = answer.items
    assert item.type == "alarm" and item.end - item.start == 1800
    assert records.format_time(item.start, TZ) == "2025-12-01T10:00:00"


def test_the_standard_example_answer_parses() -> None:
    body = (
        b"<?xml version='1.0'?><Response><CmdType>RecordInfo </CmdType><SN>17430</SN>"
        b"<DeviceID>64010000001310000001</DeviceID><Name>Camera1</Name><SumNum>100</SumNum>"
        b"<RecordList Num='1'><Item><DeviceID>64010000001310000001</DeviceID>"
        b"<Name>Camera1 </Name><FilePath>64010000002100000001 </FilePath>"
        b"<Address>Address1 </Address><StartTime>2010-11-12T10:10:00 </StartTime>"
        b"<EndTime>2010-11-12T10:20:00 </EndTime><Secrecy>0 </Secrecy><Type>time</Type>"
        b"<RecorderID>64010000003000000001 </RecorderID></Item></RecordList></Response>"
    )
    msg = parse_manscdp(body)
    (item,), bad = records.parse_items(msg.items, TZ)
    assert bad == 0 and item.end - item.start == 600
    assert item.file_path == "64010000002100000001" and msg.sum_num == 100


def test_split_merge_and_gaps() -> None:
    assert records.split_range(0, 3 * 86400 + 5) == [
        (0, 86400),
        (86400, 172800),
        (172800, 259200),
        (259200, 259205),
    ]
    assert records.split_range(10, 10) == []
    spans = records.merge_spans([(10, 20), (15, 30), (30, 40), (50, 60)])
    assert spans == [(10, 40), (50, 60)]
    assert records.gaps(spans, 0, 70) == [(0, 10), (40, 50), (60, 70)]
    assert records.gaps(spans, 12, 38) == []


def test_sim_index_has_gaps_alarms_and_respects_the_window() -> None:
    cfg = SimRecordingConfig(now=NOW)
    week = sim_records(cfg, CH, NOW - 8 * 86400, NOW + 100)
    assert week[0].start >= NOW - 7 * 86400 and week[-1].end <= NOW
    assert 300 < len(week) < 336  # 48 files a day, some missing
    assert {r.type for r in week} == {"time", "alarm"}
    alarms = sim_records(cfg, CH, NOW - 86400, NOW, "alarm")
    assert alarms and all(r.type == "alarm" for r in alarms)


# -- MANSRTSP ------------------------------------------------------------------------


@given(st.binary(max_size=300))
def test_mansrtsp_hostile_bytes_raise_only_its_error(data: bytes) -> None:
    try:
        cmd = mansrtsp.parse(data)
    except mansrtsp.MansrtspError:
        return
    assert cmd.cseq >= 0


@given(
    st.sampled_from(["PLAY", "PAUSE", "TEARDOWN", "play"]),
    st.text(max_size=40),
    st.text(max_size=40),
)
def test_mansrtsp_hostile_headers(method: str, rng: str, scale: str) -> None:
    body = f"{method} MANSRTSP/1.0\r\nCSeq: 3\r\nRange: {rng}\r\nScale: {scale}\r\n"
    try:
        cmd = mansrtsp.parse(body.encode("utf-8", "replace"))
    except mansrtsp.MansrtspError:
        return
    assert cmd.scale is None or 0 < abs(cmd.scale) <= 64


def test_mansrtsp_builders_refuse_bad_values() -> None:
    with pytest.raises(mansrtsp.MansrtspError):
        mansrtsp.play(1, position_s=-1)
    with pytest.raises(mansrtsp.MansrtspError):
        mansrtsp.play(1, scale=float("nan"))
    assert (
        mansrtsp.pause(7).to_bytes() == b"PAUSE MANSRTSP/1.0\r\nCSeq: 7\r\nPauseTime: now\r\n\r\n"
    )


# -- playback position ---------------------------------------------------------------------


def test_timeline_follows_dts_and_reanchors_at_the_seek() -> None:
    t = PlaybackTimeline(1000, 1120)
    for i in range(50):
        t.on_frame(900_000 + i * 3600, keyframe=i % 25 == 0)
    assert t.position_s == pytest.approx(49 * 0.04)
    t.seek(60.0)
    t.on_frame(900_000 + 50 * 3600, keyframe=False)  # still the old position in flight
    assert t.position_s < 3
    t.on_frame(90_000 + 60 * 90_000, keyframe=True)  # the device restarted at npt=60
    assert t.position_s == pytest.approx(60.0)
    t.on_frame(90_000 + 61 * 90_000, keyframe=False)
    assert t.position_s == pytest.approx(61.0)
    t.on_frame(90_000 + 500 * 90_000, keyframe=False)
    assert t.position_s == 120.0  # never beyond the range


def test_timeline_with_a_device_that_keeps_counting_across_a_seek() -> None:
    t = PlaybackTimeline(0, 600)
    t.on_frame(0, True)
    t.seek(300.0)
    t.on_frame(3600, True)  # continuous timestamps: not yet
    assert t.position_s < 1
    t.on_frame(7200, True)  # second keyframe after the seek: anchor there
    assert t.position_s == pytest.approx(300.0)
