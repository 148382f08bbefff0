"""ONVIF: WS-Discovery, reading a camera (device info, time, profiles, stream URIs) and PTZ.

Built on maintained libraries: ``onvif-zeep-async`` (zeep SOAP client with the
ONVIF WSDLs and WS-Security UsernameToken) and ``wsdiscovery`` (WS-Discovery
Probe/ProbeMatch, run in a thread). The console's PTZ panel speaks GB actions
(``left`` … ``zoomout``, ``stop``, presets, speed 0-255); for an ONVIF proxy they
map to ContinuousMove (pan/tilt/zoom velocity = speed/255 in the generic
velocity space), Stop, GotoPreset, SetPreset and RemovePreset on the main
profile; every PTZ request is audited like a GB one.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import selectors
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sharpeyes.errors import DomainError
from sharpeyes.live.audit import AuditRecord, audit
from sharpeyes.sharing.principal import Principal
from sharpeyes.store.models import Channel

if TYPE_CHECKING:
    from sharpeyes.proxies.service import ProxyService

log = logging.getLogger(__name__)

NVT = ("http://www.onvif.org/ver10/network/wsdl", "NetworkVideoTransmitter")
DIRECTIONS: dict[str, tuple[int, int, int]] = {
    "left": (-1, 0, 0),
    "right": (1, 0, 0),
    "up": (0, 1, 0),
    "down": (0, -1, 0),
    "upleft": (-1, 1, 0),
    "upright": (1, 1, 0),
    "downleft": (-1, -1, 0),
    "downright": (1, -1, 0),
    "zoomin": (0, 0, 1),
    "zoomout": (0, 0, -1),
}


class OnvifError(DomainError):
    """The camera could not be read or refused the request (``status``: HTTP to report)."""

    def __init__(self, detail: str, status: int = 502, reason: str = "onvif_failed") -> None:
        super().__init__(detail, status=status, code=reason, reason=reason)
        self.detail = detail
        self.reason = reason


def parse_xaddr(xaddr: str) -> tuple[str, int]:
    """``http://host[:port]/onvif/device_service`` (or ``host[:port]``) → (host, port)."""
    text = xaddr.strip()
    if "://" not in text:
        text = f"http://{text}"
    parts = urlsplit(text)
    if not parts.hostname:
        raise ValueError("xaddr must be the camera's device service URL or host[:port]")
    return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)


def velocity(action: str, speed: int) -> tuple[float, float, float]:
    """GB PTZ action + speed (0-255) → ONVIF (pan, tilt, zoom) velocity in [-1, 1]."""
    dx, dy, dz = DIRECTIONS[action]
    v = round(max(1, min(255, speed)) / 255, 3)
    return dx * v, dy * v, dz * v


def _text(v: Any) -> str | None:
    return None if v is None else str(v)


