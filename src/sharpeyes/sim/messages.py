"""Simulated device side of the wider message set, shaped like real devices answer.

DeviceControl (A.2.3 a): RecordCmd, GuardCmd, AlarmCmd and HomePosition get a
DeviceControl Response; TeleBoot, IFameCmd and the drag zooms only the SIP 200.
DeviceConfig (A.2.3 b) applies BasicParam and the 2022 SnapShotConfig; this is an
H.264 camera, so SVAC sections are refused (Result ERROR) as such cameras do.
ConfigDownload answers one Response per requested ConfigType with the same SN.
Event subscriptions (``Event: presence``, J.18) for Alarm and MobilePosition are
kept per CmdType; MobilePosition NOTIFYs follow the requested Interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sharpeyes.gb28181 import manscdp
from sharpeyes.gb28181.manscdp import FieldValue, ManscdpMessage
from sharpeyes.gb28181.message import SipParseError, SipRequest, SipResponse, parse_name_addr
from sharpeyes.gb28181.message import response_for as _response_for
from sharpeyes.gb28181.ptz import (
    CRUISE_ADD,
    CRUISE_DELETE,
    CRUISE_DWELL,
    CRUISE_SPEED,
    DOWN,
    LEFT,
    RIGHT,
    UP,
    ZOOM_IN,
    ZOOM_OUT,
    PtzCommand,
)
from sharpeyes.sip.stack import SipTimeout, new_tag

if TYPE_CHECKING:
    from sharpeyes.sim.device import SimDevice

log = logging.getLogger(__name__)

MANSCDP_TYPE = "Application/MANSCDP+xml"
EVENT_KINDS = ("Alarm", "MobilePosition")
MIN_INTERVAL = 1.0


@dataclass
class EventDialog:
    """An Alarm / MobilePosition subscription, seen from the device."""

    call_id: str
    local_uri: str
    local_tag: str
    remote_uri: str
    remote_tag: str
    target: str
    sn: int
    expires_at: float
    interval: float = 5.0
    refreshes: int = 0
    task: asyncio.Task[None] | None = None

    def remaining(self, now: float) -> int:
        return max(0, int(self.expires_at - now))


@dataclass
class Cruise:
    points: list[int] = field(default_factory=list)
    speed: int = 0
    dwell: int = 0


@dataclass
class SimState:
    """What the platform changed on the simulated device, for tests to observe."""

    controls: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    recording: dict[str, bool] = field(default_factory=dict)
    guard: bool = False
    home: dict[str, dict[str, int]] = field(default_factory=dict)
    snapshot: dict[str, str] = field(default_factory=dict)
    configs: list[dict[str, str]] = field(default_factory=list)
    position: dict[str, tuple[float, float, float]] = field(default_factory=dict)  # P/T/Z
    cruises: dict[str, dict[int, Cruise]] = field(default_factory=dict)
    aux: dict[str, dict[int, bool]] = field(default_factory=dict)
    events: dict[str, EventDialog] = field(default_factory=dict)
    # A vehicle: a start point and a heading; each report moves on.
    track_origin: tuple[float, float] = (117.2, 31.8)
    track_step: int = 0
    talks: dict[str, SimTalk] = field(default_factory=dict)


def _respond(dev: SimDevice, msg: ManscdpMessage, cmd_type: str, result: str = "OK") -> None:
    body = manscdp.build_manscdp(
        "Response",
        cmd_type,
        msg.sn,
        msg.device_id or dev.device_id,
        [("Result", result)],
        charset=dev.config.charset,
    )
    dev._later(dev._send_message(body))


def _later_body(dev: SimDevice, body: bytes) -> None:
    dev._later(dev._send_message(body))


# ------------------------------------------------------------------ control
def control(dev: SimDevice, req: SipRequest, msg: ManscdpMessage) -> SipResponse | None:
    """Every DeviceControl except PTZCmd (handled by the device with its preset book)."""
    f = msg.fields
    st = dev.state
    target = dev._target_channel(msg.device_id)
    if "TeleBoot" in f:
        st.controls.append(("TeleBoot", target, {"TeleBoot": f["TeleBoot"]}))
        return None  # a rebooting device does not answer
    if "IFameCmd" in f:
        st.controls.append(("IFameCmd", target, {"IFameCmd": f["IFameCmd"]}))
        return None
    for tag in ("DragZoomIn", "DragZoomOut"):
        if f"<{tag}>".encode() in req.body:  # a container: its leaves are flattened
            box = {k: f[k] for k in ("Length", "Width", "MidPointX", "MidPointY", "LengthX")}
            box["LengthY"] = f.get("LengthY", "")
            st.controls.append((tag, target, box))
            return None
    if "RecordCmd" in f:
        value = f["RecordCmd"]
        if value not in ("Record", "StopRecord"):
            _respond(dev, msg, "DeviceControl", "ERROR")
            return None
        st.recording[target] = value == "Record"
        st.controls.append(("RecordCmd", target, {"RecordCmd": value}))
    elif "GuardCmd" in f:
        value = f["GuardCmd"]
        if value not in ("SetGuard", "ResetGuard"):
            _respond(dev, msg, "DeviceControl", "ERROR")
            return None
        st.guard = value == "SetGuard"
        st.controls.append(("GuardCmd", target, {"GuardCmd": value}))
    elif f.get("AlarmCmd") == "ResetAlarm":
        dev.active_alarms.discard(msg.device_id)
        if msg.device_id == dev.device_id:
            dev.active_alarms.clear()
        info: dict[str, str] = {k: f[k] for k in ("AlarmMethod", "AlarmType") if k in f}
        st.controls.append(("AlarmCmd", target, info))
    elif b"<HomePosition>" in req.body:
        home = {k: int(f[k]) for k in ("Enabled", "ResetTime", "PresetIndex") if f.get(k)}
        st.home[target] = home
        st.controls.append(("HomePosition", target, {k: str(v) for k, v in home.items()}))
    else:
        _respond(dev, msg, "DeviceControl", "ERROR")
        return None
    _respond(dev, msg, "DeviceControl")
    return None


def after_ptz(dev: SimDevice, channel_id: str, cmd: PtzCommand) -> None:
    """Keep a PTZ position, cruise tracks and auxiliary switches as a dome would."""
    st = dev.state
    c = cmd.cmd
    if c & 0xC0 == 0 and c:
        pan, tilt, zoom = st.position.get(channel_id, (0.0, 0.0, 1.0))
        step = max(1, cmd.d1 or cmd.d2) / 32
        pan = (pan + (step if c & RIGHT else -step if c & LEFT else 0)) % 360
        tilt = min(90.0, max(-30.0, tilt + (step if c & UP else -step if c & DOWN else 0)))
        zoom = min(30.0, max(1.0, zoom + (0.5 if c & ZOOM_IN else -0.5 if c & ZOOM_OUT else 0)))
        st.position[channel_id] = (round(pan, 2), round(tilt, 2), round(zoom, 2))
    cruises = st.cruises.setdefault(channel_id, {})
    if c == CRUISE_ADD:
        cruises.setdefault(cmd.d1, Cruise()).points.append(cmd.d2)
    elif c == CRUISE_DELETE:
        cr = cruises.get(cmd.d1)
        if cr is not None and cmd.d2 == 0:
            cruises.pop(cmd.d1)
        elif cr is not None and cmd.d2 in cr.points:
            cr.points.remove(cmd.d2)
    elif c == CRUISE_SPEED:
        cruises.setdefault(cmd.d1, Cruise()).speed = cmd.data12
    elif c == CRUISE_DWELL:
        cruises.setdefault(cmd.d1, Cruise()).dwell = cmd.data12
    elif c in (0x8C, 0x8D):
        st.aux.setdefault(channel_id, {})[cmd.d1] = c == 0x8C


def config(dev: SimDevice, req: SipRequest, msg: ManscdpMessage) -> SipResponse | None:
    f = msg.fields
    st = dev.state
    if any(k.startswith(("ROI", "SVC", "Audio", "TimeShow", "EventShow", "AlerShow")) for k in f):
        _respond(dev, msg, "DeviceConfig", "ERROR")  # an H.264 camera: no SVAC
        return None
    applied: dict[str, str] = {}
    try:
        if "Name" in f:
            dev.config.name = f["Name"][:64]
            applied["Name"] = dev.config.name
        if "Expiration" in f:
            dev.config.register_expires = max(60, int(f["Expiration"]))
            applied["Expiration"] = str(dev.config.register_expires)
        if "HeartBeatInterval" in f:
            dev.config.keepalive_interval = max(1.0, float(f["HeartBeatInterval"]))
            applied["HeartBeatInterval"] = f["HeartBeatInterval"]
        if "HeartBeatCount" in f:
            applied["HeartBeatCount"] = f["HeartBeatCount"]
        if "UploadURL" in f:
            st.snapshot = {k: f.get(k, "") for k in ("SnapNum", "Interval", "UploadURL")}
            st.snapshot["SessionID"] = f.get("SessionID", "")
            applied.update(st.snapshot)
    except ValueError:
        _respond(dev, msg, "DeviceConfig", "ERROR")
        return None
    if not applied:
        _respond(dev, msg, "DeviceConfig", "ERROR")
        return None
    st.configs.append(applied)
    _respond(dev, msg, "DeviceConfig")
    return None


# ------------------------------------------------------------------ queries
def config_download(dev: SimDevice, req: SipRequest, msg: ManscdpMessage) -> SipResponse | None:
    """One Response per ConfigType (A.2.4 f), all with the query's SN."""
    types = [t for t in msg.fields.get("ConfigType", "BasicParam").split("/") if t]
    for t in types:
        fields: list[tuple[str, FieldValue]]
        if t == "BasicParam":
            ch = dev.channels[0] if dev.channels else None
            basic: list[tuple[str, FieldValue]] = [
                ("Name", dev.config.name),
                ("Expiration", dev.granted_expires or dev.config.register_expires),
                ("HeartBeatInterval", int(dev.config.keepalive_interval)),
                ("HeartBeatCount", 3),
                ("PositionCapability", 1 if dev.config.kind == "ipc" else 0),
            ]
            if ch is not None:
                basic += [
                    ("Longitude", round(ch.longitude, 6)),
                    ("Latitude", round(ch.latitude, 6)),
                ]
            fields = [("Result", "OK"), ("BasicParam", basic)]
        elif t == "VideoParamOpt":
            fields = [
                ("Result", "OK"),
                ("VideoParamOpt", [("DownloadSpeed", "1/2/4"), ("Resolution", "5/6")]),
            ]
        else:  # SVAC configurations: not an SVAC camera
            fields = [("Result", "ERROR")]
        body = manscdp.build_manscdp(
            "Response", "ConfigDownload", msg.sn, dev.device_id, fields, charset=dev.config.charset
        )
        _later_body(dev, body)
    return None


