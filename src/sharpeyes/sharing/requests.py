"""Share requests with dual review (双把关) and the grants they create (按需共享·授权使用).

States: draft → submitted → approved | rejected; withdrawn; expired; revoked.
A request needs an *approve* from both stages — police (``reviewer_police``) and
data bureau (``reviewer_data``), in either order; one *reject* rejects it. A
reviewer may only decide their own stage, never on their own request. Approval
resolves the channel set (explicit pks plus the selector, evaluated at that
moment) into a grant for the requester's organisation.

Grants count only inside ``[starts_at, ends_at)`` (checked on every request, see
``sharing.grants``); :meth:`ShareService.sweep` marks the expired ones every few
seconds and ends streams open under them, as does :meth:`ShareService.revoke`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select

from sharpeyes.audit.service import SYSTEM, Actor
from sharpeyes.audit.service import record as audit_record
from sharpeyes.events import EventBus
from sharpeyes.sharing.models import (
    GrantState,
    RequestState,
    ReviewStage,
    ShareGrant,
    ShareRequest,
    ShareReview,
)
from sharpeyes.sharing.principal import Permission, Principal, Right, Role, has_permission
from sharpeyes.store.db import Database
from sharpeyes.store.models import Channel, ChannelKind, utcnow

log = logging.getLogger(__name__)

STAGE_ROLE = {ReviewStage.POLICE: Role.REVIEWER_POLICE, ReviewStage.DATA: Role.REVIEWER_DATA}
MAX_CHANNELS = 10_000
SWEEP_S = 5.0

GrantEnded = Callable[[ShareGrant, str], Awaitable[None]]


class RequestNotFound(LookupError):
    pass


class GrantNotFound(LookupError):
    pass


class StateConflict(Exception):
    """The request or grant is not in a state that allows this (HTTP 409)."""


def request_dict(r: ShareRequest, reviews: list[ShareReview] | None = None) -> dict[str, Any]:
    return {
        "id": r.id,
        "title": r.title,
        "purpose": r.purpose,
        "requester_id": r.requester_id,
        "requester_org_id": r.requester_org_id,
        "channels": r.channels,
        "selector": r.selector,
        "rights": r.rights,
        "starts_at": r.starts_at,
        "ends_at": r.ends_at,
        "attachments": r.attachments,
        "state": r.state,
        "reviews": [
            {
                "stage": v.stage,
                "decision": v.decision,
                "reviewer_id": v.reviewer_id,
                "comment": v.comment,
                "at": v.at,
            }
            for v in reviews or []
        ],
        "created_at": r.created_at,
    }


def grant_dict(g: ShareGrant, now: datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    state = g.state
    if state == GrantState.ACTIVE.value and g.ends_at <= now:
        state = GrantState.EXPIRED.value  # the sweeper has not caught up yet
    return {
        "id": g.id,
        "request_id": g.request_id,
        "org_id": g.org_id,
        "channels": g.channels,
        "rights": g.rights,
        "starts_at": g.starts_at,
        "ends_at": g.ends_at,
        "state": state,
        "ended_reason": g.ended_reason,
        "seconds_left": max(0, int((g.ends_at - now).total_seconds()))
        if state == GrantState.ACTIVE.value
        else 0,
    }


def _check_selector(sel: dict[str, Any] | None) -> dict[str, Any] | None:
    if not sel:
        return None
    allowed = {"civil_code_prefixes", "point_classes", "categories", "org_ids"}
    unknown = set(sel) - allowed
    if unknown:
        raise ValueError(f"unknown selector keys {sorted(unknown)}")
    out: dict[str, Any] = {}
    for k, v in sel.items():
        if v is None:
            continue
        if not isinstance(v, list) or len(v) > 1000:
            raise ValueError(f"selector.{k} must be a list")
        if k == "civil_code_prefixes" and not all(
            isinstance(c, str) and c.isdigit() and 1 <= len(c) <= 20 for c in v
        ):
            raise ValueError("selector.civil_code_prefixes must be digit strings")
        if k in ("point_classes", "org_ids") and not all(
            isinstance(c, int) and not isinstance(c, bool) for c in v
        ):
            raise ValueError(f"selector.{k} must be integers")
        if k == "categories" and not all(isinstance(c, str) for c in v):
            raise ValueError("selector.categories must be strings")
        if v:
            out[k] = v
    return out or None


class ShareService:
    def __init__(self, db: Database, bus: EventBus) -> None:
        self.db = db
        self.bus = bus
        self.on_grant_ended: GrantEnded | None = None
        self._task: asyncio.Task[None] | None = None

    # ---------------------------------------------------------- lifecycle
    def start(self) -> None:
        self._task = asyncio.create_task(self._sweep_loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _sweep_loop(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_S)
            try:
                await self.sweep()
            except Exception:
                log.exception("grant sweep failed")

    async def org_name(self, org_id: int | None) -> str | None:
        from sharpeyes.ledger.models import Organisation

        if org_id is None:
            return None
        async with self.db.session() as s:
            org = await s.get(Organisation, org_id)
            return None if org is None else org.name

    # ------------------------------------------------------------ requests
    async def create(
        self,
        principal: Principal,
        *,
        title: str,
        purpose: str,
        requester_org_id: int | None,
        channels: list[int],
        selector: dict[str, Any] | None,
        rights: list[str],
        starts_at: datetime,
        ends_at: datetime,
        attachments: list[Any] | None = None,
        draft: bool = False,
        client_ip: str | None = None,
    ) -> ShareRequest:
        if principal.role not in (Role.ADMIN,) and requester_org_id != principal.org_id:
            raise PermissionError("you can only request for your own organisation")
        if requester_org_id is None:
            raise ValueError("requester_org_id is required (the user has no organisation)")
        if ends_at <= starts_at:
            raise ValueError("ends_at must be after starts_at")
        if ends_at <= utcnow():
            raise ValueError("ends_at is in the past")
        sel = _check_selector(selector)
        if not channels and not sel:
            raise ValueError("give channels and/or a selector")
        if len(channels) > MAX_CHANNELS:
            raise ValueError(f"at most {MAX_CHANNELS} channels")
        rights_v = sorted({Right(r).value for r in rights})
        if not rights_v:
            raise ValueError("rights must not be empty")
        req = ShareRequest(
            title=title,
            purpose=purpose,
            requester_id=principal.user_id,
            requester_org_id=requester_org_id,
            channels=sorted({int(c) for c in channels}),
            selector=sel,
            rights=rights_v,
            starts_at=starts_at,
            ends_at=ends_at,
            attachments=attachments,
            state=(RequestState.DRAFT if draft else RequestState.SUBMITTED).value,
        )
        async with self.db.session() as s:
            s.add(req)
            await s.flush()
            await audit_record(
                s,
                Actor.of(principal),
                "share.request",
                "share_request",
                req.id,
                client_ip=client_ip,
                detail={"state": req.state, "rights": rights_v, "channels": len(req.channels)},
            )
            await s.commit()
            return req

    def _may_see_request(self, principal: Principal, r: ShareRequest) -> bool:
        if has_permission(principal, Permission.SHARING_ADMIN):
            return True
        if has_permission(principal, Permission.SHARING_REVIEW):
            return r.state != RequestState.DRAFT.value
        return r.requester_id == principal.user_id or (
            principal.org_id is not None and r.requester_org_id == principal.org_id
        )

    async def get(self, principal: Principal, request_id: int) -> dict[str, Any]:
        async with self.db.session() as s:
            r = await s.get(ShareRequest, request_id)
            if r is None or not self._may_see_request(principal, r):
                raise RequestNotFound(request_id)
            reviews = list(
                await s.scalars(select(ShareReview).where(ShareReview.request_id == r.id))
            )
            return request_dict(r, reviews)

    async def list(
        self, principal: Principal, *, box: str = "mine", state: str | None = None
    ) -> list[dict[str, Any]]:
        """``box``: mine (own organisation's), review (awaiting my stage), all (admin)."""
        stmt = select(ShareRequest).order_by(ShareRequest.id.desc()).limit(500)
        if box == "review":
            if principal.role not in STAGE_ROLE.values() and principal.role != Role.ADMIN:
                raise PermissionError("only reviewers have a review queue")
            stmt = stmt.where(ShareRequest.state == RequestState.SUBMITTED.value)
        elif box == "all":
            if not has_permission(principal, Permission.SHARING_ADMIN):
                raise PermissionError("only admins see every request")
        else:
            cond = ShareRequest.requester_id == principal.user_id
            if principal.org_id is not None:
                cond = or_(cond, ShareRequest.requester_org_id == principal.org_id)
            stmt = stmt.where(cond)
        if state:
            stmt = stmt.where(ShareRequest.state == state)
        async with self.db.session() as s:
            rows = list(await s.scalars(stmt))
            ids = [r.id for r in rows]
            reviews: dict[int, list[ShareReview]] = {}
            if ids:
                for v in await s.scalars(
                    select(ShareReview).where(ShareReview.request_id.in_(ids))
                ):
                    reviews.setdefault(v.request_id, []).append(v)
        out = []
        for r in rows:
            revs = reviews.get(r.id, [])
            if box == "review" and principal.role != Role.ADMIN:
                stage = next(st for st, role in STAGE_ROLE.items() if role == principal.role)
                if any(v.stage == stage.value for v in revs) or r.requester_id == principal.user_id:
                    continue
            out.append(request_dict(r, revs))
        return out

    async def submit(self, principal: Principal, request_id: int) -> dict[str, Any]:
        return await self._transition(
            principal, request_id, RequestState.DRAFT, RequestState.SUBMITTED, "share.submit"
        )

    async def withdraw(self, principal: Principal, request_id: int) -> dict[str, Any]:
        return await self._transition(
            principal,
            request_id,
            (RequestState.DRAFT, RequestState.SUBMITTED),
            RequestState.WITHDRAWN,
            "share.withdraw",
        )

    async def _transition(
        self,
        principal: Principal,
        request_id: int,
        from_: RequestState | tuple[RequestState, ...],
        to: RequestState,
        action: str,
    ) -> dict[str, Any]:
        allowed = {from_.value} if isinstance(from_, RequestState) else {f.value for f in from_}
        async with self.db.session() as s:
            r = await s.get(ShareRequest, request_id)
            if r is None or not self._may_see_request(principal, r):
                raise RequestNotFound(request_id)
            if r.requester_id != principal.user_id and principal.role != Role.ADMIN:
                raise PermissionError("only the requester can do this")
            if r.state not in allowed:
                raise StateConflict(f"request is {r.state}")
            r.state = to.value
            await audit_record(s, Actor.of(principal), action, "share_request", r.id)
            await s.commit()
            return request_dict(r)

    async def review(
        self,
        principal: Principal,
        request_id: int,
        *,
        stage: str,
        decision: str,
        comment: str | None,
        client_ip: str | None = None,
    ) -> dict[str, Any]:
        """One stage's decision; the second approve creates the grant."""
        st = ReviewStage(stage)
        if decision not in ("approve", "reject"):
            raise ValueError("decision must be approve or reject")
        if principal.role != STAGE_ROLE[st]:
            raise PermissionError(f"only a {STAGE_ROLE[st].value} may review the {st.value} stage")
        async with self.db.session() as s:
            r = await s.get(ShareRequest, request_id)
            if r is None or r.state == RequestState.DRAFT.value:
                raise RequestNotFound(request_id)
            if r.requester_id == principal.user_id:
                raise PermissionError("a requester cannot review their own request")
            if r.state != RequestState.SUBMITTED.value:
                raise StateConflict(f"request is {r.state}")
            done = list(await s.scalars(select(ShareReview).where(ShareReview.request_id == r.id)))
            if any(v.stage == st.value for v in done):
                raise StateConflict(f"the {st.value} stage has already been reviewed")
            review = ShareReview(
                request_id=r.id,
                stage=st.value,
                decision=decision,
                reviewer_id=principal.user_id,
                comment=comment,
            )
            s.add(review)
            done.append(review)
            await audit_record(
                s,
                Actor.of(principal),
                "share.review",
                "share_request",
                r.id,
                client_ip=client_ip,
                detail={"stage": st.value, "decision": decision},
            )
            grant: ShareGrant | None = None
            if decision == "reject":
                r.state = RequestState.REJECTED.value
            elif {v.stage for v in done if v.decision == "approve"} == {
                x.value for x in ReviewStage
            }:
                r.state = RequestState.APPROVED.value
                channels = await self._resolve(s, r)
                grant = ShareGrant(
                    request_id=r.id,
                    org_id=r.requester_org_id,
                    channels=channels,
                    rights=r.rights,
                    starts_at=r.starts_at,
                    ends_at=r.ends_at,
                    state=GrantState.ACTIVE.value,
                )
                s.add(grant)
                await s.flush()
                await audit_record(
                    s,
                    SYSTEM,
                    "share.grant",
                    "share_grant",
                    grant.id,
                    detail={
                        "request_id": r.id,
                        "org_id": r.requester_org_id,
                        "channels": channels,
                        "rights": r.rights,
                        "ends_at": r.ends_at.isoformat(),
                    },
                )
            await s.commit()
            out = request_dict(r, done)
        if grant is not None:
            self.bus.publish(
                "grant.changed", id=grant.id, org_id=grant.org_id, state=GrantState.ACTIVE.value
            )
            out["grant_id"] = grant.id
        return out

    async def _resolve(self, s: Any, r: ShareRequest) -> list[int]:
        """Explicit channels plus the selector's, as they are right now (video channels only)."""
        pks = set(r.channels or [])
        sel = r.selector or {}
        if sel:
            from sharpeyes.ledger.models import CameraRecord

            stmt = select(Channel.id).where(Channel.kind == ChannelKind.CHANNEL.value)
            prefixes = sel.get("civil_code_prefixes")
            if prefixes:
                no_civil = or_(Channel.civil_code.is_(None), Channel.civil_code == "")
                stmt = stmt.where(
                    or_(
                        *(Channel.civil_code.startswith(p, autoescape=True) for p in prefixes),
                        and_(
                            no_civil,
                            or_(
                                *(
                                    Channel.channel_id.startswith(p, autoescape=True)
                                    for p in prefixes
                                )
                            ),
                        ),
                    )
                )
            ledger_filters = []
            if sel.get("point_classes"):
                ledger_filters.append(CameraRecord.point_class.in_(sel["point_classes"]))
            if sel.get("categories"):
                ledger_filters.append(CameraRecord.key_area_category.in_(sel["categories"]))
            if sel.get("org_ids"):
                ledger_filters.append(CameraRecord.owner_org_id.in_(sel["org_ids"]))
            if ledger_filters:
                stmt = stmt.join(CameraRecord, CameraRecord.code == Channel.channel_id).where(
                    *ledger_filters
                )
            pks.update(await s.scalars(stmt.limit(MAX_CHANNELS)))
        if r.channels:
            existing = set(await s.scalars(select(Channel.id).where(Channel.id.in_(r.channels))))
            pks = (pks - set(r.channels)) | existing
        return sorted(pks)

    # ------------------------------------------------------------ grants
    async def grants(
        self, principal: Principal, *, state: str | None = None
    ) -> list[dict[str, Any]]:
        stmt = select(ShareGrant).order_by(ShareGrant.id.desc()).limit(1000)
        if not has_permission(principal, Permission.SHARING_ADMIN):
            if principal.org_id is None:
                return []
            stmt = stmt.where(ShareGrant.org_id == principal.org_id)
        now = utcnow()
        async with self.db.session() as s:
            out = [grant_dict(g, now) for g in await s.scalars(stmt)]
        return [g for g in out if state is None or g["state"] == state]

    async def revoke(
        self, principal: Principal, grant_id: int, reason: str | None, client_ip: str | None = None
    ) -> dict[str, Any]:
        async with self.db.session() as s:
            g = await s.get(ShareGrant, grant_id)
            if g is None:
                raise GrantNotFound(grant_id)
            if g.state != GrantState.ACTIVE.value:
                raise StateConflict(f"grant is {g.state}")
            g.state = GrantState.REVOKED.value
            g.ended_reason = (reason or f"revoked by {principal.username}")[:200]
            r = await s.get(ShareRequest, g.request_id)
            if r is not None:
                r.state = RequestState.REVOKED.value
            await audit_record(
                s,
                Actor.of(principal),
                "share.revoke",
                "share_grant",
                g.id,
                client_ip=client_ip,
                detail={"reason": g.ended_reason},
            )
            await s.commit()
            out = grant_dict(g)
        await self._ended(g, "grant_revoked")
        return out

    async def sweep(self, now: datetime | None = None) -> int:
        """Mark grants past their end as expired and end their open streams."""
        now = now or utcnow()
        async with self.db.session() as s:
            rows = list(
                await s.scalars(
                    select(ShareGrant).where(
                        ShareGrant.state == GrantState.ACTIVE.value, ShareGrant.ends_at <= now
                    )
                )
            )
            for g in rows:
                g.state = GrantState.EXPIRED.value
                g.ended_reason = "expired"
                r = await s.get(ShareRequest, g.request_id)
                if r is not None and r.state == RequestState.APPROVED.value:
                    r.state = RequestState.EXPIRED.value
                await audit_record(s, SYSTEM, "share.expire", "share_grant", g.id)
            await s.commit()
        for g in rows:
            await self._ended(g, "grant_expired")
        return len(rows)

    async def _ended(self, g: ShareGrant, reason: str) -> None:
        self.bus.publish("grant.changed", id=g.id, org_id=g.org_id, state=g.state, reason=reason)
        if self.on_grant_ended is not None:
            try:
                await self.on_grant_ended(g, reason)
            except Exception:
                log.exception("ending streams of grant %s failed", g.id)

    # ------------------------------------------------------------ statistics
    async def stats(self) -> dict[str, Any]:
        """共享率 per region and organisation, requests by state, usage per grant."""
        from sharpeyes.audit.models import AuditEvent
        from sharpeyes.ledger.models import CameraRecord

        now = utcnow()
        async with self.db.session() as s:
            by_state = dict(
                (
                    await s.execute(
                        select(ShareRequest.state, func.count()).group_by(ShareRequest.state)
                    )
                ).all()
            )
            grants = list(await s.scalars(select(ShareGrant)))
            shared: set[int] = set()
            for g in grants:
                if g.state == GrantState.ACTIVE.value and g.starts_at <= now < g.ends_at:
                    shared.update(g.channels or [])
            chans = (
                await s.execute(
                    select(
                        Channel.id,
                        Channel.civil_code,
                        Channel.channel_id,
                        CameraRecord.shareable,
                        CameraRecord.owner_org_id,
                    )
                    .outerjoin(CameraRecord, CameraRecord.code == Channel.channel_id)
                    .where(Channel.kind == ChannelKind.CHANNEL.value)
                )
            ).all()
            usage: dict[int, dict[str, Any]] = {}
            for g in grants:
                rows = (
                    await s.execute(
                        select(AuditEvent.action, AuditEvent.detail).where(
                            AuditEvent.org_id == g.org_id,
                            AuditEvent.at >= g.starts_at,
                            AuditEvent.at < g.ends_at + timedelta(minutes=1),
                            AuditEvent.action.in_(
                                (
                                    "live.play",
                                    "live.stop",
                                    "playback.play",
                                    "download",
                                    "export.clip",
                                )
                            ),
                        )
                    )
                ).all()
                views = downloads = 0
                seconds = 0.0
                for action, detail in rows:
                    d = json.loads(detail or "{}")
                    if d.get("channel_pk") not in (g.channels or []):
                        continue
                    if action in ("live.play", "playback.play"):
                        views += 1
                    elif action in ("download", "export.clip"):
                        downloads += 1
                    elif action == "live.stop":
                        seconds += float(d.get("watched_s") or 0)
                usage[g.id] = {
                    "grant_id": g.id,
                    "org_id": g.org_id,
                    "views": views,
                    "minutes": round(seconds / 60, 1),
                    "downloads": downloads,
                }
        region: dict[str, list[int]] = {}
        org: dict[str, list[int]] = {}
        for pk, civil, cid, shareable, owner in chans:
            if shareable is False:
                continue
            key = (civil or cid or "")[:6]
            for table, k in ((region, key), (org, str(owner) if owner is not None else "none")):
                cell = table.setdefault(k, [0, 0])
                cell[0] += 1
                cell[1] += 1 if pk in shared else 0

        def rate(table: dict[str, list[int]], name: str) -> list[dict[str, Any]]:
            return [
                {
                    name: k,
                    "shareable": v[0],
                    "shared": v[1],
                    "share_rate": round(v[1] / v[0], 4) if v[0] else 0.0,
                }
                for k, v in sorted(table.items())
            ]

        total = sum(v[0] for v in region.values())
        total_shared = sum(v[1] for v in region.values())
        return {
            "share_rate": round(total_shared / total, 4) if total else 0.0,
            "shareable": total,
            "shared": total_shared,
            "by_region": rate(region, "region"),
            "by_org": rate(org, "org_id"),
            "requests_by_state": by_state,
            "usage": list(usage.values()),
        }
