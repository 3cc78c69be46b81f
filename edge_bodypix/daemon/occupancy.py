"""What the camera sees, as states home automation can use: person present (with a hold time), people
in frame, fail-safe on/off, frame rate. Pure: fed frame by frame with their times, tested on sequences.

Raw per-frame values flicker (a person half hidden for a frame, one fail-safe
frame in a thousand); published as they are they would switch lights on and
off. Presence turns on with the first person and off only after
`presence_hold_s` without anyone; fail-safe turns on with the first fully
protected frame and off after `FAIL_SAFE_CLEAR_S` without one. A frame whose
people are unknown (a failed inference: persons < 0) changes neither count nor
presence: not knowing is not the same as nobody there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

FAIL_SAFE_CLEAR_S = 2.0


@dataclass(frozen=True)
class OccupancyState:
    person: bool  # someone is (or was within the hold time) in frame
    persons: int  # people in the latest frame that knew
    fail_safe: bool  # frames went out fully protected within FAIL_SAFE_CLEAR_S
    fps: Optional[float]  # frames per second over the last window, None before the first window ends


class Occupancy:
    def __init__(self, presence_hold_s: float = 10.0, fps_window_s: float = 5.0):
        self.presence_hold_s = presence_hold_s
        self.fps_window_s = fps_window_s
        self._last_person: Optional[float] = None
        self._last_fail_safe: Optional[float] = None
        self._persons = 0
        self._window_start: Optional[float] = None
        self._window_frames = 0
        self._fps: Optional[float] = None

    def update(self, now: float, persons: int, fully_protected: bool) -> OccupancyState:
        """The state after one frame at `now` (monotonic seconds)."""
        if persons >= 0:
            self._persons = persons
            if persons > 0:
                self._last_person = now
        if fully_protected:
            self._last_fail_safe = now
        if self._window_start is None:
            self._window_start = now
        self._window_frames += 1
        if now - self._window_start >= self.fps_window_s:
            self._fps = round(self._window_frames / (now - self._window_start), 2)
            self._window_start, self._window_frames = now, 0
        return self.state(now)

    def state(self, now: float) -> OccupancyState:
        """The state at `now` without a new frame (holds expire with time alone)."""
        person = self._last_person is not None and now - self._last_person <= self.presence_hold_s
        fail_safe = self._last_fail_safe is not None and now - self._last_fail_safe <= FAIL_SAFE_CLEAR_S
        return OccupancyState(person, self._persons, fail_safe, self._fps)
