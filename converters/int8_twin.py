"""GPTQ on the inputs the int8 model really has: the tfjs graph and its int8 twin, run side by side.

GPTQ on the float network's layer inputs (`weight_rounding.round_weights`) rounds each convolution as if
its inputs were exact. In the int8 model they are not: TFLite stores every activation on its tensor's 256
levels, and the layers before have been rounded too. Here the graph runs twice over the calibration
inputs, in float and as TFLite's int8 kernels compute it: weights on their per-channel grid, every tensor
TFLite stores in int8 rounded with the min/max its calibration gives it (`fake_quantise`). In graph order,
each convolution not kept float is refitted on its twin input to give float's output
(`weight_rounding.reproducing_rows`), GPTQ-rounded on that input, and its bias takes up the mean it
still misses; the twin then runs on with the rounded layer. This takes up the systematic part of the
activations' rounding (a mean shift at the person logits of -0.02 on the official quant2 0.50 stride-16
checkpoint without it, 0.00 with it) that float-input GPTQ leaves to accumulate.
"""

from __future__ import annotations

import logging
from typing import Callable, Dict, Iterable, List, Sequence, Tuple

import numpy as np

from edge_bodypix.errors import ModelFormatError

from .tfjs_graph import node_padding
from .tfjs_reader import TfjsModel
from .weight_rounding import Convolution, HessianAccumulator, corrected

log = logging.getLogger(__name__)

#: ops the twin runs; a convolution fed through any other op cannot be fitted this way
_ELEMENTWISE = ("BiasAdd", "Relu", "Relu6", "Add", "AddV2", "Pad", "MaxPool")
#: ops TFLite fuses into the op before them: their input is not stored on its own
_FUSED_AFTER = ("BiasAdd", "Relu", "Relu6")
#: ops whose int8 output keeps its input's levels (no new rounding)
_SAME_LEVELS = ("Pad", "MaxPool")


def fake_quantise(tensor, low: float, high: float):
    """`tensor` rounded as TFLite stores it in int8: 256 levels over [low, high] widened to hold 0, with 0
    exactly on a level (asymmetric per-tensor quantisation)."""
    import tensorflow as tf

    low, high = min(low, 0.0), max(high, 0.0)
    if high <= low:
        return tensor
    scale = (high - low) / 255
    zero = np.round(-low / scale)
    return (tf.clip_by_value(tf.floor(tensor / scale + 0.5) + zero, 0, 255) - zero) * scale  # ties up, as TF


def stored_tensors(nodes: List[dict]) -> List[str]:
    """Names of the tensors the twin rounds: the graph's input and every op result TFLite can store."""
    return [node["name"] for node in nodes if node.get("op") == "Placeholder" or node.get("op") in _ELEMENTWISE]


def activation_ranges(probe: Callable[[np.ndarray], List[np.ndarray]], names: Sequence[str],
                      inputs: Iterable[np.ndarray]) -> Dict[str, Tuple[float, float]]:
    """(min, max) of each named tensor over `inputs`, as TFLite's calibration measures them; `probe(image)`
    returns the tensors in the order of `names`."""
    ranges: Dict[str, Tuple[float, float]] = {}
    for image in inputs:
        for name, tensor in zip(names, probe(image)):
            values = np.asarray(tensor)
            low, high = float(values.min()), float(values.max())
            previous = ranges.get(name, (low, high))
            ranges[name] = (min(previous[0], low), max(previous[1], high))
    return ranges


def _convolve(tensor, filter_, convolution: Convolution):
    import tensorflow as tf

    strides = [1, *convolution.strides, 1]
    if convolution.depthwise:
        return tf.nn.depthwise_conv2d(tensor, filter_, strides, convolution.padding,
                                      dilations=list(convolution.dilations))
    return tf.nn.conv2d(tensor, filter_, strides, convolution.padding, dilations=[1, *convolution.dilations, 1])


