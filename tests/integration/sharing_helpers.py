"""Helpers for the sharing tests: users of every role, share requests, approvals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from sharpeyes.node import Node

from .conftest import login

PASSWORD = "Share-pass-1"
DEPT_ORG = 7


async def user(
    node: Node, name: str, role: str, *, org_id: int | None = None, regions: list[str] | None = None
) -> httpx.AsyncClient:
    await node.users.create_user(name, PASSWORD, role, region_codes=regions, org_id=org_id)
    return await login(node, name, PASSWORD)


def window(minutes_before: int = 1, minutes_after: int = 60) -> dict[str, str]:
    now = datetime.now(UTC)
    return {
        "starts_at": (now - timedelta(minutes=minutes_before)).isoformat(),
        "ends_at": (now + timedelta(minutes=minutes_after)).isoformat(),
    }


async def request_share(
    dept: httpx.AsyncClient, channels: list[int], rights: list[str], **extra: Any
) -> int:
    body = {
        "title": "交警 路口监控",
        "purpose": "traffic management",
        "channels": channels,
        "rights": rights,
        **window(),
        **extra,
    }
    r = await dept.post("/api/sharing/requests", json=body)
    assert r.status_code == 201, r.text
    assert r.json()["state"] == ("draft" if extra.get("draft") else "submitted")
    return int(r.json()["id"])


async def review(
    reviewer: httpx.AsyncClient, request_id: int, stage: str, decision: str = "approve"
) -> httpx.Response:
    return await reviewer.post(
        f"/api/sharing/requests/{request_id}/reviews",
        json={"stage": stage, "decision": decision, "comment": "ok"},
    )


async def approve(
    police: httpx.AsyncClient, data: httpx.AsyncClient, request_id: int
) -> dict[str, Any]:
    assert (await review(police, request_id, "police")).status_code == 200
    r = await review(data, request_id, "data")
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "approved"
    return r.json()


async def visible_channels(client: httpx.AsyncClient) -> set[int]:
    r = await client.get("/api/channels")
    assert r.status_code == 200, r.text
    return {int(c["id"]) for c in r.json()["items"]}
