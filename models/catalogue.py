"""The BodyPix model catalogue: every official checkpoint, the Coral models and our converter outputs.

Data lives in `catalogue.json` beside this file; this module turns it into
`ModelSpec` records and answers look-ups by name or by
(architecture, multiplier, output stride, quant bytes).
"""

from __future__ import annotations

import difflib
import json
import os
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple

from edge_bodypix.errors import InvalidParameterError, ModelNotFoundError

CATALOGUE_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "catalogue.json")
ARCHITECTURES = ("MobileNetV1", "ResNet50")
MULTIPLIERS = {"MobileNetV1": (0.5, 0.75, 1.0), "ResNet50": (1.0,)}
OUTPUT_STRIDES = {"MobileNetV1": (8, 16), "ResNet50": (16, 32)}
QUANT_BYTES = (1, 2, 4)
#: body-pix `load()`'s default configuration (its MobileNetV1 0.75 stride 16), used wherever none is given.
DEFAULT_ARCHITECTURE, DEFAULT_MULTIPLIER, DEFAULT_OUTPUT_STRIDE = "MobileNetV1", 0.75, 16
#: Order in which quantisations are tried when `quant_bytes` is not given:
#: integer models first (fastest on ARM and the only kind for the Edge TPU).
QUANT_PREFERENCE = (1, 2, 4)
#: The weights of body-pix's checkpoints (its quantBytes 4, 2, 1), in the order converter outputs made
#: from them are preferred when several are installed: the most precise first.
WEIGHTS = ("float", "quant2", "quant1")


@dataclass(frozen=True)
class ModelSpec:
    """One catalogue entry.

    `file` is the path below a model directory; `runtime` is "cpu", "edgetpu",
    "onnxruntime", "converter-input" (tfjs checkpoints) or names the custom op
    the model needs; `input_size` is (height, width) of the stored input shape.
    """

    name: str
    file: str
    format: str
    architecture: str
    multiplier: float
    output_stride: int
    quant_bytes: int
    quantisation: str
    normalisation: str
    runtime: str
    url: Optional[str] = None
    sha256: Optional[str] = None
    size_bytes: Optional[int] = None
    input_size: Optional[Tuple[int, int]] = None
    cpu_twin: Optional[str] = None
    default: bool = False
    source: str = ""
    license: str = ""
    outputs: Mapping[str, str] = field(default_factory=dict)
    #: tfjs checkpoints: weight shard file name -> sha256, where known (the shards sit beside model.json)
    shards: Mapping[str, str] = field(default_factory=dict)
    #: converter outputs: the checkpoint weights they were made from (one of WEIGHTS; ONNX exports are float)
    weights: str = ""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ModelSpec":
        values = dict(data)
        if values.get("input_size") is not None:
            values["input_size"] = tuple(values["input_size"])
        values["outputs"] = dict(values.get("outputs") or {})
        values["shards"] = dict(values.get("shards") or {})
        return cls(**values)

    @property
    def filename(self) -> str:
        return os.path.basename(self.file)

    @property
    def runs_on_cpu(self) -> bool:
        """True for TFLite models stock LiteRT runs on the CPU."""
        return self.format == "tflite" and self.runtime == "cpu"

    @property
    def fetch_command(self) -> str:
        if self.url:
            return f"edge-bodypix models fetch {self.name}"
        return f"edge-bodypix convert {self.name}"


def converted_name(
    architecture: str, multiplier: float, output_stride: int, quantisation: str,
    input_size: Optional[Tuple[int, int]] = None, edgetpu: bool = False, weights: str = "float",
) -> str:
    """Name of a converter output: bodypix_{arch}_{stride}_{quantisation}[_from_{weights}][_{H}x{W}][_edgetpu].

    `_from_quant2` / `_from_quant1` name outputs of body-pix's quantised checkpoints, so the three
    checkpoints of one network convert side by side."""
    if weights not in WEIGHTS:
        raise InvalidParameterError(f"weights {weights!r} is not one of {', '.join(WEIGHTS)}")
    if architecture == "MobileNetV1":
        arch = f"mobilenet_v1_{int(round(multiplier * 100)):03d}"
    elif architecture == "ResNet50":
        arch = "resnet50"
    else:
        raise InvalidParameterError(f"architecture {architecture!r} is not one of {', '.join(ARCHITECTURES)}")
    name = f"bodypix_{arch}_{output_stride}_{quantisation}" + ("" if weights == "float" else f"_from_{weights}")
    if input_size:
        name += f"_{input_size[0]}x{input_size[1]}"
    return name + ("_edgetpu" if edgetpu else "")


