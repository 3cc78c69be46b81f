"""int8 filters on the checkpoint's own weight grid where it fits: quant1 tfjs checkpoints lose nothing more.

body-pix's quant1 checkpoints store every weight as uint8 with a whole zero point, so each value is
k * step with k an integer (tfjs-converter's affine quantisation, zero nudged onto a level). TFLite picks
each output channel's int8 step as max|w| / 127 and rounds onto that: for weights already on a grid of
their own it is a second rounding as coarse as the first, on networks whose float accuracy shows what the
first one cost (COCO person IoU 0.45 for float/quant2 0.75 against 0.23 for quant1). Wherever a channel's k
fit int8's [-127, 127] (all but a few dozen of the 7-11 thousand channels of the official quant1
checkpoints), the checkpoint's step is itself an int8 grid holding those weights exactly. `place_on_grid`
rewrites such channels of a converted int8 model: int8 values k, scale `step`, bias requantised to the new
scale (TFLite's bias scale is input scale x filter scale). The model's operations, size and speed do not
change; only these numbers do.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import List, Sequence, Tuple

import numpy as np

from .tflite_export import flatbuffer_tree
from .tfjs_reader import TfjsModel
from .weight_rounding import exact_rows, filter_rows

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GridLayer:
    """One convolution of the checkpoint whose weights lie on a grid: its filter (TensorFlow layout) and step."""

    name: str
    filter: np.ndarray  # HWIO, or HWC1 for a depthwise one
    step: float
    depthwise: bool


@dataclass
class Placement:
    """What `place_on_grid` did: layers found in the model and channels put on the checkpoint's grid."""

    layers: int
    channels: int
    of_channels: int
    unmatched: List[str]

    def as_dict(self) -> dict:
        return {"layers": self.layers, "channels": self.channels, "of_channels": self.of_channels,
                "layers_not_found": self.unmatched}


def grid_layers(model: TfjsModel) -> List[GridLayer]:
    """The convolutions of `model` whose filters lie on a uint8 checkpoint grid."""
    from .tfjs_graph import convolutions

    return [GridLayer(c.name, model.weights[c.weight], c.grid_step, c.depthwise)
            for c in convolutions(model) if c.grid_step]


def _tflite_rows(values: np.ndarray, depthwise: bool) -> np.ndarray:
    """A TFLite filter as rows per output channel: OHWI -> (O, H*W*I); depthwise 1HWC -> (C, H*W)."""
    return values.reshape(-1, values.shape[-1]).T if depthwise else values.reshape(len(values), -1)


def _from_rows(rows: np.ndarray, shape: Tuple[int, ...], depthwise: bool) -> np.ndarray:
    return rows.T.reshape(shape) if depthwise else rows.reshape(shape)


def place_on_grid(model: bytes, layers: Sequence[GridLayer]) -> Tuple[bytes, Placement]:
    """`model` (an int8 TFLite flatbuffer converted from the checkpoint of `layers`) with every output channel
    whose checkpoint weights fit int8 on their own grid rewritten to hold them exactly, and what was done.

    Each layer is found by value: the per-channel int8 filter of a convolution of the same shape whose
    channels are the checkpoint's within half a step (TFLite's rounding of them). Layers kept float, a
    per-tensor model, or channels that do not fit are left as converted."""
    from tensorflow.lite.tools import flatbuffer_utils

    tree, codes, schema = flatbuffer_tree(model)
    graph = tree.subgraphs[0]
    convolutions = (schema.BuiltinOperator.CONV_2D, schema.BuiltinOperator.DEPTHWISE_CONV_2D)
    targets = []  # (operator, filter tensor, depthwise, int8 rows, dequantised rows) of per-channel int8 convolutions
    for operator in graph.operators:
        if codes[operator.opcodeIndex] not in convolutions:
            continue
        depthwise = codes[operator.opcodeIndex] == schema.BuiltinOperator.DEPTHWISE_CONV_2D
        tensor = graph.tensors[operator.inputs[1]]
        scale = np.asarray(tensor.quantization.scale if tensor.quantization else [], np.float64)
        channels = tensor.shape[-1] if depthwise else tensor.shape[0]
        if tensor.type != schema.TensorType.INT8 or len(scale) != channels:
            continue
        values = np.asarray(tree.buffers[tensor.buffer].data).view(np.int8).reshape(tuple(tensor.shape))
        rows = _tflite_rows(values, depthwise)
        targets.append((operator, tensor, depthwise, rows, rows.astype(np.float64) * scale[:, None]))
    placed, channels, total, unmatched = 0, 0, 0, []
    for layer in layers:
        original = filter_rows(layer.filter, layer.depthwise).astype(np.float64)
        exact = exact_rows(original, layer.step)
        if not exact.any():
            continue
        match = None
        for target in targets:
            operator, tensor, depthwise, _, rows = target
            if depthwise != layer.depthwise or rows.shape != original.shape:
                continue
            scale = np.asarray(tensor.quantization.scale, np.float64)[exact, None]
            if np.all(np.abs(rows[exact] - original[exact]) <= 0.501 * scale):
                match = target
                break
        if match is None:
            unmatched.append(layer.name)
            continue
        targets.remove(match)
        _rewrite(tree, graph, schema, match[:4], original, exact, layer.step)
        placed += 1
        channels += int(exact.sum())
        total += len(exact)
    if unmatched:
        log.info("checkpoint grid: %d convolutions not found as int8 filters (kept float?): %s",
                 len(unmatched), ", ".join(unmatched))
    log.info("checkpoint grid: %d channels of %d convolutions hold the checkpoint's weights exactly", channels, placed)
    return flatbuffer_utils.convert_object_to_bytearray(tree), Placement(placed, channels, total, unmatched)


def _rewrite(tree, graph, schema, target, original: np.ndarray, exact: np.ndarray, step: float) -> None:
    """Channels `exact` of one convolution's int8 filter (`target`: operator, filter tensor, depthwise, int8
    rows) to k = w / step at scale `step`; its bias follows."""
    operator, tensor, depthwise, rows = target
    values = rows.astype(np.int64)
    values[exact] = np.round(original[exact] / step)
    old_scale = np.asarray(tensor.quantization.scale, np.float64)
    new_scale = old_scale.copy()
    new_scale[exact] = np.float32(step)
    stored = _from_rows(values, tuple(tensor.shape), depthwise).astype(np.int8)
    tree.buffers[tensor.buffer].data = stored.reshape(-1).view(np.uint8)
    tensor.quantization.scale = new_scale.astype(np.float32).tolist()
    if len(operator.inputs) < 3 or operator.inputs[2] < 0:
        return
    bias = graph.tensors[operator.inputs[2]]
    if bias.type != schema.TensorType.INT32:
        return
    input_scale = float(np.float32(graph.tensors[operator.inputs[0]].quantization.scale[0]))
    bias_values = np.asarray(tree.buffers[bias.buffer].data).view(np.int32).astype(np.float64)
    real = bias_values * np.asarray(bias.quantization.scale, np.float64)
    bias_scale = (input_scale * new_scale.astype(np.float32).astype(np.float64)).astype(np.float32)
    requantised = np.clip(np.round(real / bias_scale), np.iinfo(np.int32).min, np.iinfo(np.int32).max)
    tree.buffers[bias.buffer].data = requantised.astype(np.int32).view(np.uint8)
    bias.quantization.scale = bias_scale.tolist()
