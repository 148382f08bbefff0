"""Cascade API contract and the upper-facing SIP rules, against a bare SIP upper."""

from __future__ import annotations

from typing import Any

from sharpeyes.gb28181 import manscdp
from sharpeyes.gb28181.message import SipRequest, SipResponse, response_for
from sharpeyes.sip.stack import SipStack
from sharpeyes.sip.transport import Peer

from .conftest import login
from .devices_helpers import eventually
from .live_helpers import add_cameras

UPPER_ID = "34020000002000000009"
UPPER_DOMAIN = "3402000000"


class BareUpper:
    """An upper platform reduced to what the test needs: accepts REGISTER, logs MESSAGEs."""

    def __init__(self) -> None:
        self.stack = SipStack(host="127.0.0.1", port=0, handler=self.on_request)
        self.messages: list[manscdp.ManscdpMessage] = []
        self.registers: list[SipRequest] = []
        self.notifies: list[manscdp.ManscdpMessage] = []
        self.peer: Peer | None = None

    async def on_request(self, req: SipRequest, peer: Peer) -> SipResponse | None:
        if req.method == "REGISTER":
            self.registers.append(req)
            self.peer = peer
            return response_for(
                req, 200, headers=[("Expires", req.headers.get("Expires") or "3600")]
            )
        if req.method in ("MESSAGE", "NOTIFY"):
            msg = manscdp.parse_manscdp(req.body)
            if req.method == "NOTIFY":
                self.notifies.append(msg)
            if msg.cmd_type != "Keepalive":
                self.messages.append(msg)
            return response_for(req, 200)
        return response_for(req, 200)

    async def ask(self, node_port: int, target: str, body: bytes) -> SipResponse:
        req = self.stack.build_request(
            "MESSAGE",
            f"sip:{target}@127.0.0.1:{node_port}",
            from_uri=f"sip:{UPPER_ID}@{UPPER_DOMAIN}",
            to_uri=f"sip:{target}@3402000000",
            body=body,
            content_type="Application/MANSCDP+xml",
        )
        return await self.stack.request(req, Peer("udp", "127.0.0.1", node_port))


