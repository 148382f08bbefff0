"""Login security: TOTP second factor, forced change of a temporary password (not
for the configured admin), sessions revoked by logout-everywhere, password change
and disable; password policy."""

from __future__ import annotations

import time

import pyotp

from .conftest import ADMIN_PASSWORD, NodeFactory, login
from .sharing_helpers import PASSWORD


async def test_totp_second_factor(make_node: NodeFactory) -> None:
    node = await make_node()
    api = await login(node)
    try:
        setup = (await api.post("/api/auth/totp/setup")).json()
        assert setup["otpauth_uri"].startswith("otpauth://totp/")
        totp = pyotp.TOTP(setup["secret"])
        bad = await api.post(
            "/api/auth/totp/enable", json={"secret": setup["secret"], "code": "000000"}
        )
        assert bad.status_code == 400
        r = await api.post(
            "/api/auth/totp/enable", json={"secret": setup["secret"], "code": totp.now()}
        )
        assert r.status_code == 204
        creds = {"username": "admin", "password": ADMIN_PASSWORD}
        r = await api.post("/api/auth/login", json=creds)
        assert r.status_code == 401 and r.json()["detail"] == "otp_required"
        r = await api.post("/api/auth/login", json={**creds, "otp": "123456"})
        assert r.status_code == 401 and r.json()["detail"] in ("invalid_otp",)
        r = await api.post("/api/auth/login", json={**creds, "otp": totp.now()})
        assert r.status_code == 200
        assert r.json()["user"]["totp_enabled"] is True
        # The seed is stored sealed, not in clear.
        async with node.db.session() as s:
            from sharpeyes.store.models import User

            u = await s.get(User, 1)
            assert u is not None and u.totp_secret and setup["secret"] not in u.totp_secret
    finally:
        await api.aclose()


async def test_temporary_password_must_be_changed_but_config_admin_not(
    make_node: NodeFactory,
) -> None:
    node = await make_node()
    admin = await login(node)
    try:
        assert (await admin.get("/api/devices")).status_code == 200  # configured admin: no force
        r = await admin.post(
            "/api/users",
            json={
                "username": "temp",
                "password": PASSWORD,
                "role": "viewer",
                "temporary_password": True,
            },
        )
        assert r.status_code == 201 and r.json()["must_change_password"] is True
        temp = await login(node, "temp", PASSWORD)
        r = await temp.get("/api/devices")
        assert r.status_code == 403 and "password change required" in r.json()["detail"]
        assert (await temp.get("/api/auth/me")).json()["must_change_password"] is True
        weak = await temp.post(
            "/api/auth/password", json={"old_password": PASSWORD, "new_password": "temptemp"}
        )
        assert weak.status_code == 400  # one character class only
        r = await temp.post(
            "/api/auth/password", json={"old_password": PASSWORD, "new_password": "New-pass-22"}
        )
        assert r.status_code == 204
        assert (await temp.get("/api/devices")).status_code == 401  # that session ended too
        fresh = await login(node, "temp", "New-pass-22")
        assert (await fresh.get("/api/devices")).status_code == 200
        await temp.aclose()
        await fresh.aclose()
    finally:
        await admin.aclose()


async def test_sessions_revoked_by_logout_all_and_disable(make_node: NodeFactory) -> None:
    node = await make_node()
    admin = await login(node)
    try:
        info = await node.users.create_user("op", PASSWORD, "operator")
        one, two = await login(node, "op", PASSWORD), await login(node, "op", PASSWORD)
        assert (await one.post("/api/auth/logout-all")).status_code == 204
        assert (await one.get("/api/devices")).status_code == 401
        assert (await two.get("/api/devices")).status_code == 401
        three = await login(node, "op", PASSWORD)
        assert (await three.get("/api/devices")).status_code == 200
        r = await admin.patch(f"/api/users/{info.id}", json={"disabled": True})
        assert r.status_code == 200
        assert (await three.get("/api/devices")).status_code == 401
        r = await admin.patch(f"/api/users/{info.id}", json={"disabled": False})
        assert (await three.get("/api/devices")).status_code == 401  # still revoked
        for c in (one, two, three):
            await c.aclose()
        # Policy: not the username, at least two classes.
        for pw in ("longusername1", "onlyletters"):
            r = await admin.post(
                "/api/users", json={"username": "longusername1", "password": pw, "role": "viewer"}
            )
            assert r.status_code == 400, pw
        assert time.time()
    finally:
        await admin.aclose()


async def test_me_reports_the_role_permissions_the_console_reads(make_node: NodeFactory) -> None:
    """The console hides and shows by ``permissions`` from /me; they are sharing's table."""
    from sharpeyes.sharing.principal import ROLE_PERMISSIONS, Role

    node = await make_node()
    admin = await login(node)
    try:
        me = (await admin.get("/api/auth/me")).json()
        assert me["permissions"] == sorted(p.value for p in ROLE_PERMISSIONS[Role.ADMIN])
        r = await admin.post(
            "/api/users", json={"username": "look", "password": PASSWORD, "role": "viewer"}
        )
        assert r.status_code == 201
        viewer = await login(node, "look", PASSWORD)
        try:
            perms = (await viewer.get("/api/auth/me")).json()["permissions"]
            assert perms == ["devices.read", "ledger.read", "live.view"]
            assert "users.admin" not in perms and "playback" not in perms
        finally:
            await viewer.aclose()
    finally:
        await admin.aclose()
