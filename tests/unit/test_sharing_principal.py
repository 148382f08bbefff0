from __future__ import annotations

import dataclasses

import pytest

from sharpeyes.sharing.principal import (
    ROLE_PERMISSIONS,
    Permission,
    Principal,
    Right,
    Role,
    has_permission,
)


def _p(role: Role) -> Principal:
    return Principal(user_id=1, username="u", role=role, region_codes=None)


def test_role_permission_table() -> None:
    viewer, operator, admin = _p(Role.VIEWER), _p(Role.OPERATOR), _p(Role.ADMIN)
    assert {p for p in Permission if has_permission(viewer, p)} == {
        Permission.DEVICES_READ,
        Permission.LIVE_VIEW,
        Permission.LEDGER_READ,
    }
    assert {p for p in Permission if has_permission(operator, p)} == {
        Permission.DEVICES_READ,
        Permission.LIVE_VIEW,
        Permission.LEDGER_READ,
        Permission.DEVICES_WRITE,
        Permission.PTZ,
        Permission.ALARMS_ACK,
        Permission.LEDGER_WRITE,
        Permission.LEDGER_IMPORT,
        Permission.PLAYBACK,  # recordings (issue 10)
        Permission.DOWNLOAD,
        Permission.MEDIA_NODES,  # GET /api/media/nodes (issue 12)
    }
    assert all(has_permission(admin, p) for p in Permission)
    assert not has_permission(operator, Permission.USERS_ADMIN)
    assert set(ROLE_PERMISSIONS) == set(Role)


def test_values_are_stable_strings() -> None:
    # Stored in the database and in tokens: renaming them is a migration.
    assert [r.value for r in Role] == [
        "admin",
        "operator",
        "viewer",
        "reviewer_police",
        "reviewer_data",
        "department",
        "auditor",
    ]
    assert [r.value for r in Right] == ["live", "playback", "download", "ptz", "snapshot", "api"]
    assert Permission.DEVICES_WRITE == "devices.write"
    assert Permission("live.view") is Permission.LIVE_VIEW


def test_principal_is_frozen() -> None:
    p = Principal(user_id=1, username="u", role=Role.VIEWER, region_codes=("3402",))
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.role = Role.ADMIN  # type: ignore[misc]
    with pytest.raises(TypeError):
        ROLE_PERMISSIONS[Role.VIEWER] = frozenset(Permission)  # type: ignore[index]


def test_department_and_auditor_have_no_own_scope() -> None:
    dept = Principal(user_id=1, username="d", role=Role.DEPARTMENT, region_codes=None)
    auditor = Principal(user_id=2, username="a", role=Role.AUDITOR, region_codes=None)
    assert dept.base_regions == () and auditor.base_regions == ()
    assert not has_permission(auditor, Permission.LIVE_VIEW)
    assert not has_permission(auditor, Permission.DEVICES_READ)
    assert has_permission(auditor, Permission.AUDIT_READ)
    assert not has_permission(_p(Role.REVIEWER_POLICE), Permission.LIVE_VIEW)
