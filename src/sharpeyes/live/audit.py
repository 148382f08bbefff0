"""Audit records for viewing (every view/playback/download/export/PTZ/grant is audited).

There is no audit module yet (the hash-chained ``audit/`` will own the table);
until then each view is written to the ``sharpeyes.audit`` logger as one JSON
line and published on the bus as ``audit.view``, in the shape an ``audit_events``
row will take, so the audit module can subscribe without changing callers.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from sharpeyes.events import EventBus

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

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def audit(bus: EventBus, record: AuditRecord) -> None:
    """Log and publish one audit record (never raises: auditing must not break viewing)."""
    data = record.as_dict()
    with contextlib.suppress(Exception):  # a failing log handler must not stop the view
        log.info(json.dumps(data, ensure_ascii=False, default=str))
    bus.publish("audit.view", **data)


__all__ = ["AuditRecord", "audit"]
