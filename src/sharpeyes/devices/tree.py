"""A device's catalog as a tree (GB/T 28181 Appendix O): what a lower platform sends flat.

A platform's Catalog lists region nodes (2/4/6/8-digit civil codes), business groups
(type 215), virtual organisations (216) and channels, each naming its parent in
``ParentID`` (2016) or as a ``a/b/c`` path (2022), sometimes only by ``CivilCode`` or
``BusinessGroupID``. Pure: rows in, nested nodes out, so the rules are testable
without a database. Parents are resolved in the standard's order of precedence and a
node whose parent is unknown (or would make a cycle) hangs under the root instead of
disappearing: an operator must still see every camera the platform reported.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


class CatalogRow(Protocol):
    id: int
    channel_id: str
    kind: str
    name: str | None
    online: bool
    parent_id: str | None
    civil_code: str | None
    business_group_id: str | None


@dataclass
class TreeNode:
    pk: int
    channel_id: str
    kind: str
    name: str | None
    online: bool
    parent: str | None = None
    children: list[TreeNode] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.pk,
            "channel_id": self.channel_id,
            "kind": self.kind,
            "name": self.name,
            "online": self.online,
            "parent": self.parent,
            "children": [c.to_dict() for c in self.children],
        }


def _last_segment(parent_id: str | None) -> str | None:
    if not parent_id:
        return None
    last = parent_id.strip().strip("/").rsplit("/", 1)[-1].strip()
    return last or None


def _region_parent(code: str | None, regions: set[str], *, proper: bool) -> str | None:
    """The longest known region node that is a prefix of ``code`` (2-digit steps)."""
    if not code:
        return None
    n = len(code) - (2 if proper else 0)
    for length in range(min(n, 8), 1, -2):
        if code[:length] in regions:
            return code[:length]
    return None


def build_tree(rows: Sequence[CatalogRow], device_id: str) -> list[TreeNode]:
    """Root nodes (sorted: regions, groups, organisations, then the rest, by ID)."""
    raw = {r.channel_id: r for r in rows}
    nodes = {cid: TreeNode(r.id, cid, r.kind, r.name, r.online) for cid, r in raw.items()}
    regions = {cid for cid, n in nodes.items() if n.kind == "region"}
    for cid, node in nodes.items():
        row = raw[cid]
        if node.kind == "region":
            node.parent = _region_parent(cid, regions, proper=True)
            continue
        candidates = [_last_segment(row.parent_id)]
        if node.kind != "business_group":
            candidates.append(row.business_group_id)
        if node.kind not in ("business_group", "virtual_org"):
            candidates.append(_region_parent(row.civil_code, regions, proper=False))
        node.parent = next(
            (p for p in candidates if p and p != cid and p != device_id and p in nodes), None
        )
    _break_cycles(nodes)
    roots: list[TreeNode] = []
    for node in nodes.values():
        (nodes[node.parent].children if node.parent else roots).append(node)
    order = {"region": 0, "business_group": 1, "virtual_org": 2}

    def sort(level: list[TreeNode]) -> None:
        level.sort(key=lambda n: (order.get(n.kind, 3), n.channel_id))
        for n in level:
            sort(n.children)

    sort(roots)
    return roots


def _break_cycles(nodes: dict[str, TreeNode]) -> None:
    """A platform that names parents in a loop: the loop's first node becomes a root."""
    for start in nodes.values():
        seen: set[str] = set()
        node: TreeNode | None = start
        while node is not None and node.parent is not None:
            if node.channel_id in seen:
                node.parent = None
                break
            seen.add(node.channel_id)
            node = nodes.get(node.parent)


__all__ = ["CatalogRow", "TreeNode", "build_tree"]
