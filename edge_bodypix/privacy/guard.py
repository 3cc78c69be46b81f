"""Temporal guard for video: hold protected regions over frames, and fail closed.

A segmentation can miss a face for a frame or two (motion blur, a turned
head); showing that frame unprotected leaks the face. The guard keeps every
pixel protected for `hold_frames` frames after it was last protected, and it
answers "protect everything" for a frame whose result is missing, failed, or
older than `max_age_s`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from ..errors import InvalidParameterError


@dataclass(frozen=True)
class GuardDecision:
    """What to protect in one frame: `region` (HxW bool), or everything when `full`."""

    region: Optional[np.ndarray]
    full: bool
    reason: str = ""


class TemporalGuard:
    """Per-pixel hold of protected regions across frames (one guard per video stream)."""

    def __init__(self, hold_frames: int = 10, max_age_s: float = 1.0, clock: Callable[[], float] = time.monotonic):
        if isinstance(hold_frames, bool) or not isinstance(hold_frames, int) or hold_frames < 0:
            raise InvalidParameterError(f"hold_frames {hold_frames!r} must be a whole number >= 0")
        if not max_age_s > 0:
            raise InvalidParameterError(f"max_age_s {max_age_s!r} must be > 0")
        self.hold_frames = hold_frames
        self.max_age_s = float(max_age_s)
        self.clock = clock
        self.frame = 0
        self.full_frames = 0
        self._last_seen: Optional[np.ndarray] = None

    def reset(self) -> None:
        self._last_seen = None

    def update(self, region: Optional[np.ndarray], result_time: Optional[float] = None,
               now: Optional[float] = None) -> GuardDecision:
        """The decision for the next frame, given the region its result asks for (None: no result).

        `result_time` is when the frames the result came from was captured
        (same clock as `now`); a result older than `max_age_s` protects everything.
        """
        self.frame += 1
        now = self.clock() if now is None else now
        if region is None:
            return self._full("no segmentation result for this frame")
        if result_time is not None and now - result_time > self.max_age_s:
            return self._full(f"result is {now - result_time:.2f} s old (limit {self.max_age_s:.2f} s)")
        if region.dtype != bool or region.ndim != 2:
            return self._full("region is not an HxW boolean mask")
        if self.hold_frames == 0:
            return GuardDecision(region, False)
        if self._last_seen is None or self._last_seen.shape != region.shape:
            self._last_seen = np.full(region.shape, -(self.hold_frames + 1), dtype=np.int32)
        np.copyto(self._last_seen, self.frame, where=region)
        held = self._last_seen >= self.frame - self.hold_frames
        return GuardDecision(held, False)

    def fail(self, reason: str = "processing failed") -> GuardDecision:
        """Record a failed frame: protect everything."""
        self.frame += 1
        return self._full(reason)

    def _full(self, reason: str) -> GuardDecision:
        self.full_frames += 1
        return GuardDecision(None, True, reason)
