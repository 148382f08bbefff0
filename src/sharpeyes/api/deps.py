"""Request dependencies: the node, the authenticated principal, permission checks.

A caller is either a console/API user (``Authorization: Bearer <token>``) or an
open-API application (the ``X-SE-*`` signature headers, see ``sharing.signing``).
Every non-public route depends on :func:`require` (or :func:`current_principal`);
``tests/integration/test_sharing_route_matrix.py`` fails for a route that does not.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from sharpeyes.live.audit import AuditRecord, audit
from sharpeyes.sharing.principal import Permission, Principal, has_permission
from sharpeyes.sharing.tokens import TokenError, decode_access_token

if TYPE_CHECKING:
    from sharpeyes.devices.service import DeviceService
    from sharpeyes.lifecycle import Lifecycle
    from sharpeyes.messages.service import MessageService
    from sharpeyes.services import Services

_bearer = HTTPBearer(auto_error=False)

# Routes a user whose password is temporary may still call (to change it).
PASSWORD_CHANGE_ROUTES = frozenset({"/api/auth/me", "/api/auth/password", "/api/auth/logout"})


def get_services(request: Request) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]


ServicesDep = Annotated["Services", Depends(get_services)]
# The name the routes were written with; they see the services object, not the Node.
NodeDep = ServicesDep
get_node = get_services


def _service(attr: str) -> Callable[[Request], Any]:
    """A dependency giving one service of the services object (``attr`` names it)."""

    def get(request: Request) -> Any:
        return getattr(request.app.state.services, attr)

    get.__name__ = f"get_{attr}"
    return get


# Routes depend on the service they use, not on the whole node.
DevicesDep = Annotated["DeviceService", Depends(_service("devices"))]
MessagesDep = Annotated["MessageService", Depends(_service("messages"))]
LifecycleDep = Annotated["Lifecycle", Depends(_service("lifecycle"))]


async def principal_from_token(node: Services, token: str) -> Principal:
    try:
        claims = decode_access_token(token, node.jwt_secret, time.time())
    except TokenError as exc:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, f"invalid token: {exc}") from exc
    if node.revoked_tokens.get(str(claims["jti"])):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "session ended (logged out)")
    version = claims.get("ver")
    principal = await node.users.get_principal(
        int(claims["uid"]), token_version=version if isinstance(version, int) else None
    )
    if principal is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "user no longer exists, is disabled, or session revoked"
        )
    return principal


async def _app_principal(request: Request, node: Services) -> Principal:
    from sharpeyes.sharing.apps import SignatureError

    body = await request.body()
    try:
        principal = await node.apps.authenticate(
            request.method,
            request.url.path,
            list(request.query_params.multi_items()),
            {k.lower(): v for k, v in request.headers.items()},
            body,
            time.time(),
        )
    except SignatureError as exc:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            f"signature refused: {exc.reason.value}",
            headers={"X-SE-Error": exc.reason.value},
        ) from exc
    audit(
        node.bus,
        AuditRecord(
            action="app.call",
            user_id=0,
            username=principal.username,
            target_type="route",
            target_id=f"{request.method} {request.url.path}",
            device_id="",
            client_ip=request.client.host if request.client else None,
            org_id=principal.org_id,
            actor=principal.actor,
            detail={"query": str(request.query_params)},
        ),
    )
    return principal


async def current_principal(
    request: Request,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    node = get_node(request)
    if creds is None and "x-se-key" in request.headers:
        return await _app_principal(request, node)
    if creds is None or creds.scheme.lower() != "bearer":
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "bearer token required",
            headers={"WWW-Authenticate": "Bearer"},
        )
    principal = await principal_from_token(node, creds.credentials)
    if principal.must_change_password and request.url.path not in PASSWORD_CHANGE_ROUTES:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "password change required (POST /api/auth/password)"
        )
    return principal


def require(perm: Permission) -> Callable[..., Coroutine[Any, Any, Principal]]:
    async def check(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if not has_permission(principal, perm):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"permission {perm.value} required")
        return principal

    check.permission = perm  # type: ignore[attr-defined]  (read by the route-matrix test)
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
Requester = Annotated[Principal, Depends(require(Permission.SHARING_REQUEST))]
Reviewer = Annotated[Principal, Depends(require(Permission.SHARING_REVIEW))]
SharingAdmin = Annotated[Principal, Depends(require(Permission.SHARING_ADMIN))]
AppsAdmin = Annotated[Principal, Depends(require(Permission.APPS_ADMIN))]
Auditor = Annotated[Principal, Depends(require(Permission.AUDIT_READ))]
SharingReader = Annotated[Principal, Depends(require(Permission.SHARING_READ))]
