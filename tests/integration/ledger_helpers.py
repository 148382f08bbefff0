"""Shared pieces of the ledger tests: a service on the test database, users, polling."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from sharpeyes.events import EventBus
from sharpeyes.jobs import JobRunner
from sharpeyes.ledger import sample
from sharpeyes.ledger.service import LedgerService
from sharpeyes.ledger.settings import LedgerSettings
from sharpeyes.sharing.principal import Principal, Role
from sharpeyes.store.db import Database

ADMIN = Principal(user_id=1, username="admin", role=Role.ADMIN)
FIRST_DATA_ROW = 5  # title, unit line, groups, headers: data starts on row 5


@dataclass
class Ledger:
    service: LedgerService
    refs: sample.SampleRefs

    @property
    def db(self) -> Database:
        return self.service.db


async def make_ledger(database: Database, **settings: Any) -> Ledger:
    bus = EventBus()
    service = LedgerService(database, bus, LedgerSettings(**settings), JobRunner(database, bus))
    await service.start()
    refs = await sample.ensure_reference_data(service, ADMIN)
    return Ledger(service, refs)


@asynccontextmanager
async def open_ledger(database: Database, **settings: Any) -> AsyncIterator[Ledger]:
    """A ledger on the test database (each test module wraps it in a fixture)."""
    led = await make_ledger(database, **settings)
    try:
        yield led
    finally:
        await led.service.jobs.stop()
        await led.service.stop()


async def import_file(
    service: LedgerService,
    data: bytes,
    filename: str = "cameras.xlsx",
    *,
    mode: str = "all_or_nothing",
    principal: Principal = ADMIN,
    crs: str = "wgs84",
) -> dict[str, Any]:
    job = await service.start_camera_import(principal, data, filename, mode=mode, crs=crs)
    await service.jobs.wait(job.id)
    return (await service.jobs.get(principal, job.id)).as_dict()


async def wait_job(client: httpx.AsyncClient, job_id: str, timeout: float = 300) -> dict[str, Any]:
    """Poll ``GET /api/jobs/{id}`` as the console does, checking progress never goes back."""
    deadline = asyncio.get_running_loop().time() + timeout
    last = 0.0
    while True:
        r = await client.get(f"/api/jobs/{job_id}")
        assert r.status_code == 200, r.text
        body = r.json()
        assert 0.0 <= body["progress"] <= 1.0
        assert body["progress"] >= last
        last = body["progress"]
        if body["state"] in ("done", "failed"):
            return body
        assert asyncio.get_running_loop().time() < deadline, body
        await asyncio.sleep(0.05)


async def import_form(
    service: LedgerService,
    form: str,
    data: bytes,
    filename: str = "form.xlsx",
    *,
    mode: str = "all_or_nothing",
    principal: Principal = ADMIN,
) -> dict[str, Any]:
    """Import the platform or internal-system survey form and wait for the job."""
    job = await service.start_form_import(principal, form, data, filename, mode=mode)
    await service.jobs.wait(job.id)
    return (await service.jobs.get(principal, job.id)).as_dict()
