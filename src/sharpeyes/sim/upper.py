"""A simulated upper platform (city / province) for cascade tests and the demo.

It accepts REGISTER with digest (MD5, qop=auth), answers keepalives, queries the
lower platform's Catalog, can subscribe to it, INVITEs a channel and checks that
GB PS actually arrives (frames demuxed from RTP). Quirks seen in the field, each
switchable (``SimUpper.quirks``):

- ``no_y``: the INVITE offer has no ``y=`` line (the lower must synthesise an SSRC);
- ``tcp_passive``: insists on TCP media with ``a=setup:passive`` (we listen);
- ``own_sn``: its query SNs follow its own scheme (large, not starting at 1);
- ``early_subscribe``: sends Catalog SUBSCRIBE right after the REGISTER's 200.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field

from sharpeyes.gb28181 import manscdp, mansrtsp
from sharpeyes.gb28181.digest import DigestError, build_challenge, parse_digest, verify
from sharpeyes.gb28181.message import SipRequest, SipResponse, parse_name_addr, response_for
from sharpeyes.gb28181.sdp import parse_ssrc, play_offer
from sharpeyes.media.es import parameter_sets
from sharpeyes.media.ps import PsDemuxer
from sharpeyes.media.rtp import Rfc4571Deframer, RtpError, parse_rtp
from sharpeyes.sip.dialog import DialogLayer, InviteFailed
from sharpeyes.sip.stack import SipStack, SipTimeout
from sharpeyes.sip.transport import Peer

QUIRKS = frozenset({"no_y", "tcp_passive", "own_sn", "early_subscribe"})


@dataclass
class Lower:
    """A lower platform registered to us."""

    id: str
    peer: Peer
    catalogs: dict[int, list[dict[str, str]]] = field(default_factory=dict)
    sum_num: dict[int, int] = field(default_factory=dict)
    notifies: list[manscdp.ManscdpMessage] = field(default_factory=list)
    keepalives: int = 0
    subscribed: int | None = None  # SUBSCRIBE status


class _Media(asyncio.Protocol, asyncio.DatagramProtocol):
    def __init__(self, sink: PlayResult) -> None:
        self.sink = sink
        self.deframer = Rfc4571Deframer()

    def datagram_received(self, data: bytes, addr: object) -> None:
        self.sink.packet(data)

    def data_received(self, data: bytes) -> None:
        try:
            for p in self.deframer.feed(data):
                self.sink.packet(p)
        except RtpError:
            self.sink.errors += 1


@dataclass
class PlayResult:
    """What arrived during a play: RTP packets, their SSRCs, demuxed PS video frames."""

    packets: int = 0
    lost: int = 0  # RTP sequence numbers skipped (per SSRC; a reorder counts as a gap)
    markers: int = 0  # packets with the RTP marker bit: one per access unit sent
    frames: int = 0
    keyframes: int = 0
    errors: int = 0
    ssrcs: set[int] = field(default_factory=set)
    answered_ssrc: int | None = None
    control_statuses: list[int] = field(default_factory=list)  # answers to our INFOs
    demux: PsDemuxer = field(default_factory=PsDemuxer)
    _next_seq: dict[int, int] = field(default_factory=dict)

    def packet(self, data: bytes) -> None:
        try:
            p = parse_rtp(data)
        except RtpError:
            self.errors += 1
            return
        self.packets += 1
        self.markers += p.marker
        self.ssrcs.add(p.ssrc)
        want = self._next_seq.get(p.ssrc)
        if want is not None:
            gap = (p.seq - want) & 0xFFFF
            if gap < 0x8000:
                self.lost += gap
        self._next_seq[p.ssrc] = (p.seq + 1) & 0xFFFF
        for f in self.demux.feed(p.payload, end_of_frame=p.marker):
            if f.stream == "video":
                self.frames += 1
                # a keyframe carries its parameter sets (our PS muxer sends PSM before it)
                if f.keyframe or "sps" in parameter_sets(f.codec, f.data):
                    self.keyframes += 1


class SimUpper:
    """See the module docstring."""

    def __init__(
        self,
        *,
        server_id: str,
        domain: str,
        password: str,
        host: str = "127.0.0.1",
        port: int = 0,
        quirks: set[str] | None = None,
    ) -> None:
        unknown = set(quirks or ()) - QUIRKS
        if unknown:
            raise ValueError(f"unknown quirks {sorted(unknown)}; known: {sorted(QUIRKS)}")
        self.server_id, self.domain, self.password, self.host = server_id, domain, password, host
        self.quirks = set(quirks or ())
        self.stack = SipStack(host=host, port=port, handler=self.on_request)
        self.dialogs = DialogLayer(self.stack)
        self.lowers: dict[str, Lower] = {}
        self._sn = itertools.count(700_001 if "own_sn" in self.quirks else 1)
        self._nonces: set[str] = set()
        self._tasks: set[asyncio.Task[object]] = set()

    async def start(self) -> None:
        await self.stack.start()

    async def stop(self) -> None:
        for t in list(self._tasks):
            t.cancel()
        await self.stack.stop()

    @property
    def port(self) -> int:
        return self.stack.port

    def _spawn(self, coro: object) -> None:
        task = asyncio.get_running_loop().create_task(coro)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------- inbound
    async def on_request(self, req: SipRequest, peer: Peer) -> SipResponse | None:
        if req.method == "REGISTER":
            return self._register(req, peer)
        user = parse_name_addr(req.headers["From"]).uri.user
        lower = self.lowers.get(user)
        if req.method in ("MESSAGE", "NOTIFY"):
            if lower is None:
                return response_for(req, 403, "Not Registered")
            try:
                msg = manscdp.parse_manscdp(req.body)
            except manscdp.ManscdpError:
                return response_for(req, 400)
            if msg.cmd_type == "Keepalive":
                lower.keepalives += 1
            elif msg.root == "Response" and msg.cmd_type == "Catalog":
                lower.catalogs.setdefault(msg.sn, []).extend(msg.items)
                lower.sum_num[msg.sn] = msg.sum_num or 0
            elif msg.root == "Notify" and msg.cmd_type == "Catalog":
                lower.notifies.append(msg)
            return response_for(req, 200)
        if req.method in ("BYE", "INFO", "CANCEL"):
            return self.dialogs.on_request(req, peer)
        if req.method == "ACK":
            return None
        return response_for(req, 200)

    def _register(self, req: SipRequest, peer: Peer) -> SipResponse:
        auth = req.headers.get("Authorization")
        user = parse_name_addr(req.headers["From"]).uri.user
        if auth:
            try:
                params = parse_digest(auth)
            except DigestError:
                params = {}
            nonce = params.get("nonce", "")
            if (
                nonce in self._nonces
                and params.get("username") == user
                and verify(params, method="REGISTER", password=self.password)
            ):
                expires = req.headers.get("Expires") or "3600"
                if expires.strip() == "0":
                    self.lowers.pop(user, None)
                else:
                    first = user not in self.lowers
                    self.lowers[user] = self.lowers.get(user) or Lower(user, peer)
                    self.lowers[user].peer = peer
                    if first and "early_subscribe" in self.quirks:
                        self._spawn(self.subscribe(user))
                return response_for(req, 200, headers=[("Expires", expires)])
            return response_for(req, 403, "Forbidden")
        nonce = secrets.token_hex(12)
        self._nonces.add(nonce)
        challenge = build_challenge(realm=self.domain, nonce=nonce, qop=True)
        return response_for(req, 401, headers=[("WWW-Authenticate", challenge)])

    # ------------------------------------------------------------ outbound
    def _uri(self, lower: Lower, target: str) -> str:
        return f"sip:{target}@{lower.peer.host}:{lower.peer.port}"

    async def query_catalog(self, lower_id: str, timeout: float = 10.0) -> list[dict[str, str]]:
        """Query and wait for every part (SumNum items); the items in arrival order."""
        lower = self.lowers[lower_id]
        sn = next(self._sn)
        req = self.stack.build_request(
            "MESSAGE",
            self._uri(lower, lower_id),
            from_uri=f"sip:{self.server_id}@{self.domain}",
            to_uri=f"sip:{lower_id}@{self.domain}",
            body=manscdp.query("Catalog", sn, lower_id),
            content_type="Application/MANSCDP+xml",
        )
        resp = await self.stack.request(req, lower.peer)
        if resp.status != 200:
            raise RuntimeError(f"Catalog query answered {resp.status}")
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            if sn in lower.sum_num and len(lower.catalogs.get(sn, [])) >= lower.sum_num[sn]:
                return lower.catalogs[sn]
            await asyncio.sleep(0.05)
        raise TimeoutError(f"catalog SN {sn} incomplete")

    async def subscribe(self, lower_id: str, expires: int = 600) -> int:
        lower = self.lowers[lower_id]
        req = self.stack.build_request(
            "SUBSCRIBE",
            self._uri(lower, lower_id),
            from_uri=f"sip:{self.server_id}@{self.domain}",
            to_uri=f"sip:{lower_id}@{self.domain}",
            contact=f"sip:{self.server_id}@{self.host}:{self.port}",
            headers=[("Event", "Catalog"), ("Expires", str(expires))],
            body=manscdp.query("Catalog", next(self._sn), lower_id),
            content_type="Application/MANSCDP+xml",
        )
        resp = await self.stack.request(req, lower.peer)
        lower.subscribed = resp.status
        return resp.status

    async def play(
        self,
        lower_id: str,
        channel_id: str,
        *,
        seconds: float = 2.0,
        min_frames: int = 25,
        playback: tuple[int, int] | None = None,
        controls: Sequence[bytes] = (),
        result: PlayResult | None = None,
    ) -> PlayResult:
        """INVITE a channel, receive until ``min_frames`` PS frames (or ``seconds``), BYE.

        ``playback`` (start, stop in Unix seconds) asks for the recording instead (9.8);
        ``controls`` are MANSRTSP bodies sent in INFOs once the first frame has arrived
        (their answers land in ``control_statuses``). Pass ``result`` to watch the
        counters while it plays (the cascade benchmark samples them).
        """
        lower = self.lowers[lower_id]
        result = PlayResult() if result is None else result
        loop = asyncio.get_running_loop()
        tcp = "tcp_passive" in self.quirks
        server: asyncio.Server | None = None
        udp: asyncio.DatagramTransport | None = None
        if tcp:
            server = await loop.create_server(lambda: _Media(result), self.host, 0)
            port = server.sockets[0].getsockname()[1]
        else:
            udp, _ = await loop.create_datagram_endpoint(
                lambda: _Media(result), local_addr=(self.host, 0)
            )
            port = udp.get_extra_info("sockname")[1]
        ssrc = "0100009999"
        offer = play_offer(
            local_id=self.server_id,
            address=self.host,
            port=port,
            ssrc=ssrc,
            transport="tcp-passive" if tcp else "udp",
            **(
                {
                    "session_name": "Playback",
                    "channel_id": channel_id,
                    "start": playback[0],
                    "stop": playback[1],
                }
                if playback
                else {}
            ),
        )
        text = offer.to_text()
        if "no_y" in self.quirks:
            text = "".join(line + "\r\n" for line in text.splitlines() if not line.startswith("y="))
        try:
            dialog = await self.dialogs.invite(
                uri=self._uri(lower, channel_id),
                peer=lower.peer,
                from_uri=f"sip:{self.server_id}@{self.domain}",
                to_uri=f"sip:{channel_id}@{self.domain}",
                contact=f"sip:{self.server_id}@{self.host}:{self.port}",
                body=text.encode(),
                timeout=10.0,
            )
        except InviteFailed:
            for s in (server, udp):
                if s is not None:
                    s.close()
            raise
        with contextlib.suppress(Exception):
            for line in dialog.answer.body.decode().splitlines():
                if line.startswith("y="):
                    result.answered_ssrc = parse_ssrc(line[2:])
        deadline = loop.time() + seconds
        pending = list(controls)
        while loop.time() < deadline and (result.frames < min_frames or pending):
            if pending and result.frames >= 1:
                try:
                    resp = await self.dialogs.info(dialog, pending.pop(0), mansrtsp.CONTENT_TYPE)
                    result.control_statuses.append(resp.status)
                except (SipTimeout, OSError):
                    result.control_statuses.append(0)
                continue
            await asyncio.sleep(0.05)
        with contextlib.suppress(Exception):
            await self.dialogs.bye(dialog)
        for s in (server, udp):
            if s is not None:
                s.close()
        return result


__all__ = ["QUIRKS", "Lower", "PlayResult", "SimUpper"]


def run_cli(argv: list[str]) -> int:
    """``sharpeyes sim upper``: serve as an upper platform; report lowers as they register."""
    import argparse
    import logging

    p = argparse.ArgumentParser(
        prog="sharpeyes sim upper", description="A simulated GB/T 28181 upper platform"
    )
    p.add_argument("--id", default="34020000002000000001", help="our SIP server ID")
    p.add_argument("--domain", default=None, help="SIP domain / realm (default: ID[:10])")
    p.add_argument("--password", default="12345678", help="password lowers must use")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=5061)
    p.add_argument("--quirk", action="append", default=[], choices=sorted(QUIRKS))
    p.add_argument("--play", action="store_true", help="INVITE the first catalog channel")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")

    async def main() -> None:
        upper = SimUpper(
            server_id=args.id,
            domain=args.domain or args.id[:10],
            password=args.password,
            host=args.host,
            port=args.port,
            quirks=set(args.quirk),
        )
        await upper.start()
        print(f"sim upper {args.id} on {args.host}:{upper.port} (udp+tcp), quirks {args.quirk}")
        seen: set[str] = set()
        try:
            while True:
                await asyncio.sleep(1.0)
                for lid in list(upper.lowers):
                    if lid in seen:
                        continue
                    seen.add(lid)
                    items = await upper.query_catalog(lid, timeout=30)
                    print(f"lower {lid}: catalog {len(items)} items")
                    chans = [i["DeviceID"] for i in items if i.get("DeviceID", "")[10:13] == "131"]
                    if args.play and chans:
                        r = await upper.play(lid, chans[0], seconds=10)
                        print(f"played {chans[0]}: {r.frames} PS frames, SSRC {r.ssrcs}")
        finally:
            await upper.stop()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
    return 0