def query_alarm(dev: SimDevice, req: SipRequest, msg: ManscdpMessage) -> SipResponse | None:
    """A.2.4 e: the device confirms, then reports its active alarms as Alarm Notifies."""
    _respond(dev, msg, "Alarm")
    for channel_id in sorted(dev.active_alarms):
        dev._later(dev.send_alarm(channel_id, description="报警查询"))
    return None


def _reply(dev: SimDevice, msg: ManscdpMessage, cmd_type: str, **kw: Any) -> None:
    body = manscdp.build_manscdp(
        "Response",
        cmd_type,
        msg.sn,
        msg.device_id or dev.device_id,
        charset=dev.config.charset,
        **kw,
    )
    _later_body(dev, body)


def query_ptz_position(dev: SimDevice, req: SipRequest, msg: ManscdpMessage) -> SipResponse | None:
    pan, tilt, zoom = dev.state.position.get(dev._target_channel(msg.device_id), (0.0, 0.0, 1.0))
    fields = [
        ("Pan", pan),
        ("Tilt", tilt),
        ("Zoom", zoom),
        ("HorizontalFieldAngle", round(60.0 / zoom, 2)),
        ("VerticalFieldAngle", round(34.0 / zoom, 2)),
        ("MaxViewDistance", 200),
    ]
    _reply(dev, msg, "PTZPosition", fields=fields)
    return None


