"""Township (simulated cameras) → county → city, on loopback, over UDP and TCP.

The city lists the township's cameras, plays one (fMP4 that PyAV decodes), sends
PTZ that the simulated camera logs, sees a camera go OFF soon after it goes
offline, and gets the county back with no operator action after a restart.
"""

from __future__ import annotations

import time

import pytest

from .cascade_helpers import CITY, COUNTY, TOWNSHIP, link_up, make_level, stop  # noqa: F401
from .conftest import login
from .devices_helpers import eventually, fleet_for, ipc
from .live_helpers import WsReader, play

KEEPALIVE = 2  # the links' keepalive interval (s) in this test


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_township_county_city(make_level, transport: str) -> None:  # noqa: F811
    city = await make_level("city", CITY)
    county = await make_level("county", COUNTY)
    township = await make_level(
        "township", TOWNSHIP, sip={"keepalive_interval": 2, "keepalive_timeout_count": 3}
    )
    city_api, county_api, town_api = await login(city), await login(county), await login(township)
    fleet = fleet_for(township)
    cams = [fleet.add(ipc(n, keepalive_interval=1.0)) for n in (1, 2)]
    await fleet.start()
    assert await fleet.register_all() == {200: 2}
    fleet.start_keepalives()
    await link_up(town_api, county, transport=transport, keepalive_interval=KEEPALIVE)
    await link_up(county_api, city, transport=transport, keepalive_interval=KEEPALIVE)

    ids = [c.channels[0].channel_id for c in cams]

    async def city_lists_all() -> bool:
        r = await city_api.get("/api/channels", params={"device_id": COUNTY[0], "limit": 100})
        items = {i["channel_id"]: i for i in r.json()["items"]}
        return all(cid in items and items[cid]["online"] for cid in ids)

    await eventually(city_lists_all, 30)
    # the tree: civil-code nodes above the cameras (the county presents regions)
    r = await city_api.get(f"/api/devices/{COUNTY[0]}/channels", params={"limit": 100})
    kinds = {i["channel_id"]: i["kind"] for i in r.json()["items"]}
    assert kinds[ids[0]] == "channel"
    assert any(k == "region" for k in kinds.values()), kinds
    # ... and as a tree: the county is a lower platform, the cameras sit under regions
    assert (await city_api.get(f"/api/devices/{COUNTY[0]}")).json()["kind"] == "platform"
    tree = (await city_api.get(f"/api/devices/{COUNTY[0]}/tree")).json()
    assert tree["kind"] == "platform" and tree["total"] == len(kinds)
    assert (await city_api.get("/api/devices/34020000001110000999/tree")).status_code == 404

    def paths(nodes: list[dict], above: tuple[str, ...] = ()) -> dict[str, tuple[str, ...]]:
        out: dict[str, tuple[str, ...]] = {}
        for n in nodes:
            out[n["channel_id"]] = above
            out.update(paths(n["children"], (*above, n["kind"])))
        return out

    where = paths(tree["nodes"])
    assert set(where) == set(kinds)  # every catalog row is in the tree once
    for cid in ids:
        assert where[cid] and set(where[cid]) == {"region"}, where

    ch = (await city_api.get("/api/channels", params={"q": ids[0]})).json()["items"][0]
    grant = await play(city_api, ch["id"])
    ws = await WsReader(grant["ws_url"]).start()
    try:
        await ws.wait_frames(50, 40)
    finally:
        await ws.close()
    assert len(ws.decode()) >= 50

    r = await city_api.post(f"/api/channels/{ch['id']}/ptz", json={"action": "up"})
    assert r.status_code == 200, r.text
    await eventually(lambda: any(c == ids[0] for c, _, _ in cams[0].ptz_log), 10)

    # a township camera goes offline: OFF at the city within a keepalive interval + a few s
    cams[1].set_fault("offline")
    went = time.monotonic()

    async def off_at_city() -> bool:
        r = await city_api.get("/api/channels", params={"q": ids[1]})
        return not r.json()["items"][0]["online"]

    await eventually(off_at_city, 30)
    took = time.monotonic() - went
    # the township declares it offline after 3 × 2 s without keepalive; then two hops up
    assert took < 6 + KEEPALIVE + 4, took

    # kill and restart the county: it registers up again with no operator action
    port = county.stack.port
    await stop(county)

    async def county_offline() -> bool:
        r = await city_api.get(f"/api/devices/{COUNTY[0]}")
        return not r.json()["online"]

    await eventually(county_offline, 15)
    county2 = await make_level("county", COUNTY, port=port)

    async def county_back() -> bool:
        r = await city_api.get(f"/api/devices/{COUNTY[0]}")
        return bool(r.json()["online"])

    await eventually(county_back, 20)
    county2_api = await login(county2)

    async def township_back() -> bool:
        r = await county2_api.get(f"/api/devices/{TOWNSHIP[0]}")
        return r.status_code == 200 and bool(r.json()["online"])

    await eventually(township_back, 30)
    await fleet.stop()
    await stop(township)
    await stop(county2)
    await stop(city)
