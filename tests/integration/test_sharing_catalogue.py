"""The shareable-channel catalogue: a department with no grant lists what it may ask
for (id, name, civil code, position only), a ledger record marked not shareable is
left out, and a reviewer reads a request's channels for the review map."""

from __future__ import annotations

import pytest

from .conftest import NodeFactory
from .live_helpers import add_cameras, live_node
from .sharing_helpers import DEPT_ORG, request_share, user, visible_channels

pytestmark = pytest.mark.db

ALLOWED_KEYS = {"id", "channel_id", "name", "civil_code", "longitude", "latitude"}


async def test_catalogue_lists_shareable_channels_without_internals(
    make_node: NodeFactory,
) -> None:
    node, admin = await live_node(make_node)
    a, b = await add_cameras(node, admin, [1, 2])
    dept = await user(node, "jj", "department", org_id=DEPT_ORG)
    police = await user(node, "pol", "reviewer_police")
    viewer = await user(node, "vw", "viewer")
    try:
        assert await visible_channels(dept) == set()
        r = await dept.get("/api/sharing/catalogue")
        assert r.status_code == 200, r.text
        items = r.json()["items"]
        assert {i["id"] for i in items} == {a.pk, b.pk}
        for i in items:
            assert set(i) == ALLOWED_KEYS
            assert i["civil_code"]
        # Search by channel code.
        found = (
            await dept.get("/api/sharing/catalogue", params={"q": a.channel["channel_id"]})
        ).json()
        assert [i["id"] for i in found["items"]] == [a.pk]
        # Hostile filters are rejected with 422, not a crash.
        bad = await dept.get("/api/sharing/catalogue", params={"civil_code": "32' OR 1"})
        assert bad.status_code == 422
        # Only requesters may read it.
        assert (await police.get("/api/sharing/catalogue")).status_code == 403
        assert (await viewer.get("/api/sharing/catalogue")).status_code == 403

        # A ledger record marked not shareable drops out of the catalogue.
        from sharpeyes.ledger.models import CameraRecord

        async with node.db.session() as s:
            s.add(CameraRecord(code=b.channel["channel_id"], name="不共享", shareable=False))
            await s.commit()
        items = (await dept.get("/api/sharing/catalogue")).json()["items"]
        assert {i["id"] for i in items} == {a.pk}

        # The reviewer reads the request's channels (for the map); the department too.
        rid = await request_share(dept, [a.pk], ["live"])
        for client in (police, dept):
            r = await client.get(f"/api/sharing/requests/{rid}/channels")
            assert r.status_code == 200, r.text
            assert [i["id"] for i in r.json()["items"]] == [a.pk]
        assert (await police.get("/api/sharing/requests/999999/channels")).status_code == 404
    finally:
        for c in (dept, police, viewer):
            await c.aclose()
