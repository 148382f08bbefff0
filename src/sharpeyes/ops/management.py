"""A metrics-only HTTP listener on a management address (``ops.metrics_port``).

Deliberately tiny (asyncio streams, GET /metrics only): it runs in the node's loop,
so the collector reads the services' counters without any thread races, and it
serves nothing else, so binding it to a management network needs no token.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from sharpeyes.ops.metrics import CONTENT_TYPE

if TYPE_CHECKING:
    from sharpeyes.ops.metrics import NodeMetrics

log = logging.getLogger(__name__)


class MetricsListener:
    def __init__(self, metrics: NodeMetrics, host: str, port: int) -> None:
        self.metrics = metrics
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("metrics listener on %s:%d", self.host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            parts = head.split(b" ", 2)
            if len(parts) < 2 or parts[0] != b"GET":
                status, body, ctype = "405 Method Not Allowed", b"GET only\n", "text/plain"
            elif parts[1].split(b"?", 1)[0] != b"/metrics":
                status, body, ctype = "404 Not Found", b"only /metrics here\n", "text/plain"
            else:
                status, body, ctype = "200 OK", await self.metrics.render(), CONTENT_TYPE
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, OSError):
            pass
        finally:
            writer.close()
