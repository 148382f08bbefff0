"""VQD: every video fault of the simulator is found on its channel, healthy channels
pass, thresholds are the configuration's, and a re-check clears a transient fault.

The first test diagnoses the simulator's own H.264 (encoded by PyAV, decoded back);
the second drives the node end to end: simulated cameras over SIP/RTP, frames taken
through the snapshot path by a patrol started with ``POST /api/vqd/runs``.
"""

from __future__ import annotations

import time
from typing import Any

import av
import numpy as np
import pytest

from sharpeyes.health.settings import VqdThresholds
from sharpeyes.health.vqd import Verdict, diagnose
from sharpeyes.sim.media import SimMediaConfig

from .conftest import NodeFactory, login
from .devices_helpers import eventually, fleet_for, ipc
from .live_helpers import FAST

EXPECTED = {
    "black": "dark",
    "bright": "bright",
    "low_contrast": "low_contrast",
    "frozen": "freeze",
    "blur": "blur",
    "color_cast": "color_cast",
    "noise": "noise",
    "occlusion": "occlusion",
    "scene_moved": "scene_change",
}


def _decode(cfg: SimMediaConfig, seed: int, fault: str) -> list[np.ndarray]:
    ctx = av.CodecContext.create("h264", "r")
    out = []
    for f in cfg.clip(seed, fault):
        for pkt in ctx.parse(f.data):
            out += [fr.to_ndarray(format="bgr24") for fr in ctx.decode(pkt)]
    return out


@pytest.mark.parametrize("seed", [1, 4])
def test_each_simulated_picture_fault_is_named_and_healthy_passes(seed: int) -> None:
    cfg = SimMediaConfig()
    t = VqdThresholds()
    healthy = _decode(cfg, seed, "")
    baseline = healthy[30]
    d = diagnose([healthy[0], healthy[25]], t, baseline=baseline)
    assert d.verdict == Verdict.OK and d.faults == [], d.scores
    for fault, kind in EXPECTED.items():
        frames = _decode(cfg, seed, fault)
        d = diagnose([frames[0], frames[25]], t, baseline=baseline)
        assert [f.value for f in d.faults] == [kind], (fault, d.scores)
        assert set(d.scores) >= {"signal_loss", "dark", "blur", "noise", "color_cast"}
    assert diagnose([], t).faults == ["signal_loss"]
    assert diagnose([], t, reachable=False).verdict == Verdict.UNREACHABLE
    # PTZ: a move that changes nothing vs one that does
    moved = _decode(cfg, seed + 1000, "")
    assert diagnose(healthy[:1], t, ptz_pair=(healthy[0], healthy[0])).faults == [
        "ptz_unresponsive"
    ]
    assert diagnose(healthy[:1], t, ptz_pair=(healthy[0], moved[0])).faults == []


def test_thresholds_come_from_configuration() -> None:
    cfg = SimMediaConfig()
    black = _decode(cfg, 2, "black")
    blur = _decode(cfg, 2, "blur")
    assert diagnose(black[:2], VqdThresholds()).faults == ["dark"]
    lenient = VqdThresholds(
        dark_luma_max=-1.0,
        low_contrast_std_max=0.0,
        blur_sharpness_min=0.0,
        occlusion_area_max=1.0,
        freeze_diff_max=-1.0,
    )
    assert diagnose(black[:2], lenient).faults == []
    strict = VqdThresholds(blur_sharpness_min=1e6)
    healthy = _decode(cfg, 2, "")
    assert "blur" in diagnose(healthy[:2], strict).faults
    assert "blur" not in diagnose(blur[:2], VqdThresholds(blur_sharpness_min=1.0)).faults


E2E_FAULTS = ["", "black", "frozen", "blur", "color_cast", "noise", "occlusion", "no_video"]


async def _run(
    api: Any, node: Any, pks: list[int], checks: list[str] | None = None
) -> list[dict[str, Any]]:
    body: dict[str, Any] = {"channels": pks}
    if checks is not None:
        body["checks"] = checks
    r = await api.post("/api/vqd/runs", json=body)
    assert r.status_code == 202, r.text
    run = r.json()
    assert set(run) >= {"run_id", "job_id"}
    await node.jobs.wait(run["job_id"])
    job = (await api.get(f"/api/jobs/{run['job_id']}")).json()
    assert job["state"] == "done" and job["progress"] == 1.0, job
    r = await api.get("/api/vqd/results", params={"run_id": run["run_id"]})
    return r.json()["items"]  # type: ignore[no-any-return]


def _final(items: list[dict[str, Any]], pk: int) -> dict[str, Any]:
    mine = [i for i in items if i["channel"] == pk]
    return max(mine, key=lambda i: (i["rechecked"], i["at"], i["id"]))


