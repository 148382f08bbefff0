from __future__ import annotations

from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from sharpeyes.sharing import passwords, users
from sharpeyes.sharing.principal import Principal, Role
from sharpeyes.sharing.users import (
    AuthError,
    ThrottledError,
    UserExistsError,
    UserNotFoundError,
    UserService,
)
from sharpeyes.store.db import Database
from sharpeyes.store.models import User

CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
IP = "10.0.0.1"


@pytest.fixture(autouse=True)
def cheap_hashing(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # Production parameters cost ~0.15 s per hash; behaviour is identical.
    monkeypatch.setattr(passwords, "_hasher", CHEAP)
    yield


@pytest.fixture
def svc(database: Database) -> UserService:
    return UserService(database)


async def _hash_of(db: Database, username: str) -> str:
    async with db.session() as s:
        h = await s.scalar(select(User.password_hash).where(User.username == username))
        assert h is not None
        return h


async def test_ensure_admin_creates_once(svc: UserService, database: Database) -> None:
    await svc.ensure_admin("first-password")
    first_hash = await _hash_of(database, "admin")
    assert first_hash.startswith("$argon2id$")
    assert "first-password" not in first_hash
    await svc.ensure_admin("other-password")  # must not reset an existing admin
    assert await _hash_of(database, "admin") == first_hash
    p = await svc.authenticate("admin", "first-password", IP, now=0)
    assert p == Principal(user_id=p.user_id, username="admin", role=Role.ADMIN, region_codes=None)
    await UserService(database).ensure_admin("x")  # admin exists: the argument is unused
    [info] = await svc.list_users()
    assert info.role is Role.ADMIN


async def test_ensure_admin_rejects_short_password(svc: UserService) -> None:
    with pytest.raises(ValueError, match="at least 8"):
        await svc.ensure_admin("short")
    assert await svc.list_users() == []


async def test_authenticate_success_and_scope(svc: UserService) -> None:
    u = await svc.create_user("li.si", "password-1", "viewer", "李四", ["3402", "3501"])
    p = await svc.authenticate("li.si", "password-1", IP, now=0)
    assert p == Principal(u.id, "li.si", Role.VIEWER, ("3402", "3501"))
    assert await svc.get_principal(u.id) == p


async def test_wrong_password_and_unknown_user_look_the_same(
    svc: UserService, monkeypatch: pytest.MonkeyPatch
) -> None:
    await svc.create_user("bob", "password-1", Role.OPERATOR)
    calls: list[str] = []
    real_verify = users.verify_password

    def spy(h: str, pw: str) -> bool:
        calls.append(h)
        return real_verify(h, pw)

    monkeypatch.setattr(users, "verify_password", spy)
    with pytest.raises(AuthError) as wrong:
        await svc.authenticate("bob", "password-2", IP, now=0)
    with pytest.raises(AuthError) as unknown:
        await svc.authenticate("nobody", "password-1", IP, now=0)
    assert wrong.value.reason == unknown.value.reason == "invalid_credentials"
    # The unknown user still paid for an argon2 verify (against a dummy hash).
    assert len(calls) == 2
    assert calls[1].startswith("$argon2id$")


async def test_disabled_user(svc: UserService) -> None:
    u = await svc.create_user("carol", "password-1", Role.VIEWER)
    await svc.update_user(u.id, disabled=True)
    with pytest.raises(AuthError) as exc:
        await svc.authenticate("carol", "password-1", IP, now=0)
    assert exc.value.reason == "disabled"
    assert await svc.get_principal(u.id) is None
    await svc.update_user(u.id, disabled=False)
    assert (await svc.authenticate("carol", "password-1", IP, now=0)).username == "carol"


async def test_username_lockout_and_expiry(svc: UserService) -> None:
    await svc.create_user("dave", "password-1", Role.VIEWER)
    for i in range(5):
        with pytest.raises(AuthError):
            await svc.authenticate("dave", f"guess-{i}xx", f"10.0.0.{i}", now=100 + i)
    # Locked even with the right password and from a fresh IP.
    with pytest.raises(ThrottledError) as exc:
        await svc.authenticate("dave", "password-1", "10.9.9.9", now=110)
    assert exc.value.retry_after == pytest.approx(300 - 6)
    with pytest.raises(ThrottledError):
        await svc.authenticate("DAVE", "password-1", "10.9.9.9", now=110)  # case folded key
    p = await svc.authenticate("dave", "password-1", "10.9.9.9", now=104 + 300)
    assert p.username == "dave"


async def test_success_resets_username_failures(svc: UserService) -> None:
    await svc.create_user("erin", "password-1", Role.VIEWER)
    for _ in range(4):
        with pytest.raises(AuthError):
            await svc.authenticate("erin", "wrong-pass", IP, now=0)
    await svc.authenticate("erin", "password-1", IP, now=1)
    for _ in range(4):
        with pytest.raises(AuthError):
            await svc.authenticate("erin", "wrong-pass", IP, now=2)
    assert (await svc.authenticate("erin", "password-1", IP, now=3)).username == "erin"


async def test_ip_lockout(database: Database) -> None:
    svc = UserService(database, max_failures=5, ip_max_failures=3, lockout_s=60)
    await svc.create_user("frank", "password-1", Role.VIEWER)
    for name in ("u1", "u2", "u3"):  # spraying different usernames from one address
        with pytest.raises(AuthError):
            await svc.authenticate(name, "password-1", "203.0.113.7", now=0)
    with pytest.raises(ThrottledError):
        await svc.authenticate("frank", "password-1", "203.0.113.7", now=1)
    assert (await svc.authenticate("frank", "password-1", "203.0.113.8", now=1)).username
    assert (await svc.authenticate("frank", "password-1", "203.0.113.7", now=61)).username


async def test_create_user_validation(svc: UserService) -> None:
    with pytest.raises(ValueError, match="at least 8"):
        await svc.create_user("gina", "1234567", Role.VIEWER)
    with pytest.raises(ValueError):
        await svc.create_user("gina", "password-1", "superuser")
    with pytest.raises(ValueError):
        await svc.create_user("gi na", "password-1", Role.VIEWER)
    with pytest.raises(ValueError):
        await svc.create_user("", "password-1", Role.VIEWER)
    with pytest.raises(ValueError):
        await svc.create_user("gina", "password-1", Role.VIEWER, region_codes=["34%"])
    with pytest.raises(ValueError):
        await svc.create_user("gina", "password-1", Role.VIEWER, region_codes="3402")  # type: ignore[arg-type]
    assert await svc.list_users() == []
    u = await svc.create_user("gina", "password-1", Role.VIEWER, region_codes=["3402", "3402"])
    assert u.region_codes == ("3402",)
    with pytest.raises(UserExistsError):
        await svc.create_user("gina", "password-2", Role.ADMIN)


async def test_update_user(svc: UserService) -> None:
    admin = await svc.create_user("root", "password-1", Role.ADMIN)
    u = await svc.create_user("hank", "password-1", Role.VIEWER, region_codes=["3402"])
    before = u.updated_at
    u2 = await svc.update_user(
        u.id, role="operator", display_name="Hank", region_codes=None, password="password-2"
    )
    assert (u2.role, u2.display_name, u2.region_codes) == (Role.OPERATOR, "Hank", None)
    assert u2.updated_at > before
    with pytest.raises(AuthError):
        await svc.authenticate("hank", "password-1", IP, now=0)
    p = await svc.authenticate("hank", "password-2", IP, now=0)
    assert p.role is Role.OPERATOR and p.region_codes is None
    with pytest.raises(ValueError, match="cannot update"):
        await svc.update_user(u.id, password_hash="x")
    with pytest.raises(ValueError):
        await svc.update_user(u.id, password="short")
    with pytest.raises(UserExistsError):
        await svc.update_user(u.id, username="root")
    with pytest.raises(UserNotFoundError):
        await svc.update_user(9999, display_name="x")
    assert (await svc.get_user(admin.id)) == admin


async def test_last_admin_is_protected(svc: UserService) -> None:
    a = await svc.create_user("root", "password-1", Role.ADMIN)
    with pytest.raises(ValueError, match="last active admin"):
        await svc.update_user(a.id, role=Role.VIEWER)
    with pytest.raises(ValueError, match="last active admin"):
        await svc.update_user(a.id, disabled=True)
    with pytest.raises(ValueError, match="last active admin"):
        await svc.delete_user(a.id)
    assert (await svc.get_user(a.id)) == a  # nothing changed
    b = await svc.create_user("root2", "password-1", Role.ADMIN)
    await svc.update_user(a.id, role=Role.VIEWER)
    with pytest.raises(ValueError):
        await svc.delete_user(b.id)
    await svc.delete_user(a.id)
    assert [u.username for u in await svc.list_users()] == ["root2"]


async def test_delete_user(svc: UserService) -> None:
    u = await svc.create_user("ivy", "password-1", Role.VIEWER)
    await svc.delete_user(u.id)
    assert await svc.get_principal(u.id) is None
    assert await svc.get_user(u.id) is None
    with pytest.raises(UserNotFoundError):
        await svc.delete_user(u.id)
    with pytest.raises(AuthError):
        await svc.authenticate("ivy", "password-1", IP, now=0)


async def test_login_upgrades_old_hash(svc: UserService, database: Database) -> None:
    await svc.create_user("jane", "password-1", Role.VIEWER)
    old = PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1).hash("password-1")
    async with database.session() as s:
        user = await s.scalar(select(User).where(User.username == "jane"))
        assert user is not None
        user.password_hash = old
        await s.commit()
    await svc.authenticate("jane", "password-1", IP, now=0)
    new = await _hash_of(database, "jane")
    assert new != old
    assert not passwords.needs_rehash(new)
    await svc.authenticate("jane", "password-1", IP, now=0)
