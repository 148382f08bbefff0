"""Users: login with brute-force throttling, and administration.

Callers get :class:`UserInfo`/:class:`Principal` values, never ORM rows, so a
password hash cannot leak into an API response by accident.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any

import pyotp
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from sharpeyes.audit.service import SYSTEM, Actor
from sharpeyes.audit.service import record as audit_record
from sharpeyes.sharing.grants import active_grants
from sharpeyes.sharing.passwords import hash_password, needs_rehash, verify_password
from sharpeyes.sharing.principal import Principal, Right, Role
from sharpeyes.sharing.secretbox import SecretBox
from sharpeyes.sharing.throttle import FailureThrottle
from sharpeyes.store.db import Database
from sharpeyes.store.models import User, utcnow

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024
MAX_USERNAME_LENGTH = 64
ADMIN_USERNAME = "admin"
_REGION_CODE = re.compile(r"[0-9]{1,20}")
_UPDATABLE = frozenset(
    {
        "username",
        "password",
        "role",
        "display_name",
        "disabled",
        "region_codes",
        "org_id",
        "must_change_password",
    }
)


class AuthError(Exception):
    """Login refused; ``reason`` is "invalid_credentials" or "disabled".

    Show users one generic message; the reason is for the audit log.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ThrottledError(Exception):
    """Too many failures for this username or client IP; retry after ``retry_after`` s."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"locked out, retry after {retry_after:.0f}s")
        self.retry_after = retry_after


class UserNotFoundError(LookupError):
    """No user with that id."""


class UserExistsError(ValueError):
    """The username is taken."""


@dataclass(frozen=True, slots=True)
class UserInfo:
    """A user as shown to administrators (no password hash)."""

    id: int
    username: str
    role: Role
    display_name: str | None
    disabled: bool
    region_codes: tuple[str, ...] | None
    created_at: datetime
    updated_at: datetime
    org_id: int | None = None
    totp_enabled: bool = False
    must_change_password: bool = False
    token_version: int = 0


def _info(user: User) -> UserInfo:
    return UserInfo(
        id=user.id,
        username=user.username,
        role=Role(user.role),
        display_name=user.display_name,
        disabled=user.disabled,
        region_codes=None if user.region_codes is None else tuple(user.region_codes),
        created_at=user.created_at,
        updated_at=user.updated_at,
        org_id=user.org_id,
        totp_enabled=user.totp_secret is not None,
        must_change_password=user.must_change_password,
        token_version=user.token_version,
    )


def _principal(user: User, granted: Mapping[int, frozenset[Right]] | None = None) -> Principal:
    return Principal(
        user_id=user.id,
        username=user.username,
        role=Role(user.role),
        region_codes=None if user.region_codes is None else tuple(user.region_codes),
        org_id=user.org_id,
        granted=granted if granted is not None else MappingProxyType({}),
        must_change_password=user.must_change_password,
    )


def _check_username(username: str) -> str:
    if not isinstance(username, str) or not 1 <= len(username) <= MAX_USERNAME_LENGTH:
        raise ValueError(f"username must be 1..{MAX_USERNAME_LENGTH} characters")
    if not username.isprintable() or any(c.isspace() for c in username):
        raise ValueError("username must not contain spaces or control characters")
    return username


def _classes(password: str) -> int:
    return sum(
        (
            any(c.islower() for c in password),
            any(c.isupper() for c in password),
            any(c.isdigit() for c in password),
            any(not c.isalnum() for c in password),
        )
    )


def _check_password(password: str, username: str | None = None) -> str:
    """Policy: length, at least two character classes, not the username."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValueError(f"password must be at most {MAX_PASSWORD_LENGTH} characters")
    if _classes(password) < 2:
        raise ValueError(
            "password must mix at least two of: lower case, upper case, digits, symbols"
        )
    if username and password.casefold() == username.casefold():
        raise ValueError("password must not be the username")
    return password


