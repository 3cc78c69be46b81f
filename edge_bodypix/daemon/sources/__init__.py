"""Frame sources: a small `FrameSource` base with OpenCV (V4L2, files, streams) and picamera2 concrete ones."""

from .base import Frame, FrameSource, SourceError, source_kind, stream_host
from .factory import make_source
from .opencv import OpenCVSource
from .prefetch import PrefetchingSource

__all__ = ["Frame", "FrameSource", "SourceError", "source_kind", "stream_host", "OpenCVSource", "PrefetchingSource",
           "make_source"]
