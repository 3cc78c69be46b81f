"""`edge-bodypix convert`: one checkpoint to one TFLite model, its metadata and its fidelity report."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple

from edge_bodypix.errors import InvalidParameterError, ModelFormatError
from edge_bodypix.models import converted_name, default_fetch_dir, load_catalogue, resolve
from edge_bodypix.models.catalogue import WEIGHTS

from .calibration import collect_images, default_sources, representative_inputs
from .graph_builder import build_function
from .onnx_reader import read_onnx
from .tflite_export import QUANTISATIONS, convert, default_float_layers, input_type, kept_float, output_map
from .weight_rounding import WEIGHT_ROUNDINGS

log = logging.getLogger(__name__)


@dataclass
class Conversion:
    model_path: Path
    metadata_path: Path
    report_path: Path
    report: dict


def _describe_source(path: Path, function=None):
    """(architecture, multiplier, output stride, normalisation) of a source checkpoint.

    From the catalogue entry whose file the path ends with, else from the name
    (MobileNetV1-x050-stride16, .../mobilenet/float/075/model-stride16.json,
    resnet50...), with the stride measured on the graph when the name lacks it.
    """
    text = path.as_posix()
    for spec in load_catalogue():
        if text.endswith(spec.file) or path.name == spec.filename and spec.format == "onnx":
            return spec.architecture, spec.multiplier, spec.output_stride, spec.normalisation
    lowered = text.lower()
    architecture = "ResNet50" if "resnet" in lowered else "MobileNetV1"
    multiplier = 1.0
    match = re.search(r"x(\d{3})|/(\d{3})/", lowered)
    if architecture == "MobileNetV1":
        if not match:
            raise InvalidParameterError(f"{path}: cannot tell the MobileNet multiplier from the path; "
                                        "name it like the catalogue (e.g. MobileNetV1-x050-stride16.onnx)")
        multiplier = int(match.group(1) or match.group(2)) / 100
    stride_match = re.search(r"stride-?(\d+)", lowered)
    if stride_match:
        stride = int(stride_match.group(1))
    elif function is not None:  # measure it: a 257-pixel input gives (256 / stride + 1) cells
        import numpy as np

        cells = int(function(np.zeros((1, 257, 257, 3), np.float32))["segments"].shape[1])
        stride = 256 // (cells - 1)
    else:
        raise InvalidParameterError(f"{path}: cannot tell the output stride from the name")
    return architecture, multiplier, stride, "resnet50" if architecture == "ResNet50" else "mobilenet"


def load_source(source: str):
    """(path, tf.function, float reference network kind, weight dtypes) for an ONNX file, a tfjs graph model
    (model.json or its folder) or a catalogue name of either."""
    candidate = Path(source)
    if not candidate.exists() and candidate.suffix.lower() not in (".json", ".onnx") and "/" not in source:
        candidate = resolve(source, format="onnx", runtime="onnxruntime").path  # a catalogue name
    if candidate.is_dir() or candidate.suffix.lower() == ".json":
        from .tfjs_graph import build_function as build_tfjs
        from .tfjs_reader import read_tfjs

        if not candidate.exists():
            raise ModelFormatError(f"{source} does not exist")
        model = read_tfjs(str(candidate))
        return model.path, build_tfjs(model), "tensorflow", model.quantisation
    path = resolve(str(candidate), format="onnx", runtime="onnxruntime").path
    if path.suffix.lower() != ".onnx":
        raise ModelFormatError(f"{path}: the converter reads ONNX exports (.onnx) and tfjs graph models (model.json)")
    return path, build_function(read_onnx(str(path))), "onnxruntime", {}


def checkpoint_weights(weight_quantisation: Dict[str, str]) -> str:
    """body-pix's name for a checkpoint's weights from their stored dtypes: quant1 (uint8), quant2 (uint16 or
    float16), else float; a checkpoint mixing them is named by its coarsest."""
    kinds = set(weight_quantisation.values())
    if "uint8" in kinds:
        return "quant1"
    if kinds & {"uint16", "float16"}:
        return "quant2"
    return "float"


def convert_checkpoint(
    source: str, quantisation: str, output_dir: Optional[str] = None,
    calibration: Optional[Sequence[str]] = None, test_images: Optional[Sequence[str]] = None,
    input_size: Optional[Tuple[int, int]] = None, per_tensor: bool = False, io_type: str = "uint8",
    samples: int = 100, edgetpu: bool = False, float_layers: Optional[Sequence[str]] = None,
    weight_rounding: str = "gptq-twin",
) -> Conversion:
    """Convert one checkpoint (tfjs model.json, ONNX path or catalogue name); write model, metadata and report.

    int8 keeps `float_layers` in float (default `default_float_layers(stride)`; () or an Edge TPU build:
    full integer). int8 weights of tfjs checkpoints are rounded by GPTQ fitted on the int8 twin's layer inputs
    (`weight_rounding`: "gptq" fits on the float graph's, "nearest" keeps TFLite's own rounding; see
    `weight_rounding.py`, `int8_twin.py`), and channels a quant1 checkpoint's own grid holds exactly are put
    on it (`checkpoint_grid.py`). Without `test_images`, every 5th calibration image is
    held out for the report and never calibrated on, so its figures are measured on images the calibration
    did not see."""
    import edge_bodypix

    if quantisation not in QUANTISATIONS:
        raise InvalidParameterError(f"--quantize {quantisation!r} is not one of {', '.join(QUANTISATIONS)}")
    if weight_rounding not in WEIGHT_ROUNDINGS:
        raise InvalidParameterError(f"--weight-rounding {weight_rounding!r} is not one of {', '.join(WEIGHT_ROUNDINGS)}")
    if edgetpu and (quantisation != "int8" or input_size is None):
        raise InvalidParameterError("--edgetpu needs --quantize int8 and a fixed --input-size HxW "
                                    "(the Edge TPU runs full-integer models of static shape)")
    path, function, reference_kind, weight_quantisation = load_source(source)
    architecture, multiplier, stride, normalisation = _describe_source(path, function)
    sources = list(calibration or default_sources())
    calibration_images = collect_images(sources) if sources else []
    held_out: list = []
    if test_images is None and len(calibration_images) >= 5:
        held_out = calibration_images[::5]
        calibration_images = [image for i, image in enumerate(calibration_images) if i % 5]
    if quantisation == "int8" and not calibration_images:
        raise InvalidParameterError("int8 needs --calibration images or videos")
    if float_layers is None:
        float_layers = () if edgetpu else default_float_layers(stride)
    if edgetpu and float_layers:
        raise InvalidParameterError("--edgetpu needs a full-integer model: no --float-layers")

    def representative():
        return representative_inputs(calibration_images, stride, normalisation, samples, input_size)

    int8_layers = float_layers if quantisation == "int8" else ()
    grid = []  # convolutions whose uint8 checkpoint grid int8 can hold exactly (`checkpoint_grid`)
    if quantisation == "int8" and reference_kind == "tensorflow" and not per_tensor:
        from .checkpoint_grid import grid_layers
        from .tfjs_reader import read_tfjs

        grid = [layer for layer in grid_layers(read_tfjs(str(path)))
                if not kept_float(layer.name, int8_layers)]  # float layers keep their weights

    def converted(network):
        """(`network` converted, what was done to it after conversion): int8 channels the checkpoint's grid holds
        exactly are put on it (`checkpoint_grid`), the person logits' range trimmed (`output_range`)."""
        model = convert(network, quantisation, representative, io_type, per_tensor, input_size,
                        float_layers=int8_layers)
        done = {"checkpoint_grid": None, "segment_output_range": None}
        if grid:
            from .checkpoint_grid import place_on_grid

            model, placement = place_on_grid(model, grid)
            done["checkpoint_grid"] = placement.as_dict()
        if quantisation == "int8":
            from .output_range import trim_output_range

            model, trimmed = trim_output_range(model)
            done["segment_output_range"] = trimmed or None
        return model, done

    rounding = None
    if quantisation == "int8":
        rounding = weight_rounding if weight_rounding != "nearest" and reference_kind == "tensorflow" \
            and not per_tensor else "nearest"
    log.info("converting %s to %s", path.name, quantisation)
    reference = None
    inputs_used: Optional[str] = None  # what GPTQ was fitted on: "int8 twin" or "float"
    if rounding in ("gptq", "gptq-twin"):
        rounded, inputs_used = _gptq_rounded(
            path, representative_inputs(calibration_images, stride, normalisation, ROUNDING_SAMPLES, input_size,
                                        seed=1),
            representative(), float_layers, twin=rounding == "gptq-twin")
        model, after = converted(rounded)
    else:
        model, after = converted(function)
    weights = checkpoint_weights(weight_quantisation)
    name = converted_name(architecture, multiplier, stride, quantisation, input_size, weights=weights)
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
        "io_type": input_type(model),  # int8 with float layers keeps float32 input and outputs
        "calibration": {"sources": sources, "samples": samples, "images": len(calibration_images),
                        "held_out_for_testing": len(held_out)} if quantisation == "int8" else None,
        "float_layers": list(float_layers) if quantisation == "int8" else [],
        "weight_rounding": rounding,
        "gptq_inputs": inputs_used,
        **after,
        "source_weight_quantisation": sorted(set(weight_quantisation.values())) or ["float32"],
        "weights": weights,
        "outputs": output_map(model),
        "sha256": hashlib.sha256(model).hexdigest(),  # checked by load() before every use
    }
    metadata_path = directory / f"{name}.meta.json"
    metadata_path.write_text(json.dumps(metadata, indent=1))

    from .fidelity import fidelity_report

    if held_out:
        test_sources = [f"every 5th image of the calibration sources, held out ({len(held_out)})"]
        images = held_out[:40]
    else:
        test_sources = list(test_images or sources)
        images = collect_images(test_sources, limit=40) if test_sources else []
    report = {"model": name, "source": str(path), "quantisation": quantisation,
              "source_weight_quantisation": metadata["source_weight_quantisation"],
              "reference": "onnxruntime (CPU)" if reference_kind == "onnxruntime" else "tensorflow (the tfjs graph)",
              "test_sources": test_sources,
              "float_layers": metadata["float_layers"],
              "weight_rounding": rounding,
              "gptq_inputs": metadata["gptq_inputs"],
              **after,
              "test_images_are_calibration_images": bool(quantisation == "int8" and not held_out
                                                         and set(test_sources) & set(sources))}
    if images:
        if reference is None:
            reference = _reference_network(path, function, reference_kind, architecture, multiplier, stride,
                                           normalisation)
        converted = edge_bodypix.load(model=str(model_path), backend="tflite")
        names = [f"image {i}" for i in range(len(images))]
        report.update(fidelity_report(reference, converted, images, names))
    if edgetpu:
        from dataclasses import asdict

        from .edgetpu_compile import compile_for_edgetpu

        compiled = compile_for_edgetpu(model_path, directory)
        report["edgetpu"] = asdict(compiled)
        if not compiled.compiled:
            log.warning("%s", compiled.message)
    report_path = directory / f"{name}.report.json"
    report_path.write_text(json.dumps(report, indent=1))
    return Conversion(model_path, metadata_path, report_path, report)


