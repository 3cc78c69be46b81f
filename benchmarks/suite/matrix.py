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
    """Every installed catalogue model (downloaded and converted) on each registered backend that runs it here.

    A backend decides what it runs (`BackendSpec.runs`: TFLite CPU models, and
    Edge TPU builds only with an accelerator attached; ONNX exports on
    onnxruntime); one whose library is missing is left out.
    """
    from edge_bodypix.backends import backend_spec, backend_specs
    from edge_bodypix.models import load_catalogue, locate

    if models:
        return [Variant(m, m, "auto") for m in models]
    specs = [backend_spec(name) for name in backends] if backends else list(backend_specs())
    specs = [spec for spec in specs if spec.available()]
    variants: List[Variant] = []
    for entry in load_catalogue():
        if locate(entry) is None:
            continue
        spec = next((spec for spec in specs if spec.runs(entry)), None)
        if spec is not None:
            variants.append(Variant(entry.name, entry.name, spec.name))
    if quick:  # the default model and one model of each other backend at most
        default = load_catalogue().default().name
        chosen = [v for v in variants if v.model == default]
        for spec in specs:
            if spec.name not in {v.backend for v in chosen}:
                chosen += [v for v in variants if v.backend == spec.name][:1]
        return chosen
    return variants
