"""TFLite backend: LiteRT / tflite-runtime interpreter, CPU (XNNPACK) or Coral Edge TPU."""

from __future__ import annotations

import os
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple

import numpy as np

from ...errors import ModelFormatError
from ...native_log import native_stderr_to_log
from .edgetpu import EDGETPU_CUSTOM_OP, is_edgetpu_model, load_edgetpu_delegate
from .interpreter_library import interpreter_library
from .flatbuffer import read_tflite_info
from ..base import Backend, RawOutputs
from ..roles import OutputSlot, map_output_roles


def dequantiser(detail: Mapping[str, Any]):
    """Function turning one raw output tensor into float32, using the tensor's own quantisation."""
    dtype = np.dtype(detail["dtype"])
    if dtype.kind == "f":
        return lambda values: values.astype(np.float32, copy=False)
    params = detail.get("quantization_parameters") or {}
    scales = np.asarray(params.get("scales", []), dtype=np.float32)
    zero_points = np.asarray(params.get("zero_points", []), dtype=np.float32)
    if scales.size == 0:
        scale, zero_point = detail.get("quantization", (0.0, 0))
        scales = np.asarray([scale], dtype=np.float32)
        zero_points = np.asarray([zero_point], dtype=np.float32)
    if not np.all(scales > 0):
        raise ModelFormatError(f"output {detail['name']!r} is {dtype} without a quantisation scale")
    if scales.size > 1:  # per-channel: broadcast along the quantised axis
        axis = int(params.get("quantized_dimension", len(detail["shape"]) - 1))
        shape = [1] * len(detail["shape"])
        shape[axis] = scales.size
        scales = scales.reshape(shape)
        zero_points = zero_points.reshape(shape)
    else:
        scales = scales.reshape(())
        zero_points = zero_points.reshape(())

    def dequantise(values: np.ndarray) -> np.ndarray:
        return (values.astype(np.float32) - zero_points) * scales

    return dequantise


class TFLiteBackend(Backend):
    """One TFLite BodyPix model in one interpreter (not thread-safe: one per thread)."""

    def __init__(
        self,
        path: str,
        num_threads: Optional[int] = None,
        output_names: Optional[Mapping[str, str]] = None,
        edgetpu_device: Optional[str] = None,
        cpu_twin: Optional[str] = None,
        library: Optional[str] = None,
    ):
        self.path = os.fspath(path)
        info = read_tflite_info(self.path)
        self.library = interpreter_library(library)
        self.edgetpu = is_edgetpu_model(info.custom_ops)
        other_ops = [op for op in info.custom_ops if op != EDGETPU_CUSTOM_OP]
        if other_ops:
            raise ModelFormatError(
                f"{self.path}: needs the custom op(s) {', '.join(other_ops)}, which stock TFLite "
                "does not provide (Coral's '_decoder' models end in PosenetDecoderOp); "
                "use the model without '_decoder' instead"
            )
        delegates = []
        if self.edgetpu:
            delegates.append(
                load_edgetpu_delegate(self.library.load_delegate, self.path, edgetpu_device, cpu_twin)
            )
        try:
            with native_stderr_to_log():  # LiteRT's "Created ... XNNPACK delegate" line, at DEBUG
                self.interpreter = self.library.interpreter_class(
                    model_path=self.path,
                    num_threads=num_threads,
                    experimental_delegates=delegates or None,
                )
                self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelFormatError(f"{self.path}: the interpreter cannot load this model ({exc})") from exc
        inputs = self.interpreter.get_input_details()
        if len(inputs) != 1 or len(inputs[0]["shape"]) != 4 or inputs[0]["shape"][3] != 3:
            shapes = [list(d["shape"]) for d in inputs]
            raise ModelFormatError(
                f"{self.path}: not a BodyPix model: expects one NHWC RGB input, has {shapes}"
            )
        self._input = inputs[0]
        self.input_dtype = np.dtype(self._input["dtype"])
        self.input_quantisation = tuple(self._input.get("quantization", (0.0, 0)))  # type: ignore[assignment]
        outputs = self.interpreter.get_output_details()
        self.slots: Dict[str, OutputSlot] = map_output_roles(
            [(d["name"], d["shape"]) for d in outputs], output_names, self.path
        )
        self.roles = tuple(self.slots)
        self._output_indices = [d["index"] for d in outputs]
        self._dequantisers = [dequantiser(d) for d in outputs]
        self._input_size = (int(self._input["shape"][1]), int(self._input["shape"][2]))
        device = "Edge TPU" if self.edgetpu else f"CPU, {num_threads or 'default'} threads"
        self.description = f"{self.library.name} {self.library.version} ({device})"

    @property
    def accelerator(self) -> str:
        return "Edge TPU" if self.edgetpu else "CPU"

    @property
    def resizable(self) -> bool:
        return not self.edgetpu

    @property
    def input_size(self) -> Tuple[int, int]:
        return self._input_size

    def _resize(self, input_size: Tuple[int, int]) -> None:
        if input_size == self._input_size:
            return
        if not self.resizable:
            raise ModelFormatError(
                f"{self.path}: Edge TPU models have a fixed input size {self._input_size}, "
                f"cannot resize to {input_size}"
            )
        try:
            self.interpreter.resize_tensor_input(self._input["index"], [1, input_size[0], input_size[1], 3])
            self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelFormatError(
                f"{self.path}: cannot resize the input to {input_size[0]}x{input_size[1]} ({exc})"
            ) from exc
        self._input_size = input_size

    def prepare(self, input_size: Tuple[int, int]) -> Tuple[int, int]:
        self._resize(input_size)
        slot = self.slots["segments"]
        details = self.interpreter.get_output_details()[slot.index]
        if -1 in list(details.get("shape_signature", [])[1:3]):
            # dynamic models (e.g. converted with atrous convolutions) know their shapes only after a run
            return self.probe_grid_size(input_size)
        return int(details["shape"][1]), int(details["shape"][2])

    def run(self, input_tensor: np.ndarray, roles: Optional[Iterable[str]] = None) -> RawOutputs:
        self._resize((input_tensor.shape[0], input_tensor.shape[1]))
        self.interpreter.set_tensor(self._input["index"], input_tensor[np.newaxis])
        self.interpreter.invoke()
        wanted: List[str] = list(roles) if roles is not None else list(self.roles)
        raw: Dict[int, np.ndarray] = {}
        results: RawOutputs = {}
        for role in wanted:
            slot = self.slots[role]
            if slot.index not in raw:
                tensor = self.interpreter.get_tensor(self._output_indices[slot.index])[0]
                raw[slot.index] = self._dequantisers[slot.index](tensor)
            results[role] = raw[slot.index][:, :, slot.start:slot.stop]
        return results
