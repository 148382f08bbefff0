"""Request dependencies: the node, the authenticated principal, permission checks."""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from sharpeyes.sharing.principal import Permission, Principal, has_permission
from sharpeyes.sharing.tokens import TokenError, decode_access_token

if TYPE_CHECKING:
    from sharpeyes.node import Node

_bearer = HTTPBearer(auto_error=False)


def get_node(request: Request) -> Node:
    return request.app.state.node  # type: ignore[no-any-return]


NodeDep = Annotated["Node", Depends(get_node)]


async def principal_from_token(node: Node, token: str) -> Principal:
    try:
        claims = decode_access_token(token, node.jwt_secret, time.time())
    except TokenError as exc:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, f"invalid token: {exc}") from exc
    principal = await node.users.get_principal(int(claims["uid"]))
    if principal is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "user no longer exists or is disabled")
    return principal


async def current_principal(
    request: Request,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if creds is None or creds.scheme.lower() != "bearer":
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "bearer token required",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return await principal_from_token(get_node(request), creds.credentials)


def require(perm: Permission) -> Callable[..., Coroutine[Any, Any, Principal]]:
    async def check(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if not has_permission(principal, perm):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"permission {perm.value} required")
        return principal

    return check


Reader = Annotated[Principal, Depends(require(Permission.DEVICES_READ))]
Writer = Annotated[Principal, Depends(require(Permission.DEVICES_WRITE))]
PtzUser = Annotated[Principal, Depends(require(Permission.PTZ))]
AlarmHandler = Annotated[Principal, Depends(require(Permission.ALARMS_ACK))]
Admin = Annotated[Principal, Depends(require(Permission.USERS_ADMIN))]
LedgerReader = Annotated[Principal, Depends(require(Permission.LEDGER_READ))]
LedgerWriter = Annotated[Principal, Depends(require(Permission.LEDGER_WRITE))]
LedgerImporter = Annotated[Principal, Depends(require(Permission.LEDGER_IMPORT))]
AnyUser = Annotated[Principal, Depends(current_principal)]
