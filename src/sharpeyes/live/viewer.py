"""A WebSocket viewer's outgoing queue, fed synchronously by the stream hub.

The hub must never wait for a viewer, so each viewer has a bounded queue and one
task that drains it into its socket. A viewer that falls behind by more than
``max_bytes`` loses its queued fragments and resumes at the next keyframe (its
player sees a jump, everyone else sees nothing); this is counted in ``dropped``.
Consecutive fragments are sent as one WebSocket message when the socket was
busy, which is also what keeps a slow link from costing one send per frame; a
keyframe fragment always goes out as a message of its own, so a player that just
joined can show a picture before the rest of the cached GOP has arrived.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from typing import Literal

ItemKind = Literal["text", "binary"]
_TEXT, _INIT, _KEY, _MEDIA = 0, 1, 2, 3


class WsViewer:
    """Implements the hub's ``Consumer`` protocol; :meth:`next_batch` feeds the socket task."""

    def __init__(
        self, *, max_bytes: int = 8 * 1024 * 1024, user: str = "", user_id: int | None = None
    ) -> None:
        self.max_bytes = max_bytes
        self.user = user
        self.user_id = user_id  # whose right is re-checked when a grant ends
        self._items: deque[tuple[int, bytes | str]] = deque()
        self._bytes = 0
        self._wake = asyncio.Event()
        self._waiting_key = False
        self.dropped = 0
        self.sent_bytes = 0
        self.fragments = 0
        self.ended: tuple[str, str] | None = None  # (reason, detail) once the stream is over

    # -- hub side (synchronous, never blocks) --------------------------------------

    def send_init(self, info: dict[str, object], init: bytes) -> None:
        self._items.append((_TEXT, json.dumps({"type": "init", **info})))
        self._items.append((_INIT, init))
        self._bytes += len(init)
        self._waiting_key = False
        self._wake.set()

    def send_media(self, data: bytes, keyframe: bool) -> None:
        if self._waiting_key:
            if not keyframe:
                self.dropped += 1
                return
            self._waiting_key = False
        if self._bytes + len(data) > self.max_bytes:
            self._drop_media()
            if not keyframe:
                self._waiting_key = True
                self.dropped += 1
                return
        self._items.append((_KEY if keyframe else _MEDIA, data))
        self._bytes += len(data)
        self.fragments += 1
        self._wake.set()

    def _drop_media(self) -> None:
        kept: deque[tuple[int, bytes | str]] = deque()
        for item in self._items:
            if item[0] in (_TEXT, _INIT):
                kept.append(item)
            else:
                self.dropped += 1
                self._bytes -= len(item[1])
        self._items = kept

    def end(self, reason: str, detail: str) -> None:
        """The stream is over: the socket task sends the reason and closes."""
        if self.ended is None:
            self.ended = (reason, detail)
            self._wake.set()

    # -- socket side -----------------------------------------------------------------

    async def next_batch(self) -> list[tuple[ItemKind, bytes | str]]:
        """Wait for something to send; consecutive media fragments come joined."""
        while not self._items and self.ended is None:
            self._wake.clear()
            await self._wake.wait()
        out: list[tuple[ItemKind, bytes | str]] = []
        pending: list[bytes] = []
        while self._items:
            kind, data = self._items.popleft()
            if kind == _MEDIA:
                pending.append(data)  # type: ignore[arg-type]
                continue
            if pending:
                out.append(("binary", b"".join(pending)))
                pending = []
            out.append(("text" if kind == _TEXT else "binary", data))
        if pending:
            out.append(("binary", b"".join(pending)))
        self._bytes = 0
        for frame_kind, payload in out:
            if frame_kind == "binary":
                self.sent_bytes += len(payload)
        return out


__all__ = ["WsViewer"]
