"""The source for a `source.uri`."""

from __future__ import annotations

from ..config import SourceConfig
from .base import FrameSource
from .opencv import OpenCVSource
from .prefetch import PrefetchingSource


def make_source(config: SourceConfig) -> FrameSource:
    """The source for `source.uri`, reading ahead in a thread (live sources keep only the newest frames)."""
    if config.uri == "picamera2":
        from .picamera import Picamera2Source

        return PrefetchingSource(Picamera2Source(config.width, config.height, config.fps), drop_old=True)
    source = OpenCVSource(config.uri, config.width, config.height, config.fps, loop=config.loop,
                          realtime=config.realtime)
    live = source.is_live
    return PrefetchingSource(source, drop_old=live)
