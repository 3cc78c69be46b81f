"""The interface every frame source implements."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Optional
from urllib.parse import urlsplit

import numpy as np

from ...errors import EdgeBodyPixError


class SourceError(EdgeBodyPixError):
    """A source cannot be opened (missing device, unreachable stream, missing library)."""


def source_kind(uri: str) -> str:
    """What `source.uri` names: "picamera2", "device", "stream" (a URL), "pipeline" (GStreamer) or "file"."""
    if uri == "picamera2":
        return "picamera2"
    if uri.isdigit() or uri.startswith("/dev/video"):
        return "device"
    if "://" in uri:
        return "stream"
    if "!" in uri or uri.startswith("nvarguscamerasrc"):
        return "pipeline"
    return "file"


def stream_host(uri: str) -> Optional[str]:
    """The host of a stream URL (rtsp://user:pw@192.168.1.20:554/x -> 192.168.1.20), else None."""
    return urlsplit(uri).hostname if source_kind(uri) == "stream" else None


@dataclass
class Frame:
    """One captured frame: HxWx3 uint8 RGB, the capture time (time.monotonic) and a running index."""

    image: np.ndarray
    timestamp: float
    index: int


class FrameSource(abc.ABC):
    """Opened once, read until it returns None (ended or lost), then reopened by the service."""

    description: str = ""

    @property
    def finite(self) -> bool:
        """True for a file played once: its end is the end of the run, not a loss to recover from."""
        return False

    @property
    def frame_rate(self) -> Optional[float]:
        """The rate frames come at (a file's own, a camera's configured), None when unknown; outputs
        that need one (the RTSP stream) use it."""
        return None

    def frame_ready(self) -> bool:
        """Whether `read` would return without waiting. The pipelined loop finishes the frame in hand
        before a read that would wait, so a source slower than the processing adds no frame of latency;
        sources that cannot tell say True (the loop then always reads first)."""
        return True

    @abc.abstractmethod
    def open(self) -> None:
        """Open the device, file or stream; raise `SourceError` naming it when that fails."""

    @abc.abstractmethod
    def read(self) -> Optional[Frame]:
        """The next frame, or None when the source ended or was lost."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the device; safe to call twice."""
