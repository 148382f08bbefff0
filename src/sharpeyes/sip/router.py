"""Inbound SIP requests → the handler of the domain that owns them.

Keyed by ``(method, peer kind)``: a device (or a lower platform registering to us,
which GB/T 28181 treats like a device), or an upper platform we register to. Each
domain registers its handlers (``add``) instead of the node growing an if-chain; a
handler may carry a ``when`` guard (an in-dialog MESSAGE, a device answering our
broadcast INVITE) and the first matching one wins, in registration order.

Nothing matched: a method with a ``refuse`` answer gets it (INVITE 488, SUBSCRIBE 489:
we know the method but not that offer or event package); any other method the node
knows of gets 405 with ``Allow``, a method it has never heard of 501 (RFC 3261 §8.2.1).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum

from sharpeyes.gb28181.message import SipRequest, SipResponse, response_for
from sharpeyes.sip.transport import Peer

Handler = Callable[[SipRequest, Peer], Awaitable[SipResponse | None] | SipResponse | None]
Guard = Callable[[SipRequest, Peer], bool]
Classifier = Callable[[SipRequest, Peer], "PeerKind | None"]

ANY = "*"

# Methods of RFC 3261 and its extensions: known, so refused with 405 rather than 501.
KNOWN_METHODS = frozenset(
    [
        "REGISTER",
        "INVITE",
        "ACK",
        "BYE",
        "CANCEL",
        "OPTIONS",
        "MESSAGE",
        "NOTIFY",
        "SUBSCRIBE",
        "INFO",
        "PRACK",
        "UPDATE",
        "REFER",
        "PUBLISH",
    ]
)
# The order ``Allow`` lists methods in (stable, whatever order domains register in).
_ALLOW_ORDER = [
    "REGISTER",
    "MESSAGE",
    "NOTIFY",
    "SUBSCRIBE",
    "INFO",
    "BYE",
    "ACK",
    "OPTIONS",
    "INVITE",
    "CANCEL",
    "PRACK",
    "UPDATE",
    "REFER",
    "PUBLISH",
]


class PeerKind(StrEnum):
    DEVICE = "device"
    LOWER = "lower"  # a lower platform registering to us
    UPPER = "upper"  # an upper platform we register to (cascade)


DEVICE_SIDE = (PeerKind.DEVICE, PeerKind.LOWER)


@dataclass(frozen=True)
class Route:
    method: str
    kind: PeerKind
    handler: Handler
    when: Guard | None = None


class SipRouter:
    def __init__(self) -> None:
        self._routes: dict[tuple[str, PeerKind], list[Route]] = {}
        self._classifiers: list[Classifier] = []
        self._refusals: dict[str, tuple[int, str]] = {}

    # ------------------------------------------------------------ wiring
    def add(
        self,
        method: str,
        kinds: PeerKind | tuple[PeerKind, ...],
        handler: Handler,
        *,
        when: Guard | None = None,
    ) -> None:
        """Route ``method`` (or ``ANY``) from peers of ``kinds`` to ``handler``."""
        for kind in (kinds,) if isinstance(kinds, PeerKind) else kinds:
            route = Route(method.upper(), kind, handler, when)
            self._routes.setdefault((route.method, kind), []).append(route)

    def classify_with(self, classifier: Classifier) -> None:
        """A domain that can tell its peers apart (cascade: its uppers); first wins."""
        self._classifiers.append(classifier)

    def refuse(self, method: str, status: int, reason: str) -> None:
        """The answer to ``method`` when no handler takes it."""
        self._refusals[method.upper()] = (status, reason)

    # ----------------------------------------------------------- routing
    def kind_of(self, req: SipRequest, peer: Peer) -> PeerKind:
        for classify in self._classifiers:
            kind = classify(req, peer)
            if kind is not None:
                return kind
        return PeerKind.DEVICE

    def allow(self) -> str:
        methods = {m for (m, _k) in self._routes if m != ANY} | set(self._refusals) | {"ACK"}
        return ", ".join(m for m in _ALLOW_ORDER if m in methods)

    def route_for(self, req: SipRequest, peer: Peer) -> Route | None:
        kind = self.kind_of(req, peer)
        for key in ((req.method, kind), (ANY, kind)):
            for route in self._routes.get(key, ()):
                if route.when is None or route.when(req, peer):
                    return route
        return None

    async def dispatch(self, req: SipRequest, peer: Peer) -> SipResponse | None:
        route = self.route_for(req, peer)
        if route is not None:
            result = route.handler(req, peer)
            if isinstance(result, SipResponse) or result is None:
                return result
            return await result
        if req.method == "ACK":  # never answered (RFC 3261 §17.2.1)
            return None
        refusal = self._refusals.get(req.method)
        if refusal is not None:
            return response_for(req, *refusal)
        if req.method in KNOWN_METHODS:
            return response_for(req, 405, headers=[("Allow", self.allow())])
        return response_for(req, 501, headers=[("Allow", self.allow())])
