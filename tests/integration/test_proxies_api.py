"""Proxy API contract, and a proxy's channel in channels, devices, map and ledger."""

from __future__ import annotations

import httpx
import pytest

from sharpeyes.node import Node

from .conftest import ADMIN_PASSWORD, NodeFactory, login
from .devices_helpers import eventually

pytestmark = pytest.mark.db


async def test_proxy_in_channels_map_and_ledger(node: Node, api: httpx.AsyncClient) -> None:
    body = {
        "name": "幸福小区东门",
        "url": "rtsp://192.0.2.10:554/Streaming/Channels/101",
        "username": "admin",
        "password": "pw",
        "transport": "udp",
        "civil_code": "340202",
        "org": "幸福小区物业",
        "longitude": 118.376512,
        "latitude": 31.326034,
    }
    r = await api.post("/api/proxies", json=body)
    assert r.status_code == 201, r.text
    p = r.json()
    assert {"id", "gb_id", "channel", "state", "last_error"} <= set(p)
    gb = p["gb_id"]
    # under the node's civil code (proxies.civil_code, default sip.domain[:8])
    assert gb[:8] == "34020000" and gb[10:13] == "132" and gb[13] == "8"
    assert p["state"] == "idle" and p["transport"] == "udp" and p["on_demand"] is True

    ch = (await api.get(f"/api/channels/{p['channel']}")).json()
    assert ch["channel_id"] == gb and ch["device_id"] == gb
    assert ch["name"] == "幸福小区东门" and ch["civil_code"] == "340202"
    assert ch["longitude"] == pytest.approx(118.376512) and ch["owner"] == "幸福小区物业"
    assert ch["online"] is True
    listed = (await api.get("/api/channels", params={"civil_code": "340202"})).json()
    assert [c["id"] for c in listed["items"]] == [p["channel"]]
    dev = (await api.get(f"/api/devices/{gb}")).json()
    assert dev["id"] == gb

    rec = (await api.get("/api/ledger/cameras", params={"q": gb})).json()
    assert rec["total"] == 1
    camera = rec["items"][0]
    assert camera["code"] == gb and camera["network"] == "social" and camera["social"] is True
    assert camera["name"] == "幸福小区东门"

    pts = (
        await api.get("/api/map/points", params={"bbox": "118.0,31.0,119.0,32.0", "zoom": 18})
    ).json()
    mine = [i for i in pts["items"] if i.get("code") == gb]
    assert len(mine) == 1, pts
    assert mine[0]["channel_pk"] == p["channel"] and mine[0]["online"] is True
    assert mine[0]["lon"] == pytest.approx(118.376512)

    # list / get / patch / delete
    assert [x["id"] for x in (await api.get("/api/proxies")).json()["items"]] == [p["id"]]
    r = await api.patch(
        f"/api/proxies/{p['id']}", json={"name": "幸福小区东门2", "on_demand": False}
    )
    assert r.status_code == 200 and r.json()["name"] == "幸福小区东门2"
    assert r.json()["on_demand"] is False
    ch = (await api.get(f"/api/channels/{p['channel']}")).json()
    assert ch["name"] == "幸福小区东门2"
    r = await api.patch(f"/api/proxies/{p['id']}", json={"gb_id": "34020200001328999999"})
    assert r.status_code == 400
    r = await api.patch(f"/api/proxies/{p['id']}", json={"url": None})
    assert r.status_code == 400 and "url" in r.json()["detail"]
    r = await api.patch(f"/api/proxies/{p['id']}", json={"url": "ftp://x/y"})
    assert r.status_code == 400
    r = await api.delete(f"/api/proxies/{p['id']}")
    assert r.status_code == 204
    assert (await api.get(f"/api/proxies/{p['id']}")).status_code == 404
    assert (await api.get(f"/api/channels/{p['channel']}")).status_code == 404


