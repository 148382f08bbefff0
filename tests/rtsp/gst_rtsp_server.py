"""A real RTSP server for the proxy tests and the benchmark (GStreamer's gst-rtsp-server).

Run with Debian's python3 (python3-gst-1.0, gir1.2-gst-rtsp-server-1.0,
gstreamer1.0-rtsp, gstreamer1.0-plugins-ugly for x264enc), not the project's venv:

    python3 gst_rtsp_server.py --port 0 [--user U --password P] [--codec h264|h265]

It serves ``/cam`` (live test pattern, H.264 or H.265 with G.711 A-law audio, one
shared pipeline for every client, UDP and TCP interleaved transports) and prints
``READY <port>`` on stdout once it listens, then ``CLIENT connected`` /
``CLIENT closed`` for every RTSP connection (what the tests count pulls by).
It stops on SIGTERM or when stdin closes.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

VIDEO = {
    "h264": "x264enc tune=zerolatency speed-preset=ultrafast key-int-max={gop} bframes=0 "
    "! video/x-h264,profile=baseline ! rtph264pay name=pay0 pt=96 config-interval=-1",
    "h265": "x265enc tune=zerolatency speed-preset=ultrafast key-int-max={gop} "
    "! rtph265pay name=pay0 pt=96 config-interval=-1",
}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--path", default="/cam")
    p.add_argument("--user")
    p.add_argument("--password")
    p.add_argument("--codec", default="h264", choices=sorted(VIDEO))
    p.add_argument("--size", default="320x240")
    p.add_argument("--fps", type=int, default=25)
    p.add_argument("--no-audio", action="store_true")
    args = p.parse_args()
    Gst.init(None)
    width, height = args.size.split("x")
    video = VIDEO[args.codec].format(gop=args.fps)
    launch = (
        f"( videotestsrc is-live=true pattern=ball "
        f"! video/x-raw,width={width},height={height},framerate={args.fps}/1 "
        f"! videoconvert ! {video}"
    )
    if not args.no_audio:
        launch += (
            " audiotestsrc is-live=true wave=sine ! audio/x-raw,rate=8000,channels=1 "
            "! alawenc ! rtppcmapay name=pay1 pt=8"
        )
    launch += " )"
    server = GstRtspServer.RTSPServer()
    server.set_address(args.host)
    server.set_service(str(args.port))
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(launch)
    factory.set_shared(True)
    if args.user:
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string("media.factory.role", "user")
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(args.user, args.password or ""), token)
        server.set_auth(auth)
        perms = GstRtspServer.RTSPPermissions()
        perms.add_role("user")
        perms.add_permission_for_role("user", "media.factory.access", True)
        perms.add_permission_for_role("user", "media.factory.construct", True)
        factory.set_permissions(perms)
    server.get_mount_points().add_factory(args.path, factory)

    def client_connected(_server: object, client: GstRtspServer.RTSPClient) -> None:
        print("CLIENT connected", flush=True)
        client.connect("closed", lambda _c: print("CLIENT closed", flush=True))

    server.connect("client-connected", client_connected)
    if server.attach(None) == 0:
        print(f"FAILED cannot listen on {args.host}:{args.port}", flush=True)
        sys.exit(2)
    print(f"READY {server.get_bound_port()}", flush=True)
    loop = GLib.MainLoop()

    def stdin_watch() -> None:
        sys.stdin.read()  # EOF: the parent went away
        GLib.idle_add(loop.quit)

    threading.Thread(target=stdin_watch, daemon=True).start()
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, lambda: loop.quit() or False)
    loop.run()


if __name__ == "__main__":
    main()
