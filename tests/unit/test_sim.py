"""Simulated devices against a minimal in-test platform over real loopback sockets."""

from __future__ import annotations

import asyncio
import logging
import re
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime

import psutil
import pytest

from sharpeyes.gb28181 import digest, manscdp
from sharpeyes.gb28181.manscdp import ManscdpMessage, MultipartCollector, parse_manscdp
from sharpeyes.gb28181.message import SipRequest, SipResponse, parse_name_addr, response_for
from sharpeyes.gb28181.ptz import encode_ptz, preset
from sharpeyes.sim import SimChannel, SimDeviceConfig, SimFleet
from sharpeyes.sim.stats import FleetStats, Reservoir
from sharpeyes.sip.stack import SipStack, SipTimeout, new_tag
from sharpeyes.sip.transport import Peer

DOMAIN = "3402000000"
SERVER_ID = "34020000002000000001"
PASSWORD = "12345678"
IPC_ID = "34020000001320000001"
IPC_CH = "34020000001310000001"
NVR_ID = "34020000001180000001"
MANSCDP = "Application/MANSCDP+xml"


class FakePlatform:
    """Just enough of a GB registrar to drive the simulator: digest, keepalive, queries."""

    def __init__(self, *, qop: bool = False, stale_once: bool = False, hold: float = 0.0):
        self.stack = SipStack(host="127.0.0.1", port=0, handler=self.handle)
        self.secret = b"fake-platform-secret"
        self.qop = qop
        self.stale_once = stale_once
        self.hold = hold  # how long a non-keepalive MESSAGE waits for its 200
        self.date = "2024-05-01T08:30:00.123"
        self.registers: list[tuple[str, int, int, str | None]] = []  # id, expires, status, auth
        self.peers: dict[str, Peer] = {}
        self.keepalives: list[tuple[str, float]] = []
        self.messages: list[tuple[str, ManscdpMessage, bytes]] = []  # method, msg, raw body
        self.requests: list[SipRequest] = []
        self.sources: set[Peer] = set()
        self.inflight = 0
        self.max_inflight = 0
        self.reject_keepalive_from: set[str] = set()
        self._changed = asyncio.Condition()
        self._sn = 1000

    async def start(self) -> FakePlatform:
        # port 0: UDP picks the port and TCP must bind the same one, which another
        # socket may hold for TCP (e.g. as an ephemeral port); pick again then.
        for _ in range(5):
            try:
                await self.stack.start()
                return self
            except OSError:
                await self.stack.stop()
                self.stack = SipStack(host="127.0.0.1", port=0, handler=self.handle)
        raise OSError("cannot bind the fake platform")

    @property
    def port(self) -> int:
        return self.stack.port

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def handle(self, req: SipRequest, peer: Peer) -> SipResponse | None:
        self.requests.append(req)
        self.sources.add(peer)
        try:
            if req.method == "REGISTER":
                return self._register(req, peer)
            if req.method in ("MESSAGE", "NOTIFY"):
                return await self._message(req)
            return response_for(req, 405)
        finally:
            await self._notify()

    def _register(self, req: SipRequest, peer: Peer) -> SipResponse:
        user = parse_name_addr(req.headers["From"]).uri.user
        expires = int(req.headers.get("Expires") or "3600")
        auth = req.headers.get("Authorization")
        now = time.time()

        def challenge(stale: bool = False) -> SipResponse:
            value = digest.build_challenge(
                realm=DOMAIN, nonce=digest.make_nonce(self.secret, now), qop=self.qop, stale=stale
            )
            return response_for(req, 401, to_tag=new_tag(), headers=[("WWW-Authenticate", value)])

        if auth is None:
            self.registers.append((user, expires, 401, None))
            return challenge()
        params = digest.parse_digest(auth)
        if self.stale_once:
            self.stale_once = False
            self.registers.append((user, expires, 401, auth))
            return challenge(stale=True)
        fresh = digest.check_nonce(self.secret, params["nonce"], now, 60) == "ok"
        if not fresh or not digest.verify(params, method="REGISTER", password=PASSWORD):
            self.registers.append((user, expires, 403, auth))
            return response_for(req, 403, to_tag=new_tag())
        self.registers.append((user, expires, 200, auth))
        self.peers[user] = peer
        return response_for(
            req,
            200,
            to_tag=new_tag(),
            headers=[
                ("Contact", req.headers["Contact"]),
                ("Expires", str(expires)),
                ("Date", self.date),
            ],
        )

    async def _message(self, req: SipRequest) -> SipResponse:
        msg = parse_manscdp(req.body)
        if msg.cmd_type == "Keepalive":
            if msg.device_id in self.reject_keepalive_from:
                return response_for(req, 403)
            self.keepalives.append((msg.device_id, time.monotonic()))
            return response_for(req, 200)
        self.inflight += 1
        self.max_inflight = max(self.max_inflight, self.inflight)
        try:
            if self.hold:
                await asyncio.sleep(self.hold)
        finally:
            self.inflight -= 1
        self.messages.append((req.method, msg, req.body))
        return response_for(req, 200)

    # ------------------------------------------------------------- driving
    def next_sn(self) -> int:
        self._sn += 1
        return self._sn

    async def send(
        self,
        method: str,
        to_id: str,
        body: bytes = b"",
        *,
        via_device: str | None = None,
        headers: tuple[tuple[str, str], ...] = (),
        timeout: float = 2.0,
    ) -> SipResponse:
        peer = self.peers[via_device or to_id]
        req = self.stack.build_request(
            method,
            f"sip:{to_id}@{peer.host}:{peer.port}",
            from_uri=f"sip:{SERVER_ID}@{DOMAIN}",
            to_uri=f"sip:{to_id}@{DOMAIN}",
            contact=f"sip:{SERVER_ID}@127.0.0.1:{self.port}",
            headers=headers,
            body=body,
            content_type=MANSCDP if body else None,
        )
        return await self.stack.request(req, peer, timeout=timeout)

    async def wait(self, predicate: Callable[[], bool], timeout: float = 2.0) -> None:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(predicate), timeout)

    def found(self, cmd_type: str, sn: int | None = None) -> list[ManscdpMessage]:
        return [
            m for _, m, _ in self.messages if m.cmd_type == cmd_type and (sn is None or m.sn == sn)
        ]


