"""The interface every inference backend implements."""

from __future__ import annotations

import abc
from typing import Dict, Iterable, Optional, Tuple

import numpy as np

RawOutputs = Dict[str, np.ndarray]


class Backend(abc.ABC):
    """Runs one BodyPix network on NHWC input and returns float32 (h, w, c) outputs by role."""

    #: Name of the library and device, e.g. "ai_edge_litert 2.3.0 (CPU)".
    description: str = ""
    #: Input dtype and (scale, zero point); (0.0, 0) for float inputs.
    input_dtype: np.dtype
    input_quantisation: Tuple[float, int]
    #: Roles this backend's model provides.
    roles: Tuple[str, ...]

    @property
    def accelerator(self) -> str:
        """What runs the network, for people: "CPU", "Edge TPU", "CUDA", "TensorRT"."""
        return "CPU"

    @property
    @abc.abstractmethod
    def resizable(self) -> bool:
        """False when the input size is fixed (Edge TPU models)."""

    @property
    @abc.abstractmethod
    def input_size(self) -> Tuple[int, int]:
        """Current input (height, width)."""

    @abc.abstractmethod
    def prepare(self, input_size: Tuple[int, int]) -> Tuple[int, int]:
        """Make the model ready for inputs of this (height, width), resizing it if needed; its output grid size."""

    @abc.abstractmethod
    def run(self, input_tensor: np.ndarray, roles: Optional[Iterable[str]] = None) -> RawOutputs:
        """Run on one HxWx3 input tensor (already normalised and quantised); dequantised outputs."""

    def probe_grid_size(self, input_size: Tuple[int, int]) -> Tuple[int, int]:
        """Grid size found by running once on zeros (for models whose shapes are known only at run time)."""
        zeros = np.zeros((input_size[0], input_size[1], 3), dtype=self.input_dtype)
        segments = self.run(zeros, ("segments",))["segments"]
        return int(segments.shape[0]), int(segments.shape[1])


class DynamicShapeBackend(Backend):
    """A float-input model of any input size whose output shapes are known only at run time.

    Subclasses call `super().__init__()` and record each run's input size with
    `_ran_on`; the grid for a size is found by one probe run and remembered.
    """

    def __init__(self) -> None:
        self.input_dtype = np.dtype(np.float32)
        self.input_quantisation = (0.0, 0)
        self._input_size: Tuple[int, int] = (0, 0)
        self._grid_sizes: Dict[Tuple[int, int], Tuple[int, int]] = {}

    @property
    def resizable(self) -> bool:
        return True

    @property
    def input_size(self) -> Tuple[int, int]:
        return self._input_size

    def prepare(self, input_size: Tuple[int, int]) -> Tuple[int, int]:
        if input_size not in self._grid_sizes:
            self._grid_sizes[input_size] = self.probe_grid_size(input_size)
        return self._grid_sizes[input_size]

    def _ran_on(self, input_tensor: np.ndarray) -> None:
        self._input_size = (int(input_tensor.shape[0]), int(input_tensor.shape[1]))

