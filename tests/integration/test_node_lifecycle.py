"""The node as composition root: everything built up front, stop() safe at any point."""

from __future__ import annotations

from sharpeyes.config import load_settings
from sharpeyes.node import Node
from sharpeyes.sip.router import PeerKind


async def test_stop_without_start_and_twice(db_url: str) -> None:
    node = Node(load_settings(None, db={"url": db_url}, sip={"host": "127.0.0.1", "port": 0}))
    assert node.registrar.registry is node.registry  # constructed in __init__, no None
    await node.stop()  # nothing started: nothing to stop, no AttributeError
    await node.start(http=False)
    assert node.lifecycle.started[0] == "db" and node.lifecycle.started[-1] == "upper_sip"
    assert "http" in node.lifecycle.started  # a step that does nothing when http=False
    await node.stop()
    assert node.lifecycle.started == []
    await node.stop()


async def test_router_knows_every_domain(node: Node) -> None:
    assert node.router.allow() == (
        "REGISTER, MESSAGE, NOTIFY, SUBSCRIBE, INFO, BYE, ACK, OPTIONS, INVITE, CANCEL"
    )
    assert set(node.lifecycle.stats()) >= {"sip", "registrar", "messaging", "loop_lag"}
    assert PeerKind.UPPER in {k for (_m, k) in node.router._routes}
