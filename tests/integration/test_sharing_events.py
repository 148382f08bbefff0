"""WebSocket event filtering uses the scope decision: a region-limited user gets the
events of a device visible through its channels' civil codes, a department user
those of its granted channels only, and nothing else."""

from __future__ import annotations

from sharpeyes.store.models import Channel, Device

from .conftest import NodeFactory, login
from .devices_helpers import EventReader, eventually
from .sharing_helpers import DEPT_ORG, PASSWORD, approve, request_share, user

# A platform registered under 3402… that carries a camera of region 3415…
PLATFORM = "34020000002000000055"
OTHER = "34020000001320000056"


async def test_events_follow_scope(make_node: NodeFactory) -> None:
    node = await make_node()
    admin = await login(node)
    async with node.db.session() as s:
        s.add_all([Device(id=PLATFORM, online=True), Device(id=OTHER, online=True)])
        await s.flush()
        far = Channel(device_id=PLATFORM, channel_id="34152200001310000055", civil_code="341522")
        near = Channel(device_id=OTHER, channel_id="34020000001310000056", civil_code="340200")
        s.add_all([far, near])
        await s.commit()
        far_pk, near_pk = far.id, near.id
    await node.users.create_user("v3415", PASSWORD, "viewer", region_codes=["3415"])
    viewer = await login(node, "v3415", PASSWORD)
    dept = await user(node, "dep", "department", org_id=DEPT_ORG)
    police = await user(node, "pol", "reviewer_police")
    data = await user(node, "dat", "reviewer_data")
    try:
        await approve(police, data, await request_share(dept, [near_pk], ["live"]))
        v_token = viewer.headers["Authorization"].split()[1]
        d_token = dept.headers["Authorization"].split()[1]
        async with EventReader(node, v_token) as ve, EventReader(node, d_token) as de:
            node.bus.publish("device.offline", device_id=PLATFORM, reason="test")
            node.bus.publish("device.offline", device_id=OTHER, reason="test")
            node.bus.publish("channel.offline", device_id=OTHER, channel_id="34020000001310000056")
            node.bus.publish("marker", note="end")
            await eventually(lambda: ve.of("marker") and de.of("marker"), 10)
        # The viewer of 3415 sees the platform (through its 341522 channel), not OTHER.
        assert [e["data"]["device_id"] for e in ve.of("device.offline")] == [PLATFORM]
        assert ve.of("channel.offline") == []
        # The department sees OTHER (its granted channel) and nothing of the platform.
        assert [e["data"]["device_id"] for e in de.of("device.offline")] == [OTHER]
        assert len(de.of("channel.offline")) == 1
        assert far_pk != near_pk
    finally:
        for c in (admin, viewer, dept, police, data):
            await c.aclose()
