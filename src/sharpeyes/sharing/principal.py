"""Who is acting (Principal) and what roles allow (Permission)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType


class Role(StrEnum):
    """Fixed roles; finer grants (share requests, M5.2) will layer on top, not replace."""

    ADMIN = "admin"
    OPERATOR = "operator"
    VIEWER = "viewer"


class Permission(StrEnum):
    """Actions routes check with :func:`has_permission`."""

    DEVICES_READ = "devices.read"
    DEVICES_WRITE = "devices.write"  # delete, sync catalog, admit/reject
    PTZ = "ptz"
    ALARMS_ACK = "alarms.ack"
    USERS_ADMIN = "users.admin"
    LIVE_VIEW = "live.view"
    LEDGER_READ = "ledger.read"  # ledger records, map, quality, export (audited)
    LEDGER_WRITE = "ledger.write"  # create / edit / delete ledger records
    LEDGER_IMPORT = "ledger.import"  # survey-form imports
    PLAYBACK = "playback"  # recordings: find and play (device and platform)
    DOWNLOAD = "download"  # recordings: download and clip export (files leave the node)
    RECORDING_PLANS = "recording.plans"  # platform record plans


_VIEWER = frozenset({Permission.DEVICES_READ, Permission.LIVE_VIEW, Permission.LEDGER_READ})
_OPERATOR = _VIEWER | {
    Permission.DEVICES_WRITE,
    Permission.PTZ,
    Permission.ALARMS_ACK,
    Permission.LEDGER_WRITE,
    Permission.LEDGER_IMPORT,
    Permission.PLAYBACK,
    Permission.DOWNLOAD,
}

ROLE_PERMISSIONS: Mapping[Role, frozenset[Permission]] = MappingProxyType(
    {
        Role.VIEWER: _VIEWER,
        Role.OPERATOR: _OPERATOR,
        Role.ADMIN: frozenset(Permission),
    }
)


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated user as the rest of the node sees it.

    ``region_codes`` are civil-code prefixes the user may see (分域); None means
    unrestricted, an empty tuple means nothing.
    """

    user_id: int
    username: str
    role: Role
    region_codes: tuple[str, ...] | None = None


def has_permission(principal: Principal, perm: Permission) -> bool:
    """Role-based check; scope (which objects) is separate, see ``sharing.scope``."""
    return perm in ROLE_PERMISSIONS.get(principal.role, frozenset())
