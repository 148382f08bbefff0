"""The catalogue of bus events: one TypedDict per event type, the ``data`` it carries.

``EventBus.publish(type, **data)`` stays untyped at the call (services publish with
keywords), so ``tests/unit/test_event_catalogue.py`` reads every publish site and checks
that its type is listed here and its keywords are this TypedDict's keys (the required
ones present). Subscribers (``/api/events``, health, webhooks) can rely on these keys.
Times are ISO-8601 strings or epoch seconds as noted; ids are database ids unless
named ``*_id`` for a 20-digit GB code (``device_id``, ``channel_id``).
"""

from typing import Any, NotRequired, TypedDict


class DeviceState(TypedDict):  # device.online / device.offline
    device_id: str
    reason: str


class ChannelState(TypedDict):  # channel.online / channel.offline
    device_id: str
    channel_id: str
    reason: str


class DevicePending(TypedDict):  # a device not yet admitted tried to register
    device_id: str
    host: str


class DeviceId(TypedDict):  # device.deleted, device.provisioned
    device_id: str


class CatalogChanged(TypedDict):
    device_id: str
    added: NotRequired[int]
    updated: NotRequired[int]
    removed: NotRequired[int]


class Alarm(TypedDict):  # a device alarm was stored (plus its source fields)
    id: int
    device_id: str
    alarm_device_id: str
    priority: int
    method: int
    alarm_type: int | None
    alarm_time: str
    description: str | None


class AlarmUpdated(TypedDict):  # plus the changed columns
    id: int


class AuditView(TypedDict):  # live.audit.AuditRecord as a dict (see live/audit.py)
    action: NotRequired[str]
    username: NotRequired[str]


class CascadeUpper(TypedDict):  # cascade.upper.created / .updated / .deleted
    upper_id: int
    server_id: NotRequired[str]
    enabled: NotRequired[bool]


class CascadeUpperState(TypedDict):
    upper_id: int
    server_id: str
    state: str  # sip.registration.RegState value
    error: str | None


class CascadeChannels(TypedDict):
    upper_id: int


class CascadeForward(TypedDict):  # cascade.forward.started / .stopped
    upper_id: int
    channel_id: str
    channel_pk: int
    reason: NotRequired[str]
    bytes: NotRequired[int]


class GrantChanged(TypedDict):
    id: int
    org_id: int
    state: str
    reason: NotRequired[str]


class JobUpdated(TypedDict):
    id: str
    kind: str
    state: str
    progress: float
    user_id: int | None


class LedgerChanged(TypedDict):
    entity: str
    action: str  # create, update, delete, seed, sync, import
    id: NotRequired[int]
    count: NotRequired[int]
    created: NotRequired[int]
    updated: NotRequired[int]
    job_id: NotRequired[str]


class LedgerExported(TypedDict):
    entity: str
    format: str
    rows: int
    user: str


class MediaStatus(TypedDict):  # MediaStatus 121: a playback/download reached its end
    device_id: str
    source_id: str
    notify_type: str
    sn: int | None
    ended: bool


class MobilePosition(TypedDict):
    device_id: str
    source_id: str
    at: str
    longitude: float
    latitude: float
    speed: float | None
    direction: float | None


class OmAlarm(TypedDict):  # om.alarm.<raised|updated|recovered|…>: the alarm row
    id: NotRequired[int]


class OmWorkOrder(TypedDict):
    id: int
    state: str | None
    action: str


class ProxyId(TypedDict):  # proxy.created / proxy.deleted
    id: int
    gb_id: str
    device_id: str


class ProxyState(TypedDict):
    id: int
    gb_id: str
    device_id: str
    state: str
    failures: int
    last_error: NotRequired[str | None]
    detail: NotRequired[str | None]
    retry_in_s: NotRequired[float | None]
    retry_delay_s: NotRequired[float | None]


class ProxyReconnectStorm(TypedDict):
    id: int
    gb_id: str
    device_id: str
    failures: int


class DiskGuard(TypedDict):
    severity: str
    used_bytes: int
    quota_bytes: int | None
    min_free_percent: float | None
    deleted: int


class StreamStarted(TypedDict):
    session_id: str
    device_id: str
    channel_id: str
    channel_pk: int
    stream: str
    transport: str
    started_by: str


class StreamStopped(TypedDict):
    session_id: str
    device_id: str
    channel_id: str
    channel_pk: int
    stream: str
    reason: str  # live.session.EndReason value
    detail: str


class MediaStreamLost(TypedDict):
    """A stream a media node carried ended because the node stopped heartbeating."""

    session_id: str
    media_node: str
    reason: str  # live.session.EndReason.MEDIA_NODE_LOST


class MediaNodeDown(TypedDict):
    id: str
    streams: int


# Event type → the shape of its ``data``. A prefix ending in "." covers a family.
CATALOGUE: dict[str, type[Any]] = {
    "device.online": DeviceState,
    "device.offline": DeviceState,
    "device.pending": DevicePending,
    "device.deleted": DeviceId,
    "device.provisioned": DeviceId,
    "channel.online": ChannelState,
    "channel.offline": ChannelState,
    "catalog.changed": CatalogChanged,
    "alarm": Alarm,
    "alarm.updated": AlarmUpdated,
    "audit.view": AuditView,
    "cascade.upper.created": CascadeUpper,
    "cascade.upper.updated": CascadeUpper,
    "cascade.upper.deleted": CascadeUpper,
    "cascade.upper.state": CascadeUpperState,
    "cascade.channels.changed": CascadeChannels,
    "cascade.forward.started": CascadeForward,
    "cascade.forward.stopped": CascadeForward,
    "grant.changed": GrantChanged,
    "job.updated": JobUpdated,
    "ledger.changed": LedgerChanged,
    "ledger.exported": LedgerExported,
    "media.status": MediaStatus,
    "media.stream_lost": MediaStreamLost,
    "media.node_down": MediaNodeDown,
    "mobile.position": MobilePosition,
    "om.alarm.": OmAlarm,
    "om.workorder": OmWorkOrder,
    "proxy.created": ProxyId,
    "proxy.deleted": ProxyId,
    "proxy.state": ProxyState,
    "proxy.reconnect_storm": ProxyReconnectStorm,
    "recording.disk_guard": DiskGuard,
    "stream.started": StreamStarted,
    "stream.stopped": StreamStopped,
}


def shape_of(event_type: str) -> type[Any] | None:
    """The TypedDict of ``event_type`` (a family prefix such as ``om.alarm.`` counts)."""
    if event_type in CATALOGUE:
        return CATALOGUE[event_type]
    for prefix, shape in CATALOGUE.items():
        if prefix.endswith(".") and event_type.startswith(prefix):
            return shape
    return None