def ipc(faults: set[str] | None = None, **kw: object) -> SimDeviceConfig:
    channel = SimChannel(
        IPC_CH, "城关镇人民路与淮河路交叉口东北角枪机", "34152201", 116.283457, 32.351239
    )
    return SimDeviceConfig(IPC_ID, PASSWORD, "ipc", [channel], faults=faults or set(), **kw)  # type: ignore[arg-type]


def nvr(channels: int = 20, **kw: object) -> SimDeviceConfig:
    chans = [
        SimChannel(
            f"340200000013100001{k:02d}",
            f"城关镇中心学校通道{k}",
            "34152201",
            116.28 + k / 1000 + 0.000001,
            32.35 + k / 1000 + 0.000002,
            ptz_type=1 if k % 4 == 0 else 3,
        )
        for k in range(1, channels + 1)
    ]
    return SimDeviceConfig(NVR_ID, PASSWORD, "nvr", chans, name="城关镇中心学校NVR", **kw)  # type: ignore[arg-type]


Setup = Callable[..., Awaitable[tuple[FakePlatform, SimFleet]]]


@pytest.fixture
async def setup() -> AsyncIterator[Setup]:
    made: list[tuple[FakePlatform, SimFleet]] = []

    async def make(
        *configs: SimDeviceConfig,
        transport: str = "udp",
        register: bool = True,
        **platform_kw: object,
    ) -> tuple[FakePlatform, SimFleet]:
        platform = await FakePlatform(**platform_kw).start()  # type: ignore[arg-type]
        fleet = SimFleet(("127.0.0.1", platform.port), SERVER_ID, DOMAIN, transport, seed=7)  # type: ignore[arg-type]
        made.append((platform, fleet))
        for cfg in configs:
            fleet.add(cfg)
        await fleet.start()
        if register:
            results = await fleet.register_all()
            assert set(results) <= {200, 403}
        return platform, fleet

    yield make
    for platform, fleet in made:
        await fleet.stop(timeout=0.5)
        await platform.stack.stop()


