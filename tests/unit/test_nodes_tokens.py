"""Ed25519 stream tokens: the media node verifies with only the public key."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sharpeyes.nodes.tokens import (
    StreamClaims,
    TokenRefused,
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
