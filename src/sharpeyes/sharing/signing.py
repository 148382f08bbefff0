"""Open-API request signatures (pure): the canonical string and its HMAC-SHA256.

``X-SE-Signature`` = base64(HMAC-SHA256(app_secret, canonical)), with canonical =
``METHOD\\nPATH\\nSORTED_QUERY\\nTIMESTAMP\\nNONCE\\nHEX_SHA256_OF_BODY``;
SORTED_QUERY is the query parameters sorted by name (then value), ``k=v`` joined
by ``&``, empty when there are none. Keys and values are used as decoded.
Webhook deliveries are signed the same way (method POST, the URL's path).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from enum import StrEnum

MAX_SKEW_S = 300
MIN_NONCE = 16
MAX_NONCE = 128


class SignatureFailure(StrEnum):
    """Why a signed request was refused (the 401 body says which)."""

    MISSING_HEADERS = "missing_headers"
    UNKNOWN_KEY = "unknown_key"
    BAD_SIGNATURE = "bad_signature"
    TIMESTAMP_OUT_OF_WINDOW = "timestamp_out_of_window"
    NONCE_REUSED = "nonce_reused"
    BAD_NONCE = "bad_nonce"
    DISABLED = "app_disabled"


def sorted_query(params: Iterable[tuple[str, str]]) -> str:
    return "&".join(f"{k}={v}" for k, v in sorted(params))


def canonical_string(
    method: str,
    path: str,
    query: Iterable[tuple[str, str]],
    timestamp: str,
    nonce: str,
    body: bytes,
) -> str:
    return "\n".join(
        (
            method.upper(),
            path,
            sorted_query(query),
            timestamp,
            nonce,
            hashlib.sha256(body).hexdigest(),
        )
    )


def sign(secret: str, canonical: str) -> str:
    mac = hmac.new(secret.encode(), canonical.encode(), hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


def signature_ok(secret: str, canonical: str, signature: str) -> bool:
    return hmac.compare_digest(sign(secret, canonical).encode(), signature.encode())


def timestamp_ok(timestamp: str, now: float) -> bool:
    try:
        ts = int(timestamp)
    except ValueError:
        return False
    return abs(now - ts) <= MAX_SKEW_S


def nonce_ok(nonce: str) -> bool:
    return MIN_NONCE <= len(nonce) <= MAX_NONCE and nonce.isprintable() and " " not in nonce
