"""Route × role authorisation matrix, discovered from the OpenAPI document.

* Every route must be either in the reviewed PUBLIC / TOKEN_IN_URL lists, or depend
  on ``api.deps.require(<Permission>)`` (or on ``current_principal`` when listed in
  SELF_SERVICE). A route added later without a check fails here.
* Without credentials every non-public route answers 401.
* For every role: a route needing a permission the role lacks answers 403; one it
  has is not refused for the role.
* Scope: users whose scope excludes a seeded device/channel (a region-limited
  operator and viewer, a department without grants, reviewers, an auditor) never
  get it in any GET response, and every route addressing it answers 4xx.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute

from sharpeyes.api.app import create_app
from sharpeyes.api.deps import current_principal
from sharpeyes.node import Node
from sharpeyes.sharing.principal import ROLE_PERMISSIONS, Permission, Role
from sharpeyes.store.models import Channel, Device

from .conftest import ADMIN_PASSWORD, NodeFactory

# Probes an orchestrator calls without credentials (they reveal no data).
PUBLIC = frozenset(
    {
        ("GET", "/api/health"),
        ("GET", "/api/health/live"),
        ("GET", "/api/health/ready"),
        ("POST", "/api/auth/login"),
    }
)
# Routes with a credential of their own instead of a user: the signed stream token in
# ?token= (opened by players from a URL), the Prometheus scrape token.
TOKEN_IN_URL = frozenset(
    {
        ("GET", "/metrics"),
        ("GET", "/api/streams/{session_id}/hls/index.m3u8"),
        ("GET", "/api/streams/{session_id}/hls/init.mp4"),
        ("GET", "/api/streams/{session_id}/hls/{name}"),
    }
)
# Any authenticated caller, about themselves only (or harmless node facts).
SELF_SERVICE = frozenset(
    {
        ("GET", "/api/auth/me"),
        ("POST", "/api/auth/password"),
        ("POST", "/api/auth/logout"),
        ("POST", "/api/auth/logout-all"),
        ("POST", "/api/auth/totp/setup"),
        ("POST", "/api/auth/totp/enable"),
        ("DELETE", "/api/auth/totp"),
        ("GET", "/api/ui/config"),
        ("GET", "/api/jobs"),  # the caller's own jobs (admins: all)
        ("GET", "/api/jobs/{job_id}"),
    }
)
# Calling these would end the matrix's own session.
SESSION_ENDING = frozenset(
    {("POST", "/api/auth/logout"), ("POST", "/api/auth/logout-all"), ("POST", "/api/auth/password")}
)

# The shareable catalogue is, by design, what a requester may ask for before any
# grant: it names channels (id, code, name, civil code, position) but never their
# device, video or addresses — so there the seed's device ID must not appear.
CATALOGUE = frozenset({("GET", "/api/sharing/catalogue")})

DEVICE = "34020000001320000777"
CHANNEL = "34020000001310000777"
PASSWORD = "Matrix-pass-1"


def _routes(node: Node) -> dict[tuple[str, str], APIRoute]:
    app = create_app(node)
    spec = app.openapi()
    by_key: dict[tuple[str, str], APIRoute] = {}
    stack: list[Any] = list(app.routes)
    while stack:
        r = stack.pop()
        inner = getattr(r, "original_router", None)  # FastAPI >= 0.16x wraps included routers
        if inner is not None:
            stack.extend(inner.routes)
        elif isinstance(r, APIRoute):
            for m in r.methods:
                by_key[(m, r.path)] = r
    out = {}
    for path, ops in spec["paths"].items():
        for method in ops:
            key = (method.upper(), path)
            out[key] = by_key[key]
    return out


def _guards(route: APIRoute) -> tuple[set[Permission], bool]:
    """Permissions required through ``require`` and whether ``current_principal`` is used."""
    perms: set[Permission] = set()
    authed = False
    stack = [route.dependant]
    while stack:
        dep = stack.pop()
        call = dep.call
        perm = getattr(call, "permission", None)
        if isinstance(perm, Permission):
            perms.add(perm)
        if call is current_principal:
            authed = True
        stack.extend(dep.dependencies)
    return perms, authed


def _fill(path: str, ids: dict[str, Any]) -> str:
    def sub(m: re.Match[str]) -> str:
        return str(ids.get(m.group(1), "1"))

    return re.sub(r"\{(\w+)\}", sub, path)


@pytest.fixture
async def matrix_node(make_node: NodeFactory) -> Node:
    return await make_node()


async def test_every_route_is_guarded(matrix_node: Node) -> None:
    routes = _routes(matrix_node)
    assert len(routes) > 50
    unguarded = []
    for key, route in sorted(routes.items()):
        if key in PUBLIC or key in TOKEN_IN_URL:
            continue
        perms, authed = _guards(route)
        if not authed:
            unguarded.append(key)
        elif not perms and key not in SELF_SERVICE:
            unguarded.append(key)  # authenticated, but no permission check: review it
    assert unguarded == [], f"routes without require(Permission): {unguarded}"
    stale = (PUBLIC | TOKEN_IN_URL | SELF_SERVICE) - set(routes)
    assert stale == set(), f"reviewed lists name routes that no longer exist: {stale}"


async def _seed(node: Node) -> int:
    async with node.db.session() as s:
        s.add(Device(id=DEVICE, name="seeded", online=True))
        await s.flush()
        ch = Channel(device_id=DEVICE, channel_id=CHANNEL, name="seeded-cam", civil_code="340200")
        s.add(ch)
        await s.commit()
        return ch.id


def _client(node: Node, token: str | None = None) -> httpx.AsyncClient:
    """In-process (ASGI) client: the same app and checks, without socket overhead."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    transport = httpx.ASGITransport(app=create_app(node), client=("127.0.0.1", 5555))
    return httpx.AsyncClient(transport=transport, base_url="http://node", headers=headers)


