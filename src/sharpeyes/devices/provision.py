"""Pre-provisioning (add a device before it registers) and batch actions.

An operator enters the device's 20-digit ID, its own digest password and the
media transport its INVITEs should ask for; the device is admitted and waits
"never registered" until it calls in, so a camera that never comes online is
visible instead of absent (issue 17, defect 10).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sharpeyes.devices.registry import DeviceRegistry, LiveDevice
from sharpeyes.gb28181.deviceid import is_device_id
from sharpeyes.store.models import Admission, Device, MediaTransport, SignalTransport


class DeviceExists(Exception):
    pass


async def provision(
    registry: DeviceRegistry,
    device_id: str,
    *,
    name: str | None = None,
    password: str | None = None,
    transport: SignalTransport = SignalTransport.UDP,
    media_transport: MediaTransport = MediaTransport.UDP,
    charset: str = "GB2312",
) -> Device:
    if not is_device_id(device_id):
        raise ValueError("device_id must be a 20-digit GB/T 28181 code")
    if registry.get(device_id) is not None:
        raise DeviceExists(device_id)
    now = datetime.now(UTC)
    row = Device(
        id=device_id,
        name=name or None,
        admission=Admission.ADMITTED.value,
        password=password or None,
        transport=transport.value,
        media_transport=media_transport.value,
        charset=charset,
        online=False,
        keepalive_interval=registry.keepalive_interval,
        keepalive_timeout_count=registry.keepalive_timeout_count,
        channel_count=0,
        created_at=now,
        updated_at=now,
    )
    async with registry.db.session() as s:
        if await s.get(Device, device_id) is not None:
            raise DeviceExists(device_id)
        s.add(row)
        await s.commit()
        await s.refresh(row)
    registry.devices[device_id] = LiveDevice(
        id=device_id,
        admission=Admission.ADMITTED.value,
        password=password or None,
        charset=charset,
        keepalive_interval=registry.keepalive_interval,
        keepalive_timeout_count=registry.keepalive_timeout_count,
    )
    registry.bus.publish("device.provisioned", device_id=device_id)
    return row


def batch_result(device_id: str, ok: bool, detail: Any = None) -> dict[str, Any]:
    return {"device_id": device_id, "ok": ok, "detail": detail}
