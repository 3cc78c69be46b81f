"""The source for a `source.uri`."""

from __future__ import annotations

from ..config import SourceConfig
from .base import FrameSource
from .opencv import OpenCVSource


def make_source(config: SourceConfig) -> FrameSource:
    if config.uri == "picamera2":
        from .picamera import Picamera2Source

        return Picamera2Source(config.width, config.height, config.fps)
    return OpenCVSource(config.uri, config.width, config.height, config.fps, loop=config.loop)