def query_sd_card(dev: SimDevice, req: SipRequest, msg: ManscdpMessage) -> SipResponse | None:
    card: dict[str, FieldValue] = {
        "ID": 1,
        "HddName": "SD1",
        "Status": "ok",
        "FormatProgress": 100,
        "Capacity": 128_000,
        "FreeSpace": 64_000,
    }
    _reply(dev, msg, "SDCardStatus", sum_num=1, items=[card], list_tag="SDCardList")
    return None


def query_home(dev: SimDevice, req: SipRequest, msg: ManscdpMessage) -> SipResponse | None:
    home = dev.state.home.get(dev._target_channel(msg.device_id), {"Enabled": 0})
    _reply(dev, msg, "HomePositionQuery", fields=[("HomePosition", list(home.items()))])
    return None


def query_cruise_list(dev: SimDevice, req: SipRequest, msg: ManscdpMessage) -> SipResponse | None:
    cruises = dev.state.cruises.get(dev._target_channel(msg.device_id), {})
    items: list[dict[str, FieldValue]] = [
        {"Number": n, "Name": f"巡航{n}"} for n in sorted(cruises)
    ]
    _reply(dev, msg, "CruiseTrackListQuery", sum_num=len(items), items=items,
           list_tag="CruiseTrackList")  # fmt: skip
    return None


