"""The TFLite backend: LiteRT / tflite-runtime on the CPU (XNNPACK) or a Coral Edge TPU.

Its hardware layer lives here too: the interpreter library (`interpreter_library`),
the Edge TPU delegate and accelerator probe (`edgetpu`) and the flatbuffer
vetting that runs before a file reaches the interpreter (`flatbuffer`).
Importing this package loads none of them; `SPEC.build` does.
"""

from __future__ import annotations

from ..registry import BackendSpec, BuildOptions
from .edgetpu import edgetpu_attached


def _build(path: str, options: BuildOptions):
    from .backend import TFLiteBackend

    return TFLiteBackend(path, num_threads=options.num_threads, output_names=options.output_names,
                         edgetpu_device=options.edgetpu_device, cpu_twin=options.cpu_twin)


def _describe() -> str:
    from .interpreter_library import interpreter_library

    library = interpreter_library()
    tpu = "an Edge TPU attached" if edgetpu_attached() else "no Edge TPU attached"
    return f"{library.name} {library.version}; {tpu}"


def _runs(entry) -> bool:
    """CPU models always; Edge TPU builds only with an accelerator attached."""
    return entry.format == "tflite" and (entry.runtime == "cpu" or (entry.runtime == "edgetpu" and edgetpu_attached()))


SPEC = BackendSpec("tflite", (".tflite",), _build, describe=_describe, runs=_runs)
