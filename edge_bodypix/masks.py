"""Helpers on HxW masks that rendering, privacy, tests and benchmarks share: their overlap, their extent and
their blocks."""

from __future__ import annotations

from typing import Optional, Tuple

import cv2
import numpy as np


def mask_iou(a: np.ndarray, b: np.ndarray, empty: float = 1.0) -> float:
    """Intersection over union of two masks (anything non-zero is in); `empty` when both are empty."""
    a, b = np.asarray(a).astype(bool, copy=False), np.asarray(b).astype(bool, copy=False)
    union = np.count_nonzero(a | b)
    return float(np.count_nonzero(a & b) / union) if union else float(empty)


def bounding_box(mask: np.ndarray, margin: int = 0) -> Optional[Tuple[int, int, int, int]]:
    """(y0, y1, x0, x1) around the set pixels of a 2-D mask, grown by `margin` and clipped; None if empty."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask[rows[0]:rows[-1] + 1].any(axis=0))
    height, width = mask.shape
    return (max(int(rows[0]) - margin, 0), min(int(rows[-1]) + 1 + margin, height),
            max(int(cols[0]) - margin, 0), min(int(cols[-1]) + 1 + margin, width))


def block_any(mask: np.ndarray, block: int) -> np.ndarray:
    """(ceil(h / block) x ceil(w / block)) bool: the blocks of `block` pixels a side (the last ones cut by
    the mask's edge) that hold any set pixel of a 2-D bool or 0/1 uint8 mask.

    One OpenCV area average with a whole factor (its fast path; an average of
    255s is never 0), the mask padded with zeros to whole blocks.
    """
    height, width = mask.shape
    rows, cols = -(-height // block), -(-width // block)
    scaled = mask.view(np.uint8) * np.uint8(255)
    if (rows * block, cols * block) != (height, width):
        scaled = cv2.copyMakeBorder(scaled, 0, rows * block - height, 0, cols * block - width, cv2.BORDER_CONSTANT,
                                    value=0)
    return cv2.resize(scaled, (cols, rows), interpolation=cv2.INTER_AREA) > 0
