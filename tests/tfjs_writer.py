"""Write a tfjs graph model (model.json + weight shards) from a BodyPix ONNX export, for reader tests.

The layout follows the official BodyPix checkpoints: input placeholder
`sub_2`, fused convolutions as tfjs converters write them
(`FusedDepthwiseConv2dNative`, `_FusedConv2D` with `fused_ops`), head outputs
named `float_segments`, ..., `MobilenetV1/displacement_fwd_2/BiasAdd`, and
weights optionally quantised to uint8 / uint16 / float16 in the manifest.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np

TFJS_NAMES = {
    "segments": "float_segments", "part_heatmaps": "float_part_heatmaps", "heatmaps": "float_heatmaps",
    "short_offsets": "float_short_offsets", "long_offsets": "float_long_offsets",
    "displacement_fwd": "MobilenetV1/displacement_fwd_2/BiasAdd",
    "displacement_bwd": "MobilenetV1/displacement_bwd_2/BiasAdd",
}


def _attr_list(*strings):
    return {"list": {"s": [base64.b64encode(s.encode()).decode() for s in strings]}}


def _ints(*values):
    return {"list": {"i": [str(v) for v in values]}}


def _const(name, array):
    dtype = "DT_INT32" if array.dtype == np.int32 else "DT_FLOAT"
    return {"name": name, "op": "Const", "attr": {
        "value": {"tensor": {"dtype": dtype, "tensorShape": {"dim": [{"size": str(d)} for d in array.shape]}}},
        "dtype": {"type": dtype}}}


def _quantise(array, kind):
    if kind == "float16":
        return array.astype(np.float16).tobytes(), {"dtype": "float16"}
    levels = 255 if kind == "uint8" else 65535
    low, high = float(array.min()), float(array.max())
    scale = (high - low) / levels if high > low else 1.0
    q = np.round((array - low) / scale).astype(np.uint8 if kind == "uint8" else np.uint16)
    return q.tobytes(), {"dtype": kind, "scale": scale, "min": low}


def write_tfjs_from_onnx(onnx_path: str, directory: Path, quantisation: str = "float32", shards: int = 2) -> Path:
    """Write `directory/model.json` and `group1-shardNof{shards}.bin`; returns the model.json path."""
    from edge_bodypix.converters.onnx_reader import read_onnx

    graph = read_onnx(onnx_path)
    directory.mkdir(parents=True, exist_ok=True)
    consumers = {}
    for node in graph.nodes:
        for name in node.inputs:
            consumers.setdefault(name, []).append(node)
    nodes = [{"name": "sub_2", "op": "Placeholder", "attr": {
        "dtype": {"type": "DT_FLOAT"},
        "shape": {"shape": {"dim": [{"size": "1"}, {"size": "-1"}, {"size": "-1"}, {"size": "3"}]}}}}]
    weights = []
    names = {}  # onnx tensor -> tfjs node producing it
    for node in graph.nodes:
        source = names.get(node.inputs[0], "sub_2")
        if node.op == "Transpose":
            names[node.outputs[0]] = source
            continue
        if node.op != "Conv":
            continue  # the Clip after a conv is fused into it; the part_offsets head is left out
        after = consumers.get(node.outputs[0], [])
        relu6 = any(n.op == "Clip" for n in after)
        output = after[0].outputs[0] if relu6 else node.outputs[0]
        role = next((r for r, t in TFJS_NAMES.items() if any(o in graph.outputs and o == r
                                                                for o in _downstream(output, consumers))), None)
        if role is None and not relu6 and output not in graph.outputs and not any(
                n.op in ("Transpose", "Shape", "Reshape") for n in after):
            continue  # part_offsets head
        name = TFJS_NAMES[role] if role else f"conv_{len(weights)}"
        weight = graph.constants[node.inputs[1]]
        bias = graph.constants[node.inputs[2]]
        group = int(node.attributes.get("group", 1))
        strides = node.attributes.get("strides", [1, 1])
        dilations = node.attributes.get("dilations", [1, 1])
        if group == 1:
            kernel, op = np.transpose(weight, (2, 3, 1, 0)), "_FusedConv2D"
        else:
            kernel, op = np.transpose(weight, (2, 3, 0, 1)), "FusedDepthwiseConv2dNative"
        kernel_name, bias_name = f"{name}/weights", f"{name}/biases"
        nodes += [_const(kernel_name, kernel), _const(bias_name, bias)]
        weights += [(kernel_name, np.ascontiguousarray(kernel, np.float32)), (bias_name, bias.astype(np.float32))]
        fused = ["BiasAdd", "Relu6"] if relu6 else ["BiasAdd"]
        nodes.append({"name": name, "op": op, "input": [source, kernel_name, bias_name], "attr": {
            "T": {"type": "DT_FLOAT"}, "strides": _ints(1, strides[0], strides[1], 1),
            "dilations": _ints(1, dilations[0], dilations[1], 1), "padding": {"s": base64.b64encode(b"SAME").decode()},
            "data_format": {"s": base64.b64encode(b"NHWC").decode()}, "fused_ops": _attr_list(*fused),
            "num_args": {"i": "1"}}})
        names[output] = name
    buffer = b""
    manifest = []
    for index, (name, array) in enumerate(weights):
        kind = quantisation if quantisation != "mixed" else ("uint8" if index % 2 else "uint16")
        entry = {"name": name, "shape": list(array.shape), "dtype": "float32"}
        if kind == "float32":
            buffer += array.tobytes()
        else:
            data, quant = _quantise(array, kind)
            buffer += data
            entry["quantization"] = quant
        manifest.append(entry)
    size = -(-len(buffer) // shards)
    paths = []
    for i in range(shards):
        shard = f"group1-shard{i + 1}of{shards}.bin"
        (directory / shard).write_bytes(buffer[i * size:(i + 1) * size])
        paths.append(shard)
    model = {"format": "graph-model", "generatedBy": "edge-bodypix tests", "convertedBy": "tests/tfjs_writer.py",
             "modelTopology": {"node": nodes, "library": {}, "versions": {}},
             "weightsManifest": [{"paths": paths, "weights": manifest}]}
    path = directory / "model-stride16.json"
    path.write_text(json.dumps(model))
    return path


def _downstream(name, consumers, depth=3):
    """Names reachable from a tensor through up to `depth` layout-only ops (the heads' transposes)."""
    found = [name]
    frontier = [name]
    for _ in range(depth):
        frontier = [o for n in frontier for c in consumers.get(n, []) if c.op in ("Transpose", "Reshape", "Shape",
                                                                              "Gather") for o in c.outputs]
        found += frontier
    return found
