"""The demo's first run arrives complete: townships, organisations, police stations
and a synced ledger, so the ledger, map, unit tree and quality report show the
county rather than "共 0 条" (issue 17, defect 2).

Everything goes through the ledger service, as an operator's actions would, and is
idempotent: a second ``sharpeyes demo`` on the same data folder adds nothing.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from sharpeyes.ledger.dictionaries import NETWORK_CODE_DIGITS
from sharpeyes.ledger.queries import CameraFilters
from sharpeyes.sharing.principal import Principal, Role
from sharpeyes.sim.county import CITY, COUNTY, COUNTY_CODE, township_names
from sharpeyes.store.models import Channel

if TYPE_CHECKING:
    from sharpeyes.services import Services as Node
    from sharpeyes.sim.device import SimDeviceConfig
    from sharpeyes.sim.upper import SimUpper

SEEDER = Principal(user_id=0, username="demo", role=Role.ADMIN)
BUREAU = f"{COUNTY}公安局"
DATA_BUREAU = f"{COUNTY}数据资源管理局"
MAINTAINER = f"{COUNTY}天网运维中心"


async def wait_for_catalogs(node: Node, want: int, timeout: float = 60.0) -> int:
    """Poll until ``want`` channels are known (catalogs arrive after REGISTER)."""
    deadline = time.monotonic() + timeout
    count = 0
    while time.monotonic() < deadline:
        async with node.db.session() as s:
            count = await s.scalar(
                select(func.count()).select_from(Channel).where(Channel.kind == "channel")
            )
        if count >= want:
            break
        await asyncio.sleep(0.5)
    return int(count or 0)


def expected_channels(configs: list[SimDeviceConfig]) -> int:
    """Channels of the devices that do register (not the offline/wrong-password ones)."""
    skip = {"offline", "wrong_password"}
    return sum(len(c.channels) for c in configs if not (c.faults & skip))


async def provision_county(node: Node, configs: list[SimDeviceConfig]) -> int:
    """Add every county device to the node before it registers, as an operator
    entering the installer's list would: the ones that never come online (or use a
    wrong password) are then listed as never registered instead of missing."""
    from sharpeyes.devices.provision import provision

    added = 0
    for cfg in configs:
        if node.registry.get(cfg.device_id) is None:
            await provision(node.registry, cfg.device_id, name=cfg.name)
            added += 1
    return added


def _network(code: str) -> str:
    digit = int(code[13]) if len(code) == 20 and code[13].isdigit() else 0
    for name, digits in NETWORK_CODE_DIGITS.items():
        if digit in digits:
            return name
    return "police_video"


async def seed_demo(node: Node, townships: int = 4) -> dict[str, int]:
    """Seed regions, organisations and police stations, sync and complete the ledger."""
    ledger = node.ledger
    existing = {r.code for r in (await ledger.list_regions(parent=COUNTY_CODE, limit=1000)).items}
    towns = township_names(townships)
    new = [
        {"code": code, "name": name, "parent_code": COUNTY_CODE, "level": "township"}
        for code, name in towns
        if code not in existing
    ]
    if new:
        await ledger.create_regions(SEEDER, new, source="demo")

    orgs = {o.name: o.id for o in (await ledger.list_organisations(limit=1000)).items}
    for name, typ in ((BUREAU, "public_security"), (DATA_BUREAU, "data_bureau")):
        if name not in orgs:
            row = await ledger.create_organisation(
                SEEDER, {"name": name, "type": typ, "level": "county", "region_code": COUNTY_CODE}
            )
            orgs[name] = row.id
    if MAINTAINER not in orgs:
        row = await ledger.create_organisation(
            SEEDER,
            {
                "name": MAINTAINER,
                "type": "enterprise",
                "level": "county",
                "region_code": COUNTY_CODE,
            },
        )
        orgs[MAINTAINER] = row.id

    stations = {
        p.region_code: p.id for p in (await ledger.list_police_stations(SEEDER, limit=1000)).items
    }
    for code, name in towns:
        if code not in stations:
            row = await ledger.create_police_station(
                SEEDER,
                {
                    "name": f"{name[:-1]}派出所",
                    "region_code": code,
                    "address": f"{COUNTY}{name}",
                },
            )
            stations[code] = row.id

    synced = await ledger.sync_from_channels(SEEDER)
    completed = 0
    page = await ledger.list_cameras(SEEDER, CameraFilters(), limit=10_000)
    for rec in page.items:
        if rec.get("owner_org_id") is not None:
            continue
        changes: dict[str, Any] = {
            "point_class": 3,
            "network": _network(rec["code"]),
            "owner_org_id": orgs[BUREAU],
            "maintainer_org_id": orgs[MAINTAINER],
            "build_date": "2021-06",
        }
        station = stations.get((rec.get("region_code") or "")[:8])
        if station is not None:
            changes["police_station_id"] = station
        await ledger.update_camera(SEEDER, rec["id"], changes)
        completed += 1
    return {"regions": len(new), "synced": synced["created"], "completed": completed}


# The simulated city (六安市) the demo county registers up to, so the cascade page
# shows a live link out of the box (issue 8). Its ID is of type 200 (a platform).
CITY_ID = "34150000002000000001"
CITY_DOMAIN = "3415000000"
CITY_PASSWORD = "city-demo"
CITY_LINK_NAME = f"{CITY}（模拟市级平台）"


async def start_demo_city(node: Node, host: str = "127.0.0.1") -> tuple[SimUpper, int]:
    """Run a simulated city on a free loopback port and link the node up to it,
    sharing every channel. Idempotent: a link kept from an earlier run (same server
    ID) is pointed at this run's port rather than duplicated. Returns the upper and
    the link's id; the link registers in the background (see ``wait_registered``)."""
    from sharpeyes.sim.upper import SimUpper

    upper = SimUpper(server_id=CITY_ID, domain=CITY_DOMAIN, password=CITY_PASSWORD, host=host)
    await upper.start()
    cascade = node.cascade
    link = next((u for u in await cascade.list_uppers() if u["server_id"] == CITY_ID), None)
    values = {"host": host, "port": upper.port, "password": CITY_PASSWORD, "transport": "udp"}
    if link is None:
        # Share first, then enable: the city's first catalog query sees the whole set.
        link = await cascade.create_upper(
            {
                "name": CITY_LINK_NAME,
                "server_id": CITY_ID,
                "domain": CITY_DOMAIN,
                **values,
                "enabled": False,
            }
        )
        await cascade.set_channels(link["id"], [], {"all": True})
    await cascade.update_upper(link["id"], {**values, "enabled": True})
    return upper, int(link["id"])


async def wait_registered(node: Node, link_id: int, timeout: float = 15.0) -> str:
    """Poll the link's live state until ``registered`` (or the timeout); the last state."""
    deadline = time.monotonic() + timeout
    state = ""
    while time.monotonic() < deadline:
        state = (await node.cascade.get_upper(link_id))["state"]
        if state == "registered":
            break
        await asyncio.sleep(0.2)
    return state
