"""One stream's per-frame protection: segmentation, privacy region, temporal and border guards. Fail closed.

Shared by the live daemon (`service.Service`) and the batch job (`batch`):
no frame leaves without protection: a failed inference, a mask older than
`model.max_mask_age_s`, a corrupt frame or a failing effect all yield a fully
protected (black) frame, counted in the metrics and logged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..pipelining import FrameRunner, PendingFrame
from ..privacy import TemporalGuard, default_margin, protect, protected_region
from ..privacy.entry import EntryGuard
from ..privacy.guard import GuardDecision
from ..privacy.protection import protect_everything
from .config import Config
from .metrics import Metrics
from .outputs.base import ProcessedFrame
from .selftest import SelfTestSchedule
from .sources.base import Frame

log = logging.getLogger("edge_bodypix.daemon")


@dataclass
class _Result:
    region: Optional[np.ndarray]
    time: Optional[float]
    persons: int


@dataclass
class StartedFrame:
    """A frame whose inference may still be running on the runner's worker thread."""

    frame: Frame
    inference: Optional[PendingFrame]  # None: reuse the latest result
    corrupt: bool = False


class Processor:
    """Segmentation, privacy region and temporal guard for one stream.

    `start` submits a frame to the `runner` (threaded, the previous frame's
    post-processing overlaps its inference); `finish` post-processes, applies
    the guard and protects the frame. `process` does both in turn.
    """

    def __init__(self, runner: FrameRunner, config: Config, metrics: Metrics,
                 selftest: Optional[SelfTestSchedule] = None):
        self.runner = runner
        self.selftest = selftest  # while it has not passed, every frame is fully protected
        self.config = config
        self.metrics = metrics
        effect = config.privacy.protection()
        self.target, self.method = effect.target, effect.method
        self.strength = config.privacy.strength or None
        self.guard = TemporalGuard(config.privacy.hold_frames, config.model.max_mask_age_s)
        # the library's parameters, checked by the library (config validation builds the same object)
        self.options = config.model.options()
        # people walking in at the border lead their segmentation: protect what moves there
        self.entry = EntryGuard() if config.privacy.protect_entering and self.target != "background" else None
        self.latest = _Result(None, None, -1)
        self.frame_shape: Optional[tuple] = None

    @staticmethod
    def _valid(image) -> bool:
        return (isinstance(image, np.ndarray) and image.ndim == 3 and image.shape[2] == 3
                and image.dtype == np.uint8 and image.shape[0] > 1 and image.shape[1] > 1)

    def start(self, frame: Frame) -> StartedFrame:
        if not self._valid(frame.image):
            return StartedFrame(frame, None, corrupt=True)
        shape_changed = self.frame_shape != frame.image.shape[:2]
        due = frame.index % self.config.model.infer_every == 0 or self.latest.region is None or shape_changed
        if not due:
            return StartedFrame(frame, None)
        roles = self.runner.net.person_roles(parts=self.target == "faces", faces=self.target == "persons")
        return StartedFrame(frame, self.runner.submit(frame.image, self.config.model.internal_resolution, roles))

    def _segment(self, frame: Frame, inference: PendingFrame) -> _Result:
        finished = self.runner.finish(inference, self.target == "faces", self.options)
        timings, result = finished.timings, finished.segmentation
        seconds = (timings.preprocess_ms + timings.inference_ms) / 1e3
        self.metrics.observe("inference", seconds)
        self.metrics.set("inference_last_s", round(seconds, 5))
        margin = self.config.privacy.margin_px
        margin = default_margin(frame.image.shape) if margin < 0 else margin
        region = protected_region(result, self.target, margin, shape=frame.image.shape[:2])
        persons = sum(1 for pose in result.all_poses if pose.score >= self.options.score_threshold)
        return _Result(region, frame.timestamp, persons)

    def finish(self, pending: StartedFrame) -> ProcessedFrame:
        frame = pending.frame
        quality = self.config.http.jpeg_quality
        if pending.corrupt:
            message = (f"corrupt frame {frame.index} ({getattr(frame.image, 'shape', type(frame.image).__name__)}); "
                       "emitting a fully protected frame")
            self.metrics.error("frame", message)
            log.error("%s", message)
            shape = self.frame_shape or (480, 640)
            self.metrics.inc("frames_fully_protected")
            return ProcessedFrame(protect_everything(np.zeros(shape + (3,), np.uint8)), frame.timestamp,
                                  frame.index, -1, True, quality)
        image = frame.image
        if self.frame_shape != image.shape[:2]:
            self.frame_shape = image.shape[:2]
            self.latest = _Result(None, None, -1)
            self.guard.reset()
            if self.entry is not None:
                self.entry.reset()
        if pending.inference is not None:
            try:
                self.latest = self._segment(frame, pending.inference)
            except Exception as exc:  # noqa: BLE001 - fail closed on anything
                message = f"segmentation failed on frame {frame.index}: {exc}"
                self.metrics.error("inference", message)
                log.error("%s", message)
                self.latest = _Result(None, None, -1)
        if self.selftest is not None and not self.selftest.ok:  # one guard step per frame either way
            decision = self.guard.fail(self.selftest.reason)
        else:
            decision = self.guard.update(self.latest.region, self.latest.time, now=frame.timestamp)
        entering = self.entry.update(image) if self.entry is not None else None
        if entering is not None and not decision.full:
            decision = GuardDecision(decision.region | entering, False, "moving at the border")
        if decision.full:
            self.metrics.inc("frames_fully_protected")
            log.debug("frame %d fully protected: %s", frame.index, decision.reason)
        protected = protect(image, decision, self.method, self.strength)
        return ProcessedFrame(protected, frame.timestamp, frame.index, self.latest.persons, decision.full, quality)

    def process(self, frame: Frame) -> ProcessedFrame:
        """Start and finish one frame (no overlap)."""
        return self.finish(self.start(frame))
