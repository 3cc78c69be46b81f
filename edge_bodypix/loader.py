"""`load()`: from a model name, path or configuration to a ready `BodyPix`.

Resolves the model (catalogue, store, files), checks its integrity, picks the
inference library ("auto": the file's format, onnxruntime when it has a GPU),
builds the backend, and reads or measures the output stride and architecture.
`bodypix.py` keeps the pipeline itself.
"""

from __future__ import annotations

import logging
import os
from numbers import Integral
from typing import Optional, Sequence

from .backends.base import Backend
from .backends.registry import (
    AUTO, BackendSpec, BuildOptions, backend_names, backend_spec, spec_for_file, suffixes,
)
from .models.catalogue import DEFAULT_ARCHITECTURE, DEFAULT_MULTIPLIER, DEFAULT_OUTPUT_STRIDE
from .bodypix import DEFAULT_INSTANCE_FACTOR, DEFAULT_PART_FACTOR, BodyPix, ModelInfo
from .errors import (
    AcceleratorUnavailableError, EdgeBodyPixError, InvalidParameterError, ModelFormatError, ModelNotFoundError,
)

log = logging.getLogger(__name__)


def _measure_output_stride(backend: Backend, path: str) -> int:
    """Output stride of a model whose metadata does not say, from its grid size."""
    probe = (257, 257) if backend.resizable else backend.input_size
    grid = backend.prepare(probe)
    for stride in (8, 16, 32):
        if grid[0] in ((probe[0] - 1) // stride + 1, -(-probe[0] // stride), probe[0] // stride + 1):
            return stride
    raise ModelFormatError(f"{path}: output grid {grid} for input {probe} matches no BodyPix output stride")


DEVICES = ("auto", "cpu", "edgetpu")


def _choose_backend(backend: str, model, architecture, multiplier, output_stride, quant_bytes,
                    models_dir) -> BackendSpec:
    """"auto": the backend of the model file's format if given; else the first backend with an
    accelerator here (onnxruntime with CUDA/TensorRT) that has a model of the configuration; else TFLite."""
    from .models import resolve

    if backend != AUTO:
        return backend_spec(backend)
    default = backend_spec(backend_names(auto=False)[0])
    if model is not None:
        try:
            path = resolve(model, dirs=models_dir).path
        except EdgeBodyPixError:
            return default  # let the default backend's path report the problem
        return spec_for_file(path) or default
    for name in backend_names(auto=False):
        spec = backend_spec(name)
        if spec is default or not spec.gpu():
            continue
        try:
            resolve(None, architecture, multiplier, output_stride, quant_bytes, dirs=models_dir,
                    format=spec.model_format, runtime=spec.runtime)
            return spec
        except EdgeBodyPixError:
            log.info("%s has an accelerator here but no model for this configuration; using %s", name, default.name)
    return default


def load(
    architecture: str = DEFAULT_ARCHITECTURE,
    output_stride: int = DEFAULT_OUTPUT_STRIDE,
    multiplier: float = DEFAULT_MULTIPLIER,
    quant_bytes: Optional[int] = None,
    model: Optional[str] = None,
    num_threads: Optional[int] = None,
    models_dir: Optional[Sequence[str]] = None,
    edgetpu_device: Optional[str] = None,
    part_factor: int = DEFAULT_PART_FACTOR,
    instance_factor: int = DEFAULT_INSTANCE_FACTOR,
    blas_threads: Optional[int] = 1,
    backend: str = "tflite",
    onnx_providers: Optional[Sequence[str]] = None,
    onnx_cache_dir: Optional[str] = None,
    verify: bool = True,
    require_checksum: bool = False,
) -> BodyPix:
    """Load a BodyPix model (body-pix `load`).

    `model` is a file path or catalogue name; without it the catalogue's best
    installed model for (architecture, output_stride, multiplier, quant_bytes)
    is used. `quant_bytes` counts bytes per weight as in body-pix: 4 float32,
    2 float16, 1 integer (uint8/int8); None takes the catalogue's default (the
    Coral uint8 model for MobileNetV1 0.75 stride 16), then integer models
    first. `num_threads` defaults to all CPU cores. Edge TPU models
    (`*_edgetpu.tflite`) run through libedgetpu; `edgetpu_device` picks one
    (":0", "usb:0", "pci:0"). `blas_threads` sets numpy's BLAS threads for the
    whole process (see `blas_threads`; None leaves them alone).

    `backend`: "tflite" (LiteRT / tflite-runtime), "onnxruntime" (ONNX models;
    execution providers tried in `onnx_providers` order (default TensorRT, CUDA, CPU), TensorRT engines
    cached in `onnx_cache_dir`) or "auto" (the model file's own format; with no
    model, onnxruntime when it reports CUDA or TensorRT and an ONNX model of
    the configuration is installed, else TFLite).

    With `verify` (the default) the file's sha256 must match its catalogue
    entry or the one its converter recorded (`ModelIntegrityError` otherwise,
    naming the command that restores it); `verify=False` is for development.
    `require_checksum` also refuses a model with no known hash (the daemon's choice).
    """
    from .models import check_integrity, resolve
    from .blas_threads import limit_blas_threads

    if backend != AUTO:
        backend_spec(backend)  # a named error for an unknown backend, before anything is resolved
    threads = num_threads if num_threads is not None else (os.cpu_count() or 1)
    if isinstance(threads, bool) or not isinstance(threads, Integral) or threads < 1:
        raise InvalidParameterError(f"num_threads {num_threads!r} must be a whole number >= 1")
    spec = _choose_backend(backend, model, architecture, multiplier, output_stride, quant_bytes, models_dir)
    limit_blas_threads(blas_threads)
    resolved = resolve(model, architecture, multiplier, output_stride, quant_bytes, dirs=models_dir,
                       format=spec.model_format, runtime=spec.runtime)
    if verify:
        check_integrity(resolved, require=require_checksum)
    suffix = resolved.path.suffix.lower()
    if suffix not in spec.suffixes:
        other = spec_for_file(resolved.path)
        if other is None:
            raise InvalidParameterError(
                f"model {str(resolved.path)!r} is not a model file: give a catalogue name (edge-bodypix models "
                f"list) or a file of a backend's format ({', '.join(suffixes())})")
        raise ModelFormatError(
            f"{resolved.path}: the {spec.name} backend runs {', '.join(spec.suffixes)} models; "
            f"use backend='{other.name}' for {suffix} models")
    runner: Backend = spec.build(str(resolved.path), BuildOptions(
        num_threads=int(threads), output_names=resolved.describe("outputs") or None,
        cpu_twin=resolved.describe("cpu_twin"), edgetpu_device=edgetpu_device,
        onnx_providers=tuple(onnx_providers) if onnx_providers is not None else None, onnx_cache_dir=onnx_cache_dir))
    stride = resolved.describe("output_stride")
    if stride is None:
        stride = _measure_output_stride(runner, str(resolved.path))
    arch = resolved.describe("architecture", architecture)
    if model is not None and resolved.spec is None and not resolved.metadata:
        arch = _architecture_from_name(resolved.path.name, architecture)
    default_norm = "resnet50" if arch == "ResNet50" else "mobilenet"
    info = ModelInfo(
        name=resolved.name,
        path=str(resolved.path),
        architecture=arch,
        multiplier=float(resolved.describe("multiplier", multiplier if arch != "ResNet50" else 1.0)),
        output_stride=int(stride),
        quantisation=str(resolved.describe("quantisation", str(runner.input_dtype))),
        normalisation=resolved.describe("normalisation", default_norm),
        backend=runner.description,
    )
    return BodyPix(runner, info, part_factor=part_factor, instance_factor=instance_factor)


def _architecture_from_name(filename: str, fallback: str) -> str:
    lowered = filename.lower()
    if "resnet" in lowered:
        return "ResNet50"
    if "mobilenet" in lowered:
        return "MobileNetV1"
    return fallback


def load_on_device(device: str = "auto", model: Optional[str] = None, edgetpu_required: bool = False,
                   **options) -> BodyPix:
    """`load` with a device policy: the daemon's, for anyone who wants the same.

    `device="edgetpu"` loads the catalogue's Edge TPU build of `model` (or of
    the default); when an Edge TPU model finds no accelerator it falls back to
    its CPU twin with a warning, unless `edgetpu_required`. "auto" and "cpu"
    load `model` as named.
    """
    from .models import load_catalogue

    if device not in DEVICES:
        raise InvalidParameterError(f"device {device!r} is not one of {', '.join(DEVICES)}")
    catalogue = load_catalogue()
    name = model
    if device == "edgetpu" and (name is None or "edgetpu" not in name):
        base = name or catalogue.default().name
        twins = [entry.name for entry in catalogue if entry.cpu_twin == base]
        if not twins:
            raise ModelNotFoundError(f"device 'edgetpu', but the catalogue has no Edge TPU build of {base}")
        name = twins[0]
    try:
        return load(model=name, **options)
    except AcceleratorUnavailableError as exc:
        if edgetpu_required:
            raise
        spec = catalogue.by_filename(os.path.basename(name)) if name else None
        twin = spec.cpu_twin if spec and spec.cpu_twin else (name or "").replace("_edgetpu", "")
        log.warning("Edge TPU unavailable (%s); falling back to the CPU model %s", exc, twin)
        return load(model=twin or None, **options)
