"""Short-lived, purpose-bound tokens for stream URLs (M5.4).

A stream URL is pasted into players, logged by proxies and shared by accident, so
its token is not an access token: it is signed with a separate node secret, has
its own type (``typ="stream"``), names the user, the channel and the live session
it opens, and expires within minutes. It only *opens* a stream: a WebSocket that is
already open keeps going past expiry, and an HLS client that keeps polling keeps
its session (the caller decides, see ``allow_expired``). Time is passed in.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import jwt

from sharpeyes.sharing.tokens import ALGORITHM, MAX_CLOCK_SKEW_S, TokenError

STREAM_TOKEN_TYPE = "stream"
_REQUIRED = ["typ", "uid", "ch", "sid", "iat", "exp", "jti"]


@dataclass(frozen=True, slots=True)
class StreamClaims:
    user_id: int
    channel_pk: int
    session_id: str
    issued_at: int
    expires_at: int
    token_id: str  # jti: one play grant, used to recognise a returning HLS client
    expired: bool = False


def issue_stream_token(
    secret: bytes, *, user_id: int, channel_pk: int, session_id: str, ttl_s: int, now: float
) -> tuple[str, int]:
    """A signed token for one user watching one channel's live session; returns (token, exp)."""
    if not secret:
        raise ValueError("empty signing secret")
    if ttl_s <= 0:
        raise ValueError("ttl_s must be positive")
    iat = int(now)
    exp = iat + int(ttl_s)
    claims = {
        "typ": STREAM_TOKEN_TYPE,
        "uid": user_id,
        "ch": channel_pk,
        "sid": session_id,
        "iat": iat,
        "exp": exp,
        "jti": secrets.token_urlsafe(12),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM), exp


def _int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def decode_stream_token(
    token: str, secret: bytes, now: float, *, allow_expired: bool = False
) -> StreamClaims:
    """Verify signature, type and (unless ``allow_expired``) expiry; raise :class:`TokenError`.

    With ``allow_expired`` an expired token still decodes (``expired=True``) so the
    caller can let an already-running client continue; everything else is checked.
    """
    if not secret:
        raise ValueError("empty signing secret")
    if not token:
        raise TokenError("malformed", "missing token")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            options={
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
                "require": _REQUIRED,
            },
        )
    except jwt.InvalidSignatureError as e:
        raise TokenError("bad_signature") from e
    except jwt.PyJWTError as e:
        raise TokenError("malformed", str(e)) from e
    if claims.get("typ") != STREAM_TOKEN_TYPE:
        raise TokenError("malformed", "not a stream token")
    if not (_int(claims["uid"]) and _int(claims["ch"]) and _int(claims["iat"])):
        raise TokenError("malformed", "uid/ch/iat must be integers")
    if not _int(claims["exp"]) or not isinstance(claims["sid"], str):
        raise TokenError("malformed", "exp/sid have the wrong type")
    if not isinstance(claims["jti"], str):
        raise TokenError("malformed", "jti must be a string")
    if claims["iat"] > now + MAX_CLOCK_SKEW_S:
        raise TokenError("malformed", "issued in the future")
    expired = now >= claims["exp"]
    if expired and not allow_expired:
        raise TokenError("expired")
    return StreamClaims(
        user_id=claims["uid"],
        channel_pk=claims["ch"],
        session_id=claims["sid"],
        issued_at=claims["iat"],
        expires_at=claims["exp"],
        token_id=claims["jti"],
        expired=expired,
    )


__all__ = ["STREAM_TOKEN_TYPE", "StreamClaims", "decode_stream_token", "issue_stream_token"]
