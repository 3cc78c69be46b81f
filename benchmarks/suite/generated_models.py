"""Timing-only TFLite models with generated weights for combinations without real checkpoints here."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import List, Sequence, Tuple

from .matrix import Variant

MOBILENET_COMBOS = [(m, s) for m in (0.5, 0.75, 1.0) for s in (8, 16, 32)]
RESNET_TOPOLOGY = Path(__file__).resolve().parents[2].parent / "shared" / "models" / "tfjs-topology" / "resnet50-model.json"


def _resnet_function(seed: int = 0):
    """The official ResNet50 topology with weights drawn to its manifest (stride 32)."""
    from edge_bodypix.converters.generated import resnet50_model
    from edge_bodypix.converters.tfjs_graph import build_function

    return build_function(resnet50_model(RESNET_TOPOLOGY, seed))


def tensorflow_available() -> bool:
    """Whether TensorFlow (the convert extra), which builds these models, is installed."""
    return importlib.util.find_spec("tensorflow") is not None


def generated_variants(directory: Path, have: Sequence[Tuple[str, float, int]], quick: bool) -> List[Variant]:
    """Build (once, cached in `directory`) float32 TFLite models for combinations missing from `have`."""
    try:
        import tensorflow  # noqa: F401
    except ImportError:
        return []  # the runner says so (tensorflow_available)
    from edge_bodypix.converters.generated import mobilenet_function
    from edge_bodypix.converters.tflite_export import convert, output_map
    from edge_bodypix.models import converted_name

    combos = [("MobileNetV1", m, s) for m, s in MOBILENET_COMBOS] + [("ResNet50", 1.0, 32)]
    missing = [c for c in combos if c not in set(have)]
    if quick:
        missing = missing[:1]
    directory.mkdir(parents=True, exist_ok=True)
    variants = []
    for architecture, multiplier, stride in missing:
        if architecture == "ResNet50" and not RESNET_TOPOLOGY.is_file():
            continue
        name = converted_name(architecture, multiplier, stride, "float32") + "_generated"
        path = directory / f"{name}.tflite"
        if not path.is_file():
            function = mobilenet_function(multiplier, stride) if architecture == "MobileNetV1" else _resnet_function()
            model = convert(function, "float32")
            path.write_bytes(model)
            (directory / f"{name}.meta.json").write_text(json.dumps({
                "name": name, "architecture": architecture, "multiplier": multiplier, "output_stride": stride,
                "quantisation": "float32 (generated weights)", "generated_weights": True,
                "normalisation": "resnet50" if architecture == "ResNet50" else "mobilenet",
                "outputs": output_map(model)}, indent=1))
        variants.append(Variant(name, str(path), "tflite"))
    return variants
