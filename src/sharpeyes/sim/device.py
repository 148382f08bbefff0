"""Simulated GB/T 28181 devices (IPCs and NVRs) for tests, demos and load runs.

A :class:`SimDevice` is pure behaviour: it owns no socket. Its fleet owns the one
SIP stack shared by thousands of devices, sends the device's requests and hands it
the requests addressed to it. Timers are ``loop.call_later`` handles, not sleeping
tasks, so an idle device costs a few hundred bytes and 10,000 fit in one process.

Faults (``config.faults``, switchable at run time with :meth:`SimDevice.set_fault`)
reproduce what breaks real deployments:

- ``offline``: never registers; at run time it falls silent (no requests, no answers);
- ``no_keepalive``: keeps its registration alive but sends no keepalives;
- ``wrong_password``: answers the digest challenge with a wrong password;
- ``no_catalog``: answers a Catalog query 200 but never sends the catalog;
- ``gbk_names``: bodies are GB18030 bytes but the XML prolog claims UTF-8
  (a common firmware bug: the platform must decide by the bytes);
- media: ``invite_reject``, ``invite_silent``, ``no_media``, ``wrong_ssrc``
  (see ``sim.media``, which answers INVITE/ACK/BYE with real video over RTP).

Quirks (:data:`QUIRKS`, switched like faults, ``sharpeyes sim --quirk NAME``) are
habits of third-party devices that a platform must tolerate, kept here so the
suite keeps the node coping with them:

- ``sdp_bad_ssrc``: the INVITE's 200 OK says ``y=<device ID>``, RTP uses another SSRC;
- ``content_length_chars``: MESSAGE Content-Length counts characters, not bytes
  (wrong whenever a body holds non-ASCII names);
- ``gbk_names`` (above) is one too.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import time
import zlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone, tzinfo
from typing import TYPE_CHECKING, Any, Literal

from sharpeyes.gb28181 import manscdp, records
from sharpeyes.gb28181.charset import normalize_charset
from sharpeyes.gb28181.deviceid import is_device_id
from sharpeyes.gb28181.digest import DigestError, build_authorization, parse_digest
from sharpeyes.gb28181.manscdp import ManscdpError, ManscdpMessage, parse_manscdp
from sharpeyes.gb28181.message import (
    SipParseError,
    SipRequest,
    SipResponse,
    parse_name_addr,
    response_for,
)
from sharpeyes.gb28181.ptz import PRESET_DELETE, PRESET_SET, decode_ptz
from sharpeyes.sim import media as sim_media
from sharpeyes.sim import messages as sim_messages
from sharpeyes.sim import recordings as sim_recordings
from sharpeyes.sim.recordings import SimRecordingConfig
from sharpeyes.sip.responder import (
    CatalogSubscription,
    accept_catalog_subscribe,
    notify_request,
    send_paced,
)
from sharpeyes.sip.stack import SipTimeout, new_call_id, new_tag

if TYPE_CHECKING:
    from sharpeyes.sim.fleet import SimFleet

log = logging.getLogger("sharpeyes.sim")

QUIRKS = frozenset({"content_length_chars", "gbk_names"}) | sim_media.MEDIA_QUIRKS
FAULTS = (
    frozenset({"no_keepalive", "wrong_password", "offline", "no_catalog"})
    | sim_media.MEDIA_FAULTS
    | QUIRKS
)
MANSCDP_TYPE = "Application/MANSCDP+xml"
ALLOW = "INVITE, ACK, BYE, CANCEL, OPTIONS, MESSAGE, SUBSCRIBE, INFO"
RECEIVED_MAX = 256
PTZ_LOG_MAX = 1024
SUBSCRIBE_DEFAULT_EXPIRES = 600
# SIP methods we know but a device does not accept (405); anything else is 501.
_KNOWN_METHODS = frozenset({"REGISTER", "NOTIFY", "PUBLISH", "REFER", "UPDATE", "PRACK"})
_PRESET_NAMES = (
    "看守位",
    "路口全景",
    "主干道东向",
    "主干道西向",
    "人行横道",
    "停车场入口",
    "校门口",
    "广场全景",
    "河堤巡查点",
    "桥头",
)


def _china_tz() -> tzinfo:
    """Devices keep Beijing time (GB ``DeviceTime``/``AlarmTime`` are local time)."""
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo("Asia/Shanghai")
    except Exception:  # no tz database: China has had no DST since 1991
        return timezone(timedelta(hours=8), "CST")


LOCAL_TZ = _china_tz()


def local_time() -> str:
    """``yyyy-MM-ddTHH:mm:ss`` in device local time."""
    return datetime.now(LOCAL_TZ).strftime("%Y-%m-%dT%H:%M:%S")


def _coord(value: float) -> str:
    """Six decimals, as surveyed coordinates are kept in the ledger."""
    return f"{value:.6f}"


@dataclass
class SimChannel:
    """One video channel (a camera) as it appears in the device's catalog."""

    channel_id: str
    name: str
    civil_code: str
    longitude: float
    latitude: float
    ptz_type: int = 3
    status: str = "ON"
    address: str | None = None
    parent_id: str | None = None
    manufacturer: str = "sharpeyes-sim"
    model: str = "SIM-IPC-B4"
    owner: str = "0"

    def __post_init__(self) -> None:
        if not is_device_id(self.channel_id):
            raise ValueError(f"channel ID must be 20 digits, got {self.channel_id!r}")
        if self.ptz_type not in (1, 2, 3, 4):
            raise ValueError(f"PTZType must be 1..4, got {self.ptz_type!r}")
        if self.status not in ("ON", "OFF"):
            raise ValueError(f"status must be ON or OFF, got {self.status!r}")

    def catalog_item(self, parent_id: str) -> dict[str, manscdp.FieldValue]:
        """The A.2.6 catalog ``<Item>``; optional camera attributes go in ``<Info>``."""
        return {
            "DeviceID": self.channel_id,
            "Name": self.name,
            "Manufacturer": self.manufacturer,
            "Model": self.model,
            "Owner": self.owner,
            "CivilCode": self.civil_code,
            "Address": self.address or self.name,
            "Parental": 0,
            "ParentID": self.parent_id or parent_id,
            "SafetyWay": 0,
            "RegisterWay": 1,
            "Secrecy": 0,
            "Status": self.status,
            "Longitude": _coord(self.longitude),
            "Latitude": _coord(self.latitude),
            "Info": {"PTZType": self.ptz_type},
        }


