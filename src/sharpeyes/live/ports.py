"""RTP port allocation from ``media.port_range``.

Round-robin rather than lowest-free: a port freed a moment ago may still receive
the tail of the old stream (a device that has not processed our BYE yet), and the
next session should not start by counting those packets as wrong-SSRC noise.
Ports are reserved here and bound by the caller; a port another process holds
is skipped by the caller retrying with the next one.
"""

from __future__ import annotations


class PortsExhausted(RuntimeError):
    """Every port of the range is in use."""


class PortPool:
    """Reserve/release ports of ``[low, high]``; O(1) amortised while there are free ports."""

    def __init__(self, low: int, high: int) -> None:
        if not 0 < low <= high < 65536:
            raise ValueError("bad port range")
        self.low = low
        self.high = high
        self._next = low
        self._used: set[int] = set()

    @property
    def size(self) -> int:
        return self.high - self.low + 1

    @property
    def in_use(self) -> int:
        return len(self._used)

    def reserve(self) -> int:
        if len(self._used) >= self.size:
            raise PortsExhausted(f"all {self.size} RTP ports are in use")
        port = self._next
        while port in self._used:
            port = port + 1 if port < self.high else self.low
        self._used.add(port)
        self._next = port + 1 if port < self.high else self.low
        return port

    def release(self, port: int) -> None:
        self._used.discard(port)
