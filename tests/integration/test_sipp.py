"""An independent SIP peer (sipp, Debian sip-tester) registers with digest and keeps alive."""

from __future__ import annotations

import asyncio
import shutil
import socket
from pathlib import Path

import pytest

from sharpeyes.node import Node

SCENARIO = Path(__file__).parent / "sipp" / "register_keepalive.xml"
pytestmark = pytest.mark.skipif(
    shutil.which("sipp") is None, reason="sipp (sip-tester) not installed"
)


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _run_sipp(node: Node, device_id: str, password: str, tmp_path: Path) -> tuple[int, str]:
    sip = node.settings.sip
    proc = await asyncio.create_subprocess_exec(
        "sipp",
        f"127.0.0.1:{node.stack.port}",
        "-sf",
        str(SCENARIO),
        "-m",
        "1",
        "-t",
        "u1",
        "-i",
        "127.0.0.1",
        "-p",
        str(_free_udp_port()),
        "-au",
        device_id,
        "-ap",
        password,
        "-key",
        "device_id",
        device_id,
        "-key",
        "domain",
        sip.domain,
        "-key",
        "server_id",
        sip.id,
        "-timeout",
        "20s",
        "-timeout_error",
        "-nostdin",
        "-trace_err",
        "-error_file",
        str(tmp_path / "sipp_err.log"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=tmp_path,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    errors = (
        (tmp_path / "sipp_err.log").read_text(errors="replace")
        if (tmp_path / "sipp_err.log").exists()
        else ""
    )
    return proc.returncode or 0, out.decode(errors="replace")[-2000:] + errors[-2000:]


async def test_sipp_registers_with_digest_and_keepalive_gets_200(
    node: Node, tmp_path: Path
) -> None:
    device_id = "34020000001320000077"
    code, log = await _run_sipp(node, device_id, node.settings.sip.password, tmp_path)
    assert code == 0, log
    live = node.registry.get(device_id)
    assert live is not None and live.online
    assert live.last_keepalive_at is not None
    assert node.messaging.stats["keepalives"] == 1


async def test_sipp_with_wrong_password_fails(node: Node, tmp_path: Path) -> None:
    device_id = "34020000001320000078"
    code, _ = await _run_sipp(node, device_id, "not-the-password", tmp_path)
    assert code != 0  # sipp expected 200 and got 403
    live = node.registry.get(device_id)
    assert live is None or not live.online
