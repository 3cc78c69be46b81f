"""A `Backend` running a TensorFlow function directly: the float reference of a tfjs checkpoint."""

from __future__ import annotations

from typing import Iterable, Optional

import numpy as np

from edge_bodypix.backends.base import DynamicShapeBackend, RawOutputs


class TensorFlowBackend(DynamicShapeBackend):
    """Runs `function(image) -> {role: NHWC tensor}` eagerly (slow; for fidelity reports)."""

    def __init__(self, function, path: str):
        super().__init__()
        self.function = function
        self.path = path
        self.description = "tensorflow (float reference)"
        probe = function(np.zeros((1, 33, 33, 3), np.float32))
        self.roles = tuple(probe)

    def run(self, input_tensor: np.ndarray, roles: Optional[Iterable[str]] = None) -> RawOutputs:
        self._ran_on(input_tensor)
        outputs = self.function(input_tensor[np.newaxis].astype(np.float32))
        wanted = list(roles) if roles is not None else list(self.roles)
        return {role: outputs[role].numpy()[0] for role in wanted}
