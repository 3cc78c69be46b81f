"""Self-test: does the loaded network still find a known person and face?

A checksum proves the file is the one we shipped; it cannot catch a wrong but
valid model, a broken delegate or an accelerator returning garbage. The
self-test runs the network on a photo shipped in the package (NASA's
public-domain portrait of astronaut Eileen Collins, 512x512, from
scikit-image's sample data) and compares what comes out with what healthy
models give:

- the person mask against the consensus of three healthy models (MobileNetV1
  0.50 stride 8 and 16 float, 0.75 stride 16 uint8, each at internal
  resolutions medium and full), by IoU;
- the nose and eyes of the best pose against their consensus positions;
- the region the caller would protect (faces, persons or background, with its
  margin) against a face box drawn by hand (or, for the background, against
  the consensus background).

`evaluate` is the pure check on a result; `run_selftest` runs the network and
checks, failing (not raising) on any error, so a caller can fail closed.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Dict, Optional, Tuple

import cv2
import numpy as np

from ..errors import EdgeBodyPixError
from ..masks import mask_iou
from ..options import SegmentationOptions
from ..parts import KEYPOINT_NAMES
from ..results import PartSegmentation, PersonSegmentation
from .protection import default_margin
from .regions import TARGETS, protected_region

DATA = Path(__file__).with_name("data")
PHOTO = DATA / "selftest-astronaut.jpg"
PERSON_MASK = DATA / "selftest-astronaut-person.png"
#: Inner face (brows to chin, cheek to cheek), x0, y0, x1, y1 exclusive, drawn by eye on the photo.
FACE_BOX = (182, 70, 269, 183)
#: Consensus keypoint positions (x, y) of the healthy models.
KEYPOINTS: Dict[str, Tuple[float, float]] = {"nose": (220.0, 123.0), "leftEye": (245.0, 105.0),
                                             "rightEye": (203.0, 102.0)}
#: The network sees the photo at this internal resolution (257x257 for a resizable model).
INTERNAL_RESOLUTION = "medium"
MIN_PERSON_IOU = 0.7  # healthy models: 0.82-0.93 against the consensus
MIN_KEYPOINT_SCORE = 0.5  # healthy models: 0.99-1.0
KEYPOINT_TOLERANCE = 0.06  # of the photo's side (31 px); healthy models stay within 9 px
MIN_FACE_COVERAGE = 0.95  # of FACE_BOX protected (faces, persons); healthy models: 98.1-100%
MIN_BACKGROUND_COVERAGE = 0.9  # of the consensus background protected (background)


class SelfTestError(EdgeBodyPixError):
    """The self-test photo or its reference data cannot be read (a broken installation)."""


@dataclass(frozen=True)
class SelfTestResult:
    """The outcome of one self-test; `problems` says what failed (empty when `passed`)."""

    passed: bool
    problems: Tuple[str, ...] = ()
    person_iou: float = float("nan")
    keypoint_error_px: float = float("nan")
    coverage: float = float("nan")
    duration_s: float = 0.0

    def summary(self) -> str:
        if self.passed:
            return (f"self-test passed: person IoU {self.person_iou:.2f}, face keypoints within "
                    f"{self.keypoint_error_px:.0f} px, {100 * self.coverage:.1f}% of the face protected "
                    f"({1e3 * self.duration_s:.0f} ms)")
        return "self-test FAILED: " + "; ".join(self.problems)


@lru_cache(maxsize=1)
def _reference() -> Tuple[np.ndarray, np.ndarray]:
    photo = cv2.imread(str(PHOTO), cv2.IMREAD_COLOR)
    mask = cv2.imread(str(PERSON_MASK), cv2.IMREAD_GRAYSCALE)
    if photo is None or mask is None or photo.shape[:2] != mask.shape:
        raise SelfTestError(f"self-test data missing or unreadable in {DATA}: reinstall edge-bodypix")
    photo = cv2.cvtColor(photo, cv2.COLOR_BGR2RGB)
    photo.setflags(write=False)
    mask = mask > 127
    mask.setflags(write=False)
    return photo, mask


def selftest_photo() -> np.ndarray:
    """The self-test photo, RGB uint8 (read-only)."""
    return _reference()[0]


def reference_mask() -> np.ndarray:
    """The consensus person mask of the self-test photo, HxW bool (read-only)."""
    return _reference()[1]


def _keypoint_error(result, problems: list) -> float:
    """Largest distance of the nose and eyes of the best pose from the consensus (inf if missing)."""
    poses = list(result.all_poses)
    if result.pose is not None:
        poses.append(result.pose)
    if not poses:
        problems.append("no pose found")
        return math.inf
    side = max(result.data.shape)
    worst = 0.0
    best = max(poses, key=lambda pose: pose.score)
    for name, expected in KEYPOINTS.items():
        keypoint = best.keypoints[KEYPOINT_NAMES.index(name)]
        error = math.dist(keypoint.position, expected) if np.all(np.isfinite(keypoint.position)) else math.inf
        if not keypoint.score >= MIN_KEYPOINT_SCORE:
            problems.append(f"{name} score {keypoint.score:.2f} < {MIN_KEYPOINT_SCORE}")
        elif not error <= KEYPOINT_TOLERANCE * side:
            problems.append(f"{name} {error:.0f} px from where it is (limit {KEYPOINT_TOLERANCE * side:.0f} px)")
        worst = max(worst, error)
    return worst


def evaluate(result, target: str = "faces", margin_px: Optional[float] = None,
             min_keypoint_score: float = 0.3) -> SelfTestResult:
    """Check a segmentation of `selftest_photo()` (pure: no network involved).

    `target` and `margin_px` are the caller's protection settings (None: the
    default margin for the photo); the region they give must cover the face
    (faces, persons) or the background (background).
    """
    if not isinstance(result, (PersonSegmentation, PartSegmentation)):
        return SelfTestResult(False, (f"result is a {type(result).__name__}, not a segmentation",))
    if target not in TARGETS:
        return SelfTestResult(False, (f"target {target!r} is not one of {', '.join(TARGETS)}",))
    expected = reference_mask()
    if result.data.shape != expected.shape:
        return SelfTestResult(False, (f"result is {result.data.shape[1]}x{result.data.shape[0]}, not the photo's "
                                      f"{expected.shape[1]}x{expected.shape[0]}",))
    problems: list = []
    mask = result.data >= 0 if isinstance(result, PartSegmentation) else result.data != 0
    iou = mask_iou(mask, expected, empty=0.0)
    if not iou >= MIN_PERSON_IOU:
        problems.append(f"person mask IoU {iou:.2f} with the reference < {MIN_PERSON_IOU}")
    keypoint_error = _keypoint_error(result, problems)
    margin = default_margin(expected.shape) if margin_px is None else margin_px
    region = protected_region(result, target, margin, min_keypoint_score)
    if target == "background":
        must = ~expected
        limit = MIN_BACKGROUND_COVERAGE
    else:
        x0, y0, x1, y1 = FACE_BOX
        must = np.zeros(expected.shape, dtype=bool)
        must[y0:y1, x0:x1] = True
        limit = MIN_FACE_COVERAGE
    coverage = np.count_nonzero(region & must) / np.count_nonzero(must)
    if not coverage >= limit:
        what = "background" if target == "background" else "face"
        problems.append(f"only {100 * coverage:.1f}% of the {what} protected with target {target!r} "
                        f"(at least {100 * limit:.0f}%)")
    return SelfTestResult(not problems, tuple(problems), float(iou), float(keypoint_error), float(coverage))


def start(net):
    """Run the network on the photo: the `Inference` for `finish`; the half a daemon runs on its inference thread."""
    return net.infer(selftest_photo(), INTERNAL_RESOLUTION, net.person_roles(parts=True))


def finish(net, inference, target: str = "faces", margin_px: Optional[float] = None,
           segmentation_threshold: float = 0.7, started: Optional[float] = None) -> SelfTestResult:
    """Post-process `start`'s outputs and `evaluate` them; any error is a failed self-test, never raised."""
    begun = time.perf_counter() if started is None else started
    try:
        options = SegmentationOptions(segmentation_threshold=segmentation_threshold)
        result = net.postprocess(inference, True, options)
        verdict = evaluate(result, target, margin_px)
    except Exception as exc:  # noqa: BLE001 - a network that raises has failed the test
        verdict = SelfTestResult(False, (f"{type(exc).__name__}: {exc}",))
    return replace(verdict, duration_s=time.perf_counter() - begun)


def inference_failed(exc: BaseException, started: float) -> SelfTestResult:
    """The verdict on a network whose inference raised (`start` failed): a failed self-test."""
    return SelfTestResult(False, (f"inference failed: {type(exc).__name__}: {exc}",),
                          duration_s=time.perf_counter() - started)


def run_selftest(net, target: str = "faces", margin_px: Optional[float] = None,
                 segmentation_threshold: float = 0.7) -> SelfTestResult:
    """Run and check the self-test on `net` (a loaded BodyPix); failures are returned, not raised."""
    started = time.perf_counter()
    try:
        inference = start(net)
    except SelfTestError:
        raise
    except Exception as exc:  # noqa: BLE001 - a network that raises has failed the test
        return inference_failed(exc, started)
    return finish(net, inference, target, margin_px, segmentation_threshold, started)
