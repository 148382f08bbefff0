"""A small ONVIF device double: HTTP on 127.0.0.1 answering SOAP with captured-style responses.

It checks WS-Security UsernameToken digests (SHA1(nonce + created + password)) on
everything except GetSystemDateAndTime, like a real camera, and records each call
(operation name + the request's Body element) so tests can assert parameters.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import time
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from . import responses as R

WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"


@dataclass
class Call:
    op: str
    body: Any  # lxml element of the operation

    def text(self, local: str) -> str | None:
        for el in self.body.iter():
            if isinstance(el.tag, str) and etree.QName(el).localname == local:
                return el.text
        return None

    def attrs(self, local: str) -> dict[str, str]:
        for el in self.body.iter():
            if isinstance(el.tag, str) and etree.QName(el).localname == local:
                return dict(el.attrib)
        return {}


@dataclass
class OnvifDouble:
    username: str = "admin"
    password: str = "hik12345"
    rtsp: str = "127.0.0.1:554"
    calls: list[Call] = field(default_factory=list)
    port: int = 0
    _server: asyncio.base_events.Server | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def xaddr(self) -> str:
        return f"{self.base}/onvif/device_service"

    def ops(self) -> list[str]:
        return [c.op for c in self.calls]

    def of(self, op: str) -> list[Call]:
        return [c for c in self.calls if c.op == op]

    async def __aenter__(self) -> OnvifDouble:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        with contextlib.suppress(Exception):
            await self._server.wait_closed()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.decode("latin-1").split("\r\n")[1:]:
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value.strip())
                body = await reader.readexactly(length) if length else b""
                status, payload = self.answer(body)
                data = payload.encode()
                writer.write(
                    f"HTTP/1.1 {status}\r\nContent-Type: application/soap+xml; charset=utf-8\r\n"
                    f"Content-Length: {len(data)}\r\nServer: App-webs/\r\n\r\n".encode()
                    + data
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    def _authorized(self, env: Any) -> bool:
        token = env.find(f".//{{{WSSE}}}UsernameToken")
        if token is None:
            return False
        user = token.findtext(f"{{{WSSE}}}Username")
        pw = token.find(f"{{{WSSE}}}Password")
        nonce = token.findtext(f"{{{WSSE}}}Nonce") or ""
        created = token.findtext(f"{{{WSU}}}Created") or ""
        if user != self.username or pw is None:
            return False
        digest = hashlib.sha1(
            base64.b64decode(nonce) + created.encode() + self.password.encode()
        ).digest()
        return (pw.text or "") == base64.b64encode(digest).decode()

    def answer(self, raw: bytes) -> tuple[str, str]:
        env = etree.fromstring(raw)
        body = next(e for e in env if etree.QName(e).localname == "Body")
        op_el = next(iter(body))
        op = etree.QName(op_el).localname
        self.calls.append(Call(op, op_el))
        if op != "GetSystemDateAndTime" and not self._authorized(env):
            return "400 Bad Request", R.ENV.format(body=R.FAULT_NOT_AUTHORIZED)
        text = self._body(op, op_el)
        if text is None:
            return "500 Internal Server Error", R.ENV.format(body=R.FAULT_ACTION_NOT_SUPPORTED)
        return "200 OK", R.ENV.format(body=text)

    def _body(self, op: str, el: Any) -> str | None:
        if op == "GetSystemDateAndTime":
            t = time.gmtime()
            return R.GET_SYSTEM_DATE_AND_TIME.format(
                h=t.tm_hour, lh=(t.tm_hour + 8) % 24, mi=t.tm_min, s=t.tm_sec,
                y=t.tm_year, mo=t.tm_mon, d=t.tm_mday,
            )  # fmt: skip
        if op == "GetCapabilities":
            return R.GET_CAPABILITIES.format(base=self.base)
        if op == "GetDeviceInformation":
            return R.GET_DEVICE_INFORMATION
        if op == "GetProfiles":
            profiles = R.PROFILE.format(
                token="Profile_1", name="mainStream", enc="VideoEncoderToken_1",
                w=1920, h=1080, kbps=4096,
            ) + R.PROFILE.format(
                token="Profile_2", name="subStream", enc="VideoEncoderToken_2",
                w=640, h=360, kbps=512,
            )  # fmt: skip
            return R.GET_PROFILES.format(profiles=profiles)
        if op == "GetStreamUri":
            token = Call(op, el).text("ProfileToken")
            path = {"Profile_1": "cam", "Profile_2": "cam?sub=1"}.get(token or "")
            if path is None:
                return None
            return R.GET_STREAM_URI.format(rtsp=self.rtsp, path=path.replace("&", "&amp;"))
        if op == "ContinuousMove":
            return R.CONTINUOUS_MOVE
        if op == "Stop":
            return R.STOP
        if op == "GotoPreset":
            return R.GOTO_PRESET
        if op == "SetPreset":
            return R.SET_PRESET.format(token=Call(op, el).text("PresetToken") or "9")
        if op == "RemovePreset":
            return R.REMOVE_PRESET
        if op == "GetPresets":
            return R.GET_PRESETS
        return None  # GetServices and the rest: ActionNotSupported, like older firmware


PROBE_MATCH = """<?xml version="1.0" encoding="UTF-8"?>
<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"
 xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing"
 xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery"
 xmlns:dn="http://www.onvif.org/ver10/network/wsdl"
 xmlns:tds="http://www.onvif.org/ver10/device/wsdl"><env:Header>
