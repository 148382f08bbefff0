"""Sharing by authorization end to end: a department user sees nothing before
approval, exactly the approved channels with exactly the approved rights after
both reviews, and nothing after revocation or expiry — an open stream is ended."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sharpeyes.node import Node
from sharpeyes.store.models import utcnow

from .conftest import NodeFactory
from .devices_helpers import eventually
from .live_helpers import WsReader, add_cameras, live_node, play
from .sharing_helpers import DEPT_ORG, approve, request_share, review, user, visible_channels


async def _setup(make_node: NodeFactory):  # type: ignore[no-untyped-def]
    node, admin = await live_node(make_node, invite_timeout_s=20.0, no_rtp_timeout_s=10.0)
    cams = await add_cameras(node, admin, [1, 2])
    dept = await user(node, "jiaojing", "department", org_id=DEPT_ORG)
    police = await user(node, "gongan", "reviewer_police")
    data = await user(node, "shuju", "reviewer_data")
    return node, admin, cams, dept, police, data


async def test_department_sees_exactly_the_approved_channels_and_rights(
    make_node: NodeFactory,
) -> None:
    _node, admin, cams, dept, police, data = await _setup(make_node)
    a, b = cams
    try:
        # Before approval: nothing.
        assert await visible_channels(dept) == set()
        assert (await dept.get("/api/devices")).json()["total"] == 0
        assert (await dept.post(f"/api/channels/{a.pk}/play", json={})).status_code == 404

        rid = await request_share(dept, [a.pk], ["live"])
        # One review does not grant.
        assert (await review(police, rid, "police")).json()["state"] == "submitted"
        assert await visible_channels(dept) == set()
        assert (await dept.get("/api/sharing/grants")).json()["items"] == []
        # The other stage's reviewer cannot decide the police stage again, nor may
        # the police reviewer decide the data stage.
        assert (await review(data, rid, "police")).status_code == 403
        assert (await review(police, rid, "data")).status_code == 403
        # The requester cannot review at all.
        assert (await review(dept, rid, "data")).status_code == 403

        out = await review(data, rid, "data")
        assert out.status_code == 200 and out.json()["state"] == "approved"

        (grant,) = (await dept.get("/api/sharing/grants")).json()["items"]
        assert grant["channels"] == [a.pk] and grant["rights"] == ["live"]
        assert grant["state"] == "active" and grant["org_id"] == DEPT_ORG

        # Exactly the approved channel, with exactly the approved right.
        assert await visible_channels(dept) == {a.pk}
        devices = (await dept.get("/api/devices")).json()["items"]
        assert [d["id"] for d in devices] == [a.device.device_id]
        assert (await dept.post(f"/api/channels/{b.pk}/play", json={})).status_code == 404
        r = await dept.post(f"/api/channels/{a.pk}/ptz", json={"action": "left"})
        assert r.status_code == 403 and "ptz" in r.json()["detail"]
        assert (await dept.get(f"/api/channels/{a.pk}/snapshot")).status_code == 403
        me = (await dept.get("/api/auth/me")).json()
        assert me["role"] == "department" and me["org_id"] == DEPT_ORG
        assert me["granted_channels"] == {str(a.pk): ["live"]}

        p = await play(dept, a.pk)
        reader = await WsReader(p["ws_url"]).start()
        await reader.wait_frames(3)

        # Revocation: the open stream is ended with the reason, nothing is visible.
        r = await admin.post(f"/api/sharing/grants/{grant['id']}/revoke", json={"reason": "done"})
        assert r.status_code == 200 and r.json()["state"] == "revoked"
        await eventually(lambda: reader.ended is not None, 10)
        assert reader.ended["reason"] == "grant_revoked"  # type: ignore[index]
        assert await visible_channels(dept) == set()
        assert (await dept.post(f"/api/channels/{a.pk}/play", json={})).status_code == 404
        assert (await dept.get("/api/sharing/requests")).json()["items"][0]["state"] == "revoked"
    finally:
        for c in cams:
            await c.fleet.stop()
        for client in (admin, dept, police, data):
            await client.aclose()


async def test_expiry_ends_open_streams_and_hides_channels(make_node: NodeFactory) -> None:
    node, admin, cams, dept, police, data = await _setup(make_node)
    a = cams[0]
    try:
        rid = await request_share(dept, [a.pk], ["live", "ptz", "snapshot"])
        await approve(police, data, rid)
        assert await visible_channels(dept) == {a.pk}
        p = await play(dept, a.pk)
        reader = await WsReader(p["ws_url"]).start()
        await reader.wait_frames(3)
        # The sweeper at a later minute: the grant is past its end.
        assert await node.sharing.sweep(utcnow() + timedelta(hours=2)) == 1
        await eventually(lambda: reader.ended is not None, 10)
        assert reader.ended["reason"] == "grant_expired"  # type: ignore[index]
        assert await visible_channels(dept) == set()
        (grant,) = (await dept.get("/api/sharing/grants")).json()["items"]
        assert grant["state"] == "expired"
    finally:
        for c in cams:
            await c.fleet.stop()
        for client in (admin, dept, police, data):
            await client.aclose()


async def test_grant_outside_its_period_counts_for_nothing(make_node: NodeFactory) -> None:
    """Expiry takes effect at once on every request, before the sweeper runs."""
    node: Node = await make_node()
    from .conftest import login

    admin = await login(node)
    dept = await user(node, "dept2", "department", org_id=DEPT_ORG)
    try:
        from sharpeyes.sharing.grants import active_grants
        from sharpeyes.sharing.models import ShareGrant, ShareRequest

        now = utcnow()
        async with node.db.session() as s:
            req = ShareRequest(
                title="t",
                purpose="p",
                requester_id=1,
                requester_org_id=DEPT_ORG,
                channels=[5],
                rights=["live"],
                starts_at=now - timedelta(hours=2),
                ends_at=now - timedelta(minutes=1),
                state="approved",
            )
            s.add(req)
            await s.flush()
            s.add(
                ShareGrant(
                    request_id=req.id,
                    org_id=DEPT_ORG,
                    channels=[5],
                    rights=["live"],
                    starts_at=req.starts_at,
                    ends_at=req.ends_at,
                    state="active",
                )
            )
            await s.commit()
            assert dict(await active_grants(s, DEPT_ORG, now)) == {}
            assert 5 in await active_grants(s, DEPT_ORG, now - timedelta(minutes=5))
        me = (await dept.get("/api/auth/me")).json()
        assert me["granted_channels"] == {}
        (g,) = (await dept.get("/api/sharing/grants")).json()["items"]
        assert g["state"] == "expired"
    finally:
        await admin.aclose()
        await dept.aclose()


async def test_requester_can_never_review_own_request(make_node: NodeFactory) -> None:
    node: Node = await make_node()
    police_info = await node.users.create_user("pol", "Share-pass-1", "reviewer_police", org_id=3)
    principal = await node.users.get_principal(police_info.id)
    assert principal is not None
    req = await node.sharing.create(
        principal,
        title="t",
        purpose="p",
        requester_org_id=3,
        channels=[1],
        selector=None,
        rights=["live"],
        starts_at=utcnow(),
        ends_at=utcnow() + timedelta(hours=1),
    )
    with pytest.raises(PermissionError, match="own request"):
        await node.sharing.review(principal, req.id, stage="police", decision="approve", comment="")


async def test_request_validation(make_node: NodeFactory) -> None:
    node: Node = await make_node()
    dept = await user(node, "dept3", "department", org_id=DEPT_ORG)
    try:
        base = {"title": "t", "purpose": "p", "channels": [1]}
        from .sharing_helpers import window

        w = window()
        bad = [
            {**base, "rights": [], **w},
            {**base, "rights": ["fly"], **w},
            {**base, "rights": ["live"], "starts_at": w["ends_at"], "ends_at": w["starts_at"]},
            {**base, "channels": [], "rights": ["live"], **w},
            {**base, "rights": ["live"], **w, "requester_org_id": 99},
            {**base, "rights": ["live"], **w, "selector": {"civil_code_prefixes": ["x1"]}},
        ]
        for body in bad:
            r = await dept.post("/api/sharing/requests", json=body)
            assert 400 <= r.status_code < 500, (body, r.text)
        rid = (
            await dept.post(
                "/api/sharing/requests", json={**base, "rights": ["live"], **w, "draft": True}
            )
        ).json()["id"]
        assert (await dept.get(f"/api/sharing/requests/{rid}")).json()["state"] == "draft"
        r = await dept.post(f"/api/sharing/requests/{rid}/submit")
        assert r.json()["state"] == "submitted"
        r = await dept.post(f"/api/sharing/requests/{rid}/withdraw")
        assert r.json()["state"] == "withdrawn"
        assert (await dept.post(f"/api/sharing/requests/{rid}/withdraw")).status_code == 409
    finally:
        await dept.aclose()


async def test_sharing_statistics(make_node: NodeFactory) -> None:
    """共享率 per region and organisation, requests by state, usage per grant."""
    from sharpeyes.store.models import Channel, Device

    from .sharing_helpers import approve

    node: Node = await make_node()
    from .conftest import login

    admin = await login(node)
    dept = await user(node, "dept4", "department", org_id=DEPT_ORG)
    police = await user(node, "pol4", "reviewer_police")
    data = await user(node, "dat4", "reviewer_data")
    try:
        async with node.db.session() as s:
            s.add(Device(id="34020000001320000801", online=True))
            await s.flush()
            chans = [
                Channel(
                    device_id="34020000001320000801",
                    channel_id=f"3402000000131000080{i}",
                    civil_code="340200" if i < 3 else "350100",
                )
                for i in range(4)
            ]
            s.add_all(chans)
            await s.commit()
            pks = [c.id for c in chans]
        await approve(police, data, await request_share(dept, pks[:2], ["live"]))
        await request_share(dept, [pks[3]], ["live"])
        st = (await admin.get("/api/sharing/stats")).json()
        assert st["shareable"] == 4 and st["shared"] == 2 and st["share_rate"] == 0.5
        by_region = {r["region"]: r for r in st["by_region"]}
        assert by_region["340200"]["share_rate"] == round(2 / 3, 4)
        assert by_region["350100"]["shared"] == 0
        assert st["requests_by_state"] == {"approved": 1, "submitted": 1}
        (usage,) = st["usage"]
        assert usage["org_id"] == DEPT_ORG and usage["views"] == 0
        assert (await dept.get("/api/sharing/stats")).status_code == 403
    finally:
        for c in (admin, dept, police, data):
            await c.aclose()
