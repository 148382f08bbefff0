"""City-scale shortcuts keep their answers exact where it matters: the quality cache
is dropped on any change, and a list total is exact up to the cap, estimated beyond
it only on PostgreSQL (and then flagged)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from sharpeyes.ledger import queries, sample
from sharpeyes.ledger.queries import CameraFilters
from sharpeyes.store.db import Database
from tests.integration.ledger_helpers import ADMIN, Ledger, import_file, open_ledger


@pytest.fixture
async def ledger(database: Database) -> AsyncIterator[Ledger]:
    async with open_ledger(database) as led:
        job = await import_file(
            led.service, sample.survey_file(sample.camera_values(6, seed=5), "csv"), "s.csv"
        )
        assert job["state"] == "done" and job["imported"] == 6, job
        yield led


async def _by_org(led: Ledger) -> dict[int | None, int]:
    q = await led.service.quality(ADMIN, group_by="org")
    return {g["key"]: g["total"] for g in q["groups"]}


async def test_quality_cache_is_dropped_when_a_record_changes(ledger: Ledger) -> None:
    svc = ledger.service
    first = await _by_org(ledger)
    assert await _by_org(ledger) == first
    assert svc.rates_cache.hits == 1
    page = await svc.list_cameras(ADMIN, CameraFilters(), limit=10)
    rec = page.items[0]
    other = next(pk for pk in ledger.refs.org_ids.values() if pk != rec["owner_org_id"])
    # An owner change touches no map trigger: only updated_at tells the cache.
    await svc.update_camera(ADMIN, rec["id"], {"owner_org_id": other})
    after = await _by_org(ledger)
    assert after[other] == first.get(other, 0) + 1
    assert sum(after.values()) == 6
    await svc.delete_camera(ADMIN, page.items[1]["id"])
    assert sum((await _by_org(ledger)).values()) == 5


async def test_total_is_exact_up_to_the_cap(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    svc = ledger.service
    page = await svc.list_cameras(ADMIN, CameraFilters(), limit=2)
    assert (page.total, page.total_estimated, len(page.items)) == (6, False, 2)
    monkeypatch.setattr(queries, "COUNT_CAP", 3)
    page = await svc.list_cameras(ADMIN, CameraFilters(), limit=2)
    if svc.db.is_sqlite:  # no planner estimate: counted exactly
        assert (page.total, page.total_estimated) == (6, False)
    else:
        assert page.total_estimated is True and page.total >= 4
    assert len(page.items) == 2


async def test_estimated_total_with_hostile_search_text(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The search text reaches EXPLAIN as a bound parameter, never as SQL."""
    svc = ledger.service
    page = await svc.list_cameras(ADMIN, CameraFilters(), limit=1)
    hostile = "x%_'\\\"); DROP TABLE camera_records; --"
    await svc.update_camera(ADMIN, page.items[0]["id"], {"location_name": f"路口{hostile}"})
    monkeypatch.setattr(queries, "COUNT_CAP", 0)
    found = await svc.list_cameras(ADMIN, CameraFilters(q=hostile), limit=10)
    assert [i["id"] for i in found.items] == [page.items[0]["id"]]
    assert found.total_estimated is (not svc.db.is_sqlite)
    none = await svc.list_cameras(ADMIN, CameraFilters(q="%'"), limit=10)
    assert none.items == [] and none.total == 0
    assert (await svc.list_cameras(ADMIN, CameraFilters(), limit=1)).items