def query_cruise(dev: SimDevice, req: SipRequest, msg: ManscdpMessage) -> SipResponse | None:
    number = int(msg.fields.get("Number") or 0) if msg.fields.get("Number", "0").isdigit() else 0
    cr = dev.state.cruises.get(dev._target_channel(msg.device_id), {}).get(number, Cruise())
    items: list[dict[str, FieldValue]] = [
        {"PresetIndex": p, "StayTime": cr.dwell, "Speed": cr.speed} for p in cr.points
    ]
    _reply(
        dev,
        msg,
        "CruiseTrackQuery",
        fields=[("Number", number), ("Name", f"巡航{number}")],
        sum_num=len(items),
        items=items,
        list_tag="CruisePointList",
    )
    return None


def query_mobile_position(
    dev: SimDevice, req: SipRequest, msg: ManscdpMessage
) -> SipResponse | None:
    """A one-off MobilePosition query: one Notify (as MESSAGE) with the current fix."""
    _later_body(dev, position_body(dev, msg.sn))
    return None


def position_body(dev: SimDevice, sn: int) -> bytes:
    from sharpeyes.sim.device import local_time

    st = dev.state
    st.track_step += 1
    lon0, lat0 = st.track_origin
    heading = 45.0
    dist = st.track_step * 0.0005
    lon = lon0 + dist * math.sin(math.radians(heading))
    lat = lat0 + dist * math.cos(math.radians(heading))
    return manscdp.build_manscdp(
        "Notify",
        "MobilePosition",
        sn,
        dev.device_id,
        [
            ("Time", local_time()),
            ("Longitude", round(lon, 6)),
            ("Latitude", round(lat, 6)),
            ("Speed", 36.0),
            ("Direction", heading),
            ("Altitude", 30),
        ],
        charset=dev.config.charset,
    )


