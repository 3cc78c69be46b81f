"""Find the TFLite interpreter library: LiteRT, then tflite-runtime, then TensorFlow Lite."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Optional

from ...errors import BackendUnavailableError

#: Import order: LiteRT (fast XNNPACK, numpy 2), tflite-runtime (numpy<2), full TensorFlow.
CANDIDATES = (
    ("ai_edge_litert", "ai_edge_litert.interpreter"),
    ("tflite_runtime", "tflite_runtime.interpreter"),
    ("tensorflow", "tensorflow.lite"),
)


@dataclass(frozen=True)
class InterpreterLibrary:
    """The chosen library's `Interpreter` class and `load_delegate` function."""

    name: str
    version: str
    interpreter_class: Callable[..., Any]
    load_delegate: Callable[..., Any]


def _load(package: str, module_name: str) -> Optional[InterpreterLibrary]:
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return None
    if package == "tensorflow":
        interpreter_class = module.Interpreter
        load_delegate = module.experimental.load_delegate
    else:
        interpreter_class = module.Interpreter
        load_delegate = module.load_delegate
    top = importlib.import_module(package)
    version = getattr(top, "__version__", None) or _distribution_version(package)
    return InterpreterLibrary(package, version, interpreter_class, load_delegate)


def _distribution_version(package: str) -> str:
    try:
        from importlib.metadata import version
        return version(package.replace("_", "-"))
    except Exception:  # noqa: BLE001 - a version string is informative only
        return "unknown"


@lru_cache(maxsize=None)
def interpreter_library(preferred: Optional[str] = None) -> InterpreterLibrary:
    """The first importable library in `CANDIDATES` order, or the one named `preferred`."""
    names = [name for name, _ in CANDIDATES]
    if preferred is not None and preferred not in names:
        raise BackendUnavailableError(
            f"interpreter library {preferred!r} is not one of {', '.join(names)}"
        )
    for package, module_name in CANDIDATES:
        if preferred is not None and package != preferred:
            continue
        library = _load(package, module_name)
        if library is not None:
            return library
    wanted = preferred or " or ".join(names)
    raise BackendUnavailableError(
        f"no TFLite interpreter library found (tried {wanted}): "
        "pip install ai-edge-litert (or tflite-runtime on Python 3.9 / 32-bit ARM)"
    )
