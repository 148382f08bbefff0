"""SIP parser/serializer: the standard's own REGISTER example, round trips, hostile bytes."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sharpeyes.gb28181.message import (
    SipParseError,
    SipRequest,
    SipResponse,
    StreamParser,
    parse_message,
    parse_name_addr,
    parse_uri,
    parse_via,
    response_for,
    salvage_request,
)

# GB/T 28181-2016 J.1 (first REGISTER of the registration example), CRLF line ends.
J1_REGISTER = (
    b"REGISTER sip:64010000002000000001@6401000000 SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 172.18.16.3:5060;rport;branch=z9hG4bK1371463273\r\n"
    b"From: <sip:64010000002020000001@6401000000>;tag=2043466181\r\n"
    b"To: <sip:64010000002020000001@6401000000>\r\n"
    b"Call-ID: 1011047669\r\n"
    b"CSeq: 1 REGISTER\r\n"
    b"Contact: <sip:64010000002020000001@172.18.16.3:5060>\r\n"
    b"Max-Forwards: 70\r\n"
    b"User-Agent: SIP UAS V2.1.2.438058\r\n"
    b"Expires: 3600\r\n"
    b"Content-Length: 0\r\n\r\n"
)


def test_parses_the_standards_register_example() -> None:
    msg = parse_message(J1_REGISTER)
    assert isinstance(msg, SipRequest)
    assert msg.method == "REGISTER"
    assert msg.cseq == (1, "REGISTER")
    via = msg.top_via()
    assert (via.transport, via.host, via.port, via.branch) == (
        "UDP",
        "172.18.16.3",
        5060,
        "z9hG4bK1371463273",
    )
    assert "rport" in via.params
    frm = parse_name_addr(msg.headers["From"])
    assert frm.uri.user == "64010000002020000001"
    assert frm.uri.host == "6401000000"  # all-digit host accepted
    assert frm.tag == "2043466181"
    assert msg.headers["expires"] == "3600"


def test_round_trip_keeps_headers_and_body() -> None:
    body = "<Notify><CmdType>Keepalive</CmdType><Name>萳</Name></Notify>".encode("gb18030")
    raw = J1_REGISTER.replace(b"REGISTER", b"MESSAGE").replace(
        b"Content-Length: 0", b"Content-Type: Application/MANSCDP+xml"
    )
    raw = raw.replace(b"\r\n\r\n", b"\r\nContent-Length: %d\r\n\r\n" % len(body)) + body
    msg = parse_message(raw)
    again = parse_message(msg.to_bytes())
    assert isinstance(msg, SipRequest) and isinstance(again, SipRequest)
    assert (again.method, again.uri) == ("MESSAGE", msg.uri) and msg.uri.startswith("sip:")
    assert again.body == body
    assert list(again.headers) == list(msg.headers)  # (name, value) pairs, in order
    assert again.headers["Content-Length"] == str(len(body))
    assert again.to_bytes() == msg.to_bytes()  # serialising is a fixpoint


def test_compact_headers_and_bare_lf() -> None:
    raw = (
        b"MESSAGE sip:1@2 SIP/2.0\nv: SIP/2.0/TCP 10.0.0.1;branch=z9hG4bKx\nf: <sip:a@b>;tag=1\n"
        b"t: <sip:c@d>\ni: abc\nCSeq: 7 MESSAGE\nl: 2\n\nhi"
    )
    msg = parse_message(raw)
    assert msg.call_id == "abc"
    assert msg.body == b"hi"
    assert msg.top_via().transport == "TCP"


def test_gbk_bytes_in_a_header_do_not_break_parsing() -> None:
    raw = J1_REGISTER.replace(
        b"User-Agent: SIP UAS V2.1.2.438058", "User-Agent: 海康威视".encode("gbk")
    )
    assert parse_message(raw).headers["User-Agent"] == "海康威视"


@pytest.mark.parametrize(
    ("mutation", "status"),
    [
        (lambda b: b.replace(b"Content-Length: 0", b"Content-Length: 50"), 400),  # lying length
        (lambda b: b.replace(b"Content-Length: 0", b"Content-Length: -1"), 400),
        (lambda b: b.replace(b"CSeq: 1 REGISTER", b"CSeq: 1 INVITE"), 400),
        (lambda b: b.replace(b"Call-ID: 1011047669\r\n", b""), 400),
        (lambda b: b.replace(b"SIP/2.0\r\n", b"SIP/3.0\r\n", 1), 400),
        (lambda b: b[:-4], 400),  # no end of headers
        (lambda b: b + b"x" * 70_000, 513),
        (lambda b: b.replace(b"Max-Forwards: 70\r\n", b"X-A: 1\r\n" * 200), 400),
    ],
)
def test_bad_messages_raise_with_status(mutation, status) -> None:
    with pytest.raises(SipParseError) as err:
        parse_message(mutation(J1_REGISTER))
    assert err.value.status == status


def test_shorter_content_length_truncates_body() -> None:
    raw = J1_REGISTER.replace(b"Content-Length: 0", b"Content-Length: 2") + b"abcdef"
    assert parse_message(raw).body == b"ab"


def test_salvage_lets_a_bad_request_get_its_400() -> None:
    bad = J1_REGISTER.replace(b"Content-Length: 0", b"Content-Length: 99")
    req = salvage_request(bad)
    assert req is not None
    resp = response_for(req, 400, "bad length")
    again = parse_message(resp.to_bytes())
    assert isinstance(again, SipResponse) and again.status == 400
    assert again.call_id == "1011047669"
    assert salvage_request(b"SIP/2.0 200 OK\r\n\r\n") is None
    assert salvage_request(b"\x00\xff garbage") is None


def test_stream_parser_frames_split_and_joined_messages() -> None:
    body = b"<x/>"
    one = J1_REGISTER.replace(b"Content-Length: 0", b"Content-Length: 4") + body
    data = b"\r\n\r\n" + one + one + one
    parser = StreamParser()
    out = []
    for i in range(0, len(data), 7):
        out.extend(parser.feed(data[i : i + 7]))
    assert len(out) == 3 and all(m.body == body for m in out)


def test_stream_parser_refuses_endless_headers() -> None:
    parser = StreamParser()
    with pytest.raises(SipParseError):
        for _ in range(100):
            parser.feed(b"X-Long: " + b"a" * 1000 + b"\r\n")


def test_uri_and_via_forms() -> None:
    uri = parse_uri("<sip:34020000001320000001@3402000000:5060;transport=tcp>")
    assert (uri.user, uri.host, uri.port, uri.params) == (
        "34020000001320000001",
        "3402000000",
        5060,
        {"transport": "tcp"},
    )
    assert parse_uri("sip:[::1]:5070").host == "::1"
    assert parse_via("SIP/2.0/UDP [::1]:5060;branch=z9hG4bKa").host == "::1"
    na = parse_name_addr('"Cam 1" <sip:1@2>;tag=abc')
    assert (na.display, na.tag) == ("Cam 1", "abc")
    for bad in ("http://x", "sip:", "sip:a@b:99999", "sip:a@b:x"):
        with pytest.raises(SipParseError):
            parse_uri(bad)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=2000))
def test_random_bytes_only_raise_parse_errors(data: bytes) -> None:
    with contextlib.suppress(SipParseError):
        parse_message(data)
    salvage_request(data)
    with contextlib.suppress(SipParseError):
        StreamParser().feed(data)


@settings(max_examples=400, deadline=None)
@given(st.integers(0, len(J1_REGISTER) - 1), st.binary(min_size=1, max_size=8), st.booleans())
def test_mutated_register_only_raises_parse_errors(pos: int, junk: bytes, truncate: bool) -> None:
    data = J1_REGISTER[:pos] if truncate else J1_REGISTER[:pos] + junk + J1_REGISTER[pos:]
    try:
        msg = parse_message(data)
    except SipParseError:
        return
    try:
        msg.to_bytes()
        msg.top_via()
    except SipParseError:
        pass
