"""Third-party device habits the node must cope with (issue 16), each reproduced by a sim quirk.

Also the API edges integrators hit: GB codes where pks belong, lookup by code, and the
requests property-based testing found answering 500.
"""

from __future__ import annotations

from typing import Any

import pytest

from sharpeyes.api.params import INT64_MAX
from sharpeyes.sim.device import SimChannel, SimDeviceConfig

from .conftest import NodeFactory, login
from .devices_helpers import CENTER, device_id, eventually, fleet_for, ipc
from .live_helpers import WsReader, camera, live_node, play, streams

pytestmark = pytest.mark.db

TWENTY_DIGITS = "34020000001310000001"


async def test_device_answering_a_malformed_y_plays_live(make_node: NodeFactory) -> None:
    """y=<20-digit device ID> in the 200 OK: no longer 'unusable SDP', the video decodes."""
    node, api = await live_node(make_node)
    assert node.settings.media.ssrc_check == "strict"  # the hard case: y= would be binding
    cam = await camera(node, api, faults={"sdp_bad_ssrc"})
    try:
        p = await play(api, cam.pk)
        reader = await WsReader(p["ws_url"]).start()
        await reader.wait_frames(30, 20)
        assert reader.frames() >= 30
        (s,) = (await streams(api))["items"]
        assert s["state"] == "live" and s["ssrc"] == "0200000001"  # we keep the offered SSRC
        (call,) = cam.device.media_calls.values()
        assert call.source.ssrc != 200000001  # the device really sent with its own SSRC
        stats = (await api.get("/api/stats")).json()
        assert stats["interop"]["sdp_bad_ssrc"] == 1
        assert stats["interop"]["devices"][cam.device.device_id]["sdp_bad_ssrc"] == 1
        detail = (await api.get(f"/api/devices/{cam.device.device_id}")).json()
        assert detail["interop"]["sdp_bad_ssrc"] == 1
        assert detail["interop"]["content_length_chars"] == 0
        await reader.close()
    finally:
        await cam.fleet.stop()


async def test_character_counted_content_length_is_tolerated(make_node: NodeFactory) -> None:
    """A UTF-8 DeviceInfo whose Content-Length counts characters: stored with its name."""
    node = await make_node()
    api = await login(node)
    name = "城关镇十字路口高清球机"
    fleet = fleet_for(node)
    dev = fleet.add(ipc(7, charset="UTF-8", name=name, faults={"content_length_chars"}))
    plain = fleet.add(ipc(8, charset="UTF-8", name="普通设备"))
    await fleet.start()
    try:
        assert await fleet.register_all() == {200: 2}

        async def named(d: str, want: str) -> bool:
            r = await api.get(f"/api/devices/{d}")
            return r.status_code == 200 and r.json()["name"] == want

        await eventually(lambda: named(dev.device_id, name), 15)
        await eventually(lambda: named(plain.device_id, "普通设备"), 15)
        # The catalog (Chinese channel names) came the same way and is stored too.
        r = await api.get("/api/channels", params={"device_id": dev.device_id})
        assert r.json()["items"][0]["name"] == "测试枪机7号"
        info = (await api.get(f"/api/devices/{dev.device_id}/info")).json()
        assert info["DeviceName"] == name
        detail = (await api.get(f"/api/devices/{dev.device_id}")).json()
        assert detail["interop"]["content_length_chars"] >= 3  # DeviceInfo x2 + catalog
        other = (await api.get(f"/api/devices/{plain.device_id}")).json()
        assert other["interop"]["content_length_chars"] == 0
        stats = (await api.get("/api/stats")).json()["interop"]
        assert stats["content_length_chars"] == detail["interop"]["content_length_chars"]
        assert node.messaging.stats["bad_bodies"] == 0
    finally:
        await fleet.stop()


async def test_gb_code_where_a_pk_belongs_is_422_not_500(make_node: NodeFactory) -> None:
    node = await make_node()
    api = await login(node)
    for method, path in [
        ("GET", f"/api/channels/{TWENTY_DIGITS}"),
        ("GET", f"/api/channels/{TWENTY_DIGITS}/presets"),
        ("POST", f"/api/channels/{TWENTY_DIGITS}/ptz"),
        ("GET", f"/api/ledger/cameras/{TWENTY_DIGITS}"),
        ("PATCH", f"/api/users/{TWENTY_DIGITS}"),
    ]:
        r = await api.request(method, path, json={} if method != "GET" else None)
        assert r.status_code == 422, (path, r.status_code, r.text)
        assert "detail" in r.json()
    r = await api.get(f"/api/channels/{INT64_MAX}")
    assert r.status_code == 404  # in range, just not there