async def test_gb_id_assignment_range_and_conflicts(make_node: NodeFactory) -> None:
    node = await make_node(proxies={"civil_code": "34020300", "serial_range": [7, 8]})
    api = await login(node)
    url = "rtsp://192.0.2.1/live"
    first = (await api.post("/api/proxies", json={"name": "a-cam", "url": url})).json()
    second = (await api.post("/api/proxies", json={"name": "b-cam", "url": url})).json()
    assert first["gb_id"] == "34020300001328000007"
    assert second["gb_id"] == "34020300001328000008"
    r = await api.post("/api/proxies", json={"name": "c-cam", "url": url})
    assert r.status_code == 400 and "serial_range" in r.json()["detail"]
    r = await api.post("/api/proxies", json={"name": "d-cam", "url": url, "gb_id": first["gb_id"]})
    assert r.status_code == 409
    given = "34020300001310000001"  # a caller-chosen code keeps its own network digit
    r = await api.post("/api/proxies", json={"name": "e-cam", "url": url, "gb_id": given})
    assert r.status_code == 201 and r.json()["gb_id"] == given
    await api.aclose()


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"name": "x", "url": "ftp://192.0.2.1/a"}, 400),
        ({"name": "x", "url": "rtsp:///nohost"}, 400),
        ({"name": "x", "url": "rtsp://192.0.2.1/a", "transport": "sctp"}, 422),
        ({"name": "x", "url": "rtsp://192.0.2.1/a", "gb_id": "123"}, 422),
        ({"name": "x", "url": "rtsp://192.0.2.1/a", "gb_id": "34020000002000000001"}, 400),
        ({"name": "x", "url": "rtsp://192.0.2.1/a", "latitude": 91}, 422),
        ({"url": "rtsp://192.0.2.1/a"}, 422),
        ({"name": "x", "url": "rtsp://192.0.2.1/a", "bogus": 1}, 422),
    ],
)
async def test_bad_input_is_a_clear_4xx(
    api: httpx.AsyncClient, body: dict[str, object], status: int
) -> None:
    r = await api.post("/api/proxies", json=body)
    assert r.status_code == status, r.text
    assert r.json()["detail"]


async def test_credentials_in_url_are_split_and_never_returned(api: httpx.AsyncClient) -> None:
    r = await api.post(
        "/api/proxies", json={"name": "x-cam", "url": "rtsp://admin:p%40ss@192.0.2.7:554/h264"}
    )
    assert r.status_code == 201, r.text
    p = r.json()
    assert p["url"] == "rtsp://192.0.2.7:554/h264" and p["username"] == "admin"
    assert p["has_password"] is True and "p@ss" not in r.text


async def test_permissions(node: Node, api: httpx.AsyncClient) -> None:
    r = await api.post(
        "/api/users", json={"username": "v1", "password": "viewer-pass-1", "role": "viewer"}
    )
    assert r.status_code in (200, 201), r.text
    viewer = await login(node, "v1", "viewer-pass-1")
    r = await viewer.post("/api/proxies", json={"name": "x-cam", "url": "rtsp://192.0.2.1/a"})
    assert r.status_code == 403
    assert (await viewer.get("/api/proxies")).status_code == 200
    anon = httpx.AsyncClient(base_url=str(api.base_url), timeout=30)
    assert (await anon.get("/api/proxies")).status_code == 401
    await viewer.aclose()
    await anon.aclose()
    assert ADMIN_PASSWORD


async def test_region_scope(node: Node, api: httpx.AsyncClient) -> None:
    for code in ("340202", "340203"):
        r = await api.post(
            "/api/proxies",
            json={"name": f"cam{code}", "url": "rtsp://192.0.2.1/a", "civil_code": code},
        )
        assert r.status_code == 201
    r = await api.post(
        "/api/users",
        json={
            "username": "op2",
            "password": "operator-pass-2",
            "role": "operator",
            "region_codes": ["340202"],
        },
    )
    assert r.status_code in (200, 201), r.text
    op = await login(node, "op2", "operator-pass-2")
    items = (await op.get("/api/proxies")).json()["items"]
    assert [i["civil_code"] for i in items] == ["340202"]
    r = await op.post(
        "/api/proxies",
        json={"name": "outside", "url": "rtsp://192.0.2.1/a", "civil_code": "340203"},
    )
    assert r.status_code == 403
    await op.aclose()

    async def listed() -> bool:
        return (await api.get("/api/proxies")).json()["total"] == 2

    await eventually(listed, 5)


async def test_deleting_proxy_device_is_refused_with_409(
    node: Node, api: httpx.AsyncClient
) -> None:
    """DELETE /api/devices/{id} on a proxy's virtual device must not orphan the proxy row."""
    r = await api.post("/api/proxies", json={"name": "门岗", "url": "rtsp://192.0.2.11/live"})
    assert r.status_code == 201, r.text
    p = r.json()
    r = await api.delete(f"/api/devices/{p['gb_id']}")
    assert r.status_code == 409, r.text
    assert f"/api/proxies/{p['id']}" in r.json()["detail"]
    # nothing was removed: the proxy, its device and its channel are all still there
    assert (await api.get(f"/api/proxies/{p['id']}")).status_code == 200
    assert (await api.get(f"/api/devices/{p['gb_id']}")).status_code == 200
    assert (await api.get(f"/api/channels/{p['channel']}")).status_code == 200
    # the way out the message names removes all three
    assert (await api.delete(f"/api/proxies/{p['id']}")).status_code == 204
    assert (await api.get(f"/api/devices/{p['gb_id']}")).status_code == 404
    assert (await api.get(f"/api/channels/{p['channel']}")).status_code == 404
    assert (await api.delete(f"/api/devices/{p['gb_id']}")).status_code == 404