# ------------------------------------------------------------------ registration


@pytest.mark.parametrize("transport", ["udp", "tcp"])
@pytest.mark.parametrize("qop", [False, True])
async def test_register_with_digest(setup: Setup, transport: str, qop: bool) -> None:
    platform, fleet = await setup(ipc(), transport=transport, register=False, qop=qop)
    device = fleet.get(IPC_ID)
    assert await device.register() == 200
    assert device.registered and device.server_date == platform.date
    assert device.granted_expires == 3600
    statuses = [s for uid, _, s, _ in platform.registers if uid == IPC_ID]
    assert statuses == [401, 200]
    auth = platform.registers[-1][3]
    assert auth is not None
    params = digest.parse_digest(auth)
    assert params["username"] == IPC_ID and params["realm"] == DOMAIN
    assert params["uri"] == f"sip:{SERVER_ID}@{DOMAIN}"
    assert (params.get("qop") == "auth") is qop
    # one Call-ID for the registration, Contact pointing at the shared stack
    regs = [r for r in platform.requests if r.method == "REGISTER"]
    assert len({r.call_id for r in regs}) == 1
    contact = parse_name_addr(regs[-1].headers["Contact"]).uri
    assert (contact.user, contact.port) == (IPC_ID, fleet.port)
    assert platform.peers[IPC_ID].transport == transport
    assert fleet.stats.registrations_ok == 1 and fleet.stats.register_latency.count == 1


async def test_wrong_password_gets_403(setup: Setup) -> None:
    platform, fleet = await setup(ipc({"wrong_password"}), register=False)
    device = fleet.get(IPC_ID)
    assert await device.register() == 403
    assert not device.registered
    assert [s for _, _, s, _ in platform.registers] == [401, 403]
    assert fleet.stats.registrations_failed == 1 and fleet.stats.registrations_ok == 0
    device.set_fault("wrong_password", False)
    assert await device.register() == 200


async def test_stale_nonce_is_retried(setup: Setup) -> None:
    platform, fleet = await setup(ipc(), register=False, stale_once=True)
    assert await fleet.get(IPC_ID).register() == 200
    assert [s for _, _, s, _ in platform.registers] == [401, 401, 200]


async def test_offline_device_is_silent(setup: Setup) -> None:
    platform, fleet = await setup(ipc({"offline"}), nvr(2))
    assert fleet.get(IPC_ID).registered is False
    assert {uid for uid, *_ in platform.registers} == {NVR_ID}
    # it goes silent at run time too: a registered device stops answering
    nvr_dev = fleet.get(NVR_ID)
    nvr_dev.set_fault("offline")
    with pytest.raises(SipTimeout):
        await platform.send("OPTIONS", NVR_ID, timeout=0.3)
    nvr_dev.set_fault("offline", False)
    assert (await platform.send("OPTIONS", NVR_ID)).status == 200


async def test_unregister_sends_expires_zero(setup: Setup) -> None:
    platform, fleet = await setup(ipc())
    device = fleet.get(IPC_ID)
    assert await device.unregister() == 200
    assert not device.registered
    assert platform.registers[-1][1:3] == (0, 200)
    assert fleet.stats.unregistrations == 1


