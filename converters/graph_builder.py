"""A TensorFlow function computing a BodyPix ONNX graph, kept in NHWC throughout.

The exports transpose the NHWC input to NCHW, run NCHW convolutions and
transpose each head back. TensorFlow's CPU kernels (and TFLite) want NHWC, so
every tensor stays physically NHWC here and only its logical layout is
tracked: the transposes become no-ops, convolution weights are permuted once,
and the segment head's Shape/Gather/Reshape (a transpose in disguise) too.
"""

from __future__ import annotations

from typing import Dict, Tuple

import numpy as np

from edge_bodypix.errors import ModelFormatError

from .onnx_reader import OnnxGraph

NCHW_TO_NHWC = (0, 2, 3, 1)
NHWC_TO_NCHW = (0, 3, 1, 2)


def _nchw_constant(value: np.ndarray) -> np.ndarray:
    return np.transpose(value, NCHW_TO_NHWC) if value.ndim == 4 else value


def build_function(graph: OnnxGraph):
    """A `tf.function` from an NHWC float image batch to a dict of NHWC outputs named by role."""
    import tensorflow as tf

    def conv(x, node) -> "tf.Tensor":
        weight = graph.constants[node.inputs[1]]
        bias = graph.constants[node.inputs[2]] if len(node.inputs) > 2 else None
        a = node.attributes
        group = int(a.get("group", 1))
        strides = list(a.get("strides", [1, 1]))
        dilations = list(a.get("dilations", [1, 1]))
        auto_pad = a.get("auto_pad", b"NOTSET")
        auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else auto_pad
        pads = list(a.get("pads", [0, 0, 0, 0]))
        if auto_pad in ("SAME_UPPER",):
            padding = "SAME"
        elif auto_pad in ("VALID",) or (auto_pad == "NOTSET" and not any(pads)):
            padding = "VALID"
        elif auto_pad == "NOTSET":
            x = tf.pad(x, [[0, 0], [pads[0], pads[2]], [pads[1], pads[3]], [0, 0]])
            padding = "VALID"
        else:
            raise ModelFormatError(f"{graph.path}: {node.name} uses auto_pad {auto_pad}")
        out_channels, in_per_group = weight.shape[:2]
        in_channels = in_per_group * group
        if group == 1:
            kernel = np.transpose(weight, (2, 3, 1, 0))  # OIHW -> HWIO
            y = tf.nn.conv2d(x, tf.constant(kernel), strides=[1, *strides, 1], padding=padding,
                             dilations=[1, *dilations, 1])
        elif group == in_channels and in_per_group == 1:
            multiplier = out_channels // in_channels
            kernel = np.transpose(weight.reshape(in_channels, multiplier, *weight.shape[2:]), (2, 3, 0, 1))
            y = tf.nn.depthwise_conv2d(x, tf.constant(kernel), strides=[1, *strides, 1], padding=padding,
                                       dilations=dilations)
        else:
            raise ModelFormatError(f"{graph.path}: {node.name} is a grouped convolution TFLite cannot express")
        return y if bias is None else tf.nn.bias_add(y, tf.constant(bias))

    @tf.function(input_signature=[tf.TensorSpec([1, None, None, 3], tf.float32, name="image")])
    def bodypix(image):
        values: Dict[str, Tuple[object, str]] = {graph.input_name: (image, "NHWC")}

        def value(name):
            if name in values:
                return values[name]
            if name in graph.constants:
                return graph.constants[name], "CONST"
            raise ModelFormatError(f"{graph.path}: {name} is used before it is computed")

        for node in graph.nodes:
            x, layout = value(node.inputs[0])
            if node.op == "Transpose":
                perm = tuple(node.attributes["perm"])
                if perm == NHWC_TO_NCHW and layout == "NHWC":
                    result = (x, "NCHW")
                elif perm == NCHW_TO_NHWC and layout == "NCHW":
                    result = (x, "NHWC")
                else:
                    raise ModelFormatError(f"{graph.path}: transpose {perm} of a {layout} tensor in {node.name}")
            elif node.op == "Conv":
                if layout != "NCHW":
                    raise ModelFormatError(f"{graph.path}: {node.name} convolves a {layout} tensor")
                result = (conv(x, node), "NCHW")
            elif node.op == "Clip":
                low = node.attributes.get("min", float(graph.constants[node.inputs[1]]) if len(node.inputs) > 1 else None)
                high = node.attributes.get("max", float(graph.constants[node.inputs[2]]) if len(node.inputs) > 2 else None)
                result = (tf.nn.relu6(x) if (low, high) == (0.0, 6.0) else tf.clip_by_value(x, low, high), layout)
            elif node.op == "Relu":
                result = (tf.nn.relu(x), layout)
            elif node.op in ("Min", "Max"):
                other, other_layout = value(node.inputs[1])
                if other_layout == "CONST":
                    other = tf.constant(_nchw_constant(other) if layout == "NCHW" else other, dtype=tf.float32)
                result = ((tf.minimum if node.op == "Min" else tf.maximum)(x, other), layout)
            elif node.op == "Shape":
                result = (("shape-of", node.inputs[0]), "SHAPE")
            elif node.op == "Gather":
                perm = tuple(int(i) for i in graph.constants[node.inputs[1]].ravel())
                result = (("gathered-shape", x[1], perm), "SHAPE")
            elif node.op == "Reshape":
                target, target_layout = value(node.inputs[1])
                if target_layout == "SHAPE" and target[0] == "gathered-shape" and target[1] == node.inputs[0] \
                        and target[2] == NCHW_TO_NHWC and layout == "NCHW":
                    result = (x, "NHWC")  # reshape to the permuted own shape: a transpose, here a no-op
                else:
                    raise ModelFormatError(f"{graph.path}: unsupported reshape {node.name}")
            else:  # pragma: no cover - read_onnx rejects other ops
                raise ModelFormatError(f"{graph.path}: unsupported op {node.op}")
            values[node.outputs[0]] = result
        outputs = {}
        for name in graph.outputs:
            tensor, layout = values[name]
            if layout != "NHWC":
                raise ModelFormatError(f"{graph.path}: output {name} ends in {layout} layout")
            outputs[name] = tf.identity(tensor, name=name)
        return outputs

    return bodypix