async def test_uppers_api_sharing_custom_ids_and_404(node: Any) -> None:
    api = await login(node)
    upper = BareUpper()
    await upper.stack.start()
    try:
        cams = await add_cameras(node, api, [1, 2])
        base = {
            "name": "city",
            "server_id": UPPER_ID,
            "domain": UPPER_DOMAIN,
            "host": "127.0.0.1",
            "port": upper.stack.port,
            "password": "s3cret",
            "catalog_group_size": 1,
        }
        # a type-132 server ID is not a platform: refused with a message
        r = await api.post("/api/cascade/uppers", json=base | {"server_id": "34020000001320000001"})
        assert r.status_code == 400 and "type 200" in r.json()["detail"]
        r = await api.post("/api/cascade/uppers", json=base)
        assert r.status_code == 201, r.text
        up = r.json()
        assert "password" not in up and up["password_set"] is True
        assert up["local_id"] == node.settings.sip.id and up["realm"] == UPPER_DOMAIN
        uid = up["id"]

        await eventually(lambda: bool(upper.registers), 10)

        async def registered() -> bool:
            return (await api.get(f"/api/cascade/uppers/{uid}")).json()["state"] == "registered"

        await eventually(registered, 10)

        # share only the first camera explicitly
        pk1, pk2 = cams[0].pk, cams[1].pk
        r = await api.put(f"/api/cascade/uppers/{uid}/channels", json={"channels": [pk1]})
        assert r.status_code == 200 and [c["channel_pk"] for c in r.json()["items"]] == [pk1]
        custom = "34020000001310099999"
        r = await api.patch(
            f"/api/cascade/uppers/{uid}/channels/{pk1}",
            json={"custom_id": custom, "custom_name": "东门"},
        )
        assert r.status_code == 200 and r.json()["exposed_id"] == custom
        # a rule shares the second one too; its real ID cannot be reused as a custom ID
        r = await api.put(
            f"/api/cascade/uppers/{uid}/channels",
            json={"channels": [pk1], "device_ids": [cams[1].device.device_id]},
        )
        by_pk = {c["channel_pk"]: c for c in r.json()["items"]}
        assert set(by_pk) == {pk1, pk2}
        # the listing tells the overrides apart from the real values (the console edits them)
        assert (by_pk[pk1]["custom_id"], by_pk[pk1]["custom_name"]) == (custom, "东门")
        assert (by_pk[pk2]["custom_id"], by_pk[pk2]["custom_name"]) == (None, None)
        assert by_pk[pk2]["exposed_id"] == by_pk[pk2]["channel_id"]
        r = await api.patch(f"/api/cascade/uppers/{uid}/channels/{pk2}", json={"custom_id": custom})
        assert r.status_code == 409, r.text
        assert (await api.get(f"/api/cascade/uppers/{uid}")).json()["shared_channel_count"] == 2

        # Catalog: one item a part, SumNum exact, custom ID and name, region nodes present
        upper.messages.clear()
        sip_port = node.stack.port
        r2 = await upper.ask(
            sip_port, node.settings.sip.id, manscdp.query("Catalog", 77, node.settings.sip.id)
        )
        assert r2.status == 200
        await eventually(lambda: sum(1 for m in upper.messages if m.sn == 77) >= 1, 10)

        def parts() -> list[manscdp.ManscdpMessage]:
            return [m for m in upper.messages if m.cmd_type == "Catalog" and m.sn == 77]

        await eventually(lambda: parts() and len(parts()) == parts()[0].sum_num, 10)
        items = [i for m in parts() for i in m.items]
        assert all(len(m.items) == 1 for m in parts())
        ids = {i["DeviceID"]: i for i in items}
        assert custom in ids and ids[custom]["Name"] == "东门"
        assert cams[0].channel["channel_id"] not in ids  # its real ID does not leak
        assert cams[1].channel["channel_id"] in ids

        # Catalog SUBSCRIBE: 200 with Expires, then NOTIFY OFF (under the custom ID)
        sub = upper.stack.build_request(
            "SUBSCRIBE",
            f"sip:{node.settings.sip.id}@127.0.0.1:{sip_port}",
            from_uri=f"sip:{UPPER_ID}@{UPPER_DOMAIN}",
            to_uri=f"sip:{node.settings.sip.id}@3402000000",
            contact=f"sip:{UPPER_ID}@127.0.0.1:{upper.stack.port}",
            headers=[("Event", "Catalog"), ("Expires", "600")],
            body=manscdp.query("Catalog", 80, node.settings.sip.id),
            content_type="Application/MANSCDP+xml",
        )
        r5 = await upper.stack.request(sub, Peer("udp", "127.0.0.1", sip_port))
        assert r5.status == 200 and r5.headers.get("Expires") == "600"
        await cams[0].device.set_channel_status(cams[0].channel["channel_id"], "OFF")

        def off_notified() -> bool:
            return any(
                i.get("DeviceID") == custom and i.get("Event") == "OFF"
                for m in upper.notifies
                for i in m.items
            )

        await eventually(off_notified, 10)

        # Alarm SUBSCRIBE: 200 with Expires, then a device alarm comes up under the custom ID
        asub = upper.stack.build_request(
            "SUBSCRIBE",
            f"sip:{node.settings.sip.id}@127.0.0.1:{sip_port}",
            from_uri=f"sip:{UPPER_ID}@{UPPER_DOMAIN}",
            to_uri=f"sip:{node.settings.sip.id}@3402000000",
            contact=f"sip:{UPPER_ID}@127.0.0.1:{upper.stack.port}",
            headers=[("Event", "Alarm"), ("Expires", "600")],
            body=manscdp.query("Alarm", 81, node.settings.sip.id),
            content_type="Application/MANSCDP+xml",
        )
        r6 = await upper.stack.request(asub, Peer("udp", "127.0.0.1", sip_port))
        assert r6.status == 200 and r6.headers.get("Expires") == "600"
        await cams[0].device.send_alarm(cams[0].channel["channel_id"])

        def alarm_up() -> bool:
            return any(
                m.cmd_type == "Alarm" and m.root == "Notify" and m.device_id == custom
                for m in upper.messages
            )

        await eventually(alarm_up, 10)
        assert not any(
            m.cmd_type == "Alarm" and m.device_id == cams[0].channel["channel_id"]
            for m in upper.messages
        )

        # a channel that is not shared (or unknown) → 404, nothing sent back
        upper.messages.clear()
        r = await api.put(f"/api/cascade/uppers/{uid}/channels", json={"channels": [pk1]})
        r3 = await upper.ask(
            sip_port,
            cams[1].channel["channel_id"],
            manscdp.query("DeviceInfo", 78, cams[1].channel["channel_id"]),
        )
        assert r3.status == 404
        r4 = await upper.ask(sip_port, custom, manscdp.query("DeviceStatus", 79, custom))
        assert r4.status == 200
        await eventually(lambda: any(m.sn == 79 for m in upper.messages), 10)
        assert not any(m.sn == 78 for m in upper.messages)

        # non-admins cannot touch uppers
        r = await api.post(
            "/api/users", json={"username": "op", "password": "op-pass-123", "role": "operator"}
        )
        assert r.status_code in (200, 201), r.text
        op = await login(node, "op", "op-pass-123")
        assert (await op.get("/api/cascade/uppers")).status_code == 403
        await op.aclose()

        # delete: unregister (Expires 0) and gone
        before = len(upper.registers)
        r = await api.delete(f"/api/cascade/uppers/{uid}")
        assert r.status_code == 204
        await eventually(lambda: len(upper.registers) > before, 5)
        assert upper.registers[-1].headers.get("Expires") == "0"
        assert (await api.get(f"/api/cascade/uppers/{uid}")).status_code == 404
        for c in cams:
            await c.fleet.stop()
    finally:
        await upper.stack.stop()
        await api.aclose()
