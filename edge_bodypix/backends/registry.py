"""The inference backends by name: what each runs and how to build it. One registration per backend.

The loader's choice ("auto"), the command-line choices, the daemon's config
validation and the benchmark suite all read this table, so a new backend (a
Hailo or TensorRT runner, or a stand-in in a test) is one folder plus one
`register` call. The backends this package ships register in `backends/__init__.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Tuple

from ..errors import BackendUnavailableError, InvalidParameterError
from .base import Backend

AUTO = "auto"


@dataclass(frozen=True)
class BuildOptions:
    """What `load` passes every backend's `build` (each uses what applies to it)."""

    num_threads: int
    output_names: Optional[Dict[str, str]] = None  # role -> output name, from the catalogue or a .meta.json
    cpu_twin: Optional[str] = None  # an Edge TPU model's CPU build, for the error when no TPU is there
    edgetpu_device: Optional[str] = None
    onnx_providers: Optional[Tuple[str, ...]] = None  # None: the onnxruntime backend's own preference
    onnx_cache_dir: Optional[str] = None


def _no_library() -> str:
    raise BackendUnavailableError("this backend does not say what it runs on")


@dataclass(frozen=True)
class BackendSpec:
    """A backend, as the loader, the command line, the daemon and the benchmarks see it.

    - `name`, and the model files it runs (`suffixes`);
    - `model_format`, `runtime`: how `models.resolve` finds its catalogue entries;
    - `build(path, options)`: the loaded `Backend` (whose `resizable` says whether
      the model takes any input size or a fixed one, as Edge TPU builds do);
    - `gpu()`: whether "auto" should prefer it when no model is named (an accelerator is here);
    - `describe()`: its library, version and devices, for reports; raises when the
      library is missing (`available` is False then);
    - `runs(entry)`: whether a catalogue entry can run on it here (the benchmark matrix).

    Importing the module that defines a spec must not import the backend's library.
    """

    name: str
    suffixes: Tuple[str, ...]
    build: Callable[[str, BuildOptions], Backend]
    model_format: str = "tflite"
    runtime: str = "cpu"
    gpu: Callable[[], bool] = lambda: False
    describe: Callable[[], str] = _no_library
    runs: Callable[[Any], bool] = lambda entry: False

    def available(self) -> bool:
        """Whether its library is installed (`describe` succeeds)."""
        return self.status()[0]

    def status(self) -> Tuple[bool, str]:
        """(available, `describe()` or why not), never raising: for device reports."""
        try:
            return True, self.describe()
        except Exception as exc:  # noqa: BLE001 - a missing or broken library is a report line
            return False, f"unavailable ({exc})"


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


def backend_specs() -> Tuple[BackendSpec, ...]:
    """Every registered backend, in registration order."""
    return tuple(_SPECS.values())


def suffixes() -> Tuple[str, ...]:
    return tuple(s for spec in _SPECS.values() for s in spec.suffixes)
