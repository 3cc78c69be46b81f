"""Result dataclasses, the Python shapes of body-pix 2.0's result objects."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Callable, List, Optional, Tuple

import numpy as np


@dataclass(frozen=True)
class Keypoint:
    """One PoseNet keypoint: `part` name, `position` (x, y) in image pixels, `score` in [0, 1]."""

    part: str
    position: Tuple[float, float]
    score: float


@dataclass(frozen=True)
class Pose:
    """A person's 17 keypoints and the pose score (body-pix `Pose`)."""

    keypoints: Tuple[Keypoint, ...]
    score: float

    def to_dict(self) -> dict:
        """body-pix's JSON shape: {score, keypoints: [{part, position: {x, y}, score}]}."""
        return {
            "score": round(self.score, 6),
            "keypoints": [
                {"part": kp.part, "position": {"x": round(kp.position[0], 3), "y": round(kp.position[1], 3)},
                 "score": round(kp.score, 6)}
                for kp in self.keypoints
            ],
        }


class LazyPoses(Sequence):
    """A list of poses decoded on first use, so a caller that only wants the mask never pays for them."""

    def __init__(self, decode: Callable[[], List[Pose]]):
        self._decode: Optional[Callable[[], List[Pose]]] = decode
        self._poses: List[Pose] = []

    def _resolve(self) -> List[Pose]:
        if self._decode is not None:
            self._poses, self._decode = list(self._decode()), None
        return self._poses

    def __getitem__(self, index):
        return self._resolve()[index]

    def __len__(self) -> int:
        return len(self._resolve())

    def __eq__(self, other: object) -> bool:
        return list(self) == list(other) if isinstance(other, (list, Sequence)) else NotImplemented

    def __repr__(self) -> str:
        return "LazyPoses(not decoded yet)" if self._decode is not None else repr(self._poses)


@dataclass
class _Segmentation:
    width: int
    height: int
    data: np.ndarray
    all_poses: List[Pose] = field(default_factory=list)
    pose: Optional[Pose] = None
    #: Not in body-pix: (x, y, radius) discs over faces the person mask missed but the network still
    #: saw (`adapters.segmentation.face_discs`), when the part outputs were read; privacy regions use them.
    face_discs: Tuple[Tuple[float, float, float], ...] = ()

    def person_pixels(self) -> np.ndarray:
        raise NotImplementedError

    @property
    def person_fraction(self) -> float:
        """Share of the image's pixels that belong to a person."""
        return float(np.count_nonzero(self.person_pixels())) / float(self.width * self.height)


@dataclass
class PersonSegmentation(_Segmentation):
    """Person mask (body-pix `SemanticPersonSegmentation` / `PersonSegmentation`).

    `data` is an HxW uint8 array, 1 on person pixels and 0 elsewhere, at the
    size of the input image. `all_poses` holds the poses found in the image;
    `pose` is set on per-person results of multi-person segmentation.
    """

    def person_pixels(self) -> np.ndarray:
        return self.data


@dataclass
class PartSegmentation(_Segmentation):
    """Body-part map (body-pix `SemanticPartSegmentation` / `PartSegmentation`).

    `data` is an HxW int32 array holding part ids 0..23 (see `PART_CHANNELS`)
    on person pixels and -1 elsewhere.
    """

    def person_pixels(self) -> np.ndarray:
        return self.data >= 0
