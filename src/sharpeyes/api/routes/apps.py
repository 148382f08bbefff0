"""Open-API applications and their webhooks (admin); signed calls are in ``api.deps``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, Field

from sharpeyes.api.deps import AppsAdmin, NodeDep
from sharpeyes.api.params import Int64
from sharpeyes.audit.service import Actor
from sharpeyes.sharing.apps import AppNotFound
from sharpeyes.sharing.principal import Right

router = APIRouter(prefix="/api/apps", tags=["apps"])


class AppIn(BaseModel):
    name: str = Field(min_length=1, max_length=128)
    org_id: int | None = None
    rights: list[Right] = Field(min_length=1)
    channels: list[int] | None = Field(default=None, max_length=10_000)


class WebhookIn(BaseModel):
    url: str = Field(min_length=8, max_length=1024)
    events: list[str] = Field(min_length=1, max_length=20)


class AppPatch(BaseModel):
    disabled: bool


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_app(body: AppIn, principal: AppsAdmin, node: NodeDep) -> dict[str, Any]:
    """The secret is in this response only; it is stored encrypted and never shown again."""
    created = await node.apps.create(
        Actor.of(principal),
        name=body.name,
        org_id=body.org_id,
        rights=[r.value for r in body.rights],
        channels=body.channels,
    )
    return {"id": created.id, "app_key": created.app_key, "app_secret": created.app_secret}


@router.get("")
async def list_apps(principal: AppsAdmin, node: NodeDep) -> dict[str, Any]:
    items = await node.apps.list()
    return {"items": items, "total": len(items)}


@router.patch("/{app_id}")
async def patch_app(
    app_id: Int64, body: AppPatch, principal: AppsAdmin, node: NodeDep
) -> dict[str, Any]:
    try:
        return await node.apps.set_disabled(Actor.of(principal), app_id, body.disabled)
    except AppNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such app") from exc


@router.post("/{app_id}/rotate")
async def rotate_secret(app_id: Int64, principal: AppsAdmin, node: NodeDep) -> dict[str, Any]:
    try:
        created = await node.apps.rotate(Actor.of(principal), app_id)
    except AppNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such app") from exc
    return {"id": created.id, "app_key": created.app_key, "app_secret": created.app_secret}


@router.post("/{app_id}/webhooks", status_code=status.HTTP_201_CREATED)
async def add_webhook(
    app_id: Int64, body: WebhookIn, principal: AppsAdmin, node: NodeDep
) -> dict[str, Any]:
    try:
        return await node.apps.add_webhook(Actor.of(principal), app_id, body.url, body.events)
    except AppNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such app") from exc


@router.get("/{app_id}/webhooks")
async def list_webhooks(app_id: Int64, principal: AppsAdmin, node: NodeDep) -> dict[str, Any]:
    items = await node.apps.webhooks(app_id)
    return {"items": items, "total": len(items)}


@router.get("/{app_id}/deliveries")
async def list_deliveries(app_id: Int64, principal: AppsAdmin, node: NodeDep) -> dict[str, Any]:
    items = await node.apps.deliveries(app_id)
    return {"items": items, "total": len(items)}
