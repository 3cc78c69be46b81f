"""Periodic JSON events (persons present, counts, frame rate) as JSON lines."""

from __future__ import annotations

import json
import sys
import time
from typing import IO, Optional

from .base import Output, ProcessedFrame


class EventsOutput(Output):
    """Every `interval_s`: {"time", "persons", "max_persons", "frames", "fully_protected", "fps"}."""

    def __init__(self, path: str, interval_s: float = 5.0):
        self.path = path
        self.interval_s = interval_s
        self._stream: Optional[IO[str]] = None
        self._window_start = 0.0
        self._frames = 0
        self._full = 0
        self._max_persons = 0
        self._persons = 0

    def start(self) -> None:
        self._stream = sys.stdout if self.path == "-" else open(self.path, "a", encoding="utf-8")
        self._window_start = time.monotonic()

    def write(self, frame: ProcessedFrame) -> None:
        self._frames += 1
        self._full += int(frame.fully_protected)
        self._persons = frame.persons
        self._max_persons = max(self._max_persons, frame.persons)
        now = time.monotonic()
        if now - self._window_start >= self.interval_s:
            self._emit(now)

    def _emit(self, now: float) -> None:
        elapsed = max(now - self._window_start, 1e-9)
        event = {"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "persons": self._persons,
                 "max_persons": self._max_persons, "frames": self._frames, "fully_protected": self._full,
                 "fps": round(self._frames / elapsed, 2)}
        if self._stream is not None:
            self._stream.write(json.dumps(event) + "\n")
            self._stream.flush()
        self._window_start, self._frames, self._full, self._max_persons = now, 0, 0, 0

    def stop(self) -> None:
        if self._stream is not None and self._stream is not sys.stdout:
            self._stream.close()
        self._stream = None
