"""Comparing masks: the one intersection-over-union every test, benchmark, converter report and self-test uses."""

from __future__ import annotations

import numpy as np


def mask_iou(a: np.ndarray, b: np.ndarray, empty: float = 1.0) -> float:
    """Intersection over union of two masks (anything non-zero is in); `empty` when both are empty."""
    a, b = np.asarray(a).astype(bool, copy=False), np.asarray(b).astype(bool, copy=False)
    union = np.count_nonzero(a | b)
    return float(np.count_nonzero(a & b) / union) if union else float(empty)
