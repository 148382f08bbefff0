"""SIP transaction layer on asyncio: UAS de-duplication and UAC retransmission.

Server side: a retransmitted request (same branch, sent-by and method) is answered
with the stored final response instead of being processed again (RFC 3261 17.2).
Client side: requests over UDP are retransmitted with timer E/A (T1 doubling,
capped at T2 for non-INVITE) until a final response or timer F/B (64·T1).

Server transactions are kept in a dict plus a deadline-ordered deque swept once a
second, not one timer per transaction: at 10,000 devices a timer each would cost
more than the keepalive handling itself.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from sharpeyes.gb28181.message import (
    Headers,
    SipParseError,
    SipRequest,
    SipResponse,
    response_for,
    salvage_request,
)
from sharpeyes.sip.transport import Peer, Transport

log = logging.getLogger(__name__)

RequestHandler = Callable[[SipRequest, Peer], Awaitable[SipResponse | None]]
ResponseHook = Callable[[SipResponse, Peer], None]

BRANCH_MAGIC = "z9hG4bK"


class SipTimeout(Exception):
    """No final response arrived before timer F/B fired."""


def new_branch() -> str:
    return BRANCH_MAGIC + secrets.token_hex(8)


def new_tag() -> str:
    return secrets.token_hex(5)


def new_call_id(host: str) -> str:
    return f"{secrets.token_hex(10)}@{host}"


@dataclass(slots=True)
class _ServerTx:
    peer: Peer
    response: bytes | None = None


@dataclass(slots=True)
class _ClientTx:
    request: SipRequest
    data: bytes
    peer: Peer
    future: asyncio.Future[SipResponse]
    interval: float
    provisional: bool = False
    handle: asyncio.TimerHandle | None = None
    deadline: asyncio.TimerHandle | None = None
    responses: list[SipResponse] = field(default_factory=list)


class SipStack:
    """Transport + transactions; request handling is delegated to ``handler``."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        handler: RequestHandler,
        advertised_host: str | None = None,
        user_agent: str = "sharpeyes",
        udp: bool = True,
        tcp: bool = True,
        t1: float = 0.5,
        t2: float = 4.0,
        server_tx_lifetime: float = 32.0,
    ) -> None:
        self.transport = Transport(
            host, port, self._on_message, self._on_parse_error, udp=udp, tcp=tcp
        )
        self.handler = handler
        self.advertised_host = advertised_host or host
        self.user_agent = user_agent
        self.t1, self.t2 = t1, t2
        self.server_tx_lifetime = server_tx_lifetime
        self._server_tx: dict[tuple[str, str, str], _ServerTx] = {}
        self._server_tx_expiry: deque[tuple[float, tuple[str, str, str]]] = deque()
        self._client_tx: dict[str, _ClientTx] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._sweeper: asyncio.Task[None] | None = None
        self._cseq = itertools.count(1)
        self.on_stray_response: ResponseHook | None = None
        # handling latency (receive → response sent) of the last requests, seconds
        self.latency: deque[float] = deque(maxlen=20_000)
        self.stats = {
            "requests": 0,
            "retransmissions_absorbed": 0,
            "client_retransmits": 0,
            "client_timeouts": 0,
            "handler_errors": 0,
        }

    @property
    def port(self) -> int:
        return self.transport.port

    async def start(self) -> None:
        await self.transport.start()
        self._sweeper = asyncio.create_task(self._sweep_loop())

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
        for tx in list(self._client_tx.values()):
            self._finish_client(tx, exc=SipTimeout("stack stopped"))
        for task in list(self._tasks):
            task.cancel()
        await self.transport.stop()

    # ------------------------------------------------------------- inbound
    def _on_message(self, msg: SipRequest | SipResponse, peer: Peer) -> None:
        if isinstance(msg, SipResponse):
            self._on_response(msg, peer)
            return
        try:
            via = msg.top_via()
        except SipParseError as exc:
            self._reply_error(msg, peer, exc.status, str(exc))
            return
        method = "INVITE" if msg.method == "ACK" else msg.method
        key = (
            via.branch or msg.call_id + (msg.headers.get("CSeq") or ""),
            f"{via.host}:{via.port}",
            method,
        )
        if msg.method != "ACK":
            existing = self._server_tx.get(key)
            if existing is not None:
                self.stats["retransmissions_absorbed"] += 1
                if existing.response is not None:
                    self.transport.send_now(existing.response, peer)
                return
            self._server_tx[key] = _ServerTx(peer)
            self._server_tx_expiry.append((time.monotonic() + self.server_tx_lifetime, key))
        self.stats["requests"] += 1
        task = asyncio.get_running_loop().create_task(
            self._handle(msg, peer, key, time.perf_counter())
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle(
        self, req: SipRequest, peer: Peer, key: tuple[str, str, str], t0: float
    ) -> None:
        try:
            response = await self.handler(req, peer)
        except Exception:
            self.stats["handler_errors"] += 1
            log.exception("handler failed for %s from %s", req.method, peer)
            response = response_for(req, 500)
        if response is None or req.method == "ACK":
            return
        self.send_response(req, response, peer, key)
        self.latency.append(time.perf_counter() - t0)

    def send_response(
        self,
        req: SipRequest,
        response: SipResponse,
        peer: Peer,
        key: tuple[str, str, str] | None = None,
    ) -> None:
        if "Server" not in response.headers and "User-Agent" not in response.headers:
            response.headers.add("User-Agent", self.user_agent)
        data = response.to_bytes()
        if key is not None and response.status >= 200:
            tx = self._server_tx.get(key)
            if tx is not None:
                tx.response = data
        if not self.transport.send_now(data, peer):
            log.info("cannot answer %s: connection to %s is gone", req.method, peer)

    def _reply_error(self, req: SipRequest, peer: Peer, status: int, reason: str) -> None:
        try:
            resp = response_for(req, status, reason[:80])
        except (KeyError, SipParseError):
            return
        self.transport.send_now(resp.to_bytes(), peer)

    def _on_parse_error(self, data: bytes, peer: Peer, exc: SipParseError) -> None:
        """Answer a malformed request when enough of it parses to address a reply."""
        req = salvage_request(data)
        if req is not None:
            self._reply_error(req, peer, exc.status, str(exc))

    # ------------------------------------------------------------ outbound
    def next_cseq(self) -> int:
        return next(self._cseq)

    def build_request(
        self,
        method: str,
        uri: str,
        *,
        from_uri: str,
        to_uri: str,
        from_tag: str | None = None,
        to_tag: str | None = None,
        call_id: str | None = None,
        cseq: int | None = None,
        contact: str | None = None,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
        content_type: str | None = None,
    ) -> SipRequest:
        h = Headers()
        h.add("From", f"<{from_uri}>;tag={from_tag or new_tag()}")
        h.add("To", f"<{to_uri}>" + (f";tag={to_tag}" if to_tag else ""))
        h.add("Call-ID", call_id or new_call_id(self.advertised_host))
        h.add("CSeq", f"{cseq if cseq is not None else self.next_cseq()} {method}")
        h.add("Max-Forwards", "70")
        if contact:
            h.add("Contact", f"<{contact}>")
        for k, v in headers:
            h.add(k, v)
        h.add("User-Agent", self.user_agent)
        if body and content_type:
            h.add("Content-Type", content_type)
        return SipRequest(headers=h, body=body, method=method, uri=uri)

    async def request(
        self, req: SipRequest, peer: Peer, *, timeout: float | None = None
    ) -> SipResponse:
        """Send a request in a new client transaction; return its final response."""
        branch = self._stamp_via(req, peer)
        data = req.to_bytes()
        loop = asyncio.get_running_loop()
        tx = _ClientTx(req, data, peer, loop.create_future(), self.t1)
        self._client_tx[branch] = tx
        try:
            await self.transport.send(data, peer)
        except OSError as exc:
            del self._client_tx[branch]
            raise SipTimeout(f"cannot send to {peer}: {exc}") from exc
        if peer.transport == "udp":
            tx.handle = loop.call_later(tx.interval, self._retransmit, branch)
        tx.deadline = loop.call_later(timeout or 64 * self.t1, self._expire_client, branch)
        try:
            return await tx.future
        finally:
            self._client_tx.pop(branch, None)

    async def send_stateless(self, req: SipRequest, peer: Peer) -> None:
        """Send a request outside any client transaction (the ACK for a 2xx, RFC 3261 13.2.2.4).

        It gets a fresh Via branch and is never retransmitted by the stack: the dialog
        layer re-sends it when the 2xx is retransmitted.
        """
        self._stamp_via(req, peer)
        await self.transport.send(req.to_bytes(), peer)

    def _stamp_via(self, req: SipRequest, peer: Peer) -> str:
        """Our Via, first, with a fresh branch (returned): one per client transaction."""
        branch = new_branch()
        transport = "TCP" if peer.transport == "tcp" else "UDP"
        req.headers.remove("Via")
        req.headers.insert_first(
            "Via", f"SIP/2.0/{transport} {self.advertised_host}:{self.port};rport;branch={branch}"
        )
        return branch

    def _retransmit(self, branch: str) -> None:
        tx = self._client_tx.get(branch)
        if tx is None or tx.future.done():
            return
        self.stats["client_retransmits"] += 1
        self.transport.send_now(tx.data, tx.peer)
        if tx.request.method == "INVITE":
            tx.interval *= 2
        else:
            tx.interval = min(tx.interval * 2, self.t2)
        tx.handle = asyncio.get_running_loop().call_later(tx.interval, self._retransmit, branch)

    def _expire_client(self, branch: str) -> None:
        tx = self._client_tx.get(branch)
        if tx is not None:
            self.stats["client_timeouts"] += 1
            self._finish_client(tx, exc=SipTimeout(f"{tx.request.method} to {tx.peer} timed out"))

    def _finish_client(
        self, tx: _ClientTx, resp: SipResponse | None = None, exc: Exception | None = None
    ) -> None:
        if tx.handle is not None:
            tx.handle.cancel()
        if tx.deadline is not None:
            tx.deadline.cancel()
        if tx.future.done():
            return
        if exc is not None:
            tx.future.set_exception(exc)
        else:
            tx.future.set_result(resp)  # type: ignore[arg-type]

    def _on_response(self, resp: SipResponse, peer: Peer) -> None:
        try:
            branch = resp.top_via().branch
        except SipParseError:
            return
        tx = self._client_tx.get(branch)
        if tx is None or tx.future.done():
            if self.on_stray_response is not None:
                self.on_stray_response(resp, peer)
            return
        if resp.status < 200:
            tx.provisional = True
            if tx.handle is not None and tx.request.method == "INVITE":
                tx.handle.cancel()  # INVITE retransmission stops on any provisional
                tx.handle = None
            return
        self._finish_client(tx, resp)

    # ------------------------------------------------------------- upkeep
    async def _sweep_loop(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            self.sweep(time.monotonic())

    def sweep(self, now: float) -> None:
        q = self._server_tx_expiry
        while q and q[0][0] <= now:
            _, key = q.popleft()
            self._server_tx.pop(key, None)

    def latency_percentiles(self) -> dict[str, float]:
        """p50/p99 handling latency in milliseconds over the recent window."""
        if not self.latency:
            return {"p50_ms": 0.0, "p99_ms": 0.0, "samples": 0}
        data = sorted(self.latency)

        def pick(q: float) -> float:
            return data[min(len(data) - 1, int(q * len(data)))] * 1000

        return {"p50_ms": round(pick(0.5), 3), "p99_ms": round(pick(0.99), 3), "samples": len(data)}

    def schedule(self, coro: Awaitable[None]) -> None:
        """Run a coroutine owned by the stack (cancelled on stop)."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
