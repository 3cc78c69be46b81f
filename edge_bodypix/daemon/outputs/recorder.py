"""Recording protected frames to segmented video files under a size cap."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Optional

import cv2

from .base import Output, ProcessedFrame

log = logging.getLogger(__name__)


class RecorderOutput(Output):
    """Writes `segment-YYYYmmdd-HHMMSS.<ext>` files of `segment_seconds`; deletes the oldest beyond `max_bytes`."""

    def __init__(self, directory: str, fps: float, segment_seconds: float = 300.0,
                 max_bytes: int = 1 << 30, codec: str = "mp4v"):
        self.directory = Path(directory)
        self.fps = fps
        self.segment_seconds = segment_seconds
        self.max_bytes = max_bytes
        self.codec = codec
        self.extension = ".avi" if codec.upper() == "MJPG" else ".mp4"
        self._writer: Optional[cv2.VideoWriter] = None
        self._started = 0.0
        self._size = (0, 0)

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)

    def _open(self, width: int, height: int) -> None:
        self._close_segment()
        name = time.strftime("segment-%Y%m%d-%H%M%S") + f"-{int(time.time() * 1000) % 1000:03d}" + self.extension
        path = self.directory / name
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*self.codec), self.fps, (width, height))
        if not writer.isOpened():
            raise RuntimeError(f"cannot record to {path} with codec {self.codec}")
        self._writer, self._started, self._size = writer, time.monotonic(), (width, height)
        self._enforce_cap()

    def write(self, frame: ProcessedFrame) -> None:
        height, width = frame.image.shape[:2]
        if (self._writer is None or (width, height) != self._size
                or time.monotonic() - self._started >= self.segment_seconds):
            self._open(width, height)
        self._writer.write(cv2.cvtColor(frame.image, cv2.COLOR_RGB2BGR))

    def _enforce_cap(self) -> None:
        segments = sorted(self.directory.glob("segment-*" + self.extension))
        total = sum(p.stat().st_size for p in segments)
        for old in segments[:-1]:  # never the segment being written
            if total <= self.max_bytes:
                break
            total -= old.stat().st_size
            os.unlink(old)
            log.info("recording cap reached: removed %s", old.name)

    def _close_segment(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None

    def stop(self) -> None:
        self._close_segment()
        if self.directory.exists():
            self._enforce_cap()
