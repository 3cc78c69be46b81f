"""Multi-person pose decoding, a port of PoseNet's decoder as body-pix 2.2.1 ships it.

`decode_multiple_poses` follows body-pix `decodeMultiplePoses`
(`multi_person/decode_multiple_poses.ts`, `decode_pose.ts`,
`build_part_with_score_queue.ts`, `max_heap.ts`): local maxima of the keypoint
scores above a threshold go into a max-heap; roots are taken from it in
order, skipped when within `nms_radius` of the same keypoint of a pose found
before, and grown along the 16-edge skeleton with the displacement fields and
short offsets. The candidate search is vectorised; the heap and skeleton walk
are per keypoint (a few hundred steps), never per pixel.

Positions are (y, x) in model-input pixels until `scale_poses` maps them to
the image (body-pix `scaleAndFlipPoses`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Optional, Tuple

import numpy as np

from ..parts import KEYPOINT_NAMES, NUM_KEYPOINTS, POSE_CHAIN
from ..results import Keypoint, Pose
from .geometry import Geometry

LOCAL_MAXIMUM_RADIUS = 1
OFFSET_REFINE_STEPS = 2  # body-pix's traverseToTargetKeypoint refines twice with short offsets

_IDS = {name: i for i, name in enumerate(KEYPOINT_NAMES)}
_PARENTS = tuple(_IDS[parent] for parent, _ in POSE_CHAIN)
_CHILDREN = tuple(_IDS[child] for _, child in POSE_CHAIN)


@dataclass
class RawPose:
    """A decoded pose in model-input pixels: (17, 2) (y, x) positions, keypoint scores, pose score."""

    positions: np.ndarray
    scores: np.ndarray
    score: float


class MaxHeap:
    """body-pix's `MaxHeap`, ported exactly: equal scores leave in the same order as there.

    Its children of k are 2k and 2k + 1 (a 0-based array with 1-based
    arithmetic), which decides the order of ties; scores and items are kept in
    parallel lists and the loops inlined, since decoding dequeues every
    candidate when fewer poses than `max_detections` are found.
    """

    def __init__(self):
        self._scores: List[float] = []
        self._items: List[tuple] = []

    def __len__(self) -> int:
        return len(self._scores)

    def enqueue(self, score: float, item: tuple) -> None:
        scores, items = self._scores, self._items
        scores.append(score)
        items.append(item)
        k = len(scores) - 1
        while k > 0:
            parent = k // 2
            if not scores[parent] < scores[k]:
                break
            scores[parent], scores[k] = scores[k], scores[parent]
            items[parent], items[k] = items[k], items[parent]
            k = parent

    def dequeue(self) -> Tuple[float, tuple]:
        scores, items = self._scores, self._items
        top = (scores[0], items[0])
        last = len(scores) - 1
        scores[0], items[0] = scores[last], items[last]
        scores.pop()
        items.pop()
        k, n = 0, last - 1  # n: index of the last element still in the heap
        while 2 * k <= n:
            j = 2 * k
            if j < n and scores[j] < scores[j + 1]:
                j += 1
            if not scores[k] < scores[j]:
                break
            scores[k], scores[j] = scores[j], scores[k]
            items[k], items[j] = items[j], items[k]
            k = j
        return top


def local_maxima(scores: np.ndarray, score_threshold: float, radius: int = LOCAL_MAXIMUM_RADIUS) -> np.ndarray:
    """(n, 3) (y, x, keypoint) of scores >= threshold with no strictly larger neighbour, in (y, x, k) order.

    body-pix `buildPartWithScoreQueue` / `scoreIsMaximumInLocalWindow`, vectorised.
    """
    height, width, _ = scores.shape
    # the square window's maximum as a maximum along the columns of maxima along the rows
    padded = np.pad(scores, ((radius, radius), (radius, radius), (0, 0)), constant_values=-np.inf)
    rows = padded[:, radius:radius + width].copy()
    for dx in range(2 * radius + 1):
        if dx != radius:
            np.maximum(rows, padded[:, dx:dx + width], out=rows)
    window_max = rows[radius:radius + height].copy()
    for dy in range(2 * radius + 1):
        if dy != radius:
            np.maximum(window_max, rows[dy:dy + height], out=window_max)
    candidates = (scores >= score_threshold) & (scores >= window_max)
    return np.argwhere(candidates)


def _near_index(value: float, stride: int, size: int) -> int:
    """body-pix `getStridedIndexNearPoint` along one axis (Math.round, then clamp)."""
    index = math.floor(value / stride + 0.5)
    return 0 if index < 0 else (size - 1 if index >= size else index)


def _traverse(
    edge: int, source: Tuple[float, float], target_id: int, scores: np.ndarray, offsets: np.ndarray,
    stride: int, displacements: np.ndarray,
) -> Tuple[Tuple[float, float], float]:
    """body-pix `traverseToTargetKeypoint`: follow one skeleton edge, then refine with short offsets."""
    height, width = scores.shape[:2]
    near = _near_index
    sy, sx = near(source[0], stride, height), near(source[1], stride, width)
    y = source[0] + displacements.item(sy, sx, edge)
    x = source[1] + displacements.item(sy, sx, displacements.shape[2] // 2 + edge)
    offset_item = offsets.item
    for _ in range(OFFSET_REFINE_STEPS):
        ty, tx = near(y, stride, height), near(x, stride, width)
        y = ty * stride + offset_item(ty, tx, target_id)
        x = tx * stride + offset_item(ty, tx, target_id + NUM_KEYPOINTS)
    return (y, x), scores.item(near(y, stride, height), near(x, stride, width), target_id)


def decode_pose(
    root: Tuple[float, int, int, int], scores: np.ndarray, offsets: np.ndarray, stride: int,
    displacement_fwd: np.ndarray, displacement_bwd: np.ndarray,
) -> Tuple[np.ndarray, np.ndarray]:
    """Grow one pose from a root part along the skeleton (body-pix `decodePose`)."""
    root_score, ry, rx, root_id = root
    positions: List[Optional[Tuple[float, float]]] = [None] * NUM_KEYPOINTS
    keypoint_scores = np.zeros(NUM_KEYPOINTS, dtype=np.float64)
    positions[root_id] = (ry * stride + offsets.item(ry, rx, root_id),
                          rx * stride + offsets.item(ry, rx, root_id + NUM_KEYPOINTS))
    keypoint_scores[root_id] = root_score
    for edge in range(len(POSE_CHAIN) - 1, -1, -1):  # child -> parent, last edge first
        source, target = _CHILDREN[edge], _PARENTS[edge]
        if positions[source] is not None and positions[target] is None:
            positions[target], keypoint_scores[target] = _traverse(
                edge, positions[source], target, scores, offsets, stride, displacement_bwd)
    for edge in range(len(POSE_CHAIN)):  # parent -> child
        source, target = _PARENTS[edge], _CHILDREN[edge]
        if positions[source] is not None and positions[target] is None:
            positions[target], keypoint_scores[target] = _traverse(
                edge, positions[source], target, scores, offsets, stride, displacement_fwd)
    return np.array(positions, dtype=np.float64), keypoint_scores


def decode_multiple_poses(
    scores: np.ndarray, offsets: np.ndarray, displacement_fwd: np.ndarray, displacement_bwd: np.ndarray,
    output_stride: int, max_detections: int, score_threshold: float = 0.5, nms_radius: float = 20,
) -> List[RawPose]:
    """Poses in model-input pixels (body-pix `decodeMultiplePoses`).

    `scores` are the sigmoid of the keypoint heatmaps (h, w, 17); `offsets` the
    short offsets (h, w, 34: y then x); displacements (h, w, 32: y then x per edge).
    """
    heap = MaxHeap()
    candidates = local_maxima(scores, score_threshold)
    values = scores[candidates[:, 0], candidates[:, 1], candidates[:, 2]].tolist()
    for score, item in zip(values, map(tuple, candidates.tolist())):
        heap.enqueue(score, item)
    squared_radius = float(nms_radius) ** 2
    poses: List[RawPose] = []
    found: List[List[Tuple[float, float]]] = [[] for _ in range(NUM_KEYPOINTS)]  # accepted positions per keypoint
    accepted = np.empty((max(max_detections, 0), NUM_KEYPOINTS, 2), dtype=np.float64)  # the poses' positions

    def near_found(k: int, y: float, x: float) -> bool:
        """body-pix `withinNmsRadiusOfCorrespondingPoint`."""
        return any((fy - y) ** 2 + (fx - x) ** 2 <= squared_radius for fy, fx in found[k])

    while len(poses) < max_detections and len(heap):
        score, (y, x, k) = heap.dequeue()
        root_y = y * output_stride + offsets.item(y, x, k)
        root_x = x * output_stride + offsets.item(y, x, k + NUM_KEYPOINTS)
        if near_found(k, root_y, root_x):
            continue
        positions, keypoint_scores = decode_pose(
            (score, y, x, k), scores, offsets, output_stride, displacement_fwd, displacement_bwd)
        # body-pix `getInstanceScore`: keypoints not overlapping earlier poses count, averaged over all 17
        if poses:
            earlier = accepted[:len(poses)]
            overlapped = (((earlier - positions) ** 2).sum(axis=2) <= squared_radius).any(axis=0)
            kept = keypoint_scores[~overlapped]
        else:
            kept = keypoint_scores
        accepted[len(poses)] = positions
        pose_score = sum(kept.tolist()) / NUM_KEYPOINTS  # sequential, as JavaScript's reduce adds
        poses.append(RawPose(positions, keypoint_scores, pose_score))
        for i, (py, px) in enumerate(positions.tolist()):
            found[i].append((py, px))
    return poses


def sigmoid(logits: np.ndarray) -> np.ndarray:
    """Keypoint scores from heatmap logits, float32 as body-pix's tensors (computed in float64 like tfjs)."""
    return (1.0 / (1.0 + np.exp(-logits.astype(np.float64)))).astype(np.float32)


