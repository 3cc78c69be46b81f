"""ONNX Runtime backend: TensorRT or CUDA on a Jetson or GPU host, the CPU anywhere (float reference).

Execution providers are tried in order of preference (TensorRT, CUDA, CPU by
default); those onnxruntime does not report are skipped with a warning, and
the provider the session really uses is logged and shown in the backend's
description, so a slow fallback is never silent.
"""

from __future__ import annotations

import logging
import os
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from ...errors import BackendUnavailableError, ModelFormatError
from ..base import DynamicShapeBackend, RawOutputs
from .graph_fixes import explicit_same_padding, require_onnx_for
from ..roles import OutputSlot, map_output_roles

log = logging.getLogger(__name__)

PROVIDERS = {
    "tensorrt": "TensorrtExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "cpu": "CPUExecutionProvider",
}
DEFAULT_PREFERENCE = ("tensorrt", "cuda", "cpu")


def import_onnxruntime():
    try:
        import onnxruntime
    except ImportError as exc:
        raise BackendUnavailableError(
            "the onnxruntime backend needs onnxruntime: pip install 'edge-bodypix[onnx]' "
            "(on a Jetson, the onnxruntime-gpu wheel for your JetPack)") from exc
    return onnxruntime


def choose_providers(
    available: Sequence[str], preference: Sequence[str] = DEFAULT_PREFERENCE,
    cache_dir: Optional[str] = None, fp16: bool = True,
) -> List[Tuple[str, Dict[str, str]]]:
    """(provider, options) in preference order among those onnxruntime reports; the CPU always last.

    Pure: takes `onnxruntime.get_available_providers()`. TensorRT gets an
    engine cache in `cache_dir` (engines take minutes to build on a Jetson)
    and fp16 when allowed.
    """
    unknown = [name for name in preference if name not in PROVIDERS]
    if unknown:
        raise BackendUnavailableError(
            f"unknown execution provider(s) {', '.join(unknown)}; choose from {', '.join(PROVIDERS)}")
    chosen: List[Tuple[str, Dict[str, str]]] = []
    for name in preference:
        provider = PROVIDERS[name]
        if provider not in available:
            if name != "cpu":  # asked for by name: say so; the default list tries what may be there
                level = logging.WARNING if tuple(preference) != tuple(DEFAULT_PREFERENCE) else logging.DEBUG
                log.log(level, "onnxruntime has no %s here (available: %s); skipping it", provider, ", ".join(available))
            continue
        options: Dict[str, str] = {}
        if name == "tensorrt":
            options["trt_fp16_enable"] = "True" if fp16 else "False"
            if cache_dir:
                options["trt_engine_cache_enable"] = "True"
                options["trt_engine_cache_path"] = cache_dir
        chosen.append((provider, options))
    if not any(provider == PROVIDERS["cpu"] for provider, _ in chosen):
        chosen.append((PROVIDERS["cpu"], {}))  # always have a working fallback
    return chosen


class OnnxRuntimeBackend(DynamicShapeBackend):
    """One BodyPix ONNX model (NHWC float input, dynamic size) in an onnxruntime session."""

    def __init__(
        self, path: str, num_threads: Optional[int] = None, output_names: Optional[Mapping[str, str]] = None,
        preference: Sequence[str] = DEFAULT_PREFERENCE, cache_dir: Optional[str] = None, fp16: bool = True,
    ):
        super().__init__()
        ort = import_onnxruntime()
        self.path = os.fspath(path)
        options = ort.SessionOptions()
        options.log_severity_level = 3  # exporters leave initialisers among the inputs: ORT warns per tensor
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if num_threads:
            options.intra_op_num_threads = int(num_threads)
        # no busy-waiting between runs: on a small device the cores belong to the rest of the pipeline
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if cache_dir:
            os.makedirs(cache_dir, exist_ok=True)
        providers = choose_providers(ort.get_available_providers(), preference, cache_dir, fp16)
        model = explicit_same_padding(self.path) or self.path
        try:
            self.session = ort.InferenceSession(model, options, providers=[p for p, _ in providers],
                                                provider_options=[o for _, o in providers])
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception types
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if providers[0][0] != PROVIDERS["cpu"]:
                log.warning("onnxruntime could not start %s (%s); falling back to the CPU", providers[0][0], message)
                try:
                    self.session = ort.InferenceSession(model, options, providers=[PROVIDERS["cpu"]])
                except Exception as cpu_exc:  # noqa: BLE001
                    raise ModelFormatError(f"{self.path}: onnxruntime cannot load this model ({cpu_exc})") from cpu_exc
            else:
                raise ModelFormatError(f"{self.path}: onnxruntime cannot load this model ({message})") from exc
        self.provider = self.session.get_providers()[0]
        if self.provider != providers[0][0]:
            log.warning("onnxruntime uses %s, not the preferred %s", self.provider, providers[0][0])
        log.info("onnxruntime %s runs %s on %s", ort.__version__, os.path.basename(self.path), self.provider)
        inputs = [i for i in self.session.get_inputs() if len(i.shape) == 4]
        if len(inputs) != 1 or inputs[0].shape[3] != 3:
            raise ModelFormatError(f"{self.path}: not a BodyPix model: expects one NHWC RGB input, has "
                                   f"{[list(i.shape) for i in self.session.get_inputs()]}")
        self._input_name = inputs[0].name
        outputs = self.session.get_outputs()
        self._output_names = [o.name for o in outputs]
        self.slots: Dict[str, OutputSlot] = map_output_roles(
            [(o.name, [d if isinstance(d, int) else 1 for d in o.shape]) for o in outputs], output_names, self.path)
        self.roles = tuple(self.slots)
        self.description = f"onnxruntime {ort.__version__} ({self.provider.replace('ExecutionProvider', '')})"

    @property
    def accelerator(self) -> str:
        """The execution provider in use without its suffix: CPU, CUDA, TensorRT."""
        return self.provider.replace("ExecutionProvider", "")

    def probe_grid_size(self, input_size: Tuple[int, int]) -> Tuple[int, int]:
        try:
            return super().probe_grid_size(input_size)
        except Exception as exc:  # noqa: BLE001 - onnxruntime's own exception types
            if "Dilation not supported" in str(exc):
                require_onnx_for(self.path)
            raise ModelFormatError(f"{self.path}: onnxruntime cannot run this model at "
                                   f"{input_size[0]}x{input_size[1]} ({str(exc).splitlines()[0]})") from exc

    def run(self, input_tensor: np.ndarray, roles: Optional[Iterable[str]] = None) -> RawOutputs:
        self._ran_on(input_tensor)
        wanted = list(roles) if roles is not None else list(self.roles)
        indices = sorted({self.slots[role].index for role in wanted})
        values = self.session.run([self._output_names[i] for i in indices],
                                  {self._input_name: input_tensor[np.newaxis].astype(np.float32, copy=False)})
        by_index = dict(zip(indices, values))
        results: RawOutputs = {}
        for role in wanted:
            slot = self.slots[role]
            results[role] = by_index[slot.index][0][:, :, slot.start:slot.stop]
        return results