@pytest.mark.slow
async def test_patrol_finds_each_fault_on_its_channel_and_recheck_clears(
    make_node: NodeFactory,
) -> None:
    node = await make_node(
        media=FAST,
        health={"vqd_recheck_delay_s": 0.3, "patrol_concurrency": 4, "patrol_spacing_s": 0.05},
    )
    api = await login(node)
    fleet = fleet_for(node)
    cams = []
    for n, fault in enumerate([*E2E_FAULTS, ""], start=1):  # the last one: transient fault
        cfg = ipc(n, media=SimMediaConfig())
        if fault:
            cfg.video_faults[cfg.channels[0].channel_id] = fault
        cams.append(fleet.add(cfg))
    await fleet.start()
    try:
        assert await fleet.register_all() == {200: len(cams)}

        async def all_listed() -> bool:
            r = await api.get("/api/channels", params={"online": True, "limit": 100})
            return r.json()["total"] == len(cams)

        await eventually(all_listed, 20)
        items = (await api.get("/api/channels", params={"limit": 100})).json()["items"]
        pk = {c["channel_id"]: c["id"] for c in items}
        pks = [pk[d.channels[0].channel_id] for d in cams]

        t0 = time.monotonic()
        results = await _run(api, node, pks[: len(E2E_FAULTS)])
        print(f"patrol of {len(E2E_FAULTS)} channels: {time.monotonic() - t0:.1f} s")
        for fault, p in zip(E2E_FAULTS, pks, strict=False):
            final = _final(results, p)
            expected = {"": [], "no_video": ["signal_loss"]}.get(fault, [EXPECTED.get(fault)])
            assert final["faults"] == expected, (fault, final)
            assert final["verdict"] == ("fault" if expected else "ok")
            assert final["rechecked"] is bool(expected)  # abnormal points were looked at again
            assert set(final) >= {
                "channel",
                "channel_id",
                "verdict",
                "faults",
                "scores",
                "thumbnail_url",
                "at",
            }
        healthy = _final(results, pks[0])
        r = await api.get(healthy["thumbnail_url"])
        assert r.status_code == 200 and r.content.startswith(b"\xff\xd8")
        alarms = (await api.get("/api/health/alarms", params={"kind": "vqd_fault"})).json()
        assert {a["channel_id"] for a in alarms["items"]} == {
            d.channels[0].channel_id for d, f in zip(cams, E2E_FAULTS, strict=False) if f
        }
        faults = (await api.get("/api/vqd/results", params={"verdict": "fault"})).json()["items"]
        assert faults and all(i["verdict"] == "fault" for i in faults)

        # A transient fault: black at the first look, healed before the re-check.
        node.health.settings.vqd_recheck_delay_s = 4.0
        last = cams[-1]
        cid = last.channels[0].channel_id
        await _run(api, node, [pk[cid]])  # healthy first: gives the baseline
        last.set_video_fault(cid, "black")

        async def no_session() -> bool:
            return not any(s.key.channel_id == cid for s in node.live.sessions.values())

        await eventually(no_session, 10)
        r = await api.post("/api/vqd/runs", json={"channels": [pk[cid]]})
        run = r.json()

        async def first_look_fault() -> bool:
            got = await api.get("/api/vqd/results", params={"run_id": run["run_id"]})
            return any(i["verdict"] == "fault" for i in got.json()["items"])

        await eventually(first_look_fault, 15)
        last.set_video_fault(cid, None)
        await eventually(no_session, 10)
        await node.jobs.wait(run["job_id"])
        got = (await api.get("/api/vqd/results", params={"run_id": run["run_id"]})).json()
        assert [(i["verdict"], i["rechecked"]) for i in reversed(got["items"])] == [
            ("fault", False),
            ("ok", True),
        ]
        assert not any(
            a["channel_id"] == cid
            for a in (await api.get("/api/health/alarms", params={"kind": "vqd_fault"})).json()[
                "items"
            ]
        )

        # The camera is turned (set at run time): scene change against its baseline.
        last.set_video_fault(cid, "scene_moved")
        node.health.settings.vqd_recheck_delay_s = 0.3
        await eventually(no_session, 10)
        moved = _final(await _run(api, node, [pk[cid]]), pk[cid])
        assert moved["faults"] == ["scene_change"], moved
    finally:
        await fleet.stop()
        await api.aclose()


@pytest.mark.slow
async def test_ptz_probe_flags_a_dome_that_ignores_ptz_and_passes_one_that_moves(
    make_node: NodeFactory,
) -> None:
    """End to end: a real PTZCmd over SIP to simulated domes; one ignores it (its picture
    stays put), the other turns (the simulator shows another scene)."""
    node = await make_node(
        media=FAST,
        health={"vqd_recheck_delay_s": 0.3, "patrol_concurrency": 2, "patrol_spacing_s": 0.05},
    )
    api = await login(node)
    fleet = fleet_for(node)
    cams = []
    for n, fault in enumerate(["", "ptz_ignored"], start=1):
        cfg = ipc(n, media=SimMediaConfig())
        cfg.channels[0].ptz_type = 1  # a dome: the patrol tries PTZ on it
        if fault:
            cfg.video_faults[cfg.channels[0].channel_id] = fault
        cams.append(fleet.add(cfg))
    await fleet.start()
    try:
        assert await fleet.register_all() == {200: 2}

        async def listed() -> bool:
            r = await api.get("/api/channels", params={"online": True, "limit": 10})
            return r.json()["total"] == 2

        await eventually(listed, 20)
        items = (await api.get("/api/channels", params={"limit": 10})).json()["items"]
        pk = {c["channel_id"]: c["id"] for c in items}
        pks = [pk[d.channels[0].channel_id] for d in cams]
        # without ptz_unresponsive among the checks nobody's camera is moved
        plain = await _run(api, node, pks)
        assert all(_final(plain, p)["faults"] == [] for p in pks)
        assert not any(d.ptz_log for d in cams)
        results = await _run(api, node, pks, ["freeze", "scene_change", "ptz_unresponsive"])
        moving, ignoring = (_final(results, p) for p in pks)
        assert moving["faults"] == [] and moving["verdict"] == "ok", moving
        assert ignoring["faults"] == ["ptz_unresponsive"], ignoring
        assert "ptz_unresponsive" in ignoring["scores"]
        # the commands really reached both devices over SIP (left, then stop)
        for d in cams:
            actions = [a for ch, _hex, a in d.ptz_log if ch == d.channels[0].channel_id]
            assert "stop" in actions and any(a != "stop" for a in actions), actions
        assert cams[0].ptz_moves.get(cams[0].channels[0].channel_id)
        assert not cams[1].ptz_moves.get(cams[1].channels[0].channel_id)
    finally:
        await fleet.stop()
        await api.aclose()
