"""Cascade pure parts: the catalog tree we present, Appendix N parts, SDP answers."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sharpeyes.cascade.catalog import (
    SharedChannel,
    catalog_items,
    catalog_parts,
    civil_nodes,
    id_conflict,
)
from sharpeyes.cascade.sdp import DISCARD_PORT, SendMode, answer_for, plan_for
from sharpeyes.gb28181.manscdp import parse_manscdp
from sharpeyes.gb28181.sdp import SdpError, parse_sdp

US = "34020100002000000001"


def ch(n: int, civil: str | None = "34020101", online: bool = True, **kw: object) -> SharedChannel:
    cid = f"340201000013100{n:05d}"
    return SharedChannel(
        channel_pk=n,
        device_id="34020100001320000001",
        channel_id=cid,
        exposed_id=str(kw.pop("exposed_id", cid)),
        name=f"摄像机{n}",
        civil_code=civil,
        online=online,
        **kw,  # type: ignore[arg-type]
    )


def test_tree_has_civil_nodes_parents_first_and_channels_under_them() -> None:
    items = catalog_items(US, [ch(1), ch(2, civil="34020202"), ch(3, civil=None, online=False)])
    ids = [i["DeviceID"] for i in items]
    assert ids[:6] == ["34", "3402", "340201", "340202", "34020101", "34020202"]
    by_id = {i["DeviceID"]: i for i in items}
    assert "ParentID" not in by_id["34"]
    assert by_id["340201"]["ParentID"] == "3402"
    assert by_id["34020101"]["ParentID"] == "340201"
    c1, c2, c3 = (by_id[f"340201000013100{n:05d}"] for n in (1, 2, 3))
    assert c1["ParentID"] == "34020101" and c1["Parental"] == 0 and c1["Status"] == "ON"
    assert c2["ParentID"] == "34020202"
    assert c3["ParentID"] == US and c3["Status"] == "OFF"  # no region: under our platform


def test_custom_ids_and_names_are_what_the_upper_sees() -> None:
    custom = "34020100001310099999"
    items = catalog_items(US, [ch(1, exposed_id=custom)])
    chan = items[-1]
    assert chan["DeviceID"] == custom
    assert "340201000013100" + "00001" not in {i["DeviceID"] for i in items}


def test_id_collision_is_refused_within_one_upper() -> None:
    custom = "34020100001310099999"
    shared = [ch(1, exposed_id=custom), ch(2)]
    other = id_conflict(shared, 2, custom)
    assert other is not None and other.channel_pk == 1
    assert id_conflict(shared, 2, shared[1].channel_id) is None  # its own real ID
    assert id_conflict(shared, 1, custom) is None  # re-saving the same override
    assert id_conflict(shared, 1, shared[1].exposed_id) is not None  # another's real ID


def test_civil_nodes_ignore_junk() -> None:
    assert civil_nodes(["", None, "abc", "00000000"]) == []


@pytest.mark.parametrize(
    ("count", "group", "parts"), [(0, 10, 1), (1, 10, 1), (10, 10, 1), (25, 10, 3), (7, 1, 7)]
)
def test_appendix_n_parts(count: int, group: int, parts: int) -> None:
    items = catalog_items(US, [ch(n, civil=None) for n in range(1, count + 1)])
    bodies = catalog_parts(42, US, items, group_size=group, charset="GB2312")
    assert len(bodies) == parts
    msgs = [parse_manscdp(b) for b in bodies]
    assert {m.sn for m in msgs} == {42}
    assert all(m.sum_num == count for m in msgs)  # SumNum exact in every part
    assert sum(len(m.items) for m in msgs) == count
    assert all(len(m.items) <= group for m in msgs)
    if count == 0:
        assert msgs[0].sum_num == 0 and msgs[0].items == []


@settings(deadline=None, max_examples=40)
@given(st.integers(min_value=0, max_value=40), st.integers(min_value=1, max_value=20))
def test_parts_cover_every_item_once(count: int, group: int) -> None:
    items = catalog_items(US, [ch(n, civil=None) for n in range(1, count + 1)])
    bodies = catalog_parts(1, US, items, group_size=group, charset="UTF-8")
    seen = [i["DeviceID"] for b in bodies for i in parse_manscdp(b).items]
    assert seen == [i["DeviceID"] for i in items]


# ------------------------------------------------------------------ SDP
def offer(
    proto: str = "RTP/AVP",
    setup: str | None = None,
    ssrc: str | None = "0100000001",
    port: int = 30000,
) -> bytes:
    lines = [
        "v=0",
        "o=34020000002000000001 0 0 IN IP4 10.0.0.9",
        "s=Play",
        "c=IN IP4 10.0.0.9",
        "t=0 0",
        f"m=video {port} {proto} 96 98 97",
        "a=recvonly",
        "a=rtpmap:96 PS/90000",
        "a=rtpmap:98 H264/90000",
        "a=rtpmap:97 MPEG4/90000",
    ]
    if setup:
        lines += [f"a=setup:{setup}", "a=connection:new"]
    if ssrc is not None:
        lines.append(f"y={ssrc}")
    lines.append("f=v/2/4///a///")
    return ("\r\n".join(lines) + "\r\n").encode()


def answer(raw: bytes, port: int = 40000):  # type: ignore[no-untyped-def]
    o = parse_sdp(raw)
    plan = plan_for(o, domain="3402010000", serial=7)
    a = answer_for(o, plan, local_id=US, address="192.0.2.1", port=port)
    return plan, parse_sdp(a.to_bytes())


def test_udp_offer_echoes_y() -> None:
    plan, a = answer(offer())
    assert plan.mode == SendMode.UDP and (plan.dest_host, plan.dest_port) == ("10.0.0.9", 30000)
    m = a.first("video")
    assert m.proto == "RTP/AVP" and m.port == 40000 and m.direction == "sendonly"
    assert (m.ssrc or a.ssrc) == "0100000001" and plan.ssrc == 100000001 and plan.ssrc_echoed
    assert m.formats == [96] and m.rtpmap[96] == "PS/90000"


def test_missing_y_is_synthesised_by_the_ssrc_rules() -> None:
    plan, a = answer(offer(ssrc=None))
    text = a.first("video").ssrc or a.ssrc
    assert text == plan.ssrc_text == "0201000007"  # live, domain digits 4-8, serial
    assert not plan.ssrc_echoed


def test_tcp_passive_offer_means_we_connect() -> None:
    plan, a = answer(offer("TCP/RTP/AVP", "passive"), port=0)
    m = a.first("video")
    assert plan.mode == SendMode.TCP_CONNECT and plan.dest_port == 30000
    assert m.proto == "TCP/RTP/AVP" and m.setup == "active"
    assert m.port == DISCARD_PORT  # never 0


def test_tcp_without_setup_defaults_to_upper_listening() -> None:
    plan, a = answer(offer("TCP/RTP/AVP", None))
    assert plan.mode == SendMode.TCP_CONNECT and a.first("video").setup == "active"


def test_tcp_active_offer_means_we_listen_on_our_port() -> None:
    plan, a = answer(offer("TCP/RTP/AVP", "active", port=0), port=40002)
    m = a.first("video")
    assert plan.mode == SendMode.TCP_LISTEN
    assert m.setup == "passive" and m.port == 40002


def test_unusable_offers_are_refused() -> None:
    with pytest.raises(SdpError):
        plan_for(parse_sdp(offer(port=0)), domain="3402010000", serial=1)
    # a malformed y= is no refusal (docs/interop.md): it counts as absent and we choose one
    plan = plan_for(parse_sdp(offer(ssrc="12ab")), domain="3402010000", serial=1)
    assert not plan.ssrc_echoed and plan.ssrc_text == "0201000001"
    o = parse_sdp(offer("TCP/RTP/AVP", "active", port=0))
    plan = plan_for(o, domain="3402010000", serial=1)
    with pytest.raises(ValueError):
        answer_for(o, plan, local_id=US, address="192.0.2.1", port=0)
