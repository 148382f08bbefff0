"""Scope (分权分域): which devices and channels a principal may see, and with what right.

This module is the single choke point for object-level visibility. Every list
query over devices or channels goes through :func:`scope_devices` /
:func:`scope_channels`, single-object routes use the ``can_see_*`` helpers, and
every action on one channel (live, playback, download, PTZ, snapshot, open-API
use) asks :func:`decide`, which is scope **and** right in one answer. WebSocket
event filtering uses :func:`event_visible`, the same rule.

A channel is visible when it is in the principal's own region scope
(``Principal.base_regions``: None sees everything; otherwise its civil code, or
when the device reported none its own GB ID, starts with one of the prefixes) or
when one of the organisation's active grants names it (``Principal.granted``).
An open-API app is further limited to its optional channel list. A device is
visible when its ID is in the region scope, or when any of its channels is
visible (e.g. a platform registered elsewhere that carries our region's cameras):
no visible channel hangs under an invisible device.

Ledger camera records (``scope_camera_records``) follow the region rule with the
record's region in place of the civil code, and ledger platform / internal-system
records (``scope_by_region``) are visible by their region code alone.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, and_, exists, false, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from sharpeyes.sharing.principal import Principal, Right, role_rights
from sharpeyes.store.models import Channel, Device

_S = TypeVar("_S", bound=Select[Any])


def _starts_with_any(column: Any, prefixes: tuple[str, ...]) -> ColumnElement[bool]:
    if not prefixes:
        return false()
    return or_(*(column.startswith(p, autoescape=True) for p in prefixes))


def _region_rule(ch: Any, prefixes: tuple[str, ...]) -> ColumnElement[bool]:
    # Devices often send an empty <CivilCode/>: treat it like an absent one.
    no_civil_code = or_(ch.civil_code.is_(None), ch.civil_code == "")
    return or_(
        _starts_with_any(ch.civil_code, prefixes),
        and_(no_civil_code, _starts_with_any(ch.channel_id, prefixes)),
    )


def _unrestricted(principal: Principal) -> bool:
    return principal.base_regions is None and principal.channel_limit is None


def _channel_visible(ch: Any, principal: Principal) -> ColumnElement[bool]:
    prefixes = principal.base_regions
    rule = true() if prefixes is None else _region_rule(ch, prefixes)
    if principal.granted:
        rule = or_(rule, ch.id.in_(sorted(principal.granted)))
    if principal.channel_limit is not None:
        rule = and_(rule, ch.id.in_(sorted(principal.channel_limit)))
    return rule


def scope_devices(stmt: _S, principal: Principal) -> _S:
    """Restrict a SELECT that has ``Device`` in its FROM to the principal's scope."""
    if _unrestricted(principal):
        return stmt
    # An alias, correlated on Device only, so this also works when the outer
    # query already joins channels.
    ch = aliased(Channel)
    via_channel = (
        exists()
        .where(ch.device_id == Device.id, _channel_visible(ch, principal))
        .correlate_except(ch)
    )
    prefixes = principal.base_regions
    if principal.channel_limit is not None or prefixes is None:
        return stmt.where(via_channel)
    return stmt.where(or_(_starts_with_any(Device.id, prefixes), via_channel))


def scope_channels(stmt: _S, principal: Principal) -> _S:
    """Restrict a SELECT that has ``Channel`` in its FROM to the principal's scope."""
    if _unrestricted(principal):
        return stmt
    return stmt.where(_channel_visible(Channel, principal))


def scope_camera_records(stmt: _S, principal: Principal) -> _S:
    """Restrict a SELECT over ``CameraRecord`` (ledger) to the principal's scope.

    Same rule as channels: the record's region code, or when it has none its
    20-digit code (whose first digits are the region), starts with a prefix. Every
    ledger camera read, export and map query goes through here.
    """
    from sharpeyes.ledger.models import CameraRecord

    prefixes = principal.base_regions
    if prefixes is None:
        return stmt
    no_region = or_(CameraRecord.region_code.is_(None), CameraRecord.region_code == "")
    return stmt.where(
        or_(
            _starts_with_any(CameraRecord.region_code, prefixes),
            and_(no_region, _starts_with_any(CameraRecord.code, prefixes)),
        )
    )


def can_see_camera_record(principal: Principal, region_code: str | None, code: str | None) -> bool:
    """:func:`scope_camera_records` for one loaded record (or one about to be written)."""
    prefixes = principal.base_regions
    if prefixes is None:
        return True
    key = region_code or code or ""
    return bool(key) and any(key.startswith(p) for p in prefixes)


