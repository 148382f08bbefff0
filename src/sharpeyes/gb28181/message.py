"""SIP message model, parser and serializer (RFC 3261 subset used by GB/T 28181).

Written by hand because GB devices break strict RFC parsers: all-digit hosts in
URIs, GBK bytes in headers, bare LF line endings, compact header names. The parser
is sans-IO (bytes in, objects out) and bounded: message size, header count,
header line length and body-vs-Content-Length are all checked so a hostile peer
gets a 4xx or is dropped instead of costing memory.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

MAX_MESSAGE_BYTES = 65_535
MAX_HEADERS = 96
MAX_HEADER_LINE = 8_192
MAX_TCP_BODY = 1 << 20

COMPACT = {
    "i": "Call-ID",
    "m": "Contact",
    "e": "Content-Encoding",
    "l": "Content-Length",
    "c": "Content-Type",
    "f": "From",
    "s": "Subject",
    "k": "Supported",
    "t": "To",
    "v": "Via",
}
_CANONICAL = {
    name.lower(): name
    for name in (
        "Via",
        "From",
        "To",
        "Call-ID",
        "CSeq",
        "Contact",
        "Max-Forwards",
        "Expires",
        "Content-Type",
        "Content-Length",
        "User-Agent",
        "Authorization",
        "WWW-Authenticate",
        "Date",
        "Subject",
        "Event",
        "Subscription-State",
        "Allow",
        "Supported",
        "Route",
        "Record-Route",
        "Server",
        "Retry-After",
        "Warning",
        "Content-Encoding",
        "Proxy-Authorization",
        "Proxy-Authenticate",
        "Accept",
        "Monitor-User-Identity",
    )
}
_CANONICAL["call-id"] = "Call-ID"
_CANONICAL["cseq"] = "CSeq"
_CANONICAL["www-authenticate"] = "WWW-Authenticate"

REASONS = {
    100: "Trying",
    180: "Ringing",
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    413: "Request Entity Too Large",
    415: "Unsupported Media Type",
    423: "Interval Too Brief",
    480: "Temporarily Unavailable",
    481: "Call/Transaction Does Not Exist",
    486: "Busy Here",
    487: "Request Terminated",
    488: "Not Acceptable Here",
    500: "Server Internal Error",
    501: "Not Implemented",
    503: "Service Unavailable",
    504: "Server Time-out",
    513: "Message Too Large",
}

_TOKEN_RE = re.compile(rb"^[A-Za-z][A-Za-z0-9._!%*+`'~-]*$")


class SipParseError(ValueError):
    """A message we cannot accept; ``status`` is what to answer if we can answer."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def canonical_name(name: str) -> str:
    low = name.strip().lower()
    if low in COMPACT:
        return COMPACT[low]
    return _CANONICAL.get(low) or "-".join(p.capitalize() for p in low.split("-"))


class Headers:
    """Ordered multi-map with case-insensitive names (canonicalised on insert)."""

    __slots__ = ("_items",)

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._items: list[tuple[str, str]] = [(canonical_name(k), v) for k, v in items]

    def get(self, name: str, default: str | None = None) -> str | None:
        name = canonical_name(name)
        for k, v in self._items:
            if k == name:
                return v
        return default

    def get_all(self, name: str) -> list[str]:
        name = canonical_name(name)
        return [v for k, v in self._items if k == name]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def add(self, name: str, value: str) -> None:
        self._items.append((canonical_name(name), value))

    def set(self, name: str, value: str) -> None:
        name = canonical_name(name)
        kept = [(k, v) for k, v in self._items if k != name]
        # keep the position of the first occurrence for readability on the wire
        for i, (k, _) in enumerate(self._items):
            if k == name:
                kept.insert(min(i, len(kept)), (name, value))
                break
        else:
            kept.append((name, value))
        self._items = kept

    def insert_first(self, name: str, value: str) -> None:
        self._items.insert(0, (canonical_name(name), value))

    def remove(self, name: str) -> None:
        name = canonical_name(name)
        self._items = [(k, v) for k, v in self._items if k != name]

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def copy(self) -> Headers:
        h = Headers()
        h._items = list(self._items)
        return h


