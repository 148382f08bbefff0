"""One lifecycle for the node's parts: start in dependency order, stop in reverse.

Services keep their own ``start``/``stop`` (some sync, some async, some taking a
secret); the composition root (``node.py``) wraps each in a :class:`Step` so the
:class:`Lifecycle` can treat them alike. Stopping is an ``AsyncExitStack``: only
what has started is stopped, in reverse, also after a start that failed half-way,
and ``stop()`` before ``start()`` does nothing.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

log = logging.getLogger(__name__)

Hook = Callable[[], Awaitable[None] | None]


@runtime_checkable
class Component(Protocol):
    """What the composition root needs of a part: start, stop, and counters."""

    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def stats(self) -> dict[str, Any]: ...


async def _call(hook: Hook | None) -> None:
    if hook is None:
        return
    result = hook()
    if inspect.isawaitable(result):
        await result


def _no_stats() -> dict[str, Any]:
    return {}


@dataclass
class Step:
    """A :class:`Component` made of a service's own hooks (sync or async)."""

    name: str
    on_start: Hook | None = None
    on_stop: Hook | None = None
    counters: Callable[[], dict[str, Any]] = field(default=_no_stats)

    async def start(self) -> None:
        await _call(self.on_start)

    async def stop(self) -> None:
        await _call(self.on_stop)

    def stats(self) -> dict[str, Any]:
        return self.counters()


class Lifecycle:
    """Starts components in the order given and stops the started ones in reverse."""

    def __init__(self, components: list[Component]) -> None:
        names = [c.name for c in components]
        if len(set(names)) != len(names):
            raise ValueError(f"component names must be unique: {names}")
        self.components = components
        self._stack = AsyncExitStack()
        self.started: list[str] = []

    def __getitem__(self, name: str) -> Component:
        for c in self.components:
            if c.name == name:
                return c
        raise KeyError(name)

    async def start(self) -> None:
        try:
            for c in self.components:
                await c.start()
                self._stack.push_async_callback(self._stop_one, c)
                self.started.append(c.name)
        except BaseException:
            await self.stop()
            raise

    async def _stop_one(self, c: Component) -> None:
        try:
            await c.stop()
        except Exception:  # one part failing to stop must not keep the rest running
            log.exception("stopping %s failed", c.name)
        finally:
            self.started.remove(c.name)

    async def stop(self) -> None:
        stack, self._stack = self._stack, AsyncExitStack()
        await stack.aclose()

    def stats(self) -> dict[str, dict[str, Any]]:
        """Each component's counters by name (components without counters left out)."""
        out: dict[str, dict[str, Any]] = {}
        for c in self.components:
            s = c.stats()
            if s:
                out[c.name] = s
        return out
