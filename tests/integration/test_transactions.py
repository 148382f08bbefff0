"""Transaction behaviour on the wire: retransmissions absorbed, our requests retransmitted,
digest variants (qop=auth, stale nonce), OPTIONS/unknown methods."""

from __future__ import annotations

import asyncio
import itertools
import os
import socket
import time

from sharpeyes.gb28181 import digest, manscdp
from sharpeyes.gb28181.message import SipRequest, SipResponse, parse_message
from sharpeyes.node import Node

DEV = "34020000001320000501"


class RawDevice:
    """A hand-driven UDP peer, to control exactly what goes on the wire."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(3)
        self.port = self.sock.getsockname()[1]
        self.sip = node.settings.sip

    def request(
        self, method: str, *, headers: str = "", body: bytes = b"", branch: str | None = None
    ) -> bytes:
        branch = branch or "z9hG4bK" + os.urandom(5).hex()
        head = (
            f"{method} sip:{self.sip.id}@{self.sip.domain} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{self.port};rport;branch={branch}\r\n"
            f"From: <sip:{DEV}@{self.sip.domain}>;tag=t1\r\n"
            f"To: <sip:{DEV}@{self.sip.domain}>\r\n"
            f"Call-ID: {branch}@raw\r\nCSeq: 1 {method}\r\n"
            f"Contact: <sip:{DEV}@127.0.0.1:{self.port}>\r\n{headers}"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        return head.encode() + body

    async def send(self, data: bytes) -> None:
        await asyncio.get_running_loop().run_in_executor(
            None, self.sock.sendto, data, ("127.0.0.1", self.node.stack.port)
        )

    async def recv(self) -> SipRequest | SipResponse:
        data = await asyncio.get_running_loop().run_in_executor(None, self.sock.recv, 65535)
        return parse_message(data)

    async def response(self) -> SipResponse:
        """The next response, skipping the node's own requests to this device."""
        while True:
            msg = await self.recv()
            if isinstance(msg, SipResponse):
                return msg

    async def register(self, **auth: str) -> SipResponse:
        await self.send(self.request("REGISTER", headers="Expires: 3600\r\n"))
        challenge = await self.response()
        assert challenge.status == 401
        params = digest.parse_digest(challenge.headers["WWW-Authenticate"])
        value = digest.build_authorization(
            method="REGISTER",
            uri=f"sip:{self.sip.id}@{self.sip.domain}",
            username=DEV,
            realm=params["realm"],
            password=self.sip.password,
            nonce=params["nonce"],
            **auth,  # type: ignore[arg-type]
        )
        await self.send(
            self.request("REGISTER", headers=f"Expires: 3600\r\nAuthorization: {value}\r\n")
        )
        return await self.response()


async def test_retransmitted_request_is_answered_once_from_the_stored_response(node: Node) -> None:
    dev = RawDevice(node)
    assert (await dev.register()).status == 200
    msg = dev.request(
        "MESSAGE",
        body=manscdp.keepalive(7, DEV),
        headers="Content-Type: Application/MANSCDP+xml\r\n",
        branch="z9hG4bKsame",
    )
    before = node.messaging.stats["keepalives"]
    await dev.send(msg)
    first = await dev.response()
    await dev.send(msg)  # a retransmission: same branch, same sent-by
    second = await dev.response()
    assert first.status == 200
    assert second.to_bytes() == first.to_bytes()
    await asyncio.sleep(0.2)
    assert node.messaging.stats["keepalives"] == before + 1
    assert node.stack.stats["retransmissions_absorbed"] >= 1


async def test_our_requests_are_retransmitted_until_answered(node: Node) -> None:
    dev = RawDevice(node)
    assert (await dev.register()).status == 200
    # the node queries the new device (Catalog first); we stay silent and count copies
    seen: list[float] = []
    query: SipRequest | None = None
    while len(seen) < 3:
        msg = await dev.recv()
        if isinstance(msg, SipRequest) and msg.method == "MESSAGE" and b"Catalog" in msg.body:
            seen.append(time.monotonic())
            query = msg
    gaps = [b - a for a, b in itertools.pairwise(seen)]
    assert 0.3 < gaps[0] < 0.9 and gaps[1] > gaps[0] * 1.5  # T1 = 0.5 s, doubling
    assert query is not None
    resp = SipResponse(headers=query.headers.copy(), status=200, reason="OK")
    for name in ("Max-Forwards", "User-Agent", "Content-Type", "Contact"):
        resp.headers.remove(name)
    resp.body = b""
    await dev.send(resp.to_bytes())
    await asyncio.sleep(1.5)
    dev.sock.settimeout(0.3)
    again = []
    try:
        while True:
            m = await dev.recv()
            if isinstance(m, SipRequest) and m.call_id == query.call_id:
                again.append(m)
    except TimeoutError:
        pass
    assert again == []  # answered: no more copies of that transaction


async def test_qop_auth_and_stale_nonce(node: Node) -> None:
    dev = RawDevice(node)
    assert (await dev.register(qop="auth", cnonce="0a4f113b")).status == 200
    # an old but genuine nonce is answered with a fresh challenge marked stale
    assert node.registrar is not None
    old = digest.make_nonce(node.registrar.secret, time.time() - 10_000)
    value = digest.build_authorization(
        method="REGISTER",
        uri=f"sip:{dev.sip.id}@{dev.sip.domain}",
        username=DEV,
        realm=dev.sip.digest_realm,
        password=dev.sip.password,
        nonce=old,
    )
    await dev.send(dev.request("REGISTER", headers=f"Expires: 3600\r\nAuthorization: {value}\r\n"))
    resp = await dev.response()
    assert resp.status == 401
    assert digest.parse_digest(resp.headers["WWW-Authenticate"]).get("stale", "").lower() == "true"


async def test_options_and_unknown_methods(node: Node) -> None:
    dev = RawDevice(node)
    await dev.send(dev.request("OPTIONS"))
    resp = await dev.recv()
    assert (
        isinstance(resp, SipResponse) and resp.status == 200 and "REGISTER" in resp.headers["Allow"]
    )
    await dev.send(dev.request("PUBLISH"))
    resp = await dev.response()
    assert resp.status == 405
    # expiry below the minimum → 423 with Min-Expires
    await dev.send(dev.request("REGISTER", headers="Expires: 5\r\n"))
    resp = await dev.response()
    assert resp.status == 423 and resp.headers["Min-Expires"]
