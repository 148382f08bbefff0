"""Open API: signed requests work; each rejection reason is given; a replay is
refused; an app sees only its organisation's grants (with the api right), narrowed
by its own rights and channel list; webhooks are signed, retried and logged."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
from examples.sharpeyes_client import SignedClient, signed_headers

from sharpeyes.node import Node
from sharpeyes.sharing.signing import canonical_string, sign
from sharpeyes.store.models import Channel, Device

from .conftest import NodeFactory, login
from .devices_helpers import eventually
from .sharing_helpers import DEPT_ORG, PASSWORD, approve, request_share, user

DOC_SECRET = "s3cr3t-example-secret"


def test_worked_example_of_docs_api_md() -> None:
    """The numbers printed in docs/api.md are what the node computes."""
    text = canonical_string(
        "GET",
        "/api/channels",
        [("status", "online"), ("limit", "10")],
        "1767225600",
        "4f1c2a9be07d4d3e",
        b"",
    )
    assert text == (
        "GET\n/api/channels\nlimit=10&status=online\n1767225600\n4f1c2a9be07d4d3e\n"
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    assert sign(DOC_SECRET, text) == "0GqPwizLJ65CcCRxHrgDkxpZK+6fhw/IcRJIUElsd9s="


async def _seed(node: Node) -> tuple[int, int]:
    async with node.db.session() as s:
        s.add(Device(id="34020000001320000901", name="d", online=True))
        await s.flush()
        a = Channel(
            device_id="34020000001320000901", channel_id="34020000001310000901", civil_code="340200"
        )
        b = Channel(
            device_id="34020000001320000901", channel_id="34020000001310000902", civil_code="340200"
        )
        s.add_all([a, b])
        await s.commit()
        return a.id, b.id


async def _app(admin: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    r = await admin.post("/api/apps", json={"name": "gis", "rights": ["live"], **body})
    assert r.status_code == 201, r.text
    out = r.json()
    assert set(out) == {"id", "app_key", "app_secret"}
    return out


async def test_signed_requests_rejections_replay_and_scope(make_node: NodeFactory) -> None:
    node = await make_node()
    admin = await login(node)
    a, b = await _seed(node)
    dept = await user(node, "dept", "department", org_id=DEPT_ORG)
    police = await user(node, "pol", "reviewer_police")
    data = await user(node, "dat", "reviewer_data")
    base = f"http://127.0.0.1:{node.http_port}"
    raw = httpx.AsyncClient(base_url=base, timeout=30)
    try:
        # Grants of the organisation: A with the api right, B without.
        await approve(police, data, await request_share(dept, [a], ["live", "api"]))
        await approve(police, data, await request_share(dept, [b], ["live"]))

        app = await _app(admin, org_id=DEPT_ORG)
        key, secret = app["app_key"], app["app_secret"]
        async with SignedClient(base, key, secret) as c:
            r = await c.get("/api/channels", limit="10")
            assert r.status_code == 200, r.text
            assert [ch["id"] for ch in r.json()["items"]] == [a]  # B lacks the api right
            assert (await c.get(f"/api/channels/{b}")).status_code == 404
            # Its rights narrow further: PTZ is not an app right here.
            r = await c.post(f"/api/channels/{a}/ptz", {"action": "left"})
            assert r.status_code == 403
            # Not an admin route.
            assert (await c.get("/api/users")).status_code == 403

        async def call(headers: dict[str, str], path: str = "/api/channels") -> httpx.Response:
            return await raw.get(path, headers=headers)

        def hdrs(**kw: Any) -> dict[str, str]:
            return signed_headers(key, secret, "GET", "/api/channels", [], b"", **kw)

        # Each reason.
        h = hdrs()
        h["X-SE-Key"] = "se_unknown"
        r = await call(h)
        assert r.status_code == 401 and "unknown_key" in r.json()["detail"]
        h = hdrs()
        h["X-SE-Signature"] = h["X-SE-Signature"][:-4] + "AAA="
        r = await call(h)
        assert r.status_code == 401 and "bad_signature" in r.json()["detail"]
        r = await call(signed_headers(key, "wrong-secret", "GET", "/api/channels", [], b""))
        assert r.status_code == 401 and "bad_signature" in r.json()["detail"]
        for skew in (-320, 320):
            r = await call(hdrs(now=time.time() + skew))
            assert r.status_code == 401 and "timestamp_out_of_window" in r.json()["detail"]
        r = await call(hdrs(nonce="short"))
        assert r.status_code == 401 and "bad_nonce" in r.json()["detail"]
        # Signed for another path: refused.
        r = await call(hdrs(), "/api/devices")
        assert r.status_code == 401 and "bad_signature" in r.json()["detail"]
        # Replay.
        h = hdrs()
        assert (await call(h)).status_code == 200
        r = await call(h)
        assert r.status_code == 401 and "nonce_reused" in r.json()["detail"]
        assert r.headers["X-SE-Error"] == "nonce_reused"

        # An app limited to channel B sees nothing (B has no api right for its org).
        narrow = await _app(admin, org_id=DEPT_ORG, channels=[b])
        async with SignedClient(base, narrow["app_key"], narrow["app_secret"]) as c:
            assert (await c.get("/api/channels")).json()["total"] == 0
        # An admin organisation's app sees every channel.
        await node.users.create_user("boss", PASSWORD, "admin", org_id=1)
        wide = await _app(admin, org_id=1)
        async with SignedClient(base, wide["app_key"], wide["app_secret"]) as c:
            assert {ch["id"] for ch in (await c.get("/api/channels")).json()["items"]} == {a, b}
        # Disabled app: refused; rotated secret: the old one no longer works.
        assert (await admin.patch(f"/api/apps/{wide['id']}", json={"disabled": True})).is_success
        async with SignedClient(base, wide["app_key"], wide["app_secret"]) as c:
            r = await c.get("/api/channels")
            assert r.status_code == 401 and "app_disabled" in r.json()["detail"]
        rotated = (await admin.post(f"/api/apps/{app['id']}/rotate")).json()
        async with SignedClient(base, key, secret) as c:
            assert (await c.get("/api/channels")).status_code == 401
        async with SignedClient(base, key, rotated["app_secret"]) as c:
            assert (await c.get("/api/channels")).status_code == 200
        # The secret is stored encrypted, never in clear.
        async with node.db.session() as s:
            from sharpeyes.sharing.models import App

            stored = await s.get(App, app["id"])
            assert stored is not None and rotated["app_secret"] not in stored.secret_enc
        listed = (await admin.get("/api/apps")).json()["items"]
        assert all("app_secret" not in x and "secret_enc" not in x for x in listed)
    finally:
        for c in (raw, admin, dept, police, data):
            await c.aclose()


async def test_webhooks_are_signed_retried_and_logged(make_node: NodeFactory) -> None:
    node = await make_node()
    node.apps.retry_delays = (0.05, 0.05, 0.05)
    admin = await login(node)
    got: list[tuple[dict[str, str], bytes]] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        headers = {
            k.lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)
        }
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        got.append((headers, body))
        status = b"500 Oops" if len(got) == 1 else b"200 OK"  # first attempt fails
        writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        app = await _app(admin, org_id=1)
        await node.users.create_user("boss", PASSWORD, "admin", org_id=1)
        r = await admin.post(
            f"/api/apps/{app['id']}/webhooks",
            json={"url": f"http://127.0.0.1:{port}/hook", "events": ["device.online"]},
        )
        assert r.status_code == 201, r.text
        bad = await admin.post(
            f"/api/apps/{app['id']}/webhooks",
            json={"url": "ftp://x/y", "events": ["device.online"]},
        )
        assert bad.status_code == 400
        await asyncio.sleep(0.2)  # the dispatcher is subscribed
        node.bus.publish("device.online", device_id="34020000001320000001", reason="register")
        await eventually(lambda: len(got) >= 2, 15)
        headers, body = got[-1]
        assert json.loads(body)["event"] == "device.online"
        canonical = canonical_string(
            "POST", "/hook", [], headers["x-se-timestamp"], headers["x-se-nonce"], body
        )
        assert headers["x-se-signature"] == sign(app["app_secret"], canonical)
        assert headers["x-se-key"] == app["app_key"]

        async def delivered() -> bool:
            r = await admin.get(f"/api/apps/{app['id']}/deliveries")
            items = r.json()["items"]
            return bool(items) and items[0]["status"] == "delivered"

        await eventually(delivered, 10)
        (d,) = (await admin.get(f"/api/apps/{app['id']}/deliveries")).json()["items"]
        assert d["attempts"] == 2 and d["last_code"] == 200
    finally:
        server.close()
        await admin.aclose()
