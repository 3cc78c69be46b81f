"""A TensorFlow function from a tfjs graph model: its GraphDef with the weights filled in.

tfjs converters fuse ops that stock TensorFlow does not all know
(`FusedDepthwiseConv2dNative`, `_FusedConv2D` with fused activations); they are
split back into DepthwiseConv2dNative / Conv2D + BiasAdd + activation.

Convolutions run with the dilations tfjs gives them, which are not always the
ones TensorFlow would read from the same attribute: tfjs-converter's executor
takes `[dilations[1], dilations[2]]` as (height, width) whatever the list holds
(`executeOp` for Conv2D / DepthwiseConv2dNative in tfjs-converter). The official
stride-8 MobileNet checkpoints store `[2, 2, 1, 1]` (and `[4, 4, 1, 1]`), so the
browser's body-pix runs those depthwise layers dilated 2 (4) in height and 1 in
width. TensorFlow refuses that list (it needs batch and depth 1), so it is
rewritten to what tfjs runs, `[1, d[1], d[2], 1]`: the converted model then
equals tfjs's outputs (max |difference| 5e-6 on the float 0.50 stride-8
segment logits), not those of the symmetric network tfjs-to-tf/ONNX exports
build (mask agreement 0.896 with tfjs on the same input).
"""

from __future__ import annotations

import os
from typing import Dict, List, Sequence

from edge_bodypix.errors import BackendUnavailableError, ModelFormatError

from .tfjs_reader import TfjsModel

_ACTIVATIONS = {"Relu": "Relu", "Relu6": "Relu6", "Elu": "Elu", "Sigmoid": "Sigmoid", "Tanh": "Tanh"}
_FUSED = {"FusedDepthwiseConv2dNative": "DepthwiseConv2dNative", "_FusedConv2D": "Conv2D"}


def _decode_list(value: dict) -> List[str]:
    """Strings of a GraphDef JSON list attribute (protobuf JSON encodes bytes as base64)."""
    import base64
    import binascii

    decoded = []
    for item in value.get("list", {}).get("s", []):
        try:
            text = base64.b64decode(item, validate=True).decode()
            decoded.append(text if text.isidentifier() else item)
        except (binascii.Error, UnicodeDecodeError):
            decoded.append(item)
    return decoded


def _split_fused(nodes: List[dict]) -> List[dict]:
    """Replace tfjs fused convolutions by the plain ops they fuse; the last one keeps the node's name."""
    result = []
    for node in nodes:
        if node.get("op") not in _FUSED:
            result.append(node)
            continue
        attributes = node.get("attr", {})
        fused = _decode_list(attributes.get("fused_ops", {}))
        dtype = attributes.get("T", {"type": "DT_FLOAT"})
        inputs = node["input"]
        conv_attributes = {k: v for k, v in attributes.items()
                           if k in ("T", "strides", "padding", "dilations", "data_format", "explicit_paddings")}
        names = [f"{node['name']}/{op.lower()}" for op in ["conv"] + fused[:-1]] + [node["name"]]
        result.append({"name": names[0], "op": _FUSED[node["op"]], "input": inputs[:2], "attr": conv_attributes})
        for previous, name, fused_op in zip(names, names[1:], fused):
            if fused_op == "BiasAdd":
                result.append({"name": name, "op": "BiasAdd", "input": [previous, inputs[2]], "attr": {"T": dtype}})
            elif fused_op in _ACTIVATIONS:
                result.append({"name": name, "op": _ACTIVATIONS[fused_op], "input": [previous], "attr": {"T": dtype}})
            else:
                raise ModelFormatError(f"{node['name']}: fused op {fused_op} is not supported")
    return result


_CONVOLUTIONS = ("Conv2D", "DepthwiseConv2dNative")


def _as_tfjs_runs(nodes: List[dict]) -> List[dict]:
    """Convolutions with the (height, width) dilations tfjs uses, `[1, d[1], d[2], 1]` (module docstring)."""
    result = []
    for node in nodes:
        dilations = _dilations(node)
        if node.get("op") in _CONVOLUTIONS and len(dilations) == 4:
            attributes = dict(node["attr"], dilations={"list": {"i": ["1", str(dilations[1]), str(dilations[2]), "1"]}})
            node = dict(node, attr=attributes)
        result.append(node)
    return result


def output_names(model: TfjsModel) -> Dict[str, str]:
    """Role -> node name of the BodyPix outputs in a tfjs topology."""
    mapping: Dict[str, str] = {}
    for name in (node["name"] for node in model.topology["node"]):
        lowered = name.lower()
        for role in ("part_heatmaps", "part_offsets", "heatmaps", "short_offsets", "long_offsets", "segments"):
            if lowered.endswith("float_" + role):
                mapping.setdefault(role, name)
        for role in ("displacement_fwd", "displacement_bwd"):
            if lowered.endswith(f"{role}_2/biasadd"):
                mapping.setdefault(role, name)
    missing = [role for role in ("segments", "part_heatmaps") if role not in mapping]
    if missing:
        raise ModelFormatError(f"{model.path}: not a BodyPix model: no {', '.join(missing)} output in the topology")
    return mapping


def input_name(model: TfjsModel) -> str:
    """The graph's image placeholder (`sub_2` in the official checkpoints)."""
    placeholders = [node["name"] for node in model.topology["node"] if node.get("op") == "Placeholder"]
    if len(placeholders) != 1:
        raise ModelFormatError(f"{model.path}: expected one input placeholder, found {placeholders}")
    return placeholders[0]


def runnable_nodes(model: TfjsModel) -> List[dict]:
    """The topology's nodes as TensorFlow runs them: fused convolutions split, dilations as tfjs reads them."""
    return _as_tfjs_runs(_split_fused(model.topology["node"]))


