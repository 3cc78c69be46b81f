"""The onnxruntime backend: ONNX exports on TensorRT or CUDA (a Jetson, a GPU host) or the CPU.

Importing this package does not import onnxruntime; `SPEC.build` does.
"""

from __future__ import annotations

from ..registry import BackendSpec, BuildOptions


def _build(path: str, options: BuildOptions):
    from .backend import DEFAULT_PREFERENCE, OnnxRuntimeBackend

    return OnnxRuntimeBackend(path, num_threads=options.num_threads, output_names=options.output_names,
                              preference=tuple(options.onnx_providers or DEFAULT_PREFERENCE),
                              cache_dir=options.onnx_cache_dir)


def _providers():
    from .backend import import_onnxruntime

    return import_onnxruntime().get_available_providers()


def _has_a_gpu() -> bool:
    """True when onnxruntime is installed and reports TensorRT or CUDA."""
    from .backend import PROVIDERS

    try:
        available = _providers()
    except Exception:  # noqa: BLE001 - no onnxruntime: not a GPU host for us
        return False
    return PROVIDERS["tensorrt"] in available or PROVIDERS["cuda"] in available


def _describe() -> str:
    import onnxruntime

    return f"onnxruntime {onnxruntime.__version__} ({', '.join(_providers())})"


SPEC = BackendSpec("onnxruntime", (".onnx",), _build, model_format="onnx", runtime="onnxruntime", gpu=_has_a_gpu,
                   describe=_describe, runs=lambda entry: entry.format == "onnx")
