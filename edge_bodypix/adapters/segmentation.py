"""Output grid to image-sized person masks and part maps.

Ports of body-pix `scaleAndCropToInputTensorShape`, `toMaskTensor` and
`decodePartSegmentation`, reorganised for small ARM CPUs:

* body-pix resizes the grid to the model input size (align-corners), applies
  the sigmoid, then crops and resizes to the image size. Both resizes are
  linear, so here they are one pair of matrices per geometry
  (`SegmentationMaps`), applied as two small matrix products on the logits.
* The sigmoid is monotonic, so `sigmoid(x) > t` becomes `x > log(t / (1 - t))`
  and no full-resolution sigmoid is computed. (body-pix applies the sigmoid
  between its two resizes; skipping it there moves mask edges by a fraction of
  a pixel.)
* Part ids come from an argmax over 24 channels. That argmax runs on a grid
  `part_factor` times finer than the output grid (at `part_factor == stride`,
  exactly body-pix's input-resolution samples), and each image pixel takes the
  label of its nearest sample.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from .geometry import Geometry, align_corners_matrix


def threshold_logit(threshold: float) -> float:
    """Logit whose sigmoid equals `threshold` (inf at 1, -inf at 0)."""
    if threshold <= 0.0:
        return -math.inf
    if threshold >= 1.0:
        return math.inf
    return math.log(threshold / (1.0 - threshold))


@dataclass
class SegmentationMaps:
    """Per-geometry interpolation matrices and scratch buffers, reused frame after frame."""

    geometry: Geometry
    part_factor: int
    rows: np.ndarray  # (H, h) grid rows -> image rows
    cols_t: np.ndarray  # (w, W) grid columns -> image columns (transposed)
    part_rows: np.ndarray  # (Hp, h) grid rows -> part-argmax rows
    part_cols_t: np.ndarray  # (w, Wp)
    part_row_index: np.ndarray  # (H,) nearest part-argmax row of each image row
    part_col_index: np.ndarray  # (W,)
    _logits: Optional[np.ndarray] = field(default=None, repr=False)

    @classmethod
    def build(cls, geometry: Geometry, part_factor: int) -> "SegmentationMaps":
        grid_h, grid_w = geometry.grid_size
        part_h = part_factor * (grid_h - 1) + 1
        part_w = part_factor * (grid_w - 1) + 1
        return cls(
            geometry=geometry,
            part_factor=part_factor,
            rows=geometry.grid_to_image_rows().astype(np.float32),
            cols_t=np.ascontiguousarray(geometry.grid_to_image_cols().T.astype(np.float32)),
            part_rows=align_corners_matrix(part_h, grid_h).astype(np.float32),
            part_cols_t=np.ascontiguousarray(align_corners_matrix(part_w, grid_w).T.astype(np.float32)),
            part_row_index=_nearest_index(geometry.image_to_grid_coords(0) * part_factor, part_h),
            part_col_index=_nearest_index(geometry.image_to_grid_coords(1) * part_factor, part_w),
        )

    def logits_buffer(self) -> np.ndarray:
        if self._logits is None:
            self._logits = np.empty(self.geometry.image_size, dtype=np.float32)
        return self._logits


def _nearest_index(coords: np.ndarray, size: int) -> np.ndarray:
    return np.clip(np.floor(coords + 0.5), 0, size - 1).astype(np.intp)


def segment_logits_to_image(segment_logits: np.ndarray, maps: SegmentationMaps) -> np.ndarray:
    """Person logits resized and cropped to the image (body-pix `scaleAndCropToInputTensorShape`).

    Returns a view of a buffer that the next call on the same maps overwrites.
    """
    logits = maps.logits_buffer()
    np.matmul(maps.rows @ segment_logits, maps.cols_t, out=logits)
    return logits


def person_mask(segment_logits: np.ndarray, maps: SegmentationMaps, threshold: float) -> np.ndarray:
    """HxW uint8 mask, 1 where sigmoid(logit) > threshold (body-pix `toMaskTensor`)."""
    logits = segment_logits_to_image(segment_logits, maps)
    mask = np.greater(logits, threshold_logit(threshold))
    return mask.view(np.uint8)


def channel_argmax(values: np.ndarray) -> np.ndarray:
    """Index of the largest of C planes (C x H x W) per pixel, the first on ties, as uint8.

    Faster than `np.argmax(axis=0)`: one elementwise max over planes, then one
    comparison per plane, from the last to the first so the lowest index wins.
    """
    best = values.max(axis=0)
    labels = np.zeros(best.shape, dtype=np.uint8)
    for channel in range(values.shape[0] - 1, 0, -1):
        labels[values[channel] == best] = channel
    labels[values[0] == best] = 0
    return labels


def part_labels_on_grid(part_logits: np.ndarray, maps: SegmentationMaps) -> np.ndarray:
    """Argmax of the part logits on the refined part grid (Hp x Wp uint8)."""
    channels_first = np.ascontiguousarray(np.moveaxis(part_logits, -1, 0), dtype=np.float32)
    refined = np.matmul(np.matmul(maps.part_rows, channels_first), maps.part_cols_t)
    return channel_argmax(refined)


def part_map(part_logits: np.ndarray, mask: np.ndarray, maps: SegmentationMaps) -> np.ndarray:
    """HxW int32 part ids where `mask` is set and -1 elsewhere (body-pix `decodePartSegmentation`)."""
    if not mask.any():
        return np.full(maps.geometry.image_size, -1, dtype=np.int32)
    labels = part_labels_on_grid(part_logits, maps)
    image_labels = labels[np.ix_(maps.part_row_index, maps.part_col_index)]
    return np.where(mask.view(bool), image_labels, np.int32(-1))
