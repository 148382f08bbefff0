"""Interop quirks at the unit level: datagram body fallback, sim quirks and CLI options."""

from __future__ import annotations

import pytest

from sharpeyes.devices.interop import InteropCounters, Quirk
from sharpeyes.gb28181.message import StreamParser, parse_message
from sharpeyes.sim import cli as sim_cli
from sharpeyes.sim.device import FAULTS, QUIRKS, CharCountedRequest, SimDeviceConfig

BODY = (
    '<?xml version="1.0" encoding="UTF-8"?>\r\n'
    "<Response><DeviceName>城关镇</DeviceName></Response>\r\n"
)


def _request(content_length: int, body: bytes) -> bytes:
    return (
        "MESSAGE sip:34020000002000000001@3402000000 SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bK1\r\n"
        "From: <sip:34020000001320000001@3402000000>;tag=a\r\n"
        "To: <sip:34020000002000000001@3402000000>\r\n"
        "Call-ID: c1\r\nCSeq: 1 MESSAGE\r\nMax-Forwards: 70\r\n"
        "Content-Type: Application/MANSCDP+xml\r\n"
        f"Content-Length: {content_length}\r\n\r\n"
    ).encode() + body


def test_short_content_length_keeps_the_rest_of_the_datagram() -> None:
    body = BODY.encode()
    chars = len(BODY)
    assert chars < len(body)
    msg = parse_message(_request(chars, body))
    assert msg.body == body[:chars]  # RFC 3261 18.3 still applies to the body itself
    assert msg.datagram_rest == body
    exact = parse_message(_request(len(body), body))
    assert exact.body == body and exact.datagram_rest is None
    padded = parse_message(_request(len(body), body + b"\r\n"))  # trailing CRLF: no fallback
    assert padded.datagram_rest is None
    # Over a stream, framing is Content-Length: never any "rest".
    (framed,) = StreamParser().feed(_request(len(body), body))
    assert framed.datagram_rest is None


def test_char_counted_request_declares_characters() -> None:
    plain = parse_message(_request(len(BODY.encode()), BODY.encode()))
    req = CharCountedRequest(headers=plain.headers, body=plain.body, method="MESSAGE", uri="sip:x")
    again = parse_message(req.to_bytes())
    assert again.headers["Content-Length"] == str(len(BODY))
    assert again.datagram_rest == BODY.encode()


def test_counters_per_device_and_total() -> None:
    c = InteropCounters()
    c.count("A", Quirk.SDP_BAD_SSRC)
    c.count("A", Quirk.SDP_BAD_SSRC)
    c.count("B", Quirk.CONTENT_LENGTH_CHARS)
    assert c.for_device("A") == {"sdp_bad_ssrc": 2, "content_length_chars": 0}
    assert c.for_device("unknown") == {"sdp_bad_ssrc": 0, "content_length_chars": 0}
    snap = c.snapshot()
    assert snap["sdp_bad_ssrc"] == 2 and snap["content_length_chars"] == 1


def test_quirks_are_switchable_sim_options() -> None:
    assert {"sdp_bad_ssrc", "content_length_chars", "gbk_names"} <= QUIRKS <= FAULTS
    cfg = SimDeviceConfig(device_id="34020000001320000001", password="x", faults={"sdp_bad_ssrc"})
    assert cfg.faults == {"sdp_bad_ssrc"}
    with pytest.raises(ValueError, match="unknown faults"):
        SimDeviceConfig(device_id="34020000001320000001", password="x", faults={"nope"})


def test_channels_option_applies_to_ipcs_too() -> None:
    configs = sim_cli.generated_configs(
        count=10,
        center="34020000",
        password="x",
        channels=4,
        ipc_channels=4,
        nvr_ratio=0.2,
        keepalive_interval=60,
        expires=3600,
        quirks=frozenset({"content_length_chars"}),
    )
    assert [len(c.channels) for c in configs] == [4] * 10
    assert {c.kind for c in configs} == {"ipc", "nvr"}
    assert all(c.faults == {"content_length_chars"} for c in configs)
    ids = [ch.channel_id for c in configs for ch in c.channels]
    assert len(set(ids)) == 40


def test_cli_refuses_options_it_would_ignore(capsys: pytest.CaptureFixture[str]) -> None:
    base = ["--server", "127.0.0.1:9", "--server-id", "34020000002000000001", "--county"]
    assert sim_cli.run([*base, "--channels", "4"]) == 2
    assert "--county defines its own devices and channels" in capsys.readouterr().err
    assert sim_cli.run(["--server", "127.0.0.1:9", "--server-id", "3402", "--channels", "0"]) == 2
    assert "--channels" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        sim_cli.run([*base, "--quirk", "not_a_quirk"])
    args = sim_cli._parser().parse_args(
        [*base, "--quirk", "sdp_bad_ssrc", "--quirk", "content_length_chars"]
    )
    assert args.quirk == ["sdp_bad_ssrc", "content_length_chars"]