def flip_pose_horizontal(pose: Pose, image_width: int) -> Pose:
    """Mirror a pose: x becomes `image_width - 1 - x` (body-pix `flipPoseHorizontal`)."""
    keypoints = tuple(
        Keypoint(kp.part, (image_width - 1 - kp.position[0], kp.position[1]), kp.score) for kp in pose.keypoints
    )
    return Pose(keypoints=keypoints, score=pose.score)


def scale_poses(poses: List[RawPose], geometry: Geometry, flip_horizontal: bool = False) -> List[Pose]:
    """Model-input positions to image pixels (body-pix `scaleAndFlipPoses`), as `Pose` results."""
    if not poses:
        return []
    # all poses at once, then plain floats: per-keypoint numpy indexing was most of the cost
    yx = geometry.input_to_image(np.concatenate([pose.positions for pose in poses])).tolist()
    results = []
    for p, pose in enumerate(poses):
        rows = yx[p * NUM_KEYPOINTS:(p + 1) * NUM_KEYPOINTS]
        keypoints = tuple(Keypoint(part=name, position=(x, y), score=score)
                          for name, (y, x), score in zip(KEYPOINT_NAMES, rows, pose.scores.tolist()))
        scaled = Pose(keypoints=keypoints, score=pose.score)
        results.append(flip_pose_horizontal(scaled, geometry.image_size[1]) if flip_horizontal else scaled)
    return results
