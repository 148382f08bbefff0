"""Open-API applications: keys, encrypted secrets, signed-request authentication,
and webhooks with signed, retried deliveries and a delivery log.

An app acts within its organisation's grants — only channels granted with the
``api`` right — narrowed by its own rights and optional channel list. An app of
an *admin organisation* (one with an active admin user) sees every channel.
Nonces are kept in ``app_nonces`` for the signature window, so a replay is
refused on every node sharing the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from sharpeyes.audit.service import Actor
from sharpeyes.audit.service import record as audit_record
from sharpeyes.events import Event, EventBus
from sharpeyes.sharing.grants import active_grants
from sharpeyes.sharing.models import App, AppNonce, Webhook, WebhookDelivery
from sharpeyes.sharing.principal import Principal, Right, Role
from sharpeyes.sharing.secretbox import SecretBox
from sharpeyes.sharing.signing import (
    MAX_SKEW_S,
    SignatureFailure,
    canonical_string,
    nonce_ok,
    sign,
    signature_ok,
    timestamp_ok,
)
from sharpeyes.store.db import Database
from sharpeyes.store.models import User, utcnow

log = logging.getLogger(__name__)

WEBHOOK_EVENTS = frozenset(
    {
        "device.online",
        "device.offline",
        "channel.online",
        "channel.offline",
        "alarm",
        "grant.changed",
    }
)
RETRY_DELAYS_S = (1.0, 4.0, 16.0)


class SignatureError(Exception):
    def __init__(self, reason: SignatureFailure) -> None:
        super().__init__(reason.value)
        self.reason = reason


class AppNotFound(LookupError):
    pass


@dataclass(frozen=True, slots=True)
class AppCreated:
    id: int
    app_key: str
    app_secret: str


def _rights(values: Iterable[str]) -> list[str]:
    out = []
    for v in values:
        out.append(Right(v).value)  # ValueError (400) on an unknown right
    return sorted(set(out))


def app_dict(app: App) -> dict[str, Any]:
    return {
        "id": app.id,
        "name": app.name,
        "org_id": app.org_id,
        "rights": app.rights,
        "channels": app.channels,
        "app_key": app.app_key,
        "disabled": app.disabled,
        "created_at": app.created_at,
    }


class AppService:
    def __init__(self, db: Database, bus: EventBus) -> None:
        self.db = db
        self.bus = bus
        self.secretbox: SecretBox | None = None
        self._task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self.retry_delays = RETRY_DELAYS_S
        self._http: Any = None

    # ------------------------------------------------------------ admin
    async def create(
        self,
        actor: Actor,
        *,
        name: str,
        org_id: int | None,
        rights: Iterable[str],
        channels: list[int] | None = None,
    ) -> AppCreated:
        assert self.secretbox is not None
        key = "se_" + secrets.token_hex(12)
        secret = secrets.token_urlsafe(32)
        app = App(
            name=name,
            org_id=org_id,
            rights=_rights(rights),
            channels=None if channels is None else sorted({int(c) for c in channels}),
            app_key=key,
            secret_enc=self.secretbox.seal(secret),
            disabled=False,
        )
        async with self.db.session() as s:
            s.add(app)
            await s.flush()
            await audit_record(
                s, actor, "app.create", "app", app.id, detail={"name": name, "org_id": org_id}
            )
            await s.commit()
            return AppCreated(app.id, key, secret)

    async def list(self) -> list[dict[str, Any]]:
        async with self.db.session() as s:
            return [app_dict(a) for a in await s.scalars(select(App).order_by(App.id))]

    async def set_disabled(self, actor: Actor, app_id: int, disabled: bool) -> dict[str, Any]:
        async with self.db.session() as s:
            app = await s.get(App, app_id)
            if app is None:
                raise AppNotFound(app_id)
            app.disabled = disabled
            await audit_record(s, actor, "app.disable" if disabled else "app.enable", "app", app_id)
            await s.commit()
            return app_dict(app)

    async def rotate(self, actor: Actor, app_id: int) -> AppCreated:
        assert self.secretbox is not None
        secret = secrets.token_urlsafe(32)
        async with self.db.session() as s:
            app = await s.get(App, app_id)
            if app is None:
                raise AppNotFound(app_id)
            app.secret_enc = self.secretbox.seal(secret)
            await audit_record(s, actor, "app.rotate_secret", "app", app_id)
            await s.commit()
            return AppCreated(app.id, app.app_key, secret)

    # ------------------------------------------------------------ signed calls
    async def authenticate(
        self,
        method: str,
        path: str,
        query: list[tuple[str, str]],
        headers: dict[str, str],
        body: bytes,
        now: float,
    ) -> Principal:
        """The app's principal for a signed request, or :class:`SignatureError`."""
        key = headers.get("x-se-key")
        ts = headers.get("x-se-timestamp")
        nonce = headers.get("x-se-nonce")
        sig = headers.get("x-se-signature")
        if not key or not ts or not nonce or not sig:
            raise SignatureError(SignatureFailure.MISSING_HEADERS)
        async with self.db.session() as s:
            app = await s.scalar(select(App).where(App.app_key == key[:64]))
            if app is None:
                raise SignatureError(SignatureFailure.UNKNOWN_KEY)
            assert self.secretbox is not None
            secret = self.secretbox.open(app.secret_enc)
            canonical = canonical_string(method, path, query, ts, nonce, body)
            if not signature_ok(secret, canonical, sig):
                raise SignatureError(SignatureFailure.BAD_SIGNATURE)
            if not timestamp_ok(ts, now):
                raise SignatureError(SignatureFailure.TIMESTAMP_OUT_OF_WINDOW)
            if not nonce_ok(nonce):
                raise SignatureError(SignatureFailure.BAD_NONCE)
            if app.disabled:
                raise SignatureError(SignatureFailure.DISABLED)
            at = datetime.fromtimestamp(now, UTC)
            await s.execute(
                delete(AppNonce).where(AppNonce.at < at - timedelta(seconds=2 * MAX_SKEW_S))
            )
            s.add(AppNonce(app_id=app.id, nonce=nonce, at=at))
            try:
                await s.commit()
            except IntegrityError as exc:
                raise SignatureError(SignatureFailure.NONCE_REUSED) from exc
            return await self._principal(app, at)

    async def _principal(self, app: App, at: datetime) -> Principal:
        rights = frozenset(Right(r) for r in app.rights)
        limit = None if app.channels is None else frozenset(app.channels)
        async with self.db.session() as s:
            admin_org = app.org_id is not None and (
                await s.scalar(
                    select(User.id).where(
                        User.org_id == app.org_id, User.role == Role.ADMIN.value, ~User.disabled
                    )
                )
                is not None
            )
            granted = await active_grants(s, app.org_id, at)
        if admin_org:
            return Principal(
                user_id=0,
                username=f"app:{app.name}",
                role=Role.OPERATOR,
                region_codes=None,
                org_id=app.org_id,
                app_id=app.id,
                rights_limit=rights,
                channel_limit=limit,
            )
        api_granted = {pk: r for pk, r in granted.items() if Right.API in r}
        return Principal(
            user_id=0,
            username=f"app:{app.name}",
            role=Role.DEPARTMENT,
            region_codes=(),
            org_id=app.org_id,
            granted=MappingProxyType(api_granted),
            app_id=app.id,
            rights_limit=rights,
            channel_limit=limit,
        )

    # ------------------------------------------------------------ webhooks
    async def add_webhook(
        self, actor: Actor, app_id: int, url: str, events: list[str]
    ) -> dict[str, Any]:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("webhook url must be an http(s) URL")
        unknown = set(events) - WEBHOOK_EVENTS
        if unknown or not events:
            raise ValueError(f"events must be some of {sorted(WEBHOOK_EVENTS)}")
        async with self.db.session() as s:
            if await s.get(App, app_id) is None:
                raise AppNotFound(app_id)
            hook = Webhook(app_id=app_id, url=url, events=sorted(set(events)))
            s.add(hook)
            await s.flush()
            await audit_record(
                s, actor, "webhook.create", "app", app_id, detail={"url": url, "events": events}
            )
            await s.commit()
            return {"id": hook.id, "app_id": app_id, "url": url, "events": hook.events}

    async def webhooks(self, app_id: int) -> list[dict[str, Any]]:
        async with self.db.session() as s:
            rows = await s.scalars(select(Webhook).where(Webhook.app_id == app_id))
            return [
                {"id": h.id, "app_id": h.app_id, "url": h.url, "events": h.events} for h in rows
            ]

    async def deliveries(self, app_id: int, limit: int = 100) -> list[dict[str, Any]]:
        async with self.db.session() as s:
            rows = await s.scalars(
                select(WebhookDelivery)
                .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
                .where(Webhook.app_id == app_id)
                .order_by(WebhookDelivery.id.desc())
                .limit(limit)
            )
            return [
                {
                    "id": d.id,
                    "webhook_id": d.webhook_id,
                    "event": d.event,
                    "status": d.status,
                    "attempts": d.attempts,
                    "last_code": d.last_code,
                    "last_error": d.last_error,
                    "created_at": d.created_at,
                }
                for d in rows
            ]

    def start(self) -> None:
        self._task = asyncio.create_task(self._dispatch_loop())

    async def stop(self) -> None:
        for t in [self._task, *self._tasks]:
            if t is not None:
                t.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t
        if self._http is not None:
            await self._http.aclose()

    @staticmethod
    def webhook_event(event: Event) -> str | None:
        t = event.type
        if t in ("device.online", "device.offline", "alarm", "grant.changed"):
            return t
        if t.startswith("channel.") and t.rsplit(".", 1)[-1] in ("online", "offline"):
            return "channel." + t.rsplit(".", 1)[-1]
        return None

    async def _dispatch_loop(self) -> None:
        with self.bus.subscribe() as sub:
            while True:
                event = await sub.get()
                name = self.webhook_event(event)
                if name is None:
                    continue
                try:
                    await self._fan_out(name, event)
                except Exception:
                    log.exception("webhook fan-out failed for %s", name)

    async def _fan_out(self, name: str, event: Event) -> None:
        payload = json.dumps(
            {"event": name, "data": event.data, "at": time.time()}, ensure_ascii=False, default=str
        )
        # One session at a time: SQLite's pool holds a single connection.
        async with self.db.session() as s:
            rows = (
                await s.execute(
                    select(Webhook, App)
                    .join(App, App.id == Webhook.app_id)
                    .where(App.disabled.is_(False))
                )
            ).all()
        chosen = [
            (hook, app)
            for hook, app in rows
            if name in hook.events and await self._may_receive(app, event)
        ]
        if not chosen:
            return
        targets = []
        async with self.db.session() as s:
            for hook, app in chosen:
                d = WebhookDelivery(
                    webhook_id=hook.id, event=name, payload=payload, status="pending"
                )
                s.add(d)
                await s.flush()
                targets.append((d.id, hook.url, app.app_key, app.secret_enc))
            await s.commit()
        for target in targets:
            task = asyncio.create_task(self._deliver(*target, payload))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _may_receive(self, app: App, event: Event) -> bool:
        from sharpeyes.sharing.scope import event_visible

        principal = await self._principal(app, utcnow())
        if event.type == "grant.changed":
            return event.data.get("org_id") == app.org_id
        async with self.db.session() as s:
            return await event_visible(s, principal, dict(event.data), {})

    async def _deliver(self, delivery_id: int, url: str, key: str, sealed: str, body: str) -> None:
        import httpx

        assert self.secretbox is not None
        secret = self.secretbox.open(sealed)
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=10)
        path = urlsplit(url).path or "/"
        query = [(k, v) for k, v in httpx.URL(url).params.multi_items()]
        for attempt, delay in enumerate((0.0, *self.retry_delays), start=1):
            if delay:
                await asyncio.sleep(delay)
            ts = str(int(time.time()))
            nonce = secrets.token_hex(12)
            sig = sign(secret, canonical_string("POST", path, query, ts, nonce, body.encode()))
            code: int | None = None
            error: str | None = None
            try:
                r = await self._http.post(
                    url,
                    content=body.encode(),
                    headers={
                        "Content-Type": "application/json",
                        "X-SE-Key": key,
                        "X-SE-Timestamp": ts,
                        "X-SE-Nonce": nonce,
                        "X-SE-Signature": sig,
                    },
                )
                code = r.status_code
                ok = 200 <= code < 300
            except Exception as exc:
                ok = False
                error = f"{type(exc).__name__}: {exc}"[:500]
            done = ok or attempt == len(self.retry_delays) + 1
            async with self.db.session() as s:
                d = await s.get(WebhookDelivery, delivery_id)
                if d is not None:
                    d.attempts = attempt
                    d.last_code = code
                    d.last_error = error
                    d.status = "delivered" if ok else ("failed" if done else "pending")
                    await s.commit()
            if done:
                return
