"""Read a tfjs graph model (model.json plus group1-shardNofM.bin files) without the tensorflowjs package.

The topology is a TensorFlow GraphDef in JSON; the shards are the weights of
the manifest, concatenated little-endian, each possibly quantised
(`quantization: {dtype: uint8|uint16|float16, scale, min}`): read and
dequantise them to each weight's declared dtype.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict

import numpy as np

from edge_bodypix.errors import ModelFormatError

_DTYPES = {"float32": np.float32, "int32": np.int32, "bool": np.bool_}
_QUANTISED = {"uint8": np.uint8, "uint16": np.uint16, "float16": np.float16}


@dataclass
class TfjsModel:
    path: Path
    topology: dict
    weights: Dict[str, np.ndarray]
    quantisation: Dict[str, str] = field(default_factory=dict)  # weight name -> stored dtype when quantised
    #: weight name -> the step of the integer grid its values lie on (uint8 weights stored with a whole zero
    #: point, as tfjs-converter nudges them: value = (q - zero) * scale), for `checkpoint_grid`
    grid_steps: Dict[str, float] = field(default_factory=dict)


def _weight_bytes(spec: dict) -> int:
    count = int(np.prod(spec["shape"])) if spec["shape"] else 1
    stored = spec.get("quantization", {}).get("dtype", spec["dtype"])
    kind = _QUANTISED.get(stored) or _DTYPES.get(stored)
    if kind is None:
        raise ModelFormatError(f"weight {spec['name']} has unsupported dtype {stored}")
    return count * np.dtype(kind).itemsize


def read_tfjs(path: str) -> TfjsModel:
    """`path`: a model.json or a folder holding one."""
    model_json = Path(path)
    if model_json.is_dir():
        candidates = sorted(model_json.glob("*.json"))
        if len(candidates) != 1:
            raise ModelFormatError(f"{path}: expected one model.json in the folder, found {[c.name for c in candidates]}")
        model_json = candidates[0]
    try:
        data = json.loads(model_json.read_text())
        topology, manifest = data["modelTopology"], data["weightsManifest"]
    except (OSError, ValueError, KeyError) as exc:
        raise ModelFormatError(f"{model_json}: not a tfjs graph model ({exc})") from exc
    if data.get("format") not in (None, "graph-model"):
        raise ModelFormatError(f"{model_json}: format {data.get('format')!r} is not a graph model")
    weights: Dict[str, np.ndarray] = {}
    quantisation: Dict[str, str] = {}
    grid_steps: Dict[str, float] = {}
    for group in manifest:
        buffer = b""
        for shard in group["paths"]:
            shard_path = model_json.parent / shard
            if not shard_path.is_file():
                raise ModelFormatError(f"{model_json}: weight shard {shard} is missing (looked at {shard_path})")
            buffer += shard_path.read_bytes()
        expected = sum(_weight_bytes(spec) for spec in group["weights"])
        if len(buffer) != expected:
            raise ModelFormatError(f"{model_json}: shards {', '.join(group['paths'])} hold {len(buffer)} bytes, "
                                   f"the manifest describes {expected}")
        offset = 0
        for spec in group["weights"]:
            size = _weight_bytes(spec)
            raw = buffer[offset:offset + size]
            offset += size
            target = _DTYPES.get(spec["dtype"])
            if target is None:
                raise ModelFormatError(f"{model_json}: weight {spec['name']} has unsupported dtype {spec['dtype']}")
            quant = spec.get("quantization")
            if quant:
                stored = np.frombuffer(raw, dtype=_QUANTISED[quant["dtype"]])
                if quant["dtype"] == "float16":
                    values = stored.astype(np.float32)
                else:
                    values = stored.astype(np.float32) * np.float32(quant["scale"]) + np.float32(quant["min"])
                quantisation[spec["name"]] = quant["dtype"]
                zero = -float(quant["min"]) / float(quant["scale"]) if quant["dtype"] == "uint8" else 0.5
                if abs(zero - round(zero)) < 1e-6:
                    grid_steps[spec["name"]] = float(quant["scale"])
                values = values.astype(target)
            else:
                values = np.frombuffer(raw, dtype=target).copy()
            weights[spec["name"]] = values.reshape(spec["shape"])
    constants = {node["name"] for node in topology.get("node", []) if node.get("op") == "Const"}
    missing = sorted(constants - set(weights))
    extra = sorted(set(weights) - constants)
    if missing or extra:
        raise ModelFormatError(f"{model_json}: the manifest and the topology disagree: "
                               f"constants without weights {missing[:5]}, weights without constants {extra[:5]}")
    return TfjsModel(model_json, topology, weights, quantisation, grid_steps)
