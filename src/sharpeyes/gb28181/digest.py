"""SIP digest authentication (RFC 2069/2617, GB/T 28181 9.1 and J.1).

GB devices mostly use the RFC 2069 form (no qop); the 2022 edition also allows
SHA-256 (RFC 7616 names it "SHA-256"). Nonces are stateless: a timestamp plus an
HMAC, so a restarted or scaled-out node can check them without shared state.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from typing import Literal


class DigestError(ValueError):
    """Malformed digest header or unsupported digest parameters."""


MAX_HEADER_LENGTH = 4096

_HASHES = {"MD5": "md5", "SHA-256": "sha256"}
_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_PARAM = re.compile(
    r"[ \t]*(" + _TOKEN + r")[ \t]*=[ \t]*"
    r'(?:"((?:[^"\\\x00-\x08\x0a-\x1f\x7f]|\\[^\x00-\x08\x0a-\x1f\x7f])*)"'
    r'|([^\s,"\\\x00-\x1f\x7f]+))[ \t]*'
)
_SCHEME = re.compile(r"[ \t]*(" + _TOKEN + r")(?:[ \t]+|$)")
_UNESCAPE = re.compile(r"\\(.)", re.DOTALL)


def parse_digest(header_value: str) -> dict[str, str]:
    """Parse a ``Digest k=v, k="v"`` header value into lowercase keys.

    Accepts quoted strings with backslash escapes (commas inside are data),
    unquoted values, optional whitespace and empty list elements; rejects
    anything else, duplicate parameters and values over 4096 characters.
    """
    if not isinstance(header_value, str):
        raise DigestError(f"digest header must be a str, not {type(header_value).__name__}")
    if len(header_value) > MAX_HEADER_LENGTH:
        raise DigestError(f"digest header longer than {MAX_HEADER_LENGTH} characters")
    m = _SCHEME.match(header_value)
    if m is None or m.group(1).lower() != "digest":
        raise DigestError("authentication scheme is not Digest")
    params: dict[str, str] = {}
    pos, end = m.end(), len(header_value)
    while pos < end:
        ch = header_value[pos]
        if ch in " \t,":
            pos += 1
            continue
        pm = _PARAM.match(header_value, pos)
        if pm is None:
            raise DigestError(f"malformed digest parameter at offset {pos}")
        key = pm.group(1).lower()
        if key in params:
            raise DigestError(f"duplicate digest parameter {key!r}")
        quoted, bare = pm.group(2), pm.group(3)
        params[key] = _UNESCAPE.sub(r"\1", quoted) if quoted is not None else bare
        pos = pm.end()
        if pos < end and header_value[pos] != ",":
            raise DigestError(f"expected ',' between digest parameters at offset {pos}")
    if not params:
        raise DigestError("digest header has no parameters")
    return params


def _hash_name(algorithm: str) -> tuple[str, bool]:
    """Return (hashlib name, is_session_variant) or raise DigestError."""
    alg = algorithm.upper() if isinstance(algorithm, str) else ""
    sess = alg.endswith("-SESS")
    base = alg[:-5] if sess else alg
    if base not in _HASHES:
        raise DigestError(f"unsupported digest algorithm {algorithm!r}")
    return _HASHES[base], sess


def compute_response(
    *,
    method: str,
    uri: str,
    username: str,
    realm: str,
    password: str,
    nonce: str,
    qop: str | None = None,
    nc: str | None = None,
    cnonce: str | None = None,
    algorithm: str = "MD5",
) -> str:
    """The ``response`` value: RFC 2069 form without qop, RFC 2617 with qop=auth."""
    name, sess = _hash_name(algorithm)

    def h(text: str) -> str:
        return hashlib.new(name, text.encode("utf-8")).hexdigest()

    ha1 = h(f"{username}:{realm}:{password}")
    if sess:
        if not cnonce:
            raise DigestError("-sess algorithms need a cnonce")
        ha1 = h(f"{ha1}:{nonce}:{cnonce}")
    ha2 = h(f"{method}:{uri}")
    if qop is None:
        return h(f"{ha1}:{nonce}:{ha2}")
    if qop.lower() != "auth":
        raise DigestError(f"unsupported qop {qop!r} (only auth)")
    if not nc or not cnonce:
        raise DigestError("qop=auth needs nc and cnonce")
    return h(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")


def _quote(value: str) -> str:
    if any(c in value for c in "\r\n\x00"):
        raise DigestError("digest values must not contain CR, LF or NUL")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def build_challenge(
    *,
    realm: str,
    nonce: str,
    algorithm: str = "MD5",
    qop: bool = False,
    opaque: str | None = None,
    stale: bool = False,
) -> str:
    """WWW-Authenticate value, in the comma-without-space style of J.1.2."""
    _hash_name(algorithm)
    parts = [f"Digest realm={_quote(realm)}", f"nonce={_quote(nonce)}"]
    if opaque is not None:
        parts.append(f"opaque={_quote(opaque)}")
    parts.append(f"algorithm={algorithm}")
    if qop:
        parts.append('qop="auth"')
    if stale:
        parts.append("stale=TRUE")
    return ",".join(parts)


def build_authorization(
    *,
    method: str,
    uri: str,
    username: str,
    realm: str,
    password: str,
    nonce: str,
    algorithm: str = "MD5",
    qop: str | None = None,
    nc: int = 1,
    cnonce: str | None = None,
    opaque: str | None = None,
) -> str:
    """Authorization value for the client side (simulators, cascading upward)."""
    nc_text: str | None = None
    if qop is not None or algorithm.upper().endswith("-SESS"):
        if not 1 <= nc <= 0xFFFFFFFF:
            raise DigestError(f"nc out of range: {nc}")
        nc_text = f"{nc:08x}"
        cnonce = cnonce if cnonce is not None else secrets.token_hex(8)
    response = compute_response(
        method=method,
        uri=uri,
        username=username,
        realm=realm,
        password=password,
        nonce=nonce,
        qop=qop,
        nc=nc_text,
        cnonce=cnonce,
        algorithm=algorithm,
    )
    parts = [
        f"Digest username={_quote(username)}",
        f"realm={_quote(realm)}",
        f"nonce={_quote(nonce)}",
        f"uri={_quote(uri)}",
        f"response={_quote(response)}",
        f"algorithm={algorithm}",
    ]
    if cnonce is not None and nc_text is not None:
        if qop is not None:
            parts.append(f"qop={qop}")
        parts.append(f"nc={nc_text}")
        parts.append(f"cnonce={_quote(cnonce)}")
    if opaque is not None:
        parts.append(f"opaque={_quote(opaque)}")
    return ",".join(parts)


def verify(params: Mapping[str, str], *, method: str, password: str) -> bool:
    """Check that ``response`` matches the other parameters and the password.

    This only proves knowledge of the password for *these* parameters: the caller
    must also check username, realm and the nonce's freshness (:func:`check_nonce`).
    """
    try:
        expected = compute_response(
            method=method,
            uri=params["uri"],
            username=params["username"],
            realm=params["realm"],
            password=password,
            nonce=params["nonce"],
            qop=params.get("qop"),
            nc=params.get("nc"),
            cnonce=params.get("cnonce"),
            algorithm=params.get("algorithm", "MD5"),
        )
        given = params["response"]
    except (KeyError, DigestError):
        return False
    return hmac.compare_digest(expected.encode(), given.lower().encode("utf-8", "replace"))


_NONCE_TS_LEN = 12
_NONCE_SALT_LEN = 8
_NONCE_MAC_LEN = 32
_NONCE_LEN = _NONCE_TS_LEN + _NONCE_SALT_LEN + _NONCE_MAC_LEN
_HEX = frozenset("0123456789abcdef")


def _nonce_mac(secret: bytes, head: str) -> str:
    return hmac.new(secret, head.encode("ascii"), hashlib.sha256).hexdigest()[:_NONCE_MAC_LEN]


def make_nonce(secret: bytes, now: float) -> str:
    """Stateless nonce: hex(timestamp) + random salt + HMAC, all lowercase hex.

    Hex only, so it survives any device's quoting; the salt makes two challenges
    in the same second differ.
    """
    head = f"{max(0, int(now)):0{_NONCE_TS_LEN}x}{secrets.token_hex(_NONCE_SALT_LEN // 2)}"
    return head + _nonce_mac(secret, head)


def check_nonce(
    secret: bytes, nonce: str, now: float, max_age: float
) -> Literal["ok", "stale", "invalid"]:
    """ "ok", "stale" (ours but too old: re-challenge with stale=TRUE) or "invalid"."""
    if not isinstance(nonce, str) or len(nonce) != _NONCE_LEN or not set(nonce) <= _HEX:
        return "invalid"
    head, mac = nonce[:-_NONCE_MAC_LEN], nonce[-_NONCE_MAC_LEN:]
    if not hmac.compare_digest(_nonce_mac(secret, head), mac):
        return "invalid"
    age = now - int(head[:_NONCE_TS_LEN], 16)
    # A nonce from the future is ours, so only our clock moved: ask for a fresh one.
    if age > max_age or age < -1:
        return "stale"
    return "ok"
