"""Helpers for the proxy tests: a real RTSP server (GStreamer's gst-rtsp-server) in a subprocess."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest

SERVER = Path(__file__).resolve().parents[1] / "rtsp" / "gst_rtsp_server.py"
SYSTEM_PYTHON = shutil.which("python3", path="/usr/bin:/bin") or "/usr/bin/python3"


def gst_available() -> bool:
    probe = subprocess.run(
        [
            SYSTEM_PYTHON,
            "-c",
            "import gi; gi.require_version('GstRtspServer', '1.0'); "
            "from gi.repository import GstRtspServer",
        ],
        capture_output=True,
    )
    return probe.returncode == 0


needs_gst = pytest.mark.skipif(
    not gst_available(),
    reason="GStreamer RTSP server missing (scripts/setup-system.sh installs it)",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RtspServer:
    """``async with RtspServer(...) as srv``: srv.url, srv.connected, srv.closed (RTSP clients)."""

    def __init__(
        self,
        port: int = 0,
        *,
        user: str | None = None,
        password: str | None = None,
        codec: str = "h264",
        audio: bool = True,
        size: str = "320x240",
    ) -> None:
        self.port = port
        self.args = ["--port", str(port), "--codec", codec, "--size", size]
        if user:
            self.args += ["--user", user, "--password", password or ""]
        if not audio:
            self.args.append("--no-audio")
        self.proc: asyncio.subprocess.Process | None = None
        self.connected = 0
        self.closed = 0
        self._reader: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"rtsp://127.0.0.1:{self.port}/cam"

    async def __aenter__(self) -> RtspServer:
        self.proc = await asyncio.create_subprocess_exec(
            SYSTEM_PYTHON,
            str(SERVER),
            *self.args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        assert self.proc.stdout is not None
        line = (await asyncio.wait_for(self.proc.stdout.readline(), 30)).decode()
        assert line.startswith("READY "), f"RTSP server did not start: {line!r}"
        self.port = int(line.split()[1])
        self._reader = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        async for raw in self.proc.stdout:
            line = raw.decode().strip()
            if line == "CLIENT connected":
                self.connected += 1
            elif line == "CLIENT closed":
                self.closed += 1

    @property
    def clients(self) -> int:
        return self.connected - self.closed

    async def __aexit__(self, *exc: Any) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 5)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