class OnvifCamera:
    """One camera session over onvif-zeep-async (open → calls → close)."""

    def __init__(self, host: str, port: int, username: str | None, password: str | None) -> None:
        from onvif import ONVIFCamera

        self.cam = ONVIFCamera(host, port, username or "", password or "", adjust_time=True)

    async def __aenter__(self) -> OnvifCamera:
        try:
            await self.cam.update_xaddrs()
        except Exception as exc:
            await self.cam.close()
            raise _fail(exc) from exc
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.cam.close()

    async def read(self) -> dict[str, Any]:
        try:
            dev = await self.cam.create_devicemgmt_service()
            info = await dev.GetDeviceInformation()
            dt = await dev.GetSystemDateAndTime()
            media = await self.cam.create_media_service()
            profiles = await media.GetProfiles()
            out = []
            for prof in profiles or []:
                uri = await media.GetStreamUri(
                    {
                        "StreamSetup": {"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}},
                        "ProfileToken": prof.token,
                    }
                )
                enc = getattr(prof, "VideoEncoderConfiguration", None)
                res = getattr(enc, "Resolution", None) if enc is not None else None
                out.append(
                    {
                        "token": _text(prof.token),
                        "name": _text(getattr(prof, "Name", None)),
                        "encoding": _text(getattr(enc, "Encoding", None)) if enc else None,
                        "width": getattr(res, "Width", None) if res is not None else None,
                        "height": getattr(res, "Height", None) if res is not None else None,
                        "stream_uri": _text(uri.Uri),
                        "ptz": getattr(prof, "PTZConfiguration", None) is not None,
                    }
                )
        except OnvifError:
            raise
        except Exception as exc:
            raise _fail(exc) from exc
        utc = getattr(dt, "UTCDateTime", None)
        when = None
        if utc is not None:
            d, t = utc.Date, utc.Time
            when = (
                f"{d.Year:04d}-{d.Month:02d}-{d.Day:02d}T"
                f"{t.Hour:02d}:{t.Minute:02d}:{t.Second:02d}Z"
            )
        tz = getattr(getattr(dt, "TimeZone", None), "TZ", None)
        return {
            "device": {
                "manufacturer": _text(info.Manufacturer),
                "model": _text(info.Model),
                "firmware": _text(info.FirmwareVersion),
                "serial": _text(info.SerialNumber),
                "hardware_id": _text(info.HardwareId),
            },
            "time": {
                "utc": when,
                "timezone": _text(tz),
                "type": _text(getattr(dt, "DateTimeType", None)),
            },
            "profiles": out,
            "ptz": any("/ptz/" in k for k in self._services()) and any(p["ptz"] for p in out),
        }

    def _services(self) -> list[str]:
        return [str(ns) for ns in (self.cam.xaddrs or {})]

    async def ptz(self, profile: str, action: str, speed: int, preset: int | None) -> str:
        try:
            svc = await self.cam.create_ptz_service()
            if action == "stop":
                await svc.Stop({"ProfileToken": profile, "PanTilt": True, "Zoom": True})
                return "Stop"
            if action in DIRECTIONS:
                x, y, z = velocity(action, speed)
                vel: dict[str, Any] = {}
                if x or y:
                    vel["PanTilt"] = {"x": x, "y": y}
                if z:
                    vel["Zoom"] = {"x": z}
                await svc.ContinuousMove({"ProfileToken": profile, "Velocity": vel})
                return "ContinuousMove"
            if preset is None:
                raise ValueError("preset index required")
            token = str(preset)
            if action == "preset_call":
                await svc.GotoPreset({"ProfileToken": profile, "PresetToken": token})
                return "GotoPreset"
            if action == "preset_set":
                await svc.SetPreset(
                    {"ProfileToken": profile, "PresetToken": token, "PresetName": f"preset{token}"}
                )
                return "SetPreset"
            if action == "preset_delete":
                await svc.RemovePreset({"ProfileToken": profile, "PresetToken": token})
                return "RemovePreset"
        except (OnvifError, ValueError):
            raise
        except Exception as exc:
            raise _fail(exc) from exc
        raise ValueError(f"unknown PTZ action {action}")

    async def presets(self, profile: str) -> list[dict[str, str]]:
        try:
            svc = await self.cam.create_ptz_service()
            rows = await svc.GetPresets({"ProfileToken": profile})
        except Exception as exc:
            raise _fail(exc) from exc
        return [
            {"PresetID": _text(getattr(r, "token", None)) or "", "PresetName": _text(r.Name) or ""}
            for r in rows or []
        ]


def _fail(exc: BaseException) -> OnvifError:
    text = str(exc) or type(exc).__name__
    low = text.lower()
    if "401" in low or "not authorized" in low or "unauthorized" in low or "sender not" in low:
        return OnvifError(f"the camera refused the credentials: {text}", 502, "auth_failed")
    return OnvifError(f"ONVIF request failed: {text}", 502, "onvif_failed")


class OnvifService:
    """ONVIF for the proxy service: add by ONVIF, discovery, and the PTZ of ONVIF proxies.

    Registered as the devices domain's ``ExternalPtz`` for proxies with PTZ.
    """

    def __init__(self, proxies: ProxyService) -> None:
        self.proxies = proxies

    async def probe(self, xaddr: str, username: str | None, password: str | None) -> dict[str, Any]:
        host, port = parse_xaddr(xaddr)
        async with asyncio.timeout(self.proxies.settings.onvif_timeout_s):
            async with OnvifCamera(host, port, username, password) as cam:
                return await cam.read()

    async def add(
        self, principal: Principal, data: dict[str, Any], *, client_ip: str | None = None
    ) -> dict[str, Any]:
        xaddr = str(data.get("xaddr") or "")
        info = await self.probe(xaddr, data.get("username"), data.get("password"))
        profiles = [p for p in info["profiles"] if p["stream_uri"]]
        if not profiles:
            raise OnvifError("the camera reported no profile with a stream URI", 502, "no_profiles")
        main = profiles[0]
        sub = profiles[1] if len(profiles) > 1 else None
        device = info["device"]
        values = {
            "name": data.get("name")
            or f"{device['manufacturer'] or 'ONVIF'} {device['model'] or ''}".strip(),
            "url": main["stream_uri"],
            "sub_url": sub["stream_uri"] if sub else None,
            "source": "onvif",
            "onvif_xaddr": xaddr,
            "onvif_profile": main["token"],
            "onvif_ptz": bool(info["ptz"] and main["ptz"]),
            "manufacturer": (device["manufacturer"] or "")[:64] or None,
            "model": (device["model"] or "")[:64] or None,
        }
        for key in (
            "username",
            "password",
            "transport",
            "on_demand",
            "gb_id",
            "civil_code",
            "org",
            "longitude",
            "latitude",
        ):
            if data.get(key) is not None:
                values[key] = data[key]
        out = await self.proxies.create(principal, values, client_ip=client_ip)
        return {**out, "onvif_info": info}

    # -- devices.ExternalPtz ---------------------------------------------------------
    def owns(self, device_id: str) -> bool:
        return self.proxies.owns(device_id)

    async def _proxy_for(self, ch: Channel) -> Any:
        from sharpeyes.proxies.models import Proxy

        pid = self.proxies._by_device.get(ch.device_id)
        async with self.proxies.db.session() as s:
            p = await s.get(Proxy, pid) if pid is not None else None
        if p is None or p.source != "onvif" or not p.onvif_xaddr or not p.onvif_profile:
            raise ValueError("this proxy has no ONVIF endpoint: PTZ is not available")
        if not p.onvif_ptz:
            raise ValueError("the camera reported no PTZ")
        return p

    async def ptz(
        self, principal: Principal, ch: Channel, *, action: str, speed: int, preset: int | None
    ) -> str:
        p = await self._proxy_for(ch)
        host, port = parse_xaddr(p.onvif_xaddr)
        async with asyncio.timeout(self.proxies.settings.onvif_timeout_s):
            async with OnvifCamera(host, port, p.username, p.password) as cam:
                op = await cam.ptz(p.onvif_profile, action, speed, preset)
        audit(
            self.proxies.bus,
            AuditRecord.by(
                principal,
                action="device.ptz",  # one name for GB and ONVIF PTZ
                target_type="channel",
                target_id=ch.channel_id,
                device_id=ch.device_id,
                client_ip=None,
                detail={
                    "channel_pk": ch.id,
                    "action": action,
                    "speed": speed,
                    "preset": preset,
                    "onvif": op,
                },
            ),
        )
        return f"onvif:{op}"

    async def presets(self, ch: Channel) -> list[dict[str, str]]:
        p = await self._proxy_for(ch)
        host, port = parse_xaddr(p.onvif_xaddr)
        async with asyncio.timeout(self.proxies.settings.onvif_timeout_s):
            async with OnvifCamera(host, port, p.username, p.password) as cam:
                return await cam.presets(p.onvif_profile)

    # -- WS-Discovery ------------------------------------------------------------------
    async def discover(
        self, timeout_s: float | None = None, address: str | None = None
    ) -> list[dict[str, Any]]:
        """ONVIF devices answering a WS-Discovery probe, not yet added: multicast on the
        local segment, or unicast to ``address`` (across routers, where multicast stops)."""
        settings = self.proxies.settings
        found = await asyncio.to_thread(
            _probe,
            timeout_s or settings.discovery_timeout_s,
            address,
            settings.discovery_port if address else None,
        )
        from sqlalchemy import select

        from sharpeyes.proxies.models import Proxy

        async with self.proxies.db.session() as s:
            rows = (await s.execute(select(Proxy.onvif_xaddr, Proxy.url))).all()
        known: set[str] = set()
        for xaddr, url in rows:
            for u in (xaddr, url):
                host = urlsplit(u if "://" in u else f"http://{u}").hostname if u else None
                if host:
                    known.add(host)
        out = []
        for dev in found:
            hosts = set()
            for x in dev["xaddrs"]:
                try:
                    hosts.add(parse_xaddr(x)[0])
                except ValueError:
                    continue
            dev["added"] = bool(hosts & known)
            if not dev["added"]:
                out.append(dev)
        return out


def _probe(timeout_s: float, address: str | None, port: int | None) -> list[dict[str, Any]]:
    from wsdiscovery import QName
    from wsdiscovery.discovery import ThreadedWSDiscovery

    class Discovery(ThreadedWSDiscovery):  # type: ignore[misc]
        # wsdiscovery 2.1 queues a unicast probe on its IPv6 thread too, which dies on an
        # IPv4 address: send it only on the thread of the address's family.
        def sendUnicastMessage(self, env: Any, host: str, port: int, *a: Any, **kw: Any) -> None:
            v6 = ipaddress.ip_address(host).version == 6
            thread = self._networkingThread_v6 if v6 else self._networkingThread_v4
            if thread is not None:
                thread.addUnicastMessage(env, host, port, *a, **kw)

    wsd = Discovery()
    wsd.start()
    if address:
        # ... and it never reads the socket a unicast probe leaves from, where the
        # camera's ProbeMatches come back to: watch it too.
        net = wsd._networkingThread_v4
        net._selector.register(net._uniOutSocket, selectors.EVENT_READ)
    try:
        services = wsd.searchServices(
            types=[QName(*NVT)], address=address, port=port, timeout=max(1, round(timeout_s))
        )
    finally:
        wsd.stop()
    out = []
    seen: set[str] = set()
    for svc in services:
        key = str(svc.getEPR())
        if key in seen:
            continue
        seen.add(key)
        scopes = [str(s.getValue() if hasattr(s, "getValue") else s) for s in svc.getScopes()]
        out.append(
            {
                "epr": str(svc.getEPR()),
                "xaddrs": [str(x) for x in svc.getXAddrs()],
                "scopes": scopes,
                "name": next((s.rsplit("/", 1)[-1] for s in scopes if "/name/" in s), None),
                "hardware": next((s.rsplit("/", 1)[-1] for s in scopes if "/hardware/" in s), None),
            }
        )
    return out


__all__ = ["OnvifCamera", "OnvifError", "OnvifService", "parse_xaddr", "velocity"]
