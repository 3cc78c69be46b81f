"""Keypoints and skeletons drawn on an image (body-pix demo `drawKeypoints` / `drawSkeleton`)."""

from __future__ import annotations

from typing import Sequence, Tuple

import cv2
import numpy as np

from ..parts import CONNECTED_KEYPOINTS, KEYPOINT_NAMES
from ..results import Pose

_INDEX = {name: i for i, name in enumerate(KEYPOINT_NAMES)}


def draw_poses(
    image: np.ndarray,
    poses: Sequence[Pose],
    min_part_confidence: float = 0.3,
    keypoint_color: Tuple[int, int, int] = (0, 255, 255),
    skeleton_color: Tuple[int, int, int] = (0, 255, 0),
    radius: int = 0,
    thickness: int = 0,
) -> np.ndarray:
    """A copy of an RGB image with keypoints and skeletons drawn.

    Keypoints scoring below `min_part_confidence` are left out, and so is any
    bone with such an end. Sizes default to about 0.5% of the image diagonal.
    """
    canvas = np.ascontiguousarray(image[:, :, :3]).copy()
    scale = max(1, int(round(np.hypot(*canvas.shape[:2]) / 200)))
    radius = radius or scale + 1
    thickness = thickness or scale
    bone = tuple(int(c) for c in skeleton_color[:3])
    joint = tuple(int(c) for c in keypoint_color[:3])
    for pose in poses:
        points = [(int(round(kp.position[0])), int(round(kp.position[1]))) for kp in pose.keypoints]
        confident = [kp.score >= min_part_confidence for kp in pose.keypoints]
        for a, b in CONNECTED_KEYPOINTS:
            i, j = _INDEX[a], _INDEX[b]
            if confident[i] and confident[j]:
                cv2.line(canvas, points[i], points[j], bone, thickness, cv2.LINE_AA)
        for point, ok in zip(points, confident):
            if ok:
                cv2.circle(canvas, point, radius, joint, -1, cv2.LINE_AA)
    return canvas