ROUNDING_SAMPLES = 32  # calibration inputs on which GPTQ fits and rounds each layer


def _gptq_rounded(path: Path, inputs, calibration, float_layers: Sequence[str], twin: bool = True):
    """(the tfjs graph at `path` with the weights of every convolution not kept float GPTQ-rounded onto TFLite's
    int8 grid, the inputs they were fitted on). With `twin`, fitted on the int8 twin's layer inputs ("int8
    twin", `int8_twin`), else, or for a graph the twin cannot run, on the float graph's own ("float",
    `weight_rounding.round_weights`); `inputs` are the samples fitted on, `calibration` the converter's
    calibration inputs, whose activation ranges the twin rounds to."""
    import dataclasses

    from .int8_twin import activation_ranges, round_on_twin, stored_tensors
    from .tfjs_graph import build_function as build_tfjs
    from .tfjs_graph import build_probe, convolutions, runnable_nodes
    from .tfjs_reader import read_tfjs
    from .weight_rounding import round_weights

    model = read_tfjs(str(path))
    nodes = runnable_nodes(model)
    every = convolutions(model)
    kept = [c for c in every if kept_float(c.name, float_layers)]
    layers = [c for c in every if c not in kept]
    samples = [batch[0] for batch in inputs]
    if twin:
        names = stored_tensors(nodes)
        try:
            ranges = activation_ranges(build_probe(model, names), names, (batch[0] for batch in calibration))
            rounded = round_on_twin(model, nodes, layers, kept, samples, ranges)
            return build_tfjs(dataclasses.replace(model, weights={**model.weights, **rounded})), "int8 twin"
        except ModelFormatError as exc:
            log.warning("%s: GPTQ on the float graph's layer inputs instead", exc)
    rounded = round_weights(model.weights, layers, build_probe(model, [c.input_tensor for c in layers]), samples)
    return build_tfjs(dataclasses.replace(model, weights={**model.weights, **rounded})), "float"


