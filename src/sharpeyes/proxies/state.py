"""Proxy states, failure reasons, reconnect backoff and gb_id assignment (sans-IO).

Nothing here reads a clock or touches a socket: ``now`` is an argument and the
runtime says when it wants to be looked at again (``next_retry_at``).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import quote, urlsplit, urlunsplit


class ProxyState(StrEnum):
    IDLE = "idle"  # nobody watches (on-demand) — no pull runs
    CONNECTING = "connecting"  # the pull is opening the stream
    STREAMING = "streaming"  # frames arrive
    FAILED = "failed"  # the last attempt failed: ``last_error`` says why


class ProxyError(StrEnum):
    """``last_error`` values: what an operator has to fix."""

    AUTH_FAILED = "auth_failed"  # 401/403: wrong username or password
    CONNECT_FAILED = "connect_failed"  # refused, unreachable, timed out, or not found
    NO_FRAMES = "no_frames"  # connected, but no usable video arrived
    UNSUPPORTED_CODEC = "unsupported_codec"  # video that cannot be remuxed (not H.264/H.265)
    DISCONNECTED = "disconnected"  # the server ended a running stream


class PullFailure(Exception):
    def __init__(self, error: ProxyError, detail: str) -> None:
        super().__init__(f"{error.value}: {detail}")
        self.error = error
        self.detail = detail


def classify(exc: BaseException) -> ProxyError:
    """Map a media library error (PyAV/FFmpeg, OS) to a ``ProxyError``."""
    import av.error

    if isinstance(exc, av.error.HTTPUnauthorizedError | av.error.HTTPForbiddenError):
        return ProxyError.AUTH_FAILED
    text = str(exc).lower()
    if "401" in text or "unauthorized" in text or "403 forbidden" in text:
        return ProxyError.AUTH_FAILED
    return ProxyError.CONNECT_FAILED


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential reconnect delay: initial × 2^(failures-1), capped, with optional jitter."""

    initial_s: float = 1.0
    max_s: float = 60.0
    jitter: float = 0.1

    def delay(self, failures: int, rng: random.Random | None = None) -> float:
        if failures <= 0:
            return 0.0
        base = min(self.max_s, self.initial_s * 2 ** min(failures - 1, 30))
        if not self.jitter:
            return base
        r = (rng or random).uniform(-self.jitter, self.jitter)
        return max(0.0, base * (1 + r))


@dataclass(slots=True)
class ProxyRuntime:
    """What the node knows about one proxy's pull right now."""

    proxy_id: int
    on_demand: bool
    state: ProxyState = ProxyState.IDLE
    last_error: ProxyError | None = None
    last_detail: str | None = None
    failures: int = 0  # consecutive
    attempts: int = 0  # pulls started since the node started
    reconnects: int = 0  # always-on restarts after a failure
    next_retry_at: float | None = None
    retry_delay_s: float | None = None  # the backoff chosen at the last failure
    session_id: str | None = None
    history: list[tuple[float, str]] = field(default_factory=list)  # (when, error) last 20

    def connecting(self, session_id: str) -> None:
        self.state = ProxyState.CONNECTING
        self.session_id = session_id
        self.attempts += 1
        self.next_retry_at = None

    def streaming(self) -> None:
        self.state = ProxyState.STREAMING
        self.failures = 0
        self.last_error = None
        self.last_detail = None

    def ended(
        self, error: ProxyError | None, detail: str, now: float, backoff: Backoff
    ) -> float | None:
        """The pull ended (``error`` None: stopped or idle). Returns the retry time, if any."""
        self.session_id = None
        if error is None:
            self.state = ProxyState.IDLE
            self.next_retry_at = None if self.on_demand else now
            return self.next_retry_at
        self.state = ProxyState.FAILED
        self.last_error = error
        self.last_detail = detail
        self.failures += 1
        self.history = [*self.history[-19:], (now, error.value)]
        if self.on_demand:
            self.next_retry_at = None
            return None
        self.reconnects += 1
        self.retry_delay_s = backoff.delay(self.failures)
        self.next_retry_at = now + self.retry_delay_s
        return self.next_retry_at

    def due(self, now: float) -> bool:
        """Always-on and nothing running: time to (re)start the pull?"""
        return (
            not self.on_demand
            and self.session_id is None
            and self.next_retry_at is not None
            and now >= self.next_retry_at
        )

    def storm(self, now: float, window_s: float = 300.0, count: int = 5) -> bool:
        """``count`` failures within ``window_s``: a reconnect storm (health counts it)."""
        recent = [t for t, _ in self.history if now - t <= window_s]
        return len(recent) >= count


# -- gb_id (GB/T 28181 Appendix D: civil 8 + industry 2 + type 3 + network 1 + serial 6) ----

GB_ID = re.compile(r"^\d{20}$")
CAMERA_TYPE = "132"
SOCIAL_NETWORK = "8"


def make_gb_id(civil_code: str, industry: str, serial: int) -> str:
    if len(civil_code) != 8 or not civil_code.isdigit():
        raise ValueError(f"civil code {civil_code!r} must be 8 digits")
    return f"{civil_code}{industry}{CAMERA_TYPE}{SOCIAL_NETWORK}{serial:06d}"


def check_gb_id(gb_id: str) -> str:
    """A given gb_id must be a 20-digit camera code (type 131/132) — any network digit."""
    if not GB_ID.fullmatch(gb_id):
        raise ValueError("gb_id must be 20 digits")
    if gb_id[10:13] not in ("131", "132"):
        raise ValueError("gb_id must have type 131 or 132 (digits 11-13): it is a camera")
    return gb_id


def next_serial(used: set[int], lo: int, hi: int) -> int:
    for serial in range(lo, hi + 1):
        if serial not in used:
            return serial
    raise ValueError(f"no free gb_id serial left in proxies.serial_range {lo}-{hi}")


# -- URLs ----------------------------------------------------------------------------

SCHEMES = ("rtsp", "rtsps", "http", "https")


def check_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in SCHEMES or not parts.hostname:
        raise ValueError("url must be rtsp://, rtsps:// (or http(s):// FLV/HLS/MP4) with a host")
    if parts.username or parts.password:
        raise ValueError("put credentials in username/password, not in the url")
    return url.strip()


def split_credentials(url: str) -> tuple[str, str | None, str | None]:
    """(url without credentials, username, password) — URLs from forms often carry them."""
    parts = urlsplit(url.strip())
    if not (parts.username or parts.password):
        return url.strip(), None, None
    from urllib.parse import unquote

    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    clean = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return (
        clean,
        unquote(parts.username) if parts.username else None,
        unquote(parts.password) if parts.password else None,
    )


def with_credentials(url: str, username: str | None, password: str | None) -> str:
    """The URL FFmpeg opens (credentials percent-encoded into the authority)."""
    if not username:
        return url
    parts = urlsplit(url)
    auth = quote(username, safe="")
    if password:
        auth += ":" + quote(password, safe="")
    return urlunsplit((parts.scheme, f"{auth}@{parts.netloc}", parts.path, parts.query, ""))


def redact(url: str) -> str:
    return split_credentials(url)[0]


__all__ = [
    "Backoff",
    "ProxyError",
    "ProxyRuntime",
    "ProxyState",
    "PullFailure",
    "check_gb_id",
    "check_url",
    "classify",
    "make_gb_id",
    "next_serial",
    "redact",
    "split_credentials",
    "with_credentials",
]
