"""Sans-IO registration + keepalive client (the lower side of GB/T 28181 9.1 / 9.6).

Used by the cascade domain (we register up to an upper platform) and shaped so the
simulator can use it too. Like aioquic's connection it owns no socket and reads no
clock: every call takes ``now``; :meth:`RegistrationClient.get_timer` says when it
next wants :meth:`RegistrationClient.handle_timer`; what to send is pulled with
:meth:`RegistrationClient.next_action`. A thin asyncio binding (``cascade.link``)
only transmits and arms the timer.

Behaviour, from the standard and from what breaks in the field:

- REGISTER, answer a 401/407 digest challenge once (MD5 or SHA-256, qop=auth when
  offered), once more on ``stale=true``; a second plain refusal is a failure;
- refresh at ``refresh_fraction`` of the granted expiry (never after it);
- keepalive MESSAGE every ``keepalive_interval``; ``keepalive_timeout_count``
  failures in a row, a 4xx to a keepalive, a register timeout or refusal →
  re-register after a capped, jittered exponential backoff;
- ``stop`` sends REGISTER Expires 0 (unregister) when registered.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from sharpeyes.gb28181.digest import DigestError, build_authorization, parse_digest


class RegState(StrEnum):
    """What an upper link is doing; the API's ``state``."""

    DISABLED = "disabled"
    REGISTERING = "registering"
    REGISTERED = "registered"
    FAILED = "failed"  # waiting out the backoff before trying again


class ActionKind(StrEnum):
    REGISTER = "register"
    KEEPALIVE = "keepalive"
    STATE = "state"  # not a message: a state change to publish


@dataclass(frozen=True, slots=True)
class Action:
    """Something the binding must do: send a REGISTER / keepalive, or publish a state."""

    kind: ActionKind
    expires: int = 0
    authorization: tuple[str, str] | None = None  # (header name, value)
    state: RegState | None = None
    error: str | None = None


@dataclass
class RegistrationConfig:
    username: str  # our ID toward the upper (local_id)
    password: str
    register_uri: str  # Request-URI of the REGISTER (sip:<server_id>@<domain>)
    realm: str = ""
    expires: int = 3600
    keepalive_interval: float = 60.0
    keepalive_timeout_count: int = 3
    refresh_fraction: float = 0.5
    backoff_base: float = 1.0
    backoff_cap: float = 60.0
    rng: random.Random = field(default_factory=random.Random)


