"""Decode the next frame while the current one is processed (a reader thread, bounded queue)."""

from __future__ import annotations

import queue
import threading
from typing import Callable, Optional

from .base import Frame, FrameSource

_END = object()


class PrefetchingSource(FrameSource):
    """Wraps a source so that reading (decoding, colour conversion) overlaps processing.

    Live sources drop the oldest frame when processing falls behind (stay on
    the newest picture); files block instead, so no frame is skipped.
    """

    def __init__(self, inner: FrameSource, depth: int = 2, drop_old: bool = True):
        self.inner = inner
        self.depth = depth
        self.drop_old = drop_old
        self.description = inner.description
        self._queue: "queue.Queue" = queue.Queue(maxsize=depth)
        self._thread: Optional[threading.Thread] = None
        self._stop = threading.Event()
        self.dropped = 0  # stale live frames discarded because processing fell behind
        self._waiting: Optional[Callable[[], bool]] = None

    def set_waiting_hook(self, hook: Optional[Callable[[], bool]]) -> None:
        """Called about once a second while `read` waits for a frame; returning False ends the wait
        (read returns None). The daemon pings its watchdog and publishes black frames from it."""
        self._waiting = hook

    @property
    def finite(self) -> bool:
        return self.inner.finite

    @property
    def frame_rate(self):
        return self.inner.frame_rate

    def open(self) -> None:
        self.close()
        self.inner.open()
        self._stop.clear()
        self._queue = queue.Queue(maxsize=self.depth)
        self._thread = threading.Thread(target=self._read_loop, name="frame-reader", daemon=True)
        self._thread.start()

    def _read_loop(self) -> None:
        while not self._stop.is_set():
            frame = self.inner.read()
            item = _END if frame is None else frame
            while not self._stop.is_set():
                try:
                    if self.drop_old:
                        self._queue.put_nowait(item)
                    else:
                        self._queue.put(item, timeout=0.1)
                    break
                except queue.Full:
                    if self.drop_old:
                        try:
                            self._queue.get_nowait()  # discard the stalest frame
                            self.dropped += 1
                        except queue.Empty:
                            pass
            if item is _END:
                return

    def frame_ready(self) -> bool:
        """Whether `read` would return at once (a frame, or the end, is waiting)."""
        return not self._queue.empty()

    def read(self) -> Optional[Frame]:
        if self._thread is None:
            return None
        while True:
            try:
                item = self._queue.get(timeout=1.0)
            except queue.Empty:
                if self._thread is None or not self._thread.is_alive():
                    return None
                if self._waiting is not None and not self._waiting():
                    return None
                continue
            return None if item is _END else item

    def close(self) -> None:
        self._stop.set()
        stuck = False
        if self._thread is not None:
            self._thread.join(timeout=2)
            stuck = self._thread.is_alive()  # blocked in a read that never returns
            self._thread = None
        if not stuck:  # never release a capture another thread is still reading
            self.inner.close()