async def test_many_devices_share_one_socket(setup: Setup) -> None:
    ids = [f"340200000013200{i:05d}" for i in range(1, 301)]
    configs = [SimDeviceConfig(d, PASSWORD) for d in ids]
    for transport in ("udp", "tcp"):
        platform, fleet = await setup(*configs, transport=transport, register=False)
        results = await fleet.register_all(concurrency=100)
        assert results == {200: 300}
        assert fleet.registered_count == 300
        assert len(platform.sources) == 1  # one socket / one TCP connection
        if transport == "tcp":
            to_platform = [
                c
                for c in psutil.Process().net_connections("tcp")
                if c.raddr and c.raddr.port == platform.port
            ]
            assert len(to_platform) == 1


# ---------------------------------------------------------------------- keepalive


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_keepalive_then_no_keepalive(setup: Setup, transport: str) -> None:
    platform, fleet = await setup(ipc(keepalive_interval=0.1), transport=transport)
    device = fleet.get(IPC_ID)
    fleet.start_keepalives()
    await platform.wait(lambda: len(platform.keepalives) >= 3)
    stats = fleet.stats
    assert stats.keepalive_ok >= 3 and stats.keepalive_failed == 0
    p50, p99 = stats.percentile(50), stats.percentile(99)
    assert p50 is not None and p99 is not None and 0 < p50 <= p99 < 1
    device.set_fault("no_keepalive")
    await asyncio.sleep(0.15)  # let one in flight land
    seen = len(platform.keepalives)
    await asyncio.sleep(0.4)
    assert len(platform.keepalives) == seen
    assert device.registered
    assert all(exp != 0 for _, exp, _, _ in platform.registers)  # no unregister


async def test_rejected_keepalive_makes_device_register_again(setup: Setup) -> None:
    platform, fleet = await setup(ipc(keepalive_interval=0.1))
    platform.reject_keepalive_from.add(IPC_ID)
    fleet.start_keepalives()
    await platform.wait(lambda: len([r for r in platform.registers if r[2] == 200]) >= 2)
    assert fleet.stats.keepalive_failed >= 1


# ----------------------------------------------------------------------- queries


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_catalog_multipart_one_at_a_time(setup: Setup, transport: str) -> None:
    platform, fleet = await setup(nvr(20, catalog_per_message=6), transport=transport, hold=0.05)
    sn = platform.next_sn()
    resp = await platform.send("MESSAGE", NVR_ID, manscdp.query("Catalog", sn, NVR_ID))
    assert resp.status == 200
    await platform.wait(lambda: len(platform.found("Catalog", sn)) == 4)
    parts = platform.found("Catalog", sn)
    assert [len(p.items) for p in parts] == [6, 6, 6, 2]
    assert all(p.root == "Response" and p.sum_num == 20 and p.device_id == NVR_ID for p in parts)
    assert platform.max_inflight == 1  # each part waited for the previous 200
    collector = MultipartCollector()
    done = [collector.add((NVR_ID, sn), p, 0.0) for p in parts]
    assert done[:3] == [None, None, None] and done[3] is not None
    items = done[3]
    assert sorted(i["DeviceID"] for i in items) == [
        f"340200000013100001{k:02d}" for k in range(1, 21)
    ]
    first = next(i for i in items if i["DeviceID"].endswith("04"))
    assert first["ParentID"] == NVR_ID and first["Status"] == "ON"
    assert first["PTZType"] == "1" and first["Longitude"] == "116.284001"
    assert ("MESSAGE", "Catalog") in fleet.get(NVR_ID).received


async def test_no_catalog_fault(setup: Setup) -> None:
    platform, _ = await setup(nvr(3, faults={"no_catalog"}))
    sn = platform.next_sn()
    assert (
        await platform.send("MESSAGE", NVR_ID, manscdp.query("Catalog", sn, NVR_ID))
    ).status == 200
    await asyncio.sleep(0.3)
    assert platform.found("Catalog", sn) == []


