"""Our 200 OK SDP for an upper platform's INVITE, and what it commits us to (pure).

Appendix F/L as an independent upper will check them: the offer's ``c=``/``m=``
say where to send; ``RTP/AVP`` is UDP; ``TCP/RTP/AVP`` with ``a=setup:passive``
(the upper listens, also assumed when ``setup`` is absent: Appendix L's default)
means we connect out, ``a=setup:active`` means we listen and answer our port. The
answer echoes the offer's ``y=`` SSRC, or synthesises one by the F note 4 rules
when there was none; it is ``a=sendonly`` with PS/90000 and never port 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sharpeyes.gb28181.sdp import (
    SdpError,
    SessionDescription,
    make_ssrc,
    parse_ssrc,
    play_answer,
)

DISCARD_PORT = 9  # RFC 4145: the active side's port is not used, but never 0


class SendMode(StrEnum):
    """How we deliver the forward (our side's role)."""

    UDP = "udp"
    TCP_CONNECT = "tcp-active"  # we connect to the upper (it answered/offered passive)
    TCP_LISTEN = "tcp-passive"  # the upper connects to us


@dataclass(frozen=True, slots=True)
class ForwardPlan:
    mode: SendMode
    dest_host: str
    dest_port: int
    ssrc: int
    ssrc_text: str
    ssrc_echoed: bool
    operation: str = "play"  # play | playback (a device recording, ``t=`` start/stop)
    start: int = 0
    stop: int = 0


def plan_for(offer: SessionDescription, *, domain: str, serial: int) -> ForwardPlan:
    """Where and how to send, from the upper's offer (raises SdpError when unusable)."""
    op = offer.operation
    if op not in ("play", "playback"):
        raise SdpError(f"unsupported session {offer.operation!r} (Play and Playback only)")
    start, stop = (offer.start, offer.stop) if op == "playback" else (0, 0)
    if op == "playback" and not 0 < start < stop:
        raise SdpError("a Playback offer needs t=<start> <stop> in Unix seconds")
    m = offer.first("video")
    host = offer.address_of(m)
    if m.tcp:
        mode = SendMode.TCP_LISTEN if m.setup == "active" else SendMode.TCP_CONNECT
    else:
        mode = SendMode.UDP
    if mode != SendMode.TCP_LISTEN and not 0 < m.port < 65536:
        raise SdpError("offer has no usable media port")
    text = (m.ssrc or offer.ssrc or "").strip()
    if text:
        ssrc = parse_ssrc(text)
        return ForwardPlan(mode, host, m.port, ssrc, text, True, op, start, stop)
    made = make_ssrc(domain, serial)
    return ForwardPlan(mode, host, m.port, int(made), made, False, op, start, stop)


def answer_for(
    offer: SessionDescription, plan: ForwardPlan, *, local_id: str, address: str, port: int
) -> SessionDescription:
    """The 200 OK body: sendonly PS, the plan's SSRC, our port (never 0)."""
    if plan.mode == SendMode.TCP_CONNECT:
        port = port if 0 < port < 65536 else DISCARD_PORT
    if not 0 < port < 65536:
        raise ValueError("never answer port 0")
    return play_answer(offer, local_id=local_id, address=address, port=port, ssrc=plan.ssrc_text)


__all__ = ["DISCARD_PORT", "ForwardPlan", "SendMode", "answer_for", "plan_for"]
