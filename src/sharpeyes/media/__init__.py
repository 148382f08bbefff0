"""Media: sans-IO building blocks for live video (no sockets, no clock, no logging).

Receive path, per RTP datagram (the hot path):
``rtp.RtpReceiver`` (SSRC filter, reorder, loss) → ``detect.PayloadDepacketizer``
(PS via ``ps.PsDemuxer``, TS via ``ts.TsDemuxer``, RFC 6184/7798 raw H.264/H.265)
→ ``es.EsFrame`` access units → ``fmp4.Fmp4Writer`` (MSE) / ``hls.HlsWriter``.

Send path: ``psmux.PsMuxer`` (GB Appendix C PS with PSM) → ``psmux.packetize_rtp``
→ ``rtp.frame_rfc4571`` for TCP. ``testvideo`` makes real H.264/H.265/G.711A clips
with PyAV for simulators and tests. Submodules are imported explicitly, so importing
this package stays cheap.
"""
