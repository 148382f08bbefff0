"""SIP digest authentication (RFC 2069/2617, GB/T 28181 J.1)."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sharpeyes.gb28181.digest import (
    DigestError,
    build_authorization,
    build_challenge,
    check_nonce,
    compute_response,
    make_nonce,
    parse_digest,
    verify,
)

# J.1.3 of the standard.
J1 = {
    "username": "64010000002020000001",
    "realm": "64010000",
    "nonce": "6fe9ba44a76be22a",
    "uri": "sip:64010000002000000001@172.18.16.5:5060",
}
J1_RESPONSE = "9625d92d1bddea7a911926e0db054968"
J1_HEADER = (
    'Digest username="64010000002020000001",realm="64010000",nonce="6fe9ba44a76be22a",'
    'uri="sip:64010000002000000001@172.18.16.5:5060",'
    'response="9625d92d1bddea7a911926e0db054968",algorithm=MD5'
)


def md5(s: str) -> str:
    return hashlib.md5(s.encode()).hexdigest()


def sha256(s: str) -> str:
    return hashlib.sha256(s.encode()).hexdigest()


def test_j1_golden_vector() -> None:
    assert compute_response(method="REGISTER", password="12345678", **J1) == J1_RESPONSE


def test_j1_header_parses_and_verifies() -> None:
    params = parse_digest(J1_HEADER)
    assert params == {**J1, "response": J1_RESPONSE, "algorithm": "MD5"}
    assert verify(params, method="REGISTER", password="12345678")
    assert not verify(params, method="REGISTER", password="12345679")
    assert not verify(params, method="MESSAGE", password="12345678")


def test_build_authorization_reproduces_j1() -> None:
    header = build_authorization(
        method="REGISTER",
        password="12345678",
        username=J1["username"],
        realm=J1["realm"],
        nonce=J1["nonce"],
        uri=J1["uri"],
    )
    assert header == J1_HEADER


def test_qop_auth_matches_rfc2617_formula() -> None:
    nc, cnonce = "00000001", "0a4f113b"
    ha1 = md5("64010000002020000001:64010000:12345678")
    ha2 = md5("REGISTER:" + J1["uri"])
    expected = md5(f"{ha1}:{J1['nonce']}:{nc}:{cnonce}:auth:{ha2}")
    got = compute_response(
        method="REGISTER", password="12345678", qop="auth", nc=nc, cnonce=cnonce, **J1
    )
    assert got == expected
    assert got != J1_RESPONSE


def test_sha256_both_forms() -> None:
    ha1 = sha256("64010000002020000001:64010000:12345678")
    ha2 = sha256("REGISTER:" + J1["uri"])
    plain = compute_response(method="REGISTER", password="12345678", algorithm="SHA-256", **J1)
    assert plain == sha256(f"{ha1}:{J1['nonce']}:{ha2}")
    with_qop = compute_response(
        method="REGISTER",
        password="12345678",
        algorithm="sha-256",
        qop="auth",
        nc="0000000a",
        cnonce="abc",
        **J1,
    )
    assert with_qop == sha256(f"{ha1}:{J1['nonce']}:0000000a:abc:auth:{ha2}")


def test_md5_sess_formula() -> None:
    ha1 = md5(md5("64010000002020000001:64010000:12345678") + f":{J1['nonce']}:cn")
    ha2 = md5("REGISTER:" + J1["uri"])
    got = compute_response(
        method="REGISTER",
        password="12345678",
        algorithm="MD5-sess",
        qop="auth",
        nc="00000001",
        cnonce="cn",
        **J1,
    )
    assert got == md5(f"{ha1}:{J1['nonce']}:00000001:cn:auth:{ha2}")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"algorithm": "SHA-1"},
        {"qop": "auth-int", "nc": "00000001", "cnonce": "x"},
        {"qop": "auth"},
        {"qop": "auth", "nc": "00000001"},
    ],
)
def test_compute_rejects_unsupported(kwargs: dict[str, str]) -> None:
    with pytest.raises(DigestError):
        compute_response(method="REGISTER", password="p", **J1, **kwargs)


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256"])
@pytest.mark.parametrize("qop", [None, "auth"])
def test_client_server_round_trip(algorithm: str, qop: str | None) -> None:
    challenge = parse_digest(build_challenge(realm="3402000000", nonce="n1", algorithm=algorithm))
    header = build_authorization(
        method="REGISTER",
        uri="sip:34020000002000000001@3402000000",
        username="34020000001320000001",
        realm=challenge["realm"],
        password="secret",
        nonce=challenge["nonce"],
        algorithm=algorithm,
        qop=qop,
        nc=7,
    )
    params = parse_digest(header)
    assert params["algorithm"] == algorithm
    if qop:
        assert params["nc"] == "00000007" and params["qop"] == "auth" and params["cnonce"]
    assert verify(params, method="REGISTER", password="secret")
    assert not verify(params, method="REGISTER", password="Secret")
    tampered = {**params, "uri": params["uri"] + "x"}
    assert not verify(tampered, method="REGISTER", password="secret")


def test_build_challenge_format() -> None:
    assert build_challenge(realm="64010000", nonce="6fe9ba44a76be22a") == (
        'Digest realm="64010000",nonce="6fe9ba44a76be22a",algorithm=MD5'
    )
    full = build_challenge(
        realm='a"b', nonce="n", algorithm="SHA-256", qop=True, opaque="o", stale=True
    )
    assert parse_digest(full) == {
        "realm": 'a"b',
        "nonce": "n",
        "opaque": "o",
        "algorithm": "SHA-256",
        "qop": "auth",
        "stale": "TRUE",
    }
    with pytest.raises(DigestError):
        build_challenge(realm="r", nonce="n", algorithm="SHA-512")
    with pytest.raises(DigestError):
        build_challenge(realm="r\r\nX-Injected: 1", nonce="n")


def test_verify_missing_or_bad_parameters_is_false() -> None:
    params = parse_digest(J1_HEADER)
    for key in ("username", "realm", "nonce", "uri", "response"):
        assert not verify(
            {k: v for k, v in params.items() if k != key}, method="REGISTER", password="12345678"
        )
    assert not verify({**params, "algorithm": "SHA-1"}, method="REGISTER", password="12345678")
    assert not verify({**params, "qop": "auth"}, method="REGISTER", password="12345678")
    assert not verify({**params, "response": "ééé"}, method="REGISTER", password="12345678")
    # Responses are hex: case does not matter.
    upper = {**params, "response": J1_RESPONSE.upper()}
    assert verify(upper, method="REGISTER", password="12345678")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ('digest realm="r", nonce="n"', {"realm": "r", "nonce": "n"}),
        ('DIGEST  realm = "r" ,nonce="n",', {"realm": "r", "nonce": "n"}),
        ('Digest realm="a,b",nonce="x\\"y\\\\z"', {"realm": "a,b", "nonce": 'x"y\\z'}),
        ('Digest Realm="r",QOP=auth,nc=00000001', {"realm": "r", "qop": "auth", "nc": "00000001"}),
        ('Digest realm="",nonce=abc==', {"realm": "", "nonce": "abc=="}),
        ('Digest realm="\u4e2d"', {"realm": "\u4e2d"}),
    ],
)
def test_parse_digest(header: str, expected: dict[str, str]) -> None:
    assert parse_digest(header) == expected


@pytest.mark.parametrize(
    "header",
    [
        "",
        "Digest",
        "Digest ",
        'Basic realm="r"',
        'Digestrealm="r"',
        'Digest realm="r',
        'Digest realm="r" nonce="n"',
        "Digest realm",
        "Digest realm=",
        'Digest realm="r",realm="s"',
        "Digest =x",
        'Digest realm="a\nb"',
        'Digest realm=a"b',
        "Digest " + "x" * 5000,
    ],
)
def test_parse_digest_rejects(header: str) -> None:
    with pytest.raises(DigestError):
        parse_digest(header)


@given(st.text(max_size=200))
def test_parse_digest_only_raises_digest_error(text: str) -> None:
    for header in (text, "Digest " + text):
        try:
            params = parse_digest(header)
        except DigestError:
            continue
        assert params and all(k == k.lower() for k in params)


_values = st.text(alphabet=st.characters(exclude_categories=("Cs", "Cc")), max_size=40)


@given(_values, _values, _values, _values)
def test_authorization_round_trip_with_awkward_values(
    username: str, realm: str, password: str, uri: str
) -> None:
    header = build_authorization(
        method="REGISTER", uri=uri, username=username, realm=realm, password=password, nonce="n"
    )
    params = parse_digest(header)
    assert params["username"] == username and params["realm"] == realm and params["uri"] == uri
    assert verify(params, method="REGISTER", password=password)


SECRET = b"node-secret"


def test_nonce_ok_stale_invalid() -> None:
    nonce = make_nonce(SECRET, 1_700_000_000.5)
    assert all(c in "0123456789abcdef" for c in nonce)
    assert check_nonce(SECRET, nonce, 1_700_000_000.5, max_age=300) == "ok"
    assert check_nonce(SECRET, nonce, 1_700_000_300, max_age=300) == "ok"
    assert check_nonce(SECRET, nonce, 1_700_000_301, max_age=300) == "stale"
    # From the future: ours, but our clock went back; ask the client to retry.
    assert check_nonce(SECRET, nonce, 1_699_999_000, max_age=300) == "stale"
    assert check_nonce(b"other-secret", nonce, 1_700_000_000, max_age=300) == "invalid"
    flipped = nonce[:-1] + ("0" if nonce[-1] != "0" else "1")
    assert check_nonce(SECRET, flipped, 1_700_000_000, max_age=300) == "invalid"
    # Moving the timestamp forward breaks the MAC.
    forged = f"{1_700_000_299:012x}" + nonce[12:]
    assert check_nonce(SECRET, forged, 1_700_000_301, max_age=300) == "invalid"
    for junk in ("", "6fe9ba44a76be22a", nonce.upper(), nonce + "0", "g" * len(nonce)):
        assert check_nonce(SECRET, junk, 1_700_000_000, max_age=300) == "invalid"


def test_nonces_differ_within_one_second() -> None:
    assert make_nonce(SECRET, 100.0) != make_nonce(SECRET, 100.0)


def test_nonce_works_in_a_challenge() -> None:
    nonce = make_nonce(SECRET, 5.0)
    assert parse_digest(build_challenge(realm="r", nonce=nonce))["nonce"] == nonce