def _run(node: dict, inputs: List, weights: Dict[str, np.ndarray]):
    """One non-convolution op of the graph on one sample's tensors."""
    import tensorflow as tf

    op = node["op"]
    if op == "BiasAdd":
        return inputs[0] + weights[node["input"][1]]
    if op == "Relu":
        return tf.nn.relu(inputs[0])
    if op == "Relu6":
        return tf.nn.relu6(inputs[0])
    if op in ("Add", "AddV2"):
        return inputs[0] + inputs[1]
    if op == "Pad":
        return tf.pad(inputs[0], weights[node["input"][1]])
    attributes = node.get("attr", {})  # MaxPool
    size = [int(v) for v in attributes["ksize"]["list"]["i"]]
    strides = [int(v) for v in attributes["strides"]["list"]["i"]]
    return tf.nn.max_pool2d(inputs[0], size, strides, node_padding(node))


def round_on_twin(
    model: TfjsModel, nodes: List[dict], layers: Sequence[Convolution], float_layers: Sequence[Convolution],
    inputs: Sequence[np.ndarray], ranges: Dict[str, Tuple[float, float]],
) -> Dict[str, np.ndarray]:
    """New filters and biases (keyed like `model.weights`) for `layers`, each fitted and rounded on the int8
    twin's input as described above. `float_layers` stay float in the int8 model; `nodes` are the graph's
    nodes in order (`tfjs_graph.runnable_nodes`); `ranges` the calibration's (min, max) of every tensor
    of `stored_tensors`. Raises ModelFormatError when a layer is fed through an op the twin cannot run."""
    weights = dict(model.weights)
    rounded = {c.name: c for c in layers}
    kept = {c.name: c for c in float_layers}
    pending: Dict[str, int] = {}  # tensor -> consumers still to run, to free it after the last
    consumers: Dict[str, List[dict]] = {}
    for node in nodes:
        for name in node.get("input", []):
            pending[name] = pending.get(name, 0) + 1
            consumers.setdefault(name, []).append(node)
    floats: Dict[str, list] = {}
    twins: Dict[str, list] = {}
    int8: Dict[str, bool] = {}  # tensor -> computed by int8 kernels in the converted model
    changed: Dict[str, np.ndarray] = {}
    for node in nodes:
        op, name, sources = node.get("op"), node["name"], node.get("input", [])
        if op == "Const":
            continue
        if op == "Placeholder":
            floats[name] = twins[name] = list(inputs)
            int8[name] = False
            continue
        data = [source for source in sources if source not in weights]
        if any(source not in floats for source in data):
            if name in rounded:
                missing = next(s for s in data if s not in floats)
                raise ModelFormatError(f"{model.path}: {name} reads {missing}, computed by an op the int8 twin "
                                       "cannot run")
            continue  # an op beyond the convolutions' reach (the part offsets' clipping): not needed
        if name in rounded or name in kept:
            convolution = rounded.get(name) or kept[name]
            source = data[0]
            float_in, twin_in = floats[source], twins[source]
            if name in rounded:
                low, high = ranges[source]
                twin_in = [fake_quantise(t, low, high) for t in twin_in]  # the int8 kernel's input
                accumulator = HessianAccumulator(convolution, weights[convolution.weight].shape[:2])
                for f, t in zip(float_in, twin_in):
                    accumulator.add(f, t)
                update = corrected(weights, convolution, accumulator)
                changed.update(update)
                twin_filter = update[convolution.weight]
                weights.update({k: v for k, v in update.items() if k != convolution.weight})  # the new bias
            else:
                twin_filter = weights[convolution.weight]
            filter_ = model.weights[convolution.weight]
            floats[name] = [_convolve(f, filter_, convolution) for f in float_in]
            twins[name] = [_convolve(t, twin_filter, convolution) for t in twin_in]
            int8[name] = name in rounded
        elif op in _ELEMENTWISE:
            floats[name] = [_run(node, list(values), model.weights) for values in zip(*(floats[s] for s in data))]
            twins[name] = [_run(node, list(values), weights) for values in zip(*(twins[s] for s in data))]
            int8[name] = any(int8[s] for s in data)
            fused = any(c.get("op") in _FUSED_AFTER for c in consumers.get(name, []))
            if int8[name] and not fused and op not in _SAME_LEVELS:
                low, high = ranges[name]
                twins[name] = [fake_quantise(t, low, high) for t in twins[name]]
        else:
            continue
        for source in data:
            pending[source] -= 1
            if pending[source] == 0:
                floats.pop(source, None)
                twins.pop(source, None)
    log.info("GPTQ fitted %d convolutions on the int8 twin's inputs", len(layers))
    return changed
