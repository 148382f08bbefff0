"""The simulated camera's media source: real PS/TS/ES over RTP, rising timestamps, fast path."""

from __future__ import annotations

import itertools

import pytest

from sharpeyes.media.detect import PayloadDepacketizer
from sharpeyes.media.rtp import RtpReceiver, parse_rtp
from sharpeyes.sim.media import RtpSource, SimMediaConfig


def test_ps_template_path_sends_the_same_bytes_as_muxing_each_frame() -> None:
    cfg = SimMediaConfig(frames=30)
    fast = RtpSource(cfg, seed=3, ssrc=200000001)
    slow = RtpSource(cfg, seed=3, ssrc=200000001)
    slow._templates = None  # force PsMuxer + packetize_rtp for every frame
    for i in range(75):  # two and a half loops of the clip
        assert fast.next_frame() == slow.next_frame(), i


@pytest.mark.parametrize(
    ("cfg", "fmt", "pt"),
    [
        (SimMediaConfig(frames=30), "ps", 96),
        (SimMediaConfig(frames=30, audio=True), "ps", 96),
        (SimMediaConfig(frames=30, container="ts"), "ts", 33),
        (SimMediaConfig(frames=30, container="es"), "h264", 98),
    ],
)
def test_every_container_loops_with_rising_timestamps(
    cfg: SimMediaConfig, fmt: str, pt: int
) -> None:
    src = RtpSource(cfg, seed=1, ssrc=42)
    rx = RtpReceiver(42)
    dp = PayloadDepacketizer()
    frames = []
    for _ in range(70):
        for p in src.next_frame():
            assert parse_rtp(p).pt == pt
            for payload, marker, ts, gap in rx.push(p):
                frames += dp.push(payload, marker, ts, gap)
    video = [f for f in frames if f.stream == "video"]
    assert dp.format == fmt and rx.lost == 0
    assert len(video) >= 68  # TS/PS may hold the last frame until the next one starts
    pts = [f.pts for f in video]
    assert all(b - a == 3600 for a, b in itertools.pairwise(pts))
    if cfg.audio:
        assert any(f.stream == "audio" and f.codec == "pcma" for f in frames)


def test_seeds_follow_the_channel_and_configs_are_checked() -> None:
    cfg = SimMediaConfig(patterns=8)
    seeds = {cfg.seed_for(f"3402000000131000{n:04d}") for n in range(40)}
    assert seeds <= set(range(1, 9)) and len(seeds) > 4
    assert SimMediaConfig(seed=5).seed_for("x") == 5
    for bad in ({"codec": "vp8"}, {"container": "flv"}, {"audio": True, "container": "ts"}):
        with pytest.raises(ValueError):
            SimMediaConfig(**bad)  # type: ignore[arg-type]
