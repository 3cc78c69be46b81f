"""Which pixels to protect: faces, whole persons or the background, with a safety margin."""

from __future__ import annotations

import math
from typing import List, Optional, Sequence, Union

import cv2
import numpy as np

from ..checks import check_number
from ..errors import InvalidParameterError
from ..masks import bounding_box
from ..parts import KEYPOINT_NAMES, PART_CHANNELS
from ..results import PartSegmentation, PersonSegmentation, Pose

TARGETS = ("faces", "persons", "background")
FACE_PARTS = (PART_CHANNELS.index("left_face"), PART_CHANNELS.index("right_face"))
FACE_KEYPOINTS = ("nose", "leftEye", "rightEye", "leftEar", "rightEar")
_FACE_INDEX = [KEYPOINT_NAMES.index(name) for name in FACE_KEYPOINTS]
_SHOULDERS = [KEYPOINT_NAMES.index("leftShoulder"), KEYPOINT_NAMES.index("rightShoulder")]

Result = Union[PersonSegmentation, PartSegmentation]
Results = Union[Result, Sequence[Result]]


def as_results(result: Results) -> List[Result]:
    """A single result or a list of them (multi-person) as a list, checked."""
    items = list(result) if isinstance(result, (list, tuple)) else [result]
    for item in items:
        if not isinstance(item, (PersonSegmentation, PartSegmentation)):
            raise InvalidParameterError(
                f"result must be a PersonSegmentation, PartSegmentation or a list of them, got {type(item).__name__}")
    return items


def result_poses(items: Sequence[Result]) -> List[Pose]:
    """Every pose the results carry (per-person `pose` and image-wide `all_poses`)."""
    poses: List[Pose] = []
    for item in items:
        if item.pose is not None:
            poses.append(item.pose)
        poses.extend(item.all_poses)
    return poses


def person_region(items: Sequence[Result], shape) -> np.ndarray:
    """HxW bool: pixels any result marks as a person."""
    region = np.zeros(shape, dtype=bool)
    for item in items:
        region |= (item.data >= 0) if isinstance(item, PartSegmentation) else (item.data != 0)
    return region


def face_region(items: Sequence[Result], shape, min_keypoint_score: float = 0.3) -> np.ndarray:
    """HxW bool: face parts (ids 0 and 1) of part results, and discs around face keypoints and face evidence.

    The keypoint discs protect faces also where a result has no parts (person
    masks, multi-person masks) or where the part map missed a face: radius 1.2x
    the spread of the confident face keypoints, at least a third of the
    shoulder width, at least 2% of the image's larger side. A result's
    `face_discs` (cells that look like a face the person mask missed, such as
    a face in a mirror) are added where a confident face keypoint lies within
    two disc radii, so that the part outputs and the keypoints agree; alone,
    either is too weak (the evidence cells also fire on a third of the eval
    photos without people, a lone keypoint gives too small a disc).
    """
    region = np.zeros(shape, dtype=bool)
    discs = np.zeros(shape, dtype=np.uint8)
    for item in items:
        if isinstance(item, PartSegmentation):
            region |= (item.data == FACE_PARTS[0]) | (item.data == FACE_PARTS[1])
    floor = 0.02 * max(shape)
    anchors = []
    for pose in result_poses(items):
        points = np.array([pose.keypoints[i].position for i in _FACE_INDEX])
        scores = np.array([pose.keypoints[i].score for i in _FACE_INDEX])
        confident = points[scores > min_keypoint_score]
        if confident.size == 0:
            continue
        anchors.append(confident)
        centre = confident.mean(axis=0)
        spread = float(np.max(np.linalg.norm(confident - centre, axis=1))) if len(confident) > 1 else 0.0
        radius = max(1.2 * spread, floor)
        shoulders = [pose.keypoints[i] for i in _SHOULDERS]
        if all(kp.score > min_keypoint_score for kp in shoulders):
            width = math.dist(shoulders[0].position, shoulders[1].position)
            radius = max(radius, width / 3.0)
        cv2.circle(discs, (int(round(centre[0])), int(round(centre[1]))), int(math.ceil(radius)), 1, -1)
    if anchors:
        keypoints = np.concatenate(anchors)
        for item in items:
            for x, y, radius in item.face_discs:
                if np.min(np.hypot(keypoints[:, 0] - x, keypoints[:, 1] - y)) <= 2 * radius:
                    cv2.circle(discs, (int(round(x)), int(round(y))), int(math.ceil(radius)), 1, -1)
    return region | discs.view(bool)


def _check_margin(margin_px: object) -> int:
    return int(math.ceil(check_number("margin_px", margin_px, 0.0)))


def _grow(region: np.ndarray, margin: int) -> np.ndarray:
    """Dilate a region by `margin` pixels (a disc), working on its bounding box only."""
    box = bounding_box(region, margin) if margin else None
    if box is None:
        return region
    y0, y1, x0, x1 = box
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * margin + 1, 2 * margin + 1))
    grown = region.copy()
    window = cv2.dilate(region[y0:y1, x0:x1].view(np.uint8), kernel)
    grown[y0:y1, x0:x1] = window.view(bool)
    return grown


def protected_region(
    result: Results, target: str = "faces", margin_px: float = 0, min_keypoint_score: float = 0.3,
    shape: Optional[tuple] = None,
) -> np.ndarray:
    """HxW bool of the pixels to protect, grown by `margin_px` so edges do not leak.

    `target`: "faces" (see `face_region`), "persons" (every person pixel, and
    every face `face_region` finds: a face in a mirror has no person mask) or
    "background" (every other pixel; the margin then eats into the persons).
    """
    if target not in TARGETS:
        raise InvalidParameterError(f"target {target!r} is not one of {', '.join(TARGETS)}")
    margin = _check_margin(margin_px)
    min_keypoint_score = check_number("min_keypoint_score", min_keypoint_score, 0.0, 1.0)
    items = as_results(result)
    if shape is None:
        if not items:
            raise InvalidParameterError("an empty result list needs the image shape")
        shape = items[0].data.shape
    for item in items:
        if tuple(item.data.shape[:2]) != tuple(shape[:2]):
            raise InvalidParameterError(
                f"result is for a {item.data.shape[1]}x{item.data.shape[0]} image, not this "
                f"{shape[1]}x{shape[0]} one: segment the image that is being protected")
    if target == "faces":
        return _grow(face_region(items, shape, min_keypoint_score), margin)
    persons = person_region(items, shape)
    if target == "persons":
        return _grow(persons | face_region(items, shape, min_keypoint_score), margin)
    if margin == 0 or not persons.any():
        return ~persons
    # growing the background by m pixels is shrinking the persons by m pixels
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * margin + 1, 2 * margin + 1))
    shrunk = cv2.erode(persons.view(np.uint8), kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0)
    return ~shrunk.view(bool)
