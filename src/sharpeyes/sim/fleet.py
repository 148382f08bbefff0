"""Many simulated devices behind one SIP stack: one UDP socket or one TCP connection.

Sharing the stack is what lets 10,000+ devices run in one process against a
platform (ours or anyone's): requests from the platform are routed to a device by
the Request-URI user part (a device or channel ID), falling back to the To user.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
from collections import Counter
from typing import Literal

from sharpeyes.gb28181.message import (
    SipParseError,
    SipRequest,
    SipResponse,
    parse_name_addr,
    response_for,
)
from sharpeyes.gb28181.message import parse_uri as _parse_uri
from sharpeyes.sim.device import SimDevice, SimDeviceConfig
from sharpeyes.sim.stats import FleetStats
from sharpeyes.sip.stack import SipStack, SipTimeout
from sharpeyes.sip.transport import Peer

log = logging.getLogger("sharpeyes.sim")


class SimFleet:
    """A set of simulated devices registered to one platform through one stack."""

    def __init__(
        self,
        server: tuple[str, int],
        server_id: str,
        domain: str,
        transport: Literal["udp", "tcp"] = "udp",
        local_host: str = "127.0.0.1",
        *,
        local_port: int = 0,
        advertised_host: str | None = None,
        request_timeout: float | None = None,
        retry_interval: float = 60.0,
        refresh_fraction: float = 0.8,
        seed: int | None = None,
        user_agent: str = "sharpeyes-sim",
    ) -> None:
        if transport not in ("udp", "tcp"):
            raise ValueError(f"transport must be udp or tcp, got {transport!r}")
        if not 0.1 <= refresh_fraction < 1:
            raise ValueError("refresh_fraction must be within 0.1..1")
        self.server = server
        self.server_id = server_id
        self.domain = domain
        self.transport = transport
        self.local_host = local_host
        self.local_port = local_port
        self.advertised_host = advertised_host or local_host
        self.request_timeout = request_timeout
        self.retry_interval = retry_interval
        self.refresh_fraction = refresh_fraction
        self.user_agent = user_agent
        self.rng = random.Random(seed)
        self.stats = FleetStats()
        self.devices: dict[str, SimDevice] = {}
        self._by_channel: dict[str, SimDevice] = {}
        self._stack: SipStack | None = None
        self._peer: Peer | None = None
        self._connect_lock = asyncio.Lock()

    # ---------------------------------------------------------------- setup
    @property
    def stack(self) -> SipStack:
        if self._stack is None:
            raise RuntimeError("SimFleet.start() has not been called")
        return self._stack

    @property
    def port(self) -> int:
        return self.stack.port

    @property
    def server_uri(self) -> str:
        return f"sip:{self.server_id}@{self.domain}"

    @property
    def server_peer(self) -> Peer:
        if self._peer is None:
            raise RuntimeError("SimFleet.start() has not been called")
        return self._peer

    def add(self, config: SimDeviceConfig) -> SimDevice:
        """Add a device; its ID and channel IDs must be unique in the fleet."""
        if config.device_id in self.devices or config.device_id in self._by_channel:
            raise ValueError(f"duplicate device ID {config.device_id}")
        for ch in config.channels:
            if ch.channel_id in self._by_channel:
                raise ValueError(f"duplicate channel ID {ch.channel_id}")
        device = SimDevice(config, self)
        self.devices[config.device_id] = device
        for ch in config.channels:
            self._index_channel(device, ch.channel_id)
        return device

    def get(self, device_id: str) -> SimDevice:
        return self.devices[device_id]

    def __len__(self) -> int:
        return len(self.devices)

    def _index_channel(self, device: SimDevice, channel_id: str) -> None:
        if channel_id != device.device_id:
            self._by_channel[channel_id] = device

    def _unindex_channel(self, channel_id: str) -> None:
        self._by_channel.pop(channel_id, None)

    async def start(self) -> None:
        """Resolve the server and bind the shared stack (UDP, plus a TCP listener for tcp)."""
        loop = asyncio.get_running_loop()
        host, port = self.server
        infos = await loop.getaddrinfo(host, port, family=socket.AF_INET, type=socket.SOCK_DGRAM)
        self._peer = Peer(self.transport, str(infos[0][4][0]), port)
        last_error: OSError | None = None
        for _ in range(5):
            # The UDP socket picks the port; for TCP a listener on the same port lets the
            # platform reconnect to our Contact. That port may be taken for TCP: retry.
            stack = SipStack(
                host=self.local_host,
                port=self.local_port,
                handler=self._dispatch,
                advertised_host=self.advertised_host,
                user_agent=self.user_agent,
                udp=True,
                tcp=self.transport == "tcp",
            )
            try:
                await stack.start()
            except OSError as exc:
                last_error = exc
                await stack.stop()
                if self.local_port:
                    break
                continue
            self._stack = stack
            return
        raise OSError(f"cannot bind the simulator stack: {last_error}")

    # ---------------------------------------------------------------- sending
    async def send(self, req: SipRequest, *, timeout: float | None = None) -> SipResponse:
        """Send a request to the platform in a client transaction; SipTimeout on failure."""
        peer = self.server_peer
        if peer.transport == "tcp":
            await self._ensure_connected(peer)
        return await self.stack.request(req, peer, timeout=timeout or self.request_timeout)

    async def _ensure_connected(self, peer: Peer) -> None:
        # Transport.send opens a connection per caller when none is open, so thousands
        # of devices starting together would open thousands; open one, under a lock.
        transport = self.stack.transport
        if transport.tcp_connected(peer):
            return
        async with self._connect_lock:
            if transport.tcp_connected(peer):
                return
            try:
                await transport.send(b"\r\n\r\n", peer)  # RFC 5626 CRLF keepalive
            except OSError as exc:
                raise SipTimeout(f"cannot connect to {peer}: {exc}") from exc

    # -------------------------------------------------------------- receiving
    def device_for(self, req: SipRequest) -> SimDevice | None:
        """The device a request is for: Request-URI user, else To user (device or channel)."""
        users: list[str] = []
        with contextlib.suppress(SipParseError):
            users.append(_parse_uri(req.uri).user)
        with contextlib.suppress(SipParseError):
            users.append(parse_name_addr(req.headers.get("To") or "").uri.user)
        for user in users:
            device = self.devices.get(user) or self._by_channel.get(user)
            if device is not None:
                return device
        return None

    async def _dispatch(self, req: SipRequest, peer: Peer) -> SipResponse | None:
        self.stats.requests_received += 1
        device = self.device_for(req)
        if device is None:
            if req.method == "ACK":
                return None
            return response_for(req, 404, "No such device")
        return await device.handle(req)

    # ------------------------------------------------------------- lifecycle
    async def register_all(self, concurrency: int = 200) -> Counter[int]:
        """Register every device that is not offline; returns a Counter of final statuses."""
        sem = asyncio.Semaphore(max(1, concurrency))
        results: Counter[int] = Counter()

        async def one(device: SimDevice) -> None:
            async with sem:
                results[await device.register()] += 1

        await asyncio.gather(*(one(d) for d in self.devices.values() if "offline" not in d.faults))
        return results

    def start_keepalives(self) -> None:
        """Let every device run on its own: keepalives, refreshes, retries of failures."""
        for device in self.devices.values():
            device.start()

    @property
    def registered_count(self) -> int:
        return sum(1 for d in self.devices.values() if d.registered)

    async def stop(
        self, *, unregister: bool = True, concurrency: int = 200, timeout: float = 2.0
    ) -> None:
        """Stop timers, unregister (Expires 0) the registered devices, close the stack."""
        for device in self.devices.values():
            device.stop()
        if self._stack is None:
            return
        if unregister:
            sem = asyncio.Semaphore(max(1, concurrency))

            async def one(device: SimDevice) -> None:
                async with sem:
                    try:
                        await device.unregister(timeout=timeout)
                    except Exception:
                        log.exception("sim %s unregister failed", device.device_id)

            registered = [d for d in self.devices.values() if d.registered]
            await asyncio.gather(*(one(d) for d in registered))
        await self._stack.stop()
        self._stack = None

    async def __aenter__(self) -> SimFleet:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
