"""Users: login with brute-force throttling, and administration.

Callers get :class:`UserInfo`/:class:`Principal` values, never ORM rows, so a
password hash cannot leak into an API response by accident.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from sharpeyes.sharing.passwords import hash_password, needs_rehash, verify_password
from sharpeyes.sharing.principal import Principal, Role
from sharpeyes.sharing.throttle import FailureThrottle
from sharpeyes.store.db import Database
from sharpeyes.store.models import User

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024
MAX_USERNAME_LENGTH = 64
ADMIN_USERNAME = "admin"
_REGION_CODE = re.compile(r"[0-9]{1,20}")
_UPDATABLE = frozenset({"username", "password", "role", "display_name", "disabled", "region_codes"})


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
    )


def _principal(user: User) -> Principal:
    return Principal(
        user_id=user.id,
        username=user.username,
        role=Role(user.role),
        region_codes=None if user.region_codes is None else tuple(user.region_codes),
    )


def _check_username(username: str) -> str:
    if not isinstance(username, str) or not 1 <= len(username) <= MAX_USERNAME_LENGTH:
        raise ValueError(f"username must be 1..{MAX_USERNAME_LENGTH} characters")
    if not username.isprintable() or any(c.isspace() for c in username):
        raise ValueError("username must not contain spaces or control characters")
    return username


def _check_password(password: str) -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValueError(f"password must be at most {MAX_PASSWORD_LENGTH} characters")
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
        self, username: str, password: str, client_ip: str, now: float
    ) -> Principal:
        """Check credentials; raises :class:`ThrottledError` or :class:`AuthError`."""
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

        self._by_user.record_success(user_key)
        if needs_rehash(user.password_hash):
            await self._set_password_hash(user.id, await self._hash(password))
        return _principal(user)

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
    ) -> UserInfo:
        """Add a user; ValueError on invalid input, UserExistsError if the name is taken."""
        user = User(
            username=_check_username(username),
            role=Role(role).value,
            display_name=display_name,
            disabled=False,
            region_codes=_check_region_codes(region_codes),
            password_hash=await self._hash(_check_password(password)),
        )
        async with self._db.session() as session:
            session.add(user)
            try:
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

    async def update_user(self, user_id: int, **changes: Any) -> UserInfo:
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
        if "password" in changes:
            values["password_hash"] = await self._hash(_check_password(changes["password"]))

        async with self._db.session() as session:
            user = await session.get(User, user_id)
            if user is None:
                raise UserNotFoundError(user_id)
            was_admin = _is_active_admin(user)
            for name, value in values.items():
                setattr(user, name, value)
            if was_admin and not _is_active_admin(user):
                await self._ensure_other_admin(session, user_id)
            try:
                await session.commit()
            except IntegrityError as e:
                raise UserExistsError(f"user {values.get('username')!r} already exists") from e
            return _info(user)

    async def delete_user(self, user_id: int) -> None:
        """Remove a user; UserNotFoundError if absent, ValueError for the last admin."""
        async with self._db.session() as session:
            user = await session.get(User, user_id)
            if user is None:
                raise UserNotFoundError(user_id)
            if _is_active_admin(user):
                await self._ensure_other_admin(session, user_id)
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

    async def get_principal(self, user_id: int) -> Principal | None:
        """The current principal for a token's ``uid``; None if deleted or disabled."""
        async with self._db.session() as session:
            user = await session.get(User, user_id)
            if user is None or user.disabled:
                return None
            return _principal(user)
