"""RTP parsing/building, RFC 4571 framing and the sans-IO receiver."""

from __future__ import annotations

import itertools
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sharpeyes.media.rtp import (
    Rfc4571Deframer,
    RtpError,
    RtpReceiver,
    build_rtp,
    frame_rfc4571,
    parse_rtp,
    parse_rtp_header,
)

SSRC = 0x12345678


def pkt(seq: int, payload: bytes | None = None, *, ssrc: int = SSRC, marker: bool = False) -> bytes:
    body = payload if payload is not None else seq.to_bytes(4, "big")
    return build_rtp(body, pt=96, seq=seq & 0xFFFF, ts=seq * 3600, ssrc=ssrc, marker=marker)


def seqs_of(delivered: list[tuple[memoryview, bool, int, bool]]) -> list[int]:
    return [int.from_bytes(bytes(p), "big") for p, *_ in delivered]


# --- parse / build -----------------------------------------------------------------------


def test_build_parse_round_trip() -> None:
    raw = build_rtp(b"hello", pt=96, seq=65535, ts=0xFFFFFFFF, ssrc=SSRC, marker=True)
    assert raw[:2] == b"\x80\xe0" and len(raw) == 17
    p = parse_rtp(raw)
    assert (p.pt, p.marker, p.seq, p.ts, p.ssrc) == (96, True, 65535, 0xFFFFFFFF, SSRC)
    assert bytes(p.payload) == b"hello"
    assert p.csrc == () and p.ext_profile is None and p.padding == 0


def test_parse_csrc_extension_padding() -> None:
    header = struct.pack("!BBHII", 0x80 | 0x20 | 0x10 | 2, 33, 7, 90000, SSRC)
    csrc = struct.pack("!II", 1, 2)
    ext = struct.pack("!HH", 0xBEDE, 1) + b"\x10\xaa\x00\x00"
    raw = header + csrc + ext + b"payload" + b"\x00\x00\x03"
    p = parse_rtp(raw)
    assert p.csrc == (1, 2)
    assert p.ext_profile == 0xBEDE and p.ext_data == b"\x10\xaa\x00\x00"
    assert bytes(p.payload) == b"payload" and p.padding == 3
    assert p.pt == 33 and not p.marker


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x80" * 11,
        b"\x40" + bytes(11),  # version 1
        b"\x8f" + bytes(11 + 4 * 14),  # 15 CSRC announced, 14 present
        b"\x90" + bytes(11) + b"\x00\x00\x00\x05",  # extension longer than packet
        b"\xa0" + bytes(11) + b"\x00",  # zero padding length
        b"\xa0" + bytes(11) + b"ab\x09",  # padding longer than payload
    ],
)
def test_parse_rejects_malformed(raw: bytes) -> None:
    with pytest.raises(RtpError):
        parse_rtp(raw)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=200))
def test_parse_arbitrary_bytes_raises_only_rtp_error(raw: bytes) -> None:
    try:
        p = parse_rtp(raw)
    except RtpError:
        return
    assert len(p.payload) + 12 <= len(raw)


@settings(max_examples=200, deadline=None)
@given(
    st.binary(max_size=300),
    st.integers(0, 127),
    st.integers(0, 0xFFFF),
    st.integers(0, 0xFFFFFFFF),
    st.booleans(),
)
def test_build_parse_property(payload: bytes, pt: int, seq: int, ts: int, marker: bool) -> None:
    p = parse_rtp(build_rtp(payload, pt=pt, seq=seq, ts=ts, ssrc=SSRC, marker=marker))
    assert (bytes(p.payload), p.pt, p.seq, p.ts, p.marker) == (payload, pt, seq, ts, marker)


def test_parse_header_fast_variant_matches() -> None:
    raw = build_rtp(b"xyz", pt=98, seq=5, ts=6, ssrc=7, marker=True)
    assert parse_rtp_header(raw) == (98, True, 5, 6, 7, 12, 15)


# --- RFC 4571 ----------------------------------------------------------------------------


def test_rfc4571_round_trip_any_chunking() -> None:
    packets = [pkt(i, bytes([i]) * (i * 37 % 1500 + 1)) for i in range(50)]
    stream = b"".join(frame_rfc4571(p) for p in packets)
    for chunk in (1, 2, 3, 100, 1499, len(stream)):
        d = Rfc4571Deframer()
        got: list[bytes] = []
        for i in range(0, len(stream), chunk):
            got += d.feed(stream[i : i + chunk])
        assert got == packets
        assert d.buffered == 0


