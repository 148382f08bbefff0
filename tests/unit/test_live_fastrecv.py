"""The batched UDP receive: the C path (recvmmsg) and the Python fallback agree exactly.

Recorded RTP (PS over RTP from a generated clip) with loss, local reordering and
garbage datagrams goes over a real 127.0.0.1 socket to each implementation in turn;
both must return the same datagrams with the same peers, and the RTP receiver fed
from each must deliver the same payloads and count the same loss and garbage.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from sharpeyes.live import fastrecv
from sharpeyes.live.rtp_io import UdpRtpEndpoint, open_udp
from sharpeyes.media.rtp import RtpReceiver
from tests.media_fixtures import clip, ps_rtp, shuffle_within

SSRC = 0x0100000001 & 0xFFFFFFFF
C_RECV = fastrecv.c_recv_batch()
IMPLS = [
    pytest.param(fastrecv.recv_batch_py, id="python"),
    pytest.param(
        C_RECV,
        id="c",
        marks=pytest.mark.skipif(C_RECV is None, reason="C extension _fastrecv not built"),
    ),
]


def recorded() -> list[bytes]:
    """Clip as RTP, ~3 % lost, reordered within 6, with runts, noise and a jumbo in between."""
    rng = random.Random(12)
    pkts = [p for p in ps_rtp(clip("h264", frames=30)) if rng.random() > 0.03]
    pkts = shuffle_within(pkts, 6, seed=3)
    garbage = [b"", b"\x80", b"\x00" * 11, bytes(rng.randrange(256) for _ in range(700))]
    garbage.append(b"\x80\x60" + bytes(9000))  # jumbo: version 2, not our SSRC
    for i, g in enumerate(garbage):
        pkts.insert(7 + i * 40, g)
    return pkts


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    rx.bind(("127.0.0.1", 0))
    rx.setblocking(False)
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tx.bind(("127.0.0.1", 0))
    yield rx, tx
    rx.close()
    tx.close()


def transfer(
    recv: fastrecv.RecvBatch, rx: socket.socket, tx: socket.socket, pkts: list[bytes]
) -> list[tuple[bytes, object]]:
    got: list[tuple[bytes, object]] = []
    dest = rx.getsockname()
    for start in range(0, len(pkts), 50):  # a chunk at a time: never overflow the buffer
        chunk = pkts[start : start + 50]
        for p in chunk:
            tx.sendto(p, dest)
        want = len(got) + len(chunk)
        while len(got) < want:
            batch = recv(rx, 16, fastrecv.BUFSIZE)
            assert len(batch) <= 16
            got.extend(batch)
    assert recv(rx, 16, fastrecv.BUFSIZE) == []  # nothing more queued: [] not an error
    return got


def receive(datagrams: list[bytes]) -> tuple[list[tuple[bytes, bool, int, bool]], dict]:
    out: list[tuple[bytes, bool, int, bool]] = []
    rx = RtpReceiver(SSRC, on_payload=lambda p, m, ts, d: out.append((bytes(p), m, ts, d)))
    for d in datagrams:
        rx.push(d, now=0.0)
    rx.flush()
    return out, {"lost": rx.lost, "malformed": rx.malformed, "packets": rx.packets}


@pytest.mark.parametrize("recv", IMPLS)
def test_batch_returns_every_datagram_in_order_with_its_peer(recv, pair) -> None:
    rx, tx = pair
    pkts = recorded()
    got = transfer(recv, rx, tx, pkts)
    assert [d for d, _ in got] == pkts
    assert {a for _, a in got} == {tx.getsockname()}


def test_c_path_and_fallback_identical_through_the_rtp_receiver(pair) -> None:
    if C_RECV is None:
        pytest.skip("C extension _fastrecv not built")
    rx, tx = pair
    pkts = recorded()
    via_py = transfer(fastrecv.recv_batch_py, rx, tx, pkts)
    via_c = transfer(C_RECV, rx, tx, pkts)
    assert via_c == via_py
    out_py, stats_py = receive([d for d, _ in via_py])
    out_c, stats_c = receive([d for d, _ in via_c])
    assert out_c == out_py
    assert stats_c == stats_py
    assert stats_py["lost"] > 0 and stats_py["malformed"] >= 3  # the input did exercise both
    assert any(d for *_, d in out_py)  # losses surfaced as discontinuities


def test_small_buffer_truncates_alike_and_bad_sizes_refused(pair) -> None:
    rx, tx = pair
    impls = [fastrecv.recv_batch_py] + ([C_RECV] if C_RECV is not None else [])
    for recv in impls:
        tx.sendto(b"x" * 3000, rx.getsockname())
        while not (batch := recv(rx, 4, 1000)):
            pass
        assert [d for d, _ in batch] == [b"x" * 1000]
        for bad in (0, 65537):
            with pytest.raises(ValueError):
                recv(rx, 4, bad)


@pytest.mark.parametrize("recv", IMPLS)
async def test_open_udp_drains_batches_into_the_sink(recv) -> None:
    got: list[bytes] = []
    ep = await open_udp("127.0.0.1", 0, lambda d, a: got.append(d), recv=recv)
    assert isinstance(ep, UdpRtpEndpoint)
    port = ep.get_extra_info("sockname")[1]
    pkts = recorded()[:120]
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        for p in pkts:
            tx.sendto(p, ("127.0.0.1", port))
        for _ in range(200):
            if len(got) == len(pkts):
                break
            await asyncio.sleep(0.01)
    finally:
        tx.close()
        ep.close()
    assert got == pkts
    assert ep.batches < len(pkts)  # several datagrams per wake-up
    assert ep.is_closing()


def test_env_var_forces_the_fallback() -> None:
    code = "from sharpeyes.live import fastrecv; print(fastrecv.IMPLEMENTATION)"
    env = {**os.environ, "SHARPEYES_NO_CEXT": "1"}
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert res.stdout.strip() == "python"
    if C_RECV is not None:
        env.pop("SHARPEYES_NO_CEXT")
        res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
        assert res.stdout.strip() == "c"


async def test_native_mode_delivers_the_same() -> None:
    got: list[bytes] = []
    tr = await open_udp("127.0.0.1", 0, lambda d, a: got.append(d), batched=False)
    port = tr.get_extra_info("sockname")[1]
    pkts = recorded()[:120]
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        for p in pkts:
            tx.sendto(p, ("127.0.0.1", port))
        for _ in range(200):
            if len(got) == len(pkts):
                break
            await asyncio.sleep(0.01)
    finally:
        tx.close()
        tr.close()
    assert got == pkts
