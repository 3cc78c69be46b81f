"""Images from segmentations (body-pix `output_rendering_util.ts`), as numpy arrays.

Only the helpers the CLI needs today; the rendering issue adds the effects.
"""

from __future__ import annotations

from typing import Sequence, Tuple

import cv2
import numpy as np

from .errors import InvalidParameterError
from .parts import CONNECTED_KEYPOINTS, KEYPOINT_NAMES, NUM_PARTS, RAINBOW
from .results import PartSegmentation, PersonSegmentation, Pose

Color = Tuple[int, ...]
WHITE = (255, 255, 255, 255)


def to_mask(
    segmentation: PersonSegmentation,
    foreground: Color = (0, 0, 0, 0),
    background: Color = (0, 0, 0, 255),
) -> np.ndarray:
    """HxWx4 RGBA image: `foreground` on person pixels, `background` elsewhere (body-pix `toMask`)."""
    palette = np.array([background, foreground], dtype=np.uint8)
    return palette[segmentation.data != 0]


def to_colored_part_mask(
    part_segmentation: PartSegmentation, part_colors: Sequence[Sequence[int]] = RAINBOW
) -> np.ndarray:
    """HxWx4 RGBA image with each part's colour and white where there is no part (body-pix `toColoredPartMask`)."""
    if len(part_colors) != NUM_PARTS:
        raise InvalidParameterError(f"part_colors must hold {NUM_PARTS} colours, got {len(part_colors)}")
    palette = np.empty((NUM_PARTS + 1, 4), dtype=np.uint8)
    palette[:NUM_PARTS, :3] = np.asarray(part_colors, dtype=np.uint8)[:, :3]
    palette[:NUM_PARTS, 3] = 255
    palette[NUM_PARTS] = WHITE
    return palette[part_segmentation.data]  # -1 indexes the last (white) entry


def draw_poses(
    image: np.ndarray,
    poses: Sequence[Pose],
    min_part_confidence: float = 0.3,
    keypoint_color: Color = (0, 255, 255),
    skeleton_color: Color = (0, 255, 0),
    radius: int = 0,
    thickness: int = 0,
) -> np.ndarray:
    """A copy of an RGB image with keypoints and skeletons drawn (like body-pix's demo `drawKeypoints`/`drawSkeleton`).

    Keypoints scoring below `min_part_confidence` are left out, and so is any
    bone with such an end. Sizes default to about 0.5% of the image diagonal.
    """
    canvas = np.ascontiguousarray(image[:, :, :3]).copy()
    scale = max(1, int(round(np.hypot(*canvas.shape[:2]) / 200)))
    radius = radius or scale + 1
    thickness = thickness or scale
    index = {name: i for i, name in enumerate(KEYPOINT_NAMES)}
    for pose in poses:
        points = [(int(round(kp.position[0])), int(round(kp.position[1]))) for kp in pose.keypoints]
        confident = [kp.score >= min_part_confidence for kp in pose.keypoints]
        for a, b in CONNECTED_KEYPOINTS:
            i, j = index[a], index[b]
            if confident[i] and confident[j]:
                cv2.line(canvas, points[i], points[j], tuple(int(c) for c in skeleton_color[:3]), thickness, cv2.LINE_AA)
        for point, ok in zip(points, confident):
            if ok:
                cv2.circle(canvas, point, radius, tuple(int(c) for c in keypoint_color[:3]), -1, cv2.LINE_AA)
    return canvas


def pose_to_dict(pose: Pose) -> dict:
    """A pose in body-pix's JSON shape: {score, keypoints: [{part, position: {x, y}, score}]}."""
    return {
        "score": round(pose.score, 6),
        "keypoints": [
            {"part": kp.part, "position": {"x": round(kp.position[0], 3), "y": round(kp.position[1], 3)},
             "score": round(kp.score, 6)}
            for kp in pose.keypoints
        ],
    }
