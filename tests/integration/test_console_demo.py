"""The demo's first run is complete (issue 17, defects 2 and 3): townships seeded,
organisations and police stations present, every synced record has a region and
is complete, and a second seeding adds nothing."""

from __future__ import annotations

import pytest

from sharpeyes.sim.county import build_county
from sharpeyes.sim.demo import expected_channels, seed_demo, wait_for_catalogs
from tests.integration.conftest import NodeFactory, login
from tests.integration.devices_helpers import fleet_for

pytestmark = pytest.mark.db


async def test_demo_seed_fills_ledger_with_township_regions(make_node: NodeFactory) -> None:
    node = await make_node()
    configs = build_county(
        seed=3,
        platform_domain=node.settings.sip.domain,
        townships=2,
        cameras_per_township=6,
        misbehaving=False,
    )
    fleet = fleet_for(node)
    for cfg in configs:
        fleet.add(cfg)
    await fleet.start()
    api = await login(node)
    try:
        await fleet.register_all()
        want = expected_channels(configs)
        assert await wait_for_catalogs(node, want, timeout=30) >= want
        counts = await seed_demo(node, townships=2)
        assert counts == {"regions": 2, "synced": want, "completed": want}

        r = await api.get("/api/ledger/cameras", params={"limit": 500})
        items = r.json()["items"]
        assert len(items) == want
        # the devices' 8-digit township civil codes are now known regions
        assert {i["region_code"] for i in items} == {"34152201", "34152202"}
        assert all(i["complete"] for i in items), [i["issues"] for i in items if i["issues"]]
        names = {i["region_name"] for i in items}
        assert names == {"城关镇", "孟集镇"}

        stations = (await api.get("/api/ledger/police-stations")).json()["items"]
        assert {s["name"] for s in stations} == {"城关派出所", "孟集派出所"}

        again = await seed_demo(node, townships=2)
        assert again == {"regions": 0, "synced": 0, "completed": 0}
    finally:
        await fleet.stop()
        await api.aclose()


async def test_sync_falls_back_to_nearest_known_ancestor(make_node: NodeFactory) -> None:
    """Without the township seeded, a record gets the county (longest known prefix)."""
    from sharpeyes.sim.demo import SEEDER

    node = await make_node()
    configs = build_county(
        seed=3,
        platform_domain=node.settings.sip.domain,
        townships=1,
        cameras_per_township=3,
        misbehaving=False,
    )
    fleet = fleet_for(node)
    for cfg in configs:
        fleet.add(cfg)
    await fleet.start()
    try:
        await fleet.register_all()
        want = expected_channels(configs)
        await wait_for_catalogs(node, want, timeout=30)
        await node.ledger.sync_from_channels(SEEDER)
        api = await login(node)
        items = (await api.get("/api/ledger/cameras")).json()["items"]
        await api.aclose()
        assert items and {i["region_code"] for i in items} == {"341522"}
    finally:
        await fleet.stop()


async def test_demo_county_registers_up_to_simulated_city(make_node: NodeFactory) -> None:
    """``sharpeyes demo`` shows a cascade: the link to the simulated city is
    ``registered`` with every channel shared, the city gets the catalog, and a second
    start on the same data re-points the kept link instead of adding one."""
    from sharpeyes.sim.demo import CITY_ID, start_demo_city, wait_registered

    node = await make_node()
    configs = build_county(
        seed=3,
        platform_domain=node.settings.sip.domain,
        townships=1,
        cameras_per_township=3,
        misbehaving=False,
    )
    fleet = fleet_for(node)
    for cfg in configs:
        fleet.add(cfg)
    await fleet.start()
    api = await login(node)
    city, city2 = None, None
    try:
        await fleet.register_all()
        want = expected_channels(configs)
        assert await wait_for_catalogs(node, want, timeout=30) >= want
        city, link_id = await start_demo_city(node)
        assert await wait_registered(node, link_id) == "registered"

        links = (await api.get("/api/cascade/uppers")).json()["items"]
        assert [(u["server_id"], u["state"]) for u in links] == [(CITY_ID, "registered")]
        assert links[0]["shared_channel_count"] == want
        assert links[0]["port"] == city.port
        us = node.settings.sip.id
        assert us in city.lowers
        items = await city.query_catalog(us)
        assert len([i for i in items if i["DeviceID"][10:13] == "131"]) == want

        # the next demo start: a new city port, the same (single) link, registered again
        await city.stop()
        city2, link2 = await start_demo_city(node)
        assert link2 == link_id and city2.port != city.port
        assert await wait_registered(node, link_id) == "registered"
        assert us in city2.lowers
        assert len((await api.get("/api/cascade/uppers")).json()["items"]) == 1
    finally:
        for c in (city2, city):
            if c is not None:
                await c.stop()
        await fleet.stop()
        await api.aclose()
