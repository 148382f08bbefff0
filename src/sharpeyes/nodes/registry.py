"""The control node's view of its media nodes: heartbeats in, up/down and placement out.

Sans-IO: every call takes ``now`` (monotonic seconds) so tests drive time; ``tick`` says
which nodes were just lost and which streams ended with them, and ``next_timer`` when to
call it again.  A node that misses heartbeats for ``down_after_s`` (default 6 s, inside
the 10 s the issue allows) is ``down``; its next heartbeat brings it back ``up`` without
a control-node restart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sharpeyes.nodes.protocol import Heartbeat


class NodeState(StrEnum):
    UP = "up"
    DOWN = "down"


@dataclass(slots=True)
class MediaNode:
    hb: Heartbeat
    last_seen: float  # monotonic, for timing
    last_seen_wall: float  # epoch, for the API
    state: NodeState = NodeState.UP
    # streams the control node placed here: known before the node's next heartbeat
    placed: set[str] = field(default_factory=set)

    @property
    def load(self) -> float:
        """Fraction of capacity in use: what placement compares."""
        return len(self.streams) / self.hb.capacity

    @property
    def streams(self) -> set[str]:
        return self.placed | set(self.hb.streams)


@dataclass(frozen=True, slots=True)
class Lost:
    """A node that just went down, and the streams that end with it (``media_node_lost``)."""

    node: str
    streams: frozenset[str]


@dataclass(frozen=True, slots=True)
class Rejoin:
    """What a heartbeat changed: a node came (back) up; streams it holds that we never
    placed (control node restarted) are ``orphans`` the caller adopts or closes."""

    node: str
    came_up: bool
    orphans: frozenset[str]


class NoMediaNode(Exception):
    """No live media node with free capacity."""


class NodeRegistry:
    def __init__(self, down_after_s: float = 6.0) -> None:
        self.down_after_s = down_after_s
        self._nodes: dict[str, MediaNode] = {}
        self._owner: dict[str, str] = {}  # stream -> node id, placed by this control node

    def heartbeat(self, hb: Heartbeat, now: float, wall: float) -> Rejoin:
        node = self._nodes.get(hb.id)
        came_up = node is None or node.state is NodeState.DOWN
        if node is None or node.hb.pid != hb.pid or node.hb.started_at != hb.started_at:
            # new or restarted process: what we placed on the old one is gone
            placed: set[str] = set()
            if node is not None:
                placed = {s for s in node.placed if s in hb.streams}
            node = MediaNode(hb=hb, last_seen=now, last_seen_wall=wall, placed=placed)
            self._nodes[hb.id] = node
        node.hb, node.last_seen, node.last_seen_wall = hb, now, wall
        node.state = NodeState.UP
        orphans = frozenset(s for s in hb.streams if self._owner.get(s) != hb.id)
        return Rejoin(node=hb.id, came_up=came_up, orphans=orphans)

    def tick(self, now: float) -> list[Lost]:
        lost: list[Lost] = []
        for node in self._nodes.values():
            if node.state is NodeState.UP and now - node.last_seen >= self.down_after_s:
                node.state = NodeState.DOWN
                gone = frozenset(node.streams)
                for s in gone:
                    if self._owner.get(s) == node.hb.id:
                        del self._owner[s]
                node.placed.clear()
                lost.append(Lost(node=node.hb.id, streams=gone))
        return lost

    def next_timer(self) -> float | None:
        ups = [n.last_seen for n in self._nodes.values() if n.state is NodeState.UP]
        return min(ups) + self.down_after_s if ups else None

    def place(self, stream: str) -> MediaNode:
        """The least-loaded live node with room; ties go to the fewest viewers, then id."""
        candidates = [
            n
            for n in self._nodes.values()
            if n.state is NodeState.UP and len(n.streams) < n.hb.capacity
        ]
        if not candidates:
            raise NoMediaNode(stream)
        best = min(candidates, key=lambda n: (n.load, n.hb.viewers, n.hb.id))
        best.placed.add(stream)
        self._owner[stream] = best.hb.id
        return best

    def release(self, stream: str) -> None:
        node_id = self._owner.pop(stream, None)
        if node_id is not None and node_id in self._nodes:
            self._nodes[node_id].placed.discard(stream)

    def owner(self, stream: str) -> str | None:
        return self._owner.get(stream)

    def get(self, node_id: str) -> MediaNode | None:
        return self._nodes.get(node_id)

    def items(self) -> list[dict[str, Any]]:
        """The ``GET /api/media/nodes`` items."""
        return [
            {
                "id": n.hb.id,
                "state": n.state.value,
                "host": n.hb.host,
                "pid": n.hb.pid,
                "streams": len(n.streams) if n.state is NodeState.UP else 0,
                "viewers": n.hb.viewers if n.state is NodeState.UP else 0,
                "cpu": n.hb.cpu,
                "loop_lag_ms": n.hb.loop_lag_ms,
                "last_seen": n.last_seen_wall,
            }
            for n in sorted(self._nodes.values(), key=lambda n: n.hb.id)
        ]