@dataclass
class SipMessage:
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""
    # Over a datagram, the bytes after the headers when Content-Length cut them short:
    # some devices count characters, not bytes; a body handler may fall back to them.
    datagram_rest: bytes | None = field(default=None, repr=False, compare=False)

    @property
    def call_id(self) -> str:
        return self.headers.get("Call-ID") or ""

    @property
    def cseq(self) -> tuple[int, str]:
        return parse_cseq(self.headers.get("CSeq") or "")

    @property
    def content_type(self) -> str:
        return (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()

    def top_via(self) -> Via:
        value = self.headers.get("Via")
        if value is None:
            raise SipParseError("missing Via")
        return parse_via(value.split(",")[0])

    def start_line(self) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    def to_bytes(self) -> bytes:
        headers = self.headers.copy()
        headers.set("Content-Length", str(len(self.body)))
        lines = [self.start_line()]
        lines.extend(f"{k}: {v}" for k, v in headers)
        head = "\r\n".join(lines) + "\r\n\r\n"
        return head.encode("utf-8") + self.body


@dataclass
class SipRequest(SipMessage):
    method: str = ""
    uri: str = ""

    def start_line(self) -> str:
        return f"{self.method} {self.uri} SIP/2.0"


@dataclass
class SipResponse(SipMessage):
    status: int = 200
    reason: str = "OK"

    def start_line(self) -> str:
        return f"SIP/2.0 {self.status} {self.reason}"


# ---------------------------------------------------------------- parsing


def _split_head(data: bytes) -> tuple[bytes, bytes]:
    idx = data.find(b"\r\n\r\n")
    if idx >= 0:
        return data[:idx], data[idx + 4 :]
    idx = data.find(b"\n\n")
    if idx >= 0:
        return data[:idx], data[idx + 2 :]
    raise SipParseError("no end of headers")


def _decode_header_bytes(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("gb18030", errors="replace")


def parse_message(
    data: bytes, *, max_size: int = MAX_MESSAGE_BYTES, stream: bool = False
) -> SipRequest | SipResponse:
    """Parse one complete datagram (or one framed stream message).

    Over a datagram a Content-Length larger than the body is an error (the body
    was truncated); a smaller one truncates the body (RFC 3261 18.3).
    """
    if len(data) > max_size:
        raise SipParseError(f"message of {len(data)} bytes exceeds {max_size}", 513)
    data = data.lstrip(b"\r\n")
    if not data:
        raise SipParseError("empty message")
    head, body = _split_head(data)
    lines = head.replace(b"\r\n", b"\n").split(b"\n")
    start = _decode_header_bytes(lines[0]).strip()
    headers = _parse_header_lines(lines[1:])

    length_text = headers.get("Content-Length")
    rest: bytes | None = None
    if length_text is not None:
        length_text = length_text.strip()
        if not length_text.isdigit() or len(length_text) > 9:
            raise SipParseError("invalid Content-Length")
        length = int(length_text)
        if length > len(body):
            raise SipParseError(f"Content-Length {length} larger than the {len(body)}-byte body")
        rest = bytes(body) if not stream and length < len(body.rstrip(b"\r\n\0 ")) else None
        body = body[:length]
    elif stream:
        body = b""

    msg = _start_line(start)
    msg.headers = headers
    msg.body = bytes(body)
    msg.datagram_rest = rest
    _check_mandatory(msg)
    return msg


def _parse_header_lines(lines: list[bytes]) -> Headers:
    items: list[tuple[str, str]] = []
    for raw in lines:
        if len(raw) > MAX_HEADER_LINE:
            raise SipParseError("header line too long")
        if raw[:1] in (b" ", b"\t") and items:  # folded continuation line
            name, value = items[-1]
            items[-1] = (name, value + " " + _decode_header_bytes(raw).strip())
            continue
        if not raw.strip():
            continue
        name_b, sep, value_b = raw.partition(b":")
        name_b = name_b.strip()
        if not sep or not _TOKEN_RE.match(name_b):
            raise SipParseError("malformed header line")
        items.append((name_b.decode("ascii"), _decode_header_bytes(value_b).strip()))
        if len(items) > MAX_HEADERS:
            raise SipParseError("too many headers")
    return Headers(items)


def _start_line(start: str) -> SipRequest | SipResponse:
    parts = start.split(" ", 2)
    if start.startswith("SIP/2.0 "):
        if len(parts) < 2 or not parts[1].isdigit() or len(parts[1]) != 3:
            raise SipParseError("malformed status line")
        status = int(parts[1])
        if not 100 <= status <= 699:
            raise SipParseError("status code out of range")
        return SipResponse(status=status, reason=parts[2] if len(parts) > 2 else "")
    if len(parts) != 3 or parts[2] != "SIP/2.0":
        raise SipParseError("malformed request line")
    method, uri = parts[0], parts[1]
    if not method.isascii() or not method.isalpha() or not method.isupper() or len(method) > 32:
        raise SipParseError("malformed method")
    if not uri or len(uri) > 1024:
        raise SipParseError("malformed request URI")
    return SipRequest(method=method, uri=uri)


def _check_mandatory(msg: SipMessage) -> None:
    for name in ("Via", "From", "To", "Call-ID", "CSeq"):
        if msg.headers.get(name) is None:
            raise SipParseError(f"missing {name} header")
    _, method = parse_cseq(msg.headers["CSeq"])
    if isinstance(msg, SipRequest) and method != msg.method:
        raise SipParseError("CSeq method does not match the request method")


def salvage_request(data: bytes) -> SipRequest | None:
    """The addressing headers of a rejected request, so it can still get its 4xx.

    Returns None for responses or when the headers needed to reply are unreadable.
    """
    if data.startswith(b"SIP/2.0"):
        return None
    try:
        head, _ = _split_head(data[:MAX_MESSAGE_BYTES])
        headers = _parse_header_lines(head.replace(b"\r\n", b"\n").split(b"\n")[1:])
    except SipParseError:
        return None
    if any(headers.get(n) is None for n in ("Via", "From", "To", "Call-ID", "CSeq")):
        return None
    return SipRequest(headers=headers, method="UNKNOWN", uri="sip:invalid")


class StreamParser:
    """Frames SIP messages on a TCP byte stream using Content-Length."""

    def __init__(self, max_size: int = MAX_MESSAGE_BYTES + MAX_TCP_BODY) -> None:
        self._buf = bytearray()
        self._max = max_size

    def feed(self, data: bytes) -> list[SipRequest | SipResponse]:
        self._buf += data
        out: list[SipRequest | SipResponse] = []
        while True:
            # keepalive CRLFs between messages (RFC 5626) are skipped
            while self._buf[:2] == b"\r\n":
                del self._buf[:2]
            idx = self._buf.find(b"\r\n\r\n")
            if idx < 0:
                if len(self._buf) > MAX_MESSAGE_BYTES:
                    raise SipParseError("header block too large", 513)
                return out
            head = bytes(self._buf[:idx])
            length = _content_length_of(head)
            total = idx + 4 + length
            if total > self._max:
                raise SipParseError("message too large", 513)
            if len(self._buf) < total:
                return out
            frame = bytes(self._buf[:total])
            del self._buf[:total]
            out.append(parse_message(frame, max_size=self._max, stream=True))


_CL_RE = re.compile(rb"^(?:content-length|l)[ \t]*:[ \t]*(\d{1,9})[ \t]*$", re.I | re.M)


def _content_length_of(head: bytes) -> int:
    m = _CL_RE.search(head)
    return int(m.group(1)) if m else 0


# ---------------------------------------------------------- header values


def parse_cseq(value: str) -> tuple[int, str]:
    parts = value.split()
    if len(parts) != 2 or not parts[0].isdigit() or len(parts[0]) > 10:
        raise SipParseError("malformed CSeq")
    return int(parts[0]), parts[1]


def parse_params(text: str) -> dict[str, str]:
    """``;a=b;c`` → {"a": "b", "c": ""} (names lower-cased)."""
    out: dict[str, str] = {}
    for part in text.split(";"):
        part = part.strip()
        if not part:
            continue
        k, _, v = part.partition("=")
        out[k.strip().lower()] = v.strip().strip('"')
    return out


@dataclass(frozen=True)
class Via:
    transport: str
    host: str
    port: int | None
    params: dict[str, str]

    @property
    def branch(self) -> str:
        return self.params.get("branch", "")


def parse_via(value: str) -> Via:
    value = value.strip()
    proto, _, rest = value.partition(" ")
    pieces = proto.split("/")
    if len(pieces) != 3 or pieces[0].upper() != "SIP":
        raise SipParseError("malformed Via")
    rest = rest.strip()
    sent_by, _, params = rest.partition(";")
    host, port = split_hostport(sent_by.strip())
    return Via(pieces[2].upper(), host, port, parse_params(params))


def split_hostport(text: str) -> tuple[str, int | None]:
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise SipParseError("malformed IPv6 host")
        host, rest = text[1:end], text[end + 1 :]
        port_text = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port_text = text.partition(":")
    if not host:
        raise SipParseError("empty host")
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise SipParseError("malformed port")
        return host, int(port_text)
    return host, None


@dataclass(frozen=True)
class SipUri:
    user: str
    host: str
    port: int | None = None
    params: dict[str, str] = field(default_factory=dict)
    scheme: str = "sip"

    def __str__(self) -> str:
        userinfo = f"{self.user}@" if self.user else ""
        port = f":{self.port}" if self.port else ""
        params = "".join(f";{k}={v}" if v else f";{k}" for k, v in self.params.items())
        return f"{self.scheme}:{userinfo}{self.host}{port}{params}"


def parse_uri(text: str) -> SipUri:
    """Parse ``sip:user@host:port;params``; all-digit hosts are fine (GB domains)."""
    text = text.strip()
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1]
    scheme, sep, rest = text.partition(":")
    if not sep or scheme.lower() not in ("sip", "sips"):
        raise SipParseError("not a SIP URI")
    rest, _, headers = rest.partition("?")
    del headers
    main, _, params = rest.partition(";")
    user, at, hostport = main.rpartition("@")
    if not at:
        user, hostport = "", main
    user = user.partition(":")[0]  # drop password
    host, port = split_hostport(hostport)
    return SipUri(user, host, port, parse_params(params), scheme.lower())


@dataclass(frozen=True)
class NameAddr:
    display: str
    uri: SipUri
    params: dict[str, str]

    @property
    def tag(self) -> str:
        return self.params.get("tag", "")


def parse_name_addr(value: str) -> NameAddr:
    """Parse From/To/Contact values: ``"name" <sip:…>;tag=x`` or ``sip:…;tag=x``."""
    value = value.strip()
    lt = value.find("<")
    if lt >= 0:
        gt = value.find(">", lt)
        if gt < 0:
            raise SipParseError("unterminated <uri>")
        display = value[:lt].strip().strip('"')
        uri = parse_uri(value[lt + 1 : gt])
        params = parse_params(value[gt + 1 :])
    else:
        # without angle brackets, ;params belong to the header, not the URI
        uri_text, _, param_text = value.partition(";")
        display, uri, params = "", parse_uri(uri_text), parse_params(param_text)
    return NameAddr(display, uri, params)


def response_for(
    request: SipRequest,
    status: int,
    reason: str | None = None,
    *,
    to_tag: str | None = None,
    headers: Iterable[tuple[str, str]] = (),
    body: bytes = b"",
) -> SipResponse:
    """Build a response that copies the dialog-identifying headers (RFC 3261 8.2.6)."""
    h = Headers()
    for value in request.headers.get_all("Via"):
        h.add("Via", value)
    h.add("From", request.headers["From"])
    to = request.headers["To"]
    if to_tag and ";tag=" not in to.replace(" ", "").lower():
        to = f"{to};tag={to_tag}"
    h.add("To", to)
    h.add("Call-ID", request.headers["Call-ID"])
    h.add("CSeq", request.headers["CSeq"])
    for k, v in headers:
        h.add(k, v)
    return SipResponse(
        headers=h, body=body, status=status, reason=reason or REASONS.get(status, "")
    )
