"""MANSCDP bodies (Appendix A), the standard's Appendix J examples, Appendix N parts."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from sharpeyes.gb28181 import manscdp as m
from sharpeyes.gb28181.manscdp import ManscdpError, ManscdpMessage, parse_manscdp

DEV = "34020000001320000001"


def from_standard(text: str) -> str:
    """Undo what the PDF text extraction lost; the XML is otherwise the standard's.

    "<? xmlversion", "<DeviceListNum=2>", "</ Manufacturer>" and "<! --" are spaces
    lost or added by the extraction, not part of the examples.
    """
    text = text.replace("<? xmlversion=", "<?xml version=")
    text = re.sub(r'<(\w+?)Num="?(\d+)"?>', r'<\1 Num="\2">', text)
    text = re.sub(r"</\s+(\w+)>", r"</\1>", text)
    return re.sub(r"<!\s*(?:--|—)", "<!--", text)


# ---------------------------------------------------------------- Appendix J fixtures
# Copied from reference/GBT28181-2016-extracted.txt (page headers removed).

J6_1_PTZ = """<? xmlversion="1.0"?>
<Control>
<CmdType>DeviceControl</CmdType>
<SN>11</SN>
<DeviceID>64010000041310000345</DeviceID>
<PTZCmd>A50F4D1000001021</PTZCmd>
<Info>
<ControlPriority>5</ControlPriority>
</Info>
</Control>"""

J8_1_ALARM = """<? xmlversion="1.0"?>
<Notify>
<CmdType>Alarm</CmdType>
<SN>1</SN>
<DeviceID>64010000001340000101</DeviceID>
<AlarmPriority>4</AlarmPriority>
<AlarmTime>2009-12-04T16:23:32</AlarmTime>
<AlarmMethod>2</AlarmMethod>
</Notify>"""

J9_1_CATALOG_QUERY = """<? xmlversion="1.0"?>
<Query>
<CmdType>Catalog </CmdType>
<SN>17430</SN>
<DeviceID>64010000001110000001</DeviceID>
</Query>"""

J9_5_CATALOG = """<? xmlversion="1.0"?>
<Response>
<CmdType>Catalog </CmdType>
<SN>17430</SN>
<DeviceID>64010000001110000001</DeviceID>
<SumNum>100</SumNum>
<DeviceListNum=2>
 <Item>
  <DeviceID>64010000001330000001</DeviceID>
  <Name>Camera1 </Name>
  <Manufacturer>Manufacturer1 </ Manufacturer>
  <Model>Model1 </ Model>
  <Owner>Owner1 </Owner>
  <CivilCode>CivilCode1 </CivilCode>
  <Block>Block1 </Block>
  <Address>Address1 </Address>
  <Parental>1 </Parental>
  <ParentID>64010000001110000001 </ParentID>
  <SafetyWay>0 </SafetyWay>
  <RegisterWay>1 </RegisterWay>
  <CertNum>CertNum1 </CertNum>
  <Certifiable>0 </Certifiable>
  <ErrCode>400 </ErrCode>
  <EndTime>2010-11-11T19:46:17 </EndTime>
  <Secrecy>0 </Secrecy>
  <IPAddress>192.168.3.81 </IPAddress>
  <Port>5060 </Port>
  <Password>Password1 </Password>
  <Status>Status1 </Status>
  <Longitude>171.3</Longitude>
  <Latitude>34.2 </Latitude>
 </Item>
 <Item>
  <DeviceID>64010000001330000002</DeviceID>
  <Name>Camera2 </Name>
  <Manufacturer>Manufacturer2 </ Manufacturer>
  <Model>Model2 </ Model>
  <Owner>Owner2 </Owner>
  <CivilCode>CivilCode2 </CivilCode>
  <Block>Block2 </Block>
  <Address>Address2 </Address>
  <Parental>1 </Parental>
  <ParentID>64010000001110000001 </ParentID>
  <SafetyWay>0 </SafetyWay>
  <RegisterWay>1 </RegisterWay>
  <CertNum>CertNum1 </CertNum>
  <Certifiable>0 </Certifiable>
  <ErrCode>400 </ErrCode>
  <EndTime>2010-11-11T19:46:17 </EndTime>
  <Secrecy>0 </Secrecy>
  <IPAddress>192.168.3.81 </IPAddress>
  <Port>5060 </Port>
  <Password>Password1 </Password>
  <Status>Status1 </Status>
  <Longitude>171.4</Longitude>
  <Latitude>34.2 </Latitude>
 </Item>
</DeviceList>
</Response>"""

J10_5_DEVICE_INFO = """<? xmlversion="1.0"?>
<Response>
<CmdType>DeviceInfo</CmdType>
<SN>17430</SN>
<DeviceID>64010000001110000001</DeviceID>
<Result>OK</Result>
<Manufacturer>Tiandy</Manufacturer>
<Model>TC-2808AN-HD</Model>
<Firmware>V2.1,build091111</Firmware>
</Response>"""

J11_5_DEVICE_STATUS = """<? xmlversion="1.0"?>
<Response>
<CmdType>DeviceStatus</CmdType>
<SN>248</SN>
<DeviceID>34020000001130000001</DeviceID>
<Result>OK</Result>
<Online>ONLINE</Online>
<Status>OK</Status>
<Encode>ON</Encode>
<Record>OFF</Record>
<DeviceTime>2010-11-11T19:46:17</DeviceTime>
<AlarmstatusNum=2>
<Item>
  <DeviceID>34020000001340000001</DeviceID>
  <DutyStatus>OFFDUTY</DutyStatus>
