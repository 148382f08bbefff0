"""Batched UDP receive for RTP: one ``recvmmsg`` per loop wake-up, not one ``recvmsg`` a datagram.

libuv (uvloop) and asyncio read one datagram per syscall; at ~50,000 datagrams/s that
syscall was ~27 % of the node's time (docs/benchmarks.md). :func:`recv_batch` drains
up to ``max`` queued datagrams at once: the C extension ``_fastrecv`` does it in one
``recvmmsg(2)``; without it (not compiled, or ``SHARPEYES_NO_CEXT=1``) the pure-Python
:func:`recv_batch_py` loops over ``recvfrom`` with identical results.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from typing import Any

BATCH = 64  # datagrams per call: ~0.4 ms of one 2 Mbit/s camera × 64 cameras per wake-up
BUFSIZE = 65536  # any UDP datagram: never truncate RTP a device sends in one piece

Datagrams = list[tuple[bytes, Any]]
RecvBatch = Callable[[socket.socket, int, int], Datagrams]


def recv_batch_py(sock: socket.socket, max: int, bufsize: int) -> Datagrams:
    """Up to ``max`` datagrams waiting on ``sock`` ([] when none): the fallback of the C path."""
    if not 1 <= bufsize <= 65536:
        raise ValueError("bufsize must be 1..65536")
    out: Datagrams = []
    recvfrom = sock.recvfrom
    for _ in range(max if max > 0 else 1):
        try:
            out.append(recvfrom(bufsize, socket.MSG_DONTWAIT))
        except (BlockingIOError, InterruptedError):
            break
    return out


def c_recv_batch() -> RecvBatch | None:
    """The C path, or None when the extension is not built (or disabled by the env var)."""
    if os.environ.get("SHARPEYES_NO_CEXT") == "1":
        return None
    try:
        from sharpeyes.live import _fastrecv  # type: ignore[attr-defined]
    except ImportError:
        return None
    c_recv = _fastrecv.recv_batch

    def recv_batch_c(sock: socket.socket, max: int, bufsize: int) -> Datagrams:
        return c_recv(sock.fileno(), max, bufsize)  # type: ignore[no-any-return]

    return recv_batch_c


_C = c_recv_batch()
recv_batch: RecvBatch = _C if _C is not None else recv_batch_py
IMPLEMENTATION = "c" if _C is not None else "python"

__all__ = ["BATCH", "BUFSIZE", "IMPLEMENTATION", "c_recv_batch", "recv_batch", "recv_batch_py"]
