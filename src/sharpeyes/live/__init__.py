"""Live video: sessions that bring one upstream RTP stream per channel into the node.

``service.LiveService`` is the entry point (play, stop, list, snapshot, viewer
attach, timeouts, capacity). Each ``session.LiveSession`` owns a port from
``ports.PortPool``, an RTP socket from ``rtp_io`` (UDP, TCP passive or active),
the sans-IO receive chain from ``sharpeyes.media`` (RtpReceiver →
PayloadDepacketizer → StreamHub) and its viewers (``viewer.WsViewer``). INVITEs go
through ``devices.invite``; viewer URLs carry ``sharing.stream_tokens``.
"""