async def test_device_info_status_and_presets(setup: Setup) -> None:
    platform, _ = await setup(nvr(4), ipc())
    sn1, sn2, sn3, sn4 = (platform.next_sn() for _ in range(4))
    await platform.send("MESSAGE", NVR_ID, manscdp.query("DeviceInfo", sn1, NVR_ID))
    await platform.send("MESSAGE", NVR_ID, manscdp.query("DeviceStatus", sn2, NVR_ID))
    dome = "34020000001310000104"
    await platform.send("MESSAGE", NVR_ID, manscdp.query("PresetQuery", sn3, dome))
    await platform.send("MESSAGE", IPC_ID, manscdp.query("PresetQuery", sn4, IPC_ID))
    await platform.wait(
        lambda: all(
            platform.found(c, s)
            for c, s in [
                ("DeviceInfo", sn1),
                ("DeviceStatus", sn2),
                ("PresetQuery", sn3),
                ("PresetQuery", sn4),
            ]
        )
    )
    info = platform.found("DeviceInfo", sn1)[0]
    assert info.fields["DeviceName"] == "城关镇中心学校NVR"
    assert info.fields["Channel"] == "4" and info.fields["Result"] == "OK"
    status = platform.found("DeviceStatus", sn2)[0]
    assert status.fields["Online"] == "ONLINE" and status.fields["Status"] == "OK"
    device_time = datetime.strptime(status.fields["DeviceTime"], "%Y-%m-%dT%H:%M:%S")
    assert abs((device_time - datetime.now()).total_seconds()) < 86400
    presets = platform.found("PresetQuery", sn3)[0]
    assert presets.list_tag == "PresetList" and len(presets.items) == 5  # a dome has more
    names = [i["PresetName"] for i in presets.items]
    assert all(re.search(r"[\u4e00-\u9fff]", n) for n in names)
    assert [i["PresetID"] for i in presets.items] == ["1", "2", "3", "4", "5"]
    assert len(platform.found("PresetQuery", sn4)[0].items) == 2  # a bullet has a few


async def test_ptz_is_decoded_and_logged(setup: Setup, caplog: pytest.LogCaptureFixture) -> None:
    platform, fleet = await setup(nvr(4), ipc())
    caplog.set_level(logging.INFO, logger="sharpeyes.sim")
    channel = "34020000001310000102"
    # addressed to the channel in the Request-URI, relayed over the NVR's registration
    body = manscdp.ptz_control(platform.next_sn(), channel, "A50F010180000036")
    assert (await platform.send("MESSAGE", channel, body, via_device=NVR_ID)).status == 200
    device = fleet.get(NVR_ID)
    assert device.ptz_log[-1] == (channel, "A50F010180000036", "right")
    assert f"sim PTZ {NVR_ID} {channel} right" in caplog.text
    # an IPC addressed by its own ID moves its only channel
    zoom = encode_ptz(0x10, d3=1)
    await platform.send("MESSAGE", IPC_ID, manscdp.ptz_control(platform.next_sn(), IPC_ID, zoom))
    assert fleet.get(IPC_ID).ptz_log[-1] == (IPC_CH, zoom, "zoom-in")
    # a preset set through PTZ shows up in PresetQuery
    await platform.send(
        "MESSAGE", IPC_ID, manscdp.ptz_control(platform.next_sn(), IPC_ID, preset("set", 9))
    )
    assert 9 in fleet.get(IPC_ID).presets[IPC_CH]
    bad = manscdp.build_manscdp(
        "Control", "DeviceControl", 1, IPC_ID, [("PTZCmd", "A50F0101800000FF")]
    )
    assert (await platform.send("MESSAGE", IPC_ID, bad)).status == 400


async def test_alarm_and_reset(setup: Setup) -> None:
    platform, fleet = await setup(ipc())
    device = fleet.get(IPC_ID)
    assert await device.send_alarm(IPC_CH, description="区域入侵") == 200
    alarm = platform.found("Alarm")[0]
    assert alarm.root == "Notify" and alarm.device_id == IPC_CH
    assert alarm.fields["AlarmMethod"] == "5" and alarm.fields["AlarmType"] == "2"
    assert alarm.fields["AlarmDescription"] == "区域入侵"
    assert alarm.fields["Longitude"] == "116.283457"
    assert IPC_CH in device.active_alarms
    sn = platform.next_sn()
    assert (
        await platform.send("MESSAGE", IPC_ID, manscdp.reset_alarm(sn, IPC_CH, "5", "2"))
    ).status == 200
    await platform.wait(lambda: bool(platform.found("DeviceControl", sn)))
    reply = platform.found("DeviceControl", sn)[0]
    assert reply.root == "Response" and reply.fields["Result"] == "OK"
    assert not device.active_alarms


