"""The node's services as an explicit object: what the API, ops and the demo need.

``api.app.create_app(services)`` takes anything with these attributes; the composition
root (``sharpeyes.node.Node``) is one, a test may pass another. Routes ask for the
service they use (``Annotated[..., Depends(...)]`` in ``api.deps``) rather than the node,
and nothing but the composition root imports ``sharpeyes.node`` (an import-linter
contract in pyproject.toml).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from sharpeyes.audit.service import AuditService
    from sharpeyes.cascade.service import CascadeService
    from sharpeyes.cascade.upper_sip import UpperSip
    from sharpeyes.config import Settings
    from sharpeyes.devices.interop import InteropCounters
    from sharpeyes.devices.messaging import DeviceMessaging
    from sharpeyes.devices.registrar import Registrar
    from sharpeyes.devices.registry import DeviceRegistry
    from sharpeyes.devices.service import DeviceService
    from sharpeyes.events import EventBus
    from sharpeyes.health.service import HealthService
    from sharpeyes.jobs import JobRunner
    from sharpeyes.ledger.service import LedgerService
    from sharpeyes.lifecycle import Lifecycle
    from sharpeyes.live.service import LiveService
    from sharpeyes.messages.service import MessageService
    from sharpeyes.messages.talk import TalkService
    from sharpeyes.ops.metrics import NodeMetrics
    from sharpeyes.proxies.service import ProxyService
    from sharpeyes.recording.service import RecordingService
    from sharpeyes.sharing.apps import AppService
    from sharpeyes.sharing.requests import ShareService
    from sharpeyes.sharing.users import UserService
    from sharpeyes.sip.stack import SipStack
    from sharpeyes.store.db import Database


class Services(Protocol):
    settings: Settings
    started_at: float
    db: Database
    bus: EventBus
    jwt_secret: bytes
    revoked_tokens: dict[str, float]
    lifecycle: Lifecycle
    metrics: NodeMetrics
    # signalling and devices
    stack: SipStack
    registry: DeviceRegistry
    registrar: Registrar
    messaging: DeviceMessaging
    interop: InteropCounters
    devices: DeviceService
    messages: MessageService
    talk: TalkService
    # streams
    live: LiveService
    proxies: ProxyService
    recording: RecordingService
    cascade: CascadeService
    upper_sip: UpperSip
    # people, sharing, records
    users: UserService
    sharing: ShareService
    apps: AppService
    audit: AuditService
    jobs: JobRunner
    ledger: LedgerService

    health: HealthService

    def loop_lag_ms(self) -> dict[str, float]: ...