</Item>
<Item>
  <DeviceID>34020000001340000002</DeviceID>
  <DutyStatus>OFFDUTY</DutyStatus>
</Item>
</Alarmstatus>
</Response>"""

J12_1_KEEPALIVE = """<? xmlversion="1.0"?>
<Notify>
<CmdType>Keepalive</CmdType>
<SN>43</SN>
<DeviceID>64010000001110000001</DeviceID>
<Status>OK</Status>
</Notify>"""

J13_3_RECORD_INFO = """<? xmlversion="1.0"?>
<Response>
<CmdType>RecordInfo </CmdType>
<SN>17430</SN>
<DeviceID>64010000001310000001</DeviceID>
<Name>Camera1</Name>
<SumNum>100</SumNum>
<RecordListNum=2>
 <Item>
  <DeviceID>64010000001310000001</DeviceID>
  <Name>Camera1 </Name>
  <FilePath>64010000002100000001 </FilePath>
  <Address>Address1 </Address>
  <StartTime>2010-11-12T10:10:00 </StartTime>
  <EndTime>2010-11-12T10:20:00 </EndTime>
  <Secrecy>0 </Secrecy>
  <Type>time</Type>
  <RecorderID>64010000003000000001 </RecorderID>
 </Item>
 <Item>
  <DeviceID>64010000001310000001</DeviceID>
  <Name>Camera1 </Name>
  <FilePath>64010000002100000001 </FilePath>
  <Address>Address1 </Address>
  <StartTime>2010-11-12T10:20:00 </StartTime>
  <EndTime>2010-11-12T10:30:00 </EndTime>
  <Secrecy>0 </Secrecy>
  <Type>time</Type>
  <RecorderID>64010000003000000001 </RecorderID>
 </Item>
  </RecordList>
  </Response>"""

J19_1_ALARM = """<? xmlversion="1.0"?>
<Notify>
<CmdType>Alarm</CmdType>
<SN>1</SN>
<DeviceID>64010000001340000001</DeviceID>
<AlarmPriority>4</AlarmPriority>
<AlarmMethod>2</AlarmMethod>
<AlarmTime>2009-12-04T16:23:32</AlarmTime>
<AlarmDescription>警情描述</AlarmDescription>
<Longitude>171.3</Longitude>
<Latitude>34.2 </Latitude>
</Notify>"""

J22_3_CATALOG_NOTIFY = """<? xmlversion="1.0"?>
<Notify>
  <CmdType>Catalog</CmdType>
  <SN>162</SN>
  <DeviceID>65010200002000000001</DeviceID>
  <Status>OK</Status>
  <! —当前订阅范围内所有离线及其他异常设备状态列表-->
  <SumNum>2</SumNum>
  <DeviceListNum="2">
    <Item>
      <DeviceID>65010200001320000004</DeviceID>
      <Event>OFF</Event>
    </Item>
    <Item>
      <DeviceID>65010200001320000005</DeviceID>
      <Event>OFF</Event>
    </Item>
  </DeviceList>
</Notify>"""

N_EMPTY_RECORD_INFO = """<? xmlversion="1.0"?>
<Response>
  <CmdType>RecordInfo </CmdType>
  <SN>17430</SN>
  <DeviceID>64010000001310000001</DeviceID>
  <Name>Camera1</Name>
  <SumNum>0</SumNum>
