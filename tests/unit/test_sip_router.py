"""The SIP request router: (method, peer kind) → handler, guards, refusals, 405/501."""

from __future__ import annotations

import asyncio

from sharpeyes.gb28181.message import SipRequest, SipResponse, parse_message, response_for
from sharpeyes.sip.router import ANY, DEVICE_SIDE, PeerKind, SipRouter
from sharpeyes.sip.transport import Peer

DEVICE = Peer("udp", "127.0.0.1", 5060)
UPPER = Peer("udp", "127.0.0.2", 5060)


def _req(method: str, call_id: str = "c1") -> SipRequest:
    raw = (
        f"{method} sip:34020000002000000001@3402000000 SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1\r\n"
        "From: <sip:34020000001320000001@3402000000>;tag=1\r\n"
        "To: <sip:34020000002000000001@3402000000>\r\n"
        f"Call-ID: {call_id}\r\nCSeq: 1 {method}\r\nMax-Forwards: 70\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()
    msg = parse_message(raw)
    assert isinstance(msg, SipRequest)
    return msg


def _answer(status: int):  # type: ignore[no-untyped-def]
    async def handler(req: SipRequest, _peer: Peer) -> SipResponse:
        return response_for(req, status)

    return handler


def _router() -> SipRouter:
    r = SipRouter()
    r.classify_with(lambda _req, peer: PeerKind.UPPER if peer.host == "127.0.0.2" else None)
    r.add(ANY, PeerKind.UPPER, _answer(299))
    r.add("MESSAGE", DEVICE_SIDE, _answer(202), when=lambda req, _p: req.call_id == "dlg")
    r.add("MESSAGE", DEVICE_SIDE, _answer(200))
    r.add("OPTIONS", DEVICE_SIDE, lambda req, _p: response_for(req, 200))  # sync handler
    r.refuse("INVITE", 488, "Not Acceptable Here")
    return r


def _status(r: SipRouter, req: SipRequest, peer: Peer = DEVICE) -> int | None:
    resp = asyncio.run(r.dispatch(req, peer))
    return None if resp is None else resp.status


def test_method_and_kind_pick_the_handler() -> None:
    r = _router()
    assert _status(r, _req("MESSAGE")) == 200
    assert _status(r, _req("MESSAGE"), UPPER) == 299  # the upper's catch-all
    assert _status(r, _req("INVITE"), UPPER) == 299
    assert _status(r, _req("OPTIONS")) == 200
    assert r.kind_of(_req("MESSAGE"), DEVICE) is PeerKind.DEVICE


def test_guarded_handler_first_then_the_next() -> None:
    r = _router()
    assert _status(r, _req("MESSAGE", call_id="dlg")) == 202
    assert _status(r, _req("MESSAGE", call_id="other")) == 200


def test_unhandled_requests_follow_rfc_3261() -> None:
    r = _router()
    assert _status(r, _req("INVITE")) == 488  # a refusal registered for the method
    resp = asyncio.run(r.dispatch(_req("PUBLISH"), DEVICE))
    assert resp is not None and resp.status == 405  # known method, not allowed here
    assert resp.headers["Allow"] == "MESSAGE, ACK, OPTIONS, INVITE"
    assert _status(r, _req("TELEPORT")) == 501  # never heard of it (§8.2.1)
    assert _status(r, _req("ACK")) is None  # an ACK is never answered
