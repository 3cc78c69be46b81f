"""Output grid to image-sized person masks and part maps.

Ports of body-pix `scaleAndCropToInputTensorShape`, `toMaskTensor` and
`decodePartSegmentation`, reorganised for small ARM CPUs:

* body-pix resizes the grid to the model input size (align-corners), applies
  the sigmoid, then crops the padding and resizes to the image size. Both
  resizes are linear and map grid coordinates affinely to image pixels, so
  here the grid is resampled once (a small product across the columns,
  two-tap interpolation down the rows; built per geometry,
  `SegmentationMaps`) to a grid that one `cv2.resize` brings to the image
  size exactly where body-pix samples it.
* The sigmoid is monotonic, so `sigmoid(x) > t` becomes `x > log(t / (1 - t))`
  and no full-resolution sigmoid is computed. (body-pix applies the sigmoid
  between its two resizes; skipping it there moves mask edges by a fraction of
  a pixel.) The image-sized pass works on bytes (`person_mask`).
* Part ids come from an argmax over 24 channels, taken on a grid `part_factor`
  times finer than the output grid (at the stride, about body-pix's own
  input-resolution samples) over each cell's few possible winners
  (`part_candidates`): a cell with one gives it to all its samples, the others
  are interpolated cell by cell, and only where a person pixel can read the
  label (`labelled_cells`). Each image pixel takes its nearest sample's label.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Tuple

import cv2
import numpy as np

from .geometry import Geometry, Taps, align_corners_scale, resampling_taps

#: Resampled rows per grid cell for the person logits: at stride 16 one per 1.33 input
#: pixels, near the pitch at which body-pix itself interpolates. Mask pixels that differ
#: from body-pix's (sigmoid between its two resizes): 0.06-0.17% at 12 on the shared
#: photos, the same as at 16, which costs a quarter more; 8 raises it by half.
MASK_FACTOR = 12
#: Byte levels per logit when the person logits are upsampled (see `person_mask`).
MASK_LEVELS_PER_LOGIT = 32


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


@dataclass(frozen=True)
class CellSamples:
    """The samples of every grid cell along one axis, so that work can go cell by cell.

    Cell k (between grid points k and k + 1) holds the samples whose taps start
    at k: `index[k]`, padded with `len(taps.low)` (a spare sample one past the
    last, which callers allocate and drop), at fractions `frac[k]` clipped to
    the cell (samples beyond the grid's edge take the edge cell's values).
    """

    index: np.ndarray  # (cells, most) intp
    frac: np.ndarray  # (cells, most) float32 in [0, 1]

    @classmethod
    def build(cls, taps: Taps, n_in: int) -> "CellSamples":
        cells = np.arange(max(n_in - 1, 1))
        starts = np.searchsorted(taps.low, cells, "left")
        ends = np.searchsorted(taps.low, cells, "right")
        index = starts[:, None] + np.arange(max(1, int((ends - starts).max())))[None, :]
        index = np.where(index < ends[:, None], index, len(taps.low))
        frac = np.append(np.clip(taps.frac, 0.0, 1.0), 0.0).astype(np.float32)
        return cls(index=index, frac=frac[index])


@dataclass
class Resampler:
    """Grid -> resampled grid for one geometry: a small matrix product across columns and two-tap
    interpolation down the rows (`Taps`); `cv2.resize` and a crop do the rest."""

    rows: Taps
    cols: Taps
    cols_t: np.ndarray  # (w, n_cols) float32: the columns' taps as a matrix (a product over a few grid rows)
    row_frac: np.ndarray  # (n_rows, 1) float32: rows.frac, ready to broadcast
    resized_wh: Tuple[int, int]  # cv2.resize target (image plus margins)
    crop: Tuple[slice, slice]  # the image inside the resized target
    nearest_rows: np.ndarray  # (image h,) intp: the resampled row each image row takes under INTER_NEAREST_EXACT
    row_cells: CellSamples  # the resampled rows of each grid row of cells
    col_cells: CellSamples  # the resampled columns of each grid column of cells

    @classmethod
    def build(cls, geometry: Geometry, factor: int) -> "Resampler":
        rows, row_margin = resampling_taps(geometry.image_to_grid_coords(0), geometry.grid_size[0], factor)
        cols, col_margin = resampling_taps(geometry.image_to_grid_coords(1), geometry.grid_size[1], factor)
        height, width = geometry.image_size
        resized_wh = (width + 2 * col_margin, height + 2 * row_margin)
        crop = (slice(row_margin, row_margin + height), slice(col_margin, col_margin + width))
        # OpenCV's own nearest-exact row choice, read off a resized index column
        index = np.arange(len(rows.low), dtype=np.int32)[:, None]
        nearest_rows = cv2.resize(index, (1, resized_wh[1]), interpolation=cv2.INTER_NEAREST_EXACT)[crop[0], 0]
        return cls(
            rows=rows,
            cols=cols,
            cols_t=np.ascontiguousarray(cols.matrix(geometry.grid_size[1]).T, dtype=np.float32),
            row_frac=rows.frac.astype(np.float32)[:, None],
            resized_wh=resized_wh,
            crop=crop,
            nearest_rows=nearest_rows.astype(np.intp),
            row_cells=CellSamples.build(rows, geometry.grid_size[0]),
            col_cells=CellSamples.build(cols, geometry.grid_size[1]),
        )

    def span(self, grid_rows: Tuple[int, int], grid_cols: Tuple[int, int]) -> Tuple[slice, slice]:
        """Resampled rows and columns that read any grid cell in the given inclusive ranges."""
        return self.rows.span(*grid_rows), self.cols.span(*grid_cols)

    @property
    def shape(self) -> Tuple[int, int]:
        return len(self.rows.low), len(self.cols.low)

    def resample(self, grid: np.ndarray) -> np.ndarray:
        """A 2-D grid (h x w) resampled: (n_rows x n_cols) float32."""
        columns = grid @ self.cols_t
        resampled = columns[self.rows.low]  # whole rows copied
        step = columns[self.rows.high]
        np.subtract(step, resampled, out=step)
        step *= self.row_frac
        resampled += step
        return resampled

    def to_image(self, grid: np.ndarray, interpolation: int, out: Optional[np.ndarray] = None) -> np.ndarray:
        """Upsample a resampled grid to the image (a view into `out` or a new array)."""
        return cv2.resize(grid, self.resized_wh, dst=out, interpolation=interpolation)[self.crop]

    def to_image_nearest(self, grid: np.ndarray) -> np.ndarray:
        """`to_image(grid, cv2.INTER_NEAREST_EXACT)`, the same pixels, as a new contiguous array.

        OpenCV picks every output pixel on its own; here only the columns are
        resized (one row per resampled row) and the image rows are copied whole
        from them, about a third of the instructions on a Cortex-A76.
        """
        columns = cv2.resize(grid, (self.resized_wh[0], grid.shape[0]), interpolation=cv2.INTER_NEAREST_EXACT)
        return np.take(columns[:, self.crop[1]], self.nearest_rows, axis=0)


@dataclass
class SegmentationMaps:
    """Per-geometry resampling and the mask's upsampling buffer, reused frame after frame."""

    geometry: Geometry
    mask: Resampler
    parts: Resampler
    levels: np.ndarray  # uint8 scratch buffer, image size plus the mask resampler's margins

    @classmethod
    def build(cls, geometry: Geometry, part_factor: int) -> "SegmentationMaps":
        mask = Resampler.build(geometry, MASK_FACTOR)
        return cls(
            geometry=geometry,
            mask=mask,
            parts=Resampler.build(geometry, part_factor),
            levels=np.empty(mask.resized_wh[::-1], dtype=np.uint8),
        )


