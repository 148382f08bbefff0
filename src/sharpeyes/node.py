"""A sharpeyes node: SIP signalling, device services and the HTTP API in one process.

Data flows one way: transport → transactions → a handler here → a device
service that stores the change → an event on the bus → API/WebSocket subscribers.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import Any

from sharpeyes.audit.service import AuditService
from sharpeyes.cascade.service import CascadeService
from sharpeyes.cascade.upper_sip import UpperSip
from sharpeyes.config import Settings
from sharpeyes.devices.alarms import AlarmService
from sharpeyes.devices.interop import InteropCounters
from sharpeyes.devices.invite import MediaInviter
from sharpeyes.devices.messaging import DeviceMessaging
from sharpeyes.devices.registrar import Registrar, RegistrarPolicy
from sharpeyes.devices.registry import DeviceRegistry
from sharpeyes.devices.service import DeviceService
from sharpeyes.devices.sip_routes import register_device_routes
from sharpeyes.events import EventBus
from sharpeyes.gb28181.message import SipRequest, SipResponse, response_for
from sharpeyes.health.service import HealthService
from sharpeyes.jobs import JobRunner
from sharpeyes.ledger.service import LedgerService
from sharpeyes.lifecycle import Component, Lifecycle, Step
from sharpeyes.live.service import LiveService
from sharpeyes.messages.service import MessageService
from sharpeyes.messages.talk import TalkService
from sharpeyes.nodes.plane import media_plane_for
from sharpeyes.ops.management import MetricsListener
from sharpeyes.ops.metrics import NodeMetrics
from sharpeyes.proxies.service import ProxyService
from sharpeyes.recording.service import RecordingService
from sharpeyes.sharing.apps import AppService
from sharpeyes.sharing.enforce import end_streams_of_grant
from sharpeyes.sharing.models import ShareGrant
from sharpeyes.sharing.node_secret import get_or_create_secret
from sharpeyes.sharing.requests import ShareService
from sharpeyes.sharing.secretbox import SecretBox
from sharpeyes.sharing.users import UserService
from sharpeyes.sip.dialog import DialogLayer
from sharpeyes.sip.router import DEVICE_SIDE, SipRouter
from sharpeyes.sip.stack import SipStack
from sharpeyes.sip.transport import Peer
from sharpeyes.store.db import Database

log = logging.getLogger(__name__)


class Node:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.started_at = time.time()
        self.bus = EventBus()
        self.db = Database(
            settings.db.url,
            pool_size=settings.db.pool_size,
            max_overflow=settings.db.max_overflow,
            pool_timeout_s=settings.db.pool_timeout_s,
        )
        sip = settings.sip
        self.registry = DeviceRegistry(
            self.db,
            self.bus,
            keepalive_interval=sip.keepalive_interval,
            keepalive_timeout_count=sip.keepalive_timeout_count,
        )
        self.stack = SipStack(
            host=sip.host,
            port=sip.port,
            handler=self._observed_request,
            advertised_host=sip.advertised_host
            or (sip.host if sip.host != "0.0.0.0" else "127.0.0.1"),
            user_agent=sip.user_agent,
            t1=sip.t1,
        )
        self.alarms = AlarmService(self.db, self.bus, sip.timezone)
        self.interop = InteropCounters()  # third-party device habits tolerated, per device
        self.messaging = DeviceMessaging(
            self.stack,
            self.registry,
            self.alarms,
            server_id=sip.id,
            domain=sip.domain,
            catalog_timeout=sip.catalog_timeout_s,
            query_timeout=sip.query_timeout_s,
            interop=self.interop,
        )
        self.devices = DeviceService(self.db, self.registry, self.messaging, self.bus)
        self.messages = MessageService(self.db, self.bus, self.devices, self.messaging)
        self.dialogs = DialogLayer(self.stack)
        self.inviter = MediaInviter(
            self.dialogs,
            self.registry,
            server_id=sip.id,
            domain=sip.domain,
            timeout=settings.media.invite_timeout_s,
        )
        self.live = LiveService(
            settings.media,
            server_id=sip.id,
            domain=sip.domain,
            signalling_host=self.stack.advertised_host,
            inviter=self.inviter,
            registry=self.registry,
            devices=self.devices,
            bus=self.bus,
            loop_lag_ms=self.recent_loop_lag_ms,
            interop=self.interop,
        )
        self.talk = TalkService(
            self.dialogs,
            self.registry,
            self.devices,
            self.bus,
            server_id=sip.id,
            domain=sip.domain,
            bind_host=self.live.bind_host,
            advertised_host=self.live.advertised_host,
            secret=lambda: self.live.secret,
            token_ttl_s=settings.media.token_ttl_s,
            invite_timeout=settings.media.invite_timeout_s,
        )
        self.messages.media_status_listeners.append(self.live.history.on_media_status)
        self.recording = RecordingService(
            settings.recording,
            db=self.db,
            bus=self.bus,
            live=self.live,
            messaging=self.messaging,
            devices=self.devices,
            timezone=sip.timezone,
        )
        self.users = UserService(
            self.db,
            max_failures=settings.auth.login_max_failures,
            lockout_s=settings.auth.login_lockout_s,
        )
        self.audit = AuditService(
            self.db,
            self.bus,
            retention_days=settings.audit.retention_days,
            archive_dir=settings.audit.archive_dir,
        )
        self.sharing = ShareService(self.db, self.bus)
        self.sharing.on_grant_ended = self._grant_ended
        self.apps = AppService(self.db, self.bus)
        self.revoked_tokens: dict[str, float] = {}  # jti → exp of logged-out sessions
        self.jobs = JobRunner(self.db, self.bus)
        self.ledger = LedgerService(self.db, self.bus, settings.ledger, self.jobs)
        self.proxies = ProxyService(
            self.db,
            self.bus,
            settings.proxies,
            devices=self.devices,
            live=self.live,
            ledger=self.ledger,
            domain=sip.domain,
        )
        self.cascade = CascadeService(
            self.db, self.bus, self.stack, node_id=sip.id, node_domain=sip.domain
        )
        self.upper_sip = UpperSip(
            self.cascade,
            self.stack,
            self.bus,
            self.live,
            self.messaging,
            media_host=settings.media.host,
            advertised_host=self.live.advertised_host,
            domain=sip.domain,
            node_name=f"sharpeyes {sip.id}",
        )
        self.health = HealthService(
            self.db,
            self.bus,
            settings.health,
            devices=self.devices,
            live=self.live,
            ledger=self.ledger,
            jobs=self.jobs,
            recording=self.recording,  # 录像完好率 from the recording domain's per-day figure
            ptz=self.messages.ptz,  # the PTZ-unresponsive probe
        )
        self.registrar = Registrar(
            self.registry,
            RegistrarPolicy(
                realm=sip.digest_realm,
                password=sip.password,
                admission=sip.admission,
                expires_min=min(sip.register_expires_min, 3600),
                nonce_max_age=sip.nonce_max_age,
                timezone=sip.timezone,
                max_failures=sip.auth_max_failures,
                ip_max_failures=sip.auth_ip_max_failures,
                lockout_s=sip.auth_lockout_s,
                sha256=sip.digest_sha256,
            ),
            b"",  # the nonce secret is read from the database when the node starts
            on_registered=self.messaging.after_register,
        )
        self.jwt_secret = b""
        self._http: object | None = None
        self._http_task: asyncio.Task[None] | None = None
        self.http_port: int | None = None
        self._serve_http = True
        self.loop_lag: deque[float] = deque(maxlen=1200)  # the last minute at 50 ms
        self._lag_task: asyncio.Task[None] | None = None
        self.metrics = NodeMetrics(self)
        ops = settings.ops
        self.metrics_listener = (
            MetricsListener(self.metrics, ops.metrics_host, ops.metrics_port)
            if ops.metrics_port is not None
            else None
        )
        self.router = self._sip_routes()
        self.media_plane = media_plane_for(settings, self.bus)  # None: embedded media
        self.lifecycle = Lifecycle(self._components())

    def _components(self) -> list[Component]:
        """Start order = dependency order; the Lifecycle stops them in reverse.

        Kept from the hand-written start/stop: health subscribes before the registry
        loads (and publishes); every stream is ended (BYE while the SIP stack runs, so
        viewers' WebSockets close) before the HTTP server stops; the cascade's forwards
        are BYEd before its links unregister.
        """
        metrics = self.metrics_listener
        plane = self.media_plane
        return [
            Step("db", self.db.upgrade, self.db.dispose),
            Step("secrets", self._load_secrets),
            Step("audit", self.audit.start, self.audit.stop),
            Step("admin", self._ensure_admin),
            Step("jobs", self.jobs.start, self.jobs.stop),
            Step("sharing", self.sharing.start, self.sharing.stop),
            Step("apps", self.apps.start, self.apps.stop),
            Step("ledger", self.ledger.start, self.ledger.stop),
            Step("health", self.health.start, self.health.stop),
            Step("registry", self._start_registry, self.registry.stop, self._registry_stats),
            Step("registrar", counters=lambda: self.registrar.stats),
            Step("sip", self.stack.start, self.stack.stop, self._sip_stats),
            Step("messaging", self.messaging.start, self.messaging.stop, self._messaging_stats),
            Step("messages", self.messages.start, self.messages.stop, lambda: self.messages.stats),
            Step("loop_lag", self._start_lag, self._stop_lag, self.loop_lag_ms),
            Step("http", self._start_http_if_wanted, self._stop_http),
            Step("metrics", metrics.start if metrics else None, metrics.stop if metrics else None),
            Step(
                "media_plane",
                plane.start if plane else None,
                plane.stop if plane else None,
            ),
            Step("streams", self._start_streams, self._stop_streams, lambda: self.live.stats),
            Step("cascade", self.cascade.start, self.cascade.stop),
            Step("upper_sip", self.upper_sip.start, self.upper_sip.stop),
        ]

    # ---------------------------------------------------------- lifecycle
    async def start(self, *, http: bool = True) -> None:
        self._serve_http = http
        await self.lifecycle.start()
        sip = self.settings.sip
        log.info(
            "node %s up: SIP %s:%d (udp+tcp), HTTP %s",
            sip.id,
            sip.host,
            self.stack.port,
            f"{self.settings.http.host}:{self.http_port}" if http else "off",
        )

    async def stop(self) -> None:
        """Stops what started, in reverse; a no-op for a node that never started."""
        await self.lifecycle.stop()

    async def _load_secrets(self) -> None:
        self.registrar.secret = await get_or_create_secret(self.db, "sip_nonce")
        self.jwt_secret = await get_or_create_secret(self.db, "jwt")
        box = SecretBox(await get_or_create_secret(self.db, "secretbox"))
        self.users.secretbox = box
        self.apps.secretbox = box
        # Loaded here, not when streams start: nothing may sign a stream token with b"".
        self.live.secret = await get_or_create_secret(self.db, "stream")

    async def _ensure_admin(self) -> None:
        if self.settings.auth.admin_password:
            await self.users.ensure_admin(self.settings.auth.admin_password)

    async def _start_registry(self) -> None:
        await self.registry.load()
        self.registry.start()

    def _registry_stats(self) -> dict[str, Any]:
        return {"devices_in_memory": len(self.registry.devices)}

    def _sip_stats(self) -> dict[str, Any]:
        return {**self.stack.transport.stats, **self.stack.stats}

    def _messaging_stats(self) -> dict[str, Any]:
        return dict(self.messaging.stats)

    async def _start_streams(self) -> None:
        self.live.start(self.live.secret)
        await self.proxies.start()
        await self.recording.start()

    async def _stop_streams(self) -> None:
        await self.live.stop()  # BYE every stream while the SIP stack still runs
        await self.proxies.stop()  # after live: its sessions' pulls were told to stop
        await self.talk.close()
        await self.recording.stop()

    def _start_lag(self) -> None:
        self._lag_task = asyncio.create_task(self._watch_loop_lag())

    def _stop_lag(self) -> None:
        if self._lag_task is not None:
            self._lag_task.cancel()

    async def _start_http_if_wanted(self) -> None:
        if self._serve_http:
            await self._start_http()

    async def _stop_http(self) -> None:
        if self._http is not None:
            self._http.should_exit = True  # type: ignore[attr-defined]
            if self._http_task is not None:
                await asyncio.wait([self._http_task], timeout=5)

    async def _start_http(self) -> None:
        import uvicorn

        from sharpeyes.api.app import create_app

        http = self.settings.http
        if bool(http.tls_cert) != bool(http.tls_key):
            raise ValueError("http.tls_cert and http.tls_key must be given together")
        config = uvicorn.Config(
            create_app(self),
            host=http.host,
            port=http.port,
            ssl_certfile=http.tls_cert,
            ssl_keyfile=http.tls_key,
            log_level="warning",
            lifespan="off",
            ws="websockets-sansio" if _has_ws_sansio() else "auto",
            # Video does not compress: permessage-deflate on fMP4 cost ~40 % of a core
            # at 20 streams for nothing; events JSON is small enough without it.
            ws_per_message_deflate=False,
        )
        server = uvicorn.Server(config)
        server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        self._http = server
        self._http_task = asyncio.create_task(server.serve())
        while not server.started:
            if self._http_task.done():
                self._http_task.result()
            await asyncio.sleep(0.01)
        sock = server.servers[0].sockets[0]
        self.http_port = sock.getsockname()[1]

    async def _watch_loop_lag(self, period: float = 0.05) -> None:
        """How late the event loop wakes up: the stall every SIP request shares."""
        loop = asyncio.get_running_loop()
        while True:
            t0 = loop.time()
            await asyncio.sleep(period)
            self.loop_lag.append(loop.time() - t0 - period)

    def loop_lag_ms(self) -> dict[str, float]:
        data = sorted(self.loop_lag)
        if not data:
            return {"p50_ms": 0.0, "p99_ms": 0.0, "max_ms": 0.0}
        n = len(data)
        return {
            "p50_ms": round(data[n // 2] * 1000, 2),
            "p99_ms": round(data[min(n - 1, int(n * 0.99))] * 1000, 2),
            "max_ms": round(data[-1] * 1000, 2),
        }

    def recent_loop_lag_ms(self) -> float:
        """Median event-loop lag over the last second: sustained overload, not one GC pause."""
        recent = sorted(list(self.loop_lag)[-20:])
        return recent[len(recent) // 2] * 1000 if recent else 0.0

    async def _grant_ended(self, grant: ShareGrant, reason: str) -> None:
        """A grant expired or was revoked: end the live viewers it was carrying."""
        now = time.time()
        for jti in [j for j, exp in self.revoked_tokens.items() if exp < now]:
            del self.revoked_tokens[jti]
        await end_streams_of_grant(self.live, self.users, grant, reason)

    # ------------------------------------------------------------ SIP in
    async def _observed_request(self, req: SipRequest, peer: Peer) -> SipResponse | None:
        """``on_request`` counted by method and answered status (Prometheus)."""
        started = time.perf_counter()
        resp = await self.on_request(req, peer)
        self.metrics.observe_request(req.method, req.body, resp.status if resp else None, started)
        return resp

    async def on_request(self, req: SipRequest, peer: Peer) -> SipResponse | None:
        return await self.router.dispatch(req, peer)

    def _sip_routes(self) -> SipRouter:
        """Who answers which request: each domain adds its own handlers, in this order."""
        router = SipRouter()
        self.upper_sip.sip_routes(router)  # requests from uppers we register to: cascade
        self.dialogs.sip_routes(router)  # in-dialog, before out-of-dialog MESSAGE
        register_device_routes(router, self.registrar, self.messaging)
        self.talk.sip_routes(router)  # a device's INVITE answering our broadcast
        router.add(
            "OPTIONS",
            DEVICE_SIDE,
            lambda req, _peer: response_for(req, 200, headers=[("Allow", router.allow())]),
        )
        router.refuse("INVITE", 488, "Not Acceptable Here")  # devices do not call us
        router.refuse("SUBSCRIBE", 489, "Bad Event")  # no event package for devices yet
        return router


def _has_ws_sansio() -> bool:
    try:
        import uvicorn.protocols.websockets.websockets_sansio_impl  # noqa: F401
    except ImportError:
        return False
    return True
