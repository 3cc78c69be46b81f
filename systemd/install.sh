#!/bin/sh
# Install the edge-bodypix daemon as a systemd service (run as root).
#   sh systemd/install.sh [PYTHON]
# Creates the edge-bodypix user (video group), a virtualenv in /opt/edge-bodypix, the unit and
# /etc/edge-bodypix/config.toml (kept if present), fetches the default model into the state
# directory, validates the configuration and starts the service.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
python=${1:-python3}
if ! id edge-bodypix >/dev/null 2>&1; then
    useradd --system --home-dir /var/lib/edge-bodypix --shell /usr/sbin/nologin --groups video edge-bodypix
fi
"$python" -m venv /opt/edge-bodypix
/opt/edge-bodypix/bin/pip install --upgrade "$here/.."
install -d -m 0755 /etc/edge-bodypix
[ -f /etc/edge-bodypix/config.toml ] || install -m 0644 "$here/config.toml" /etc/edge-bodypix/config.toml
install -d -o edge-bodypix -g edge-bodypix -m 0750 /var/lib/edge-bodypix /var/lib/edge-bodypix/models
EDGE_BODYPIX_MODELS=/var/lib/edge-bodypix/models /opt/edge-bodypix/bin/edge-bodypix models fetch
chown -R edge-bodypix:edge-bodypix /var/lib/edge-bodypix/models
/opt/edge-bodypix/bin/edge-bodypix serve --check-config --config /etc/edge-bodypix/config.toml
install -m 0644 "$here/edge-bodypix.service" /etc/systemd/system/edge-bodypix.service
systemctl daemon-reload
systemctl enable --now edge-bodypix.service
systemctl --no-pager status edge-bodypix.service || true