class CharCountedRequest(SipRequest):
    """A request whose Content-Length counts the body's characters (a firmware bug)."""

    def to_bytes(self) -> bytes:
        data = super().to_bytes()
        head, sep, body = data.partition(b"\r\n\r\n")
        try:
            chars = len(self.body.decode("utf-8"))
        except UnicodeDecodeError:
            chars = len(self.body.decode("gb18030", errors="replace"))
        head = re.sub(rb"(?im)^Content-Length:[^\r\n]*", b"Content-Length: %d" % chars, head)
        return head + sep + body


@dataclass
class SimDeviceConfig:
    """Everything that defines one simulated device; faults may change at run time."""

    device_id: str
    password: str
    kind: Literal["ipc", "nvr"] = "ipc"
    channels: list[SimChannel] = field(default_factory=list)
    name: str = ""
    manufacturer: str = "sharpeyes-sim"
    model: str = ""
    firmware: str = "V5.6.3 build 230601"
    charset: str = "GB2312"
    keepalive_interval: float = 60.0
    register_expires: int = 3600
    catalog_per_message: int = 10
    faults: set[str] = field(default_factory=set)
    # Digest algorithms this device can answer, strongest first (2022 devices: SHA-256).
    digest_algorithms: tuple[str, ...] = ("MD5",)
    talk: bool = True  # has a speaker: accepts INVITE s=Talk (G.711)
    media: sim_media.SimMediaConfig | None = None  # None: small default H.264 in PS
    recordings: SimRecordingConfig = field(default_factory=SimRecordingConfig)
    # Per-channel video faults (sim.media.VIDEO_FAULTS), switchable at run time.
    video_faults: dict[str, str] = field(default_factory=dict)
    clock_drift_s: float = 0.0  # DeviceTime offset while a channel has "clock_drift"

    def __post_init__(self) -> None:
        if not is_device_id(self.device_id):
            raise ValueError(f"device ID must be 20 digits, got {self.device_id!r}")
        if self.kind not in ("ipc", "nvr"):
            raise ValueError(f"kind must be ipc or nvr, got {self.kind!r}")
        unknown = set(self.faults) - FAULTS
        if unknown:
            raise ValueError(f"unknown faults {sorted(unknown)}; known: {sorted(FAULTS)}")
        self.faults = set(self.faults)
        self.charset = normalize_charset(self.charset)
        if self.keepalive_interval <= 0 or self.register_expires <= 0:
            raise ValueError("keepalive_interval and register_expires must be positive")
        if not 1 <= self.catalog_per_message <= manscdp.MAX_ITEMS_PER_MESSAGE:
            raise ValueError("catalog_per_message out of range")
        ids = [c.channel_id for c in self.channels]
        if len(set(ids)) != len(ids):
            raise ValueError("duplicate channel IDs")
        if not self.name:
            self.name = f"{self.kind.upper()} {self.device_id[-6:]}"
        if not self.model:
            self.model = "SIM-NVR-16" if self.kind == "nvr" else "SIM-IPC-B4"