<wsa:MessageID>uuid:{mid}</wsa:MessageID><wsa:RelatesTo>{relates}</wsa:RelatesTo>
<wsa:To env:mustUnderstand="true">http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</wsa:To>
<wsa:Action env:mustUnderstand="true">http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches</wsa:Action>
<d:AppSequence InstanceId="1698765432" MessageNumber="{n}"/></env:Header><env:Body>
<d:ProbeMatches><d:ProbeMatch><wsa:EndpointReference>
<wsa:Address>urn:uuid:{epr}</wsa:Address></wsa:EndpointReference>
<d:Types>dn:NetworkVideoTransmitter tds:Device</d:Types>
<d:Scopes>onvif://www.onvif.org/type/video_encoder onvif://www.onvif.org/Profile/Streaming
 onvif://www.onvif.org/hardware/{hardware} onvif://www.onvif.org/name/{name}
 onvif://www.onvif.org/location/city/hangzhou</d:Scopes>
<d:XAddrs>{xaddr}</d:XAddrs><d:MetadataVersion>10</d:MetadataVersion>
</d:ProbeMatch></d:ProbeMatches></env:Body></env:Envelope>"""


class DiscoveryResponder:
    """Answers WS-Discovery Probes on a UDP port (unicast) with ProbeMatches for cameras."""

    def __init__(self, cameras: list[dict[str, str]]) -> None:
        self.cameras = cameras
        self.probes: list[str] = []
        self.port = 0
        self._transport: asyncio.DatagramTransport | None = None

    async def __aenter__(self) -> DiscoveryResponder:
        import uuid

        loop = asyncio.get_running_loop()
        outer = self

        class Proto(asyncio.DatagramProtocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                outer._transport = transport  # type: ignore[assignment]

            def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
                env = etree.fromstring(data)
                mid = env.findtext(".//{http://schemas.xmlsoap.org/ws/2004/08/addressing}MessageID")
                types = env.findtext(".//{http://schemas.xmlsoap.org/ws/2005/04/discovery}Types")
                outer.probes.append(types or "")
                assert outer._transport is not None
                for i, cam in enumerate(outer.cameras):
                    epr = uuid.uuid5(uuid.NAMESPACE_URL, cam["xaddr"])  # stable, like a device's
                    reply = PROBE_MATCH.format(
                        mid=uuid.uuid4(), relates=mid, n=i + 1, epr=epr, **cam
                    )
                    outer._transport.sendto(reply.encode(), addr)

        await loop.create_datagram_endpoint(Proto, local_addr=("127.0.0.1", 0))
        assert self._transport is not None
        self.port = self._transport.get_extra_info("sockname")[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._transport is not None:
            self._transport.close()
