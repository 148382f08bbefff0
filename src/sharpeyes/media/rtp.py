"""RTP (RFC 3550) parsing/building, RFC 4571 TCP framing and a sans-IO receiver.

The receiver is the per-datagram hot path: one ``struct`` unpack, a few integer
operations and, for in-order packets, a direct hand-off of a ``memoryview`` of the
payload. Out-of-order packets wait in a small reorder buffer keyed by extended
sequence number; nothing is logged per packet, everything is counted.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass

Buffer = bytes | bytearray | memoryview

_HDR = struct.Struct("!BBHII")
_U16 = struct.Struct("!H")
_EXT = struct.Struct("!HH")

RTP_HEADER_SIZE = 12
MAX_RFC4571_PACKET = 0xFFFF


class RtpError(ValueError):
    """Malformed RTP packet or RFC 4571 stream."""


@dataclass(slots=True)
class RtpPacket:
    """A parsed RTP packet; ``payload`` is a view into the original buffer."""

    pt: int
    marker: bool
    seq: int
    ts: int
    ssrc: int
    payload: memoryview
    csrc: tuple[int, ...] = ()
    ext_profile: int | None = None
    ext_data: bytes = b""
    padding: int = 0


def parse_rtp_header(buf: Buffer) -> tuple[int, bool, int, int, int, int, int]:
    """Fast header parse: ``(pt, marker, seq, ts, ssrc, payload_start, payload_end)``.

    Validates version, CSRC count, extension length and padding against the size.
    """
    n = len(buf)
    if n < RTP_HEADER_SIZE:
        raise RtpError("packet shorter than the RTP header")
    b0, b1, seq, ts, ssrc = _HDR.unpack_from(buf, 0)
    if b0 & 0xC0 != 0x80:
        raise RtpError("RTP version is not 2")
    start = RTP_HEADER_SIZE + (b0 & 0x0F) * 4
    if b0 & 0x10:
        if n < start + 4:
            raise RtpError("truncated header extension")
        start += 4 + _U16.unpack_from(buf, start + 2)[0] * 4
    end = n
    if b0 & 0x20:
        pad = buf[n - 1]
        if pad == 0:
            raise RtpError("zero padding length")
        end -= pad
    if start > end:
        raise RtpError("header, extension or padding exceed the packet")
    return b1 & 0x7F, bool(b1 & 0x80), seq, ts, ssrc, start, end


def parse_rtp(buf: Buffer) -> RtpPacket:
    """Parse one RTP packet; raises :class:`RtpError` on anything malformed."""
    pt, marker, seq, ts, ssrc, start, end = parse_rtp_header(buf)
    mv = memoryview(buf)
    cc = mv[0] & 0x0F
    csrc = struct.unpack_from(f"!{cc}I", mv, 12) if cc else ()
    ext_profile = None
    ext_data = b""
    if mv[0] & 0x10:
        off = 12 + cc * 4
        ext_profile, words = _EXT.unpack_from(mv, off)
        ext_data = bytes(mv[off + 4 : off + 4 + words * 4])
    return RtpPacket(
        pt=pt,
        marker=marker,
        seq=seq,
        ts=ts,
        ssrc=ssrc,
        payload=mv[start:end],
        csrc=tuple(csrc),
        ext_profile=ext_profile,
        ext_data=ext_data,
        padding=len(mv) - end,
    )


def build_rtp(
    payload: Buffer, *, pt: int, seq: int, ts: int, ssrc: int, marker: bool = False
) -> bytes:
    """Build a minimal RTP packet (no CSRC, extension or padding)."""
    if not 0 <= pt <= 127:
        raise RtpError("payload type out of range")
    return (
        _HDR.pack(
            0x80,
            (0x80 if marker else 0) | pt,
            seq & 0xFFFF,
            ts & 0xFFFFFFFF,
            ssrc & 0xFFFFFFFF,
        )
        + payload
    )


# --- RFC 4571 ---------------------------------------------------------------------------


def frame_rfc4571(packet: Buffer) -> bytes:
    """Prefix a packet with its 16-bit length for RTP over TCP (RFC 4571, GB Appendix L)."""
    n = len(packet)
    if not 0 < n <= MAX_RFC4571_PACKET:
        raise RtpError("RFC 4571 packets must be 1..65535 bytes")
    return _U16.pack(n) + bytes(packet)


class Rfc4571Deframer:
    """Split a TCP byte stream into RTP packets by their 2-byte length prefix.

    Memory is bounded: at most one partial packet (≤ 64 KiB) plus the last chunk is
    held. A zero length means the stream lost framing; it raises :class:`RtpError`
    and the caller should close the connection (there is no way to resync safely).
    ``min_length`` (default 12, an RTP header) rejects other nonsense lengths.
    """

    __slots__ = ("_buf", "_min")

    def __init__(self, *, min_length: int = RTP_HEADER_SIZE) -> None:
        self._buf = bytearray()
        self._min = max(1, min_length)

    @property
    def buffered(self) -> int:
        """Bytes waiting for the rest of their packet."""
        return len(self._buf)

    def feed(self, data: Buffer) -> list[bytes]:
        buf = self._buf
        buf += data
        out: list[bytes] = []
        pos = 0
        n = len(buf)
        while n - pos >= 2:
            length = (buf[pos] << 8) | buf[pos + 1]
            if length < self._min:
                self._buf = bytearray()
                raise RtpError(f"RFC 4571 length {length} is below {self._min}")
            end = pos + 2 + length
            if end > n:
                break
            out.append(bytes(buf[pos + 2 : end]))
            pos = end
        if pos:
            del buf[:pos]
        return out


# --- Receiver ---------------------------------------------------------------------------

# (payload, marker, rtp timestamp, discontinuity-before-this-payload)
Delivered = tuple[memoryview, bool, int, bool]
PayloadCallback = Callable[[memoryview, bool, int, bool], None]

_SEQ_MOD = 1 << 16
_MAX_DROPOUT = 3000
_MAX_MISORDER = 100
_NO_DELIVERY: tuple[Delivered, ...] = ()


class RtpReceiver:
    """Per-session, sans-IO RTP receive logic: SSRC filter, reordering, loss stats.

    Feed raw datagrams (or RFC 4571-deframed packets) to :meth:`push`. Payloads come
    out in sequence order, either to ``on_payload(payload, marker, ts, discontinuity)``
    or as the return value when no callback is given. ``discontinuity`` is True when
    packets before this one were given up as lost, so a demuxer can drop its partial
    frame instead of gluing unrelated bytes together.

    A gap is waited for until ``reorder_window`` newer packets have arrived or, when
    the caller passes ``now`` (seconds, any monotonic clock), until the oldest held
    packet is ``max_delay`` old; :meth:`poll` releases on time alone. A jump of more
    than 3000 sequence numbers (or back by more than 100) is a restarted sender: two
    consecutive packets confirm it (RFC 3550 A.1) and the receiver resynchronises.

    Payload views reference the pushed buffer; reusable (mutable) receive buffers are
    copied when a packet has to wait in the reorder buffer.

    The first ``startup_packets`` packets are collected before anything is delivered
    and delivery starts at the lowest of them, so a reordered stream start (usually
    the keyframe) is not thrown away as "late"; ``max_delay`` bounds that wait too.

    ``expected_ssrc=None`` latches the first SSRC seen and re-latches only after
    ``relatch_after`` consecutive packets of another SSRC (a restarted camera).
    """

    __slots__ = (
        "_bad_seq",
        "_base",
        "_cb",
        "_fixed",
        "_held",
        "_hist",
        "_hist_bits",
        "_hist_mask",
        "_latched",
        "_max_delay",
        "_max_ext",
        "_next",
        "_oldest_at",
        "_other_run",
        "_other_ssrc",
        "_pending_gap",
        "_relatch",
        "_restart_pkt",
        "_start_ref",
        "_startup",
        "_stray",
        "_window",
        "bytes",
        "duplicates",
        "expected_ssrc",
        "last_wrong_ssrc",
        "late",
        "malformed",
        "packets",
        "received",
        "reordered",
        "resets",
        "wrong_ssrc",
    )

    def __init__(
        self,
        expected_ssrc: int | None = None,
        *,
        reorder_window: int = 32,
        max_delay: float = 0.1,
        on_payload: PayloadCallback | None = None,
        relatch_after: int = 50,
        startup_packets: int = 3,
    ) -> None:
        if reorder_window < 1:
            raise ValueError("reorder_window must be >= 1")
        self.expected_ssrc = expected_ssrc
        self._latched = expected_ssrc is not None
        self._fixed = expected_ssrc is not None
        self._window = reorder_window
        self._max_delay = max_delay
        self._cb = on_payload
        self._relatch = relatch_after
        self._other_ssrc = -1
        self._other_run = 0
        self._startup = max(1, startup_packets)
        self._start_ref = -1
        self._stray: list[tuple[int, tuple[memoryview, bool, int, float | None]]] = []
        self._next = -1  # extended seq of the next payload to deliver; -1 = not started
        self._base = 0
        self._max_ext = -1
        self._held: dict[int, tuple[memoryview, bool, int, float | None]] = {}
        self._oldest_at: float | None = None
        self._hist_bits = max(128, 2 * reorder_window)  # covers _MAX_MISORDER
        self._hist_mask = (1 << self._hist_bits) - 1
        self._hist = 0  # bit i set: extended seq (next - 1 - i) was received
        self._bad_seq = -1
        self._restart_pkt: tuple[memoryview, bool, int] | None = None
        self._pending_gap = False
        self.packets = 0  # valid packets of our SSRC, duplicates included
        self.received = 0  # unique packets (RFC 3550 "received")
        self.bytes = 0
        self.reordered = 0
        self.duplicates = 0
        self.late = 0
        self.wrong_ssrc = 0
        self.last_wrong_ssrc: int | None = None  # what a mis-configured sender uses
        self.malformed = 0
        self.resets = 0

    # -- public ------------------------------------------------------------------

    @property
    def lost(self) -> int:
        """RFC 3550 cumulative loss: expected − received (never negative)."""
        if self._max_ext < 0:
            return 0
        return max(0, self._max_ext - self._base + 1 - self.received)

    @property
    def last_seq(self) -> int | None:
        """Highest sequence number received (16-bit), None before the first packet."""
        return None if self._max_ext < 0 else self._max_ext & 0xFFFF

    @property
    def held(self) -> int:
        """Packets waiting in the reorder buffer."""
        return len(self._held)

    @property
    def stats(self) -> dict[str, int | None]:
        return {
            "packets": self.packets,
            "bytes": self.bytes,
            "lost": self.lost,
            "reordered": self.reordered,
            "duplicates": self.duplicates,
            "late": self.late,
            "wrong_ssrc": self.wrong_ssrc,
            "malformed": self.malformed,
            "resets": self.resets,
            "last_seq": self.last_seq,
            "ssrc": self.expected_ssrc,
        }

    def push(self, datagram: Buffer, now: float | None = None) -> Sequence[Delivered]:
        """Accept one RTP packet; returns delivered payloads when there is no callback.

        Never raises on bad input: malformed packets are counted and dropped.
        """
        try:
            _pt, marker, seq, ts, ssrc, start, end = parse_rtp_header(datagram)
        except RtpError:
            self.malformed += 1
            return _NO_DELIVERY
        if ssrc != self.expected_ssrc:
            if not self._check_ssrc(ssrc):
                return _NO_DELIVERY
        elif self._other_run:
            self._other_run = 0
        self.packets += 1
        self.bytes += end - start
        out: list[Delivered] | None = None if self._cb else []
        payload = memoryview(datagram)[start:end]
        nxt = self._next
        if nxt < 0:
            self._startup_push(out, payload, marker, ts, seq, now)
            return out if out is not None else _NO_DELIVERY
        delta = (seq - nxt) & 0xFFFF
        if delta >= 0x8000:
            delta -= _SEQ_MOD
        if delta == 0 and not self._held:
            # Fast path: the packet we expect, nothing waiting.
            self.received += 1
            self._next = nxt + 1
            self._hist = ((self._hist << 1) | 1) & self._hist_mask
            if nxt > self._max_ext:
                self._max_ext = nxt
            gap = self._pending_gap
            self._pending_gap = False
            self._emit(out, payload, marker, ts, gap)
            return out if out is not None else _NO_DELIVERY
        self._slow(out, payload, marker, ts, seq, delta, now)
        return out if out is not None else _NO_DELIVERY

    def poll(self, now: float) -> Sequence[Delivered]:
        """Release packets held longer than ``max_delay`` (call from a timer)."""
        out: list[Delivered] | None = None if self._cb else []
        if self._held and self._oldest_at is not None and now - self._oldest_at >= self._max_delay:
            if self._next < 0:
                self._begin(out)
            else:
                self._release_due(out, now)
        return out if out is not None else _NO_DELIVERY

    def flush(self) -> Sequence[Delivered]:
        """Deliver everything held (in order, skipping gaps), e.g. at session end."""
        out: list[Delivered] | None = None if self._cb else []
        if self._held and self._next < 0:
            self._begin(out)
        if self._held:
            self._advance_to(max(self._held) + 1, out)
        return out if out is not None else _NO_DELIVERY

    def learn_ssrc(self) -> None:
        """Latch the SSRC of the next packet (kept for good if the SSRC was fixed): the
        sender announced no usable SSRC. Packets already refused stay counted.
        """
        self._latched = False

    # -- internals -----------------------------------------------------------------

    def _check_ssrc(self, ssrc: int) -> bool:
        """Decide about a packet whose SSRC differs from the expected/latched one."""
        if not self._latched:
            self.expected_ssrc = ssrc
            self._latched = True
            return True
        if self._relatch > 0 and not self._fixed:
            if ssrc == self._other_ssrc:
                self._other_run += 1
            else:
                self._other_ssrc = ssrc
                self._other_run = 1
            if self._other_run >= self._relatch:
                # The sender restarted with a new SSRC: follow it.
                self.expected_ssrc = ssrc
                self._other_run = 0
                self._reset_sequence()
                return True
        self.wrong_ssrc += 1
        self.last_wrong_ssrc = ssrc
        return False

    def _reset_sequence(self) -> None:
        self.resets += 1
        self._next = -1
        self._held.clear()
        self._oldest_at = None
        self._hist = 0
        self._bad_seq = -1
        self._restart_pkt = None
        self._pending_gap = True
        self._start_ref = -1
        self._stray = []

    def _startup_push(
        self,
        out: list[Delivered] | None,
        payload: memoryview,
        marker: bool,
        ts: int,
        seq: int,
        now: float | None,
    ) -> None:
        """Collect the first packets (keyed by offset from the first one) before starting."""
        held = self._held
        if self._start_ref < 0:
            self._start_ref = seq
        rel = (seq - self._start_ref) & 0xFFFF
        if rel >= 0x8000:
            rel -= _SEQ_MOD
        item = (self._keep(payload), marker, ts, now)
        if abs(rel) > max(self._window, _MAX_MISORDER):
            # Far from what we collected: a stray packet, or the first ones were.
            strays = self._stray
            strays.append((seq, item))
            if len(strays) < self._startup:
                return
            self.late += len(held)
            held.clear()
            self._stray = []
            self._start_ref = strays[0][0]
            for s, it in strays:
                r = (s - self._start_ref) & 0xFFFF
                held[r - _SEQ_MOD if r >= 0x8000 else r] = it
            if len(held) >= self._startup:
                self._begin(out)
            return
        if self._stray:
            self.late += len(self._stray)
            self._stray = []
        if rel in held:
            self.duplicates += 1
            return
        if held and rel < max(held):
            self.reordered += 1
        held[rel] = item
        if now is not None and self._oldest_at is None:
            self._oldest_at = now
        if len(held) >= self._startup:
            self._begin(out)

    def _begin(self, out: list[Delivered] | None) -> None:
        """End of probation: number the collected packets and deliver from the lowest."""
        held = self._held
        lo, hi = min(held), max(held)
        self._start((self._start_ref + lo) & 0xFFFF)
        first = self._next
        self._held = {first + rel - lo: item for rel, item in held.items()}
        self.received += len(held)
        self._max_ext = max(self._max_ext, first + hi - lo)
        self._drain(out)

    def _start(self, seq: int) -> None:
        if self._max_ext >= 0:
            # Restart: keep the extended numbering monotonic so `lost` stays sane.
            ext = ((self._max_ext >> 16) + 1) << 16 | seq
            self._base += ext - self._max_ext - 1
            self._max_ext = ext - 1
        else:
            ext = seq
            self._base = seq
        self._next = ext

    def _emit(
        self, out: list[Delivered] | None, payload: memoryview, marker: bool, ts: int, gap: bool
    ) -> None:
        if out is None:
            self._cb(payload, marker, ts, gap)  # type: ignore[misc]
        else:
            out.append((payload, marker, ts, gap))

    def _slow(
        self,
        out: list[Delivered] | None,
        payload: memoryview,
        marker: bool,
        ts: int,
        seq: int,
        delta: int,
        now: float | None,
    ) -> None:
        nxt = self._next
        ext = nxt + delta
        if delta > _MAX_DROPOUT or delta < -_MAX_MISORDER:
            # Huge jump: wait for a second packet in sequence before believing it.
            if self._bad_seq == seq:
                held = self._restart_pkt
                if self._held:
                    self._advance_to(max(self._held) + 1, out)
                self.resets += 1
                self._next = -1
                self._hist = 0
                self._pending_gap = True
                self._start((seq - 1) & 0xFFFF if held is not None else seq)
                if held is not None:
                    self._accept_in_order(out, *held)
                self._accept_in_order(out, payload, marker, ts)
                self._bad_seq = -1
                self._restart_pkt = None
            else:
                self._bad_seq = (seq + 1) & 0xFFFF
                self._restart_pkt = (self._keep(payload), marker, ts)
            return
        self._bad_seq = -1
        if delta < 0:
            age = -delta - 1
            if age >= self._hist_bits:
                self.late += 1  # too old to tell a duplicate from a late packet
            elif (self._hist >> age) & 1:
                self.duplicates += 1
            else:
                # Arrived after we gave up on it: it counts as received, not delivered.
                self.late += 1
                self.received += 1
                self.reordered += 1
                self._hist |= 1 << age
                if ext < self._base:
                    self._base = ext  # older than our start: widen "expected" too
            return
        if ext in self._held:
            self.duplicates += 1
            return
        if delta == 0:
            self._accept_in_order(out, payload, marker, ts)
            self._drain(out)
        else:
            self.received += 1
            if ext < self._max_ext:
                self.reordered += 1
            if ext > self._max_ext:
                self._max_ext = ext
            self._held[ext] = (self._keep(payload), marker, ts, now)
            if now is not None and self._oldest_at is None:
                self._oldest_at = now
            if delta >= self._window:
                self._advance_to(ext - self._window + 1, out)
        if (
            self._held
            and now is not None
            and self._oldest_at is not None
            and now - self._oldest_at >= self._max_delay
        ):
            self._release_due(out, now)

    @staticmethod
    def _keep(payload: memoryview) -> memoryview:
        return payload if payload.readonly else memoryview(bytes(payload))

    def _accept_in_order(
        self, out: list[Delivered] | None, payload: memoryview, marker: bool, ts: int
    ) -> None:
        nxt = self._next
        self.received += 1
        if nxt < self._max_ext:
            self.reordered += 1
        else:
            self._max_ext = nxt
        self._next = nxt + 1
        self._hist = ((self._hist << 1) | 1) & self._hist_mask
        gap = self._pending_gap
        self._pending_gap = False
        self._emit(out, payload, marker, ts, gap)

    def _drain(self, out: list[Delivered] | None) -> None:
        held = self._held
        while held:
            item = held.pop(self._next, None)
            if item is None:
                break
            self._next += 1
            self._hist = ((self._hist << 1) | 1) & self._hist_mask
            gap = self._pending_gap
            self._pending_gap = False
            self._emit(out, item[0], item[1], item[2], gap)
        self._refresh_oldest()

    def _advance_to(self, target: int, out: list[Delivered] | None) -> None:
        """Give up on everything before ``target``: deliver what we hold, skip the rest."""
        held = self._held
        for ext in sorted(k for k in held if k < target):
            item = held.pop(ext)
            skipped = ext - self._next
            if skipped > 0:
                self._skip(skipped)
            self._next = ext + 1
            self._hist = ((self._hist << 1) | 1) & self._hist_mask
            gap = self._pending_gap
            self._pending_gap = False
            self._emit(out, item[0], item[1], item[2], gap)
        if target > self._next:
            self._skip(target - self._next)
            self._next = target
        self._drain(out)

    def _skip(self, count: int) -> None:
        self._hist = (self._hist << min(count, self._hist_bits)) & self._hist_mask
        self._pending_gap = True

    def _refresh_oldest(self) -> None:
        if not self._held:
            self._oldest_at = None
            return
        times = [t for (_, _, _, t) in self._held.values() if t is not None]
        self._oldest_at = min(times) if times else None

    def _release_due(self, out: list[Delivered] | None, now: float) -> None:
        limit = now - self._max_delay
        due = [k for k, v in self._held.items() if v[3] is not None and v[3] <= limit]
        if due:
            self._advance_to(max(due) + 1, out)
