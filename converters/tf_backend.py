"""A `Backend` running a TensorFlow function directly: the float reference of a tfjs checkpoint."""

from __future__ import annotations

from typing import Iterable, Optional, Tuple

import numpy as np

from edge_bodypix.backends.base import Backend, RawOutputs


class TensorFlowBackend(Backend):
    """Runs `function(image) -> {role: NHWC tensor}` eagerly (slow; for fidelity reports)."""

    def __init__(self, function, path: str):
        self.function = function
        self.path = path
        self.input_dtype = np.dtype(np.float32)
        self.input_quantisation = (0.0, 0)
        self.description = "tensorflow (float reference)"
        self._input_size: Tuple[int, int] = (0, 0)
        probe = function(np.zeros((1, 33, 33, 3), np.float32))
        self.roles = tuple(probe)

    @property
    def resizable(self) -> bool:
        return True

    @property
    def input_size(self) -> Tuple[int, int]:
        return self._input_size

    def grid_size(self, input_size: Tuple[int, int]) -> Tuple[int, int]:
        return self.probe_grid_size(input_size)

    def run(self, input_tensor: np.ndarray, roles: Optional[Iterable[str]] = None) -> RawOutputs:
        self._input_size = (int(input_tensor.shape[0]), int(input_tensor.shape[1]))
        outputs = self.function(input_tensor[np.newaxis].astype(np.float32))
        wanted = list(roles) if roles is not None else list(self.roles)
        return {role: outputs[role].numpy()[0] for role in wanted}