async def test_channel_lookup_by_gb_code(make_node: NodeFactory) -> None:
    node = await make_node()
    api = await login(node)
    shared = f"{CENTER}0013190{1:05d}"
    # Two fleets: one simulator refuses duplicate channel IDs, two devices do not.
    fleet, other = fleet_for(node), fleet_for(node)
    one = fleet.add(ipc(1))
    twins = [
        f.add(
            SimDeviceConfig(
                device_id=device_id(n),
                password="12345678",
                channels=[SimChannel(shared, f"同码通道{n}", "34020001", 117.1 + n / 100, 31.6)],
            )
        )
        for f, n in ((fleet, 2), (other, 3))
    ]
    await fleet.start()
    await other.start()
    try:
        assert await fleet.register_all() == {200: 2}
        assert await other.register_all() == {200: 1}
        code = one.channels[0].channel_id

        async def listed() -> bool:
            r = await api.get("/api/channels", params={"kind": "all"})
            return r.json()["total"] >= 3

        await eventually(listed, 15)
        r = await api.get(f"/api/channels/by-code/{code}")
        assert r.status_code == 200, r.text
        ch = r.json()
        assert ch["channel_id"] == code and ch["device_id"] == one.device_id
        assert (await api.get(f"/api/channels/{ch['id']}")).json() == ch
        assert (await api.get("/api/channels/by-code/34020000001319999999")).status_code == 404
        r = await api.get(f"/api/channels/by-code/{code}", params={"device_id": device_id(2)})
        assert r.status_code == 404  # that device does not report this code

        r = await api.get(f"/api/channels/by-code/{shared}")
        assert r.status_code == 409, r.text
        body = r.json()
        assert "device_id" in body["detail"]
        assert sorted(c["device_id"] for c in body["candidates"]) == [
            twins[0].device_id,
            twins[1].device_id,
        ]
        r = await api.get(f"/api/channels/by-code/{shared}", params={"device_id": device_id(3)})
        assert r.status_code == 200 and r.json()["device_id"] == device_id(3)
    finally:
        await fleet.stop()
        await other.stop()


@pytest.mark.parametrize(
    ("method", "path", "params", "body"),
    [
        ("GET", "/api/ledger/organisations", {"offset": str(10**20)}, None),
        ("GET", f"/api/ledger/platforms/{10**20}", None, None),
        ("GET", f"/api/ledger/police-stations/{10**20}", None, None),
        ("GET", "/api/ledger/quality/duplicates", {"distance_m": "5e-324"}, None),
        ("PATCH", "/api/devices/{device}", None, {"charset": None}),
    ],
    ids=["huge-offset", "platform-pk", "police-station-pk", "tiny-distance", "charset-null"],
)
async def test_requests_that_were_500_are_4xx_with_a_message(
    make_node: NodeFactory,
    method: str,
    path: str,
    params: dict[str, str] | None,
    body: dict[str, Any] | None,
) -> None:
    node = await make_node()
    api = await login(node)
    fleet = fleet_for(node)
    dev = fleet.add(ipc(1))
    await fleet.start()
    try:
        if "{device}" in path:
            assert await fleet.register_all() == {200: 1}
            path = path.format(device=dev.device_id)
        r = await api.request(method, path, params=params, json=body)
        assert 400 <= r.status_code < 500, (r.status_code, r.text)
        detail = r.json()["detail"]
        assert detail and (isinstance(detail, str) or detail[0]["msg"])
    finally:
        await fleet.stop()


async def test_patch_charset_null_leaves_the_device_unchanged(make_node: NodeFactory) -> None:
    node = await make_node()
    api = await login(node)
    fleet = fleet_for(node)
    dev = fleet.add(ipc(1))
    await fleet.start()
    try:
        assert await fleet.register_all() == {200: 1}
        url = f"/api/devices/{dev.device_id}"
        r = await api.patch(url, json={"charset": None, "name": "改名"})
        assert r.status_code == 422 and "null" in r.text
        assert (await api.get(url)).json()["charset"] == "GB2312"
        r = await api.patch(url, json={"charset": "UTF-8"})
        assert r.status_code == 200 and r.json()["charset"] == "UTF-8"
    finally:
        await fleet.stop()


async def test_every_integer_parameter_is_bounded_to_64_bits(make_node: NodeFactory) -> None:
    """The OpenAPI document bounds every integer path/query parameter (no OverflowError)."""
    node = await make_node()
    api = await login(node)
    doc = (await api.get("/api/openapi.json")).json()
    seen = 0
    for path, ops in doc["paths"].items():
        for op in ops.values():
            for prm in op.get("parameters", []):
                schemas = [prm["schema"], *prm["schema"].get("anyOf", [])]
                for sch in schemas:
                    if sch.get("type") == "integer":
                        seen += 1
                        assert sch.get("maximum", INT64_MAX + 1) <= INT64_MAX, (path, prm)
                        assert sch.get("minimum", -(2**64)) >= -(2**63), (path, prm)
    assert seen >= 30


async def test_every_error_has_one_body_shape(make_node: NodeFactory) -> None:
    """detail (a sentence) and code (stable) on 4xx of every kind: validation, HTTP, domain."""
    node = await make_node()
    api = await login(node)
    anon_headers = {"Authorization": "Bearer nonsense"}
    cases = [
        (await api.get(f"/api/channels/{TWENTY_DIGITS}"), 422, "invalid_request"),
        (await api.get("/api/channels/123"), 404, "not_found"),
        (await api.get("/api/devices", headers=anon_headers), 401, "unauthorized"),
        (await api.get("/api/no-such-route"), 404, "not_found"),
        (await api.delete("/api/stats"), 405, "method_not_allowed"),
        (await api.get("/api/ledger/quality/duplicates", params={"distance_m": 0}), 422, None),
        (await api.patch("/api/devices/34020000001329999999", json={}), 404, "not_found"),
    ]
    for r, status, code in cases:
        body = r.json()
        assert r.status_code == status, (r.url, r.status_code, body)
        assert isinstance(body["detail"], str) and body["detail"], body
        assert isinstance(body["code"], str) and body["code"], body
        if code:
            assert body["code"] == code, body
    invalid = cases[0][0].json()
    assert invalid["errors"][0]["loc"] == ["path", "channel_pk"]
    assert "channel_pk" in invalid["detail"]
