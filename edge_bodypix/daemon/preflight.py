"""`serve --check-config`: everything the daemon would need, checked before it starts.

A configuration can be well-formed and still name a model that is not
installed, a video file that does not exist or a camera the systemd unit would
block; each is found here, with the key that names it, instead of at 3 a.m.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import List

from ..errors import EdgeBodyPixError
from .config import Config
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
    check_model(config, report)
    return report