# ------------------------------------------------------------ subscriptions
def on_subscribe(dev: SimDevice, req: SipRequest, msg: ManscdpMessage | None) -> SipResponse:
    """``Event: presence`` SUBSCRIBE whose body says what (Alarm or MobilePosition)."""
    if msg is None or msg.cmd_type not in EVENT_KINDS:
        return _response_for(req, 489, "Bad Event", headers=[("Allow-Events", "presence")])
    try:
        expires = int((req.headers.get("Expires") or "3600").strip())
        frm = parse_name_addr(req.headers["From"])
        to = parse_name_addr(req.headers["To"])
        contact_text = req.headers.get("Contact")
        target = str(parse_name_addr(contact_text).uri) if contact_text else str(frm.uri)
        interval = float(msg.fields.get("Interval") or 5)
    except (ValueError, KeyError, SipParseError):
        return _response_for(req, 400, "Bad SUBSCRIBE")
    st = dev.state
    kind = msg.cmd_type
    now = time.monotonic()
    sub = st.events.get(kind)
    if to.tag and (sub is None or sub.call_id != req.call_id or sub.local_tag != to.tag):
        return _response_for(req, 481)
    if expires <= 0:
        _end(st, kind)
        local_tag = to.tag or new_tag()
    elif sub is not None and to.tag:
        sub.expires_at = now + expires
        sub.target = target
        sub.interval = max(MIN_INTERVAL, interval)
        sub.refreshes += 1
        local_tag = sub.local_tag
    else:
        _end(st, kind)
        local_tag = new_tag()
        sub = EventDialog(
            call_id=req.call_id,
            local_uri=str(to.uri),
            local_tag=local_tag,
            remote_uri=str(frm.uri),
            remote_tag=frm.tag,
            target=target,
            sn=msg.sn,
            expires_at=now + expires,
            interval=max(MIN_INTERVAL, interval),
        )
        st.events[kind] = sub
        if kind == "MobilePosition":
            sub.task = asyncio.get_running_loop().create_task(_report_positions(dev, sub))
    body = manscdp.build_manscdp(
        "Response", kind, msg.sn, dev.device_id, [("Result", "OK")], charset=dev.config.charset
    )
    return _response_for(
        req,
        200,
        to_tag=local_tag,
        headers=[
            ("Expires", str(max(0, expires))),
            ("Contact", f"<{dev.contact}>"),
            ("Content-Type", MANSCDP_TYPE),
        ],
        body=body,
    )


def _end(st: SimState, kind: str) -> None:
    sub = st.events.pop(kind, None)
    if sub is not None and sub.task is not None:
        sub.task.cancel()


def stop_all(dev: SimDevice) -> None:
    for kind in list(dev.state.events):
        _end(dev.state, kind)
    for talk in dev.state.talks.values():
        if talk.transport is not None:
            talk.transport.close()


async def notify_event(dev: SimDevice, kind: str, body: bytes) -> int:
    """NOTIFY in the ``kind`` subscription dialog; 0 when there is none."""
    sub = dev.state.events.get(kind)
    now = time.monotonic()
    if sub is None or sub.expires_at <= now:
        return 0
    req = dev.fleet.stack.build_request(
        "NOTIFY",
        sub.target,
        from_uri=sub.local_uri,
        to_uri=sub.remote_uri,
        from_tag=sub.local_tag,
        to_tag=sub.remote_tag,
        call_id=sub.call_id,
        contact=dev.contact,
        headers=[
            ("Event", "presence"),
            ("Subscription-State", f"active;expires={sub.remaining(now)}"),
        ],
        body=body,
        content_type=MANSCDP_TYPE,
    )
    try:
        resp = await dev.fleet.send(req)
    except SipTimeout:
        return 408
    if resp.status == 481:
        _end(dev.state, kind)
    return resp.status


async def notify_alarm(dev: SimDevice, channel_id: str, description: str = "入侵检测报警") -> int:
    """An alarm delivered in the Alarm subscription dialog (9.11.2)."""
    from sharpeyes.sim.device import local_time

    ch = dev.channel(channel_id)
    dev.active_alarms.add(channel_id)
    sub = dev.state.events.get("Alarm")
    body = manscdp.alarm_notify(
        sub.sn if sub else 1,
        channel_id,
        priority=1,
        method=5,
        alarm_time=local_time(),
        description=description,
        longitude=round(ch.longitude, 6),
        latitude=round(ch.latitude, 6),
        alarm_type=6,
        charset=dev.config.charset,
    )
    return await notify_event(dev, "Alarm", body)