def segment_logits_to_image(segment_logits: np.ndarray, maps: SegmentationMaps) -> np.ndarray:
    """Person logits (float32) resized and cropped to the image (body-pix `scaleAndCropToInputTensorShape`)."""
    return maps.mask.to_image(maps.mask.resample(segment_logits), cv2.INTER_LINEAR)


def person_mask(segment_logits: np.ndarray, maps: SegmentationMaps, threshold: float) -> np.ndarray:
    """HxW uint8 mask, 1 where sigmoid(logit) > threshold (body-pix `toMaskTensor`).

    The logits are upsampled as bytes: `MASK_LEVELS_PER_LOGIT` levels per logit
    about the threshold (saturating beyond 4 logits either side; neighbouring
    resampled values are at most 0.64 logits apart on the shared photos), so
    the image-sized pass is OpenCV's fixed-point bilinear resize and a byte
    threshold, not float arithmetic. Pixels within about 1/32 of a logit of
    the threshold may fall either way.
    """
    logit = threshold_logit(threshold)
    if math.isinf(logit):
        return np.full(maps.geometry.image_size, 1 if logit < 0 else 0, dtype=np.uint8)
    levels = (segment_logits - np.float32(logit)) * np.float32(MASK_LEVELS_PER_LOGIT)
    levels += np.float32(128.0)  # the threshold sits between levels 127 and 128 once truncated below
    resampled = maps.mask.resample(levels)
    np.clip(resampled, 0, 255, out=resampled)  # astype truncates: floor(128 + x) is round(127.5 + x)
    upsampled = maps.mask.to_image(resampled.astype(np.uint8), cv2.INTER_LINEAR, out=maps.levels)
    return cv2.threshold(upsampled, 127, 1, cv2.THRESH_BINARY)[1]