def test_rfc4571_rejects_zero_and_tiny_lengths() -> None:
    d = Rfc4571Deframer()
    assert d.feed(frame_rfc4571(pkt(1))) == [pkt(1)]
    with pytest.raises(RtpError):
        d.feed(b"\x00\x00" + pkt(2))
    with pytest.raises(RtpError):
        Rfc4571Deframer().feed(b"\x00\x05hello")
    with pytest.raises(RtpError):
        frame_rfc4571(b"")
    with pytest.raises(RtpError):
        frame_rfc4571(bytes(70000))


def test_rfc4571_buffer_is_bounded() -> None:
    d = Rfc4571Deframer()
    d.feed(b"\xff\xff" + bytes(30000))
    d.feed(bytes(30000))
    assert d.buffered == 60002  # one partial 64 KiB packet at most
    assert d.feed(bytes(5535)) == [bytes(65535)]
    assert d.buffered == 0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=20))
def test_rfc4571_arbitrary_bytes(chunks: list[bytes]) -> None:
    d = Rfc4571Deframer()
    try:
        for c in chunks:
            for p in d.feed(c):
                assert len(p) >= 12
    except RtpError:
        pass
    assert d.buffered <= 65537 + max((len(c) for c in chunks), default=0)


# --- receiver ----------------------------------------------------------------------------


def run(rx: RtpReceiver, packets: list[bytes]) -> list[tuple[memoryview, bool, int, bool]]:
    out: list[tuple[memoryview, bool, int, bool]] = []
    for p in packets:
        out += rx.push(p)
    return out


def test_in_order_fast_path_and_stats() -> None:
    rx = RtpReceiver(SSRC)
    out = run(rx, [pkt(i) for i in range(100)])
    assert seqs_of(out) == list(range(100))
    assert not any(gap for *_, gap in out)
    s = rx.stats
    assert s["packets"] == 100 and s["bytes"] == 400 and s["lost"] == 0
    assert s["reordered"] == s["duplicates"] == s["wrong_ssrc"] == 0
    assert s["last_seq"] == 99


def test_reordering_within_window_is_repaired() -> None:
    order = list(range(40))
    order[5], order[6] = order[6], order[5]
    order[10], order[13] = order[13], order[10]
    order.insert(30, order.pop(20))  # 20 arrives 10 packets late
    rx = RtpReceiver(SSRC)
    out = run(rx, [pkt(i) for i in order])
    assert seqs_of(out) == list(range(40))
    assert rx.stats["lost"] == 0
    # Arrived after a higher sequence number: 5, 11, 12, 10 and 20.
    assert rx.stats["reordered"] == 5
    assert rx.held == 0


def test_loss_count_exact_for_known_drop_pattern() -> None:
    dropped = {5, 17, 18, 50, 99}
    rx = RtpReceiver(SSRC, reorder_window=8)
    sent = [i for i in range(120) if i not in dropped]
    out = run(rx, [pkt(i) for i in sent])
    out += rx.flush()
    assert seqs_of(out) == sent
    assert rx.stats["lost"] == len(dropped)
    # The payload after each hole is flagged, so a demuxer can drop its partial frame.
    gaps = [int.from_bytes(bytes(p), "big") for p, _m, _t, gap in out if gap]
    assert gaps == [6, 19, 51, 100]


def test_gap_waits_for_window_then_gives_up() -> None:
    rx = RtpReceiver(SSRC, reorder_window=4)
    out = run(rx, [pkt(0), pkt(2), pkt(3), pkt(4)])
    assert seqs_of(out) == [0]
    assert rx.held == 3
    out = run(rx, [pkt(5)])  # 4 packets past the hole: give up on 1
    assert seqs_of(out) == [2, 3, 4, 5]
    assert out[0][3] is True
    out = run(rx, [pkt(1)])  # too late now: counted, not delivered
    assert not out
    assert rx.stats["late"] == 1 and rx.stats["lost"] == 0


def test_giving_up_on_one_hole_keeps_waiting_for_the_next() -> None:
    rx = RtpReceiver(SSRC, reorder_window=4)
    out = run(rx, [pkt(0), pkt(2), pkt(4), pkt(5)])  # holes at 1 and 3
    assert seqs_of(out) == [0, 2]  # 1 given up, 3 still awaited
    out += run(rx, [pkt(3), pkt(6)])
    assert seqs_of(out) == [0, 2, 3, 4, 5, 6]
    assert rx.stats["lost"] == 1 and rx.stats["late"] == 0


