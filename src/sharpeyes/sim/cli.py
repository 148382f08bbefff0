"""``sharpeyes sim``: a fleet of simulated devices against any GB/T 28181 platform.

Example: 10,000 IPCs and NVRs against a platform on 192.0.2.10::

    sharpeyes sim --server 192.0.2.10:5060 --server-id 34020000002000000001 \\
        --domain 3402000000 --password 12345678 --devices 10000 --nvr-ratio 0.1 \\
        --channels 16 --keepalive-interval 60 --duration 600
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import logging
import signal
import socket
import sys
import time
from collections.abc import Sequence

from sharpeyes.gb28181.deviceid import make_device_id
from sharpeyes.sim.county import build_county
from sharpeyes.sim.device import QUIRKS, SimChannel, SimDeviceConfig
from sharpeyes.sim.fleet import SimFleet
from sharpeyes.sim.media import parse_video_fault

SEAT = (116.278, 32.353)


def _hostport(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host.strip("[]"), int(port)


def _ratio(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError("must be within 0..1")
    return value


def _video_faults(text: str) -> list[str]:
    try:
        return [parse_video_fault(f) for f in text.split(",") if f.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def apply_video_faults(
    configs: Sequence[SimDeviceConfig], faults: Sequence[str], clock_drift_s: float = 300.0
) -> None:
    """The i-th fault goes to the first channel of the i-th device (others stay healthy)."""
    if len(faults) > len(configs):
        raise ValueError(f"{len(faults)} video faults but only {len(configs)} devices")
    for cfg, fault in zip(configs, faults, strict=False):
        if cfg.channels:
            cfg.video_faults[cfg.channels[0].channel_id] = parse_video_fault(fault)
            if fault == "clock_drift":
                cfg.clock_drift_s = clock_drift_s


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="sharpeyes sim", description="Simulated GB/T 28181 IPCs and NVRs (load, demo, test)"
    )
    p.add_argument("--server", type=_hostport, required=True, help="platform SIP HOST:PORT")
    p.add_argument("--server-id", required=True, help="platform SIP server ID (20 digits)")
    p.add_argument("--domain", help="SIP domain / realm (default: first 10 digits of the ID)")
    p.add_argument("--password", default="12345678", help="device password (default 12345678)")
    p.add_argument("--devices", type=int, default=None, help="number of devices (default 10)")
    p.add_argument(
        "--channels",
        type=int,
        default=None,
        help="channels of every device, IPCs included (default: IPC 1, NVR 8)",
    )
    p.add_argument("--nvr-ratio", type=_ratio, default=0.0, help="share of NVRs, 0..1")
    p.add_argument("--transport", choices=("udp", "tcp"), default="udp")
    p.add_argument("--keepalive-interval", type=float, default=60.0, metavar="S")
    p.add_argument("--expires", type=int, default=3600, metavar="S", help="REGISTER Expires")
    p.add_argument("--duration", type=float, default=0.0, metavar="S", help="0 = until Ctrl-C")
    p.add_argument("--county", action="store_true", help="the simulated 霍邱县 instead")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--center", help="8-digit centre code of generated IDs (default from domain)")
    p.add_argument("--local-host", help="local address to bind and advertise (default: auto)")
    p.add_argument("--local-port", type=int, default=0)
    p.add_argument("--concurrency", type=int, default=200, help="registrations in flight")
    p.add_argument("--status-interval", type=float, default=5.0, metavar="S")
    p.add_argument(
        "--video-faults",
        type=_video_faults,
        default=[],
        metavar="F1,F2,…",
        help="first channel of device 1 gets F1, of device 2 F2, …; the rest stay healthy "
        "(black, bright, low_contrast, frozen, blur, color_cast, noise, occlusion, "
        "scene_moved, no_video, clock_drift, ptz_ignored)",
    )
    p.add_argument(
        "--clock-drift",
        type=float,
        default=300.0,
        metavar="S",
        help="DeviceTime offset of clock_drift devices (default 300 s)",
    )
    p.add_argument("--log-level", default="warning")
    p.add_argument(
        "--quirk",
        action="append",
        default=[],
        choices=sorted(QUIRKS),
        help="a third-party device habit every device shows (repeatable)",
    )
    return p


def generated_configs(
    *,
    count: int,
    center: str,
    password: str,
    channels: int,
    nvr_ratio: float,
    keepalive_interval: float,
    expires: int,
    ipc_channels: int = 1,
    quirks: frozenset[str] = frozenset(),
) -> list[SimDeviceConfig]:
    """Plain numbered devices: IPCs (132) with ``ipc_channels``, NVRs (118) with ``channels``.

    NVRs are spread evenly through the list; channel IDs (131) count up, moving to
    the next network digit every million so very large fleets stay unique.
    """
    configs: list[SimDeviceConfig] = []
    nvr_every = 1 / nvr_ratio if nvr_ratio > 0 else 0.0
    next_nvr = 0.0
    channel_no = 0
    for i in range(count):
        is_nvr = nvr_every > 0 and i >= next_nvr
        if is_nvr:
            next_nvr += nvr_every
        type_code = 118 if is_nvr else 132
        device_id = make_device_id(center, 0, type_code, i // 1_000_000, i % 1_000_000 + 1)
        chans = []
        for k in range(channels if is_nvr else ipc_channels):
            channel_no += 1
            net, serial = divmod(channel_no, 1_000_000)
            chans.append(
                SimChannel(
                    channel_id=make_device_id(center, 0, 131, net, serial),
                    name=f"模拟通道{i + 1}-{k + 1}",
                    civil_code=center,
                    longitude=round(SEAT[0] + (i % 100) * 0.0013 + 0.000001, 6),
                    latitude=round(SEAT[1] + (i // 100 % 100) * 0.0011 + 0.000003, 6),
                    ptz_type=1 if k % 4 == 0 else 3,
                    parent_id=device_id,
                )
            )
        configs.append(
            SimDeviceConfig(
                device_id=device_id,
                password=password,
                kind="nvr" if is_nvr else "ipc",
                channels=chans,
                name=f"模拟{'NVR' if is_nvr else 'IPC'}{i + 1}",
                keepalive_interval=keepalive_interval,
                register_expires=expires,
                faults=set(quirks),
            )
        )
    return configs


def _local_address(server_host: str) -> str:
    """The address the kernel would use to reach the server (what we advertise)."""
    try:
        if ipaddress.ip_address(server_host).is_loopback:
            return "127.0.0.1"
    except ValueError:
        pass
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect((server_host, 9))
            return str(s.getsockname()[0])
        except OSError:
            return "127.0.0.1"


async def _wait_stop(duration: float) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await asyncio.wait_for(stop.wait(), timeout=duration if duration > 0 else None)
    except TimeoutError:
        pass
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)


async def _status_loop(fleet: SimFleet, interval: float, started: float) -> None:
    while True:
        await asyncio.sleep(interval)
        _print_status(fleet, started)


def _print_status(fleet: SimFleet, started: float) -> None:
    elapsed = time.monotonic() - started
    line = fleet.stats.summary(fleet.registered_count, len(fleet))
    print(f"[{elapsed:6.0f}s] {line}", flush=True)


async def _main(args: argparse.Namespace) -> int:
    host, port = args.server
    domain = args.domain or args.server_id[:10]
    if args.county:
        if args.channels is not None or args.devices is not None or args.nvr_ratio:
            print(
                "--county defines its own devices and channels: "
                "drop --devices/--channels/--nvr-ratio",
                file=sys.stderr,
            )
            return 2
        configs = build_county(
            args.seed,
            platform_domain=domain,
            password=args.password,
            keepalive_interval=args.keepalive_interval,
            register_expires=args.expires,
        )
    else:
        center = args.center or (domain[:8] if domain[:8].isdigit() and len(domain) >= 8 else "")
        if len(center) != 8 or not center.isdigit():
            print("need --center: the domain does not start with an 8-digit code", file=sys.stderr)
            return 2
        configs = generated_configs(
            count=args.devices if args.devices is not None else 10,
            center=center,
            password=args.password,
            channels=args.channels if args.channels is not None else 8,
            ipc_channels=args.channels if args.channels is not None else 1,
            nvr_ratio=args.nvr_ratio,
            keepalive_interval=args.keepalive_interval,
            expires=args.expires,
            quirks=frozenset(args.quirk),
        )
    if args.county and args.quirk:
        for cfg in configs:
            cfg.faults |= set(args.quirk)
    try:
        apply_video_faults(configs, args.video_faults, args.clock_drift)
    except ValueError as exc:
        print(f"sim: {exc}", file=sys.stderr)
        return 2
    local = args.local_host or _local_address(host)
    fleet = SimFleet(
        server=(host, port),
        server_id=args.server_id,
        domain=domain,
        transport=args.transport,
        local_host=local,
        local_port=args.local_port,
        seed=args.seed,
    )
    for cfg in configs:
        fleet.add(cfg)
    cameras = sum(len(c.channels) for c in configs)
    await fleet.start()
    print(
        f"sim: {len(configs)} devices, {cameras} channels, {args.transport} "
        f"{local}:{fleet.port} -> {host}:{port} ({args.server_id}@{domain})",
        flush=True,
    )
    started = time.monotonic()
    status = asyncio.create_task(_status_loop(fleet, args.status_interval, started))
    stopper = asyncio.create_task(_wait_stop(args.duration))
    try:
        register = asyncio.create_task(fleet.register_all(concurrency=args.concurrency))
        await asyncio.wait({register, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if register.done():
            results = register.result()
            print(f"sim: registration results {dict(sorted(results.items()))}", flush=True)
            fleet.start_keepalives()
            await stopper
        else:
            register.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await register
    finally:
        status.cancel()
        stopper.cancel()
        print("sim: stopping (unregistering)", flush=True)
        await fleet.stop()
        _print_status(fleet, started)
    return 0 if fleet.stats.registrations_ok or not configs else 1


def run(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``sharpeyes sim`` and ``python -m sharpeyes.sim``."""
    if argv is not None and list(argv)[:1] == ["upper"]:
        from sharpeyes.sim.upper import run_cli

        return run_cli(list(argv)[1:])
    args = _parser().parse_args(list(argv) if argv is not None else None)
    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper(), logging.WARNING),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if (args.devices or 0) < 0 or (args.channels is not None and not 1 <= args.channels <= 10_000):
        print("--devices must be >= 0 and --channels within 1..10000", file=sys.stderr)
        return 2
    runner = asyncio.Runner()
    # uvloop for UDP only: sip/transport.py's _TcpConn asserts an asyncio.Transport,
    # which uvloop's TCPTransport is not, so every TCP connection fails under uvloop.
    if args.transport == "udp":
        with contextlib.suppress(ImportError):
            import uvloop

            runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    try:
        with runner:
            return runner.run(_main(args))
    except KeyboardInterrupt:
        return 130