async def _clients(node: Node) -> dict[str, httpx.AsyncClient]:
    users = {"admin": ("admin", ADMIN_PASSWORD)}
    for role in Role:
        if role == Role.ADMIN:
            continue
        await node.users.create_user(
            f"m_{role.value}", PASSWORD, role, region_codes=["35"], org_id=42
        )
        users[role.value] = (f"m_{role.value}", PASSWORD)
    out = {}
    for role, (name, password) in users.items():
        async with _client(node) as c:
            r = await c.post("/api/auth/login", json={"username": name, "password": password})
            r.raise_for_status()
        out[role] = _client(node, r.json()["access_token"])
    return out


async def test_route_role_matrix_and_scope(matrix_node: Node) -> None:
    node = matrix_node
    routes = _routes(node)
    pk = await _seed(node)
    ids = {"channel_pk": pk, "device_id": DEVICE, "session_id": "nosuch", "name": "seg1.m4s"}
    clients = await _clients(node)
    admin = clients["admin"]
    # Region-limited or grant-only users: the seed (region 3402) is outside their scope.
    scoped = {k: v for k, v in clients.items() if k != "admin"}
    anon = _client(node)
    failures: list[str] = []
    try:
        # The admin does see the seeded objects: the leak probe below can find them.
        r = await admin.get("/api/channels", params={"q": CHANNEL})
        assert r.json()["total"] == 1
        assert DEVICE in (await admin.get(f"/api/devices/{DEVICE}")).text
        for (method, path), route in sorted(routes.items()):
            if (method, path) in PUBLIC:
                continue
            url = _fill(path, ids)
            body: dict[str, Any] = {"json": {}} if method in ("POST", "PATCH", "PUT") else {}
            r = await anon.request(method, url, **body)
            # own-credential routes may also refuse with 403 (e.g. /metrics with no
            # scrape token configured on this port)
            refused = {401, 403} if (method, path) in TOKEN_IN_URL else {401}
            if r.status_code not in refused:
                failures.append(f"anonymous {method} {path} -> {r.status_code}")
            if (method, path) in TOKEN_IN_URL or (method, path) in SESSION_ENDING:
                continue
            perms, _ = _guards(route)
            addresses_seed = "{channel_pk}" in path or "{device_id}" in path
            for role, client in clients.items():
                allowed = all(p in ROLE_PERMISSIONS[Role(role)] for p in perms)
                if not allowed:
                    r = await client.request(method, url, **body)
                    if r.status_code != 403:
                        failures.append(f"{role} {method} {path} -> {r.status_code} (want 403)")
                    continue
                if method == "GET":
                    r = await client.get(url)
                    if r.status_code in (401, 403):
                        failures.append(f"{role} GET {path} -> {r.status_code} (allowed)")
                    if role in scoped and (method, path) in CATALOGUE:
                        if r.is_success and (DEVICE in r.text or "ip_address" in r.text):
                            failures.append(f"{role} GET {path} shows device internals")
                    elif role in scoped:
                        if r.is_success and (DEVICE in r.text or CHANNEL in r.text):
                            failures.append(f"{role} GET {path} shows the out-of-scope seed")
                        if addresses_seed and r.is_success:
                            failures.append(f"{role} GET {path} -> {r.status_code} (out of scope)")
                elif addresses_seed and role in scoped:
                    r = await client.request(method, url, **body)
                    if r.is_success or r.status_code in (409, 502, 503, 504):
                        failures.append(f"{role} {method} {path} -> {r.status_code} (out of scope)")
        # The seed is untouched by all those attempts.
        assert (await admin.get(f"/api/devices/{DEVICE}")).status_code == 200
    finally:
        await anon.aclose()
        for c in clients.values():
            await c.aclose()
    assert failures == [], "\n".join(failures)