async def _report_positions(dev: SimDevice, sub: EventDialog) -> None:
    with contextlib.suppress(asyncio.CancelledError):
        while sub.expires_at > time.monotonic():
            await notify_event(dev, "MobilePosition", position_body(dev, sub.sn))
            await asyncio.sleep(sub.interval)


async def send_media_status(dev: SimDevice, source_id: str, notify_type: str = "121") -> int:
    """A.2.5 c: the device tells the platform a playback/download file has been sent."""
    body = manscdp.build_manscdp(
        "Notify",
        "MediaStatus",
        next(dev._sn),
        source_id,
        [("NotifyType", notify_type)],
        charset=dev.config.charset,
    )
    return await dev._send_message(body)


async def send_unknown(dev: SimDevice, root: str = "Notify", cmd_type: str = "VendorThing") -> int:
    """A CmdType the platform does not know (vendor extensions exist in the field)."""
    body = manscdp.build_manscdp(
        root, cmd_type, next(dev._sn), dev.device_id, [("Value", "1")], charset=dev.config.charset
    )
    return await dev._send_message(body)


HANDLERS = {
    ("Query", "ConfigDownload"): config_download,
    ("Query", "Alarm"): query_alarm,
    ("Query", "PTZPosition"): query_ptz_position,
    ("Query", "SDCardStatus"): query_sd_card,
    ("Query", "HomePositionQuery"): query_home,
    ("Query", "CruiseTrackListQuery"): query_cruise_list,
    ("Query", "CruiseTrackQuery"): query_cruise,
    ("Query", "MobilePosition"): query_mobile_position,
    ("Control", "DeviceConfig"): config,
}


# --------------------------------------------------------------------- talk
@dataclass
class SimTalk:
    """A voice call the platform opened (INVITE s=Talk): what reached the speaker."""

    call_id: str
    channel_id: str
    pt: int
    transport: asyncio.DatagramTransport | None = None
    packets: list[tuple[int, int, bytes]] = field(default_factory=list)  # (pt, seq, payload)
    ended: bool = False


class _TalkSink(asyncio.DatagramProtocol):
    def __init__(self, talk: SimTalk) -> None:
        self.talk = talk

    def datagram_received(self, data: bytes, addr: Any) -> None:
        from sharpeyes.media.rtp import RtpError, parse_rtp

        try:
            p = parse_rtp(data)
        except RtpError:
            return
        if len(self.talk.packets) < 10_000:
            self.talk.packets.append((p.pt, p.seq, bytes(p.payload)))


def is_talk(req: SipRequest) -> bool:
    from sharpeyes.gb28181.sdp import SdpError, parse_sdp

    try:
        return bool(req.body) and parse_sdp(req.body).operation == "talk"
    except SdpError:
        return False


async def on_talk_invite(dev: SimDevice, req: SipRequest) -> SipResponse | None:
    """Answer INVITE s=Talk with where the speaker listens (G.711, PCMA preferred)."""
    from sharpeyes.gb28181.sdp import (
        MediaDescription,
        SdpError,
        SessionDescription,
        parse_sdp,
    )

    to_tag = new_tag()
    if not dev.config.talk:
        return _response_for(req, 488, "No audio output", to_tag=to_tag)
    if req.call_id in dev.state.talks:
        return None
    try:
        channel_id = req.uri.split(":", 1)[1].split("@", 1)[0]
        dev.channel(channel_id)
        offer = parse_sdp(req.body)
        m = offer.first("audio")
    except (IndexError, KeyError, SdpError):
        return _response_for(req, 488, "Not Acceptable Here", to_tag=to_tag)
    pt = 8 if 8 in m.formats else 0 if 0 in m.formats else None
    if pt is None:
        return _response_for(req, 488, "G.711 only", to_tag=to_tag)
    talk = SimTalk(req.call_id, channel_id, pt)
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: _TalkSink(talk), local_addr=(dev.fleet.local_host, 0)
    )
    talk.transport = transport
    dev.state.talks[req.call_id] = talk
    answer = SessionDescription(
        origin_user=channel_id,
        origin_address=dev.fleet.advertised_host,
        session_name="Talk",
        connection_address=dev.fleet.advertised_host,
        media=[
            MediaDescription(
                media="audio",
                port=transport.get_extra_info("sockname")[1],
                formats=[pt],
                rtpmap={pt: "PCMA/8000" if pt == 8 else "PCMU/8000"},
                direction="sendrecv",
                ssrc=m.ssrc or offer.ssrc,
            )
        ],
    )
    return _response_for(
        req,
        200,
        to_tag=to_tag,
        headers=[
            ("Contact", f"<sip:{channel_id}@{dev.fleet.advertised_host}:{dev.fleet.port}>"),
            ("Content-Type", "application/sdp"),
        ],
        body=answer.to_bytes(),
    )