class RegistrationClient:
    """See the module docstring. One per upper link."""

    def __init__(self, config: RegistrationConfig) -> None:
        self.config = config
        self.state = RegState.DISABLED
        self.last_error: str | None = None
        self.registered_at: float | None = None
        self.last_keepalive_ok_at: float | None = None
        self.granted_expires: int | None = None
        self.failures = 0  # consecutive registration failures (backoff exponent)
        self.keepalive_misses = 0
        self._actions: deque[Action] = deque()
        self._in_flight: int | None = None  # expires of the REGISTER awaiting an answer
        self._auth_tries = 0
        self._nc = 0
        self._refresh_at: float | None = None
        self._keepalive_at: float | None = None
        self._retry_at: float | None = None
        self._keepalive_pending = False
        self._running = False

    # ------------------------------------------------------------- control
    def start(self, now: float) -> None:
        """Begin registering (a link enabled or the node started)."""
        if self._running:
            return
        self._running = True
        self.failures = 0
        self._register(now, self.config.expires)

    def stop(self, now: float) -> bool:
        """Stop; returns True when an unregister (Expires 0) was queued."""
        was = self.state == RegState.REGISTERED
        self._running = False
        self._refresh_at = self._keepalive_at = self._retry_at = None
        self._keepalive_pending = False
        if was:
            self._in_flight = 0
            self._auth_tries = 0
            self._actions.append(Action(ActionKind.REGISTER, expires=0))
        else:
            self._in_flight = None
        self._set(RegState.DISABLED, None)
        return was

    def next_action(self) -> Action | None:
        return self._actions.popleft() if self._actions else None

    # -------------------------------------------------------------- timers
    def get_timer(self) -> float | None:
        """When :meth:`handle_timer` is next due (None: nothing armed)."""
        times = [t for t in (self._refresh_at, self._keepalive_at, self._retry_at) if t is not None]
        return min(times) if times else None

    def handle_timer(self, now: float) -> None:
        if self._retry_at is not None and now >= self._retry_at:
            self._retry_at = None
            self._register(now, self.config.expires)
        if self._refresh_at is not None and now >= self._refresh_at:
            self._refresh_at = None
            if self._in_flight is None:
                self._register(now, self.config.expires, refresh=True)
        if self._keepalive_at is not None and now >= self._keepalive_at:
            self._keepalive_at = now + self.config.keepalive_interval
            if self.state == RegState.REGISTERED and not self._keepalive_pending:
                self._keepalive_pending = True
                self._actions.append(Action(ActionKind.KEEPALIVE))

    # ------------------------------------------------------------- results
    def on_register_response(
        self, now: float, status: int, headers: Mapping[str, str] | None = None
    ) -> None:
        """The final response to our last REGISTER (headers: case-insensitive getter)."""
        expires = self._in_flight
        if expires is None:
            return  # an answer we no longer wait for
        h = headers or {}
        if status in (401, 407) and self._auth_tries < 2:
            name = "WWW-Authenticate" if status == 401 else "Proxy-Authenticate"
            challenge_text = _get(h, name)
            try:
                challenge = parse_digest(challenge_text or "")
            except DigestError as exc:
                self._fail(now, f"unusable {status} challenge: {exc}")
                return
            stale = challenge.get("stale", "").lower() == "true"
            if self._auth_tries == 1 and not stale:
                self._fail(now, f"{status}: credentials refused")
                return
            try:
                auth = self._authorization(challenge)
            except (KeyError, DigestError) as exc:
                self._fail(now, f"cannot answer the challenge: {exc}")
                return
            self._auth_tries += 1
            header = "Authorization" if status == 401 else "Proxy-Authorization"
            self._actions.append(
                Action(ActionKind.REGISTER, expires=expires, authorization=(header, auth))
            )
            return
        self._in_flight = None
        if expires == 0:
            return  # unregister answered: nothing more to do
        if 200 <= status < 300:
            granted = _granted(h, expires)
            self.granted_expires = granted
            self.failures = 0
            self.keepalive_misses = 0
            first = self.state != RegState.REGISTERED
            if first:
                self.registered_at = now
                self._keepalive_at = now + self.config.keepalive_interval
            self._refresh_at = now + max(1.0, granted * self.config.refresh_fraction)
            self._set(RegState.REGISTERED, None)
            return
        self._fail(now, f"REGISTER refused: {status}")

    def on_register_timeout(self, now: float) -> None:
        if self._in_flight is None:
            return
        expires = self._in_flight
        self._in_flight = None
        if expires == 0:
            return
        self._fail(now, "REGISTER timed out")

    def on_keepalive_result(self, now: float, status: int | None) -> None:
        """A keepalive's final status (None: timed out)."""
        self._keepalive_pending = False
        if self.state != RegState.REGISTERED:
            return
        if status is not None and 200 <= status < 300:
            self.keepalive_misses = 0
            self.last_keepalive_ok_at = now
            return
        if status is not None and 400 <= status < 500:
            # The upper forgot us (restarted, expired): register again at once.
            self._fail(now, f"keepalive refused: {status}", immediate=True)
            return
        self.keepalive_misses += 1
        if self.keepalive_misses >= self.config.keepalive_timeout_count:
            self._fail(now, f"{self.keepalive_misses} keepalives unanswered")

    # ------------------------------------------------------------ internals
    def _register(self, now: float, expires: int, *, refresh: bool = False) -> None:
        if not self._running:
            return
        self._in_flight = expires
        self._auth_tries = 0
        if not refresh and self.state != RegState.REGISTERED:
            self._set(RegState.REGISTERING, self.last_error)
        self._actions.append(Action(ActionKind.REGISTER, expires=expires))

    def _fail(self, now: float, error: str, *, immediate: bool = False) -> None:
        self._in_flight = None
        self._refresh_at = self._keepalive_at = None
        self._keepalive_pending = False
        self.keepalive_misses = 0
        self.registered_at = None
        if not self._running:
            self.last_error = error
            return
        self.failures += 1
        self._retry_at = now + (0.0 if immediate else self.backoff(self.failures))
        self._set(RegState.FAILED, error)

    def backoff(self, failures: int) -> float:
        """Capped exponential with full jitter on the upper half (never a retry storm)."""
        cfg = self.config
        ceiling = min(cfg.backoff_cap, cfg.backoff_base * (2 ** max(0, failures - 1)))
        return float(ceiling * cfg.rng.uniform(0.5, 1.0))

    def _authorization(self, challenge: Mapping[str, str]) -> str:
        cfg = self.config
        qops = [q.strip().lower() for q in challenge.get("qop", "").split(",")]
        self._nc += 1
        return build_authorization(
            method="REGISTER",
            uri=cfg.register_uri,
            username=cfg.username,
            realm=challenge.get("realm", cfg.realm),
            password=cfg.password,
            nonce=challenge["nonce"],
            algorithm=challenge.get("algorithm", "MD5"),
            qop="auth" if "auth" in qops else None,
            nc=self._nc,
            opaque=challenge.get("opaque"),
        )

    def _set(self, state: RegState, error: str | None) -> None:
        changed = state != self.state or error != self.last_error
        self.state = state
        self.last_error = error
        if changed:
            self._actions.append(Action(ActionKind.STATE, state=state, error=error))


def _get(headers: Mapping[str, str], name: str) -> str | None:
    getter = getattr(headers, "get", None)
    value = getter(name) if getter is not None else None
    if value is None:
        for k, v in headers.items():
            if k.lower() == name.lower():
                return v
    return value


def _granted(headers: Mapping[str, str], requested: int) -> int:
    value = _get(headers, "Expires")
    if value is not None and value.strip().isdigit() and int(value.strip()) > 0:
        return int(value.strip())
    return requested


__all__ = [
    "Action",
    "ActionKind",
    "RegState",
    "RegistrationClient",
    "RegistrationConfig",
]