def _reference_network(path, function, kind, architecture, multiplier, stride, normalisation):
    """The float source as a `BodyPix`: onnxruntime for ONNX, the TensorFlow graph itself for tfjs."""
    import edge_bodypix
    from edge_bodypix.bodypix import BodyPix, ModelInfo

    if kind == "onnxruntime":
        return edge_bodypix.load(model=str(path), backend="onnxruntime")
    from .tf_backend import TensorFlowBackend

    backend = TensorFlowBackend(function, str(path))
    info = ModelInfo(path.name, str(path), architecture, multiplier, stride, "float32 (tfjs)", normalisation,
                     backend.description)
    return BodyPix(backend, info)


def source_for_url(url: str, cache: Optional[str] = None) -> str:
    """Download a checkpoint URL through the model store (catalogue checksum when known); the local path."""
    from edge_bodypix.models import ModelSpec, fetch

    for spec in load_catalogue():
        if spec.url == url:
            return str(fetch(spec, cache))
    name = Path(url).stem
    kind = "onnx" if url.lower().endswith(".onnx") else "tfjs"
    spec = ModelSpec(name=name, file=f"downloads/{name}/{Path(url).name}", format=kind, architecture="MobileNetV1",
                     multiplier=1.0, output_stride=16, quant_bytes=4, quantisation="unknown",
                     normalisation="mobilenet", runtime="converter-input", url=url)
    return str(fetch(spec, cache))


