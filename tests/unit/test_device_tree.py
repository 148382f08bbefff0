"""The catalog tree of a lower platform (Appendix O): parents by ParentID, paths,
BusinessGroupID and civil code; unknown parents and loops still show every node."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import count

from hypothesis import given
from hypothesis import strategies as st

from sharpeyes.devices.catalog import channel_kind
from sharpeyes.devices.tree import TreeNode, build_tree

PLATFORM = "34020000002000000099"
GROUP = "34020000002150000001"
ORG = "34020000002160000001"
CAM1 = "34020000001310000001"
CAM2 = "34020000001310000002"
CAM3 = "34020000001310000003"
CAM4 = "34020000001310000004"
_pk = count(1)


@dataclass
class Row:
    channel_id: str
    parent_id: str | None = None
    civil_code: str | None = None
    business_group_id: str | None = None
    name: str | None = None
    online: bool = True

    def __post_init__(self) -> None:
        self.id = next(_pk)
        self.kind = channel_kind(self.channel_id)


def shape(nodes: list[TreeNode]) -> dict[str, object]:
    return {n.channel_id: shape(n.children) for n in nodes}


def walk(nodes: list[TreeNode]) -> list[str]:
    return [x for n in nodes for x in (n.channel_id, *walk(n.children))]


def test_regions_groups_orgs_and_channels_nest_as_the_standard_says() -> None:
    rows = [
        Row("3402"),
        Row("340200", parent_id="3402"),  # a ParentID the region prefix agrees with
        Row("34020001"),
        Row(GROUP, parent_id=PLATFORM),  # the platform itself is the root, not a node
        Row(ORG, parent_id=GROUP, business_group_id=GROUP),
        Row(CAM1, parent_id=ORG),
        Row(CAM2, parent_id=f"{PLATFORM}/{GROUP}/{ORG}"),  # 2022 path: its last segment
        Row(CAM3, civil_code="34020001"),  # no ParentID: under its civil-code region
        Row(CAM4, parent_id="34029999999999999999"),  # unknown parent: a root, not lost
    ]
    tree = build_tree(rows, PLATFORM)
    assert shape(tree) == {
        "3402": {"340200": {"34020001": {CAM3: {}}}},
        GROUP: {ORG: {CAM1: {}, CAM2: {}}},
        CAM4: {},
    }
    org = tree[1].children[0]
    assert (org.kind, org.parent) == ("virtual_org", GROUP)
    assert org.to_dict()["children"][0]["channel_id"] == CAM1


def test_an_org_without_parent_id_hangs_under_its_business_group() -> None:
    tree = build_tree([Row(GROUP), Row(ORG, business_group_id=GROUP)], PLATFORM)
    assert shape(tree) == {GROUP: {ORG: {}}}


def test_a_parent_loop_does_not_lose_nodes() -> None:
    a, b = "34020000002160000001", "34020000002160000002"
    tree = build_tree([Row(a, parent_id=b), Row(b, parent_id=a), Row(CAM1, parent_id=a)], PLATFORM)

    assert sorted(walk(tree)) == sorted([a, b, CAM1])


ids = st.sampled_from(["3402", "340200", GROUP, ORG, CAM1, CAM2, CAM3, PLATFORM, "", "a/b", "//"])


NODES = st.sampled_from([GROUP, ORG, CAM1, CAM2, CAM3, "3402", "340200"])
SPEC = st.lists(st.tuples(NODES, ids, ids), max_size=7, unique_by=lambda t: t[0])


@given(SPEC)
def test_every_row_appears_once_whatever_the_parents(spec: list[tuple[str, str, str]]) -> None:
    rows = [Row(cid, parent_id=p or None, business_group_id=g or None) for cid, p, g in spec]
    tree = build_tree(rows, PLATFORM)

    assert sorted(walk(tree)) == sorted(r.channel_id for r in rows)
