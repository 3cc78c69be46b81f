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


def face_region(items: Sequence[Result], shape, min_keypoint_score: float = 0.3, margin: int = 0) -> np.ndarray:
    """HxW bool: face parts (ids 0 and 1) of part results, and discs around face keypoints and face evidence,
    grown by `margin` pixels (`grow`; the discs by drawing them that much larger).

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
    region = None
    for item in items:
        if isinstance(item, PartSegmentation):
            # part ids 0 and 1 (FACE_PARTS) in one comparison: as unsigned, -1 is the largest
            faces = np.ascontiguousarray(item.data, dtype=np.int32).view(np.uint32) <= 1
            region = faces if region is None else np.logical_or(region, faces, out=region)
    region = np.zeros(shape, dtype=bool) if region is None else grow(region, margin, in_place=True)
    discs = region.view(np.uint8)  # circles are drawn straight into the region (as 1s)
    # a disc grown by the margin is a disc that much larger (one pixel more covers both rasterisations)
    extra = margin + 1 if margin else 0
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
        cv2.circle(discs, (int(round(centre[0])), int(round(centre[1]))), int(math.ceil(radius)) + extra, 1, -1)
    if anchors:
        keypoints = np.concatenate(anchors)
        for item in items:
            for x, y, radius in item.face_discs:
                if np.min(np.hypot(keypoints[:, 0] - x, keypoints[:, 1] - y)) <= 2 * radius:
                    cv2.circle(discs, (int(round(x)), int(round(y))), int(math.ceil(radius)) + extra, 1, -1)
    return region


#: OpenCV's 3x3 chamfer distance (steps of 1 and 1.3693) is between 0.968 and 1.066 times the Euclidean
#: one, so thresholding it at 1.066 times the margin (and half a pixel for rasterisation) keeps every
#: pixel within the margin and at most about 10% more.
_CHAMFER_OVER = 1.066


def _within(distance_to: np.ndarray, margin: int) -> np.ndarray:
    """uint8 1 where the 3x3 chamfer distance to the nearest zero of `distance_to` may be <= margin."""
    distance = cv2.distanceTransform(distance_to, cv2.DIST_L2, 3)
    return (distance <= _CHAMFER_OVER * margin + 0.5).view(np.uint8)


def grow(region: np.ndarray, margin: int, in_place: bool = False) -> np.ndarray:
    """The region (HxW bool) and every pixel within `margin` pixels of it (a disc), on its bounding box only
    (written into `region` itself with `in_place`).

    A chamfer distance transform, not a dilation by a disc: its cost does not
    grow with the margin (a 31x31 elliptic dilation took 39 M instructions on a
    face's box on Cortex-A76, this 5 M). It grows by at least the margin and at
    most about 10% more.
    """
    box = bounding_box(region, margin + 1) if margin else None
    if box is None:
        return region
    y0, y1, x0, x1 = box
    grown = region if in_place else region.copy()
    outside = np.logical_not(region[y0:y1, x0:x1]).view(np.uint8)
    grown[y0:y1, x0:x1] = _within(outside, margin).view(bool)
    return grown


def shrink(region: np.ndarray, margin: int) -> np.ndarray:
    """The region without its pixels within `margin` of the outside (image borders count as outside):
    the complement of `grow` of the complement."""
    if margin == 0:
        return region
    bordered = cv2.copyMakeBorder(region.view(np.uint8), 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    return np.logical_not(_within(bordered, margin)[1:-1, 1:-1].view(bool))


def _check_margin(margin_px: object) -> int:
    return int(math.ceil(check_number("margin_px", margin_px, 0.0)))


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
        return face_region(items, shape, min_keypoint_score, margin)
    persons = person_region(items, shape)
    if target == "persons":
        return grow(persons | face_region(items, shape, min_keypoint_score), margin)
    if margin == 0 or not persons.any():
        return ~persons
    # growing the background by m pixels is shrinking the persons by m pixels
    return ~shrink(persons, margin)