def _check_region_codes(codes: Iterable[str] | None) -> list[str] | None:
    if codes is None:
        return None
    if isinstance(codes, str):
        raise ValueError("region_codes must be a list of civil-code prefixes, not a string")
    out: list[str] = []
    for code in codes:
        if not isinstance(code, str) or not _REGION_CODE.fullmatch(code):
            raise ValueError(f"invalid civil-code prefix {code!r} (1..20 digits)")
        if code not in out:
            out.append(code)
    return out


def _is_active_admin(user: User) -> bool:
    return user.role == Role.ADMIN.value and not user.disabled


class UserService:
    """User administration and login.

    Throttling is per username and per client IP. The IP limit is higher by
    default because a whole department often reaches the node through one NAT
    or proxy address; locking that address after 5 typos would lock everyone out.
    Throttle state is in memory (per node): a restart forgets it.
    """

    def __init__(
        self,
        db: Database,
        *,
        max_failures: int = 5,
        window_s: float = 300.0,
        lockout_s: float = 300.0,
        ip_max_failures: int = 20,
        max_keys: int = 100_000,
        max_concurrent_hashes: int = 4,
    ) -> None:
        self._db = db
        self._by_user = FailureThrottle(max_failures, window_s, lockout_s, max_keys)
        self._by_ip = FailureThrottle(ip_max_failures, window_s, lockout_s, max_keys)
        self._dummy_hash: str | None = None
        self.secretbox: SecretBox | None = None  # set by the node once its secrets are loaded
        # Each argon2 run takes ~64 MiB and a core for ~0.1 s: a login flood must
        # queue here rather than exhaust memory or starve the SIP/media loop.
        self._hash_slots = asyncio.Semaphore(max_concurrent_hashes)

    async def _hash(self, password: str) -> str:
        async with self._hash_slots:
            return await asyncio.to_thread(hash_password, password)

    async def _verify(self, password_hash: str, password: str) -> bool:
        async with self._hash_slots:
            return await asyncio.to_thread(verify_password, password_hash, password)

    async def _dummy(self) -> str:
        # Unknown usernames still pay for one argon2 verify, so response time does
        # not reveal which usernames exist.
        if self._dummy_hash is None:
            self._dummy_hash = await self._hash(secrets.token_urlsafe(24))
        return self._dummy_hash

    async def authenticate(
        self, username: str, password: str, client_ip: str, now: float, otp: str | None = None
    ) -> Principal:
        """Check credentials (and the TOTP code when the user enrolled one); raises
        :class:`ThrottledError` or :class:`AuthError` ("otp_required", "invalid_otp")."""
        user_key = username[: MAX_USERNAME_LENGTH + 1].casefold()
        ip_key = client_ip[:64]
        retry = max(self._by_user.is_locked(user_key, now), self._by_ip.is_locked(ip_key, now))
        if retry > 0:
            raise ThrottledError(retry)

        user: User | None = None
        if len(username) <= MAX_USERNAME_LENGTH:
            async with self._db.session() as session:
                user = await session.scalar(select(User).where(User.username == username))
        stored = user.password_hash if user is not None else await self._dummy()
        ok = len(password) <= MAX_PASSWORD_LENGTH and await self._verify(stored, password)
        if user is None or not ok:
            self._by_user.record_failure(user_key, now)
            self._by_ip.record_failure(ip_key, now)
            raise AuthError("invalid_credentials")
        if user.disabled:
            raise AuthError("disabled")
        if user.totp_secret is not None:
            if not otp:
                raise AuthError("otp_required")
            if not self._totp(user.totp_secret).verify(otp, for_time=now, valid_window=1):
                self._by_user.record_failure(user_key, now)
                self._by_ip.record_failure(ip_key, now)
                raise AuthError("invalid_otp")

        self._by_user.record_success(user_key)
        if needs_rehash(user.password_hash):
            await self._set_password_hash(user.id, await self._hash(password))
        return _principal(user)

    def _totp(self, sealed: str) -> pyotp.TOTP:
        if self.secretbox is None:
            raise AuthError("invalid_otp")
        return pyotp.TOTP(self.secretbox.open(sealed))

    @staticmethod
    def new_totp_secret() -> str:
        return pyotp.random_base32()

    async def enable_totp(
        self, user_id: int, secret: str, code: str, now: float, *, actor: Actor | None = None
    ) -> None:
        """Turn on the second factor once the user proves their authenticator has ``secret``."""
        if self.secretbox is None:
            raise ValueError("node not started")
        if not pyotp.TOTP(secret).verify(code, for_time=now, valid_window=1):
            raise ValueError("the code does not match the secret")
        async with self._db.session() as session:
            user = await session.get(User, user_id)
            if user is None:
                raise UserNotFoundError(user_id)
            user.totp_secret = self.secretbox.seal(secret)
            await audit_record(session, actor or SYSTEM, "user.totp_enable", "user", user_id)
            await session.commit()

    async def disable_totp(self, user_id: int, *, actor: Actor | None = None) -> None:
        async with self._db.session() as session:
            user = await session.get(User, user_id)
            if user is None:
                raise UserNotFoundError(user_id)
            user.totp_secret = None
            await audit_record(session, actor or SYSTEM, "user.totp_disable", "user", user_id)
            await session.commit()

    async def change_own_password(
        self, user_id: int, old: str, new: str, *, actor: Actor | None = None
    ) -> None:
        """The user's own change: needs the old password; clears a forced change and
        ends every other session (version bump)."""
        async with self._db.session() as session:
            user = await session.get(User, user_id)
            if user is None:
                raise UserNotFoundError(user_id)
            stored = user.password_hash
        if not await self._verify(stored, old):
            raise AuthError("invalid_credentials")
        if old == new:
            raise ValueError("the new password must differ from the old one")
        new_hash = await self._hash(_check_password(new, user.username))
        async with self._db.session() as session:
            user = await session.get(User, user_id)
            if user is None:
                raise UserNotFoundError(user_id)
            user.password_hash = new_hash
            user.must_change_password = False
            user.token_version += 1
            await audit_record(session, actor or SYSTEM, "user.password", "user", user_id)
            await session.commit()

    async def revoke_sessions(self, user_id: int, *, actor: Actor | None = None) -> None:
        """Logout everywhere: every token issued so far stops working."""
        async with self._db.session() as session:
            user = await session.get(User, user_id)
            if user is None:
                raise UserNotFoundError(user_id)
            user.token_version += 1
            await audit_record(session, actor or SYSTEM, "auth.logout_all", "user", user_id)
            await session.commit()

    async def _set_password_hash(self, user_id: int, password_hash: str) -> None:
        async with self._db.session() as session:
            user = await session.get(User, user_id)
            if user is not None:
                user.password_hash = password_hash
                await session.commit()

    async def ensure_admin(self, password: str) -> None:
        """Create the ``admin`` account on first start; never touches an existing one."""
        async with self._db.session() as session:
            exists = await session.scalar(select(User.id).where(User.username == ADMIN_USERNAME))
        if exists is not None:
            return
        with contextlib.suppress(UserExistsError):  # another node won a concurrent race
            await self.create_user(ADMIN_USERNAME, password, Role.ADMIN)

    async def create_user(
        self,
        username: str,
        password: str,
        role: Role | str,
        display_name: str | None = None,
        region_codes: Iterable[str] | None = None,
        *,
        org_id: int | None = None,
        temporary_password: bool = False,
        actor: Actor | None = None,
    ) -> UserInfo:
        """Add a user; ValueError on invalid input, UserExistsError if the name is taken.

        ``temporary_password``: the user must choose a new password at first login.
        """
        user = User(
            username=_check_username(username),
            role=Role(role).value,
            display_name=display_name,
            disabled=False,
            region_codes=_check_region_codes(region_codes),
            org_id=org_id,
            must_change_password=temporary_password,
            password_hash=await self._hash(_check_password(password, username)),
        )
        async with self._db.session() as session:
            session.add(user)
            try:
                await session.flush()
                await audit_record(
                    session,
                    actor or SYSTEM,
                    "user.create",
                    "user",
                    user.id,
                    detail={
                        "username": username,
                        "role": user.role,
                        "org_id": org_id,
                        "region_codes": user.region_codes,
                    },
                )
                await session.commit()
            except IntegrityError as e:
                raise UserExistsError(f"user {username!r} already exists") from e
            return _info(user)

    async def list_users(self) -> list[UserInfo]:
        async with self._db.session() as session:
            rows = await session.scalars(select(User).order_by(User.id))
            return [_info(u) for u in rows]

    async def get_user(self, user_id: int) -> UserInfo | None:
        async with self._db.session() as session:
            user = await session.get(User, user_id)
            return None if user is None else _info(user)

    async def update_user(
        self, user_id: int, *, actor: Actor | None = None, **changes: Any
    ) -> UserInfo:
        """Change any of username, password, role, display_name, disabled, region_codes.

        Refuses (ValueError) to demote or disable the last active admin, which would
        leave nobody able to administer the node.
        """
        unknown = set(changes) - _UPDATABLE
        if unknown:
            raise ValueError(f"cannot update {sorted(unknown)}")
        values: dict[str, Any] = {}
        if "username" in changes:
            values["username"] = _check_username(changes["username"])
        if "role" in changes:
            values["role"] = Role(changes["role"]).value
        if "display_name" in changes:
            values["display_name"] = changes["display_name"]
        if "disabled" in changes:
            values["disabled"] = bool(changes["disabled"])
        if "region_codes" in changes:
            values["region_codes"] = _check_region_codes(changes["region_codes"])
        if "org_id" in changes:
            values["org_id"] = None if changes["org_id"] is None else int(changes["org_id"])
        if "must_change_password" in changes:
            values["must_change_password"] = bool(changes["must_change_password"])

        async with self._db.session() as session:
            user = await session.get(User, user_id)
            if user is None:
                raise UserNotFoundError(user_id)
            if "password" in changes:
                values["password_hash"] = await self._hash(
                    _check_password(changes["password"], values.get("username", user.username))
                )
            was_admin = _is_active_admin(user)
            # Sessions end on password change and on disable (tokens carry the version).
            if "password_hash" in values or values.get("disabled"):
                values["token_version"] = user.token_version + 1
            for name, value in values.items():
                setattr(user, name, value)
            if was_admin and not _is_active_admin(user):
                await self._ensure_other_admin(session, user_id)
            try:
                await audit_record(
                    session,
                    actor or SYSTEM,
                    "user.password" if set(changes) == {"password"} else "user.update",
                    "user",
                    user_id,
                    detail={k: ("***" if k == "password" else v) for k, v in changes.items()},
                )
                await session.commit()
            except IntegrityError as e:
                raise UserExistsError(f"user {values.get('username')!r} already exists") from e
            return _info(user)

    async def delete_user(self, user_id: int, *, actor: Actor | None = None) -> None:
        """Remove a user; UserNotFoundError if absent, ValueError for the last admin."""
        async with self._db.session() as session:
            user = await session.get(User, user_id)
            if user is None:
                raise UserNotFoundError(user_id)
            if _is_active_admin(user):
                await self._ensure_other_admin(session, user_id)
            await audit_record(
                session,
                actor or SYSTEM,
                "user.delete",
                "user",
                user_id,
                detail={"username": user.username},
            )
            await session.delete(user)
            await session.commit()

    @staticmethod
    async def _ensure_other_admin(session: AsyncSession, user_id: int) -> None:
        others = await session.scalar(
            select(func.count())
            .select_from(User)
            .where(User.role == Role.ADMIN.value, User.disabled.is_(False), User.id != user_id)
        )
        if not others:
            raise ValueError("refusing to remove the last active admin")

    async def get_principal(
        self, user_id: int, token_version: int | None = None, now: datetime | None = None
    ) -> Principal | None:
        """The current principal for a token's ``uid``, with its organisation's active
        grants; None if deleted, disabled, or (``token_version`` given) the session
        was revoked since the token was issued."""
        async with self._db.session() as session:
            user = await session.get(User, user_id)
            if user is None or user.disabled:
                return None
            if token_version is not None and token_version != user.token_version:
                return None
            granted = await active_grants(session, user.org_id, now or utcnow())
            return _principal(user, granted)
