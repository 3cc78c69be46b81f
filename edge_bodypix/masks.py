"""Helpers on HxW masks that rendering, privacy, tests and benchmarks share: their overlap and their extent."""

from __future__ import annotations

from typing import Optional, Tuple

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