def test_time_based_release() -> None:
    rx = RtpReceiver(SSRC, reorder_window=32, max_delay=0.05, startup_packets=1)
    assert seqs_of(run(rx, [pkt(0)])) == [0]
    assert not rx.push(pkt(2), now=10.0)
    assert not rx.poll(10.02)
    assert seqs_of(list(rx.poll(10.06))) == [2]
    assert rx.stats["lost"] == 1


def test_sequence_wrap_around() -> None:
    seqs = [(65530 + i) & 0xFFFF for i in range(20)]
    order = list(seqs)
    order[5], order[7] = order[7], order[5]  # reorder across the wrap (65535 ↔ 1)
    rx = RtpReceiver(SSRC)
    out = run(rx, [pkt(s) for s in order])
    assert seqs_of(out) == seqs
    assert rx.stats["lost"] == 0
    assert rx.stats["last_seq"] == seqs[-1]


def test_loss_across_wrap() -> None:
    seqs = [(65500 + i) & 0xFFFF for i in range(100) if i not in (30, 40)]
    rx = RtpReceiver(SSRC, reorder_window=4)
    out = run(rx, [pkt(s) for s in seqs]) + list(rx.flush())
    assert seqs_of(out) == seqs
    assert rx.stats["lost"] == 2


def test_wrong_ssrc_dropped_and_counted() -> None:
    rx = RtpReceiver(SSRC)
    out = run(rx, [pkt(0), pkt(1, ssrc=0xDEAD), pkt(1), pkt(2, ssrc=0xBEEF), pkt(2)])
    assert seqs_of(out) == [0, 1, 2]
    assert rx.stats["wrong_ssrc"] == 2
    assert rx.stats["packets"] == 3


def test_unknown_ssrc_latches_then_follows_a_restarted_sender() -> None:
    rx = RtpReceiver(None, relatch_after=5)
    run(rx, [pkt(i, ssrc=1) for i in range(10)])
    assert rx.expected_ssrc == 1
    out = run(rx, [pkt(i, ssrc=2) for i in range(1000, 1010)])
    assert rx.expected_ssrc == 2
    assert rx.stats["wrong_ssrc"] == 4
    assert seqs_of(out) == list(range(1004, 1010))  # the 5th packet re-latches
    assert out[0][3] is True  # discontinuity


def test_explicit_ssrc_never_relatches() -> None:
    rx = RtpReceiver(SSRC, relatch_after=3)
    out = run(rx, [pkt(i, ssrc=9) for i in range(20)])
    assert not out and rx.stats["wrong_ssrc"] == 20


def test_learn_ssrc_latches_the_real_sender_and_keeps_it() -> None:
    """A device that announced no usable y=: the first packet's SSRC counts from then on."""
    rx = RtpReceiver(SSRC, relatch_after=0)
    rx.learn_ssrc()
    out = run(rx, [pkt(i, ssrc=0xCAFE) for i in range(5)] + [pkt(5, ssrc=SSRC)])
    assert seqs_of(out) == [0, 1, 2, 3, 4]
    assert rx.expected_ssrc == 0xCAFE and rx.stats["wrong_ssrc"] == 1


def test_duplicates_dropped() -> None:
    rx = RtpReceiver(SSRC)
    out = run(rx, [pkt(0), pkt(1), pkt(1), pkt(3), pkt(3), pkt(2), pkt(0), pkt(4)])
    assert seqs_of(out) == [0, 1, 2, 3, 4]
    assert rx.stats["duplicates"] == 3
    assert rx.stats["lost"] == 0


def test_sender_restart_with_big_jump() -> None:
    rx = RtpReceiver(SSRC)
    out = run(rx, [pkt(i) for i in range(10)])
    out += run(rx, [pkt(i) for i in range(40000, 40005)])
    assert seqs_of(out) == list(range(10)) + list(range(40000, 40005))
    assert rx.stats["resets"] == 1
    assert rx.stats["lost"] == 0


def test_single_stray_packet_is_ignored() -> None:
    rx = RtpReceiver(SSRC)
    out = run(rx, [pkt(0), pkt(1), pkt(30000), pkt(2), pkt(3), pkt(30000), pkt(4)])
    assert seqs_of(out) == [0, 1, 2, 3, 4]
    assert rx.stats["resets"] == 0


