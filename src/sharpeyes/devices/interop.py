"""Counters of third-party device habits the node tolerates (interoperability quirks).

Real GB/T 28181 devices get details wrong that WVP-class platforms cope with: a
``y=`` holding the device ID instead of an SSRC, a Content-Length counted in
characters. The node accepts them, logs a warning once per device and kind, and
counts them here per device, so an operator can see which devices need a firmware
update without the node refusing them meanwhile. In memory on purpose: the figures
describe this process's traffic, like the SIP statistics.
"""

from __future__ import annotations

import logging
from collections import Counter
from enum import StrEnum

log = logging.getLogger(__name__)

MAX_DEVICES = 100_000  # bounded: a flood of spoofed IDs must not grow memory forever


class Quirk(StrEnum):
    SDP_BAD_SSRC = "sdp_bad_ssrc"  # y= not a 32-bit decimal SSRC (e.g. a 20-digit ID)
    CONTENT_LENGTH_CHARS = "content_length_chars"  # Content-Length counted in characters


class InteropCounters:
    """Per-device and total counts of tolerated quirks."""

    def __init__(self) -> None:
        self.total: Counter[str] = Counter()
        self.by_device: dict[str, Counter[str]] = {}

    def count(self, device_id: str, quirk: Quirk, detail: str = "") -> None:
        """Record one occurrence; the first per device and kind is logged as a warning."""
        self.total[quirk.value] += 1
        per = self.by_device.get(device_id)
        if per is None:
            if len(self.by_device) >= MAX_DEVICES:
                self.by_device.clear()
            per = self.by_device[device_id] = Counter()
        if not per[quirk.value]:
            log.warning("device %s: tolerating %s %s", device_id, quirk.value, detail)
        per[quirk.value] += 1

    def for_device(self, device_id: str) -> dict[str, int]:
        """Every quirk kind with its count for one device (zeros included)."""
        per = self.by_device.get(device_id, Counter())
        return {q.value: per[q.value] for q in Quirk}

    def snapshot(self) -> dict[str, object]:
        return {
            **{q.value: self.total[q.value] for q in Quirk},
            "devices": {d: dict(c) for d, c in sorted(self.by_device.items())[:1000]},
        }