class SimDevice:
    """Behaviour of one device: registration, keepalive, queries, control, events."""

    def __init__(self, config: SimDeviceConfig, fleet: SimFleet) -> None:
        self.config = config
        self.fleet = fleet
        self.registered = False
        self.last_status: int | None = None
        self.server_date: str | None = None
        self.granted_expires: int | None = None
        self.received: list[tuple[str, str]] = []
        self.ptz_log: list[tuple[str, str, str]] = []
        self.active_alarms: set[str] = set()
        self.subscription: CatalogSubscription | None = None
        self.presets: dict[str, dict[int, str]] = {
            c.channel_id: self._default_presets(c) for c in config.channels
        }
        self._reg_call_id = new_call_id(fleet.local_host)
        self._reg_tag = new_tag()
        self._sn = itertools.count(1)
        self._running = False
        self._registering: asyncio.Future[int] | None = None
        self._refresh: asyncio.TimerHandle | None = None
        self._keepalive: asyncio.TimerHandle | None = None
        self._keepalive_misses = 0
        self.media_calls: dict[str, sim_media.SimCall] = {}
        self.state = sim_messages.SimState()
        self.video_faults: dict[str, str] = {}
        for cid, fault in config.video_faults.items():
            self.set_video_fault(cid, fault)
        self.ptz_moves: dict[str, int] = {}

    # ------------------------------------------------------------ identity
    @property
    def device_id(self) -> str:
        return self.config.device_id

    @property
    def faults(self) -> set[str]:
        return self.config.faults

    @property
    def channels(self) -> list[SimChannel]:
        return self.config.channels

    @property
    def uri(self) -> str:
        return f"sip:{self.device_id}@{self.fleet.domain}"

    @property
    def contact(self) -> str:
        return f"sip:{self.device_id}@{self.fleet.advertised_host}:{self.fleet.port}"

    def channel(self, channel_id: str) -> SimChannel:
        for ch in self.config.channels:
            if ch.channel_id == channel_id:
                return ch
        raise KeyError(channel_id)

    def set_quirk(self, quirk: str, on: bool = True) -> None:
        """Switch a third-party habit (:data:`QUIRKS`) at run time."""
        if quirk not in QUIRKS:
            raise ValueError(f"unknown quirk {quirk!r}; known: {sorted(QUIRKS)}")
        self.set_fault(quirk, on)

    def set_fault(self, fault: str, on: bool = True) -> None:
        """Switch a fault at run time; going offline silences the device at once."""
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}")
        was_offline = "offline" in self.faults
        if on:
            self.faults.add(fault)
        else:
            self.faults.discard(fault)
        if fault != "offline":
            return
        if on and not was_offline:
            self._cancel_timers()
            self.registered = False  # its registration simply lapses at the platform
        elif not on and was_offline and self._running:
            self._running = False
            self.start()

    def set_video_fault(self, channel_id: str, fault: str | None) -> None:
        """Give one channel a video fault (None heals it); new INVITEs show it."""
        self.channel(channel_id)  # KeyError for an unknown channel
        if fault:
            self.video_faults[channel_id] = sim_media.parse_video_fault(fault)
        else:
            self.video_faults.pop(channel_id, None)

    def device_time(self) -> str:
        """``DeviceTime``, off by ``clock_drift_s`` when a channel has the clock_drift fault."""
        drift = self.config.clock_drift_s or 300.0
        if "clock_drift" in self.video_faults.values():
            return (datetime.now(LOCAL_TZ) + timedelta(seconds=drift)).strftime("%Y-%m-%dT%H:%M:%S")
        return local_time()

    # -------------------------------------------------------- registration
    async def register(self, expires: int | None = None) -> int:
        """REGISTER (answering the digest challenge); returns the final status.

        0 means nothing was sent (the device is ``offline``); 408 a timeout. On 200
        the server ``Date`` is kept and a refresh is armed before the expiry.
        """
        if "offline" in self.faults:
            return 0
        if self._registering is not None:  # one registration at a time
            return await asyncio.shield(self._registering)
        fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._registering = fut
        try:
            status = await self._register_once(expires or self.config.register_expires)
            fut.set_result(status)
            return status
        except asyncio.CancelledError:
            fut.cancel()
            raise
        except Exception as exc:
            fut.set_exception(exc)
            fut.exception()  # mark retrieved: the caller sees it directly
            raise
        finally:
            self._registering = None

    async def _register_once(self, expires: int) -> int:
        stats = self.fleet.stats
        started = time.monotonic()
        resp = await self._register_exchange(expires)
        status = resp.status if resp is not None else 408
        self.last_status = status
        if status == 200 and resp is not None:
            self.registered = True
            self.server_date = resp.headers.get("Date")
            self.granted_expires = _granted_expires(resp, expires)
            stats.registrations_ok += 1
            stats.register_latency.add(time.monotonic() - started)
            self._arm_refresh(self.granted_expires * self.fleet.refresh_fraction)
            log.debug("sim %s registered (expires %s)", self.device_id, self.granted_expires)
        else:
            self.registered = False
            stats.registrations_failed += 1
            log.info("sim %s registration failed: %s", self.device_id, status)
            if self._running:
                self._arm_refresh(self.fleet.retry_interval)
        return status

    async def _register_exchange(
        self, expires: int, *, timeout: float | None = None
    ) -> SipResponse | None:
        """One REGISTER transaction chain: plain, challenged, and once more if stale."""
        auth: tuple[str, str] | None = None
        for _ in range(3):
            headers = [("Expires", str(expires))]
            if auth is not None:
                headers.append(auth)
            req = self.fleet.stack.build_request(
                "REGISTER",
                self.fleet.server_uri,
                from_uri=self.uri,
                to_uri=self.uri,
                from_tag=self._reg_tag,
                call_id=self._reg_call_id,
                contact=self.contact,
                headers=headers,
            )
            try:
                resp = await self.fleet.send(req, timeout=timeout)
            except SipTimeout:
                return None
            if resp.status not in (401, 407):
                return resp
            name = "WWW-Authenticate" if resp.status == 401 else "Proxy-Authenticate"
            challenge = self._pick_challenge(resp.headers.get_all(name))
            if challenge is None:
                return resp
            stale = challenge.get("stale", "").lower() == "true"
            if auth is not None and not stale:
                return resp  # our credentials were refused
            value = self._authorization(req.uri, challenge)
            if value is None:
                return resp
            auth = ("Authorization" if resp.status == 401 else "Proxy-Authorization", value)
        return resp

    def _pick_challenge(self, values: list[str]) -> dict[str, str] | None:
        """The challenge with the strongest algorithm we support (RFC 7616 3.7)."""
        offered: dict[str, dict[str, str]] = {}
        for value in values:
            try:
                c = parse_digest(value)
            except DigestError:
                continue
            offered.setdefault(c.get("algorithm", "MD5").upper(), c)
        for alg in self.config.digest_algorithms:
            if alg.upper() in offered:
                return offered[alg.upper()]
        return None

    def _authorization(self, uri: str, challenge: Mapping[str, str]) -> str | None:
        password = self.config.password
        if "wrong_password" in self.faults:
            password = password + "-wrong"
        qops = [q.strip().lower() for q in challenge.get("qop", "").split(",")]
        try:
            return build_authorization(
                method="REGISTER",
                uri=uri,
                username=self.device_id,
                realm=challenge.get("realm", self.fleet.domain),
                password=password,
                nonce=challenge["nonce"],
                algorithm=challenge.get("algorithm", "MD5"),
                qop="auth" if "auth" in qops else None,
                opaque=challenge.get("opaque"),
            )
        except (KeyError, DigestError) as exc:
            log.warning("sim %s cannot answer challenge: %s", self.device_id, exc)
            return None

    async def unregister(self, *, timeout: float | None = None) -> int:
        """REGISTER with Expires 0 (also challenged); stops refresh and keepalives."""
        self._running = False
        self._cancel_timers()
        if "offline" in self.faults:
            return 0
        resp = await self._register_exchange(0, timeout=timeout)
        self.registered = False
        status = resp.status if resp is not None else 408
        if status == 200:
            self.fleet.stats.unregistrations += 1
        return status

    def _arm_refresh(self, delay: float) -> None:
        if self._refresh is not None:
            self._refresh.cancel()
        delay = max(0.05, delay * self.fleet.rng.uniform(0.95, 1.0))
        self._refresh = asyncio.get_running_loop().call_later(delay, self._refresh_due)

    def _refresh_due(self) -> None:
        self._refresh = None
        if "offline" not in self.faults:
            self.fleet.stack.schedule(self._register_quietly())

    async def _register_quietly(self) -> None:
        try:
            await self.register()
        except Exception:
            log.exception("sim %s re-registration failed", self.device_id)

    # ---------------------------------------------------------- keepalive
    def start(self) -> None:
        """Keep the device alive on its own: keepalives, refreshes, retries."""
        if self._running:
            return
        self._running = True
        loop = asyncio.get_running_loop()
        interval = self.config.keepalive_interval
        self._keepalive = loop.call_later(
            self.fleet.rng.uniform(0.05, 1.0) * interval, self._keepalive_due
        )
        if not self.registered and self._refresh is None and "offline" not in self.faults:
            self._arm_refresh(self.fleet.rng.uniform(0.0, min(5.0, self.fleet.retry_interval)))

    def stop(self) -> None:
        """Stop every timer and stream without telling the platform (see :meth:`unregister`)."""
        self._running = False
        self._cancel_timers()
        sim_media.stop_all(self)
        sim_messages.stop_all(self)

    async def hang_up(self, channel_id: str | None = None) -> list[int]:
        """End this device's live streams with a BYE of its own (e.g. a camera reboot)."""
        return await sim_media.hang_up(self, channel_id)

    def _cancel_timers(self) -> None:
        for handle in (self._refresh, self._keepalive):
            if handle is not None:
                handle.cancel()
        self._refresh = self._keepalive = None

    def _keepalive_due(self) -> None:
        self._keepalive = None
        if not self._running or "offline" in self.faults:
            return
        if self.registered and "no_keepalive" not in self.faults:
            self.fleet.stack.schedule(_quiet(self.send_keepalive(), self.device_id))
        interval = self.config.keepalive_interval * self.fleet.rng.uniform(0.95, 1.05)
        self._keepalive = asyncio.get_running_loop().call_later(interval, self._keepalive_due)

    async def send_keepalive(self) -> int:
        """One Keepalive Notify; a 4xx makes the device re-register (as real ones do)."""
        stats = self.fleet.stats
        body = manscdp.keepalive(next(self._sn), self.device_id, charset=self.config.charset)
        stats.keepalive_sent += 1
        started = time.monotonic()
        try:
            resp = await self.fleet.send(self._message(body))
        except SipTimeout:
            stats.keepalive_failed += 1
            self._keepalive_misses += 1
            if self._keepalive_misses >= 3 and self._running:
                self._keepalive_misses = 0
                self.registered = False
                self.fleet.stack.schedule(self._register_quietly())
            return 408
        if 200 <= resp.status < 300:
            self._keepalive_misses = 0
            stats.keepalive_ok += 1
            stats.keepalive_latency.add(time.monotonic() - started)
        else:
            stats.keepalive_failed += 1
            if 400 <= resp.status < 500 and self._running:
                self.registered = False
                self.fleet.stack.schedule(self._register_quietly())
        return resp.status

    # ------------------------------------------------------------ outbound
    def _message(self, body: bytes) -> SipRequest:
        req = self.fleet.stack.build_request(
            "MESSAGE",
            self.fleet.server_uri,
            from_uri=self.uri,
            to_uri=self.fleet.server_uri,
            body=self._label(body),
            content_type=MANSCDP_TYPE,
        )
        if "content_length_chars" in self.faults:
            return CharCountedRequest(
                headers=req.headers, body=req.body, method=req.method, uri=req.uri
            )
        return req

    def _label(self, body: bytes) -> bytes:
        if "gbk_names" in self.faults and self.config.charset == "GB2312":
            return body.replace(b'encoding="GB2312"', b'encoding="UTF-8"', 1)
        return body

    async def _send_message(self, body: bytes) -> int:
        """Send one MESSAGE and return its final status (408 on timeout)."""
        stats = self.fleet.stats
        stats.messages_sent += 1
        try:
            resp = await self.fleet.send(self._message(body))
        except SipTimeout:
            stats.messages_failed += 1
            return 408
        if resp.status >= 300:
            stats.messages_failed += 1
        return resp.status

    async def send_alarm(
        self,
        channel_id: str,
        priority: int = 1,
        method: int = 5,
        alarm_type: int = 2,
        description: str = "视频移动侦测报警",
    ) -> int:
        """Alarm Notify from a channel (method 5 video, type 2 motion by default)."""
        ch = self.channel(channel_id)
        self.active_alarms.add(channel_id)
        body = manscdp.alarm_notify(
            next(self._sn),
            channel_id,
            priority=priority,
            method=method,
            alarm_time=local_time(),
            description=description,
            longitude=round(ch.longitude, 6),
            latitude=round(ch.latitude, 6),
            alarm_type=alarm_type,
            charset=self.config.charset,
        )
        return await self._send_message(body)

    async def set_channel_status(self, channel_id: str, status: Literal["ON", "OFF"]) -> int:
        """Change a channel's status and tell the platform (Catalog ON/OFF event)."""
        if status not in ("ON", "OFF"):
            raise ValueError(f"status must be ON or OFF, got {status!r}")
        ch = self.channel(channel_id)
        ch.status = status
        return await self.notify_catalog([ch.catalog_item(self.device_id) | {"Event": status}])

    async def add_channel(self, channel: SimChannel) -> int:
        """Add a channel (Catalog ADD event)."""
        if any(c.channel_id == channel.channel_id for c in self.config.channels):
            raise ValueError(f"channel {channel.channel_id} already exists")
        self.config.channels.append(channel)
        self.presets[channel.channel_id] = self._default_presets(channel)
        self.fleet._index_channel(self, channel.channel_id)
        return await self.notify_catalog([channel.catalog_item(self.device_id) | {"Event": "ADD"}])

    async def remove_channel(self, channel_id: str) -> int:
        """Remove a channel (Catalog DEL event)."""
        ch = self.channel(channel_id)
        self.config.channels.remove(ch)
        self.presets.pop(channel_id, None)
        self.fleet._unindex_channel(channel_id)
        return await self.notify_catalog([{"DeviceID": channel_id, "Event": "DEL"}])

    async def notify_catalog(self, items: list[dict[str, manscdp.FieldValue]]) -> int:
        """Catalog change: NOTIFY in the subscription dialog if any, else MESSAGE."""
        if "offline" in self.faults:
            return 0
        sub = self.subscription
        now = time.monotonic()
        if sub is not None and sub.expires_at <= now:
            self.subscription = sub = None
        if sub is None:
            body = manscdp.catalog_notify(
                next(self._sn), self.device_id, items, charset=self.config.charset
            )
            return await self._send_message(body)
        body = manscdp.catalog_notify(sub.sn, self.device_id, items, charset=self.config.charset)
        req = notify_request(
            self.fleet.stack, sub, self._label(body), contact=self.contact, now=now
        )
        self.fleet.stats.messages_sent += 1
        try:
            resp = await self.fleet.send(req)
        except SipTimeout:
            self.fleet.stats.messages_failed += 1
            return 408
        if resp.status == 481:  # the subscriber forgot the dialog
            self.subscription = None
        return resp.status

    # ------------------------------------------------------------- inbound
    def _remember(self, method: str, cmd_type: str) -> None:
        self.received.append((method, cmd_type))
        if len(self.received) > 2 * RECEIVED_MAX:
            del self.received[:-RECEIVED_MAX]

    async def handle(self, req: SipRequest) -> SipResponse | None:
        """Answer a request the platform addressed to this device (or its channel)."""
        if "offline" in self.faults:
            return None  # a device that is gone answers nothing
        method = req.method
        if method == "ACK":
            self._remember(method, "")
            sim_media.on_ack(self, req)
            return None
        msg: ManscdpMessage | None = None
        if method in ("MESSAGE", "SUBSCRIBE") and req.body:
            try:
                msg = parse_manscdp(req.body)
            except ManscdpError as exc:
                self._remember(method, "")
                log.info("sim %s: bad MANSCDP body: %s", self.device_id, exc)
                return response_for(req, 400, "Bad MANSCDP body")
        self._remember(method, msg.cmd_type if msg is not None else "")
        if method == "MESSAGE":
            if msg is None:
                return response_for(req, 400, "Empty MESSAGE")
            return self._on_message(req, msg)
        if method == "SUBSCRIBE":
            return self._on_subscribe(req, msg)
        if method == "OPTIONS":
            return response_for(req, 200, headers=[("Allow", ALLOW)])
        if method == "INVITE":
            if sim_messages.is_talk(req):
                return await sim_messages.on_talk_invite(self, req)
            return await sim_media.on_invite(self, req)
        if method == "BYE":
            return sim_messages.on_talk_bye(self, req) or sim_media.on_bye(self, req)
        if method == "INFO":
            return sim_media.on_info(self, req)
        if method == "CANCEL":
            return response_for(req, 481)
        if method in _KNOWN_METHODS:
            return response_for(req, 405, headers=[("Allow", ALLOW)])
        return response_for(req, 501)

    def _later(self, coro: Awaitable[Any]) -> None:
        """Send after the 200 has gone out: the stack answers when the handler returns."""
        self.fleet.stack.schedule(_quiet(coro, self.device_id))

    def _on_message(self, req: SipRequest, msg: ManscdpMessage) -> SipResponse:
        ok = response_for(req, 200)
        handler = _MESSAGE_HANDLERS.get((msg.root, msg.cmd_type))
        if handler is None:
            return ok  # Notify/Response/unknown queries: acknowledged, nothing to do
        return handler(self, req, msg) or ok

    def _query_catalog(self, req: SipRequest, msg: ManscdpMessage) -> SipResponse | None:
        if "no_catalog" not in self.faults:
            self._later(self.send_catalog(msg.sn))
        return None

    async def send_catalog(self, sn: int) -> int:
        """Appendix N: every part shares the SN; each is sent after the previous 200."""
        items = [c.catalog_item(self.device_id) for c in self.config.channels]
        bodies = manscdp.catalog_responses(
            sn,
            self.device_id,
            items,
            per_message=self.config.catalog_per_message,
            charset=self.config.charset,
        )

        def stopped(part: int, total: int, status: int) -> None:
            log.info(
                "sim %s catalog part %d/%d got %s; stopping", self.device_id, part, total, status
            )

        status = await send_paced(bodies, self._send_message, stopped)
        return status

    def _query_device_info(self, req: SipRequest, msg: ManscdpMessage) -> SipResponse | None:
        body = manscdp.device_info_response(
            msg.sn,
            self.device_id,
            name=self.config.name,
            manufacturer=self.config.manufacturer,
            model=self.config.model,
            firmware=self.config.firmware,
            channel_num=len(self.config.channels),
            charset=self.config.charset,
        )
        self._later(self._send_message(body))
        return None

    def _query_device_status(self, req: SipRequest, msg: ManscdpMessage) -> SipResponse | None:
        body = manscdp.device_status_response(
            msg.sn,
            msg.device_id or self.device_id,
            device_time=self.device_time(),
            alarms=[(c, "ALARM") for c in sorted(self.active_alarms)],
            charset=self.config.charset,
        )
        self._later(self._send_message(body))
        return None

    def _query_presets(self, req: SipRequest, msg: ManscdpMessage) -> SipResponse | None:
        target = self._target_channel(msg.device_id)
        presets = sorted(self.presets.get(target, {}).items())
        body = manscdp.preset_response(
            msg.sn, msg.device_id or self.device_id, presets, charset=self.config.charset
        )
        self._later(self._send_message(body))
        return None

    def _query_records(self, req: SipRequest, msg: ManscdpMessage) -> SipResponse | None:
        """RecordInfo from the synthetic index, in Appendix N parts of ``per_message``."""
        target = msg.device_id or self.device_id
        cfg = self.config.recordings
        try:
            start = records.parse_time(msg.fields.get("StartTime", ""), LOCAL_TZ)
            end = records.parse_time(msg.fields.get("EndTime", ""), LOCAL_TZ)
        except ValueError:
            return response_for(req, 400, "Bad StartTime/EndTime")
        kind = (msg.fields.get("Type") or "all").strip().lower()
        items = sim_recordings.records(cfg, target, start, end, kind)
        bodies = records.responses(
            msg.sn,
            target,
            self._name_of(target),
            items,
            LOCAL_TZ,
            per_message=cfg.per_message,
            charset=self.config.charset,
        )

        async def send_all() -> None:
            for body in bodies:
                await self._send_message(body)

        self._later(send_all())
        return None

    def _control(self, req: SipRequest, msg: ManscdpMessage) -> SipResponse | None:
        if "PTZCmd" in msg.fields:
            return self._ptz(req, msg, msg.fields["PTZCmd"])
        return sim_messages.control(self, req, msg)

    def _ptz(self, req: SipRequest, msg: ManscdpMessage, hex_cmd: str) -> SipResponse | None:
        try:
            cmd = decode_ptz(hex_cmd)
        except ValueError as exc:
            log.info("sim %s: bad PTZCmd %r: %s", self.device_id, hex_cmd, exc)
            return response_for(req, 400, "Bad PTZCmd")
        channel_id = self._target_channel(msg.device_id)
        action = cmd.describe()
        self.ptz_log.append((channel_id, hex_cmd.strip().upper(), action))
        if len(self.ptz_log) > 2 * PTZ_LOG_MAX:
            del self.ptz_log[:-PTZ_LOG_MAX]
        log.info("sim PTZ %s %s %s", self.device_id, channel_id, action)
        sim_messages.after_ptz(self, channel_id, cmd)
        if self.video_faults.get(channel_id) != "ptz_ignored" and cmd.describe() != "stop":
            self.ptz_moves[channel_id] = self.ptz_moves.get(channel_id, 0) + 1
        presets = self.presets.get(channel_id)
        if presets is not None and 1 <= cmd.d2 <= 255:
            if cmd.cmd == PRESET_SET:
                presets.setdefault(cmd.d2, f"预置位{cmd.d2}")
            elif cmd.cmd == PRESET_DELETE:
                presets.pop(cmd.d2, None)
        return None

    def _on_subscribe(self, req: SipRequest, msg: ManscdpMessage | None) -> SipResponse:
        event = req.headers.get("Event") or ""
        if event.split(";")[0].strip().lower() == "presence":
            return sim_messages.on_subscribe(self, req, msg)
        resp, self.subscription = accept_catalog_subscribe(
            req,
            self.subscription,
            time.monotonic(),
            notifier_id=self.device_id,
            contact=self.contact,
            next_sn=lambda: next(self._sn),
            charset=self.config.charset,
            default_expires=SUBSCRIBE_DEFAULT_EXPIRES,
        )
        resp.body = self._label(resp.body)
        return resp

    # -------------------------------------------------------------- helpers
    def _target_channel(self, body_id: str) -> str:
        """The channel a body DeviceID means; a one-channel device stands for its channel."""
        if body_id == self.device_id and len(self.config.channels) == 1:
            return self.config.channels[0].channel_id
        return body_id or self.device_id

    def _name_of(self, some_id: str) -> str:
        for ch in self.config.channels:
            if ch.channel_id == some_id:
                return ch.name
        return self.config.name

    @staticmethod
    def _default_presets(channel: SimChannel) -> dict[int, str]:
        """A few named presets; domes (PTZType 1) have more. Deterministic per channel."""
        count = 5 if channel.ptz_type == 1 else 2
        start = zlib.crc32(channel.channel_id.encode()) % len(_PRESET_NAMES)
        names = [_PRESET_NAMES[0]] + [
            _PRESET_NAMES[1 + (start + i) % (len(_PRESET_NAMES) - 1)] for i in range(count - 1)
        ]
        return {i + 1: name for i, name in enumerate(names)}


