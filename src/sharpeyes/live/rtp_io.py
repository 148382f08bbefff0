"""RTP sockets for live sessions: UDP, and TCP (RFC 4571) as listener or as client.

The UDP path is the hot path. :func:`open_udp` watches the socket with the loop's
``add_reader`` and drains every queued datagram per wake-up with one ``recvmmsg``
(C extension, :mod:`sharpeyes.live.fastrecv`; a ``recvfrom`` loop without it),
handing each to the session's packet handler.
TCP connections are deframed here and each packet goes to the same handler.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable
from typing import Any, cast

from sharpeyes.live import fastrecv
from sharpeyes.media.rtp import Rfc4571Deframer, RtpError

log = logging.getLogger(__name__)

PacketSink = Callable[[bytes, Any], None]  # (packet, (host, port))
RCVBUF = 2 * 1024 * 1024


class UdpRtpEndpoint:
    """A bound UDP socket drained in batches into ``sink``; ``close()`` stops and closes it."""

    def __init__(
        self,
        sock: socket.socket,
        sink: PacketSink,
        loop: asyncio.AbstractEventLoop,
        recv: fastrecv.RecvBatch | None = None,
    ) -> None:
        self.sock = sock
        self.sink = sink
        self.loop = loop
        self.errors = 0  # ICMP port unreachable from a device that stopped: harmless
        self.batches = 0
        self.datagrams = 0
        self._recv = recv or fastrecv.recv_batch
        self._closed = False
        loop.add_reader(sock.fileno(), self._readable)

    def _readable(self) -> None:
        sock, sink, recv = self.sock, self.sink, self._recv
        for _ in range(4):  # at most 4 full batches, then let other sockets have a turn
            if self._closed:
                return
            try:
                batch = recv(sock, fastrecv.BATCH, fastrecv.BUFSIZE)
            except OSError:
                self.errors += 1
                return
            if not batch:
                return
            self.batches += 1
            self.datagrams += len(batch)
            for data, addr in batch:
                sink(data, addr)
            if len(batch) < fastrecv.BATCH:
                return  # drained: the next datagram wakes us again

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"socket": self.sock, "sockname": self.sock.getsockname()}.get(name, default)

    def is_closing(self) -> bool:
        return self._closed

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(Exception):
            self.loop.remove_reader(self.sock.fileno())
        self.sock.close()


class _UdpRtp(asyncio.DatagramProtocol):
    def __init__(self, sink: PacketSink) -> None:
        self.datagram_received = sink  # type: ignore[assignment,method-assign]
        self.errors = 0

    def error_received(self, exc: Exception) -> None:
        self.errors += 1  # ICMP port unreachable from a device that stopped: harmless


async def open_udp(
    host: str,
    port: int,
    sink: PacketSink,
    *,
    recv: fastrecv.RecvBatch | None = None,
    batched: bool = True,
) -> UdpRtpEndpoint | asyncio.DatagramTransport:
    """Bind a UDP socket whose datagrams go straight to ``sink``; OSError if the port is taken.

    ``batched=False``: the loop's own UDP transport (one datagram per read, no Python
    frame between the loop and ``sink``): cheaper when each wake-up finds one datagram.
    """
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
        sock.bind((host, port))
        sock.setblocking(False)
        if not batched:
            transport, _ = await loop.create_datagram_endpoint(lambda: _UdpRtp(sink), sock=sock)
            return transport
        return UdpRtpEndpoint(sock, sink, loop, recv)
    except BaseException:
        sock.close()
        raise


class _TcpRtp(asyncio.Protocol):
    def __init__(self, endpoint: TcpRtpEndpoint) -> None:
        self.endpoint = endpoint
        self.deframer = Rfc4571Deframer()
        self.transport: asyncio.Transport | None = None
        self.addr: Any = None
        self.sink: PacketSink = endpoint.sink
        self.broken = False  # we closed it: framing lost

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.addr = transport.get_extra_info("peername")
        if not self.endpoint._accept(self):
            transport.close()

    def data_received(self, data: bytes) -> None:
        try:
            packets = self.deframer.feed(data)
        except RtpError as exc:
            # A stream that lost its framing cannot be resynchronised: drop the connection.
            self.endpoint.framing_errors += 1
            self.endpoint.last_error = f"RFC 4571 framing lost, connection closed: {exc}"
            self.broken = True
            if self.transport is not None:
                self.transport.close()
            return
        sink, addr = self.sink, self.addr
        for p in packets:
            sink(p, addr)

    def connection_lost(self, exc: Exception | None) -> None:
        self.endpoint._lost(self, exc)


class TcpRtpEndpoint:
    """One RTP-over-TCP stream: we listen (device active) or we connect (device passive).

    ``allowed(host)`` vets a connecting peer; only the newest accepted connection
    feeds the session (a device reconnecting replaces its old connection).
    """

    def __init__(self, sink: PacketSink, *, allowed: Callable[[str], bool] | None = None) -> None:
        self.sink = sink
        self.allowed = allowed
        self.server: asyncio.Server | None = None
        self.conn: _TcpRtp | None = None
        self.connections = 0
        self.refused = 0
        self.framing_errors = 0
        self.last_error: str | None = None
        self.closed_by_peer = 0
        self._closing = False

    async def listen(self, host: str, port: int) -> None:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(
            lambda: _TcpRtp(self), host, port, reuse_address=True, backlog=8
        )

    async def connect(self, host: str, port: int, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        await asyncio.wait_for(loop.create_connection(lambda: _TcpRtp(self), host, port), timeout)

    def _accept(self, conn: _TcpRtp) -> bool:
        if self._closing:
            return False
        host = conn.addr[0] if conn.addr else ""
        if self.allowed is not None and not self.allowed(host):
            self.refused += 1
            self.last_error = f"refused a media connection from {host}"
            return False
        old = self.conn
        self.conn = conn
        self.connections += 1
        if old is not None and old.transport is not None:
            old.transport.close()
        with contextlib.suppress(OSError, AttributeError):
            sock = conn.transport.get_extra_info("socket") if conn.transport else None
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
        return True

    def _lost(self, conn: _TcpRtp, exc: Exception | None) -> None:
        if self.conn is conn:
            self.conn = None
            if not self._closing and not conn.broken:
                self.closed_by_peer += 1
                self.last_error = "the device closed the media TCP connection" + (
                    f": {exc}" if exc else ""
                )

    @property
    def connected(self) -> bool:
        return self.conn is not None

    def close(self) -> None:
        self._closing = True
        if self.server is not None:
            self.server.close()
            self.server = None
        if self.conn is not None and self.conn.transport is not None:
            self.conn.transport.close()
        self.conn = None


__all__ = ["PacketSink", "TcpRtpEndpoint", "UdpRtpEndpoint", "open_udp"]