async def test_catalog_events_message_then_subscription_notify(setup: Setup) -> None:
    platform, fleet = await setup(nvr(3))
    device = fleet.get(NVR_ID)
    ch = "34020000001310000102"
    # no subscription: a MESSAGE Notify Catalog
    assert await device.set_channel_status(ch, "OFF") == 200
    ((method, note, _),) = [(m, n, b) for m, n, b in platform.messages if n.cmd_type == "Catalog"]
    assert method == "MESSAGE" and note.root == "Notify" and note.sum_num == 1
    assert note.items[0]["DeviceID"] == ch and note.items[0]["Event"] == "OFF"
    assert note.items[0]["Status"] == "OFF"
    # subscribe: the changes arrive as NOTIFY in the dialog
    sub_from_tag = "platformtag1"
    req = platform.stack.build_request(
        "SUBSCRIBE",
        f"sip:{NVR_ID}@127.0.0.1:{fleet.port}",
        from_uri=f"sip:{SERVER_ID}@{DOMAIN}",
        to_uri=f"sip:{NVR_ID}@{DOMAIN}",
        from_tag=sub_from_tag,
        contact=f"sip:{SERVER_ID}@127.0.0.1:{platform.port}",
        headers=[("Event", "Catalog;id=7"), ("Expires", "600")],
        body=manscdp.query("Catalog", 55, NVR_ID),
        content_type=MANSCDP,
    )
    resp = await platform.stack.request(req, platform.peers[NVR_ID])
    assert resp.status == 200 and resp.headers["Expires"] == "600"
    dialog_tag = parse_name_addr(resp.headers["To"]).tag
    assert dialog_tag and parse_manscdp(resp.body).fields["Result"] == "OK"
    assert await device.set_channel_status(ch, "ON") == 200
    added = SimChannel("34020000001310000199", "城关镇中心学校新增通道萳", "34152201", 116.1, 32.1)
    assert await device.add_channel(added) == 200
    assert await device.remove_channel("34020000001310000101") == 200
    notifies = [r for r in platform.requests if r.method == "NOTIFY"]
    assert len(notifies) == 3
    for n in notifies:
        assert n.call_id == req.call_id
        assert n.headers["Event"] == "Catalog;id=7"
        assert n.headers["Subscription-State"].startswith("active;expires=")
        assert parse_name_addr(n.headers["From"]).tag == dialog_tag
        assert parse_name_addr(n.headers["To"]).tag == sub_from_tag
        assert n.uri == f"sip:{SERVER_ID}@127.0.0.1:{platform.port}"
    events = [parse_manscdp(n.body).items[0] for n in notifies]
    assert [(e["DeviceID"], e["Event"]) for e in events] == [
        (ch, "ON"),
        ("34020000001310000199", "ADD"),
        ("34020000001310000101", "DEL"),
    ]
    assert events[1]["Name"] == "城关镇中心学校新增通道萳"
    # the new channel is routable; the removed one is not
    assert (await platform.send("OPTIONS", "34020000001310000199", via_device=NVR_ID)).status == 200
    gone = await platform.send("OPTIONS", "34020000001310000101", via_device=NVR_ID)
    assert gone.status == 404
    # a SUBSCRIBE for another event package is refused
    other = await platform.send("SUBSCRIBE", NVR_ID, headers=(("Event", "presence"),))
    assert other.status == 489


