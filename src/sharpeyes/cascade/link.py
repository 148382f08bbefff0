"""Thin asyncio binding of the sans-IO registration client for one upper link.

It only transmits what :class:`RegistrationClient` asks for (REGISTER, keepalive
MESSAGE), feeds the answers back, and sleeps until ``get_timer()``. State changes
are published on the bus as ``cascade.upper.state``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from sharpeyes.events import EventBus
from sharpeyes.gb28181 import manscdp
from sharpeyes.sip.registration import (
    Action,
    ActionKind,
    RegistrationClient,
    RegistrationConfig,
    RegState,
)
from sharpeyes.sip.stack import SipStack, SipTimeout, new_call_id, new_tag
from sharpeyes.sip.transport import Peer

log = logging.getLogger(__name__)

MANSCDP_TYPE = "Application/MANSCDP+xml"


@dataclass
class LinkConfig:
    upper_id: int
    name: str
    server_id: str
    domain: str
    host: str
    port: int
    transport: str
    password: str
    local_id: str
    realm: str
    register_expires: int
    keepalive_interval: float
    keepalive_timeout_count: int
    charset: str
    catalog_group_size: int


class UpperLink:
    """One upper platform: registration state, its SIP peer, and our identity toward it."""

    def __init__(
        self,
        cfg: LinkConfig,
        stack: SipStack,
        bus: EventBus,
        *,
        local_domain: str,
        on_registered: Callable[[UpperLink], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.cfg = cfg
        self.stack = stack
        self.bus = bus
        self.local_domain = local_domain
        self.on_registered = on_registered
        self.clock = clock
        self.peer = Peer(cfg.transport, cfg.host, cfg.port)
        self.client = RegistrationClient(
            RegistrationConfig(
                username=cfg.local_id,
                password=cfg.password,
                register_uri=self.server_uri,
                realm=cfg.realm,
                expires=cfg.register_expires,
                keepalive_interval=cfg.keepalive_interval,
                keepalive_timeout_count=cfg.keepalive_timeout_count,
            )
        )
        self._call_id = new_call_id(stack.advertised_host)
        self._tag = new_tag()
        self._sn = itertools.count(1)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._sends: set[asyncio.Task[None]] = set()
        self.registered_wall: float | None = None
        self.keepalive_ok_wall: float | None = None

    # ---------------------------------------------------------------- ids
    @property
    def server_uri(self) -> str:
        return f"sip:{self.cfg.server_id}@{self.cfg.domain}"

    @property
    def local_uri(self) -> str:
        return f"sip:{self.cfg.local_id}@{self.local_domain}"

    @property
    def contact(self) -> str:
        return f"sip:{self.cfg.local_id}@{self.stack.advertised_host}:{self.stack.port}"

    @property
    def state(self) -> RegState:
        return self.client.state

    def next_sn(self) -> int:
        return next(self._sn)

    # ----------------------------------------------------------- lifecycle
    def start(self) -> None:
        if self._task is not None:
            return
        self.client.start(self.clock())
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self, *, unregister: bool = True, timeout: float = 2.0) -> None:
        task, self._task = self._task, None
        self._stopping = True
        if task is not None:
            task.cancel()
            self._wake.set()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(task, 3.0)
        queued = self.client.stop(self.clock())
        # Unregister: the REGISTER Expires 0 is challenged too, so answer up to twice.
        for _ in range(3):
            actions = [a for a in self._drain() if a.kind == ActionKind.REGISTER]
            if not (queued and unregister and actions):
                break
            for a in actions:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self._register(a), timeout)
        for t in list(self._sends):
            t.cancel()

    def _drain(self) -> list[Action]:
        out: list[Action] = []
        while (a := self.client.next_action()) is not None:
            if a.kind == ActionKind.STATE:
                self._publish(a)
            else:
                out.append(a)
        return out

    async def _run(self) -> None:
        while not self._stopping:  # a flag too: 3.11's wait_for can swallow a cancel
            for a in self._drain():
                self._spawn(a)
            timer = self.client.get_timer()
            delay = None if timer is None else max(0.0, timer - self.clock())
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)
            self.client.handle_timer(self.clock())

    def _spawn(self, a: Action) -> None:
        coro = self._register(a) if a.kind == ActionKind.REGISTER else self._keepalive()
        task = asyncio.get_running_loop().create_task(coro)
        self._sends.add(task)
        task.add_done_callback(self._sends.discard)

    # -------------------------------------------------------------- sends
    async def _register(self, a: Action) -> None:
        headers = [("Expires", str(a.expires))]
        if a.authorization is not None:
            headers.append(a.authorization)
        req = self.stack.build_request(
            "REGISTER",
            self.server_uri,
            from_uri=self.local_uri,
            to_uri=self.local_uri,
            from_tag=self._tag,
            call_id=self._call_id,
            contact=self.contact,
            headers=headers,
        )
        try:
            resp = await self.stack.request(req, self.peer)
        except SipTimeout:
            self.client.on_register_timeout(self.clock())
        except Exception as exc:  # unreachable host and the like: a failure, not a crash
            log.info("upper %s: REGISTER failed: %s", self.cfg.name, exc)
            self.client.on_register_timeout(self.clock())
        else:
            was = self.client.state
            self.client.on_register_response(self.clock(), resp.status, resp.headers)  # type: ignore[arg-type]
            if self.client.state == RegState.REGISTERED and was != RegState.REGISTERED:
                self.registered_wall = time.time()
                if self.on_registered is not None:
                    self.on_registered(self)
        self._wake.set()

    async def _keepalive(self) -> None:
        body = manscdp.keepalive(self.next_sn(), self.cfg.local_id, charset=self.cfg.charset)
        status: int | None
        try:
            resp = await self.stack.request(self.message(body), self.peer)
            status = resp.status
        except SipTimeout:
            status = None
        except Exception as exc:
            log.info("upper %s: keepalive failed: %s", self.cfg.name, exc)
            status = None
        self.client.on_keepalive_result(self.clock(), status)
        if status is not None and 200 <= status < 300:
            self.keepalive_ok_wall = time.time()
        self._wake.set()

    def message(self, body: bytes) -> object:
        """A MESSAGE from us to the upper (responses, notifies, keepalives)."""
        return self.stack.build_request(
            "MESSAGE",
            self.server_uri,
            from_uri=self.local_uri,
            to_uri=self.server_uri,
            body=body,
            content_type=MANSCDP_TYPE,
        )

    async def send_message(self, body: bytes, *, timeout: float | None = None) -> int:
        """Send one MESSAGE; its final status (408 on timeout)."""
        try:
            resp = await self.stack.request(self.message(body), self.peer, timeout=timeout)  # type: ignore[arg-type]
        except SipTimeout:
            return 408
        except OSError:
            return 503
        return resp.status

    def _publish(self, a: Action) -> None:
        state = a.state.value if a.state is not None else None
        log.info("upper %s (%s): %s %s", self.cfg.name, self.cfg.server_id, state, a.error or "")
        self.bus.publish(
            "cascade.upper.state",
            upper_id=self.cfg.upper_id,
            server_id=self.cfg.server_id,
            state=state,
            error=a.error,
        )

    def status(self) -> dict[str, object]:
        return {
            "state": self.client.state.value,
            "last_error": self.client.last_error,
            "registered_at": self.registered_wall
            if self.client.state == RegState.REGISTERED
            else None,
            "last_keepalive_ok_at": self.keepalive_ok_wall,
        }


__all__ = ["LinkConfig", "UpperLink"]
