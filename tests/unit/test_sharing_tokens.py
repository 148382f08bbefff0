from __future__ import annotations

import base64
import json

import jwt
import pytest

from sharpeyes.sharing.principal import Principal, Role
from sharpeyes.sharing.tokens import TokenError, decode_access_token, issue_access_token

SECRET = b"k" * 32
NOW = 1_700_000_000.0
ALICE = Principal(user_id=7, username="alice", role=Role.OPERATOR, region_codes=("3402",))


def _reason(token: str, secret: bytes = SECRET, now: float = NOW) -> str:
    with pytest.raises(TokenError) as exc:
        decode_access_token(token, secret, now)
    return exc.value.reason


def test_round_trip_claims() -> None:
    token = issue_access_token(ALICE, SECRET, ttl_s=900, now=NOW)
    claims = decode_access_token(token, SECRET, now=NOW + 899)
    assert claims["sub"] == "alice"
    assert claims["uid"] == 7
    assert claims["role"] == "operator"
    assert claims["iat"] == int(NOW)
    assert claims["exp"] == int(NOW) + 900
    assert isinstance(claims["jti"], str) and len(claims["jti"]) >= 16
    other = decode_access_token(issue_access_token(ALICE, SECRET, 900, NOW), SECRET, NOW)
    assert other["jti"] != claims["jti"]


def test_expired() -> None:
    token = issue_access_token(ALICE, SECRET, ttl_s=60, now=NOW)
    decode_access_token(token, SECRET, now=NOW + 59.9)
    assert _reason(token, now=NOW + 60) == "expired"
    assert _reason(token, now=NOW + 10_000) == "expired"


def test_wrong_secret() -> None:
    token = issue_access_token(ALICE, SECRET, ttl_s=60, now=NOW)
    assert _reason(token, secret=b"x" * 32) == "bad_signature"


def test_tampered_payload() -> None:
    token = issue_access_token(ALICE, SECRET, ttl_s=60, now=NOW)
    header, payload, sig = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["role"] = "admin"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    assert _reason(f"{header}.{forged}.{sig}") == "bad_signature"


def test_alg_none_and_garbage_rejected() -> None:
    claims = decode_access_token(issue_access_token(ALICE, SECRET, 60, NOW), SECRET, NOW)
    unsigned = jwt.encode(claims, None, algorithm="none")
    assert _reason(unsigned) in {"malformed", "bad_signature"}
    assert _reason("not.a.token") == "malformed"
    assert _reason("") == "malformed"


def test_missing_or_wrong_claims_are_malformed() -> None:
    base = {"sub": "a", "uid": 1, "role": "viewer", "typ": "access", "iat": NOW, "exp": NOW + 60}
    base["jti"] = "j" * 16
    for broken in (
        {k: v for k, v in base.items() if k != "uid"},
        {**base, "typ": "stream"},  # another token kind signed with the same key
        {**base, "role": "root"},
        {**base, "role": ["admin"]},
        {**base, "uid": "1"},
        {**base, "iat": NOW + 3600},
    ):
        assert _reason(jwt.encode(broken, SECRET, algorithm="HS256")) == "malformed", broken


def test_invalid_arguments() -> None:
    with pytest.raises(ValueError):
        issue_access_token(ALICE, SECRET, ttl_s=0, now=NOW)
    with pytest.raises(ValueError):
        issue_access_token(ALICE, b"", ttl_s=60, now=NOW)
