#!/usr/bin/env bash
# Installs and starts what the tests need outside Python: sipp (sip-tester),
# ffmpeg/ffprobe, tshark, Chromium (browser tests), GStreamer's RTSP server with
# its Python bindings and x264 (the proxies' tests run a real RTSP server), nats-server
# (media-node tests start their own on a free port) and a PostgreSQL server on 127.0.0.1:5432.
# Idempotent: does nothing when everything is already there and running.
set -euo pipefail

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

need=()
command -v sipp >/dev/null 2>&1 || need+=(sip-tester)
command -v ffprobe >/dev/null 2>&1 || need+=(ffmpeg)
command -v tshark >/dev/null 2>&1 || need+=(tshark)
command -v nats-server >/dev/null 2>&1 || need+=(nats-server)
command -v pg_ctlcluster >/dev/null 2>&1 || need+=(postgresql)
# the console's browser tests drive Debian's Chromium (Playwright's own download fails
# here); a CJK font so its screenshots show Chinese text
[ -x /usr/bin/chromium ] || need+=(chromium)
fc-list 2>/dev/null | grep -qi "wenquanyi\|noto sans cjk" || need+=(fonts-wqy-microhei)
# proxies: tests/rtsp/gst_rtsp_server.py runs on Debian's python3 with these
if ! /usr/bin/python3 -c "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer" >/dev/null 2>&1 \
   || ! command -v gst-inspect-1.0 >/dev/null 2>&1 || ! gst-inspect-1.0 x264enc >/dev/null 2>&1 || ! gst-inspect-1.0 x265enc >/dev/null 2>&1; then
  need+=(gstreamer1.0-rtsp python3-gst-1.0 gir1.2-gst-rtsp-server-1.0 gstreamer1.0-tools
         gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly
         gstreamer1.0-plugins-bad)
fi
if [ "${#need[@]}" -gt 0 ]; then
  echo "setup-system: installing ${need[*]}"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}"
fi

# PostgreSQL: start the first cluster if it is down.
if command -v pg_lsclusters >/dev/null 2>&1; then
  if ! pg_lsclusters -h | awk '$4 == "online" {found=1} END {exit !found}'; then
    ver=$(ls /etc/postgresql | sort -n | tail -n 1)
    echo "setup-system: starting PostgreSQL $ver"
    $SUDO pg_ctlcluster --skip-systemctl-redirect "$ver" main start
  fi
  # A fresh Debian install wants a password over TCP; our machines use trust.
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    if PGPASSWORD=postgres psql -h 127.0.0.1 -U postgres -d postgres -Atc 'select 1' >/dev/null 2>&1; then
      break
    fi
    if runuser -u postgres -- psql -Atc "ALTER USER postgres PASSWORD 'postgres'" >/dev/null 2>&1; then
      continue
    fi
    sleep 1
  done
fi
