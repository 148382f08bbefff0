"""Several nodes on loopback, each with its own database (a cascade needs more than one)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from sharpeyes.config import load_settings
from sharpeyes.node import Node
from sharpeyes.sim.upper import SimUpper

from .conftest import ADMIN_PASSWORD, login
from .devices_helpers import eventually

CITY = ("34020000002000000001", "3402000000")
COUNTY = ("34020100002000000001", "3402010000")
TOWNSHIP = ("34020101002000000001", "3402010100")

LevelFactory = Callable[..., Awaitable[Node]]


@pytest.fixture
async def make_level(tmp_path: Path) -> AsyncIterator[LevelFactory]:
    """``await make_level("county", COUNTY, port=0)``: a node with its own SQLite file."""
    nodes: list[Node] = []
    ranges = iter(range(31000, 32000, 100))

    async def factory(name: str, ident: tuple[str, str], *, port: int = 0, **sections: Any) -> Node:
        sip = {"host": "127.0.0.1", "port": port, "id": ident[0], "domain": ident[1]}
        sip.update(sections.pop("sip", {}))
        lo = next(ranges)
        media = {"port_range": (lo, lo + 99), "idle_grace_s": 2.0, **sections.pop("media", {})}
        settings = load_settings(
            None,
            db={"url": f"sqlite+aiosqlite:///{tmp_path / name / 'sharpeyes.db'}"},
            sip=sip,
            http={"host": "127.0.0.1", "port": 0},
            auth={"admin_password": ADMIN_PASSWORD},
            media=media,
            **sections,
        )
        node = Node(settings)
        await node.start()
        nodes.append(node)
        return node

    yield factory
    for node in reversed(nodes):
        if not getattr(node, "_stopped_by_test", False):
            await node.stop()


async def stop(node: Node) -> None:
    await node.stop()
    node._stopped_by_test = True  # type: ignore[attr-defined]


async def link_up(
    lower_api: httpx.AsyncClient,
    upper: Node,
    *,
    transport: str = "udp",
    keepalive_interval: int = 2,
    keepalive_timeout_count: int = 2,
    **extra: Any,
) -> dict[str, Any]:
    """Register ``lower`` up to ``upper`` and share every channel with it."""
    sip = upper.settings.sip
    body = {
        "name": f"upper {sip.id}",
        "server_id": sip.id,
        "domain": sip.domain,
        "host": "127.0.0.1",
        "port": upper.stack.port,
        "transport": transport,
        "password": sip.password,
        "keepalive_interval": keepalive_interval,
        "keepalive_timeout_count": keepalive_timeout_count,
        **extra,
        "enabled": False,
    }
    # Share first, then enable: the upper's first catalog query sees the whole set.
    r = await lower_api.post("/api/cascade/uppers", json=body)
    assert r.status_code == 201, r.text
    out = r.json()
    r = await lower_api.put(f"/api/cascade/uppers/{out['id']}/channels", json={"all": True})
    assert r.status_code == 200, r.text
    r = await lower_api.patch(f"/api/cascade/uppers/{out['id']}", json={"enabled": True})
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def link_sim_upper(node: Node, api: httpx.AsyncClient, upper: SimUpper) -> str:
    """``upper`` (a SimUpper) as a link sharing every channel, registered; our ID toward it."""
    body = {
        "name": "sim city",
        "server_id": upper.server_id,
        "domain": upper.domain,
        "host": "127.0.0.1",
        "port": upper.port,
        "password": upper.password,
        "enabled": False,
    }
    uid = (await api.post("/api/cascade/uppers", json=body)).json()["id"]
    await api.put(f"/api/cascade/uppers/{uid}/channels", json={"all": True})
    await api.patch(f"/api/cascade/uppers/{uid}", json={"enabled": True})
    us = node.settings.sip.id
    await eventually(lambda: us in upper.lowers, 10)
    return us


__all__ = [
    "CITY",
    "COUNTY",
    "TOWNSHIP",
    "link_sim_upper",
    "link_up",
    "login",
    "make_level",
    "stop",
]
