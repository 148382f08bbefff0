"""The device watchdog's per-tick cost at city scale: the old full scan against the heap.

In-process, no database: N online devices, each sending a keepalive every 60 s
(round-robin, 1/60 of them a second; deadline = keepalive + 180 s), plus 0.1 % that
fall silent. Reports the time of one watchdog tick (``due(now)``: the old full scan
and the heap, checked to agree) and of one keepalive's bookkeeping.

    .venv/bin/python bench/deadlines.py --devices 20000 100000
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from sharpeyes.devices.registry import DeviceRegistry, LiveDevice


def full_scan(reg: DeviceRegistry, now: float) -> list[tuple[LiveDevice, str]]:
    """The watchdog before the heap: every device, every tick."""
    out = []
    for live in reg.devices.values():
        if not live.online:
            continue
        if live.register_expires_at is not None and live.register_expires_at <= now:
            out.append((live, "register_expired"))
        elif live.keepalive_deadline is not None and live.keepalive_deadline <= now:
            out.append((live, "keepalive_timeout"))
    return out


def run(n: int, ticks: int) -> dict[str, float]:
    rng = random.Random(1)
    reg = DeviceRegistry(None, None)  # type: ignore[arg-type]  # no I/O in due()
    now = 1_800_000_000.0
    for i in range(n):
        did = f"34020000001320{i:06d}"
        live = LiveDevice(id=did, admission="admitted", online=True)
        live.register_expires_at = now + 3600
        live.keepalive_deadline = now + 180 - (i % 60)
        reg.devices[did] = live
        reg.reschedule(live)
    ids = list(reg.devices)
    silent = set(rng.sample(ids, n // 1000))
    scan, heap, ka = [], [], []
    per = n // 60
    for tick in range(ticks):
        now += 1.0
        t0 = time.perf_counter()
        k = tick % 60
        for did in ids[k * per : (k + 1) * per]:  # this second's keepalives
            if did in silent:
                continue
            live = reg.devices[did]
            live.keepalive_deadline = deadline = now + 180
            at = reg.deadlines.scheduled_at(did)
            if at is None or deadline < at:
                reg.deadlines.schedule(did, deadline)
        ka.append((time.perf_counter() - t0) / max(1, per))
        t0 = time.perf_counter()
        a = full_scan(reg, now)
        scan.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        b = reg.due(now)
        heap.append(time.perf_counter() - t0)
        assert {d.id for d, _ in a} == {d.id for d, _ in b}
        for live, _ in b:  # the watchdog takes them offline
            live.online = False
    return {
        "devices": n,
        "went_offline": sum(1 for d in reg.devices.values() if not d.online),
        "scan_ms_p50": round(1000 * statistics.median(scan), 3),
        "scan_ms_max": round(1000 * max(scan), 3),
        "heap_ms_p50": round(1000 * statistics.median(heap), 3),
        "heap_ms_max": round(1000 * max(heap), 3),
        "keepalive_bookkeeping_us": round(1e6 * statistics.median(ka), 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--devices", type=int, nargs="+", default=[20000, 100000])
    ap.add_argument(
        "--ticks", type=int, default=240, help="seconds simulated (silent ones expire at ~180)"
    )
    args = ap.parse_args()
    for n in args.devices:
        print(run(n, args.ticks), flush=True)


if __name__ == "__main__":
    main()
