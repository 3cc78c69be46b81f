"""Which models and resolutions to measure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence, Union

#: body-pix's demo input resolutions (model input width), thinned.
BODYPIX_SIZES = (161, 257, 353, 481, 641, 801)
NAMED = ("low", "medium", "high", "full")
FRAME = (480, 640)


@dataclass(frozen=True)
class Variant:
    """One model to time: its load arguments and a label."""

    label: str
    model: Optional[str]
    backend: str


def internal_resolution_for(size: Union[str, int], frame=FRAME):
    """A named resolution as is; a model input width as the fraction of the frame width giving it."""
    if isinstance(size, str) and size in NAMED:
        return size
    value = int(size)
    return min(max((value - 1) / frame[1], 0.1), 2.0)


def parse_resolutions(values: Optional[Sequence[str]], quick: bool) -> List[Union[str, int]]:
    if values:
        return [v if v in NAMED else int(v) for v in values]
    return ["medium", 257] if quick else list(NAMED) + [s for s in BODYPIX_SIZES]


def discover(models: Optional[Sequence[str]], backends: Optional[Sequence[str]], quick: bool) -> List[Variant]:
    """Installed TFLite CPU models (catalogue and converted) and, with onnxruntime, the ONNX exports."""
    from edge_bodypix.models import load_catalogue, locate

    from .device import edgetpu_present

    wanted_backends = list(backends or ["tflite", "onnxruntime"])
    if models:
        return [Variant(m, m, "auto") for m in models]
    tpu = edgetpu_present()
    has_tpu = tpu["library"] and (tpu["pcie"] or tpu["usb"])
    variants: List[Variant] = []
    for spec in load_catalogue():
        if locate(spec) is None:
            continue
        if spec.runs_on_cpu and "tflite" in wanted_backends:
            variants.append(Variant(spec.name, spec.name, "tflite"))
        elif spec.runtime == "edgetpu" and has_tpu and "tflite" in wanted_backends:
            variants.append(Variant(spec.name, spec.name, "tflite"))  # Edge TPU rows only with a TPU attached
        elif spec.format == "onnx" and "onnxruntime" in wanted_backends:
            try:
                import onnxruntime  # noqa: F401
            except ImportError:
                continue
            variants.append(Variant(spec.name, spec.name, "onnxruntime"))
    if quick:  # the default model and one ONNX export at most
        default = load_catalogue().default().name
        chosen = [v for v in variants if v.model == default]
        chosen += [v for v in variants if v.backend == "onnxruntime"][:1]
        return chosen or variants[:1]
    return variants
