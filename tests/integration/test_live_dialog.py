"""The INVITE dialog layer on real UDP sockets against a scripted user agent server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from sharpeyes.gb28181.message import SipRequest, SipResponse, parse_name_addr, response_for
from sharpeyes.sip.dialog import Dialog, DialogLayer, InviteFailed
from sharpeyes.sip.stack import SipStack
from sharpeyes.sip.transport import Peer

from .devices_helpers import eventually

SDP = b"v=0\r\no=34020000001310000001 0 0 IN IP4 127.0.0.1\r\ns=Play\r\nt=0 0\r\n"


class Uas:
    """A device stand-in: records every request, answers INVITE as ``invite_answer`` says."""

    def __init__(self) -> None:
        self.requests: list[SipRequest] = []
        self.invite_answer: Callable[[SipRequest], SipResponse | None] = self.ok
        self.stack = SipStack(host="127.0.0.1", port=0, handler=self.handle, tcp=False)

    @staticmethod
    def ok(req: SipRequest) -> SipResponse:
        return response_for(
            req,
            200,
            to_tag="devtag",
            headers=[
                ("Contact", "<sip:34020000001310000001@127.0.0.1:5999>"),
                ("Content-Type", "application/sdp"),
            ],
            body=SDP,
        )

    async def handle(self, req: SipRequest, peer: Peer) -> SipResponse | None:
        self.requests.append(req)
        if req.method == "INVITE":
            return self.invite_answer(req)
        if req.method == "ACK":
            return None
        return response_for(req, 200)

    def of(self, method: str) -> list[SipRequest]:
        return [r for r in self.requests if r.method == method]


@pytest.fixture
async def pair() -> AsyncIterator[tuple[Uas, DialogLayer, Peer]]:
    uas = Uas()
    await uas.stack.start()
    uac = SipStack(host="127.0.0.1", port=0, handler=lambda r, p: _none(), tcp=False, t1=0.1)
    await uac.start()
    dialogs = DialogLayer(uac)

    async def route(req: SipRequest, peer: Peer) -> SipResponse | None:
        return dialogs.on_request(req, peer)

    uac.handler = route
    yield uas, dialogs, Peer("udp", "127.0.0.1", uas.stack.port)
    await uac.stop()
    await uas.stack.stop()


async def _none() -> None:
    return None


async def invite(dialogs: DialogLayer, peer: Peer, timeout: float = 2.0) -> Dialog:
    return await dialogs.invite(
        uri=f"sip:34020000001310000001@127.0.0.1:{peer.port}",
        peer=peer,
        from_uri="sip:34020000002000000001@3402000000",
        to_uri="sip:34020000001310000001@3402000000",
        contact=f"sip:34020000002000000001@127.0.0.1:{dialogs.stack.port}",
        body=SDP,
        headers=[("Subject", "34020000001310000001:0200000001,34020000002000000001:1")],
        timeout=timeout,
    )


def branch(req: SipRequest) -> str:
    return req.top_via().branch


async def test_invite_ack_bye_as_rfc3261_says(pair: Any) -> None:
    uas, dialogs, peer = pair
    d = await invite(dialogs, peer)
    assert d.remote_tag == "devtag" and d.remote_target == "sip:34020000001310000001@127.0.0.1:5999"
    await eventually(lambda: len(uas.of("ACK")) == 1, 2)
    (inv,) = uas.of("INVITE")
    (ack,) = uas.of("ACK")
    assert inv.headers["Subject"].startswith("34020000001310000001:0200000001,")
    assert inv.content_type == "application/sdp" and inv.body == SDP
    assert ack.uri == d.remote_target  # Request-URI = the 2xx's Contact
    assert ack.cseq == (inv.cseq[0], "ACK") and ack.call_id == inv.call_id
    assert branch(ack) != branch(inv)  # the ACK for a 2xx is a new transaction
    assert parse_name_addr(ack.headers["To"]).tag == "devtag"
    assert parse_name_addr(ack.headers["From"]).tag == parse_name_addr(inv.headers["From"]).tag
    assert await dialogs.bye(d) == 200
    (bye,) = uas.of("BYE")
    assert bye.cseq == (inv.cseq[0] + 1, "BYE") and bye.uri == d.remote_target
    assert await dialogs.bye(d) is None  # idempotent
    assert dialogs.dialogs == {}


async def test_a_retransmitted_200_is_acked_again(pair: Any) -> None:
    uas, dialogs, peer = pair
    answers: list[SipResponse] = []

    def ok(req: SipRequest) -> SipResponse:
        answers.append(Uas.ok(req))
        return answers[-1]

    uas.invite_answer = ok
    await invite(dialogs, peer)
    await eventually(lambda: len(uas.of("ACK")) == 1, 2)
    uac_peer = Peer("udp", "127.0.0.1", dialogs.stack.port)
    uas.stack.transport.send_now(answers[0].to_bytes(), uac_peer)  # the ACK "was lost"
    await eventually(lambda: len(uas.of("ACK")) == 2, 2)
    first, second = uas.of("ACK")
    assert first.cseq == second.cseq and branch(first) == branch(second)


async def test_a_refusal_is_acked_on_the_invite_branch(pair: Any) -> None:
    uas, dialogs, peer = pair
    uas.invite_answer = lambda req: response_for(req, 486, to_tag="busy")
    with pytest.raises(InviteFailed) as e:
        await invite(dialogs, peer)
    assert e.value.status == 486
    await eventually(lambda: len(uas.of("ACK")) == 1, 2)
    (inv,) = uas.of("INVITE")
    (ack,) = uas.of("ACK")
    assert branch(ack) == branch(inv) and ack.uri == inv.uri  # RFC 3261 17.1.1.3
    assert parse_name_addr(ack.headers["To"]).tag == "busy"


async def test_a_2xx_after_we_gave_up_is_acked_and_hung_up(pair: Any) -> None:
    uas, dialogs, peer = pair
    uas.invite_answer = lambda req: None  # silent, like a device that is thinking too long
    with pytest.raises(InviteFailed) as e:
        await invite(dialogs, peer, timeout=0.4)
    assert e.value.status == 408
    inv = uas.of("INVITE")[0]
    late = Uas.ok(inv)
    uas.stack.transport.send_now(late.to_bytes(), Peer("udp", "127.0.0.1", dialogs.stack.port))
    await eventually(lambda: len(uas.of("ACK")) == 1 and len(uas.of("BYE")) == 1, 3)
    assert dialogs.stats["late_2xx_hung_up"] == 1 and dialogs.dialogs == {}


async def test_device_bye_and_info_reach_the_dialog_owner(pair: Any) -> None:
    uas, dialogs, peer = pair
    d = await invite(dialogs, peer)
    ended: list[Dialog] = []
    d.on_bye = lambda dialog, req: ended.append(dialog)
    uac_peer = Peer("udp", "127.0.0.1", dialogs.stack.port)

    def in_dialog(method: str, from_tag: str = "devtag") -> SipRequest:
        return uas.stack.build_request(
            method,
            d.contact or "",
            from_uri=d.remote_uri,
            to_uri=d.local_uri,
            from_tag=from_tag,
            to_tag=d.local_tag,
            call_id=d.call_id,
            cseq=20,
        )

    assert (await uas.stack.request(in_dialog("BYE", "other"), uac_peer)).status == 481
    assert (await uas.stack.request(in_dialog("INFO"), uac_peer)).status == 200
    assert (await uas.stack.request(in_dialog("BYE"), uac_peer)).status == 200
    assert ended == [d] and d.terminated and dialogs.dialogs == {}
    assert (await uas.stack.request(in_dialog("BYE"), uac_peer)).status == 481
    await asyncio.sleep(0)
