"""Protection that leads at the frame edge: moving blobs touching the border are protected before they are segmented.

A person walking into view shows the top of a head or a shoulder at the
border for a frame or two before the network finds a person there (on
`one-by-one-person-detection.mp4` the head entering at the bottom edge went
out sharp in frames 61-62, and a person leaving at the right edge was up to
half unprotected over frames 445-451). A background model on a small copy of
the frame (OpenCV's MOG2) finds what moves; every moving blob that touches the
border is protected, with a margin, whatever the segmentation says. Blobs away
from the border are the segmentation's job (a person mid-frame is found), so a
swaying plant in the middle of the room is left alone.
"""

from __future__ import annotations

from typing import Optional, Tuple

import cv2
import numpy as np

from ..checks import check_number


class EntryGuard:
    """Per-stream state: the background model and the last frame size."""

    def __init__(self, scale: int = 4, history: int = 200, var_threshold: float = 25.0,
                 min_area_fraction: float = 0.0005, margin_fraction: float = 0.02):
        self.scale = int(check_number("scale", scale, 1, 16, integer=True))
        self.history = int(check_number("history", history, 1, 100_000, integer=True))
        self.var_threshold = check_number("var_threshold", var_threshold, 0, 1000, low_open=True)
        self.min_area_fraction = check_number("min_area_fraction", min_area_fraction, 0, 1)
        self.margin_fraction = check_number("margin_fraction", margin_fraction, 0, 1)
        self._subtractor = None
        self._shape: Optional[Tuple[int, int]] = None

    def reset(self) -> None:
        self._subtractor = None

    def update(self, image: np.ndarray) -> Optional[np.ndarray]:
        """HxW bool of the moving blobs that touch the border in this frame (grown), or None if there are none."""
        height, width = image.shape[:2]
        small_size = (max(8, width // self.scale), max(8, height // self.scale))
        if self._subtractor is None or self._shape != (height, width):
            self._subtractor = cv2.createBackgroundSubtractorMOG2(self.history, self.var_threshold, False)
            self._shape = (height, width)
            self._subtractor.apply(cv2.resize(image, small_size, interpolation=cv2.INTER_AREA), learningRate=1.0)
            return None  # the first frame is the background
        small = cv2.resize(image, small_size, interpolation=cv2.INTER_AREA)
        moving = (self._subtractor.apply(small) > 0).view(np.uint8)
        moving = cv2.morphologyEx(moving, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
        count, labels, stats, _ = cv2.connectedComponentsWithStats(moving, connectivity=8)
        if count <= 1:
            return None
        left, top, w, h, area = (stats[1:, i] for i in range(5))
        sw, sh = small_size
        edge = (left <= 0) | (top <= 0) | (left + w >= sw) | (top + h >= sh)
        keep = np.flatnonzero(edge & (area >= self.min_area_fraction * sw * sh)) + 1
        if keep.size == 0:
            return None
        blobs = np.isin(labels, keep).view(np.uint8)
        grow = max(1, int(round(self.margin_fraction * max(sw, sh))))
        blobs = cv2.dilate(blobs, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1)))
        return cv2.resize(blobs, (width, height), interpolation=cv2.INTER_NEAREST).view(bool)