def _converted_entries(section: Mapping[str, Any]) -> List[ModelSpec]:
    entries = []
    directory = section.get("directory", "converted")
    for group in section.get("matrix", []):
        architecture = group["architecture"]
        for multiplier in group["multipliers"]:
            for stride in group["output_strides"]:
                for quantisation, quant_bytes in section["quantisations"].items():
                    for weights in section.get("weights", ["float"]):
                        name = converted_name(architecture, multiplier, stride, quantisation, weights=weights)
                        entries.append(ModelSpec(
                            name=name, file=f"{directory}/{name}.tflite", format="tflite",
                            architecture=architecture, multiplier=float(multiplier), output_stride=int(stride),
                            quant_bytes=int(quant_bytes), quantisation=quantisation,
                            normalisation="resnet50" if architecture == "ResNet50" else "mobilenet",
                            runtime="cpu", source="edge-bodypix converter (edge-bodypix convert)",
                            license="Apache-2.0", weights=weights,
                        ))
    return entries


class Catalogue:
    """Look-ups over the catalogue entries."""

    def __init__(self, entries: Iterable[ModelSpec]):
        self.entries: Tuple[ModelSpec, ...] = tuple(entries)
        self._by_name: Dict[str, ModelSpec] = {entry.name: entry for entry in self.entries}
        self._by_filename: Dict[str, ModelSpec] = {entry.filename: entry for entry in self.entries}

    def __iter__(self):
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def get(self, name: str) -> ModelSpec:
        """The entry called `name` (the file name is accepted too)."""
        entry = self._by_name.get(name) or self._by_filename.get(name)
        if entry is None:
            close = difflib.get_close_matches(name, list(self._by_name), n=3, cutoff=0.6)
            hint = f"; did you mean {', '.join(close)}?" if close else "; see 'edge-bodypix models list'"
            raise ModelNotFoundError(f"no model called {name!r} in the catalogue{hint}")
        return entry

    def by_filename(self, filename: str) -> Optional[ModelSpec]:
        return self._by_filename.get(os.path.basename(filename))

    def default(self) -> ModelSpec:
        for entry in self.entries:
            if entry.default:
                return entry
        raise ModelNotFoundError("the catalogue marks no default model")

    def candidates(
        self,
        architecture: str = DEFAULT_ARCHITECTURE,
        multiplier: float = DEFAULT_MULTIPLIER,
        output_stride: int = DEFAULT_OUTPUT_STRIDE,
        quant_bytes: Optional[int] = None,
        runtime: str = "cpu",
        format: str = "tflite",
    ) -> List[ModelSpec]:
        """Entries of a format and runtime for a configuration, best first (default, then `QUANT_PREFERENCE`)."""
        check_configuration(architecture, multiplier, output_stride, quant_bytes)
        matches = [
            entry for entry in self.entries
            if entry.format == format and entry.runtime == runtime
            and entry.architecture == architecture
            and abs(entry.multiplier - multiplier) < 1e-6
            and entry.output_stride == output_stride
            and (quant_bytes is None or entry.quant_bytes == quant_bytes)
        ]
        return sorted(matches, key=lambda e: (not e.default, QUANT_PREFERENCE.index(e.quant_bytes),
                                              WEIGHTS.index(e.weights) if e.weights in WEIGHTS else 0))


def check_configuration(
    architecture: str, multiplier: float, output_stride: int, quant_bytes: Optional[int]
) -> None:
    """Raise `InvalidParameterError` for a combination body-pix does not publish."""
    if architecture not in ARCHITECTURES:
        raise InvalidParameterError(f"architecture {architecture!r} is not one of {', '.join(ARCHITECTURES)}")
    if not any(abs(multiplier - m) < 1e-6 for m in MULTIPLIERS[architecture]):
        raise InvalidParameterError(
            f"multiplier {multiplier!r} is not available for {architecture} "
            f"(choose from {', '.join(str(m) for m in MULTIPLIERS[architecture])})"
        )
    if output_stride not in OUTPUT_STRIDES[architecture]:
        raise InvalidParameterError(
            f"output_stride {output_stride!r} is not available for {architecture} "
            f"(choose from {', '.join(str(s) for s in OUTPUT_STRIDES[architecture])})"
        )
    if quant_bytes is not None and quant_bytes not in QUANT_BYTES:
        raise InvalidParameterError(f"quant_bytes {quant_bytes!r} is not one of 1, 2, 4")


@lru_cache(maxsize=None)
def load_catalogue(path: str = CATALOGUE_PATH) -> Catalogue:
    """Read the catalogue file (cached)."""
    with open(path, "r", encoding="utf-8") as handle:
        data = json.load(handle)
    entries = [ModelSpec.from_dict(item) for item in data["models"]]
    entries += _converted_entries(data.get("converted", {}))
    return Catalogue(entries)
