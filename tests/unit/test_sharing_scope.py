"""Scope filters against a small two-region dataset, on the configured backend."""

from __future__ import annotations

from types import MappingProxyType

import pytest
from sqlalchemy import select

from sharpeyes.sharing.principal import Principal, Right, Role
from sharpeyes.sharing.scope import (
    can_see_channel,
    can_see_device,
    channel_rights,
    decide,
    device_in_scope,
    scope_channels,
    scope_devices,
)
from sharpeyes.store.db import Database
from sharpeyes.store.models import Channel, Device

A = "34020000001320000001"  # camera NVR in 3402 (Hefei-like city code)
B = "35010000002000000001"  # lower platform in 3501 that also carries a 3402 camera
C = "36010000001320000001"  # elsewhere
D = "34029999991320000001"  # 3402, no channels
E = "11000000001320000001"  # ID from elsewhere, one channel without civil code

# channel_id -> (device, civil_code)
CHANNELS: dict[str, tuple[str, str | None]] = {
    "34020000001310000001": (A, "340201"),
    "34020000001310000002": (A, "350100"),  # under A, but located in 3501
    "34020000001310000003": (A, None),  # no civil code: falls back to its ID
    "35010000001310000004": (A, ""),  # empty civil code counts as none
    "35010000001310000005": (B, "350102"),
    "35010000001310000006": (B, "340203"),
    "36010000001310000007": (C, "360101"),
    "34020000001310000008": (E, None),
}


def _who(codes: tuple[str, ...] | None) -> Principal:
    return Principal(user_id=1, username="u", role=Role.VIEWER, region_codes=codes)


@pytest.fixture
async def dataset(database: Database) -> Database:
    async with database.session() as s:
        s.add_all(Device(id=d) for d in (A, B, C, D, E))
        await s.flush()
        s.add_all(
            Channel(device_id=dev, channel_id=cid, civil_code=cc)
            for cid, (dev, cc) in CHANNELS.items()
        )
        await s.commit()
    return database


async def _devices(db: Database, p: Principal) -> set[str]:
    async with db.session() as s:
        return set(await s.scalars(scope_devices(select(Device.id), p)))


async def _channels(db: Database, p: Principal) -> set[str]:
    async with db.session() as s:
        return set(await s.scalars(scope_channels(select(Channel.channel_id), p)))


def _ids(*suffixes: int) -> set[str]:
    return {cid for cid in CHANNELS if int(cid[-2:]) in suffixes}


@pytest.mark.parametrize(
    ("codes", "devices", "channels"),
    [
        (None, {A, B, C, D, E}, _ids(1, 2, 3, 4, 5, 6, 7, 8)),
        (("3402",), {A, B, D, E}, _ids(1, 3, 6, 8)),
        (("3501",), {A, B}, _ids(2, 4, 5)),
        (("340201",), {A}, _ids(1)),
        (("3402", "36"), {A, B, C, D, E}, _ids(1, 3, 6, 7, 8)),
        (("44",), set(), set()),
        ((), set(), set()),
        (("3%",), set(), set()),  # LIKE wildcards are literal, not patterns
        (("3_01",), set(), set()),
    ],
)
async def test_scope_filters(
    dataset: Database,
    codes: tuple[str, ...] | None,
    devices: set[str],
    channels: set[str],
) -> None:
    p = _who(codes)
    assert await _devices(dataset, p) == devices
    assert await _channels(dataset, p) == channels
    # The single-object helpers agree with the list filters.
    assert {cid for cid, (_, cc) in CHANNELS.items() if can_see_channel(p, cid, cc)} == channels
    async with dataset.session() as s:
        assert {d for d in (A, B, C, D, E) if await device_in_scope(s, p, d)} == devices
    for d in (A, B, C, D, E):
        if can_see_device(p, d):  # prefix-only check never grants more than the list
            assert d in devices


async def test_scope_composes_with_joins_and_filters(dataset: Database) -> None:
    p = _who(("3402",))
    stmt = select(Channel.channel_id).join(Device).where(Channel.civil_code.is_not(None))
    stmt = scope_channels(scope_devices(stmt, p), p)
    async with dataset.session() as s:
        assert set(await s.scalars(stmt)) == _ids(1, 6)
        assert not await device_in_scope(s, p, "34029999999999999999")  # does not exist


def test_can_see_device_prefix_only() -> None:
    assert can_see_device(_who(None), C)
    assert can_see_device(_who(("3402",)), A)
    assert not can_see_device(_who(("3402",)), B)
    assert not can_see_device(_who(()), A)


# --- decide(): scope and right in one answer (grants, roles, apps) -------------------


def _decide(p: Principal, right: Right, pk: int = 5, civil: str | None = "340200") -> bool:
    return decide(p, right, channel_pk=pk, channel_id="34020000001310000005", civil_code=civil)


def test_decide_role_rights_in_own_scope() -> None:
    viewer = Principal(user_id=1, username="v", role=Role.VIEWER, region_codes=("3402",))
    assert _decide(viewer, Right.LIVE) and _decide(viewer, Right.SNAPSHOT)
    assert not _decide(viewer, Right.PTZ) and not _decide(viewer, Right.DOWNLOAD)
    assert not _decide(viewer, Right.LIVE, civil="350100")  # outside the region
    op = Principal(user_id=2, username="o", role=Role.OPERATOR, region_codes=None)
    assert all(_decide(op, r) for r in Right)


def test_decide_department_only_through_grants() -> None:
    granted = MappingProxyType({5: frozenset({Right.LIVE})})
    dept = Principal(
        user_id=3, username="d", role=Role.DEPARTMENT, region_codes=None, granted=granted
    )
    assert _decide(dept, Right.LIVE)
    assert not _decide(dept, Right.PTZ)  # not granted
    assert not _decide(dept, Right.LIVE, pk=6)  # another channel, even in region None
    nothing = Principal(user_id=3, username="d", role=Role.DEPARTMENT, region_codes=None)
    assert channel_rights(nothing, "34020000001310000005", "340200", 5) == frozenset()
    auditor = Principal(user_id=4, username="a", role=Role.AUDITOR, region_codes=None)
    assert not any(_decide(auditor, r) for r in Right)


def test_decide_app_narrowed_by_its_rights_and_channels() -> None:
    granted = MappingProxyType({5: frozenset({Right.LIVE, Right.PTZ, Right.API})})
    app = Principal(
        user_id=0,
        username="app:gis",
        role=Role.DEPARTMENT,
        region_codes=(),
        granted=granted,
        app_id=9,
        rights_limit=frozenset({Right.LIVE}),
        channel_limit=frozenset({5}),
    )
    assert _decide(app, Right.LIVE) and not _decide(app, Right.PTZ)
    limited = Principal(
        user_id=0, username="x", role=Role.DEPARTMENT, granted=granted, channel_limit=frozenset({6})
    )
    assert not _decide(limited, Right.LIVE)
