"""`edge-bodypix convert`: one checkpoint to one TFLite model, its metadata and its fidelity report."""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence, Tuple

from edge_bodypix.errors import InvalidParameterError, ModelFormatError
from edge_bodypix.models import converted_name, default_fetch_dir, load_catalogue, resolve

from .calibration import collect_images, default_sources, representative_inputs
from .graph_builder import build_function
from .onnx_reader import read_onnx
from .tflite_export import QUANTISATIONS, convert, output_map

log = logging.getLogger(__name__)


@dataclass
class Conversion:
    model_path: Path
    metadata_path: Path
    report_path: Path
    report: dict


def _describe_source(path: Path):
    """(architecture, multiplier, output stride, normalisation) of a source checkpoint."""
    spec = load_catalogue().by_filename(path.name)
    if spec is not None:
        return spec.architecture, spec.multiplier, spec.output_stride, spec.normalisation
    match = re.search(r"x(\d{3}).*stride(\d+)", path.name, re.IGNORECASE)
    if match:
        return "MobileNetV1", int(match.group(1)) / 100, int(match.group(2)), "mobilenet"
    raise InvalidParameterError(f"{path}: cannot tell architecture, multiplier and stride from the name; "
                                "name it like the catalogue (e.g. MobileNetV1-x050-stride16.onnx)")


def convert_checkpoint(
    source: str, quantisation: str, output_dir: Optional[str] = None,
    calibration: Optional[Sequence[str]] = None, test_images: Optional[Sequence[str]] = None,
    input_size: Optional[Tuple[int, int]] = None, per_tensor: bool = False, io_type: str = "uint8",
    samples: int = 100,
) -> Conversion:
    """Convert one ONNX checkpoint (path or catalogue name); write model, metadata and report."""
    import edge_bodypix

    if quantisation not in QUANTISATIONS:
        raise InvalidParameterError(f"--quantize {quantisation!r} is not one of {', '.join(QUANTISATIONS)}")
    path = resolve(source, format="onnx", runtime="onnxruntime").path
    if path.suffix.lower() != ".onnx":
        raise ModelFormatError(f"{path}: the converter reads ONNX exports (.onnx); tfjs checkpoints come later")
    architecture, multiplier, stride, normalisation = _describe_source(path)
    graph = read_onnx(str(path))
    function = build_function(graph)
    sources = list(calibration or default_sources())
    calibration_images = collect_images(sources) if sources else []
    if quantisation == "int8" and not calibration_images:
        raise InvalidParameterError("int8 needs --calibration images or videos")

    def representative():
        return representative_inputs(calibration_images, stride, normalisation, samples, input_size)

    log.info("converting %s to %s", path.name, quantisation)
    model = convert(function, quantisation, representative, io_type, per_tensor, input_size)
    name = converted_name(architecture, multiplier, stride, quantisation, input_size)
    directory = Path(output_dir) if output_dir else default_fetch_dir() / "converted"
    directory.mkdir(parents=True, exist_ok=True)
    model_path = directory / f"{name}.tflite"
    temporary = model_path.with_suffix(".tflite.partial")
    temporary.write_bytes(model)
    os.replace(temporary, model_path)
    metadata = {
        "name": name, "source": str(path), "architecture": architecture, "multiplier": multiplier,
        "output_stride": stride, "quantisation": quantisation, "normalisation": normalisation,
        "input_size": list(input_size) if input_size else None, "per_tensor": per_tensor,
        "io_type": io_type if quantisation == "int8" else "float32",
        "calibration": {"sources": sources, "samples": samples} if quantisation == "int8" else None,
        "outputs": output_map(model),
    }
    metadata_path = directory / f"{name}.meta.json"
    metadata_path.write_text(json.dumps(metadata, indent=1))

    from .fidelity import fidelity_report

    test_sources = list(test_images or sources)
    images = collect_images(test_sources, limit=40) if test_sources else []
    report = {"model": name, "source": str(path), "quantisation": quantisation,
              "test_sources": test_sources,
              "test_images_are_calibration_images": bool(quantisation == "int8" and set(test_sources) & set(sources))}
    if images:
        reference = edge_bodypix.load(model=str(path), backend="onnxruntime")
        converted = edge_bodypix.load(model=str(model_path), backend="tflite")
        names = [f"image {i}" for i in range(len(images))]
        report.update(fidelity_report(reference, converted, images, names))
    report_path = directory / f"{name}.report.json"
    report_path.write_text(json.dumps(report, indent=1))
    return Conversion(model_path, metadata_path, report_path, report)
