"""Which person each person pixel belongs to (body-pix `decodePersonInstanceMasks`).

body-pix walks every person pixel along the long-range offsets of each of the
17 keypoints (`refine_steps` times, bilinear samples) and gives the pixel to
the pose whose confident keypoints (score > `min_keypoint_score`) lie nearest
on average to where the walks end. This port follows its WebGL path
(`decode_multiple_masks_webgl.ts`: all 17 keypoints, bilinear sampling,
`min_keypoint_score`, the 1e6 squared-pixel cut-off); body-pix's CPU path
(`decode_multiple_masks_cpu.ts`, used under Node.js) matches on 5 keypoints
with nearest sampling and a fixed 0.3 score instead.

For speed the walk runs on a lattice of sample points (`factor` per output
grid cell and axis, only near person cells) rather than at every pixel; each
lattice point takes the nearest pose and each person pixel the label of its
nearest lattice point (one `cv2.resize`). Boundaries between touching people
are therefore placed to within half a lattice spacing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np

from ..masks import block_any
from ..parts import NUM_KEYPOINTS
from ..results import Pose
from .geometry import Geometry

#: Mean squared distance (pixels^2) beyond which body-pix's shader leaves a pixel unassigned.
MAX_SQUARED_DISTANCE = 1e6


@dataclass(frozen=True)
class InstanceLattice:
    """Sample points (image pixels) for the walk, laid so `cv2.resize` brings them back to the image."""

    rows: np.ndarray  # (n_rows,) image y of each sample row
    cols: np.ndarray  # (n_cols,)

    @classmethod
    def build(cls, geometry: Geometry, stride: int, factor: int) -> "InstanceLattice":
        height, width = geometry.image_size
        in_h, in_w = geometry.input_size
        padded_h, padded_w = geometry.padded_size

        def axis(n_image: int, n_input: int, n_padded: int) -> np.ndarray:
            pixels_per_cell = stride * n_padded / n_input
            n = max(2, int(round(n_image * factor / pixels_per_cell)))
            return (np.arange(n) + 0.5) * n_image / n - 0.5  # where cv2.resize samples them

        return cls(axis(height, in_h, padded_h), axis(width, in_w, padded_w))

    @property
    def shape(self) -> Tuple[int, int]:
        return len(self.rows), len(self.cols)


def strided_transform(geometry: Geometry, stride: int) -> Tuple[np.ndarray, np.ndarray]:
    """(scale, offset) per axis (y, x) mapping image pixels to output-grid coordinates.

    body-pix `convertToPositionInOutput`: ((p + pad + 1) * scale - 1) / stride with
    scale = input size / padded size (`getScale`).
    """
    padded_h, padded_w = geometry.padded_size
    scale = np.array([geometry.input_size[0] / padded_h, geometry.input_size[1] / padded_w])
    pad = np.array([geometry.padding.top, geometry.padding.left], dtype=np.float64)
    return scale / stride, ((pad + 1.0) * scale - 1.0) / stride


class _OffsetSampler:
    """Bilinear samples of the walked keypoints' (dy, dx) long offsets at grid positions.

    Each (grid cell, keypoint) holds its eight bilinear corner values in one
    row (dy and dx at (y, x), (y, x + 1), (y + 1, x), (y + 1, x + 1)), so one
    gather fetches everything a sample needs; corners outside the grid repeat
    the edge, as WebGL textures clamp to the edge.
    """

    def __init__(self, long_offsets: np.ndarray, keypoints: np.ndarray):
        self.grid_h, self.grid_w = long_offsets.shape[:2]
        keypoints = np.asarray(keypoints, dtype=np.intp)
        self.count = len(keypoints)
        table = np.empty((self.grid_h, self.grid_w, self.count, 2, 4), dtype=np.float32)
        for d, plane in enumerate((long_offsets[:, :, keypoints], long_offsets[:, :, NUM_KEYPOINTS + keypoints])):
            for corner, (dy, dx) in enumerate(((0, 0), (0, 1), (1, 0), (1, 1))):
                target = table[:, :, :, d, corner]
                target[:self.grid_h - dy, :self.grid_w - dx] = plane[dy:, dx:]
                if dy:
                    target[-1, :self.grid_w - dx] = plane[-1, dx:]
                if dx:
                    target[:, -1] = target[:, -2]
        self.table = table.reshape(-1, 8)  # row: cell * K + keypoint
        self.columns = np.arange(self.count, dtype=np.int32)

    def locate(self, gy: np.ndarray, gx: np.ndarray):
        """(cell index, wy, wx) of fractional grid positions."""
        fy, fx = np.floor(gy), np.floor(gx)
        cell = (np.clip(fy, 0, self.grid_h - 1).astype(np.int32) * np.int32(self.grid_w)
                + np.clip(fx, 0, self.grid_w - 1).astype(np.int32))
        return cell, gy - fy, gx - fx

    def sample(self, cell: np.ndarray, wy: np.ndarray, wx: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """(dy, dx), each (n, K), at cells (n, K) or (n, 1) with their weights."""
        index = cell * np.int32(self.count) + self.columns
        c = np.ascontiguousarray(np.take(self.table, index.ravel(), axis=0).T).reshape(8, *index.shape)
        result = []
        for base in (0, 4):  # dy, then dx: the same arithmetic as before the table, bit for bit
            top = c[base + 1] - c[base]
            top *= wx
            top += c[base]
            bottom = c[base + 3] - c[base + 2]
            bottom *= wx
            bottom += c[base + 2]
            bottom -= top
            bottom *= wy
            result.append(np.add(top, bottom, out=top))
        return result[0], result[1]


def walk_long_offsets(
    ys: np.ndarray, xs: np.ndarray, long_offsets: np.ndarray, geometry: Geometry, stride: int, refine_steps: int,
    keypoints: Optional[np.ndarray] = None, sampler: Optional[_OffsetSampler] = None,
) -> Tuple[np.ndarray, np.ndarray]:
    """Where each start point's walk ends for each of `keypoints` (default: all): (n, k) y and x in image pixels.

    The walk of body-pix's shader: start at the point plus the offsets sampled
    there, then `refine_steps` times sample at the rounded position (clipped to
    the image's last row and column) and add. (Merging walks that meet on the
    same pixel was tried: sorting out the duplicates cost more than it saved.)
    """
    if keypoints is None:
        keypoints = np.arange(NUM_KEYPOINTS)
    height, width = geometry.image_size
    (ay, ax), (by, bx) = (v.astype(np.float32) for v in strided_transform(geometry, stride))
    if sampler is None:
        sampler = _OffsetSampler(long_offsets, keypoints)
    start_y = ys.astype(np.float32)[:, None]
    start_x = xs.astype(np.float32)[:, None]
    y, x = sampler.sample(*sampler.locate(start_y * ay + by, start_x * ax + bx))
    y += start_y
    x += start_x
    last_row, last_col = np.float32(height - 1), np.float32(width - 1)
    half = np.float32(0.5)
    gy, gx = np.empty_like(y), np.empty_like(x)
    for _ in range(refine_steps):
        for position, last, scale, shift, grid in ((y, last_row, ay, by, gy), (x, last_col, ax, bx, gx)):
            np.minimum(position, last, out=grid)
            grid += half
            np.floor(grid, out=grid)  # the rounded pixel
            grid *= scale
            grid += shift  # its grid position
        dy, dx = sampler.sample(*sampler.locate(gy, gx))
        y += dy
        x += dx
    return y, x


def pose_distances(
    end_y: np.ndarray, end_x: np.ndarray, keypoints: np.ndarray, poses: Sequence[Pose], min_keypoint_score: float,
) -> np.ndarray:
    """(n, P) mean squared distance from walk ends (columns: `keypoints`) to each pose's confident keypoints."""
    distances = np.full((end_y.shape[0], len(poses)), np.inf, dtype=np.float32)
    column = {int(k): i for i, k in enumerate(keypoints)}
    for i, pose in enumerate(poses):
        confident = [k for k, kp in enumerate(pose.keypoints) if kp.score > min_keypoint_score]
        if not confident:
            continue
        cols = [column[k] for k in confident]
        px = np.array([pose.keypoints[k].position[0] for k in confident], dtype=np.float32)
        py = np.array([pose.keypoints[k].position[1] for k in confident], dtype=np.float32)
        squared = (end_x[:, cols] - px) ** 2 + (end_y[:, cols] - py) ** 2
        distances[:, i] = squared.mean(axis=1)
    return distances


