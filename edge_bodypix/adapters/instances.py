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


def _bilinear_sampler(long_offsets: np.ndarray, keypoints: np.ndarray):
    """Sample the 17 keypoints' (dy, dx) long offsets at fractional grid positions.

    Each grid cell stores its four bilinear corners packed as complex numbers
    (dy + i dx), so one gather fetches everything a sample needs; corners
    outside the grid repeat the edge, as WebGL textures clamp to the edge.
    """
    grid_h, grid_w = long_offsets.shape[:2]
    packed = (long_offsets[:, :, :NUM_KEYPOINTS] + 1j * long_offsets[:, :, NUM_KEYPOINTS:]).astype(np.complex64)
    below = np.concatenate([packed[1:], packed[-1:]], axis=0)
    corners = np.stack([
        packed, np.concatenate([packed[:, 1:], packed[:, -1:]], axis=1),
        below, np.concatenate([below[:, 1:], below[:, -1:]], axis=1),
    ], axis=-1)  # (h, w, 17, 4): (y, x), (y, x + 1), (y + 1, x), (y + 1, x + 1)
    table = corners.reshape(-1, 4)
    keypoints = np.asarray(keypoints, dtype=np.intp)

    def sample(gy: np.ndarray, gx: np.ndarray) -> np.ndarray:
        """Offsets at grid positions (n, 1) or (n, k) for each keypoint: (n, k) complex."""
        fy, fx = np.floor(gy), np.floor(gx)
        wy, wx = gy - fy, gx - fx
        cell = np.clip(fy, 0, grid_h - 1).astype(np.intp) * grid_w + np.clip(fx, 0, grid_w - 1).astype(np.intp)
        o = np.take(table, cell * NUM_KEYPOINTS + keypoints, axis=0)  # (..., 4); take beats fancy indexing
        top = o[..., 0] + (o[..., 1] - o[..., 0]) * wx
        bottom = o[..., 2] + (o[..., 3] - o[..., 2]) * wx
        return top + (bottom - top) * wy

    return sample


def walk_long_offsets(
    ys: np.ndarray, xs: np.ndarray, long_offsets: np.ndarray, geometry: Geometry, stride: int, refine_steps: int,
    keypoints: Optional[np.ndarray] = None,
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
    sample = _bilinear_sampler(long_offsets, keypoints)
    start_y = ys.astype(np.float32)[:, None]
    start_x = xs.astype(np.float32)[:, None]
    offset = sample(start_y * ay + by, start_x * ax + bx)
    y = start_y + offset.real
    x = start_x + offset.imag
    last_row, last_col = np.float32(height - 1), np.float32(width - 1)
    half = np.float32(0.5)
    for _ in range(refine_steps):
        ry = np.floor(np.minimum(y, last_row) + half)
        rx = np.floor(np.minimum(x, last_col) + half)
        offset = sample(ry * ay + by, rx * ax + bx)
        y += offset.real
        x += offset.imag
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

    def __call__(self, iy: np.ndarray, ix: np.ndarray) -> np.ndarray:
        if len(iy) == 0 or len(self.keypoints) == 0:
            return np.full(len(iy), -1, dtype=np.int8)
        end_y, end_x = walk_long_offsets(self.lattice.rows[iy], self.lattice.cols[ix], *self.args, self.keypoints)
        distances = pose_distances(end_y, end_x, self.keypoints, self.poses, self.min_keypoint_score)
        nearest = np.argmin(distances, axis=1)
        best = distances[np.arange(len(nearest)), nearest]
        return np.where(best < MAX_SQUARED_DISTANCE, nearest, -1).astype(np.int8)


def _block_index(n: int, coarse: np.ndarray) -> np.ndarray:
    """For each of n lattice indices, the coarse block (between coarse[b] and coarse[b + 1]) holding it."""
    return np.clip(np.searchsorted(coarse, np.arange(n), side="right") - 1, 0, max(len(coarse) - 2, 0))


def coarse_to_fine_labels(needed: np.ndarray, assign, step: int) -> np.ndarray:
    """Labels for the `needed` lattice points, walking every `step`-th point and then only where they disagree.

    Points inside a block whose four coarse corners agree take that label; the
    rest (boundaries between people, edges of the needed region) are walked.
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
        same = ((coarse[:-1, :-1] == coarse[1:, :-1]) & (coarse[:-1, :-1] == coarse[:-1, 1:])
                & (coarse[:-1, :-1] == coarse[1:, 1:]))
        same &= known[:-1, :-1] & known[1:, :-1] & known[:-1, 1:] & known[1:, 1:]
        block_label = np.where(same, coarse[:-1, :-1], np.int8(-2)).astype(np.int8)
        fine = block_label[_block_index(n_rows, coarse_rows)][:, _block_index(n_cols, coarse_cols)]
    else:
        fine = np.full(needed.shape, -2, dtype=np.int8)
    fine[corners] = labels[corners]
    walk = needed & (fine == -2)
    wy, wx = np.nonzero(walk)
    fine[wy, wx] = assign(wy, wx)
    fine[~needed] = -1
    return fine


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
    boxes = []
    for index in range(count):
        rows, cols = np.nonzero(lattice_labels == index)
        if rows.size == 0:
            boxes.append((0, 0, 0, 0))
            continue
        boxes.append((
            max(int(np.floor((rows.min() - 0.5) * height / n_rows)) - 1, 0),
            min(int(np.ceil((rows.max() + 1.5) * height / n_rows)) + 1, height),
            max(int(np.floor((cols.min() - 0.5) * width / n_cols)) - 1, 0),
            min(int(np.ceil((cols.max() + 1.5) * width / n_cols)) + 1, width),
        ))
    return boxes


def instance_labels(
    mask: np.ndarray, person_grid: np.ndarray, long_offsets: np.ndarray, poses: Sequence[Pose],
    geometry: Geometry, stride: int, lattice: InstanceLattice, refine_steps: int = 10,
    min_keypoint_score: float = 0.3, coarse_step: int = 4,
) -> InstanceLabels:
    """Index of the pose each person pixel belongs to (-1 for background and unassigned pixels).

    `person_grid` (h x w bool) marks output-grid cells that may hold person
    pixels; walks start only from lattice points within one cell of them,
    first every `coarse_step`-th one, then the rest where those disagree.
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
    needed = near[cell_rows][:, cell_cols]
    assign = _Assigner(lattice, long_offsets, poses, geometry, stride, refine_steps, min_keypoint_score)
    lattice_labels = coarse_to_fine_labels(needed, assign, coarse_step)
    labels = cv2.resize(lattice_labels.view(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST_EXACT)
    labels += np.uint8(1)  # -1 (255) wraps to 0
    labels *= mask
    labels -= np.uint8(1)  # background back to -1 (255)
    return InstanceLabels(labels.view(np.int8), _boxes(lattice_labels, len(poses), geometry.image_size))
