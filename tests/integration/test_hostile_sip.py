"""Hostile input over real sockets: the node answers or drops, and keeps serving others."""

from __future__ import annotations

import asyncio
import os
import socket

from sharpeyes.gb28181.message import SipResponse, parse_message
from sharpeyes.node import Node

from .devices_helpers import eventually, fleet_for, ipc

SERVER = "34020000002000000001@3402000000"


def _message(
    body: bytes,
    *,
    device: str,
    content_length: int | None = None,
    ctype: str = "Application/MANSCDP+xml",
) -> bytes:
    length = len(body) if content_length is None else content_length
    head = (
        f"MESSAGE sip:{SERVER} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:9;rport;branch=z9hG4bK{os.urandom(6).hex()}\r\n"
        f"From: <sip:{device}@3402000000>;tag=1\r\n"
        f"To: <sip:{SERVER}>\r\n"
        f"Call-ID: {os.urandom(6).hex()}\r\n"
        "CSeq: 1 MESSAGE\r\n"
        f"Content-Type: {ctype}\r\n"
        f"Content-Length: {length}\r\n\r\n"
    )
    return head.encode() + body


def _udp_exchange(port: int, data: bytes, timeout: float = 1.0) -> SipResponse | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(data, ("127.0.0.1", port))
        try:
            raw, _ = s.recvfrom(65535)
        except TimeoutError:
            return None
    msg = parse_message(raw)
    assert isinstance(msg, SipResponse)
    return msg


KEEPALIVE = (
    b'<?xml version="1.0"?><Notify><CmdType>Keepalive</CmdType><SN>1</SN>'
    b"<DeviceID>{d}</DeviceID><Status>OK</Status></Notify>"
)
BOMB = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;">'
    b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;">]>'
    b"<Notify><CmdType>&lol3;</CmdType><SN>1</SN></Notify>"
)
XXE = (
    b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
    b"<Notify><CmdType>&e;</CmdType><SN>1</SN><DeviceID>x</DeviceID></Notify>"
)


async def test_hostile_datagrams_get_errors_and_others_keep_being_served(node: Node) -> None:
    fleet = fleet_for(node)
    good = fleet.add(ipc(91, keepalive_interval=0.3))
    await fleet.start()
    try:
        assert await good.register() == 200
        fleet.start_keepalives()
        dev = good.device_id
        port = node.stack.port
        loop = asyncio.get_running_loop()

        async def ask(data: bytes) -> SipResponse | None:
            return await loop.run_in_executor(None, _udp_exchange, port, data)

        # random bytes and truncated messages: dropped, no crash
        for _ in range(200):
            await loop.run_in_executor(None, _udp_exchange, port, os.urandom(300), 0.001)
        ka = KEEPALIVE.replace(b"{d}", dev.encode())
        full = _message(ka, device=dev)
        assert await ask(full[: len(full) // 2]) is None  # cut inside the headers: dropped

        # lying Content-Length: 400 with a reason
        r = await ask(_message(ka, device=dev, content_length=len(ka) + 40))
        assert r is not None and r.status == 400 and "Content-Length" in r.reason

        # XML bombs, external entities, deep nesting, garbage body, wrong charset
        for body in (
            BOMB,
            XXE,
            b"<a>" * 5000 + b"</a>" * 5000,
            b"\xff\xfe\x00garbage",
            b"<Notify><CmdType>Keepalive",
        ):
            r = await ask(_message(body, device=dev))
            assert r is not None and r.status == 400, (body[:40], r and r.status)

        # unknown CmdType in a query-style message: refused clearly
        r = await ask(
            _message(
                b"<Query><CmdType>Teleport</CmdType><SN>1</SN><DeviceID>x</DeviceID></Query>",
                device=dev,
            )
        )
        assert r is not None and r.status == 501

        # wrong content type
        r = await ask(_message(ka, device=dev, ctype="text/plain"))
        assert r is not None and r.status == 415

        # keepalive from a device that never registered: 4xx so it re-registers
        r = await ask(
            _message(
                KEEPALIVE.replace(b"{d}", b"34020000001329999999"), device="34020000001329999999"
            )
        )
        assert r is not None and r.status == 403

        # a GBK-encoded body declared as UTF-8 still parses (names are data, not syntax)
        gbk = (
            '<?xml version="1.0" encoding="UTF-8"?><Notify><CmdType>Keepalive</CmdType>'
            f"<SN>2</SN><DeviceID>{dev}</DeviceID><Status>正常</Status></Notify>"
        ).encode("gbk")
        r = await ask(_message(gbk, device=dev))
        assert r is not None and r.status == 200

        # through all of it the good device stayed online and its keepalives were answered
        before = fleet.stats.keepalive_ok
        await eventually(lambda: fleet.stats.keepalive_ok > before + 2, 5)
        live = node.registry.get(dev)
        assert live is not None and live.online
        assert node.stack.transport.stats["parse_errors"] >= 200
    finally:
        await fleet.stop()


async def test_tcp_garbage_closes_only_that_connection(node: Node) -> None:
    fleet = fleet_for(node, "tcp")
    good = fleet.add(ipc(92, keepalive_interval=0.3))
    await fleet.start()
    try:
        assert await good.register() == 200
        fleet.start_keepalives()
        reader, writer = await asyncio.open_connection("127.0.0.1", node.stack.port)
        writer.write(b"INVITE sip:x SIP/2.0\r\nContent-Length: 999999999\r\n\r\n")
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), 5)  # server closes the connection
        assert data == b"" or data.startswith(b"SIP/2.0")
        writer.close()
        reader2, writer2 = await asyncio.open_connection("127.0.0.1", node.stack.port)
        writer2.write(os.urandom(70_000))
        await writer2.drain()
        assert await asyncio.wait_for(reader2.read(), 5) is not None
        writer2.close()
        await asyncio.sleep(0.8)
        assert node.registry.get(good.device_id).online
        assert (await good.send_keepalive()) == 200
    finally:
        await fleet.stop()
