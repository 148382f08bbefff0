"""Media-node registry: heartbeats, down within 10 s, least-loaded placement, rejoin."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from sharpeyes.nodes.protocol import Heartbeat
from sharpeyes.nodes.registry import NodeRegistry, NodeState, NoMediaNode


def hb(node: str, *, pid: int = 100, streams: list[str] | None = None, cap: int = 10) -> Heartbeat:
    return Heartbeat(
        id=node,
        host="127.0.0.1",
        pid=pid,
        http_url="http://127.0.0.1:1",
        capacity=cap,
        streams=streams or [],
        started_at=1.0,
    )


def test_placement_is_least_loaded_and_spreads_over_nodes() -> None:
    reg = NodeRegistry()
    reg.heartbeat(hb("a"), now=0.0, wall=0.0)
    reg.heartbeat(hb("b"), now=0.0, wall=0.0)
    placed = [reg.place(f"s{i}").hb.id for i in range(4)]
    assert sorted(placed) == ["a", "a", "b", "b"]
    # a bigger node takes more
    reg.heartbeat(hb("c", cap=100), now=0.1, wall=0.0)
    assert reg.place("s9").hb.id == "c"


def test_full_nodes_and_no_nodes_refuse() -> None:
    reg = NodeRegistry()
    with pytest.raises(NoMediaNode):
        reg.place("x")
    reg.heartbeat(hb("a", cap=1), now=0.0, wall=0.0)
    reg.place("x")
    with pytest.raises(NoMediaNode):
        reg.place("y")


def test_silent_node_is_down_within_10s_with_its_streams_then_rejoins() -> None:
    reg = NodeRegistry()
    reg.heartbeat(hb("a"), now=0.0, wall=0.0)
    reg.heartbeat(hb("b"), now=0.0, wall=0.0)
    on_a = reg.place("s1").hb.id
    other = "b" if on_a == "a" else "a"
    t = 0.0
    lost = []
    while t < 10.0 and not lost:
        t += 0.5
        reg.heartbeat(hb(other), now=t, wall=t)  # the other keeps beating
        lost = reg.tick(t)
    assert t < 10.0
    assert [(x.node, x.streams) for x in lost] == [(on_a, frozenset({"s1"}))]
    assert reg.get(on_a).state is NodeState.DOWN  # type: ignore[union-attr]
    assert reg.owner("s1") is None
    assert reg.place("s2").hb.id == other  # next play lands on the live node
    assert reg.tick(t + 1) == []  # lost is reported once
    # the restarted process (new pid) rejoins with no control restart
    rj = reg.heartbeat(hb(on_a, pid=200), now=t + 2, wall=t + 2)
    assert rj.came_up and rj.orphans == frozenset()
    assert reg.get(on_a).state is NodeState.UP  # type: ignore[union-attr]
    assert reg.place("s3").hb.id == on_a


def test_streams_a_node_announces_that_we_never_placed_are_orphans() -> None:
    """Control-node restart: media nodes re-announce their streams; the new control node
    owns none of them, so each is reported for adopting or closing."""
    reg = NodeRegistry()
    rj = reg.heartbeat(hb("a", streams=["old1", "old2"]), now=0.0, wall=0.0)
    assert rj.orphans == frozenset({"old1", "old2"})
    reg.place("new")
    rj = reg.heartbeat(hb("a", streams=["new", "old1"]), now=1.0, wall=1.0)
    assert rj.orphans == frozenset({"old1"}) and not rj.came_up


def test_items_shape_for_the_api() -> None:
    reg = NodeRegistry()
    reg.heartbeat(hb("a"), now=0.0, wall=1234.0)
    reg.place("s")
    (item,) = reg.items()
    assert item == {
        "id": "a",
        "state": "up",
        "host": "127.0.0.1",
        "pid": 100,
        "streams": 1,
        "viewers": 0,
        "cpu": 0.0,
        "loop_lag_ms": 0.0,
        "last_seen": 1234.0,
    }
    assert reg.next_timer() == pytest.approx(reg.down_after_s)


@pytest.mark.parametrize(
    "body",
    [
        b"{}",
        b"not json",
        b'{"id":"../x","host":"h","pid":1,"http_url":"u","capacity":1}',
        b'{"id":"a","host":"h","pid":-1,"http_url":"u","capacity":1}',
        b'{"id":"a","host":"h","pid":1,"http_url":"u","capacity":0}',
    ],
)
def test_hostile_heartbeats_are_refused(body: bytes) -> None:
    with pytest.raises(ValidationError):
        Heartbeat.model_validate_json(body)
