"""Login and the caller's own identity."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status

from sharpeyes.api.deps import NodeDep, current_principal
from sharpeyes.api.schemas import LoginIn, LoginOut, UserOut
from sharpeyes.sharing.principal import Principal
from sharpeyes.sharing.tokens import issue_access_token
from sharpeyes.sharing.users import AuthError, ThrottledError

router = APIRouter(prefix="/api/auth", tags=["auth"])


@router.post("/login", response_model=LoginOut)
async def login(body: LoginIn, request: Request, node: NodeDep) -> LoginOut:
    client_ip = request.client.host if request.client else "unknown"
    try:
        principal = await node.users.authenticate(
            body.username, body.password, client_ip, time.time()
        )
    except ThrottledError as exc:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            "too many failed logins; try again later",
            headers={"Retry-After": str(int(exc.retry_after) + 1)},
        ) from exc
    except AuthError as exc:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong username or password") from exc
    ttl = node.settings.auth.token_ttl_s
    token = issue_access_token(principal, node.jwt_secret, ttl, time.time())
    user = await node.users.get_user(principal.user_id)
    return LoginOut(access_token=token, expires_in=ttl, user=UserOut.model_validate(user))


@router.get("/me", response_model=UserOut)
async def me(principal: Annotated[Principal, Depends(current_principal)], node: NodeDep) -> UserOut:
    user = await node.users.get_user(principal.user_id)
    return UserOut.model_validate(user)
