"""Sans-IO parts of the proxies domain: states/backoff, gb_id, URLs, access-unit assembly."""

from __future__ import annotations

from fractions import Fraction

import av.error
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sharpeyes.media.testvideo import generate_h264
from sharpeyes.proxies.importer import _rows, read_rows, to_body
from sharpeyes.proxies.onvif import parse_xaddr, velocity
from sharpeyes.proxies.pull import AccessUnitAssembler, to_90k
from sharpeyes.proxies.state import (
    Backoff,
    ProxyError,
    ProxyRuntime,
    ProxyState,
    check_gb_id,
    check_url,
    classify,
    make_gb_id,
    next_serial,
    split_credentials,
    with_credentials,
)


def test_backoff_doubles_and_caps() -> None:
    b = Backoff(0.5, 4.0, 0.0)
    assert [b.delay(n) for n in range(0, 7)] == [0.0, 0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    jittered = Backoff(1.0, 60.0, 0.1)
    assert all(0.9 * 8 <= jittered.delay(4) <= 1.1 * 8 for _ in range(50))


def test_runtime_always_on_reconnects_with_backoff() -> None:
    b = Backoff(1.0, 8.0, 0.0)
    rt = ProxyRuntime(1, on_demand=False)
    rt.connecting("s1")
    assert rt.state == ProxyState.CONNECTING and not rt.due(0.0)
    assert rt.ended(ProxyError.CONNECT_FAILED, "refused", 100.0, b) == 101.0
    assert rt.state == ProxyState.FAILED and rt.last_error == ProxyError.CONNECT_FAILED
    assert not rt.due(100.5) and rt.due(101.0)
    rt.connecting("s2")
    assert rt.ended(ProxyError.CONNECT_FAILED, "refused", 200.0, b) == 202.0
    assert rt.retry_delay_s == 2.0
    rt.connecting("s3")
    rt.streaming()
    assert rt.failures == 0 and rt.last_error is None and rt.state == ProxyState.STREAMING
    assert rt.ended(None, "stopped", 300.0, b) == 300.0  # always-on: restart at once
    assert rt.reconnects == 2


def test_runtime_on_demand_does_not_retry_by_itself() -> None:
    rt = ProxyRuntime(1, on_demand=True)
    rt.connecting("s1")
    assert rt.ended(ProxyError.AUTH_FAILED, "401", 10.0, Backoff()) is None
    assert rt.state == ProxyState.FAILED and not rt.due(1e9)
    rt.connecting("s2")
    rt.streaming()
    assert rt.ended(None, "idle", 20.0, Backoff()) is None and rt.state == ProxyState.IDLE


def test_reconnect_storm() -> None:
    rt = ProxyRuntime(1, on_demand=False)
    for i in range(5):
        rt.connecting(f"s{i}")
        rt.ended(ProxyError.NO_FRAMES, "x", 10.0 * i, Backoff())
    assert rt.storm(45.0) and not rt.storm(10_000.0)


def test_classify_ffmpeg_errors() -> None:
    assert classify(av.error.HTTPUnauthorizedError(-1, "Server returned 401")) == "auth_failed"
    assert classify(av.error.HTTPForbiddenError(-1, "403")) == "auth_failed"
    assert classify(ConnectionRefusedError(111, "refused")) == "connect_failed"
    assert classify(av.error.HTTPNotFoundError(-1, "404 Not Found")) == "connect_failed"


def test_gb_id() -> None:
    assert make_gb_id("34020000", "00", 7) == "34020000001328000007"
    assert check_gb_id("34020000001310000001") == "34020000001310000001"
    for bad in ("3402000000132800000", "34020000002000000001", "3402000000132800000x"):
        with pytest.raises(ValueError):
            check_gb_id(bad)
    assert next_serial({1, 2, 4}, 1, 9) == 3
    with pytest.raises(ValueError, match="serial_range"):
        next_serial({1, 2}, 1, 2)


@given(
    user=st.text(min_size=1, max_size=12),
    password=st.text(max_size=12),
    path=st.sampled_from(["/cam", "/Streaming/Channels/101", "/live?ch=1&s=0"]),
)
def test_credentials_round_trip(user: str, password: str, path: str) -> None:
    url = f"rtsp://192.0.2.9:554{path}"
    full = with_credentials(url, user, password)
    assert split_credentials(full) == (url, user, password or None)


@given(st.text(max_size=64))
def test_check_url_never_crashes(text: str) -> None:
    try:
        out = check_url(text)
    except ValueError:
        return
    assert out.split("://")[0].lower() in ("rtsp", "rtsps", "http", "https")


def test_check_url_refuses_credentials_and_other_schemes() -> None:
    with pytest.raises(ValueError):
        check_url("rtsp://a:b@192.0.2.1/x")
    with pytest.raises(ValueError):
        check_url("file:///etc/passwd")
    assert check_url(" rtsps://cam.local/x ") == "rtsps://cam.local/x"


def test_velocity_and_xaddr() -> None:
    assert velocity("left", 255) == (-1.0, 0.0, 0.0)
    assert velocity("downright", 51) == (0.2, -0.2, 0.0)
    assert velocity("zoomout", 0) == (0.0, 0.0, -0.004)  # speed 0 still moves, slowly
    assert parse_xaddr("http://10.0.0.5:8000/onvif/device_service") == ("10.0.0.5", 8000)
    assert parse_xaddr("10.0.0.5") == ("10.0.0.5", 80)


def test_to_90k() -> None:
    assert to_90k(8000, Fraction(1, 8000)) == 90000
    assert to_90k(None, Fraction(1, 90000)) is None


def _annexb_units() -> list[tuple[bytes, bool]]:
    return [(f.data, f.keyframe) for f in generate_h264(frames=12, gop=6)]


def test_assembler_joins_split_access_units_and_adds_parameter_sets() -> None:
    units = _annexb_units()
    key = units[0][0]
    # split the keyframe into [SPS+PPS] and [IDR] with the same timestamp, like FFmpeg
    # gives it for rtph264pay config-interval=-1; and no AUDs at all
    from sharpeyes.media.es import parameter_sets, split_nals

    nals = split_nals(key)
    sps_pps = b"".join(b"\x00\x00\x00\x01" + n for n in nals if n[0] & 0x1F in (7, 8))
    rest = b"".join(b"\x00\x00\x00\x01" + n for n in nals if n[0] & 0x1F not in (7, 8, 9))
    asm = AccessUnitAssembler("h264", extradata=sps_pps)
    out = asm.push(sps_pps, 0, 0)
    out += asm.push(rest, 0, 0)
    assert out == []
    out += asm.push(units[1][0], 3600, 3600)
    assert len(out) == 1 and out[0].keyframe and out[0].pts == 0
    assert out[0].data == sps_pps + rest
    # a keyframe without in-band SPS/PPS gets the SDP's
    asm2 = AccessUnitAssembler("h264", extradata=sps_pps)
    asm2.push(rest, 0, 0)
    frames = asm2.flush()
    assert frames[0].keyframe and "sps" in parameter_sets("h264", frames[0].data)
    assert not asm2.flush()


@given(st.lists(st.binary(max_size=40), max_size=20))
def test_assembler_survives_garbage(chunks: list[bytes]) -> None:
    asm = AccessUnitAssembler("h265", extradata=b"\x01\x02")
    for i, c in enumerate(chunks):
        asm.push(c, i // 2, None)
    asm.flush()


def test_import_headers_and_values() -> None:
    rows = _rows(
        [["title"], ["名称", "RTSP地址", "经度", "按需拉流"], ["a", "rtsp://x/y", "1.5", "否"]]
    )
    assert rows == [(3, {"name": "a", "url": "rtsp://x/y", "longitude": "1.5", "on_demand": "否"})]
    body = to_body(rows[0][1])
    assert body == {"name": "a", "url": "rtsp://x/y", "longitude": 1.5, "on_demand": False}
    with pytest.raises(ValueError):
        to_body({"url": "rtsp://x", "latitude": "north"})
    gbk = "名称,取流地址\n东门,rtsp://192.0.2.1/a\n".encode("gb18030")
    assert read_rows("a.csv", gbk)[0][1]["name"] == "东门"