class _Assigner:
    """Nearest pose for lattice points, walking only the keypoints some pose is confident about."""

    def __init__(self, lattice, long_offsets, poses, geometry, stride, refine_steps, min_keypoint_score):
        self.lattice = lattice
        self.args = (long_offsets, geometry, stride, refine_steps)
        self.poses = poses
        self.min_keypoint_score = min_keypoint_score
        self.keypoints = np.array(sorted({
            k for pose in poses for k, kp in enumerate(pose.keypoints) if kp.score > min_keypoint_score
        }), dtype=np.intp)
        self.sampler = _OffsetSampler(long_offsets, self.keypoints) if len(self.keypoints) else None

    def __call__(self, iy: np.ndarray, ix: np.ndarray) -> np.ndarray:
        if len(iy) == 0 or len(self.keypoints) == 0:
            return np.full(len(iy), -1, dtype=np.int8)
        end_y, end_x = walk_long_offsets(self.lattice.rows[iy], self.lattice.cols[ix], *self.args, self.keypoints,
                                         self.sampler)
        distances = pose_distances(end_y, end_x, self.keypoints, self.poses, self.min_keypoint_score)
        nearest = np.argmin(distances, axis=1)
        best = distances[np.arange(len(nearest)), nearest]
        return np.where(best < MAX_SQUARED_DISTANCE, nearest, -1).astype(np.int8)


