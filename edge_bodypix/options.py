"""body-pix's inference parameters with its defaults, checked once: one object for the API, the CLI and the daemon.

`SegmentationOptions` is body-pix's `PersonInferenceConfig` and
`MultiPersonOptions` its `MultiPersonInstanceInferenceConfig` (the defaults
of the body-pix 2.2.1 code). Both are frozen and validated when built, as
body-pix's `validatePersonInferenceConfig` and
`validateMultiPersonInstanceInferenceConfig` do, and also refuse NaN and
infinities, with a named error naming the parameter. The keyword methods of
`BodyPix` build one per call; the daemon and the CLI build one from their
settings.
"""

from __future__ import annotations

from dataclasses import dataclass

from .adapters.geometry import InternalResolution, internal_resolution_fraction
from .checks import check_number
from .errors import InvalidParameterError


@dataclass(frozen=True)
class SegmentationOptions:
    flip_horizontal: bool = False
    internal_resolution: InternalResolution = "medium"
    segmentation_threshold: float = 0.7
    max_detections: int = 10
    score_threshold: float = 0.4
    nms_radius: float = 20.0

    def __post_init__(self) -> None:
        if not isinstance(self.flip_horizontal, bool):
            raise InvalidParameterError(f"flip_horizontal must be True or False, got {self.flip_horizontal!r}")
        internal_resolution_fraction(self.internal_resolution)
        self._set("segmentation_threshold", check_number("segmentation_threshold", self.segmentation_threshold, 0, 1))
        self._set("max_detections", check_number("max_detections", self.max_detections, 1, None, integer=True))
        self._set("score_threshold", check_number("score_threshold", self.score_threshold, 0.0, 1.0))
        self._set("nms_radius", check_number("nms_radius", self.nms_radius, 0, None, low_open=True))

    def _set(self, name: str, value) -> None:
        object.__setattr__(self, name, value)  # the checked value (a float, or an int for counts)


@dataclass(frozen=True)
class MultiPersonOptions(SegmentationOptions):
    min_keypoint_score: float = 0.3
    refine_steps: int = 10

    def __post_init__(self) -> None:
        super().__post_init__()
        self._set("min_keypoint_score", check_number("min_keypoint_score", self.min_keypoint_score, 0.0, 1.0))
        self._set("refine_steps", check_number("refine_steps", self.refine_steps, 1, 20, integer=True))


#: body-pix's defaults (frozen: safe to share).
DEFAULT_OPTIONS = SegmentationOptions()
