"""Who is acting (Principal), what roles allow (Permission) and rights on video (Right).

Two layers, both decided in ``sharing``:

* :class:`Permission` gates a *route* (may this role call it at all);
* :class:`Right` gates an *object* (may this principal watch / PTZ / download this
  channel). A channel's rights come from the role when it is inside the user's own
  region scope, or from the grants of the user's organisation (approved share
  requests). ``sharing.scope.decide`` is the one function combining scope and right.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType


class Role(StrEnum):
    """Fixed roles; grants from share requests add channels on top, never replace them."""

    ADMIN = "admin"
    OPERATOR = "operator"  # 运维
    VIEWER = "viewer"
    REVIEWER_POLICE = "reviewer_police"  # 公安审核
    REVIEWER_DATA = "reviewer_data"  # 数据资源局审核
    DEPARTMENT = "department"  # 共享单位用户: sees only its organisation's grants
    AUDITOR = "auditor"  # reads the audit trail only; no video


class Right(StrEnum):
    """What may be done with one channel (granted per share request)."""

    LIVE = "live"
    PLAYBACK = "playback"
    DOWNLOAD = "download"
    PTZ = "ptz"
    SNAPSHOT = "snapshot"
    API = "api"


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
    SHARING_READ = "sharing.read"  # requests and grants visible to the caller
    SHARING_REQUEST = "sharing.request"  # create / withdraw share requests, see own grants
    SHARING_REVIEW = "sharing.review"  # review queue (which stage: by role)
    SHARING_ADMIN = "sharing.admin"  # all requests and grants, revoke, statistics
    APPS_ADMIN = "apps.admin"  # open-API applications and webhooks
    AUDIT_READ = "audit.read"  # search / export / verify the audit trail
    PLAYBACK = "playback"  # recordings: find and play (device and platform)
    DOWNLOAD = "download"  # recordings: download and clip export (files leave the node)
    RECORDING_PLANS = "recording.plans"  # platform record plans
    MEDIA_NODES = "media.nodes"  # media-node list and load (operations)


_VIEWER = frozenset({Permission.DEVICES_READ, Permission.LIVE_VIEW, Permission.LEDGER_READ})
_OPERATOR = _VIEWER | {
    Permission.DEVICES_WRITE,
    Permission.PTZ,
    Permission.ALARMS_ACK,
    Permission.LEDGER_WRITE,
    Permission.LEDGER_IMPORT,
    Permission.PLAYBACK,
    Permission.DOWNLOAD,
    Permission.MEDIA_NODES,
}
_REVIEWER = frozenset({Permission.SHARING_REVIEW, Permission.SHARING_READ})
_DEPARTMENT = frozenset(
    {
        Permission.DEVICES_READ,
        Permission.LIVE_VIEW,
        Permission.PTZ,
        Permission.PLAYBACK,  # per channel only as far as a grant gives the right
        Permission.DOWNLOAD,
        Permission.SHARING_READ,
        Permission.SHARING_REQUEST,
    }
)

ROLE_PERMISSIONS: Mapping[Role, frozenset[Permission]] = MappingProxyType(
    {
        Role.VIEWER: _VIEWER,
        Role.OPERATOR: _OPERATOR,
        Role.ADMIN: frozenset(Permission),
        Role.REVIEWER_POLICE: _REVIEWER,
        Role.REVIEWER_DATA: _REVIEWER,
        Role.DEPARTMENT: _DEPARTMENT,
        Role.AUDITOR: frozenset({Permission.AUDIT_READ}),
    }
)

# Rights a role has over the channels of its own region scope (``region_codes``).
ROLE_RIGHTS: Mapping[Role, frozenset[Right]] = MappingProxyType(
    {
        Role.ADMIN: frozenset(Right),
        Role.OPERATOR: frozenset(Right),
        Role.VIEWER: frozenset({Right.LIVE, Right.PLAYBACK, Right.SNAPSHOT}),
        Role.REVIEWER_POLICE: frozenset(),
        Role.REVIEWER_DATA: frozenset(),
        Role.DEPARTMENT: frozenset(),
        Role.AUDITOR: frozenset(),
    }
)

# Roles whose own region scope is empty whatever ``region_codes`` says: they see
# channels only through grants (department) or not at all (auditor, reviewers see
# the requested channels through the sharing service, not the device lists).
NO_BASE_SCOPE = frozenset({Role.DEPARTMENT, Role.AUDITOR})


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated user (or open-API application) as the rest of the node sees it.

    ``region_codes`` are civil-code prefixes the user may see (分域); None means
    unrestricted, an empty tuple means nothing. ``granted`` maps channel pk to the
    rights held through the organisation's active grants. An app (``app_id`` set)
    is further narrowed by ``rights_limit`` and ``channel_limit``.
    """

    user_id: int
    username: str
    role: Role
    region_codes: tuple[str, ...] | None = None
    org_id: int | None = None
    granted: Mapping[int, frozenset[Right]] = field(
        default_factory=lambda: MappingProxyType({}), hash=False, compare=False
    )
    app_id: int | None = None
    rights_limit: frozenset[Right] | None = None
    channel_limit: frozenset[int] | None = None
    must_change_password: bool = False

    @property
    def base_regions(self) -> tuple[str, ...] | None:
        """Region prefixes of the role's own scope (empty for grant-only roles)."""
        if self.role in NO_BASE_SCOPE:
            return ()
        return self.region_codes

    @property
    def actor(self) -> str:
        """How the audit trail names this principal."""
        return f"app:{self.app_id}" if self.app_id is not None else f"user:{self.user_id}"


def has_permission(principal: Principal, perm: Permission) -> bool:
    """Role-based check; scope (which objects) is separate, see ``sharing.scope``."""
    return perm in ROLE_PERMISSIONS.get(principal.role, frozenset())


def role_rights(principal: Principal) -> frozenset[Right]:
    """Rights over channels of the principal's own region scope."""
    rights = ROLE_RIGHTS.get(principal.role, frozenset())
    if principal.rights_limit is not None:
        rights &= principal.rights_limit
    return rights
