"""SDP (Appendix F), SSRC (F note 4) and Subject (Appendix K): bytes in, objects out."""

from __future__ import annotations

import pytest

from sharpeyes.gb28181.sdp import (
    SdpError,
    build_subject,
    make_ssrc,
    parse_sdp,
    parse_ssrc,
    parse_subject,
    play_answer,
    play_offer,
)

# J.4.4 / J.4.5 of the standard, with the spaces the PDF extraction lost put back.
J44 = (
    "v=0\r\n"
    "o=64010000002020000001 0 0 IN IP4 172.18.16.3\r\n"
    "s=Play\r\n"
    "c=IN IP4 172.18.16.3\r\n"
    "t=0 0\r\n"
    "m=video 6000 RTP/AVP 96 98 97\r\n"
    "a=recvonly\r\n"
    "a=rtpmap:96 PS/90000\r\n"
    "a=rtpmap:98 H264/90000\r\n"
    "a=rtpmap:97 MPEG4/90000\r\n"
    "y=0100000001\r\n"
)
J45 = (
    "v=0\n"
    "o=64010000041110000044 0 0 IN IP4 172.24.18.44\n"
    "s=EmbeddedNetDVR\n"
    "c=IN IP4 172.24.18.44\n"
    "t=0 0\n"
    "m=video 8412 RTP/AVP 96 98\n"
    "a=sendonly\n"
    "a=rtpmap:96 PS/90000\n"
    "a=rtpmap:98 H264/90000\n"
    "y=100000001\n"
)


def test_standard_examples_parse() -> None:
    offer = parse_sdp(J44.encode())
    assert offer.operation == "play"
    assert offer.origin_user == "64010000002020000001"
    m = offer.first("video")
    assert (m.port, m.proto, m.formats, m.direction) == (6000, "RTP/AVP", [96, 98, 97], "recvonly")
    assert m.encoding(96) == "PS" and m.encoding(98) == "H264" and not m.tcp
    assert offer.address_of(m) == "172.18.16.3"
    assert offer.ssrc_of(m) == 100000001
    answer = parse_sdp(J45)  # bare LF, as some devices send
    am = answer.first()
    assert (am.port, am.direction, answer.address_of(am)) == (8412, "sendonly", "172.24.18.44")
    assert answer.ssrc_of(am) == 100000001


def test_offer_udp_is_crlf_terminated_and_round_trips() -> None:
    sd = play_offer(
        local_id="34020000002000000001", address="10.0.0.5", port=30002, ssrc="0200000002"
    )
    raw = sd.to_bytes()
    assert raw.endswith(b"y=0200000002\r\n")
    assert b"\n" not in raw.replace(b"\r\n", b"")
    text = raw.decode()
    assert "s=Play\r\n" in text and "t=0 0\r\n" in text and "c=IN IP4 10.0.0.5\r\n" in text
    assert "m=video 30002 RTP/AVP 96 98 97 99\r\n" in text
    assert "a=recvonly\r\n" in text and "a=rtpmap:96 PS/90000\r\n" in text
    assert "a=setup" not in text and "streamnumber" not in text
    again = parse_sdp(raw)
    assert again.first().ssrc == "0200000002" and again.first().port == 30002


@pytest.mark.parametrize(
    ("transport", "setup"), [("tcp-passive", "passive"), ("tcp-active", "active")]
)
def test_offer_tcp_setup_and_connection(transport: str, setup: str) -> None:
    text = play_offer(
        local_id="34020000002000000001",
        address="10.0.0.5",
        port=30004,
        ssrc="0200000004",
        transport=transport,
        stream_number=1,
    ).to_text()
    assert "m=video 30004 TCP/RTP/AVP 96 98 97 99\r\n" in text
    assert f"a=setup:{setup}\r\n" in text and "a=connection:new\r\n" in text
    assert "a=streamnumber:1\r\n" in text and "a=streamprofile:1\r\n" in text
    # y= comes after the media attributes
    assert text.index("a=connection:new") < text.index("y=0200000004")


def test_never_advertise_port_zero() -> None:
    with pytest.raises(ValueError):
        play_offer(local_id="1", address="1.2.3.4", port=0, ssrc="0")
    sd = parse_sdp(J44)
    sd.first().port = 0
    with pytest.raises(SdpError):
        sd.to_bytes()


@pytest.mark.parametrize(
    ("offer_setup", "answer_setup"), [("passive", "active"), ("active", "passive")]
)
def test_answer_complements_tcp_setup(offer_setup: str, answer_setup: str) -> None:
    offer = play_offer(
        local_id="34020000002000000001",
        address="10.0.0.5",
        port=30000,
        ssrc="0200000001",
        transport=f"tcp-{offer_setup}",
    )
    ans = play_answer(
        offer, local_id="34020000001310000001", address="10.0.0.9", port=15060, ssrc="0200000001"
    )
    parsed = parse_sdp(ans.to_bytes())
    m = parsed.first()
    assert m.setup == answer_setup and m.tcp and m.direction == "sendonly"
    assert m.formats == [96] and m.rtpmap == {96: "PS/90000"}


