"""Overlap one frame's inference with the previous frame's post-processing (two threads, one network).

As pycoral keeps its `PipelinedModelRunner` apart from the model code, the
split-phase use of `BodyPix` lives here: `submit` starts a frame's
pre-processing and inference on a worker thread and returns at once;
`finish` waits for it and post-processes on the caller's thread. The network
is only ever used by the worker (TFLite interpreters are not thread-safe),
and each frame carries its own timings. With `threaded=False` every
`submit` runs in turn on the caller's thread, with identical results.
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Iterable, Optional, TypeVar, Union

import numpy as np

from .adapters.geometry import InternalResolution
from .bodypix import BodyPix, Inference, Timings
from .options import DEFAULT_OPTIONS, SegmentationOptions
from .results import PartSegmentation, PersonSegmentation

T = TypeVar("T")


@dataclass(frozen=True)
class FrameResult:
    """A finished frame: its segmentation and how long each stage took for this frame."""

    segmentation: Union[PersonSegmentation, PartSegmentation]
    timings: Timings


class PendingFrame:
    """A submitted frame whose inference may still be running; `FrameRunner.finish` collects it."""

    def __init__(self, future: "Future[Inference]"):
        self._future = future

    def done(self) -> bool:
        return self._future.done()

    def inference(self) -> Inference:
        """Wait for the network's outputs; raises what pre-processing or inference raised."""
        return self._future.result()


def _completed(function: Callable[..., T], *args) -> "Future[T]":
    """`function(*args)` run now, as a finished future (its exception kept for the caller)."""
    future: "Future[T]" = Future()
    try:
        future.set_result(function(*args))
    except Exception as exc:  # noqa: BLE001 - delivered by result(), like a worker thread's
        future.set_exception(exc)
    return future


class FrameRunner:
    """Runs `net`'s inference on one worker thread (or inline) and post-processing on the caller's."""

    def __init__(self, net: BodyPix, threaded: bool = True):
        self.net = net
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="inference") if threaded else None

    @property
    def threaded(self) -> bool:
        return self._executor is not None

    def call(self, function: Callable[..., T], *args) -> "Future[T]":
        """Run `function(*args)` where the network runs (the worker thread), for work that uses the network."""
        if self._executor is None:
            return _completed(function, *args)
        return self._executor.submit(function, *args)

    def submit(self, image: np.ndarray, internal_resolution: InternalResolution = "medium",
               roles: Optional[Iterable[str]] = None) -> PendingFrame:
        """Start pre-processing and inference of an RGB frame (`BodyPix.infer`)."""
        roles = tuple(roles) if roles is not None else None
        return PendingFrame(self.call(self.net.infer, image, internal_resolution, roles))

    def finish(self, pending: PendingFrame, parts: bool = False,
               options: SegmentationOptions = DEFAULT_OPTIONS) -> FrameResult:
        """Wait for a submitted frame and post-process it (`BodyPix.postprocess`); raises what either raised."""
        inference = pending.inference()
        started = time.perf_counter()
        segmentation = self.net.postprocess(inference, parts, options)
        return FrameResult(segmentation, inference.timings((time.perf_counter() - started) * 1e3))

    def close(self) -> None:
        """Let submitted work finish and stop the worker thread."""
        if self._executor is not None:
            self._executor.shutdown(wait=True)

    def __enter__(self) -> "FrameRunner":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
