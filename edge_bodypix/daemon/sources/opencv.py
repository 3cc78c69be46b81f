"""V4L2 / USB cameras, video files and RTSP / HTTP streams through OpenCV."""

from __future__ import annotations

import time
from typing import Optional

import cv2

from .base import Frame, FrameSource, SourceError, source_kind


STREAM_TIMEOUT_S = 4.0  # open and read timeout of network streams


class OpenCVSource(FrameSource):
    """`uri`: a device path (/dev/video0), a device number ("0"), a file or a stream URL.

    Files can `loop` (tests and demos); they are paced to their own frame rate
    only when `realtime` is set.
    """

    def __init__(self, uri: str, width: int = 640, height: int = 480, fps: float = 15.0,
                 loop: bool = False, realtime: bool = False):
        self.uri = uri
        self.width, self.height, self.fps = width, height, fps
        self.loop = loop
        self.realtime = realtime
        self.description = f"opencv:{uri}"
        self._capture: Optional[cv2.VideoCapture] = None
        self._index = 0
        self._kind = source_kind(uri)
        self._is_device = self._kind == "device"
        self._next_time = 0.0
        self._frame_rate: Optional[float] = None

    @property
    def is_live(self) -> bool:
        """Cameras and network streams produce frames whether read or not; files wait."""
        return self._kind != "file"

    @property
    def finite(self) -> bool:
        return not self.is_live and not self.loop

    def open(self) -> None:
        self.close()
        target = int(self.uri) if self.uri.isdigit() else self.uri
        backend = cv2.CAP_V4L2 if self._is_device and hasattr(cv2, "CAP_V4L2") else cv2.CAP_ANY
        if self._kind == "stream":
            # a stream that accepts and never answers must not hold the loop (or SIGTERM) for
            # FFmpeg's default 30 s: bounded open and read timeouts
            timeouts = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, int(STREAM_TIMEOUT_S * 1000),
                        cv2.CAP_PROP_READ_TIMEOUT_MSEC, int(STREAM_TIMEOUT_S * 1000)]
            capture = cv2.VideoCapture(target, cv2.CAP_FFMPEG, timeouts)
        else:
            capture = cv2.VideoCapture(target, backend)
        if not capture.isOpened():
            capture.release()
            raise SourceError(f"cannot open video source {self.uri!r} (missing device, file or stream?)")
        if self._is_device:
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
            capture.set(cv2.CAP_PROP_FPS, self.fps)
        self._capture = capture
        file_fps = capture.get(cv2.CAP_PROP_FPS) or self.fps
        self._period = 1.0 / file_fps if file_fps > 0 else 0.0
        self._frame_rate = file_fps if 0 < file_fps <= 240 else self.fps

    @property
    def frame_rate(self) -> Optional[float]:
        return self._frame_rate or self.fps

    def read(self) -> Optional[Frame]:
        if self._capture is None:
            return None
        ok, image = self._capture.read()
        if not ok and self.loop and not self._is_device:
            self._capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, image = self._capture.read()
        if not ok or image is None:
            return None
        if self.realtime and self._period:
            now = time.monotonic()
            if self._next_time > now:
                time.sleep(self._next_time - now)
            self._next_time = max(now, self._next_time) + self._period
        self._index += 1
        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB) if image.ndim == 3 else image
        return Frame(rgb, time.monotonic(), self._index)

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None