_Handler = Callable[[SimDevice, SipRequest, ManscdpMessage], SipResponse | None]
_MESSAGE_HANDLERS: dict[tuple[str, str], _Handler] = {
    ("Query", "Catalog"): SimDevice._query_catalog,
    ("Query", "DeviceInfo"): SimDevice._query_device_info,
    ("Query", "DeviceStatus"): SimDevice._query_device_status,
    ("Query", "PresetQuery"): SimDevice._query_presets,
    ("Query", "RecordInfo"): SimDevice._query_records,
    ("Control", "DeviceControl"): SimDevice._control,
    **sim_messages.HANDLERS,
}


def _granted_expires(resp: SipResponse, requested: int) -> int:
    """Expiry the registrar granted: Expires header, else the Contact's expires param."""
    value = resp.headers.get("Expires")
    if value is not None and value.strip().isdigit():
        return int(value.strip()) or requested
    contact = resp.headers.get("Contact")
    if contact:
        try:
            exp = parse_name_addr(contact).params.get("expires", "")
        except SipParseError:
            exp = ""
        if exp.isdigit() and int(exp):
            return int(exp)
    return requested


async def _quiet(coro: Awaitable[Any], device_id: str) -> None:
    try:
        await coro
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("sim %s: background send failed", device_id)


__all__ = [
    "FAULTS",
    "SimChannel",
    "SimDevice",
    "SimDeviceConfig",
    "local_time",
]
