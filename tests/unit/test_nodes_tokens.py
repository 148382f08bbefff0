"""Ed25519 stream tokens: the media node verifies with only the public key."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sharpeyes.config import load_settings
from sharpeyes.events import EventBus
from sharpeyes.nodes.plane import media_plane_for
from sharpeyes.nodes.tokens import (
    StreamClaims,
    TokenRefused,
    load_or_create_key,
    load_public,
    public_pem,
    sign,
    verify,
)

KEY = Ed25519PrivateKey.generate()
PUB = load_public(public_pem(KEY))


def test_genuine_token_verifies_with_the_public_key_only() -> None:
    tok = sign(KEY, StreamClaims(stream="live:1", node="m1", exp=100.0, user=7))
    assert verify(PUB, tok, node="m1", now=99.0) == StreamClaims("live:1", "m1", 100.0, 7)


def test_expired_other_node_and_forged_tokens_are_refused() -> None:
    tok = sign(KEY, StreamClaims(stream="live:1", node="m1", exp=100.0))
    with pytest.raises(TokenRefused, match="expired"):
        verify(PUB, tok, node="m1", now=100.0)
    with pytest.raises(TokenRefused, match="another"):
        verify(PUB, tok, node="m2", now=0.0)
    forged = sign(Ed25519PrivateKey.generate(), StreamClaims("live:1", "m1", 1e12))
    with pytest.raises(TokenRefused, match="signature"):
        verify(PUB, forged, node="m1", now=0.0)
    # claims swapped under a genuine signature
    other = sign(KEY, StreamClaims(stream="live:2", node="m1", exp=1e12))
    body, sig = tok.split(".")
    with pytest.raises(TokenRefused, match="signature"):
        verify(PUB, other.split(".")[0] + "." + sig, node="m1", now=0.0)
    assert body


@pytest.mark.parametrize("tok", ["", ".", "a.b.c", "x" * 5000, "!!!.???", "eyJ9.AAAA"])
def test_malformed_tokens_are_refused(tok: str) -> None:
    with pytest.raises(TokenRefused):
        verify(PUB, tok, node="m1", now=0.0)


def test_control_key_is_made_once_private_and_reloaded(tmp_path: Path) -> None:
    path = tmp_path / "k" / "media.pem"
    key = load_or_create_key(path)
    assert path.stat().st_mode & 0o777 == 0o600
    again = load_or_create_key(path)
    tok = sign(key, StreamClaims("s", "m1", 10.0))
    assert verify(load_public(public_pem(again)), tok, node="m1", now=0.0).stream == "s"


def test_plane_tokens_verify_on_the_node_with_the_public_key(tmp_path: Path) -> None:
    settings = load_settings(
        None, media={"mode": "nodes", "token_key_file": str(tmp_path / "m.pem")}
    )
    plane = media_plane_for(settings, EventBus())
    assert plane is not None
    tok = plane.stream_token("live-1", "m1", user=3, now=1000.0)
    pub = load_public(public_pem(load_or_create_key(tmp_path / "m.pem")))
    claims = verify(pub, tok, node="m1", now=1000.0 + settings.media.token_ttl_s - 1)
    assert (claims.stream, claims.user) == ("live-1", 3)
    with pytest.raises(TokenRefused, match="expired"):
        verify(pub, tok, node="m1", now=1000.0 + settings.media.token_ttl_s)
    assert media_plane_for(load_settings(None), EventBus()) is None  # embedded: no plane
