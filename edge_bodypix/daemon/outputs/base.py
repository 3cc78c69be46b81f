"""The interface every output implements, and the frame it receives."""

from __future__ import annotations

import abc
import threading
from dataclasses import dataclass, field
from typing import Optional

import cv2
import numpy as np

from ...errors import EdgeBodyPixError


class OutputError(EdgeBodyPixError):
    """An output cannot start (an address in use, a folder that cannot be written)."""


def host_port(host: str, port: int) -> str:
    """An address as URLs and logs write it: 127.0.0.1:8080, [::1]:8080."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@dataclass
class ProcessedFrame:
    """A frame ready to leave the device: already protected (never the raw capture)."""

    image: np.ndarray  # HxWx3 uint8 RGB, protected
    timestamp: float  # capture time, time.monotonic()
    index: int
    persons: int  # people in the latest result (-1 when unknown)
    fully_protected: bool  # the whole frame was protected (no or failed result)
    jpeg_quality: int = 80
    _jpeg: Optional[bytes] = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def jpeg(self) -> bytes:
        """The frame as JPEG, encoded once however many clients ask."""
        with self._lock:
            if self._jpeg is None:
                ok, data = cv2.imencode(".jpg", cv2.cvtColor(self.image, cv2.COLOR_RGB2BGR),
                                        [cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality])
                if not ok:
                    raise RuntimeError("JPEG encoding failed")
                self._jpeg = data.tobytes()
            return self._jpeg


class Output(abc.ABC):
    """Started before the first frame, given every protected frame, stopped at shutdown."""

    def start(self) -> None:
        """Acquire resources (sockets, files)."""

    @abc.abstractmethod
    def write(self, frame: ProcessedFrame) -> None:
        """Take one protected frame; must not block the processing loop for long."""

    def stop(self) -> None:
        """Release resources; safe to call twice."""