def person_grid(segment_logits: np.ndarray, threshold: float) -> np.ndarray:
    """Grid cells (h x w bool) next to which person pixels can be.

    A pixel interpolates its four surrounding grid values, so it can pass the
    threshold only next to a grid value that does; one logit of slack covers
    the resampling's rounding.
    """
    return segment_logits > threshold_logit(threshold) - 1.0


def grid_box(points: np.ndarray) -> Optional[Tuple[Tuple[int, int], Tuple[int, int]]]:
    """Inclusive row and column ranges of the set points of a bool grid, or None when none is set."""
    rows, cols = np.nonzero(points)
    if rows.size == 0:
        return None
    return (int(rows.min()), int(rows.max())), (int(cols.min()), int(cols.max()))


def labelled_cells(person: np.ndarray) -> np.ndarray:
    """Grid cells (h x w bool; cell (r, c) lies between points r, r + 1 and c, c + 1) whose part labels can
    reach a person pixel, for a `person_grid`.

    A cell holds person pixels only when a corner point can (`person_grid`);
    an image pixel takes the label of its nearest part sample, at most half a
    sample pitch (at most half a cell) away, so in its own cell or a
    neighbouring one.
    """
    points = person.astype(np.uint8)
    cells = points.copy()
    cells[:-1] |= points[1:]
    cells[:, :-1] |= cells[:, 1:].copy()
    return cv2.dilate(cells, np.ones((3, 3), np.uint8)).astype(bool)


#: Cells with up to this many candidate channels are interpolated together in `part_labels_on_grid`, over
#: this many; cells with more (ambiguous background, where several parts score alike: 6% of cells on the
#: one-person photo) apart, over as many as the most crowded has.
PART_CANDIDATE_SLOTS = 4


