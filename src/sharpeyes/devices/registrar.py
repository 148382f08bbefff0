"""REGISTER handling (GB/T 28181 9.1): digest challenge, admission, expiry, time sync.

Decisions a device sees:
- no credentials → 401 with a fresh stateless nonce;
- stale nonce → 401 ``stale=true`` (the device retries without bothering the operator);
- wrong password, unknown-but-refused, rejected → 403, and the source's failures
  are counted so a password-guessing source is refused for a while (403 + Retry-After);
- admission policy ``approve``: an unknown device with the right password is kept
  as *pending* and answered 403 until an operator admits it;
- success → 200 with Contact, Expires and ``Date`` (local time, for time sync).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sharpeyes.devices.reg_failures import RegistrationFailures
from sharpeyes.devices.registry import DeviceRegistry
from sharpeyes.gb28181 import digest
from sharpeyes.gb28181.deviceid import is_device_id
from sharpeyes.gb28181.message import (
    SipParseError,
    SipRequest,
    SipResponse,
    parse_name_addr,
    response_for,
)
from sharpeyes.sharing.throttle import FailureThrottle
from sharpeyes.sip.stack import new_tag
from sharpeyes.sip.transport import Peer

log = logging.getLogger(__name__)

_EXPIRES_PARAM = re.compile(r";\s*expires\s*=\s*(\d+)", re.I)


@dataclass
class RegistrarPolicy:
    realm: str
    password: str
    admission: str = "open"  # or "approve"
    expires_min: int = 60
    expires_max: int = 86400 * 7
    nonce_max_age: float = 300.0
    qop: bool = False
    timezone: str = "Asia/Shanghai"
    max_failures: int = 10
    ip_max_failures: int = 200
    lockout_s: float = 300.0
    # GB/T 28181-2022 / RFC 7616: also challenge with SHA-256. "offer" lists MD5 first
    # (devices that read only the first header keep working) and SHA-256 second;
    # "prefer" lists SHA-256 first. A device once seen answering SHA-256 always gets
    # SHA-256 first. "off": MD5 only.
    sha256: str = "offer"


class Registrar:
    def __init__(
        self,
        registry: DeviceRegistry,
        policy: RegistrarPolicy,
        secret: bytes,
        on_registered: Callable[[str], None] | None = None,
    ) -> None:
        self.registry = registry
        self.on_registered = on_registered
        self.policy = policy
        self.secret = secret
        self.tz = ZoneInfo(policy.timezone)
        # Per device at an address, and (much looser) per address: many devices
        # share one NAT address, and one misconfigured camera must not lock out
        # the rest; an address cycling through device IDs still gets stopped.
        self.throttle = FailureThrottle(
            max_failures=policy.max_failures, window_s=policy.lockout_s, lockout_s=policy.lockout_s
        )
        self.ip_throttle = FailureThrottle(
            max_failures=policy.ip_max_failures,
            window_s=policy.lockout_s,
            lockout_s=policy.lockout_s,
        )
        self.stats = {"ok": 0, "challenged": 0, "forbidden": 0, "throttled": 0, "sha256": 0}
        self.sha256_devices: set[str] = set()
        self.failures = RegistrationFailures()

    def _algorithms(self, device_id: str) -> list[str]:
        mode = self.policy.sha256
        if mode == "off":
            return ["MD5"]
        if mode == "prefer" or device_id in self.sha256_devices:
            return ["SHA-256", "MD5"]
        return ["MD5", "SHA-256"]

    def _challenge(
        self, req: SipRequest, now: float, *, stale: bool = False, device_id: str = ""
    ) -> SipResponse:
        self.stats["challenged"] += 1
        nonce = digest.make_nonce(self.secret, now)
        headers = [
            (
                "WWW-Authenticate",
                digest.build_challenge(
                    realm=self.policy.realm,
                    nonce=nonce,
                    qop=self.policy.qop,
                    stale=stale,
                    algorithm=alg,
                ),
            )
            for alg in self._algorithms(device_id)
        ]
        return response_for(req, 401, to_tag=new_tag(), headers=headers)

    def _forbid(
        self,
        req: SipRequest,
        reason: str,
        peer: Peer,
        now: float,
        device_id: str,
        *,
        count: bool = True,
    ) -> SipResponse:
        self.stats["forbidden"] += 1
        self.failures.record(device_id, reason, 403, peer.host, peer.port, now)
        if count:
            self.throttle.record_failure((peer.host, device_id), now)
            self.ip_throttle.record_failure(peer.host, now)
        return response_for(req, 403, reason, to_tag=new_tag())

    async def handle(self, req: SipRequest, peer: Peer) -> SipResponse:
        now = time.time()
        try:
            device_id = parse_name_addr(req.headers["From"]).uri.user
        except (SipParseError, KeyError):
            return response_for(req, 400, "Malformed From")
        retry = max(
            self.throttle.is_locked((peer.host, device_id), now),
            self.ip_throttle.is_locked(peer.host, now),
        )
        if retry:
            self.stats["throttled"] += 1
            self.failures.record(
                device_id, "Too Many Failed Attempts", 403, peer.host, peer.port, now
            )
            return response_for(
                req,
                403,
                "Too Many Failed Attempts",
                to_tag=new_tag(),
                headers=[("Retry-After", str(int(retry) + 1))],
            )
        if not is_device_id(device_id):
            return self._forbid(req, "Invalid Device ID", peer, now, device_id)

        expires = self._requested_expires(req)
        if expires is None:
            return response_for(req, 400, "Malformed Expires")
        if 0 < expires < self.policy.expires_min:
            return response_for(
                req, 423, to_tag=new_tag(), headers=[("Min-Expires", str(self.policy.expires_min))]
            )
        expires = min(expires, self.policy.expires_max)

        auth_value = req.headers.get("Authorization")
        if not auth_value:
            return self._challenge(req, now, device_id=device_id)
        try:
            params = digest.parse_digest(auth_value)
        except digest.DigestError:
            return response_for(req, 400, "Malformed Authorization")
        nonce_state = digest.check_nonce(
            self.secret, params.get("nonce", ""), now, self.policy.nonce_max_age
        )
        if nonce_state == "stale":
            return self._challenge(req, now, stale=True, device_id=device_id)
        if nonce_state != "ok":
            return self._challenge(req, now, device_id=device_id)
        if params.get("algorithm", "MD5").upper() not in self._algorithms(device_id):
            return self._challenge(req, now, device_id=device_id)
        if params.get("username") != device_id or params.get("realm") != self.policy.realm:
            return self._forbid(req, "Credentials Do Not Match Device", peer, now, device_id)

        live = self.registry.get(device_id)
        password = (live.password if live and live.password else None) or self.policy.password
        if not digest.verify(params, method="REGISTER", password=password):
            log.info("wrong password from device %s at %s", device_id, peer)
            return self._forbid(req, "Forbidden", peer, now, device_id)
        self.throttle.record_success((peer.host, device_id))
        if params.get("algorithm", "MD5").upper() == "SHA-256":
            self.stats["sha256"] += 1
            self.sha256_devices.add(device_id)

        async with self.registry.lock(device_id):
            live = self.registry.get(device_id)
            if live is None:
                admission = "admitted" if self.policy.admission == "open" else "pending"
                live = await self.registry.create_pending_or_admitted(
                    device_id, admission, peer, now
                )
            if live.admission == "pending":
                return self._forbid(req, "Pending Approval", peer, now, device_id, count=False)
            if live.admission != "admitted":
                return self._forbid(req, "Device Rejected", peer, now, device_id, count=False)
            contact = req.headers.get("Contact")
            if expires == 0:
                if live.online or live.register_expires_at:
                    await self.registry.unregistered(live, now)
            else:
                was_online = live.online
                await self.registry.registered(live, peer, _contact_uri(contact), expires, now)
                if not was_online and self.on_registered is not None:
                    self.on_registered(device_id)
        self.stats["ok"] += 1
        self.failures.clear(device_id)
        headers = [("Date", self.local_date(now)), ("Expires", str(expires))]
        if contact:
            headers.insert(0, ("Contact", contact))
        return response_for(req, 200, to_tag=new_tag(), headers=headers)

    def _requested_expires(self, req: SipRequest) -> int | None:
        contact = req.headers.get("Contact") or ""
        m = _EXPIRES_PARAM.search(contact.split(">")[-1]) if contact else None
        text = m.group(1) if m else req.headers.get("Expires")
        if text is None:
            return 3600
        text = text.strip()
        if not text.isdigit() or len(text) > 10:
            return None
        return int(text)

    def local_date(self, now: float) -> str:
        """GB ``Date`` header: local time ``yyyy-MM-ddTHH:mm:ss.SSS`` (J.1)."""
        dt = datetime.fromtimestamp(now, self.tz)
        return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}"


def _contact_uri(contact: str | None) -> str | None:
    if not contact:
        return None
    try:
        return str(parse_name_addr(contact).uri)
    except SipParseError:
        return None