def test_reordered_stream_start_is_not_lost() -> None:
    rx = RtpReceiver(SSRC, startup_packets=3)
    out = run(rx, [pkt(102), pkt(100)])
    assert not out  # still in probation
    out = run(rx, [pkt(101), pkt(103)])
    assert seqs_of(out) == [100, 101, 102, 103]
    assert rx.stats["lost"] == 0 and rx.stats["reordered"] == 2


def test_late_packet_from_before_the_start_still_counts_in_loss() -> None:
    rx = RtpReceiver(SSRC, startup_packets=1)
    out = run(rx, [pkt(10), pkt(11), pkt(12), pkt(8)])  # 8 predates the start; 9 lost
    assert seqs_of(out) == [10, 11, 12]
    assert rx.stats["late"] == 1 and rx.stats["lost"] == 1


def test_probation_tolerance_does_not_depend_on_the_window() -> None:
    rx = RtpReceiver(SSRC, reorder_window=1, startup_packets=3)
    out = run(rx, [pkt(5), pkt(8), pkt(6), pkt(7)])
    assert seqs_of(out) == [5, 6, 7, 8]


def test_startup_probation_is_bounded_by_time_and_flush() -> None:
    rx = RtpReceiver(SSRC, startup_packets=10, max_delay=0.1)
    assert not rx.push(pkt(7), now=1.0)
    assert seqs_of(list(rx.poll(1.2))) == [7]
    rx2 = RtpReceiver(SSRC, startup_packets=10)
    rx2.push(pkt(9))
    rx2.push(pkt(8))
    assert seqs_of(list(rx2.flush())) == [8, 9]


def test_stray_first_packet_does_not_block_the_stream() -> None:
    rx = RtpReceiver(SSRC, startup_packets=3)
    out = run(rx, [pkt(50000)] + [pkt(i) for i in range(10)])
    assert seqs_of(out + list(rx.flush())) == list(range(10))


def test_malformed_counted_not_raised() -> None:
    rx = RtpReceiver(SSRC)
    assert not rx.push(b"garbage")
    assert not rx.push(b"\x40" + bytes(20))
    assert rx.stats["malformed"] == 2


def test_callback_mode_and_mutable_buffers_are_copied_when_held() -> None:
    got: list[tuple[bytes, bool, int, bool]] = []
    rx = RtpReceiver(SSRC, on_payload=lambda p, m, t, g: got.append((bytes(p), m, t, g)))
    buf = bytearray(pkt(0))
    assert rx.push(buf) == ()
    buf2 = bytearray(pkt(2))
    rx.push(buf2)
    buf2[12:16] = b"XXXX"  # the socket layer reuses its buffer
    rx.push(pkt(1, marker=True))
    assert [g[0] for g in got] == [b"\0\0\0\0", b"\0\0\0\1", b"\0\0\0\2"]
    assert got[1][1] is True and got[1][2] == 3600


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=40), max_size=30))
def test_receiver_survives_arbitrary_datagrams(datagrams: list[bytes]) -> None:
    rx = RtpReceiver()
    for d in datagrams:
        rx.push(d, now=0.0)
    rx.poll(1.0)
    rx.flush()
    assert rx.stats["lost"] >= 0


@settings(max_examples=500, deadline=None)
@given(st.lists(st.integers(0, 0xFFFF), max_size=60), st.integers(1, 40))
def test_receiver_random_sequences_invariants(seqs: list[int], window: int) -> None:
    rx = RtpReceiver(SSRC, reorder_window=window)
    out = run(rx, [pkt(s) for s in seqs]) + list(rx.flush())
    delivered = seqs_of(out)
    # Without a discontinuity flag, delivery is gap-free: exactly the next number.
    for (prev, _m, _t, _g), (cur, _m2, _t2, gap) in itertools.pairwise(out):
        if not gap:
            assert (
                int.from_bytes(bytes(cur), "big")
                == (int.from_bytes(bytes(prev), "big") + 1) & 0xFFFF
            )
    # Nothing is invented or delivered more often than it was sent (a sender
    # restart, RFC 3550 A.1, may legitimately deliver an old number again).
    for s in set(delivered):
        assert delivered.count(s) <= seqs.count(s)
    assert rx.stats["lost"] >= 0
