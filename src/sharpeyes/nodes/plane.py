"""The control node's media plane when ``media.mode = "nodes"``: one object node.py builds
and starts, so the composition root stays small (embedded mode builds nothing)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sharpeyes.live.session import EndReason
from sharpeyes.nodes.bus import ControlLink
from sharpeyes.nodes.registry import Lost, NodeRegistry
from sharpeyes.nodes.tokens import StreamClaims, load_or_create_key, sign

if TYPE_CHECKING:
    from sharpeyes.config import Settings
    from sharpeyes.events import EventBus


class NodesMediaPlane:
    """Media nodes over NATS: their registry (``GET /api/media/nodes``) and the link."""

    def __init__(self, settings: Settings, bus: EventBus) -> None:
        self.bus = bus
        self.token_ttl_s = settings.media.token_ttl_s
        self._key_file = Path(settings.media.token_key_file)
        self._key: Ed25519PrivateKey | None = None
        self.registry = NodeRegistry()
        self.link = ControlLink(settings.nats.url, self.registry, self._on_lost)

    def stream_token(self, stream: str, node: str, user: int | None, now: float) -> str:
        """A viewer's token for ``stream`` on media node ``node`` (Ed25519, ``token_ttl_s``)."""
        if self._key is None:
            self._key = load_or_create_key(self._key_file)
        return sign(self._key, StreamClaims(stream, node, now + self.token_ttl_s, user))

    async def start(self) -> None:
        if self._key is None:
            self._key = load_or_create_key(self._key_file)
        try:
            await self.link.start()
        except (OSError, TimeoutError) as e:
            raise RuntimeError(
                f"media.mode = nodes: cannot reach NATS at {self.link.nats_url} ({e}); "
                "start nats-server (Debian package nats-server) or set [nats] url"
            ) from e

    async def stop(self) -> None:
        await self.link.stop()

    async def _on_lost(self, lost: Lost) -> None:
        for stream in sorted(lost.streams):
            self.bus.publish(
                "media.stream_lost",
                session_id=stream,
                media_node=lost.node,
                reason=EndReason.MEDIA_NODE_LOST.value,
            )
        self.bus.publish("media.node_down", id=lost.node, streams=len(lost.streams))


def media_plane_for(settings: Settings, bus: EventBus) -> NodesMediaPlane | None:
    """None in embedded mode (today's in-process hub), else the media-node plane."""
    return NodesMediaPlane(settings, bus) if settings.media.mode == "nodes" else None
