"""The sans-IO registration/keepalive client, driven by advancing ``now`` (no sleeping)."""

from __future__ import annotations

import random

import pytest

from sharpeyes.gb28181.digest import build_challenge, parse_digest, verify
from sharpeyes.sip.registration import (
    ActionKind,
    RegistrationClient,
    RegistrationConfig,
    RegState,
)

UPPER = "34020000002000000001"
US = "34020100002000000001"


def client(**kw: object) -> RegistrationClient:
    cfg = RegistrationConfig(
        username=US,
        password="secret",
        register_uri=f"sip:{UPPER}@3402000000",
        realm="3402000000",
        expires=3600,
        keepalive_interval=60,
        keepalive_timeout_count=3,
        rng=random.Random(7),
        **kw,  # type: ignore[arg-type]
    )
    return RegistrationClient(cfg)


def drain(c: RegistrationClient) -> list:
    out = []
    while (a := c.next_action()) is not None:
        out.append(a)
    return out


def sends(c: RegistrationClient) -> list:
    return [a for a in drain(c) if a.kind != ActionKind.STATE]


def register_ok(c: RegistrationClient, now: float, *, algorithm: str = "MD5") -> None:
    first = sends(c)
    assert [a.kind for a in first] == [ActionKind.REGISTER]
    assert first[0].authorization is None
    c.on_register_response(
        now,
        401,
        {
            "WWW-Authenticate": build_challenge(
                realm="3402000000", nonce="n1", algorithm=algorithm, qop=True
            )
        },
    )
    second = sends(c)
    assert len(second) == 1 and second[0].authorization is not None
    name, value = second[0].authorization
    assert name == "Authorization"
    params = parse_digest(value)
    assert params["username"] == US and params["qop"] == "auth"
    assert params["algorithm"] == algorithm
    assert verify(params, method="REGISTER", password="secret")
    c.on_register_response(now, 200, {"Expires": "3600"})


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256"])
def test_register_answers_digest_and_becomes_registered(algorithm: str) -> None:
    c = client()
    c.start(0.0)
    register_ok(c, 0.0, algorithm=algorithm)
    assert c.state == RegState.REGISTERED
    assert c.registered_at == 0.0


def test_refresh_before_expiry_and_keepalive_every_interval() -> None:
    c = client()
    c.start(0.0)
    register_ok(c, 0.0)
    drain(c)
    assert c.get_timer() == 60.0  # keepalive first
    c.handle_timer(60.0)
    assert [a.kind for a in sends(c)] == [ActionKind.KEEPALIVE]
    c.on_keepalive_result(60.1, 200)
    assert c.last_keepalive_ok_at == 60.1
    now = 60.0
    while True:
        t = c.get_timer()
        assert t is not None
        now = t
        c.handle_timer(now)
        got = sends(c)
        if any(a.kind == ActionKind.REGISTER for a in got):
            break
        c.on_keepalive_result(now, 200)
    assert now < 3600  # refreshed before it expired
    assert now == pytest.approx(1800)


def test_three_missed_keepalives_reregister_with_backoff() -> None:
    c = client()
    c.start(0.0)
    register_ok(c, 0.0)
    drain(c)
    now = 0.0
    for i in range(3):
        now += 60
        c.handle_timer(now)
        assert [a.kind for a in sends(c)] == [ActionKind.KEEPALIVE]
        c.on_keepalive_result(now + 1, None)
        if i < 2:
            assert c.state == RegState.REGISTERED
    assert c.state == RegState.FAILED
    assert "keepalives" in (c.last_error or "")
    retry = c.get_timer()
    assert retry is not None and now + 1 < retry <= now + 1 + 1.0
    c.handle_timer(retry)
    assert [a.kind for a in sends(c)] == [ActionKind.REGISTER]
    assert c.state == RegState.REGISTERING


def test_backoff_grows_capped_and_jittered() -> None:
    c = client(backoff_base=1.0, backoff_cap=30.0)
    delays = [c.backoff(n) for n in range(1, 12)]
    assert all(
        0.5 * min(30, 2 ** (n - 1)) <= d <= min(30, 2 ** (n - 1))
        for n, d in zip(range(1, 12), delays, strict=True)
    )
    assert max(delays) <= 30.0
    assert len(set(delays)) > 5  # jittered, not a fixed ladder


def test_timeouts_back_off_exponentially() -> None:
    c = client(backoff_base=2.0, backoff_cap=16.0)
    c.start(0.0)
    now = 0.0
    waits = []
    for _ in range(6):
        assert [a.kind for a in sends(c)] == [ActionKind.REGISTER]
        c.on_register_timeout(now)
        t = c.get_timer()
        assert t is not None
        waits.append(t - now)
        now = t
        c.handle_timer(now)
    assert waits[0] <= 2.0 and waits[-1] >= 8.0 and max(waits) <= 16.0


def test_wrong_password_is_a_failure_not_a_loop() -> None:
    c = client()
    c.start(0.0)
    sends(c)
    ch = {"WWW-Authenticate": build_challenge(realm="r", nonce="n1", qop=True)}
    c.on_register_response(0, 401, ch)
    assert len(sends(c)) == 1
    c.on_register_response(0, 401, ch)  # refused again, not stale
    assert sends(c) == []
    assert c.state == RegState.FAILED and "refused" in (c.last_error or "")


def test_stale_nonce_is_answered_again() -> None:
    c = client()
    c.start(0.0)
    sends(c)
    c.on_register_response(0, 401, {"WWW-Authenticate": build_challenge(realm="r", nonce="n1")})
    sends(c)
    c.on_register_response(
        0, 401, {"WWW-Authenticate": build_challenge(realm="r", nonce="n2", stale=True)}
    )
    again = sends(c)
    assert len(again) == 1 and "n2" in again[0].authorization[1]


def test_keepalive_4xx_reregisters_at_once() -> None:
    c = client()
    c.start(0.0)
    register_ok(c, 0.0)
    drain(c)
    c.handle_timer(60)
    sends(c)
    c.on_keepalive_result(60, 403)
    assert c.state == RegState.FAILED
    assert c.get_timer() == 60
    c.handle_timer(60)
    assert [a.kind for a in sends(c)] == [ActionKind.REGISTER]


def test_stop_unregisters_only_when_registered() -> None:
    c = client()
    c.start(0.0)
    register_ok(c, 0.0)
    drain(c)
    assert c.stop(10.0) is True
    acts = sends(c)
    assert [(a.kind, a.expires) for a in acts] == [(ActionKind.REGISTER, 0)]
    assert c.state == RegState.DISABLED and c.get_timer() is None
    d = client()
    d.start(0.0)
    drain(d)
    assert d.stop(1.0) is False


def test_state_changes_are_reported() -> None:
    c = client()
    c.start(0.0)
    states = [a.state for a in drain(c) if a.kind == ActionKind.STATE]
    assert states == [RegState.REGISTERING]
    c.on_register_response(0, 200, {"Expires": "600"})
    states = [a.state for a in drain(c) if a.kind == ActionKind.STATE]
    assert states == [RegState.REGISTERED]
    assert c.granted_expires == 600
    assert c.get_timer() == 60  # keepalive before the 300 s refresh
