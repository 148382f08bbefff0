"""Scope (分权分域): which devices and channels a principal may see.

This module is the single choke point for object-level visibility. Every list
query over devices or channels goes through :func:`scope_devices` /
:func:`scope_channels`, and single-object routes use the ``can_see_*`` helpers.
Organisation trees, per-channel grants from approved share requests (M5.2) and
app-key scopes will be added *here*, so no route ever needs to change for them.

Ledger camera records (``scope_camera_records``) follow the channel rule with the
record's region in place of the civil code, and ledger platform / internal-system
records (``scope_by_region``) are visible by their region code alone.

Today's rule: ``Principal.region_codes`` None sees everything; otherwise a
channel is visible when its civil code (or, when the device reported none, its
own GB ID, whose first digits are the region) starts with one of the prefixes,
and a device is visible when its ID does, or when any of its channels is visible
(e.g. a platform registered elsewhere that carries our region's cameras). Using
the same channel rule for both keeps the two lists consistent: no visible
channel hangs under an invisible device.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, and_, exists, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from sharpeyes.sharing.principal import Principal
from sharpeyes.store.models import Channel, Device

_S = TypeVar("_S", bound=Select[Any])


def _starts_with_any(column: Any, prefixes: tuple[str, ...]) -> ColumnElement[bool]:
    if not prefixes:
        return false()
    return or_(*(column.startswith(p, autoescape=True) for p in prefixes))


def _channel_visible(ch: Any, prefixes: tuple[str, ...]) -> ColumnElement[bool]:
    # Devices often send an empty <CivilCode/>: treat it like an absent one.
    no_civil_code = or_(ch.civil_code.is_(None), ch.civil_code == "")
    return or_(
        _starts_with_any(ch.civil_code, prefixes),
        and_(no_civil_code, _starts_with_any(ch.channel_id, prefixes)),
    )


def scope_devices(stmt: _S, principal: Principal) -> _S:
    """Restrict a SELECT that has ``Device`` in its FROM to the principal's scope."""
    prefixes = principal.region_codes
    if prefixes is None:
        return stmt
    # An alias, correlated on Device only, so this also works when the outer
    # query already joins channels.
    ch = aliased(Channel)
    via_channel = (
        exists()
        .where(ch.device_id == Device.id, _channel_visible(ch, prefixes))
        .correlate_except(ch)
    )
    return stmt.where(or_(_starts_with_any(Device.id, prefixes), via_channel))


def scope_channels(stmt: _S, principal: Principal) -> _S:
    """Restrict a SELECT that has ``Channel`` in its FROM to the principal's scope."""
    prefixes = principal.region_codes
    if prefixes is None:
        return stmt
    return stmt.where(_channel_visible(Channel, prefixes))


def scope_camera_records(stmt: _S, principal: Principal) -> _S:
    """Restrict a SELECT over ``CameraRecord`` (ledger) to the principal's scope.

    Same rule as channels: the record's region code, or when it has none its
    20-digit code (whose first digits are the region), starts with a prefix. Every
    ledger camera read, export and map query goes through here.
    """
    from sharpeyes.ledger.models import CameraRecord

    prefixes = principal.region_codes
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
    prefixes = principal.region_codes
    if prefixes is None:
        return True
    key = region_code or code or ""
    return bool(key) and any(key.startswith(p) for p in prefixes)


def scope_by_region(stmt: _S, column: Any, principal: Principal) -> _S:
    """Restrict a SELECT by a region-code column (ledger platforms, internal systems)."""
    prefixes = principal.region_codes
    if prefixes is None:
        return stmt
    return stmt.where(_starts_with_any(column, prefixes))


def region_in_scope(principal: Principal, region_code: str | None) -> bool:
    """May the principal see (and so act on) things in this region?"""
    prefixes = principal.region_codes
    if prefixes is None:
        return True
    return bool(region_code) and any(str(region_code).startswith(p) for p in prefixes)


def can_see_device(principal: Principal, device_id: str) -> bool:
    """Prefix check on the device ID alone (no database access).

    A device visible only through its channels returns False here; routes that
    must agree with the device list use :func:`device_in_scope`.
    """
    prefixes = principal.region_codes
    return prefixes is None or any(device_id.startswith(p) for p in prefixes)


async def device_in_scope(session: AsyncSession, principal: Principal, device_id: str) -> bool:
    """Exactly the :func:`scope_devices` rule for one device (False if it does not exist)."""
    stmt = scope_devices(select(Device.id).where(Device.id == device_id), principal)
    return (await session.scalar(stmt)) is not None


def can_see_channel(principal: Principal, channel_id: str, civil_code: str | None) -> bool:
    """Same rule as :func:`scope_channels`, for one already-loaded channel."""
    prefixes = principal.region_codes
    if prefixes is None:
        return True
    key = civil_code if civil_code else channel_id
    return any(key.startswith(p) for p in prefixes)
