"""Short-lived HS256 access tokens for the console/API.

A token proves identity only: routes must still reload the user
(``UserService.get_principal``) so disabling a user or changing their scope takes
effect before the token expires. Time is passed in (``now``, epoch seconds) so the
logic is testable without a clock.
"""

from __future__ import annotations

import secrets
from typing import Any

import jwt

from sharpeyes.sharing.principal import Principal, Role

ALGORITHM = "HS256"
TOKEN_TYPE = "access"  # other token kinds (stream tokens, M5.4) must not pass as access tokens
MAX_CLOCK_SKEW_S = 60
_ROLE_VALUES = frozenset(r.value for r in Role)


class TokenError(Exception):
    """A token was rejected; ``reason`` is "expired", "bad_signature" or "malformed"."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


def issue_access_token(
    principal: Principal, secret: bytes, ttl_s: int, now: float, *, version: int | None = None
) -> str:
    """Signed token for ``principal`` valid for ``ttl_s`` seconds from ``now``.

    ``version`` is the user's session version: bumping it (logout everywhere,
    password change, disable) invalidates every token issued before.
    """
    if not secret:
        raise ValueError("empty signing secret")
    if ttl_s <= 0:
        raise ValueError("ttl_s must be positive")
    iat = int(now)
    claims = {
        "sub": principal.username,
        "uid": principal.user_id,
        "role": str(principal.role),
        "typ": TOKEN_TYPE,
        "iat": iat,
        "exp": iat + int(ttl_s),
        "jti": secrets.token_urlsafe(16),
    }
    if version is not None:
        claims["ver"] = int(version)
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def decode_access_token(token: str, secret: bytes, now: float) -> dict[str, Any]:
    """Verify signature, type and expiry against ``now``; return the claims."""
    if not secret:
        raise ValueError("empty signing secret")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            # Time checks are ours, against the caller's `now`, not the wall clock.
            options={
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
                "require": ["sub", "uid", "role", "typ", "iat", "exp", "jti"],
            },
        )
    except jwt.InvalidSignatureError as e:
        raise TokenError("bad_signature") from e
    except jwt.PyJWTError as e:
        raise TokenError("malformed", str(e)) from e

    if claims.get("typ") != TOKEN_TYPE:
        raise TokenError("malformed", "not an access token")
    if not isinstance(claims["sub"], str) or not isinstance(claims["jti"], str):
        raise TokenError("malformed", "sub/jti must be strings")
    if not isinstance(claims["uid"], int) or isinstance(claims["uid"], bool):
        raise TokenError("malformed", "uid must be an integer")
    if not isinstance(claims["role"], str) or claims["role"] not in _ROLE_VALUES:
        raise TokenError("malformed", "unknown role")
    if not _is_number(claims["exp"]) or not _is_number(claims["iat"]):
        raise TokenError("malformed", "exp/iat must be numbers")
    if claims["iat"] > now + MAX_CLOCK_SKEW_S:
        raise TokenError("malformed", "issued in the future")
    if now >= claims["exp"]:
        raise TokenError("expired")
    return claims