async def test_unsupported_requests(setup: Setup) -> None:
    platform, fleet = await setup(ipc())
    assert (await platform.send("INVITE", IPC_CH, via_device=IPC_ID)).status == 488
    assert (await platform.send("OPTIONS", IPC_ID)).status == 200
    assert (await platform.send("PUBLISH", IPC_ID)).status == 405
    assert (await platform.send("FROB", IPC_ID)).status == 501
    assert (await platform.send("OPTIONS", "34020000001329999999", via_device=IPC_ID)).status == 404
    received = fleet.get(IPC_ID).received
    assert ("INVITE", "") in received and ("FROB", "") in received


async def test_charsets_and_rare_character(setup: Setup) -> None:
    name = "周集镇萳湖村村委会门前球机"
    ch = lambda i: SimChannel(f"3402000000131000000{i}", name, "34152203", 116.4, 32.47)  # noqa: E731
    utf8 = SimDeviceConfig("34020000001320000001", PASSWORD, channels=[ch(1)], charset="UTF-8")
    gb = SimDeviceConfig("34020000001320000002", PASSWORD, channels=[ch(2)])
    liar = SimDeviceConfig("34020000001320000003", PASSWORD, channels=[ch(3)], faults={"gbk_names"})
    platform, _ = await setup(utf8, gb, liar)
    sns = {}
    for cfg in (utf8, gb, liar):
        sns[cfg.device_id] = platform.next_sn()
        body = manscdp.query("Catalog", sns[cfg.device_id], cfg.device_id)
        await platform.send("MESSAGE", cfg.device_id, body)
    await platform.wait(lambda: all(platform.found("Catalog", s) for s in sns.values()))
    raw = {m.device_id: b for _, m, b in platform.messages if m.cmd_type == "Catalog"}
    assert name.encode("utf-8") in raw[utf8.device_id]
    assert name.encode("gb18030") in raw[gb.device_id] and b'encoding="GB2312"' in raw[gb.device_id]
    assert name.encode("gb18030") in raw[liar.device_id]
    assert b'encoding="UTF-8"' in raw[liar.device_id]  # mislabelled, like real firmware
    for s in sns.values():
        assert platform.found("Catalog", s)[0].items[0]["Name"] == name


# -------------------------------------------------------------------- stats, cli


def test_reservoir_percentiles_and_bound() -> None:
    r = Reservoir(capacity=100, seed=1)
    assert r.percentile(50) is None
    for v in range(1, 101):
        r.add(v / 1000)
    assert r.percentile(0) == pytest.approx(0.001) and r.percentile(100) == pytest.approx(0.1)
    assert r.percentile(50) == pytest.approx(0.0505)
    for _ in range(10_000):
        r.add(1.0)
    assert len(r) == 100 and r.count == 10_100
    assert r.percentile(50) == 1.0  # the sample follows the whole stream
    s = FleetStats()
    s.keepalive_latency.add(0.002)
    assert "p50 2.0 ms" in s.summary(1, 2) and s.summary(1, 2).startswith("registered 1/2")


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_cli_runs_a_fleet(setup: Setup, transport: str) -> None:
    platform, _ = await setup(register=False)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sharpeyes.sim",
        "--server", f"127.0.0.1:{platform.port}", "--server-id", SERVER_ID, "--domain", DOMAIN,
        "--password", PASSWORD, "--devices", "5", "--nvr-ratio", "0.2", "--channels", "4",
        "--keepalive-interval", "0.3", "--duration", "1.2", "--status-interval", "0.5",
        "--transport", transport,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 10)
    text = out.decode()
    assert proc.returncode == 0, err.decode()
    assert "registered 5/5" in text and f"5 devices, 20 channels, {transport}" in text
    ok = {uid for uid, exp, status, _ in platform.registers if status == 200 and exp}
    assert len(ok) == 5 and any(uid[10:13] == "118" for uid in ok)
    assert platform.keepalives
    assert len([1 for _, exp, status, _ in platform.registers if exp == 0 and status == 200]) == 5
