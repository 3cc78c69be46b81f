"""Output grid to image-sized person masks and part maps.

Ports of body-pix `scaleAndCropToInputTensorShape`, `toMaskTensor` and
`decodePartSegmentation`, reorganised for small ARM CPUs:

* body-pix resizes the grid to the model input size (align-corners), applies
  the sigmoid, then crops the padding and resizes to the image size. Both
  resizes are linear and map grid coordinates affinely to image pixels, so
  here the grid is resampled once by two tiny matrix products (built per
  geometry, `SegmentationMaps`) to a grid that one `cv2.resize` brings to the
  image size exactly where body-pix samples it.
* The sigmoid is monotonic, so `sigmoid(x) > t` becomes `x > log(t / (1 - t))`
  and no full-resolution sigmoid is computed. (body-pix applies the sigmoid
  between its two resizes; skipping it there moves mask edges by a fraction of
  a pixel.)
* Part ids come from an argmax over 24 channels, taken on a grid `part_factor`
  times finer than the output grid (at the stride, about body-pix's own
  input-resolution samples); each image pixel takes its nearest sample's label.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Tuple

import cv2
import numpy as np

from .geometry import Geometry, align_corners_scale, resampling_matrix

#: Resampled rows per grid cell for the person logits: at stride 16 one per input
#: pixel, the pitch at which body-pix itself interpolates (mask edges then agree
#: with body-pix to within a pixel; 8 costs a little less and doubles the error).
MASK_FACTOR = 16


#: Grid cells whose person score passes this (well below a mask's 0.7) and whose likeliest part is a
#: face part are face evidence: a face in a mirror, behind glass or at a frame edge that the person
#: mask misses (COCO 000000000151: a driver's face in a car mirror scores 0.3).
FACE_EVIDENCE_THRESHOLD = 0.2
FACE_PART_IDS = (0, 1)  # left_face, right_face


def threshold_logit(threshold: float) -> float:
    """Logit whose sigmoid equals `threshold` (inf at 1, -inf at 0)."""
    if threshold <= 0.0:
        return -math.inf
    if threshold >= 1.0:
        return math.inf
    return math.log(threshold / (1.0 - threshold))


@dataclass
class Resampler:
    """Grid -> resampled grid matrices for one geometry; `cv2.resize` and a crop do the rest."""

    rows: np.ndarray  # (n_rows, h)
    cols_t: np.ndarray  # (w, n_cols)
    resized_wh: Tuple[int, int]  # cv2.resize target (image plus margins)
    crop: Tuple[slice, slice]  # the image inside the resized target
    row_cells: np.ndarray  # (n_rows,) grid row of the first neighbour each resampled row reads
    col_cells: np.ndarray  # (n_cols,)

    @classmethod
    def build(cls, geometry: Geometry, factor: int) -> "Resampler":
        rows, row_margin = resampling_matrix(geometry.image_to_grid_coords(0), geometry.grid_size[0], factor)
        cols, col_margin = resampling_matrix(geometry.image_to_grid_coords(1), geometry.grid_size[1], factor)
        height, width = geometry.image_size
        return cls(
            rows=rows.astype(np.float32),
            cols_t=np.ascontiguousarray(cols.T, dtype=np.float32),
            resized_wh=(width + 2 * col_margin, height + 2 * row_margin),
            crop=(slice(row_margin, row_margin + height), slice(col_margin, col_margin + width)),
            row_cells=np.argmax(rows != 0, axis=1),
            col_cells=np.argmax(cols != 0, axis=1),
        )

    def span(self, grid_rows: Tuple[int, int], grid_cols: Tuple[int, int]) -> Tuple[slice, slice]:
        """Resampled rows and columns that read any grid cell in the given inclusive ranges."""
        def axis_span(cells: np.ndarray, first: int, last: int) -> slice:
            # a sample reads cells c and c + 1, so it touches [first, last] when c in [first - 1, last]
            return slice(int(np.searchsorted(cells, first - 1, "left")), int(np.searchsorted(cells, last, "right")))
        return axis_span(self.row_cells, *grid_rows), axis_span(self.col_cells, *grid_cols)

    @property
    def shape(self) -> Tuple[int, int]:
        return self.rows.shape[0], self.cols_t.shape[1]

    def to_image(self, grid: np.ndarray, interpolation: int, out: Optional[np.ndarray] = None) -> np.ndarray:
        """Upsample a resampled grid to the image (a view into `out` or a new array)."""
        return cv2.resize(grid, self.resized_wh, dst=out, interpolation=interpolation)[self.crop]


@dataclass
class SegmentationMaps:
    """Per-geometry resampling matrices and the output buffer, reused frame after frame."""

    geometry: Geometry
    mask: Resampler
    parts: Resampler
    logits: np.ndarray  # float32 scratch buffer, image size plus the mask resampler's margins

    @classmethod
    def build(cls, geometry: Geometry, part_factor: int) -> "SegmentationMaps":
        mask = Resampler.build(geometry, MASK_FACTOR)
        return cls(
            geometry=geometry,
            mask=mask,
            parts=Resampler.build(geometry, part_factor),
            logits=np.empty(mask.resized_wh[::-1], dtype=np.float32),
        )


def segment_logits_to_image(segment_logits: np.ndarray, maps: SegmentationMaps) -> np.ndarray:
    """Person logits resized and cropped to the image (body-pix `scaleAndCropToInputTensorShape`).

    Returns a view of `maps.logits`, which the next call on the same maps overwrites.
    """
    resampled = maps.mask.rows @ segment_logits @ maps.mask.cols_t
    return maps.mask.to_image(resampled, cv2.INTER_LINEAR, out=maps.logits)


def person_mask(segment_logits: np.ndarray, maps: SegmentationMaps, threshold: float) -> np.ndarray:
    """HxW uint8 mask, 1 where sigmoid(logit) > threshold (body-pix `toMaskTensor`)."""
    logits = segment_logits_to_image(segment_logits, maps)
    return np.greater(logits, threshold_logit(threshold)).view(np.uint8)


def channel_argmax(values: np.ndarray) -> np.ndarray:
    """Index of the largest of C planes (C x H x W) per pixel, the first on ties, as uint8.

    Several times faster than `np.argmax(axis=0)`, which walks the strided
    axis: every step here is an elementwise pass over contiguous planes.
    """
    count = values.shape[0]
    best = values.max(axis=0)
    hits = np.equal(values, best).view(np.uint8)
    hits *= np.arange(count, 0, -1, dtype=np.uint8).reshape(count, 1, 1)  # weight count - c
    labels = hits.max(axis=0)
    return np.subtract(np.uint8(count), labels, out=labels)


def person_grid(segment_logits: np.ndarray, threshold: float) -> np.ndarray:
    """Grid cells (h x w bool) next to which person pixels can be.

    A pixel interpolates its four surrounding grid values, so it can pass the
    threshold only next to a grid value that does; one logit of slack covers
    the resampling's rounding.
    """
    return segment_logits > threshold_logit(threshold) - 1.0


def person_cells(segment_logits: np.ndarray, threshold: float) -> Optional[Tuple[Tuple[int, int], Tuple[int, int]]]:
    """Inclusive grid row and column ranges that can hold person pixels (see `person_grid`), or None."""
    rows, cols = np.nonzero(person_grid(segment_logits, threshold))
    if rows.size == 0:
        return None
    return (int(rows.min()), int(rows.max())), (int(cols.min()), int(cols.max()))


def part_labels_on_grid(part_logits: np.ndarray, resampler: Resampler, span: Tuple[slice, slice]) -> np.ndarray:
    """Argmax of the part logits on the resampled part grid (uint8), computed only inside `span`."""
    grid_h, grid_w, count = part_logits.shape
    row_span, col_span = span
    labels = np.zeros(resampler.shape, dtype=np.uint8)
    channels_first = np.ascontiguousarray(np.moveaxis(part_logits, -1, 0), dtype=np.float32)
    cols_t = resampler.cols_t[:, col_span]
    columns = (channels_first.reshape(count * grid_h, grid_w) @ cols_t).reshape(count, grid_h, -1)
    labels[row_span, col_span] = channel_argmax(np.matmul(resampler.rows[row_span], columns))
    return labels


def part_map(
    part_logits: np.ndarray, mask: np.ndarray, maps: SegmentationMaps,
    cells: Optional[Tuple[Tuple[int, int], Tuple[int, int]]],
) -> np.ndarray:
    """HxW int32 part ids where `mask` is set and -1 elsewhere (body-pix `decodePartSegmentation`).

    `cells` (from `person_cells`) limits the argmax to the grid region that can
    hold person pixels; None means there is none.
    """
    if cells is None or not mask.any():
        return np.full(maps.geometry.image_size, -1, dtype=np.int32)
    labels = part_labels_on_grid(part_logits, maps.parts, maps.parts.span(*cells))
    image_labels = maps.parts.to_image(labels, cv2.INTER_NEAREST_EXACT) + np.uint8(1)
    image_labels *= mask
    return np.subtract(image_labels, 1, dtype=np.int32)


def face_discs(
    segment_logits: np.ndarray, part_logits: np.ndarray, geometry: Geometry, mask_threshold: float,
    threshold: float = FACE_EVIDENCE_THRESHOLD,
) -> Tuple[Tuple[float, float, float], ...]:
    """Discs (x, y, radius in image pixels) over grid cells that look like a face the person mask misses.

    Not part of body-pix: the part map only labels pixels inside the person
    mask, so a face the mask misses gets no face part. Here a cell counts when
    its person score passes `threshold` but not `mask_threshold` (above it the
    part map labels the face already) and a face part is its likeliest part;
    each such cell gets a disc of three quarters of the cell pitch, which
    covers the cell. Works on the output grid only (a few hundred cells).
    """
    rows, cols = np.nonzero((segment_logits > threshold_logit(threshold))
                            & (segment_logits <= threshold_logit(mask_threshold)))
    if rows.size == 0:
        return ()
    face = np.isin(np.argmax(part_logits[rows, cols], axis=1), FACE_PART_IDS)
    if not face.any():
        return ()
    to_input = np.array([align_corners_scale(geometry.grid_size[0], geometry.input_size[0]),
                         align_corners_scale(geometry.grid_size[1], geometry.input_size[1])])
    corner = geometry.input_to_image(np.array([[0.0, 0.0], to_input]))
    radius = 0.75 * float(np.max(corner[1] - corner[0]))  # of the pixels between neighbouring cells
    centres = geometry.input_to_image(np.stack([rows[face], cols[face]], axis=1) * to_input)
    return tuple((float(x), float(y), radius) for y, x in centres)
