"""The inference backends by name: what each runs and how to build it. One registration per backend.

The loader's choice ("auto"), the command-line choices, the daemon's config
validation and the benchmark suite all read this table, so a new backend (a
Hailo or TensorRT runner, or a stand-in in a test) is one module plus one
`register` call.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Optional, Tuple

from ..errors import InvalidParameterError
from .base import Backend

AUTO = "auto"


@dataclass(frozen=True)
class BuildOptions:
    """What `load` passes every backend's `build` (each uses what applies to it)."""

    num_threads: int
    output_names: Optional[Dict[str, str]] = None  # role -> output name, from the catalogue or a .meta.json
    cpu_twin: Optional[str] = None  # an Edge TPU model's CPU build, for the error when no TPU is there
    edgetpu_device: Optional[str] = None
    onnx_providers: Tuple[str, ...] = ("tensorrt", "cuda", "cpu")
    onnx_cache_dir: Optional[str] = None


@dataclass(frozen=True)
class BackendSpec:
    """A backend: its `name`, the model files it runs (`suffixes`), how models.resolve finds them
    (`model_format`, `runtime`), `build(path, options)`, and `gpu()`: whether "auto" should prefer it
    when no model is named (it has an accelerator here)."""

    name: str
    suffixes: Tuple[str, ...]
    build: Callable[[str, BuildOptions], Backend]
    model_format: str = "tflite"
    runtime: str = "cpu"
    gpu: Callable[[], bool] = lambda: False


_SPECS: Dict[str, BackendSpec] = {}


def register(spec: BackendSpec) -> BackendSpec:
    """Add (or replace) a backend; returns it."""
    if spec.name == AUTO or not spec.name:
        raise InvalidParameterError(f"a backend cannot be called {spec.name!r}")
    _SPECS[spec.name] = spec
    return spec


def unregister(name: str) -> None:
    """Remove a backend (a test's stand-in, after the test)."""
    _SPECS.pop(name, None)


def backend_names(auto: bool = True) -> Tuple[str, ...]:
    """The registered backends' names, in registration order, and "auto" last."""
    return tuple(_SPECS) + ((AUTO,) if auto else ())


def backend_spec(name: str) -> BackendSpec:
    try:
        return _SPECS[name]
    except KeyError:
        raise InvalidParameterError(f"backend {name!r} is not one of {', '.join(backend_names())}") from None


def spec_for_file(path) -> Optional[BackendSpec]:
    """The first backend that runs files with this suffix, or None."""
    suffix = Path(path).suffix.lower()
    return next((spec for spec in _SPECS.values() if suffix in spec.suffixes), None)


def suffixes() -> Tuple[str, ...]:
    return tuple(s for spec in _SPECS.values() for s in spec.suffixes)


# -- the two backends this package ships ----------------------------------------------------------------
def _build_tflite(path: str, options: BuildOptions) -> Backend:
    from .tflite import TFLiteBackend

    return TFLiteBackend(path, num_threads=options.num_threads, output_names=options.output_names,
                         edgetpu_device=options.edgetpu_device, cpu_twin=options.cpu_twin)


def _build_onnxruntime(path: str, options: BuildOptions) -> Backend:
    from .onnxruntime import OnnxRuntimeBackend

    return OnnxRuntimeBackend(path, num_threads=options.num_threads, output_names=options.output_names,
                              preference=tuple(options.onnx_providers), cache_dir=options.onnx_cache_dir)


def _onnxruntime_has_a_gpu() -> bool:
    """True when onnxruntime is installed and reports TensorRT or CUDA."""
    try:
        from .onnxruntime import PROVIDERS, import_onnxruntime

        available = import_onnxruntime().get_available_providers()
    except Exception:  # noqa: BLE001 - no onnxruntime: not a GPU host for us
        return False
    return PROVIDERS["tensorrt"] in available or PROVIDERS["cuda"] in available


register(BackendSpec("tflite", (".tflite",), _build_tflite))
register(BackendSpec("onnxruntime", (".onnx",), _build_onnxruntime, model_format="onnx", runtime="onnxruntime",
                     gpu=_onnxruntime_has_a_gpu))
