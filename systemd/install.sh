#!/bin/sh
# Install the edge-bodypix daemon as a systemd service (run as root).
#   sh systemd/install.sh [PYTHON]
# Creates the edge-bodypix user (video group), a virtualenv in /opt/edge-bodypix, the unit and
# /etc/edge-bodypix/config.toml (kept if present), fetches the default model into the state
# directory, validates the configuration (model, source, the addresses of service.ip_address_allow),
# writes the unit and its network drop-in, and starts the service. Run it again after editing the config.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
python=${1:-python3}
if ! id edge-bodypix >/dev/null 2>&1; then
    useradd --system --home-dir /var/lib/edge-bodypix --shell /usr/sbin/nologin --groups video edge-bodypix
fi
# The Pi camera's picamera2 comes from apt (python3-picamera2: its libcamera bindings are not on
# PyPI); the venv can only see it with the system's site packages.
venv_flags=""
if "$python" -c "import picamera2" >/dev/null 2>&1; then
    venv_flags="--system-site-packages"
    echo "using the system's picamera2 (apt python3-picamera2) in the virtualenv"
elif [ -e /proc/device-tree/model ] && grep -q "Raspberry Pi" /proc/device-tree/model 2>/dev/null; then
    echo "note: for source.uri = \"picamera2\" run 'apt install python3-picamera2' first, then this script again"
fi
# The RTSP output (rtsp.listen) uses GStreamer's RTSP server through Debian's python3-gi the same way:
# apt install python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly
if "$python" -c "import gi; gi.require_version('GstRtspServer', '1.0')" >/dev/null 2>&1; then
    venv_flags="--system-site-packages"
    echo "using the system's GStreamer RTSP server (apt python3-gi) in the virtualenv"
fi
"$python" -m venv $venv_flags /opt/edge-bodypix
# with the MQTT client (paho-mqtt, pure Python) for [mqtt]
/opt/edge-bodypix/bin/pip install --upgrade "$here/..[mqtt]"
install -d -m 0755 /etc/edge-bodypix
# The config can hold the HTTP token: readable by root and the service only.
[ -f /etc/edge-bodypix/config.toml ] || install -m 0640 "$here/config.toml" /etc/edge-bodypix/config.toml
chown root:edge-bodypix /etc/edge-bodypix/config.toml
chmod 0640 /etc/edge-bodypix/config.toml
install -d -o edge-bodypix -g edge-bodypix -m 0750 /var/lib/edge-bodypix
# Models belong to root: the service can read them but not replace them (and load() checks their sha256).
install -d -o root -g edge-bodypix -m 0750 /var/lib/edge-bodypix/models
EDGE_BODYPIX_MODELS=/var/lib/edge-bodypix/models /opt/edge-bodypix/bin/edge-bodypix models fetch
chown -R root:edge-bodypix /var/lib/edge-bodypix/models
chmod -R u=rwX,g=rX,o= /var/lib/edge-bodypix/models
/opt/edge-bodypix/bin/edge-bodypix serve --check-config --config /etc/edge-bodypix/config.toml
install -m 0644 "$here/edge-bodypix.service" /etc/systemd/system/edge-bodypix.service
# service.ip_address_allow (network cameras, LAN clients) as the unit's IPAddressAllow=
install -d -m 0755 /etc/systemd/system/edge-bodypix.service.d
/opt/edge-bodypix/bin/edge-bodypix serve --systemd-dropin --config /etc/edge-bodypix/config.toml \
    > /etc/systemd/system/edge-bodypix.service.d/network.conf
systemctl daemon-reload
systemctl enable --now edge-bodypix.service
systemctl --no-pager status edge-bodypix.service || true
