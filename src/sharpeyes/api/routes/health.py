"""Unauthenticated liveness probe, and the node's counters for operators."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter

from sharpeyes import __version__
from sharpeyes.api.deps import DevicesDep, NodeDep, Reader

router = APIRouter(tags=["health"])


@router.get("/api/health")
async def health(node: NodeDep) -> dict[str, Any]:
    """No authentication on purpose: load balancers and monitors call it."""
    return {
        "status": "ok",
        "version": __version__,
        "uptime_s": round(time.time() - node.started_at, 1),
    }


@router.get("/api/stats")
async def stats(principal: Reader, node: NodeDep) -> dict[str, Any]:
    counts = await node.devices.counts(principal)
    if principal.base_regions is not None or principal.channel_limit is not None:
        # A scoped user or app gets the counts of its scope, not the node's internals
        # (SIP traffic, registrar outcomes, other regions' device IDs in interop counters).
        return counts
    components = node.lifecycle.stats()  # each component's own stats(), by name
    return {
        **counts,
        "sip": components.get("sip", {}),
        "sip_latency": node.stack.latency_percentiles(),
        "loop_lag": components.get("loop_lag", node.loop_lag_ms()),
        "devices_in_memory": len(node.registry.devices),
        "registrar": components.get("registrar", {}),
        "messaging": components.get("messaging", {}),
        "interop": node.interop.snapshot(),
        "components": components,
    }


@router.get("/api/stats/regions")
async def stats_by_region(principal: Reader, devices: DevicesDep) -> dict[str, Any]:
    """Camera channels online/offline per civil code (``""``: channels without one)."""
    return {"items": await devices.channel_counts_by_civil_code(principal)}
