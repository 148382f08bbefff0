"""Nodes on real loopback sockets (SIP UDP+TCP on a free port, HTTP on another)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from sharpeyes.config import load_settings
from sharpeyes.node import Node

ADMIN_PASSWORD = "admin-pass-1"

NodeFactory = Callable[..., Awaitable[Node]]


@pytest.fixture
async def make_node(db_url: str) -> AsyncIterator[NodeFactory]:
    nodes: list[Node] = []

    async def factory(**sections: dict[str, Any]) -> Node:
        sip = {"host": "127.0.0.1", "port": 0, **sections.pop("sip", {})}
        settings = load_settings(
            None,
            db={"url": db_url},
            sip=sip,
            http={"host": "127.0.0.1", "port": 0},
            auth={"admin_password": ADMIN_PASSWORD, **sections.pop("auth", {})},
            **sections,
        )
        node = Node(settings)
        await node.start()
        nodes.append(node)
        return node

    yield factory
    for node in nodes:
        await node.stop()


@pytest.fixture
async def node(make_node: NodeFactory) -> Node:
    return await make_node()


def anonymous(node: Node) -> httpx.AsyncClient:
    """A client without a login (the same generous timeout: CI boxes are loaded)."""
    return httpx.AsyncClient(base_url=f"http://127.0.0.1:{node.http_port}", timeout=30)


async def login(
    node: Node, username: str = "admin", password: str = ADMIN_PASSWORD
) -> httpx.AsyncClient:
    client = anonymous(node)
    r = await client.post("/api/auth/login", json={"username": username, "password": password})
    r.raise_for_status()
    client.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
    return client


@pytest.fixture
async def api(node: Node) -> AsyncIterator[httpx.AsyncClient]:
    client = await login(node)
    yield client
    await client.aclose()
