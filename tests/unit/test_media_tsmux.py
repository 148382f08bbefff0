"""Our MPEG-TS muxer (the simulator's TS-over-RTP cameras), checked by ffprobe and our demuxer."""

from __future__ import annotations

from pathlib import Path

import pytest

from sharpeyes.media.detect import PayloadDepacketizer
from sharpeyes.media.rtp import RtpReceiver, parse_rtp
from sharpeyes.media.ts import TS_PACKET, TsDemuxer
from sharpeyes.media.tsmux import RTP_PT_MP2T, TsMuxer, packetize_ts_rtp
from tests.media_fixtures import clip, ffprobe_streams, needs_ffmpeg

CODECS = ["h264", "h265"]


def ts_bytes(codec: str, n: int = 50) -> tuple[bytes, tuple]:  # type: ignore[type-arg]
    frames = clip(codec, frames=n)
    mux = TsMuxer(codec)
    return b"".join(mux.mux_video(f.data, f.pts + 90000, f.keyframe) for f in frames), frames


@needs_ffmpeg
@pytest.mark.parametrize("codec", CODECS)
def test_ffprobe_reads_our_ts(codec: str, tmp_path: Path) -> None:
    data, _ = ts_bytes(codec)
    path = tmp_path / f"ours.{codec}.ts"
    path.write_bytes(data)
    (stream,) = ffprobe_streams(path)
    assert stream["codec_name"] == {"h264": "h264", "h265": "hevc"}[codec]
    assert int(stream["nb_read_frames"]) == 50  # type: ignore[arg-type]


@pytest.mark.parametrize("codec", CODECS)
def test_demuxer_recovers_every_access_unit(codec: str) -> None:
    data, frames = ts_bytes(codec)
    assert len(data) % TS_PACKET == 0
    d = TsDemuxer()
    out = d.feed(data) + d.flush()
    assert [f.data for f in out] == [f.data for f in frames]
    assert [f.keyframe for f in out] == [f.keyframe for f in frames]
    assert d.stats["cc_errors"] == 0 and d.stats["bad_pes"] == 0


def test_rtp_packetization_and_auto_detection() -> None:
    frames = clip("h264", frames=30)
    mux = TsMuxer("h264")
    seq = 0
    packets: list[bytes] = []
    for f in frames:
        pk = packetize_ts_rtp(
            mux.mux_video(f.data, f.pts, f.keyframe), ssrc=7, seq_start=seq, ts=f.pts
        )
        seq += len(pk)
        packets += pk
    first = parse_rtp(packets[0])
    assert first.pt == RTP_PT_MP2T and len(first.payload) % TS_PACKET == 0
    rx = RtpReceiver(7)
    dp = PayloadDepacketizer()
    got = []
    for p in packets:
        for payload, marker, ts, gap in rx.push(p):
            got += dp.push(payload, marker, ts, gap)
    assert dp.format == "ts"
    assert len(got) == 30  # PES lengths are set: no frame waits for the next one


def test_unsupported_codec() -> None:
    with pytest.raises(ValueError):
        TsMuxer("mpeg4")
