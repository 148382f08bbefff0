"""``sharpeyes`` command line: serve, media, demo, sim, db upgrade."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

from sharpeyes.config import Settings, load_settings
from sharpeyes.ops.logs import configure_logging


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Alembic logs its plugin setup at INFO on every start; only its warnings matter here.
    logging.getLogger("alembic").setLevel(max(logging.WARNING, logging.getLogger().level))


def _run(coro: object) -> None:
    try:
        import uvloop

        uvloop.run(coro)  # type: ignore[arg-type]
    except ImportError:
        asyncio.run(coro)  # type: ignore[arg-type]


async def _wait_for_signal() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()


async def _serve(settings: Settings) -> None:
    from sharpeyes.node import Node

    node = Node(settings)
    await node.start()
    print(
        f"sharpeyes node {settings.sip.id}: SIP {settings.sip.host}:{node.stack.port}, "
        f"HTTP http://{settings.http.host}:{node.http_port}/",
        flush=True,
    )
    try:
        await _wait_for_signal()
    finally:
        await node.stop()


async def _media(settings: Settings) -> None:
    """A media node: RTP receivers for the streams the control node places here."""
    from sharpeyes.nodes.bus import MediaNodeAgent

    agent = MediaNodeAgent(settings.media_node, settings.nats.url)
    try:
        await agent.start()
    except (OSError, TimeoutError) as e:
        raise SystemExit(f"sharpeyes media: cannot reach NATS at {settings.nats.url}: {e}") from e
    mn = settings.media_node
    print(
        f"sharpeyes media node {mn.id}: RTP {mn.advertised_host}:{mn.port_range[0]}-"
        f"{mn.port_range[1]}, NATS {settings.nats.url}",
        flush=True,
    )
    try:
        await _wait_for_signal()
    finally:
        await agent.stop()


def _bind_text(host: str) -> str:
    """How a bind address reads in the banner: 0.0.0.0 is every interface, not loopback."""
    if host in ("0.0.0.0", "::", ""):
        return f"{host or '0.0.0.0'} (all interfaces)"
    return host


def _demo_password(data_dir: Path) -> str:
    """One random admin password per demo data folder, kept beside the database."""
    path = data_dir / "admin-password.txt"
    if path.exists():
        return path.read_text().strip()
    password = secrets.token_urlsafe(9)
    data_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(password + "\n")
    path.chmod(0o600)
    return password


async def _demo(settings: Settings, data_dir: Path, keepalive: float) -> None:
    from sharpeyes.node import Node
    from sharpeyes.sim.county import build_county
    from sharpeyes.sim.fleet import SimFleet

    node = Node(settings)
    await node.start()
    sip = settings.sip
    configs = build_county(
        seed=1, platform_domain=sip.domain, password=sip.password, keepalive_interval=keepalive
    )
    fleet = SimFleet(server=("127.0.0.1", node.stack.port), server_id=sip.id, domain=sip.domain)
    for cfg in configs:
        fleet.add(cfg)
    from sharpeyes.sim.demo import (
        CITY_ID,
        expected_channels,
        provision_county,
        seed_demo,
        start_demo_city,
        wait_for_catalogs,
        wait_registered,
    )

    await provision_county(node, configs)
    await fleet.start()
    await fleet.register_all()
    fleet.start_keepalives()

    await wait_for_catalogs(node, expected_channels(configs))
    await seed_demo(node)
    city, link_id = await start_demo_city(node)
    link_state = await wait_registered(node, link_id)
    host = settings.http.host if settings.http.host not in ("0.0.0.0", "::") else "127.0.0.1"
    cameras = sum(len(c.channels) for c in configs)
    print(
        "\n".join(
            [
                "",
                "sharpeyes demo is running",
                f"  console:   http://{host}:{node.http_port}/",
                f"  API docs:  http://{host}:{node.http_port}/api/docs",
                f"  login:     admin / {settings.auth.admin_password}",
                f"  SIP:       {sip.id}@{sip.domain} on udp+tcp {_bind_text(sip.host)}:"
                f"{node.stack.port}",
                f"             device password {sip.password}",
                f"  simulated: {len(configs)} devices, {cameras} cameras (data in {data_dir}/)",
                f"  cascade:   {link_state} up to a simulated city {CITY_ID} on udp "
                f"127.0.0.1:{city.port} (every channel shared; /api/cascade/uppers)",
                "  stop with Ctrl-C",
                "",
            ]
        ),
        flush=True,
    )
    try:
        await _wait_for_signal()
    finally:
        await fleet.stop()
        await node.stop()
        await city.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="sharpeyes", description="GB/T 28181 video networking platform"
    )
    parser.add_argument("--log-level", default=os.environ.get("SHARPEYES_LOG_LEVEL", "info"))
    sub = parser.add_subparsers(dest="command", required=True)

    p_serve = sub.add_parser("serve", help="run a node (SIP + HTTP)")
    p_serve.add_argument("--config", type=Path, help="TOML settings file")
    p_serve.add_argument(
        "--media-workers",
        type=int,
        default=0,
        help="start N local media-node processes (media.mode = nodes; needs NATS)",
    )

    p_media = sub.add_parser("media", help="run a media node (RTP in, over NATS)")
    p_media.add_argument("--config", type=Path, help="TOML settings file ([media_node], [nats])")

    p_demo = sub.add_parser("demo", help="a node on SQLite in ./data plus a simulated county")
    p_demo.add_argument("--data", type=Path, default=Path("data"))
    p_demo.add_argument("--http-port", type=int, default=8080)
    p_demo.add_argument("--sip-port", type=int, default=5060)
    p_demo.add_argument(
        "--keepalive", type=float, default=30.0, help="simulated keepalive interval (s)"
    )

    sub.add_parser("sim", help="simulated GB28181 devices against any platform", add_help=False)

    p_db = sub.add_parser("db", help="database maintenance")
    db_sub = p_db.add_subparsers(dest="db_command", required=True)
    p_up = db_sub.add_parser("upgrade", help="apply Alembic migrations")
    p_up.add_argument("--config", type=Path)

    p_audit = sub.add_parser("audit", help="the tamper-evident audit trail")
    audit_sub = p_audit.add_subparsers(dest="audit_command", required=True)
    p_verify = audit_sub.add_parser(
        "verify", help="check the hash chain; exit 1 and name the first bad row if broken"
    )
    p_verify.add_argument("--config", type=Path)
    p_prune = audit_sub.add_parser("prune", help="archive rows past audit.retention_days")
    p_prune.add_argument("--config", type=Path)

    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["sim"]:
        from sharpeyes.sim.cli import run

        return run(argv[1:])
    args = parser.parse_args(argv)
    _setup_logging(args.log_level)

    if args.command == "serve":
        settings = load_settings(args.config)
        configure_logging(args.log_level, settings.ops.log_format)  # [ops] log_format
        workers: list[subprocess.Popen[bytes]] = []
        if args.media_workers > 0:
            from sharpeyes.nodes.workers import NatsMissing, spawn_workers

            settings = load_settings(args.config, media={"mode": "nodes"})
            try:
                workers = spawn_workers(settings, args.media_workers)
            except (NatsMissing, ValueError) as e:
                print(f"sharpeyes serve: {e}", file=sys.stderr)
                return 2
        try:
            _run(_serve(settings))
        finally:
            for w in workers:
                w.terminate()
            for w in workers:
                w.wait(10)
    elif args.command == "media":
        settings = load_settings(args.config)
        _run(_media(settings))
    elif args.command == "demo":
        data_dir = args.data.resolve()
        password = os.environ.get("SHARPEYES_AUTH__ADMIN_PASSWORD") or _demo_password(data_dir)
        settings = load_settings(
            None,
            db={"url": f"sqlite+aiosqlite:///{data_dir / 'sharpeyes.db'}"},
            http={"port": args.http_port},
            sip={"port": args.sip_port, "keepalive_interval": int(args.keepalive)},
            auth={"admin_password": password},
        )
        configure_logging(args.log_level, settings.ops.log_format)
        _run(_demo(settings, data_dir, args.keepalive))
    elif args.command == "db":
        from sharpeyes.store.db import Database

        settings = load_settings(args.config)

        async def upgrade() -> None:
            db = Database(settings.db.url)
            await db.upgrade()
            await db.dispose()

        asyncio.run(upgrade())
        print(f"database at {settings.db.url} is up to date")
    elif args.command == "audit":
        return _audit_command(args.audit_command, load_settings(args.config))
    return 0


def _audit_command(command: str, settings: Settings) -> int:
    from sharpeyes.audit.service import AuditService
    from sharpeyes.events import EventBus
    from sharpeyes.store.db import Database

    async def run() -> int:
        db = Database(settings.db.url)
        try:
            await db.upgrade()
            svc = AuditService(
                db,
                EventBus(),
                retention_days=settings.audit.retention_days,
                archive_dir=settings.audit.archive_dir,
            )
            if command == "prune":
                print(f"archived and removed {await svc.prune()} audit rows")
                return 0
            v = await svc.verify()
            if v.ok:
                print(f"audit chain ok: {v.rows} rows")
                return 0
            print(f"audit chain BROKEN at row {v.first_bad}: {v.reason}", file=sys.stderr)
            return 1
        finally:
            await db.dispose()

    return asyncio.run(run())


if __name__ == "__main__":
    raise SystemExit(main())