def on_talk_bye(dev: SimDevice, req: SipRequest) -> SipResponse | None:
    talk = dev.state.talks.get(req.call_id)
    if talk is None:
        return None
    talk.ended = True
    if talk.transport is not None:
        talk.transport.close()
    return _response_for(req, 200)


def on_broadcast(dev: SimDevice, req: SipRequest, msg: ManscdpMessage) -> SipResponse | None:
    """9.12: confirm the Notify Broadcast, then INVITE the source for its audio."""
    source = msg.fields.get("SourceID", "")
    target = msg.fields.get("TargetID", "") or dev.device_id
    ok = dev.config.talk and bool(source)
    body = manscdp.build_manscdp(
        "Response",
        "Broadcast",
        msg.sn,
        target,
        [("Result", "OK" if ok else "ERROR")],
        charset=dev.config.charset,
    )
    _later_body(dev, body)
    if ok:
        dev._later(_broadcast_invite(dev, source, target))
    return None


async def _broadcast_invite(dev: SimDevice, source: str, target: str) -> None:
    from sharpeyes.gb28181.sdp import MediaDescription, SessionDescription

    fleet = dev.fleet
    talk = SimTalk("", target, 8)
    transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
        lambda: _TalkSink(talk), local_addr=(fleet.local_host, 0)
    )
    talk.transport = transport
    offer = SessionDescription(
        origin_user=target,
        origin_address=fleet.advertised_host,
        session_name="Play",
        connection_address=fleet.advertised_host,
        media=[
            MediaDescription(
                media="audio",
                port=transport.get_extra_info("sockname")[1],
                formats=[8, 0],
                rtpmap={8: "PCMA/8000", 0: "PCMU/8000"},
                direction="recvonly",
                ssrc="0100000001",
            )
        ],
    )
    peer = fleet.server_peer
    uri = f"sip:{source}@{peer.host}:{peer.port}"
    req = fleet.stack.build_request(
        "INVITE",
        uri,
        from_uri=f"sip:{target}@{fleet.domain}",
        to_uri=f"sip:{source}@{fleet.domain}",
        contact=dev.contact,
        body=offer.to_bytes(),
        content_type="application/sdp",
    )
    talk.call_id = req.call_id
    dev.state.talks[req.call_id] = talk
    try:
        resp = await fleet.send(req)
    except SipTimeout:
        transport.close()
        return
    if resp.status != 200:
        transport.close()
        dev.state.talks.pop(req.call_id, None)
        return
    ack = fleet.stack.build_request(
        "ACK",
        uri,
        from_uri=f"sip:{target}@{fleet.domain}",
        to_uri=f"sip:{source}@{fleet.domain}",
        from_tag=parse_name_addr(req.headers["From"]).tag,
        to_tag=parse_name_addr(resp.headers["To"]).tag,
        call_id=req.call_id,
        cseq=int(req.headers["CSeq"].split()[0]),
    )
    await fleet.stack.send_stateless(ack, peer)


HANDLERS[("Notify", "Broadcast")] = on_broadcast
