"""Clock check (校时) against a simulated device whose DeviceTime is off."""

from __future__ import annotations

from .conftest import NodeFactory, login
from .devices_helpers import eventually, fleet_for, ipc


async def test_clock_drift_is_recorded_and_alarmed(make_node: NodeFactory) -> None:
    node = await make_node(health={"clock_check_on_register": True})
    api = await login(node)
    fleet = fleet_for(node)
    good = fleet.add(ipc(1))
    cfg = ipc(2, clock_drift_s=120.0)
    cfg.video_faults[cfg.channels[0].channel_id] = "clock_drift"
    bad = fleet.add(cfg)
    await fleet.start()
    try:
        assert await fleet.register_all() == {200: 2}

        async def alarmed() -> bool:
            r = await api.get("/api/health/alarms", params={"kind": "clock_drift"})
            return bool(r.json()["items"])

        await eventually(alarmed, 20)  # checked by itself once the device came online
        [a] = (await api.get("/api/health/alarms", params={"kind": "clock_drift"})).json()["items"]
        assert a["device_id"] == bad.device_id and 115 <= a["detail"]["drift_s"] <= 125
        r = await api.post(f"/api/health/clock/{good.device_id}")
        assert r.status_code == 200, r.text
        assert r.json()["ok"] is True and abs(r.json()["drift_s"]) < 5
        bad.set_video_fault(cfg.channels[0].channel_id, None)  # someone set its clock
        r = await api.post(f"/api/health/clock/{bad.device_id}")
        assert r.json()["ok"] is True
        [a] = (await api.get("/api/health/alarms", params={"kind": "clock_drift"})).json()["items"]
        assert a["state"] == "recovered"
        assert (await api.post("/api/health/clock/34020000001329999999")).status_code == 404
    finally:
        await fleet.stop()
        await api.aclose()
