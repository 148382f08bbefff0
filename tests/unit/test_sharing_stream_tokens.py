"""Stream URL tokens: separate secret and type, bound to user/channel/session, short-lived."""

from __future__ import annotations

import jwt
import pytest

from sharpeyes.sharing.principal import Principal, Role
from sharpeyes.sharing.stream_tokens import decode_stream_token, issue_stream_token
from sharpeyes.sharing.tokens import TokenError, decode_access_token, issue_access_token

SECRET = b"s" * 32
NOW = 1_700_000_000.0


def issue(**kw: object) -> str:
    args: dict[str, object] = {
        "user_id": 7,
        "channel_pk": 42,
        "session_id": "abc",
        "ttl_s": 90,
        "now": NOW,
        **kw,
    }
    return issue_stream_token(SECRET, **args)[0]  # type: ignore[arg-type]


def test_round_trip_and_expiry() -> None:
    token, exp = issue_stream_token(
        SECRET, user_id=7, channel_pk=42, session_id="abc", ttl_s=90, now=NOW
    )
    assert exp == int(NOW) + 90
    c = decode_stream_token(token, SECRET, NOW + 89)
    assert (c.user_id, c.channel_pk, c.session_id, c.expired) == (7, 42, "abc", False)
    with pytest.raises(TokenError) as e:
        decode_stream_token(token, SECRET, NOW + 90)
    assert e.value.reason == "expired"
    late = decode_stream_token(token, SECRET, NOW + 3600, allow_expired=True)
    assert late.expired and late.token_id == c.token_id


def test_foreign_and_forged_tokens_are_refused() -> None:
    token = issue()
    with pytest.raises(TokenError) as e:
        decode_stream_token(token, b"x" * 32, NOW)
    assert e.value.reason == "bad_signature"
    with pytest.raises(TokenError):
        decode_stream_token("", SECRET, NOW)
    with pytest.raises(TokenError):
        decode_stream_token("not.a.token", SECRET, NOW)
    future = issue(now=NOW + 3600)
    with pytest.raises(TokenError):
        decode_stream_token(future, SECRET, NOW)


def test_access_and_stream_tokens_do_not_substitute() -> None:
    access = issue_access_token(Principal(7, "u", Role.ADMIN), SECRET, 3600, NOW)
    with pytest.raises(TokenError):
        decode_stream_token(access, SECRET, NOW)
    with pytest.raises(TokenError):
        decode_access_token(issue(), SECRET, NOW)


def test_claim_types_are_checked() -> None:
    bad = jwt.encode(
        {"typ": "stream", "uid": "7", "ch": 1, "sid": "a", "iat": 1, "exp": 2**40, "jti": "j"},
        SECRET,
        algorithm="HS256",
    )
    with pytest.raises(TokenError):
        decode_stream_token(bad, SECRET, NOW)
    with pytest.raises(ValueError):
        issue(ttl_s=0)
    with pytest.raises(ValueError):
        issue_stream_token(b"", user_id=1, channel_pk=1, session_id="a", ttl_s=1, now=NOW)