def _graph_def(model: TfjsModel, nodes: List[dict]):
    """The GraphDef of `nodes` with the model's weights filled in; unknown ops refused."""
    import tensorflow as tf
    from google.protobuf import json_format

    graph_def = tf.compat.v1.GraphDef()
    try:
        json_format.ParseDict({"node": nodes, "versions": model.topology.get("versions", {})}, graph_def,
                              ignore_unknown_fields=True)
    except json_format.ParseError as exc:
        raise ModelFormatError(f"{model.path}: topology is not a GraphDef ({exc})") from exc
    for node in graph_def.node:
        if node.op == "Const":
            node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(model.weights[node.name]))
    known = set(dir(tf.raw_ops))
    unsupported = sorted({n.op for n in graph_def.node if n.op not in known and n.op not in ("Const", "Placeholder")})
    if unsupported:
        raise ModelFormatError(f"{model.path}: unsupported op(s) {', '.join(unsupported)}")
    return graph_def


def _pruned(model: TfjsModel, nodes: List[dict], tensors: List[str]):
    """A concrete function from the image placeholder to the named tensors of the graph."""
    import tensorflow as tf

    graph_def = _graph_def(model, nodes)

    def imported():
        tf.compat.v1.import_graph_def(graph_def, name="")

    wrapped = tf.compat.v1.wrap_function(imported, [])
    graph = wrapped.graph
    try:
        return wrapped.prune(graph.get_tensor_by_name(_tensor(input_name(model))),
                             [graph.get_tensor_by_name(_tensor(name)) for name in tensors])
    except KeyError as exc:
        raise ModelFormatError(f"{model.path}: tensor not found in the graph ({exc})") from exc


def _tensor(name: str) -> str:
    """A GraphDef input reference as a tensor name (`node` -> `node:0`)."""
    return name if ":" in name else f"{name}:0"


def build_function(model: TfjsModel):
    """A `tf.function` (NHWC normalised image -> dict of outputs by role) running the tfjs graph."""
    import tensorflow as tf

    nodes = runnable_nodes(model)
    outputs = output_names(model)
    roles = list(outputs)
    pruned = _pruned(model, nodes, [outputs[r] for r in roles])

    @tf.function(input_signature=[tf.TensorSpec([1, None, None, 3], tf.float32, name="image")])
    def bodypix(image):
        values = pruned(image)
        return {role: tf.identity(value, name=role) for role, value in zip(roles, values)}

    if any(_dilated(node) for node in nodes):
        _check_dilations_run(bodypix, model.path)
    return bodypix


def convolutions(model: TfjsModel):
    """Every convolution of the graph with a constant filter, as `weight_rounding.Convolution`s."""
    from .weight_rounding import Convolution

    found = []
    constants = set(model.weights)
    nodes = runnable_nodes(model)
    biases = {node["input"][0]: node["input"][1] for node in nodes
              if node.get("op") == "BiasAdd" and node["input"][1] in constants}
    for node in nodes:
        if node.get("op") not in _CONVOLUTIONS or node["input"][1] not in constants:
            continue
        attributes = node.get("attr", {})
        strides = [int(v) for v in attributes.get("strides", {}).get("list", {}).get("i", ["1"] * 4)]
        dilations = [int(v) for v in _dilations(node)] or [1, 1, 1, 1]
        padding = node_padding(node)
        if padding not in ("SAME", "VALID"):
            raise ModelFormatError(f"{model.path}: {node['name']} uses {padding} padding")
        found.append(Convolution(node["name"], node["input"][1],
                                 node["op"] == "DepthwiseConv2dNative", (strides[1], strides[2]),
                                 (dilations[1], dilations[2]), padding, node["input"][0], biases.get(node["name"]),
                                 model.grid_steps.get(node["input"][1])))
    return found


def build_probe(model: TfjsModel, tensors: Sequence[str]):
    """image (1xHxWx3 float32) -> the named tensors of the graph (e.g. the convolutions' `input_tensor`)."""
    import tensorflow as tf

    pruned = _pruned(model, runnable_nodes(model), list(tensors))
    return lambda image: list(pruned(tf.constant(image)))


def node_padding(node: dict) -> str:
    """A GraphDef JSON node's `padding` attribute ("SAME", "VALID"; "VALID" when it has none)."""
    import base64

    encoded = node.get("attr", {}).get("padding", {}).get("s")  # protobuf JSON: bytes as base64
    return base64.b64decode(encoded).decode() if encoded else "VALID"


def _dilations(node: dict) -> List[str]:
    """A GraphDef JSON node's `dilations` list attribute (empty when it has none)."""
    return node.get("attr", {}).get("dilations", {}).get("list", {}).get("i") or []


def _dilated(node: dict) -> bool:
    return node.get("op") in _CONVOLUTIONS and any(int(v) != 1 for v in _dilations(node))


def _check_dilations_run(function, path) -> None:
    """Run the graph once on a small input: TensorFlow's non-oneDNN CPU kernels refuse dilated depthwise
    convolutions, which is said here with what to do rather than deep inside a conversion."""
    import numpy as np
    import tensorflow as tf

    from . import ONEDNN_ENV

    try:
        function(np.zeros((1, 33, 33, 3), np.float32))
    except tf.errors.UnimplementedError as exc:
        raise BackendUnavailableError(
            f"{path}: this TensorFlow cannot run the checkpoint's dilated depthwise convolutions (stride 8) on this "
            f"CPU ({exc.message.splitlines()[0]}); its oneDNN kernels can: run with {ONEDNN_ENV}=1 set before "
            f"TensorFlow loads (now {os.environ.get(ONEDNN_ENV)!r}), on an x86-64 build of TensorFlow") from None
