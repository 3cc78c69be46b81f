"""Keep protected frames in memory: for an application that embeds the daemon loop, tests and benchmarks."""

from __future__ import annotations

from collections import deque
from typing import Deque, Optional

from .base import Output, ProcessedFrame


class MemoryOutput(Output):
    """The last `limit` frames written (all of them when None), oldest first, in `frames`."""

    def __init__(self, limit: Optional[int] = None):
        self.frames: Deque[ProcessedFrame] = deque(maxlen=limit)

    def write(self, frame: ProcessedFrame) -> None:
        self.frames.append(frame)
