"""Fuzz targets: one per parser that reads bytes from the network.

Each target feeds one input to a parser and lets through only the exceptions the
parser declares (its ``*Error``, a ``ValueError`` subclass); anything else — an
``IndexError``, ``KeyError``, ``struct.error``, a hang or runaway memory — is a bug.
Used by ``tests/fuzz/test_fuzz.py`` (hypothesis, bounded, in CI) and by
``tests/fuzz/run_atheris.py`` (coverage-guided, long runs).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from functools import lru_cache

from sharpeyes.gb28181 import mansrtsp
from sharpeyes.gb28181.manscdp import ManscdpError, parse_manscdp
from sharpeyes.gb28181.message import SipParseError, StreamParser, parse_message
from sharpeyes.gb28181.sdp import SdpError, parse_sdp
from sharpeyes.media.detect import PayloadDepacketizer
from sharpeyes.media.ps import PsDemuxer, PsError
from sharpeyes.media.rtp import Rfc4571Deframer, RtpError, RtpReceiver, parse_rtp
from sharpeyes.media.ts import TsDemuxer, TsError

MAX_INPUT = 64 * 1024


def fuzz_sip(data: bytes) -> None:
    try:
        msg = parse_message(data)
        _ = (msg.call_id, msg.content_type, msg.to_bytes())
        for name in ("Via", "From", "To", "CSeq"):
            _ = msg.headers.get(name)
        with contextlib.suppress(SipParseError):
            _ = msg.cseq, msg.top_via()
    except SipParseError:
        pass
    with contextlib.suppress(SipParseError):
        StreamParser().feed(data)


def fuzz_sdp(data: bytes) -> None:
    try:
        sd = parse_sdp(data)
        for m in sd.media:
            with contextlib.suppress(SdpError):
                _ = sd.address_of(m), sd.ssrc_of(m), sd.bad_ssrc_of(m), m.tcp, m.encoding(96)
        parse_sdp(sd.to_bytes())  # what we parsed we can write and read back
    except SdpError:
        pass


def fuzz_manscdp(data: bytes) -> None:
    try:
        msg = parse_manscdp(data)
        _ = (msg.root, msg.cmd_type, msg.sn, msg.device_id, msg.fields, msg.items)
    except ManscdpError:
        pass


def fuzz_rtp(data: bytes) -> None:
    with contextlib.suppress(RtpError):
        parse_rtp(data)
    rx = RtpReceiver(None, reorder_window=8)
    # The same bytes as a packet stream: split at every 200th byte.
    for i in range(0, len(data), 200):
        rx.push(data[i : i + 200], i / 1000)  # declared: never raises
    rx.poll(10.0)
    rx.flush()
    with contextlib.suppress(RtpError):
        Rfc4571Deframer().feed(data)


def fuzz_ps(data: bytes) -> None:
    demux = PsDemuxer()
    with contextlib.suppress(PsError):
        demux.feed(data, end_of_frame=True)
    depay = PayloadDepacketizer()
    depay.push(memoryview(data), True, 0, False)  # declared: never raises on bad payloads
    depay.flush()


def fuzz_ts(data: bytes) -> None:
    with contextlib.suppress(TsError):
        TsDemuxer().feed(data)


def fuzz_mansrtsp(data: bytes) -> None:
    with contextlib.suppress(mansrtsp.MansrtspError):
        mansrtsp.parse(data)


TARGETS: dict[str, Callable[[bytes], None]] = {
    "sip": fuzz_sip,
    "sdp": fuzz_sdp,
    "manscdp": fuzz_manscdp,
    "rtp": fuzz_rtp,
    "ps": fuzz_ps,
    "ts": fuzz_ts,
    "mansrtsp": fuzz_mansrtsp,
}

# --- seeds: well-formed inputs from the standard's examples and our own muxers ---------

SIP_REGISTER = (
    b"REGISTER sip:34020000002000000001@3402000000 SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 192.168.1.64:5060;rport;branch=z9hG4bK1371463273\r\n"
    b"From: <sip:34020000001320000001@3402000000>;tag=2043466181\r\n"
    b"To: <sip:34020000001320000001@3402000000>\r\n"
    b"Call-ID: 1011047669\r\nCSeq: 1 REGISTER\r\n"
    b"Contact: <sip:34020000001320000001@192.168.1.64:5060>\r\n"
    b"Max-Forwards: 70\r\nUser-Agent: IP Camera\r\nExpires: 3600\r\nContent-Length: 0\r\n\r\n"
)
MANSCDP_CATALOG = (
    '<?xml version="1.0" encoding="GB2312"?>\r\n<Response>\r\n<CmdType>Catalog</CmdType>\r\n'
    "<SN>17430</SN>\r\n<DeviceID>34020000001320000001</DeviceID>\r\n<SumNum>1</SumNum>\r\n"
    '<DeviceList Num="1">\r\n<Item>\r\n<DeviceID>34020000001310000001</DeviceID>\r\n'
    "<Name>Camera 1</Name>\r\n<Manufacturer>Hikvision</Manufacturer>\r\n<Model>IP Camera</Model>"
    "\r\n<Owner>Owner</Owner>\r\n<CivilCode>3402000000</CivilCode>\r\n<Address>Address</Address>"
    "\r\n<Parental>0</Parental>\r\n<ParentID>34020000001320000001</ParentID>\r\n"
    "<SafetyWay>0</SafetyWay>\r\n<RegisterWay>1</RegisterWay>\r\n<Secrecy>0</Secrecy>\r\n"
    "<Status>ON</Status>\r\n<Longitude>117.1</Longitude>\r\n<Latitude>31.6</Latitude>\r\n"
    "<Info><PTZType>1</PTZType></Info>\r\n</Item>\r\n</DeviceList>\r\n</Response>\r\n"
).encode("gb2312")
MANSCDP_KEEPALIVE = (
    b'<?xml version="1.0"?>\r\n<Notify>\r\n<CmdType>Keepalive</CmdType>\r\n<SN>43</SN>\r\n'
    b"<DeviceID>34020000001320000001</DeviceID>\r\n<Status>OK</Status>\r\n</Notify>\r\n"
)
SDP_ANSWER = (
    b"v=0\r\no=34020000001310000001 0 0 IN IP4 192.168.1.64\r\ns=Play\r\n"
    b"c=IN IP4 192.168.1.64\r\nt=0 0\r\nm=video 15060 RTP/AVP 96\r\na=sendonly\r\n"
    b"a=rtpmap:96 PS/90000\r\ny=0100000001\r\nf=v/2/4///a///\r\n"
)
SDP_TCP_OFFER = (
    b"v=0\r\no=34020000002000000001 0 0 IN IP4 10.0.0.5\r\ns=Play\r\nu=34020000001310000001:0\r\n"
    b"c=IN IP4 10.0.0.5\r\nt=0 0\r\nm=video 30002 TCP/RTP/AVP 96 98 97\r\na=recvonly\r\n"
    b"a=rtpmap:96 PS/90000\r\na=rtpmap:98 H264/90000\r\na=rtpmap:97 MPEG4/90000\r\n"
    b"a=setup:passive\r\na=connection:new\r\ny=0200000002\r\n"
)


@lru_cache(maxsize=1)
def _media_seeds() -> dict[str, list[bytes]]:
    """Real H.264 in PS, TS and RTP (PyAV-encoded, a few frames; cached)."""
    from sharpeyes.media.psmux import PsMuxer, packetize_rtp
    from sharpeyes.media.rtp import frame_rfc4571
    from sharpeyes.media.testvideo import generate_video
    from sharpeyes.media.tsmux import TsMuxer

    frames = generate_video("h264", frames=3, width=64, height=48)
    ps, ts = PsMuxer("h264"), TsMuxer("h264")
    packs = [ps.mux_video(f.data, f.pts, f.keyframe) for f in frames]
    tss = [ts.mux_video(f.data, f.pts, f.keyframe) for f in frames]
    rtp = [p for pack in packs for p in packetize_rtp(pack, ssrc=1, seq_start=0, ts=0)]
    return {
        "ps": [packs[0][:4000], b"".join(packs)[:MAX_INPUT]],
        "ts": [tss[0][: 188 * 20], b"".join(tss)[: 188 * 300]],
        "rtp": [rtp[0], b"".join(rtp[:5]), b"".join(frame_rfc4571(p) for p in rtp[:5])],
    }


def seeds(target: str) -> list[bytes]:
    if target == "sip":
        body = MANSCDP_KEEPALIVE
        message = SIP_REGISTER.replace(b"REGISTER sip", b"MESSAGE sip").replace(
            b"Content-Length: 0",
            b"Content-Type: Application/MANSCDP+xml\r\nContent-Length: %d" % len(body),
        )
        return [SIP_REGISTER, message + body]
    if target == "sdp":
        return [SDP_ANSWER, SDP_TCP_OFFER]
    if target == "manscdp":
        return [MANSCDP_CATALOG, MANSCDP_KEEPALIVE]
    if target == "mansrtsp":
        return [
            mansrtsp.play(1, position_s=100.0, scale=2.0).to_bytes(),
            mansrtsp.pause(2).to_bytes(),
        ]
    return _media_seeds()[target]
