"""Audit records for viewing (every view/playback/download/export/PTZ/grant is audited).

Each record is written to the ``sharpeyes.audit`` logger as one JSON line,
published on the bus as ``audit.view``, and handed to every registered sink: the
node's ``audit.service.AuditService`` registers one that writes the record into
the hash-chained ``audit_events`` table. Actions that write to the database
record their row in their own transaction with ``audit.service.record`` instead.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
import weakref
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from sharpeyes.events import EventBus

if TYPE_CHECKING:
    from sharpeyes.sharing.principal import Principal

log = logging.getLogger("sharpeyes.audit")


@dataclass(frozen=True, slots=True)
class AuditRecord:
    action: str  # live.play | live.snapshot | live.stop
    user_id: int
    username: str
    target_type: str  # "channel"
    target_id: str  # the 20-digit channel ID
    device_id: str
    client_ip: str | None
    detail: dict[str, Any] = field(default_factory=dict)
    at: float = field(default_factory=time.time)
    outcome: str = "ok"  # ok | denied | failed
    org_id: int | None = None
    actor: str | None = None  # "app:<id>" for open-API calls; default "user:<user_id>"

    @classmethod
    def by(cls, principal: Principal, **fields: Any) -> AuditRecord:
        """What ``principal`` did: user, organisation and actor (user or app) filled in,
        so no call site can forget who acted for which organisation."""
        return cls(
            user_id=principal.user_id,
            username=principal.username,
            org_id=principal.org_id,
            actor=principal.actor,
            **fields,
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


Sink = Callable[[AuditRecord], None]
_sinks: weakref.WeakKeyDictionary[EventBus, list[Sink]] = weakref.WeakKeyDictionary()


def add_sink(bus: EventBus, sink: Sink) -> None:
    """Also hand every record audited on ``bus`` to ``sink`` (must not block)."""
    _sinks.setdefault(bus, []).append(sink)


def remove_sink(bus: EventBus, sink: Sink) -> None:
    with contextlib.suppress(ValueError):
        _sinks.get(bus, []).remove(sink)


def audit(bus: EventBus, record: AuditRecord) -> None:
    """Log, publish and store one audit record (never raises: auditing must not break viewing)."""
    data = record.as_dict()
    with contextlib.suppress(Exception):  # a failing log handler must not stop the view
        log.info(json.dumps(data, ensure_ascii=False, default=str))
    for sink in list(_sinks.get(bus, ())):
        with contextlib.suppress(Exception):
            sink(record)
    bus.publish("audit.view", **data)


__all__ = ["AuditRecord", "add_sink", "audit", "remove_sink"]
