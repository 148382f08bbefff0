"""Stream tokens: signed by the control node (Ed25519), verified on a media node that
holds only the public key — a media node cannot mint tokens, and a leaked node key
grants nothing.

Format: ``base64url(json claims) "." base64url(signature)``; claims are ``s`` (stream),
``n`` (media node id), ``exp`` (epoch seconds) and ``u`` (user id, for audit).
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

MAX_TOKEN_LEN = 2048


class TokenRefused(Exception):
    """Forged, malformed, expired, or for another stream/node."""


@dataclass(frozen=True, slots=True)
class StreamClaims:
    stream: str
    node: str
    exp: float
    user: int | None = None


def _b64(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode("ascii")


def _unb64(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def sign(key: Ed25519PrivateKey, claims: StreamClaims) -> str:
    body = json.dumps(
        {"s": claims.stream, "n": claims.node, "exp": claims.exp, "u": claims.user},
        separators=(",", ":"),
        sort_keys=True,
    ).encode()
    return f"{_b64(body)}.{_b64(key.sign(body))}"


def verify(pub: Ed25519PublicKey, token: str, *, node: str, now: float) -> StreamClaims:
    """Claims of a genuine, unexpired token for this node; else :class:`TokenRefused`."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LEN or token.count(".") != 1:
        raise TokenRefused("malformed")
    body_s, sig_s = token.split(".")
    try:
        body, sig = _unb64(body_s), _unb64(sig_s)
    except (ValueError, TypeError) as e:
        raise TokenRefused("malformed") from e
    try:
        pub.verify(sig, body)
    except InvalidSignature as e:
        raise TokenRefused("bad signature") from e
    try:
        raw = json.loads(body)
        claims = StreamClaims(
            stream=str(raw["s"]),
            node=str(raw["n"]),
            exp=float(raw["exp"]),
            user=None if raw.get("u") is None else int(raw["u"]),
        )
    except (ValueError, KeyError, TypeError) as e:
        raise TokenRefused("malformed claims") from e
    if claims.node != node:
        raise TokenRefused("token for another media node")
    if now >= claims.exp:
        raise TokenRefused("expired")
    return claims


def load_or_create_key(path: Path) -> Ed25519PrivateKey:
    """The control node's signing key: read from ``path``, or made there (mode 0600).
    Give media nodes :func:`public_pem` of it (``media_node.token_public_key``)."""
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{path}: not an Ed25519 private key")
        return key
    key = Ed25519PrivateKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    return key


def public_pem(key: Ed25519PrivateKey) -> bytes:
    """What a media node is given (``media_node.token_public_key``)."""
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_public(pem: bytes) -> Ed25519PublicKey:
    pub = serialization.load_pem_public_key(pem)
    if not isinstance(pub, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return pub
