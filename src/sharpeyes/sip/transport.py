"""asyncio UDP and TCP transports for SIP.

One UDP socket and one TCP listener per node. TCP connections are kept by peer
address so requests to a device that registered over TCP reuse its connection
(devices behind NAT accept nothing else). Framing uses the sans-IO StreamParser.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from sharpeyes.gb28181.message import (
    SipParseError,
    SipRequest,
    SipResponse,
    StreamParser,
    parse_message,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Peer:
    """Where a message came from / goes to. ``transport`` is "udp" or "tcp"."""

    transport: str
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.transport}:{self.host}:{self.port}"


MessageHandler = Callable[[SipRequest | SipResponse, Peer], None]
ErrorHandler = Callable[[bytes, Peer, SipParseError], None]


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, owner: Transport) -> None:
        self.owner = owner

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.owner._received_datagram(data, Peer("udp", addr[0], addr[1]))

    def error_received(self, exc: Exception) -> None:
        self.owner.stats["udp_errors"] += 1


class _TcpConn(asyncio.Protocol):
    def __init__(self, owner: Transport) -> None:
        self.owner = owner
        self.parser = StreamParser()
        self.transport: asyncio.Transport | None = None
        self.peer: Peer | None = None
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's TCPTransport is not an asyncio.Transport subclass: no isinstance
        self.transport = cast(asyncio.Transport, transport)
        host, port = transport.get_extra_info("peername")[:2]
        self.peer = Peer("tcp", host, port)
        self.owner._tcp[(host, port)] = self

    def data_received(self, data: bytes) -> None:
        assert self.peer is not None and self.transport is not None
        try:
            messages = self.parser.feed(data)
        except SipParseError as exc:
            # a stream cannot be resynchronised after a framing error
            self.owner._parse_error(data, self.peer, exc)
            self.transport.close()
            return
        for msg in messages:
            self.owner._deliver(msg, self.peer)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.peer is not None:
            current = self.owner._tcp.get((self.peer.host, self.peer.port))
            if current is self:
                del self.owner._tcp[(self.peer.host, self.peer.port)]
        if not self.closed.done():
            self.closed.set_result(None)


class Transport:
    """Owns the node's SIP sockets; hands parsed messages to ``on_message``."""

    def __init__(
        self,
        host: str,
        port: int,
        on_message: MessageHandler,
        on_error: ErrorHandler | None = None,
        *,
        udp: bool = True,
        tcp: bool = True,
    ) -> None:
        self.host = host
        self.port = port
        self.on_message = on_message
        self.on_error = on_error
        self._want_udp = udp
        self._want_tcp = tcp
        self._udp: asyncio.DatagramTransport | None = None
        self._server: asyncio.base_events.Server | None = None
        self._tcp: dict[tuple[str, int], _TcpConn] = {}
        self._connecting: dict[tuple[str, int], asyncio.Future[None]] = {}
        self._error_log_at: dict[str, float] = {}
        self.stats = {
            "received": 0,
            "sent": 0,
            "parse_errors": 0,
            "udp_errors": 0,
            "dropped": 0,
        }

    async def start(self) -> None:
        """Bind UDP and TCP on the same port; with port 0, retry until one is free for both."""
        attempts = 20 if self.port == 0 else 1
        for attempt in range(attempts):
            try:
                await self._bind(self.port)
                return
            except OSError:
                await self._close_sockets()
                if attempt == attempts - 1:
                    raise

    async def _bind(self, port: int) -> None:
        loop = asyncio.get_running_loop()
        if self._want_udp:
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _Udp(self), local_addr=(self.host, port)
            )
            self._udp = transport
            sock = transport.get_extra_info("socket")
            port = sock.getsockname()[1]
            _grow_buffers(sock)
        if self._want_tcp:
            self._server = await loop.create_server(
                lambda: _TcpConn(self), self.host, port, reuse_address=True, backlog=1024
            )
            port = self._server.sockets[0].getsockname()[1]
        self.port = port

    async def _close_sockets(self) -> None:
        if self._udp is not None:
            self._udp.close()
            self._udp = None
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def stop(self) -> None:
        if self._udp is not None:
            self._udp.close()
        if self._server is not None:
            self._server.close()
        conns = list(self._tcp.values())
        for conn in conns:
            if conn.transport is not None:
                conn.transport.close()
        for conn in conns:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(conn.closed), 1)
        if self._server is not None:
            await self._server.wait_closed()

    # ------------------------------------------------------------ receive
    def _received_datagram(self, data: bytes, peer: Peer) -> None:
        if data in (b"\r\n\r\n", b"\r\n", b"\x00\x00\x00\x00"):
            return  # NAT keepalives some devices send
        try:
            msg = parse_message(data)
        except SipParseError as exc:
            self._parse_error(data, peer, exc)
            return
        self._deliver(msg, peer)

    def _deliver(self, msg: SipRequest | SipResponse, peer: Peer) -> None:
        self.stats["received"] += 1
        try:
            self.on_message(msg, peer)
        except Exception:  # a handler bug must not kill the socket
            log.exception("SIP handler failed for message from %s", peer)

    def _parse_error(self, data: bytes, peer: Peer, exc: SipParseError) -> None:
        self.stats["parse_errors"] += 1
        now = time.monotonic()
        if now - self._error_log_at.get(peer.host, -1e9) > 60:
            if len(self._error_log_at) > 10_000:
                self._error_log_at.clear()
            self._error_log_at[peer.host] = now
            log.warning("unparseable SIP from %s: %s", peer, exc)
        if self.on_error is not None:
            self.on_error(data, peer, exc)

    # --------------------------------------------------------------- send
    def send_now(self, data: bytes, peer: Peer) -> bool:
        """Send without waiting; False when a TCP peer has no open connection."""
        if peer.transport == "udp":
            if self._udp is None:
                return False
            self._udp.sendto(data, (peer.host, peer.port))
            self.stats["sent"] += 1
            return True
        conn = self._tcp.get((peer.host, peer.port))
        if conn is None or conn.transport is None or conn.transport.is_closing():
            return False
        conn.transport.write(data)
        self.stats["sent"] += 1
        return True

    async def send(self, data: bytes, peer: Peer) -> None:
        """Send, opening a TCP connection to the peer first when none is open."""
        if self.send_now(data, peer):
            return
        if peer.transport != "tcp":
            raise ConnectionError(f"no {peer.transport} socket")
        await self._connect(peer)
        if not self.send_now(data, peer):
            raise ConnectionError(f"cannot reach {peer}")

    async def _connect(self, peer: Peer) -> None:
        """One connection attempt per peer, however many senders wait for it."""
        key = (peer.host, peer.port)
        pending = self._connecting.get(key)
        if pending is not None:
            await asyncio.shield(pending)
            return
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        self._connecting[key] = fut
        try:
            await loop.create_connection(lambda: _TcpConn(self), peer.host, peer.port)
            fut.set_result(None)
        except OSError as exc:
            fut.set_exception(exc)
            fut.exception()  # mark retrieved: the waiters re-raise it themselves
            raise
        finally:
            del self._connecting[key]

    def local_port(self) -> int:
        return self.port

    def tcp_connected(self, peer: Peer) -> bool:
        return (peer.host, peer.port) in self._tcp


def _grow_buffers(sock: object) -> None:
    import socket

    if not isinstance(sock, socket.socket):
        return
    for opt in (socket.SO_RCVBUF, socket.SO_SNDBUF):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, opt, 4 << 20)