def scope_by_region(stmt: _S, column: Any, principal: Principal) -> _S:
    """Restrict a SELECT by a region-code column (ledger platforms, internal systems)."""
    prefixes = principal.base_regions
    if prefixes is None:
        return stmt
    return stmt.where(_starts_with_any(column, prefixes))


def region_in_scope(principal: Principal, region_code: str | None) -> bool:
    """May the principal see (and so act on) things in this region?"""
    prefixes = principal.base_regions
    if prefixes is None:
        return True
    return bool(region_code) and any(str(region_code).startswith(p) for p in prefixes)


def can_see_device(principal: Principal, device_id: str) -> bool:
    """Prefix check on the device ID alone (no database access).

    A device visible only through its channels returns False here; routes that
    must agree with the device list use :func:`device_in_scope`.
    """
    if principal.channel_limit is not None:
        return False
    prefixes = principal.base_regions
    return prefixes is None or any(device_id.startswith(p) for p in prefixes)


async def device_in_scope(session: AsyncSession, principal: Principal, device_id: str) -> bool:
    """Exactly the :func:`scope_devices` rule for one device (False if it does not exist)."""
    stmt = scope_devices(select(Device.id).where(Device.id == device_id), principal)
    return (await session.scalar(stmt)) is not None


def _in_base_scope(principal: Principal, channel_id: str, civil_code: str | None) -> bool:
    prefixes = principal.base_regions
    if prefixes is None:
        return True
    key = civil_code if civil_code else channel_id
    return any(key.startswith(p) for p in prefixes)


def can_see_channel(
    principal: Principal, channel_id: str, civil_code: str | None, channel_pk: int | None = None
) -> bool:
    """Same rule as :func:`scope_channels`, for one already-loaded channel."""
    if principal.channel_limit is not None and channel_pk not in principal.channel_limit:
        return False
    if _in_base_scope(principal, channel_id, civil_code):
        return True
    return channel_pk is not None and channel_pk in principal.granted


def channel_rights(
    principal: Principal, channel_id: str, civil_code: str | None, channel_pk: int
) -> frozenset[Right]:
    """Every right the principal holds on one channel (empty when it is out of scope)."""
    if principal.channel_limit is not None and channel_pk not in principal.channel_limit:
        return frozenset()
    rights: frozenset[Right] = frozenset()
    if _in_base_scope(principal, channel_id, civil_code):
        rights = role_rights(principal)
    granted = principal.granted.get(channel_pk)
    if granted:
        extra = granted
        if principal.rights_limit is not None:
            extra = extra & principal.rights_limit
        rights = rights | extra
    return rights


def decide(
    principal: Principal,
    right: Right,
    *,
    channel_pk: int,
    channel_id: str,
    civil_code: str | None,
) -> bool:
    """THE decision: may this principal exercise ``right`` on this channel (scope and right)?"""
    return right in channel_rights(principal, channel_id, civil_code, channel_pk)


def require_right(principal: Principal, right: Right, channel: Channel) -> None:
    """:func:`decide` for a loaded channel; PermissionError (HTTP 403) when refused."""
    if not decide(
        principal,
        right,
        channel_pk=channel.id,
        channel_id=channel.channel_id,
        civil_code=channel.civil_code,
    ):
        raise PermissionError(f"right {right.value} on channel {channel.channel_id} not granted")


async def event_visible(
    session: AsyncSession, principal: Principal, data: dict[str, Any], cache: dict[str, bool]
) -> bool:
    """May the principal receive this bus event? The device/channel rule above, cached.

    ``cache`` (per WebSocket) remembers device answers so a busy bus does not cost
    one query per event; the socket rebuilds it when the principal's grants change.
    """
    pk = data.get("channel_pk")
    channel_id = data.get("channel_id")
    if isinstance(pk, int) and isinstance(channel_id, str):
        return can_see_channel(principal, channel_id, data.get("civil_code"), pk) or (
            await _channel_pk_visible(session, principal, pk)
        )
    device_id = data.get("device_id")
    if not isinstance(device_id, str) or not device_id:
        return True
    if _unrestricted(principal) or can_see_device(principal, device_id):
        return True
    if device_id not in cache:
        cache[device_id] = await device_in_scope(session, principal, device_id)
    return cache[device_id]


async def _channel_pk_visible(session: AsyncSession, principal: Principal, pk: int) -> bool:
    stmt = scope_channels(select(Channel.id).where(Channel.id == pk), principal)
    return (await session.scalar(stmt)) is not None