@dataclass
class BuildAllResult:
    converted: list
    skipped: list


def build_all(quantisations: Sequence[str], output_dir: Optional[str] = None, fetch_missing: bool = False,
              calibration: Optional[Sequence[str]] = None, test_images: Optional[Sequence[str]] = None,
              samples: int = 100) -> BuildAllResult:
    """Convert every catalogue checkpoint found locally (or downloadable with `fetch_missing`).

    Official tfjs checkpoints come first; an ONNX export whose output name one of them produced
    already is skipped, saying so (the exports are of the same float checkpoints)."""
    from edge_bodypix.errors import EdgeBodyPixError
    from edge_bodypix.models import fetch, locate

    converted, skipped = [], []
    produced: Dict[str, str] = {}  # converted name -> the checkpoint it came from
    for spec in sorted(load_catalogue(), key=lambda entry: entry.format != "tfjs"):  # official checkpoints first
        if spec.format not in ("tfjs", "onnx"):
            continue
        path = locate(spec)
        if path is None and fetch_missing and spec.url:
            try:
                path = fetch(spec)
            except EdgeBodyPixError as exc:
                skipped.append((spec.name, f"download failed: {exc}"))
                continue
        if path is None:
            skipped.append((spec.name, f"not installed ({spec.fetch_command})"))
            continue
        weights = spec.quantisation if spec.quantisation in WEIGHTS else "float"
        for quantisation in quantisations:
            name = converted_name(spec.architecture, spec.multiplier, spec.output_stride, quantisation, weights=weights)
            if name in produced:  # an ONNX export of a checkpoint converted already: the official one wins
                skipped.append((f"{spec.name} {quantisation}", f"{name} is converted from the official checkpoint "
                                                               f"{produced[name]} instead"))
                continue
            produced[name] = spec.name
            try:
                result = convert_checkpoint(str(path), quantisation, output_dir, calibration, test_images,
                                            samples=samples)
                converted.append((spec.name, quantisation, str(result.model_path)))
            except EdgeBodyPixError as exc:
                skipped.append((f"{spec.name} {quantisation}", str(exc)))
    return BuildAllResult(converted, skipped)
