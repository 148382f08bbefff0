"""SDP for GB/T 28181 media sessions (Appendix F), SSRC (F, note 4) and Subject (Appendix K).

Sans-IO: text in, objects out; objects in, bytes out. GB extends RFC 4566 with
``y=`` (the SSRC as a 10-digit decimal string) and ``f=`` (media parameters), and
uses ``s=`` as the operation (Play, Playback, Download, Talk). Devices get these
wrong in many ways, so the parser is lenient where it costs nothing (bare LF line
ends, ``y=`` before or after the media lines, unknown lines kept) and strict where a
wrong value would break the session (ports, addresses, SSRC digits). What we send is
always CRLF-terminated, including the last line: some devices answer 415 otherwise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MAX_SDP_BYTES = 16 * 1024
MAX_SDP_LINES = 256

PROTO_UDP = "RTP/AVP"
PROTO_TCP = "TCP/RTP/AVP"

# What we offer for live video (J.4): PS first, then raw H.264 and MPEG-4 (and H.265).
DEFAULT_RTPMAP: tuple[tuple[int, str], ...] = (
    (96, "PS/90000"),
    (98, "H264/90000"),
    (97, "MPEG4/90000"),
    (99, "H265/90000"),
)

_SSRC_RE = re.compile(r"\d{1,10}")
_DIRECTIONS = frozenset({"sendonly", "recvonly", "sendrecv", "inactive"})


class SdpError(ValueError):
    """An SDP body we cannot use (malformed, too large, or missing what GB requires)."""


@dataclass
class MediaDescription:
    """One ``m=`` section with the attributes GB sessions need, the rest kept verbatim."""

    media: str = "video"
    port: int = 0
    proto: str = PROTO_UDP
    formats: list[int] = field(default_factory=list)
    rtpmap: dict[int, str] = field(default_factory=dict)
    direction: str | None = None
    setup: str | None = None  # RFC 4145: active | passive | actpass
    connection: str | None = None  # RFC 4145: new | existing
    connection_address: str | None = None  # media-level c=
    ssrc: str | None = None  # y=
    bad_ssrc: str | None = None  # a y= that is not an SSRC (some devices send their ID)
    media_format: str | None = None  # f=
    attributes: list[tuple[str, str | None]] = field(default_factory=list)  # other a= lines

    @property
    def tcp(self) -> bool:
        return self.proto.upper().startswith("TCP/")

    def encoding(self, pt: int) -> str | None:
        """Encoding name for a payload type, e.g. ``PS`` for 96 (from ``a=rtpmap``)."""
        value = self.rtpmap.get(pt)
        return value.split("/", 1)[0].upper() if value else None


@dataclass
class SessionDescription:
    """A parsed or to-be-sent SDP body."""

    origin_user: str = "-"
    origin_address: str = "0.0.0.0"
    origin_session: str = "0"
    origin_version: str = "0"
    session_name: str = "Play"
    connection_address: str | None = None
    uri: str | None = None  # u= (playback: "<channel id>:0")
    start: int = 0
    stop: int = 0
    media: list[MediaDescription] = field(default_factory=list)
    ssrc: str | None = None  # y= given before any m= line (seen from some devices)
    bad_ssrc: str | None = None  # a session-level y= that is not an SSRC
    media_format: str | None = None

    # -- reading ---------------------------------------------------------------

    @property
    def operation(self) -> str:
        """``s=`` normalised to play / playback / download / talk (else as sent, lower-case)."""
        return self.session_name.strip().lower()

    def first(self, media: str = "video") -> MediaDescription:
        """The first ``m=`` section of a kind (GB: video carries video and audio in PS)."""
        for m in self.media:
            if m.media == media:
                return m
        raise SdpError(f"no m={media} line")

    def address_of(self, m: MediaDescription) -> str:
        """Where this media flows: the media-level ``c=``, else the session-level one."""
        addr = m.connection_address or self.connection_address
        if not addr:
            raise SdpError("no connection address (c=)")
        return addr

    def ssrc_of(self, m: MediaDescription) -> int | None:
        """The SSRC announced for this media (``y=``), as an integer; None if none/unusable."""
        text = m.ssrc or self.ssrc
        return parse_ssrc(text) if text else None

    def bad_ssrc_of(self, m: MediaDescription) -> str | None:
        """The malformed ``y=`` value given for this media, if that is all it has."""
        if m.ssrc or self.ssrc:
            return None
        return m.bad_ssrc or self.bad_ssrc

    # -- writing ---------------------------------------------------------------

    def to_text(self) -> str:
        lines = [
            "v=0",
            f"o={self.origin_user} {self.origin_session} {self.origin_version} "
            f"IN IP4 {self.origin_address}",
            f"s={self.session_name}",
        ]
        if self.uri:
            lines.append(f"u={self.uri}")
        if self.connection_address:
            lines.append(f"c=IN IP4 {self.connection_address}")
        lines.append(f"t={self.start} {self.stop}")
        for m in self.media:
            if not 0 < m.port < 65536:
                raise SdpError(f"refusing to write m= port {m.port}")
            fmts = " ".join(str(f) for f in m.formats)
            lines.append(f"m={m.media} {m.port} {m.proto} {fmts}")
            if m.connection_address:
                lines.append(f"c=IN IP4 {m.connection_address}")
            if m.direction:
                lines.append(f"a={m.direction}")
            lines.extend(f"a=rtpmap:{pt} {m.rtpmap[pt]}" for pt in m.formats if pt in m.rtpmap)
            for name, value in m.attributes:
                lines.append(f"a={name}" if value is None else f"a={name}:{value}")
            if m.setup:
                lines.append(f"a=setup:{m.setup}")
            if m.connection:
                lines.append(f"a=connection:{m.connection}")
            if m.ssrc:
                lines.append(f"y={m.ssrc}")
            if m.media_format is not None:
                lines.append(f"f={m.media_format}")
        return "\r\n".join(lines) + "\r\n"

    def to_bytes(self) -> bytes:
        # UTF-8 (RFC 4566 5): what we build is ASCII, but a parsed description may hold
        # non-ASCII values (found by fuzzing: re-serialising one raised UnicodeEncodeError).
        return self.to_text().encode("utf-8")


# --- parsing ------------------------------------------------------------------------


def _port(text: str) -> int:
    head = text.split("/", 1)[0]  # "6000/2" (port count) is legal RFC 4566
    if not head.isdigit() or int(head) > 65535:
        raise SdpError(f"bad port {text!r}")
    return int(head)


def _address(value: str) -> str:
    parts = value.split()
    if len(parts) < 3 or parts[0].upper() != "IN" or parts[1].upper() not in ("IP4", "IP6"):
        raise SdpError(f"bad connection line {value!r}")
    addr = parts[2].split("/", 1)[0]  # drop a multicast TTL
    if not addr or len(addr) > 255:
        raise SdpError("bad connection address")
    return addr


def parse_sdp(data: bytes | str) -> SessionDescription:
    """Parse an SDP body leniently (CRLF or LF, unknown lines ignored); raise :class:`SdpError`."""
    if isinstance(data, bytes):
        if len(data) > MAX_SDP_BYTES:
            raise SdpError("SDP body too large")
        text = data.decode("utf-8", "replace")
    else:
        text = data
        if len(text) > MAX_SDP_BYTES:
            raise SdpError("SDP body too large")
    lines = [ln.strip() for ln in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    lines = [ln for ln in lines if ln]
    if len(lines) > MAX_SDP_LINES:
        raise SdpError("too many SDP lines")
    if not lines or not lines[0].startswith("v="):
        raise SdpError("SDP must start with v=")
    sd = SessionDescription(session_name="")
    cur: MediaDescription | None = None
    seen_origin = False
    for line in lines[1:]:
        if len(line) < 2 or line[1] != "=":
            continue  # garbage line: tolerated, as many devices add blank-ish noise
        kind, value = line[0], line[2:].strip()
        if kind == "o":
            parts = value.split()
            if len(parts) < 6:
                raise SdpError(f"bad origin line {value!r}")
            sd.origin_user, sd.origin_session, sd.origin_version = parts[0], parts[1], parts[2]
            sd.origin_address = parts[5]
            seen_origin = True
        elif kind == "s":
            sd.session_name = value
        elif kind == "u":
            sd.uri = value
        elif kind == "c":
            if cur is None:
                sd.connection_address = _address(value)
            else:
                cur.connection_address = _address(value)
        elif kind == "t":
            parts = value.split()
            if len(parts) != 2 or not all(p.isdigit() for p in parts):
                raise SdpError(f"bad time line {value!r}")
            sd.start, sd.stop = int(parts[0]), int(parts[1])
        elif kind == "m":
            parts = value.split()
            if len(parts) < 3:
                raise SdpError(f"bad media line {value!r}")
            formats = []
            for p in parts[3:]:
                if p.isdigit() and int(p) < 128:
                    formats.append(int(p))
            cur = MediaDescription(
                media=parts[0].lower(), port=_port(parts[1]), proto=parts[2], formats=formats
            )
            sd.media.append(cur)
        elif kind == "a":
            name, sep, val = value.partition(":")
            name = name.strip()
            attr_value = val.strip() if sep else None
            if cur is None:
                continue  # session-level attributes carry nothing GB sessions need
            low = name.lower()
            if low == "rtpmap" and attr_value:
                pt_text, _, enc = attr_value.partition(" ")
                if pt_text.isdigit() and enc.strip():
                    cur.rtpmap[int(pt_text)] = enc.strip()
            elif low in _DIRECTIONS and attr_value is None:
                cur.direction = low
            elif low == "setup" and attr_value:
                cur.setup = attr_value.lower()
            elif low == "connection" and attr_value:
                cur.connection = attr_value.lower()
            else:
                cur.attributes.append((name, attr_value))
        elif kind == "y":
            # A y= that is no 32-bit SSRC (e.g. a device's 20-digit ID) is kept aside,
            # not fatal: the receiver learns the real SSRC from the packets.
            good = bool(_SSRC_RE.fullmatch(value)) and int(value) <= 0xFFFFFFFF
            target: SessionDescription | MediaDescription = sd if cur is None else cur
            if good:
                target.ssrc = value
            else:
                target.bad_ssrc = value[:64]
        elif kind == "f":
            if cur is None:
                sd.media_format = value
            else:
                cur.media_format = value
    if not seen_origin:
        raise SdpError("SDP has no o= line")
    return sd


# --- GB specifics ---------------------------------------------------------------------


def make_ssrc(domain: str, serial: int, *, history: bool = False) -> str:
    """The 10-digit SSRC of Appendix F note 4 / y=.

    Digit 1: 0 live, 1 history; digits 2-6: digits 4-8 of the 10-digit SIP domain
    ID (e.g. "13010000" → "10000"); digits 7-10: a serial unique among our streams.
    """
    if len(domain) < 8 or not domain[:8].isdigit():
        raise ValueError(f"domain must start with 8 digits, got {domain!r}")
    if not 0 <= serial <= 9999:
        raise ValueError("SSRC serial must be 0..9999")
    return f"{1 if history else 0}{domain[3:8]}{serial:04d}"


def parse_ssrc(text: str) -> int:
    """``y=`` value → 32-bit SSRC (decimal string; GB's ten digits fit in 32 bits)."""
    text = text.strip()
    if not _SSRC_RE.fullmatch(text) or int(text) > 0xFFFFFFFF:
        raise SdpError(f"bad SSRC {text!r}")
    return int(text)


def build_subject(sender_id: str, sender_seq: str, receiver_id: str, receiver_seq: str) -> str:
    """Appendix K: ``<media sender id>:<sender stream seq>,<receiver id>:<receiver seq>``."""
    for part in (sender_id, sender_seq, receiver_id, receiver_seq):
        if not part or any(c in part for c in ",:\r\n"):
            raise ValueError(f"bad Subject part {part!r}")
    return f"{sender_id}:{sender_seq},{receiver_id}:{receiver_seq}"


def parse_subject(value: str) -> tuple[str, str, str, str]:
    """Split a Subject header into (sender id, sender seq, receiver id, receiver seq)."""
    try:
        sender, receiver = (p.strip() for p in value.split(",", 1))
        s_id, s_seq = (p.strip() for p in sender.split(":", 1))
        r_id, r_seq = (p.strip() for p in receiver.split(":", 1))
    except ValueError as exc:
        raise SdpError(f"bad Subject {value!r}") from exc
    return s_id, s_seq, r_id, r_seq


def play_offer(
    *,
    local_id: str,
    address: str,
    port: int,
    ssrc: str,
    transport: str = "udp",
    stream_number: int | None = None,
    rtpmap: tuple[tuple[int, str], ...] = DEFAULT_RTPMAP,
    session_name: str = "Play",
    channel_id: str | None = None,
    start: int = 0,
    stop: int = 0,
    download_speed: int | None = None,
) -> SessionDescription:
    """The platform's INVITE body for live video (J.4.4), receiving on ``address:port``.

    History (9.8, 9.9, J.14): ``session_name`` "Playback" or "Download" with
    ``u=<channel_id>:0`` and ``t=<start> <stop>`` in Unix seconds;
    ``download_speed`` adds ``a=downloadspeed`` (Download only).

    ``transport``: "udp" (RTP/AVP), "tcp-passive" (we listen: ``a=setup:passive``,
    the device connects, Appendix L's default) or "tcp-active" (we connect to the port
    the device answers with: ``a=setup:active``). ``stream_number`` 1 asks for the
    sub-stream with the 2022 ``a=streamnumber`` and the common ``a=streamprofile``
    attributes; None/0 leaves the device's default (main) stream.
    """
    if not 0 < port < 65536:
        raise ValueError("never advertise port 0 (devices then send nowhere)")
    if transport not in ("udp", "tcp-passive", "tcp-active"):
        raise ValueError(f"unknown media transport {transport!r}")
    if session_name not in ("Play", "Playback", "Download"):
        raise ValueError(f"unknown session name {session_name!r}")
    if session_name != "Play" and not (channel_id and 0 < start < stop):
        raise ValueError("Playback/Download need a channel ID and 0 < start < stop")
    attrs: list[tuple[str, str | None]] = []
    if download_speed is not None and session_name == "Download":
        attrs.append(("downloadspeed", str(int(download_speed))))
    if stream_number:
        attrs = [("streamprofile", str(stream_number)), ("streamnumber", str(stream_number))]
    tcp = transport != "udp"
    media = MediaDescription(
        media="video",
        port=port,
        proto=PROTO_TCP if tcp else PROTO_UDP,
        formats=[pt for pt, _ in rtpmap],
        rtpmap=dict(rtpmap),
        direction="recvonly",
        setup=transport.split("-", 1)[1] if tcp else None,
        connection="new" if tcp else None,
        ssrc=ssrc,
        attributes=attrs,
    )
    history = session_name != "Play"
    return SessionDescription(
        origin_user=local_id,
        origin_address=address,
        session_name=session_name,
        connection_address=address,
        uri=f"{channel_id}:0" if history else None,
        start=start if history else 0,
        stop=stop if history else 0,
        media=[media],
    )


def play_answer(
    offer: SessionDescription,
    *,
    local_id: str,
    address: str,
    port: int,
    ssrc: str,
    payload: tuple[int, str] = (96, "PS/90000"),
) -> SessionDescription:
    """A device's 200 OK body for a live INVITE (J.4.5): ``a=sendonly``, one payload type.

    For TCP the setup role is the complement of the offer's (passive ↔ active).
    """
    want = offer.first("video")
    setup = None
    if want.tcp:
        setup = "active" if want.setup in (None, "passive", "actpass") else "passive"
    media = MediaDescription(
        media="video",
        port=port,
        proto=want.proto,
        formats=[payload[0]],
        rtpmap={payload[0]: payload[1]},
        direction="sendonly",
        setup=setup,
        connection="new" if want.tcp else None,
        ssrc=ssrc,
    )
    return SessionDescription(
        origin_user=local_id,
        origin_address=address,
        session_name=offer.session_name or "Play",
        connection_address=address,
        media=[media],
    )


__all__ = [
    "DEFAULT_RTPMAP",
    "PROTO_TCP",
    "PROTO_UDP",
    "MediaDescription",
    "SdpError",
    "SessionDescription",
    "build_subject",
    "make_ssrc",
    "parse_sdp",
    "parse_ssrc",
    "parse_subject",
    "play_answer",
    "play_offer",
]