</Response>"""

ALL_EXAMPLES = [
    J6_1_PTZ,
    J8_1_ALARM,
    J9_1_CATALOG_QUERY,
    J9_5_CATALOG,
    J10_5_DEVICE_INFO,
    J11_5_DEVICE_STATUS,
    J12_1_KEEPALIVE,
    J13_3_RECORD_INFO,
    J19_1_ALARM,
    J22_3_CATALOG_NOTIFY,
    N_EMPTY_RECORD_INFO,
]
VALID_BODIES = [from_standard(x).encode("gb18030") for x in ALL_EXAMPLES]


def std(text: str, encoding: str = "gb18030") -> ManscdpMessage:
    return parse_manscdp(from_standard(text).encode(encoding))


def test_j9_5_catalog_response() -> None:
    msg = std(J9_5_CATALOG)
    assert (msg.root, msg.cmd_type, msg.sn) == ("Response", "Catalog", 17430)
    assert msg.device_id == "64010000001110000001"
    assert msg.sum_num == 100
    assert msg.list_tag == "DeviceList"
    assert msg.fields == {}
    assert len(msg.items) == 2
    first = msg.items[0]
    assert first["DeviceID"] == "64010000001330000001"
    assert first["Name"] == "Camera1"
    assert first["Manufacturer"] == "Manufacturer1"
    assert first["ParentID"] == "64010000001110000001"
    assert first["ErrCode"] == "400"
    assert first["Longitude"] == "171.3"
    assert first["Latitude"] == "34.2"
    assert len(first) == 23
    assert msg.items[1]["Longitude"] == "171.4"


def test_j9_1_and_j10_5_and_j12_1() -> None:
    q = std(J9_1_CATALOG_QUERY)
    assert (q.root, q.cmd_type, q.sn, q.fields, q.items) == ("Query", "Catalog", 17430, {}, [])
    info = std(J10_5_DEVICE_INFO)
    assert info.fields == {
        "Result": "OK",
        "Manufacturer": "Tiandy",
        "Model": "TC-2808AN-HD",
        "Firmware": "V2.1,build091111",
    }
    ka = std(J12_1_KEEPALIVE)
    assert (ka.root, ka.cmd_type, ka.sn, ka.device_id) == (
        "Notify",
        "Keepalive",
        43,
        "64010000001110000001",
    )
    assert ka.fields == {"Status": "OK"} and ka.sum_num is None and ka.list_tag is None


def test_j6_1_ptz_control_flattens_info() -> None:
    msg = std(J6_1_PTZ)
    assert msg.fields == {"PTZCmd": "A50F4D1000001021", "ControlPriority": "5"}


def test_j11_5_device_status_alarmstatus_list() -> None:
    msg = std(J11_5_DEVICE_STATUS)
    assert msg.list_tag == "Alarmstatus"
    assert msg.fields["Online"] == "ONLINE" and msg.fields["DeviceTime"] == "2010-11-11T19:46:17"
    assert msg.items == [
        {"DeviceID": "34020000001340000001", "DutyStatus": "OFFDUTY"},
        {"DeviceID": "34020000001340000002", "DutyStatus": "OFFDUTY"},
    ]


def test_j13_3_record_info_and_appendix_n_empty() -> None:
    msg = std(J13_3_RECORD_INFO)
    assert msg.cmd_type == "RecordInfo" and msg.fields == {"Name": "Camera1"}
    assert msg.list_tag == "RecordList" and msg.sum_num == 100
    assert [i["StartTime"] for i in msg.items] == ["2010-11-12T10:10:00", "2010-11-12T10:20:00"]
    empty = std(N_EMPTY_RECORD_INFO)
    assert empty.sum_num == 0 and empty.items == [] and empty.list_tag is None


@pytest.mark.parametrize("encoding", ["gb18030", "gbk", "utf-8"])
def test_j19_1_chinese_alarm_in_any_encoding(encoding: str) -> None:
    msg = std(J19_1_ALARM, encoding)
    assert msg.fields["AlarmDescription"] == "警情描述"
    assert msg.fields["AlarmMethod"] == "2" and msg.fields["Latitude"] == "34.2"


def test_j22_3_catalog_notify() -> None:
    msg = std(J22_3_CATALOG_NOTIFY)
    assert msg.fields == {"Status": "OK"}
    assert msg.sum_num == 2
    assert [i["Event"] for i in msg.items] == ["OFF", "OFF"]


def test_j8_1_alarm_matches_builder() -> None:
    built = m.alarm_notify(
        1, "64010000001340000101", priority=4, method=2, alarm_time="2009-12-04T16:23:32"
    )
    assert parse_manscdp(built) == std(J8_1_ALARM)


def test_builders_reproduce_j_examples() -> None:
    assert parse_manscdp(m.keepalive(43, "64010000001110000001")) == std(J12_1_KEEPALIVE)
    ptz = m.ptz_control(11, "64010000041310000345", "A50F4D1000001021")
    assert parse_manscdp(ptz) == std(J6_1_PTZ)
    status = m.device_status_response(
        248,
        "34020000001130000001",
        device_time="2010-11-11T19:46:17",
        alarms=[("34020000001340000001", "OFFDUTY"), ("34020000001340000002", "OFFDUTY")],
    )
    assert parse_manscdp(status) == std(J11_5_DEVICE_STATUS)
    assert b'<Alarmstatus Num="2">' in status
    query = m.query("Catalog", 17430, "64010000001110000001")
    assert parse_manscdp(query) == std(J9_1_CATALOG_QUERY)


# ------------------------------------------------------------------- tolerance


def test_declaration_encoding_is_ignored_in_favour_of_the_bytes() -> None:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?><Notify><CmdType>Keepalive</CmdType>'
        f"<SN>1</SN><DeviceID>{DEV}</DeviceID><Name>摄像机萳</Name></Notify>"
    )
    assert parse_manscdp(body.encode("gbk")).fields["Name"] == "摄像机萳"  # GBK declared UTF-8
    gb_declared = body.replace("UTF-8", "GB2312").encode("utf-8")
    assert parse_manscdp(gb_declared).fields["Name"] == "摄像机萳"  # UTF-8 declared GB2312


def test_invalid_gb_bytes_are_replaced_not_fatal() -> None:
    body = f"<Notify><CmdType>Keepalive</CmdType><SN>1</SN><DeviceID>{DEV}</DeviceID><Name>"
    msg = parse_manscdp(body.encode() + b"\xff\xfe</Name></Notify>")
    assert "\ufffd" in msg.fields["Name"]


def test_tag_case_variants_missing_num_and_trailing_junk() -> None:
    body = (
        "\ufeff  <?xml version='1.0' encoding='gb2312' standalone='yes' ?>\r\n"
        "<response><cmdtype>catalog</cmdtype><Sn> 7 </Sn><deviceid>x</deviceid>"
        "<sumnum>1</sumnum><Devicelist><item><DEVICEID>a</DEVICEID><name>n</name>"
        "</item></Devicelist></response>\r\n\x00\x00\x00"
    )
    msg = parse_manscdp(body.encode("utf-8"))
    assert (msg.root, msg.cmd_type, msg.sn, msg.device_id) == ("Response", "Catalog", 7, "x")
    assert msg.list_tag == "DeviceList" and msg.sum_num == 1
    assert msg.items == [{"DeviceID": "a", "Name": "n"}]


def test_unknown_list_with_items_and_unknown_tags_pass_through() -> None:
    body = (
        "<Response><CmdType>CruiseTrackQuery</CmdType><SN>3</SN><DeviceID>12</DeviceID>"
        "<VendorX>v</VendorX><CruisePointList Num='1'><Item><PresetID>2</PresetID></Item>"
        "</CruisePointList></Response>"
    )
    msg = parse_manscdp(body.encode())
    assert msg.cmd_type == "CruiseTrackQuery" and msg.device_id == "12"
    assert msg.fields == {"VendorX": "v"}
    assert msg.list_tag == "CruisePointList" and msg.items == [{"PresetID": "2"}]


def test_namespaced_body_is_accepted() -> None:
    body = (
        '<Query xmlns="http://www.w3.org/namespace/"><CmdType>Catalog</CmdType><SN>1</SN>'
        f"<DeviceID>{DEV}</DeviceID></Query>"
    )
    assert parse_manscdp(body.encode()).cmd_type == "Catalog"


def test_repeated_and_nested_names_are_kept_under_paths() -> None:
    body = (
        f"<Notify><CmdType>Keepalive</CmdType><SN>1</SN><DeviceID>{DEV}</DeviceID>"
        "<Status>OK</Status><Info><DeviceID>f1</DeviceID><DeviceID>f2</DeviceID>"
        "<DeviceID>f3</DeviceID></Info><Info>ext</Info><Info>ext2</Info></Notify>"
    )
    msg = parse_manscdp(body.encode())
    assert msg.device_id == DEV
    assert msg.fields == {
        "Status": "OK",
        "Info/DeviceID": "f1",
        "Info/DeviceID[2]": "f2",
        "Info/DeviceID[3]": "f3",
        "Info": "ext",
        "Info[2]": "ext2",
    }


def test_broadcast_notify_may_omit_device_id() -> None:
    body = (
        "<Notify><CmdType>Broadcast</CmdType><SN>9</SN><SourceID>s</SourceID>"
        "<TargetID>t</TargetID></Notify>"
    )
    msg = parse_manscdp(body.encode())
    assert msg.device_id == "" and msg.fields == {"SourceID": "s", "TargetID": "t"}


# --------------------------------------------------------------- hostile input


def _expect_error(body: bytes, match: str | None = None) -> ManscdpError:
    with pytest.raises(ManscdpError, match=match) as info:
        parse_manscdp(body)
    return info.value


HEAD = f"<CmdType>Catalog</CmdType><SN>1</SN><DeviceID>{DEV}</DeviceID>"


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (b"", "empty"),
        (b"\x00\x00  \r\n", "empty"),
        (b"not xml", "malformed"),
        (from_standard(J9_5_CATALOG).encode()[:-40], "malformed"),
        (f"<Query>{HEAD}</Query><Query/>".encode(), "malformed"),
        (f"<Request>{HEAD}</Request>".encode(), "root element"),
        (f"<Item>{HEAD}</Item>".encode(), "root element"),
        (f"<Query><SN>1</SN><DeviceID>{DEV}</DeviceID></Query>".encode(), "CmdType"),
        (
            b"<Query><CmdType> </CmdType><SN>1</SN><DeviceID>x</DeviceID></Query>",
            "CmdType",
        ),
        (f"<Query><CmdType>Catalog</CmdType><DeviceID>{DEV}</DeviceID></Query>".encode(), "<SN>"),
        (b"<Query><CmdType>Catalog</CmdType><SN>1</SN></Query>", "DeviceID"),
        (f"<Query>{HEAD}<SN>2</SN></Query>".encode(), "duplicate"),
        (f"<Query>{HEAD}<SumNum>many</SumNum></Query>".encode(), "SumNum"),
        (
            b"<Query><CmdType><x/></CmdType><SN>1</SN><DeviceID>1</DeviceID></Query>",
            "text",
        ),
        (
            "<Query><CmdType>Catalog</CmdType><SN>1</SN><DeviceID>1</DeviceID></Query>".encode(
                "utf-16"
            ),
            "malformed",
        ),
        (f"<Query>{HEAD}<A>\x00</A></Query>".encode(), "malformed"),
        (f"<Query>{HEAD}<A>&undefined;</A></Query>".encode(), "malformed"),
        (b'<?xml version="1.0" encoding="GB2312"?<Query/>', "malformed"),
    ],
)
def test_rejects(body: bytes, match: str) -> None:
    _expect_error(body, match)


@pytest.mark.parametrize("sn", ["abc", "-1", "1.5", "", "+1", "1e3", "٣", "１", "1" * 21, "0x10"])
def test_rejects_non_integer_sn(sn: str) -> None:
    body = f"<Query><CmdType>Catalog</CmdType><SN>{sn}</SN><DeviceID>{DEV}</DeviceID></Query>"
    _expect_error(body.encode(), "SN")


def test_billion_laughs_is_rejected() -> None:
    lol = '<!ENTITY lol0 "lol">' + "".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
    )
    body = f'<?xml version="1.0"?><!DOCTYPE Query [{lol}]><Query><CmdType>&lol9;</CmdType></Query>'
    _expect_error(body.encode(), "DOCTYPE")


@pytest.mark.parametrize("target", ["file:///etc/passwd", "SECRET"])
def test_external_entity_is_not_read(tmp_path: Path, target: str) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-MARKER")
    uri = secret.as_uri() if target == "SECRET" else target
    body = (
        f'<?xml version="1.0"?><!DOCTYPE Query [<!ENTITY xxe SYSTEM "{uri}">]>'
        f"<Query><CmdType>&xxe;</CmdType><SN>1</SN><DeviceID>{DEV}</DeviceID></Query>"
    )
    err = _expect_error(body.encode())
    assert "TOP-SECRET-MARKER" not in str(err) and "root:" not in str(err)


@pytest.mark.parametrize(
    "doctype",
    [
        '<!DOCTYPE Query SYSTEM "http://127.0.0.1:1/x.dtd">',
        "<!doctype Query>",
        "<!  DOCTYPE Query>",
        '<!ENTITY x "y">',
    ],
)
def test_any_dtd_is_rejected(doctype: str) -> None:
    _expect_error(f"{doctype}<Query>{HEAD}</Query>".encode())


def _nested(depth: int) -> bytes:
    inner = "<a>" * (depth - 1) + "x" + "</a>" * (depth - 1)
    return f"<Query>{HEAD}{inner}</Query>".encode()


def test_depth_limit() -> None:
    assert parse_manscdp(_nested(16)).fields == {"a": "x"}
    _expect_error(_nested(17), "deeper than 16")
    _expect_error(_nested(10_000))


def test_element_count_limit() -> None:
    def body(n: int) -> bytes:
        return f"<Query>{HEAD}{'<a/>' * n}</Query>".encode()

    msg = parse_manscdp(body(20_000 - 4))
    assert msg.fields["a"] == "" and len(msg.fields) == 20_000 - 4
    _expect_error(body(20_000 - 3), "more than 20000")


def test_size_limit() -> None:
    def body(total: int) -> bytes:
        head = f"<Query>{HEAD}<Name>".encode()
        tail = b"</Name></Query>"
        return head + b"x" * (total - len(head) - len(tail)) + tail

    assert len(parse_manscdp(body(1 << 20)).fields["Name"]) > 1_000_000
    _expect_error(body((1 << 20) + 1), "exceeds")


def test_non_bytes_input() -> None:
    with pytest.raises(ManscdpError):
        parse_manscdp("<Query/>")  # type: ignore[arg-type]


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_only_raise_manscdp_error(data: bytes) -> None:
    with contextlib.suppress(ManscdpError):
        parse_manscdp(data)


_SNIPPETS = [
    b"<",
    b">",
    b"&",
    b"&amp;",
    b"&#0;",
    b"&#x10FFFF;",
    b"\x00",
    b"\xff",
    b"\xc8\x6c",
    b"\xe8\x90\xb3",
    b"<!DOCTYPE x>",
    b'<!ENTITY e "e">',
    b"&e;",
    b"<![CDATA[",
    b"]]>",
    b"<!--",
    b"-->",
    b"<?pi x?>",
    b"<Item>",
    b"</Item>",
    b"<Item/>",
    b"<SN>",
    b"</SN>",
    b"<SumNum>-1</SumNum>",
    b'<DeviceList Num="x">',
    b"</DeviceList>",
    b'<?xml version="1.0" encoding="UTF-8"?>',
    b'xmlns:a="u"',
    b"<a:b>",
    b"\r\n",
]


@st.composite
def mutated_bodies(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(VALID_BODIES)))
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "dup"]))
        pos = draw(st.integers(0, len(data)))
        if op == "flip" and pos < len(data):
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "insert":
            data[pos:pos] = draw(st.sampled_from(_SNIPPETS))
        elif op == "delete":
            del data[pos : pos + draw(st.integers(1, 20))]
        elif op == "truncate":
            del data[pos:]
        elif op == "dup":
            data[pos:pos] = data[max(0, pos - 50) : pos]
    return bytes(data)


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_bodies())
def test_mutated_examples_only_raise_manscdp_error(body: bytes) -> None:
    try:
        msg = parse_manscdp(body)
    except ManscdpError:
        return
    assert msg.root in m.ROOTS and msg.cmd_type and msg.sn >= 0
    assert all(isinstance(v, str) for v in msg.fields.values())
    assert all(isinstance(v, str) for item in msg.items for v in item.values())


@pytest.mark.parametrize("body", VALID_BODIES)
def test_every_fixture_parses(body: bytes) -> None:
    assert parse_manscdp(body).root in m.ROOTS


# --------------------------------------------------------------------- building


def test_build_order_escaping_nesting_and_none() -> None:
    body = m.build_manscdp(
        "Control",
        "DeviceControl",
        5,
        DEV,
        {"Zeta": "a<b&c>\"d'", "Alpha": 1, "Skip": None, "Info": {"X": 2.5, "Y": None}},
        charset="UTF-8",
    )
    text = body.decode("utf-8")
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\r\n<Control>')
    tags = re.findall(r"<(\w+)>", text)
    assert tags == ["Control", "CmdType", "SN", "DeviceID", "Zeta", "Alpha", "Info", "X"]
    assert "a&lt;b&amp;c&gt;" in text and "Skip" not in text and "<Y>" not in text
    msg = parse_manscdp(body)
    assert msg.fields == {"Zeta": "a<b&c>\"d'", "Alpha": "1", "X": "2.5"}


def test_build_number_formatting() -> None:
    body = m.build_manscdp(
        "Notify", "MobilePosition", 1, DEV, [("Longitude", 1e-7), ("Latitude", 39.9), ("B", True)]
    )
    fields = parse_manscdp(body).fields
    assert fields == {"Longitude": "0.0000001", "Latitude": "39.9", "B": "1"}
    with pytest.raises(ValueError):
        m.build_manscdp("Notify", "X", 1, DEV, {"A": float("nan")})


@pytest.mark.parametrize(
    "args",
    [("Request", "Catalog", 1, DEV), ("Query", "", 1, DEV), ("Query", "Catalog", -1, DEV)],
)
def test_build_validates(args: tuple[str, str, int, str]) -> None:
    with pytest.raises(ValueError):
        m.build_manscdp(*args)
    with pytest.raises(ValueError):
        m.build_manscdp("Query", "Catalog", 1, DEV, charset="latin-1")


@pytest.mark.parametrize(
    ("charset", "decl"), [("GB2312", "GB2312"), ("gbk", "GB2312"), ("UTF-8", "UTF-8")]
)
def test_rare_character_round_trip(charset: str, decl: str) -> None:
    items = [{"DeviceID": DEV, "Name": "萳湖路口萳", "Address": "安徽省合肥市"}]
    (body,) = m.catalog_responses(1, DEV, items, charset=charset)
    assert body.startswith(f'<?xml version="1.0" encoding="{decl}"?>'.encode())
    if decl == "GB2312":
        assert b"\xc8\x6c" in body  # 萳 in GBK/GB18030
    else:
        assert "萳".encode() in body
    assert parse_manscdp(body).items == items


_text_values = st.text(
    alphabet=st.characters(categories=("L", "N", "P", "S", "Zs"), exclude_characters="\ufeff"),
    max_size=30,
).map(str.strip)


@settings(max_examples=200)
@given(
    st.sampled_from(["GB2312", "UTF-8"]),
    st.dictionaries(
        st.from_regex(r"[A-Z][A-Za-z]{0,10}", fullmatch=True), _text_values, max_size=8
    ),
)
def test_build_parse_round_trip(charset: str, fields: dict[str, str]) -> None:
    # Known tags are case-normalised on parse and header tags are not fields.
    fields = {
        k: v
        for k, v in fields.items()
        if m._CANON.get(k.lower(), k) == k and k not in ("CmdType", "SN", "DeviceID", "SumNum")
    }
    body = m.build_manscdp("Notify", "Custom", 3, DEV, fields, charset=charset)
    if charset == "GB2312":
        # Known limit of byte-based detection: GB bytes that happen to be valid UTF-8.
        try:
            body.decode("utf-8")
            assume(body.isascii())
        except UnicodeDecodeError:
            pass
    msg = parse_manscdp(body)
    assert msg.fields == fields


def test_catalog_responses_split_per_appendix_n() -> None:
    items = [{"DeviceID": f"340200000013200000{i:02d}", "Name": f"cam{i}"} for i in range(25)]
    bodies = m.catalog_responses(42, DEV, items, per_message=10)
    msgs = [parse_manscdp(b) for b in bodies]
    assert [len(x.items) for x in msgs] == [10, 10, 5]
    assert all(x.sn == 42 and x.sum_num == 25 and x.root == "Response" for x in msgs)
    assert b'<DeviceList Num="5">' in bodies[2]
    assert [i for x in msgs for i in x.items] == items
    with pytest.raises(ValueError):
        m.catalog_responses(1, DEV, items, per_message=0)


def test_empty_catalog_has_sum_num_zero_and_no_list() -> None:
    (body,) = m.catalog_responses(7, DEV, [])
    msg = parse_manscdp(body)
    assert msg.sum_num == 0 and msg.list_tag is None and b"DeviceList" not in body


def test_catalog_notify_puts_device_id_and_event_first() -> None:
    body = m.catalog_notify(
        9,
        DEV,
        [{"Name": "n", "Event": "ADD", "DeviceID": "d1"}, {"DeviceID": "d2", "Event": "OFF"}],
    )
    assert re.findall(r"<(\w+)>", body.decode("gb18030"))[6:9] == ["DeviceID", "Event", "Name"]
    msg = parse_manscdp(body)
    assert (msg.root, msg.cmd_type, msg.sum_num) == ("Notify", "Catalog", 2)
    assert msg.items == [
        {"DeviceID": "d1", "Event": "ADD", "Name": "n"},
        {"DeviceID": "d2", "Event": "OFF"},
    ]
    with pytest.raises(ValueError):
        m.catalog_notify(9, DEV, [{"DeviceID": "d"}])
    with pytest.raises(ValueError):
        m.catalog_notify(9, DEV, [{"DeviceID": "d", "Event": "GONE"}])


def test_device_info_response() -> None:
    body = m.device_info_response(
        3, DEV, name="前门", manufacturer="sharpeyes", model="sim", firmware="1.0", channel_num=4
    )
    msg = parse_manscdp(body)
    assert (msg.root, msg.cmd_type) == ("Response", "DeviceInfo")
    assert msg.fields == {
        "DeviceName": "前门",
        "Result": "OK",
        "Manufacturer": "sharpeyes",
        "Model": "sim",
        "Firmware": "1.0",
        "Channel": "4",
    }


def test_device_status_variants() -> None:
    body = m.device_status_response(
        1,
        DEV,
        online=False,
        status_ok=False,
        record=True,
        encode=False,
        device_time="2024-01-01T00:00:00",
        reason="disk",
    )
    msg = parse_manscdp(body)
    assert msg.fields == {
        "Result": "OK",
        "Online": "OFFLINE",
        "Status": "ERROR",
        "Reason": "disk",
        "Encode": "OFF",
        "Record": "ON",
        "DeviceTime": "2024-01-01T00:00:00",
    }
    assert msg.list_tag is None
    with pytest.raises(ValueError):
        m.device_status_response(1, DEV, device_time="t", alarms=[("a", "BUSY")])


def test_preset_response() -> None:
    msg = parse_manscdp(m.preset_response(4, DEV, [(1, "大门"), (255, "停车场")]))
    assert (msg.cmd_type, msg.list_tag) == ("PresetQuery", "PresetList")
    assert msg.items == [
        {"PresetID": "1", "PresetName": "大门"},
        {"PresetID": "255", "PresetName": "停车场"},
    ]
    empty = m.preset_response(4, DEV, [])
    assert b'<PresetList Num="0"/>' in empty and parse_manscdp(empty).items == []
    with pytest.raises(ValueError):
        m.preset_response(4, DEV, [(0, "x")])


def test_ptz_control_validates_command() -> None:
    msg = parse_manscdp(m.ptz_control(2, DEV, "a50f010180000036", priority=3))
    assert msg.fields == {"PTZCmd": "A50F010180000036", "ControlPriority": "3"}
    with pytest.raises(ValueError):
        m.ptz_control(2, DEV, "A50F010180000037")
    with pytest.raises(ValueError):
        m.ptz_control(2, DEV, "A50F010180000036", priority=-1)


def test_reset_alarm() -> None:
    plain = parse_manscdp(m.reset_alarm(8, DEV))
    assert (plain.root, plain.cmd_type, plain.fields) == (
        "Control",
        "DeviceControl",
        {"AlarmCmd": "ResetAlarm"},
    )
    full = parse_manscdp(m.reset_alarm(8, DEV, "2", "1"))
    assert full.fields == {"AlarmCmd": "ResetAlarm", "AlarmMethod": "2", "AlarmType": "1"}
    assert b"<Info>" in m.reset_alarm(8, DEV, alarm_type="1")


def test_alarm_notify_full_and_validation() -> None:
    body = m.alarm_notify(
        5,
        DEV,
        priority="1",
        method=5,
        alarm_time="2024-05-01T08:00:00",
        description="区域入侵",
        longitude=117.2,
        latitude=31.8,
        alarm_type=6,
    )
    text = body.decode("gb18030")
    order = ["AlarmPriority", "AlarmMethod", "AlarmTime", "AlarmDescription", "Longitude"]
    assert re.findall(r"<(\w+)>", text)[4:9] == order
    assert parse_manscdp(body).fields == {
        "AlarmPriority": "1",
        "AlarmMethod": "5",
        "AlarmTime": "2024-05-01T08:00:00",
        "AlarmDescription": "区域入侵",
        "Longitude": "117.2",
        "Latitude": "31.8",
        "AlarmType": "6",
    }
    for bad in (
        {"priority": 5, "method": 1},
        {"priority": 1, "method": 8},
        {"priority": "x", "method": 1},
        {"priority": True, "method": 1},
    ):
        with pytest.raises(ValueError):
            m.alarm_notify(5, DEV, alarm_time="t", **bad)


def test_keepalive_with_faulty_devices() -> None:
    msg = parse_manscdp(m.keepalive(2, DEV, status="ERROR", faulty=["f1", "f2"], charset="UTF-8"))
    assert msg.fields == {"Status": "ERROR", "Info/DeviceID": "f1", "Info/DeviceID[2]": "f2"}


def test_query_keeps_keyword_order() -> None:
    body = m.query("RecordInfo", 6, DEV, StartTime="a", EndTime="b", Type="all", Secrecy=None)
    assert re.findall(r"<(\w+)>", body.decode())[4:] == ["StartTime", "EndTime", "Type"]


# ------------------------------------------------------------------- multi-part


def _part(
    sn: int, sum_num: int | None, ids: list[str], list_tag: str = "DeviceList"
) -> ManscdpMessage:
    return ManscdpMessage(
        root="Response",
        cmd_type="Catalog",
        sn=sn,
        device_id=DEV,
        items=[{"DeviceID": i, "Name": i} for i in ids],
        sum_num=sum_num,
        list_tag=list_tag,
    )


def test_collector_reassembles_real_parts_with_duplicates_and_reordering() -> None:
    items = [{"DeviceID": f"d{i}", "Name": f"n{i}"} for i in range(7)]
    bodies = m.catalog_responses(5, DEV, items, per_message=3)
    parts = [parse_manscdp(b) for b in bodies]
    c = m.MultipartCollector()
    key = (DEV, 5)
    assert c.add(key, parts[2], 0.0) is None
    assert c.add(key, parts[0], 1.0) is None
    assert c.add(key, parts[0], 1.5) is None  # retransmission
    done = c.add(key, parts[1], 2.0)
    assert done is not None and sorted(done, key=lambda i: i["DeviceID"]) == items
    assert len(c) == 0
    assert c.add(key, parts[1], 3.0) is None  # a late duplicate starts afresh…
    assert c.expire(100.0, 30.0) == [(key, parts[1].items)]  # …and only times out


def test_collector_partial_after_timeout_measured_from_last_part() -> None:
    c = m.MultipartCollector()
    key = (DEV, 1)
    c.add(key, _part(1, 4, ["a", "b"]), 0.0)
    c.add(key, _part(1, 4, ["c"]), 20.0)
    assert c.expire(40.0, 30.0) == []
    expired = c.expire(50.0, 30.0)
    assert [(k, [i["DeviceID"] for i in v]) for k, v in expired] == [(key, ["a", "b", "c"])]
    assert len(c) == 0 and c.expire(1000.0, 30.0) == []


def test_collector_keys_are_independent() -> None:
    c = m.MultipartCollector()
    assert c.add((DEV, 1), _part(1, 2, ["a"]), 0.0) is None
    assert c.add((DEV, 2), _part(2, 2, ["a"]), 0.0) is None
    assert c.add(("other", 1), _part(1, 2, ["b"]), 0.0) is None
    assert [i["DeviceID"] for i in c.add((DEV, 1), _part(1, 2, ["b"]), 1.0) or []] == ["a", "b"]
    assert len(c) == 2


def test_collector_sum_num_zero_and_single_part() -> None:
    c = m.MultipartCollector()
    assert c.add((DEV, 1), parse_manscdp(m.catalog_responses(1, DEV, [])[0]), 0.0) == []
    single = parse_manscdp(m.preset_response(2, DEV, [(1, "a")]))
    assert c.add((DEV, 2), single, 0.0) == [{"PresetID": "1", "PresetName": "a"}]
    assert len(c) == 0


def test_collector_record_items_sharing_device_id_are_not_collapsed() -> None:
    msg = std(J13_3_RECORD_INFO)
    msg.sum_num = 3
    c = m.MultipartCollector()
    assert c.add((DEV, 1), msg, 0.0) is None
    assert c.add((DEV, 1), msg, 1.0) is None  # exact duplicate part
    third = ManscdpMessage(
        "Response", "RecordInfo", 1, DEV, {}, [{"DeviceID": "x"}], 3, "RecordList"
    )
    done = c.add((DEV, 1), third, 2.0)
    assert done is not None and len(done) == 3


def test_collector_dedupes_by_device_id_and_keeps_latest() -> None:
    c = m.MultipartCollector()
    first = _part(1, 2, ["a"])
    update = _part(1, 2, ["a"])
    update.items[0]["Name"] = "renamed"
    c.add((DEV, 1), first, 0.0)
    c.add((DEV, 1), update, 1.0)
    assert c.expire(100.0, 1.0) == [((DEV, 1), [{"DeviceID": "a", "Name": "renamed"}])]


def test_collector_caps_items_per_key() -> None:
    c = m.MultipartCollector(max_items_per_key=5)
    c.add((DEV, 1), _part(1, 1_000_000, [f"d{i}" for i in range(50)]), 0.0)
    ((_, items),) = c.expire(10.0, 1.0)
    assert len(items) == 5


def test_collector_drops_oldest_pending_key() -> None:
    c = m.MultipartCollector(max_pending=3)
    for sn in range(5):
        c.add((DEV, sn), _part(sn, 2, ["a"]), float(sn))
    assert len(c) == 3 and c.dropped == 2
    assert sorted(k[1] for k, _ in c.expire(100.0, 1.0)) == [2, 3, 4]


def test_collector_caps_total_items() -> None:
    c = m.MultipartCollector(max_total_items=10)
    c.add((DEV, 1), _part(1, 100, [f"a{i}" for i in range(8)]), 0.0)
    c.add((DEV, 2), _part(2, 100, [f"b{i}" for i in range(8)]), 1.0)
    assert len(c) == 1 and c.dropped == 1
    assert [k for k, _ in c.expire(100.0, 1.0)] == [(DEV, 2)]
