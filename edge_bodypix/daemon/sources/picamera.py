"""The Raspberry Pi camera through picamera2 (the optional `pi` extra, imported only when used)."""

from __future__ import annotations

import time
from typing import Any, Optional

from .base import Frame, FrameSource, SourceError


class Picamera2Source(FrameSource):
    def __init__(self, width: int = 640, height: int = 480, fps: float = 15.0):
        self.width, self.height, self.fps = width, height, fps
        self.description = "picamera2"
        self._camera: Any = None
        self._index = 0

    @property
    def frame_rate(self) -> Optional[float]:
        return self.fps

    def open(self) -> None:
        try:
            from picamera2 import Picamera2  # optional hardware dependency
        except ImportError as exc:
            raise SourceError("source 'picamera2' needs the picamera2 package: pip install 'edge-bodypix[pi]' "
                              "(or apt install python3-picamera2 on Raspberry Pi OS)") from exc
        try:
            camera = Picamera2()
            config = camera.create_video_configuration(
                main={"size": (self.width, self.height), "format": "RGB888"},
                controls={"FrameRate": float(self.fps)},
            )
            camera.configure(config)
            camera.start()
        except Exception as exc:  # noqa: BLE001 - libcamera raises many kinds
            raise SourceError(f"cannot start the Raspberry Pi camera: {exc}") from exc
        self._camera = camera

    def read(self) -> Optional[Frame]:
        if self._camera is None:
            return None
        try:
            # picamera2's "RGB888" is B, G, R in memory: reverse to RGB
            image = self._camera.capture_array("main")[:, :, 2::-1].copy()
        except Exception:  # noqa: BLE001 - a lost camera ends the read; the service reopens
            return None
        self._index += 1
        return Frame(image, time.monotonic(), self._index)

    def close(self) -> None:
        if self._camera is not None:
            try:
                self._camera.stop()
                self._camera.close()
            finally:
                self._camera = None