#: Needed coarse corners that must agree before `coarse_to_fine_labels` fills a block without walking it.
MIN_AGREEING_CORNERS = 2


def _block_index(n: int, coarse: np.ndarray) -> np.ndarray:
    """For each of n lattice indices, the coarse block (between coarse[b] and coarse[b + 1]) holding it."""
    return np.clip(np.searchsorted(coarse, np.arange(n), side="right") - 1, 0, max(len(coarse) - 2, 0))


def _settled(labels: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Coarse points whose known neighbours (8-connected) all carry their own label."""
    padded_labels = np.pad(labels, 1, constant_values=-3)
    padded_known = np.pad(known, 1, constant_values=False)
    rows, cols = labels.shape
    settled = known.copy()
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            if dy or dx:
                neighbour = padded_labels[1 + dy:1 + dy + rows, 1 + dx:1 + dx + cols]
                settled &= ~padded_known[1 + dy:1 + dy + rows, 1 + dx:1 + dx + cols] | (neighbour == labels)
    return settled


def coarse_to_fine_labels(needed: np.ndarray, assign, step: int) -> np.ndarray:
    """Labels for the `needed` lattice points, walking every `step`-th point and then only where they disagree.

    Points inside a block whose needed coarse corners agree take that label:
    with three or four needed corners, or with `MIN_AGREEING_CORNERS` when the
    needed coarse points around them agree too (two people can meet at a
    silhouette's edge). The rest (boundaries between people, narrow parts of
    the needed region) are walked. On 29 eval photos this labels every person
    pixel as requiring four agreeing corners does, with about half the walks.
    """
    n_rows, n_cols = needed.shape
    labels = np.full(needed.shape, -1, dtype=np.int8)
    coarse_rows = np.unique(np.append(np.arange(0, n_rows, step), n_rows - 1))
    coarse_cols = np.unique(np.append(np.arange(0, n_cols, step), n_cols - 1))
    corners = np.zeros(needed.shape, dtype=bool)
    corners[np.ix_(coarse_rows, coarse_cols)] = True
    cy, cx = np.nonzero(corners & needed)
    labels[cy, cx] = assign(cy, cx)
    coarse = labels[np.ix_(coarse_rows, coarse_cols)]
    known = needed[np.ix_(coarse_rows, coarse_cols)]
    if coarse.shape[0] > 1 and coarse.shape[1] > 1:
        quarters = [(slice(None, -1), slice(None, -1)), (slice(None, -1), slice(1, None)),
                    (slice(1, None), slice(None, -1)), (slice(1, None), slice(1, None))]
        knowns = [known[q] for q in quarters]
        values = [coarse[q] for q in quarters]
        reference = np.select(knowns, values, np.int8(-2))  # the first needed corner's label
        agree = np.ones(reference.shape, dtype=bool)
        for k, v in zip(knowns, values):
            agree &= ~k | (v == reference)
        count = sum(k.astype(np.uint8) for k in knowns)
        settled = _settled(coarse, known)
        calm = np.ones(reference.shape, dtype=bool)
        for k, q in zip(knowns, quarters):
            calm &= ~k | settled[q]
        agree &= (count >= 3) | ((count >= MIN_AGREEING_CORNERS) & calm)
        block_label = np.where(agree, reference, np.int8(-2)).astype(np.int8)
        fine = block_label[_block_index(n_rows, coarse_rows)][:, _block_index(n_cols, coarse_cols)]
    else:
        fine = np.full(needed.shape, -2, dtype=np.int8)
    fine[corners] = labels[corners]
    walk = needed & (fine == -2)
    wy, wx = np.nonzero(walk)
    fine[wy, wx] = assign(wy, wx)
    fine[~needed] = -1
    return fine


#: `lattice_coverage` first reduces the mask by this factor (OpenCV's fast integer area average).
COVERAGE_BLOCK = 4


def lattice_coverage(mask: np.ndarray, shape: Tuple[int, int]) -> np.ndarray:
    """(n_rows x n_cols) bool: lattice points that are the nearest (`cv2.INTER_NEAREST_EXACT`) of some set
    pixel of `mask`, i.e. whose label some person pixel takes, and possibly a few next to them.

    The mask is reduced to blocks of `COVERAGE_BLOCK` pixels a side
    (`masks.block_any`), and a lattice point is covered when a block holding
    one of its nearest pixels is set: box sums over the blocks' integral
    image. (A per-pixel reduction cost 22 M instructions at 1440x1080 on
    Cortex-A76; this under 2 M.)
    """
    height, width = mask.shape
    block = COVERAGE_BLOCK
    sums = cv2.integral(block_any(mask, block).view(np.uint8))  # set blocks above and left of each corner

    def block_range(n_image: int, n: int) -> Tuple[np.ndarray, np.ndarray]:
        """Per lattice point along an axis: the first block holding one of its nearest pixels, and one
        past the last."""
        pixel_start = np.ceil(np.arange(n) * n_image / n - 0.5).astype(np.intp)  # owner(p) = i from here
        pixel_end = np.ceil(np.arange(1, n + 1) * n_image / n - 0.5).astype(np.intp)
        pixel_start, pixel_end = np.clip(pixel_start, 0, n_image), np.clip(pixel_end, 0, n_image)
        pixel_end[-1] = n_image  # the last point owns the rest (owner is clamped)
        return pixel_start // block, np.maximum(-(-pixel_end // block), pixel_start // block + 1)

    r0, r1 = block_range(height, shape[0])
    c0, c1 = block_range(width, shape[1])
    inside = sums[np.ix_(r1, c1)] - sums[np.ix_(r0, c1)] - sums[np.ix_(r1, c0)] + sums[np.ix_(r0, c0)]
    return inside > 0


@dataclass
class InstanceLabels:
    """Pose index per image pixel (int8, -1: none) and a bounding box (y0, y1, x0, x1) per pose."""

    labels: np.ndarray
    boxes: List[Tuple[int, int, int, int]]

    def masks(self) -> List[np.ndarray]:
        """One HxW uint8 mask per pose (1 on its pixels)."""
        result = []
        for index, (y0, y1, x0, x1) in enumerate(self.boxes):
            mask = np.zeros(self.labels.shape, dtype=np.uint8)  # calloc: untouched pages stay free
            np.equal(self.labels[y0:y1, x0:x1], index, out=mask[y0:y1, x0:x1].view(bool))
            result.append(mask)
        return result

    def part_maps(self, parts: np.ndarray) -> List[np.ndarray]:
        """One HxW int32 part map per pose (part ids on its pixels, -1 elsewhere)."""
        result = []
        for index, (y0, y1, x0, x1) in enumerate(self.boxes):
            part_map = np.full(self.labels.shape, -1, dtype=np.int32)
            window = part_map[y0:y1, x0:x1]
            own = self.labels[y0:y1, x0:x1] == index
            window[own] = parts[y0:y1, x0:x1][own]
            result.append(part_map)
        return result


def _boxes(lattice_labels: np.ndarray, count: int, image_size: Tuple[int, int]) -> List[Tuple[int, int, int, int]]:
    """Image-pixel boxes covering every pixel whose nearest lattice point carries each label."""
    n_rows, n_cols = lattice_labels.shape
    height, width = image_size
    own = lattice_labels[None] == np.arange(count, dtype=np.int8)[:, None, None]  # (count, rows, cols)
    rows, cols = own.any(axis=2), own.any(axis=1)
    found = rows.any(axis=1)
    first_row, last_row = np.argmax(rows, axis=1), n_rows - 1 - np.argmax(rows[:, ::-1], axis=1)
    first_col, last_col = np.argmax(cols, axis=1), n_cols - 1 - np.argmax(cols[:, ::-1], axis=1)
    boxes = []
    for index in range(count):
        if not found[index]:
            boxes.append((0, 0, 0, 0))
            continue
        boxes.append((
            max(int(np.floor((first_row[index] - 0.5) * height / n_rows)) - 1, 0),
            min(int(np.ceil((last_row[index] + 1.5) * height / n_rows)) + 1, height),
            max(int(np.floor((first_col[index] - 0.5) * width / n_cols)) - 1, 0),
            min(int(np.ceil((last_col[index] + 1.5) * width / n_cols)) + 1, width),
        ))
    return boxes


def instance_labels(
    mask: np.ndarray, person_grid: np.ndarray, long_offsets: np.ndarray, poses: Sequence[Pose],
    geometry: Geometry, stride: int, lattice: InstanceLattice, refine_steps: int = 10,
    min_keypoint_score: float = 0.3, coarse_step: int = 4,
) -> InstanceLabels:
    """Index of the pose each person pixel belongs to (-1 for background and unassigned pixels).

    `person_grid` (h x w bool) marks output-grid cells that may hold person
    pixels; walks start only from lattice points within one cell of them whose
    nearest pixels include a person pixel, first every `coarse_step`-th one,
    then the rest where those disagree.
    `poses` are in image pixels, unflipped, at most 127.
    """
    height, width = geometry.image_size
    if not poses or not person_grid.any():
        return InstanceLabels(np.full((height, width), -1, dtype=np.int8), [(0, 0, 0, 0)] * len(poses))
    grid_h, grid_w = person_grid.shape
    near = cv2.dilate(person_grid.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    (ay, ax), (by, bx) = strided_transform(geometry, stride)
    cell_rows = np.clip(np.floor(lattice.rows * ay + by + 0.5), 0, grid_h - 1).astype(np.intp)
    cell_cols = np.clip(np.floor(lattice.cols * ax + bx + 0.5), 0, grid_w - 1).astype(np.intp)
    needed = near[cell_rows][:, cell_cols] & lattice_coverage(mask, lattice.shape)
    assign = _Assigner(lattice, long_offsets, poses, geometry, stride, refine_steps, min_keypoint_score)
    lattice_labels = coarse_to_fine_labels(needed, assign, coarse_step)
    lattice_labels += np.int8(1)  # -1 becomes 0 (before upsampling: 5800 points, not 1.5 M pixels)
    labels = cv2.resize(lattice_labels.view(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST_EXACT)
    lattice_labels -= np.int8(1)
    labels *= mask
    labels -= np.uint8(1)  # background back to -1 (255)
    return InstanceLabels(labels.view(np.int8), _boxes(lattice_labels, len(poses), geometry.image_size))
