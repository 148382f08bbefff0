"""The device domain's SIP handlers: REGISTER, out-of-dialog MESSAGE, NOTIFY."""

from __future__ import annotations

from sharpeyes.devices.messaging import DeviceMessaging
from sharpeyes.devices.registrar import Registrar
from sharpeyes.sip.router import DEVICE_SIDE, SipRouter


def register_device_routes(
    router: SipRouter, registrar: Registrar, messaging: DeviceMessaging
) -> None:
    """After the dialog layer's routes, so a playback's in-dialog MESSAGE goes there."""
    router.add("REGISTER", DEVICE_SIDE, registrar.handle)
    router.add("MESSAGE", DEVICE_SIDE, messaging.on_message)
    router.add("NOTIFY", DEVICE_SIDE, messaging.on_notify)