def test_ssrc_rules() -> None:
    # Appendix F: "13010000002000000001" → digits 4-8 "10000"
    assert make_ssrc("1301000000", 1) == "0100000001"
    assert make_ssrc("3402000000", 9999) == "0200009999"
    assert make_ssrc("3402000000", 12, history=True) == "1200000012"
    assert parse_ssrc("0200000001") == 200000001
    assert parse_ssrc("1999999999") == 1999999999  # fits 32 bits
    for bad in ("", "abc", "12345678901", "4294967296"):
        with pytest.raises(SdpError):
            parse_ssrc(bad)
    for bad_serial in (-1, 10000):
        with pytest.raises(ValueError):
            make_ssrc("3402000000", bad_serial)
    with pytest.raises(ValueError):
        make_ssrc("34x2", 1)


def test_subject() -> None:
    s = build_subject("34020000001310000001", "0200000001", "34020000002000000001", "7")
    assert s == "34020000001310000001:0200000001,34020000002000000001:7"
    assert parse_subject(s) == ("34020000001310000001", "0200000001", "34020000002000000001", "7")
    with pytest.raises(ValueError):
        build_subject("a,b", "0", "c", "1")
    with pytest.raises(SdpError):
        parse_subject("no-separators")


def test_lenient_parsing_of_device_quirks() -> None:
    text = (
        "v=0\r\n"
        "o=34020000001310000001 0 0 IN IP4 192.168.1.108\r\n"
        "s=Play\r\n"
        "y=0200005549\r\n"  # y= before m= (session level)
        "t=0 0\r\n"
        "junk line\r\n"
        "m=video 10032/2 TCP/RTP/AVP 96 abc\r\n"
        "c=IN IP4 192.168.1.108/127\r\n"  # media-level c= with a TTL
        "a=sendonly\r\n"
        "a=rtpmap:96 PS/90000\r\n"
        "a=streamprofile:0\r\n"
        "a=setup:ACTIVE\r\n"
        "f=v/2/5/25/1/4096a///\r\n"
    )
    sd = parse_sdp(text)
    m = sd.first()
    assert m.port == 10032 and m.formats == [96] and m.setup == "active"
    assert sd.address_of(m) == "192.168.1.108"
    assert sd.ssrc_of(m) == 200005549
    assert ("streamprofile", "0") in m.attributes
    assert m.media_format == "v/2/5/25/1/4096a///"


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"o=x 0 0 IN IP4 1.2.3.4\r\n",  # no v=
        b"v=0\r\ns=Play\r\n",  # no o=
        b"v=0\r\no=x\r\n",  # short o=
        b"v=0\r\no=x 0 0 IN IP4 1.2.3.4\r\nm=video 99999 RTP/AVP 96\r\n",
        b"v=0\r\no=x 0 0 IN IP4 1.2.3.4\r\nc=IN\r\n",
        b"v=0\r\no=x 0 0 IN IP4 1.2.3.4\r\nt=now later\r\n",
        b"v=0\r\n" + b"a=x\r\n" * 300,
        b"v=0\r\n" + b"x" * 20000,
    ],
)
def test_malformed_sdp_raises_sdp_error(body: bytes) -> None:
    with pytest.raises(SdpError):
        parse_sdp(body)


def test_missing_pieces_are_reported() -> None:
    sd = parse_sdp("v=0\r\no=x 0 0 IN IP4 1.2.3.4\r\ns=Play\r\nm=audio 8000 RTP/AVP 8\r\n")
    with pytest.raises(SdpError):
        sd.first("video")
    with pytest.raises(SdpError):
        sd.address_of(sd.first("audio"))
    assert sd.ssrc_of(sd.first("audio")) is None


@pytest.mark.parametrize("bad", ["34020000001320000001", "02000x0001", "4294967296", "-1"])
def test_malformed_ssrc_is_kept_aside_not_fatal(bad: str) -> None:
    """Some devices answer y=<their 20-digit ID>: the SDP stays usable, the SSRC unknown."""
    sd = parse_sdp(
        "v=0\r\no=34020000001320000001 0 0 IN IP4 10.0.0.7\r\ns=Play\r\nc=IN IP4 10.0.0.7\r\n"
        f"t=0 0\r\nm=video 6000 RTP/AVP 96\r\na=rtpmap:96 PS/90000\r\ny={bad}\r\n"
    )
    m = sd.first("video")
    assert sd.ssrc_of(m) is None
    assert sd.bad_ssrc_of(m) == bad
    good = parse_sdp(
        "v=0\r\no=x 0 0 IN IP4 1.2.3.4\r\ny=0200000001\r\nm=video 1 RTP/AVP 96\r\ny=" + bad
    )
    assert good.ssrc_of(good.first()) == 200000001 and good.bad_ssrc_of(good.first()) is None


def test_parsed_non_ascii_sdp_writes_back() -> None:
    """Found by fuzzing: re-serialising a parsed SDP with a non-ASCII origin raised."""
    sd = parse_sdp("v=0\r\no=摄像机 0 0 IN IP4 1.2.3.4\r\ns=Play\r\n".encode())
    assert parse_sdp(sd.to_bytes()).origin_user == "摄像机"
