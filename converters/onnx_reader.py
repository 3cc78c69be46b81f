"""Read a BodyPix ONNX export (tf2onnx of the official checkpoints) into plain nodes and numpy weights."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List

import numpy as np

from edge_bodypix.errors import BackendUnavailableError, ModelFormatError

SUPPORTED_OPS = {"Conv", "Clip", "Min", "Max", "Reshape", "Transpose", "Shape", "Gather", "Relu"}


@dataclass
class Node:
    op: str
    name: str
    inputs: List[str]
    outputs: List[str]
    attributes: Dict[str, Any]


@dataclass
class OnnxGraph:
    path: str
    input_name: str
    nodes: List[Node]
    constants: Dict[str, np.ndarray]
    outputs: List[str]


def read_onnx(path: str) -> OnnxGraph:
    """The graph of an ONNX file; errors name the file and what is unsupported."""
    try:
        import onnx
        from onnx import helper, numpy_helper
    except ImportError as exc:
        raise BackendUnavailableError("reading ONNX needs the onnx package: pip install 'edge-bodypix[convert]'") from exc
    try:
        model = onnx.load(path)
    except Exception as exc:  # noqa: BLE001 - onnx raises DecodeError and friends
        raise ModelFormatError(f"{path}: not a readable ONNX model ({exc})") from exc
    graph = model.graph
    constants = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    inputs = [i.name for i in graph.input if i.name not in constants]
    if len(inputs) != 1:
        raise ModelFormatError(f"{path}: expected one image input, found {inputs}")
    nodes = []
    for node in graph.node:
        if node.op_type not in SUPPORTED_OPS:
            raise ModelFormatError(f"{path}: unsupported op {node.op_type} ({node.name}); "
                                   f"BodyPix exports use only {', '.join(sorted(SUPPORTED_OPS))}")
        attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        nodes.append(Node(node.op_type, node.name, list(node.input), list(node.output), attributes))
    outputs = [o.name for o in graph.output]
    missing = [name for name in ("segments", "part_heatmaps") if name not in outputs]
    if missing:
        raise ModelFormatError(f"{path}: not a BodyPix model: outputs {outputs} lack {', '.join(missing)}")
    return OnnxGraph(path, inputs[0], nodes, constants, outputs)
