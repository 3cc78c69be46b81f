"""`serve --check-config`: everything the daemon would need, checked before it starts.

A configuration can be well-formed and still name a model that is not
installed, a video file that does not exist or a camera the systemd unit would
block; each is found here, with the key that names it, instead of at 3 a.m.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from typing import List

from ..errors import EdgeBodyPixError
from .config import Config, ConfigError, read_secret
from .network import blocked
from .sources.base import source_kind


@dataclass
class Preflight:
    errors: List[str] = field(default_factory=list)  # the daemon would not work
    warnings: List[str] = field(default_factory=list)  # it would wait (a camera not plugged in yet)
    notes: List[str] = field(default_factory=list)  # what was checked and passed (the self-test's figures)

    @property
    def ok(self) -> bool:
        return not self.errors


def check_source(config: Config, report: Preflight) -> None:
    uri = config.source.uri
    kind = source_kind(uri)
    if kind == "file":
        if os.path.isdir(uri):
            report.errors.append(f"source.uri = {uri!r} is a directory, not a video file")
        elif not os.path.isfile(uri):
            report.errors.append(f"source.uri = {uri!r}: no such file (a video file, a device such as "
                                 "/dev/video0, picamera2 or an rtsp:// / http:// URL)")
        elif not os.access(uri, os.R_OK):
            report.errors.append(f"source.uri = {uri!r} is not readable by this user")
    elif kind == "device" and uri.startswith("/dev/") and not os.path.exists(uri):
        report.warnings.append(f"source.uri = {uri!r} is not present now; the daemon waits for it (black frames, "
                               "status 'no source')")
    elif kind == "picamera2":
        try:
            import picamera2  # noqa: F401
        except ImportError:
            report.errors.append("source.uri = 'picamera2', but picamera2 is not importable here: "
                                 "apt install python3-picamera2 and a virtualenv with --system-site-packages")


def check_secrets(config: Config, report: Preflight) -> None:
    for key, path in (("rtsp.password_file", config.rtsp.password_file if config.rtsp.listen else ""),
                      ("mqtt.password_file", config.mqtt.password_file if config.mqtt.host else "")):
        if path:
            try:
                read_secret(path, key)
            except ConfigError as exc:
                report.errors.append(str(exc))


def check_rtsp(config: Config, report: Preflight) -> None:
    """GStreamer's RTSP server importable and an H.264 encoder present (which one is a note)."""
    if not config.rtsp.listen:
        return
    from .outputs.base import OutputError
    from .outputs.rtsp import import_gstreamer, pipeline_encoder

    try:
        encoder = pipeline_encoder(import_gstreamer()[0], config.rtsp.encoder)
    except OutputError as exc:
        report.errors.append(str(exc))
        return
    report.notes.append(f"rtsp: {encoder.description} on rtsp://{config.rtsp.listen}{config.rtsp.path}")


def check_mqtt(config: Config, report: Preflight) -> None:
    """paho-mqtt importable, the CA file there; an unreachable broker is a warning (the daemon retries)."""
    m = config.mqtt
    if not m.host:
        return
    try:
        import paho.mqtt.client  # noqa: F401
    except ImportError:
        report.errors.append("mqtt.host is set, but paho-mqtt is not installed: pip install 'edge-bodypix[mqtt]'")
    if m.tls and m.ca_file and not os.path.isfile(m.ca_file):
        report.errors.append(f"mqtt.ca_file = {m.ca_file!r}: no such file")
    try:
        socket.create_connection((m.host, m.port), timeout=2).close()
    except OSError as exc:
        report.warnings.append(f"mqtt.host = {m.host!r}, mqtt.port = {m.port}: the broker does not answer now "
                               f"({exc.strerror or exc}); the daemon keeps retrying with backoff")


def check_model(config: Config, report: Preflight) -> None:
    """Load the model as the daemon would (resolution, sha256, format, backend, Edge TPU fallback) and self-test it."""
    from ..privacy.selftest import run_selftest
    from .service import load_network

    name = config.model.name or "the default model"
    try:
        net = load_network(config)
    except EdgeBodyPixError as exc:
        report.errors.append(f"model.name = {config.model.name!r} ({name}): {exc}")
        return
    result = run_selftest(net, config.privacy.protection().target, None, config.model.segmentation_threshold)
    (report.notes if result.passed else report.errors).append(f"model {net.info.name}: {result.summary()}")


def preflight(config: Config) -> Preflight:
    report = Preflight()
    check_source(config, report)
    report.errors.extend(blocked(config))
    check_secrets(config, report)
    check_rtsp(config, report)
    check_mqtt(config, report)
    check_model(config, report)
    return report
