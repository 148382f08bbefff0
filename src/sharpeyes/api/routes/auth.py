"""Login (with optional TOTP), the caller's own identity and permissions, password
change, logout (this session / everywhere) and TOTP enrolment. Every login,
success or failure, and every logout lands in the audit trail."""

from __future__ import annotations

import time
from typing import Annotated, Any

import pyotp
from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from sharpeyes.api.deps import NodeDep, current_principal
from sharpeyes.api.schemas import LoginIn, LoginOut, UserOut
from sharpeyes.audit.service import Actor, record
from sharpeyes.sharing.principal import (
    ROLE_PERMISSIONS,
    Principal,
    Right,
    role_rights,
)
from sharpeyes.sharing.tokens import decode_access_token, issue_access_token
from sharpeyes.sharing.users import AuthError, ThrottledError

router = APIRouter(prefix="/api/auth", tags=["auth"])
Me = Annotated[Principal, Depends(current_principal)]
_bearer = HTTPBearer(auto_error=False)


class PasswordIn(BaseModel):
    old_password: str = Field(max_length=1024)
    new_password: str = Field(min_length=8, max_length=1024)


class TotpEnableIn(BaseModel):
    secret: str = Field(min_length=16, max_length=64)
    code: str = Field(min_length=6, max_length=8)


def _ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def _audit(
    node: Any, actor: Actor, action: str, outcome: str, ip: str, **detail: Any
) -> None:
    async with node.db.session() as s:
        await record(
            s, actor, action, "user", actor.actor, outcome=outcome, client_ip=ip, detail=detail
        )
        await s.commit()


@router.post("/login", response_model=LoginOut)
async def login(body: LoginIn, request: Request, node: NodeDep) -> LoginOut:
    client_ip = _ip(request)
    anonymous = Actor("anonymous", body.username[:128])
    try:
        principal = await node.users.authenticate(
            body.username, body.password, client_ip, time.time(), otp=body.otp
        )
    except ThrottledError as exc:
        await _audit(node, anonymous, "auth.login", "denied", client_ip, reason="locked_out")
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            "too many failed logins; try again later",
            headers={"Retry-After": str(int(exc.retry_after) + 1)},
        ) from exc
    except AuthError as exc:
        await _audit(node, anonymous, "auth.login", "denied", client_ip, reason=exc.reason)
        if exc.reason in ("otp_required", "invalid_otp"):
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED, exc.reason, headers={"X-SE-OTP": "required"}
            ) from exc
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong username or password") from exc
    ttl = node.settings.auth.token_ttl_s
    user = await node.users.get_user(principal.user_id)
    token = issue_access_token(
        principal, node.jwt_secret, ttl, time.time(), version=user.token_version
    )
    await _audit(node, Actor.of(principal), "auth.login", "ok", client_ip)
    return LoginOut(access_token=token, expires_in=ttl, user=UserOut.model_validate(user))


def effective_permissions(principal: Principal) -> dict[str, Any]:
    """What /me reports: route permissions, rights in the own scope, granted channels."""
    return {
        "permissions": sorted(p.value for p in ROLE_PERMISSIONS.get(principal.role, ())),
        "rights": sorted(r.value for r in role_rights(principal)),
        "region_codes": None if principal.base_regions is None else list(principal.base_regions),
        "granted_channels": {
            str(pk): sorted(r.value for r in rights if isinstance(r, Right))
            for pk, rights in sorted(principal.granted.items())
        },
    }


@router.get("/me")
async def me(principal: Me, node: NodeDep) -> dict[str, Any]:
    """The caller: user fields, organisation, role and effective permissions."""
    user = await node.users.get_user(principal.user_id)
    out = UserOut.model_validate(user).model_dump()
    org = await node.sharing.org_name(principal.org_id)
    out["organisation"] = (
        None if principal.org_id is None else {"id": principal.org_id, "name": org}
    )
    out.update(effective_permissions(principal))
    return out


@router.post("/password", status_code=status.HTTP_204_NO_CONTENT)
async def change_password(body: PasswordIn, request: Request, principal: Me, node: NodeDep) -> None:
    """Own password change; ends every session, including this one (log in again)."""
    try:
        await node.users.change_own_password(
            principal.user_id, body.old_password, body.new_password, actor=Actor.of(principal)
        )
    except AuthError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "old password is wrong") from exc


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(
    request: Request,
    principal: Me,
    node: NodeDep,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """End this session: its token is refused from now on (until it would expire)."""
    if creds is not None:
        claims = decode_access_token(creds.credentials, node.jwt_secret, time.time())
        node.revoked_tokens[str(claims["jti"])] = float(claims["exp"])
    await _audit(node, Actor.of(principal), "auth.logout", "ok", _ip(request))


@router.post("/logout-all", status_code=status.HTTP_204_NO_CONTENT)
async def logout_all(principal: Me, node: NodeDep) -> None:
    """End every session of the caller on every node (session version bump)."""
    await node.users.revoke_sessions(principal.user_id, actor=Actor.of(principal))


@router.post("/totp/setup")
async def totp_setup(principal: Me) -> dict[str, str]:
    """A fresh secret and its otpauth:// URI for an authenticator app; not active yet."""
    secret = pyotp.random_base32()
    uri = pyotp.TOTP(secret).provisioning_uri(name=principal.username, issuer_name="sharpeyes")
    return {"secret": secret, "otpauth_uri": uri}


@router.post("/totp/enable", status_code=status.HTTP_204_NO_CONTENT)
async def totp_enable(body: TotpEnableIn, principal: Me, node: NodeDep) -> None:
    await node.users.enable_totp(
        principal.user_id, body.secret, body.code, time.time(), actor=Actor.of(principal)
    )


@router.delete("/totp", status_code=status.HTTP_204_NO_CONTENT)
async def totp_disable(principal: Me, node: NodeDep) -> None:
    await node.users.disable_totp(principal.user_id, actor=Actor.of(principal))