def part_candidates(corners: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Per grid cell, a leading channel and the channels that can be the largest anywhere inside the cell.

    `corners` is (4, cells, C): each cell's four corner vectors. Inside a cell
    every channel's value is a convex combination of its corner values, so a
    channel that is below another at all four corners is below it everywhere
    and can never win. The rival tried is the leader, a channel whose smallest
    corner value is largest: any channel tied with it on that value reaches it
    at that corner and stays. This leaves one candidate (the leader) in about
    half of the cells of a real part map, more than four in 6% of them.
    Returns ((cells,) leader ids, (cells, C) bool candidates).
    """
    lowest = np.minimum(np.minimum(corners[0], corners[1]), np.minimum(corners[2], corners[3]))
    leader = np.argmax(lowest, axis=1)
    cells, count = lowest.shape
    flat = corners.reshape(4, cells * count)
    rival = np.take(flat, np.arange(0, cells * count, count) + leader, axis=1)[:, :, None]  # the leader's corners
    possible = corners[0] >= rival[0]
    for corner in range(1, 4):
        possible |= corners[corner] >= rival[corner]
    return leader, possible


def candidate_table(possible: np.ndarray, counts: np.ndarray, width: int) -> np.ndarray:
    """(cells, width) uint8: each cell's candidate channels in channel order, the first repeated after the last
    (`counts`: how many each cell has)."""
    cell, channel = np.nonzero(possible)  # by cell, then by channel
    starts = np.cumsum(counts) - counts
    table = np.repeat(channel[starts].astype(np.uint8)[:, None], width, axis=1)
    table[cell, np.arange(len(cell)) - starts[cell]] = channel
    return table


def argmax_of_rows(values: np.ndarray, axis: int) -> np.ndarray:
    """Index (uint8) of the largest of a few slices along `axis`, the first on ties: a pass per slice.

    Slice k replaces the index where it beats the best so far; k exceeds every
    earlier index, so that is a byte maximum with `k * better` (a masked copy
    costs numpy about 20 times more on a Cortex-A76).
    """
    slices = np.moveaxis(values, axis, 0)
    best = slices[0].copy()
    index = np.zeros(best.shape, dtype=np.uint8)
    better = np.empty(best.shape, dtype=bool)
    for k in range(1, len(slices)):
        np.greater(slices[k], best, out=better)
        step = better.view(np.uint8)
        if k > 1:
            step = np.multiply(step, np.uint8(k), out=step)
        np.maximum(index, step, out=index)
        np.maximum(best, slices[k], out=best)
    return index


def _cell_labels(labels, corners, possible, counts, cells, resampler, cell_rows, cell_cols):
    """Write the argmax over each cell's candidates at every sample of the given cells into `labels`.

    `corners` (4, cells, C) and `possible` (`part_candidates`) cover the box of
    cells whose rows and columns are `cell_rows` and `cell_cols`, `counts` says
    how many candidates each has; `cells` indexes into it. The samples of
    a cell form a small regular grid (a few resampled rows by a few columns),
    so every cell is interpolated across and then down on its own, all cells
    at once, cells last: (width, rows, columns, cells).
    """
    width = int(counts[cells].max())
    table = candidate_table(possible[cells], counts[cells], width)  # (k, width)
    count = corners.shape[2]
    at = table.T.astype(np.intp)
    at += cells * count  # (width, k): where each candidate's corner values are, cells last
    c00, c01, c10, c11 = np.take(corners.reshape(4, -1), at, axis=1)  # each (width, k)
    down, across = np.divmod(cells, len(cell_cols))
    rows, cols = resampler.row_cells, resampler.col_cells
    row_cell, col_cell = cell_rows[down], cell_cols[across]
    fx = np.ascontiguousarray(cols.frac[col_cell].T)[None]  # (1, columns, k)
    fy = np.ascontiguousarray(rows.frac[row_cell].T)[None, :, None]  # (1, rows, 1, k)
    step = (c01 - c00)[:, None] * fx
    top = c00[:, None] + step  # (width, columns, k)
    step = (c11 - c10)[:, None] * fx
    bottom = c10[:, None] + step
    bottom -= top
    values = bottom[:, None] * fy
    values += top[:, None]  # (width, rows, columns, k)
    slot = argmax_of_rows(values, axis=0).astype(np.intp)
    slot += np.arange(0, len(cells) * width, width)
    chosen = np.take(table.ravel(), slot)
    stride = labels.shape[1]
    samples = (rows.index[row_cell] * stride).T[:, None] + cols.index[col_cell].T[None]  # (rows, columns, k)
    labels.ravel()[samples] = chosen


def part_labels_on_grid(
    part_logits: np.ndarray, resampler: Resampler, span: Tuple[slice, slice], needed: Optional[np.ndarray] = None,
) -> np.ndarray:
    """Argmax of the part logits on the resampled part grid (uint8), computed only inside `span`.

    The argmax of a bilinear interpolation inside a grid cell is one of the
    cell's few `part_candidates`. A cell with one candidate (about half of
    them) gives it to all its samples; the samples of the others are
    interpolated over their candidates only, cell by cell (`_cell_labels`: up
    to `PART_CANDIDATE_SLOTS` candidates together, cells with more apart).
    Exact (ties go to the first channel, as `np.argmax`); samples beyond the
    grid's edge take the edge cell's values instead of continuing its slope.
    With `needed` (grid cells, `labelled_cells`), cells outside it with several
    candidates (mostly background between people and limbs) keep their
    leader, which may be wrong there.
    """
    n_rows, n_cols = resampler.shape
    labels = np.zeros((n_rows + 1, n_cols + 1), dtype=np.uint8)  # a spare row and column for padded samples
    row_span, col_span = span
    rows, cols = resampler.rows, resampler.cols
    row_low, col_low = rows.low[row_span], cols.low[col_span]
    if row_low.size == 0 or col_low.size == 0:
        return labels[:n_rows, :n_cols]
    grid_h, grid_w, count = part_logits.shape
    r0, r1, c0, c1 = int(row_low[0]), int(row_low[-1]), int(col_low[0]), int(col_low[-1])
    cell_rows, cell_cols = np.arange(r0, r1 + 1), np.arange(c0, c1 + 1)
    n_down, n_across = len(cell_rows), len(cell_cols)
    # corners of the box's cells: slices (a cell's far corner is the next point; a one-point axis repeats it)
    below, right = min(r0 + 1, grid_h - 1), min(c0 + 1, grid_w - 1)
    logits = part_logits.astype(np.float32, copy=False)
    top, bottom = logits[r0:r1 + 1], logits[below:below + n_down]
    corners = np.stack([top[:, c0:c1 + 1], top[:, right:right + n_across],
                        bottom[:, c0:c1 + 1], bottom[:, right:right + n_across]])
    corners = corners.reshape(4, n_down * n_across, count)  # (corner, cell, channel)
    leader, possible = part_candidates(corners)
    # every sample takes its cell's leader, the label wherever the leader is the only candidate
    lead = np.take(leader.astype(np.uint8).reshape(n_down, n_across), col_low - c0, axis=1)
    labels[row_span, col_span] = np.take(lead, row_low - r0, axis=0)  # whole rows copied
    counts = np.count_nonzero(possible, axis=1)
    several = counts > 1
    if needed is not None:
        several &= needed[r0:r1 + 1, c0:c1 + 1].ravel()
    slots = min(PART_CANDIDATE_SLOTS, count)
    for group in (several & (counts <= slots), several & (counts > slots)):
        cells = np.flatnonzero(group)
        if cells.size:
            _cell_labels(labels, corners, possible, counts, cells, resampler, cell_rows, cell_cols)
    return labels[:n_rows, :n_cols]


def part_map(part_logits: np.ndarray, mask: np.ndarray, maps: SegmentationMaps, person: np.ndarray) -> np.ndarray:
    """HxW int32 part ids where `mask` is set and -1 elsewhere (body-pix `decodePartSegmentation`).

    `person` (the `person_grid` the mask came from) limits the argmax to the
    grid region that can hold person pixels, and its exact pass to the cells
    whose labels can reach them (`labelled_cells`).
    """
    cells = grid_box(person)
    if cells is None:
        return np.full(maps.geometry.image_size, -1, dtype=np.int32)
    labels = part_labels_on_grid(part_logits, maps.parts, maps.parts.span(*cells), labelled_cells(person))
    labels += np.uint8(1)  # on the grid: 1..24, so that the mask can zero the background
    image_labels = maps.parts.to_image_nearest(labels)
    np.multiply(image_labels, mask, out=image_labels)
    image_labels -= np.uint8(1)  # background wraps to 255, -1 as int8
    return image_labels.view(np.int8).astype(np.int32)


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
