"""BodyPix networks with generated weights, for timing combinations whose checkpoints are not here.

The layer layout is PoseNet / BodyPix MobileNetV1's (a stride-2 3x3 conv, then
13 depthwise-separable blocks, channels scaled by the multiplier, strides
turned into dilation once the output stride is reached) with BodyPix's eight
1x1 heads; ResNet50 uses the official topology in ../shared with weights drawn
to its manifest. Weights are random: such models are for latency only and
must never be given an accuracy figure.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Tuple

import numpy as np

from edge_bodypix.backends.roles import ROLES

# (kind, stride, output channels at multiplier 1.0), as in body-pix's mobilenet.ts
MOBILENET_V1: List[Tuple[str, int, int]] = [
    ("conv2d", 2, 32), ("separable", 1, 64), ("separable", 2, 128), ("separable", 1, 128),
    ("separable", 2, 256), ("separable", 1, 256), ("separable", 2, 512), ("separable", 1, 512),
    ("separable", 1, 512), ("separable", 1, 512), ("separable", 1, 512), ("separable", 1, 512),
    ("separable", 2, 1024), ("separable", 1, 1024),
]
HEADS = ROLES  # one 1x1 convolution head per BodyPix output role, with its channel count


def mobilenet_function(multiplier: float, output_stride: int, seed: int = 0):
    """A `tf.function` (NHWC normalised image -> outputs by role) of MobileNetV1 BodyPix with random weights."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    layers = []
    channels_in, current_stride, rate = 3, 1, 1
    for kind, stride, channels in MOBILENET_V1:
        channels_out = max(8, int(channels * multiplier))
        if current_stride == output_stride:  # keep the resolution: dilate instead of striding
            layer_stride, layer_rate = 1, rate
            rate *= stride
        else:
            layer_stride, layer_rate = stride, 1
            current_stride *= stride
        if kind == "conv2d":
            kernel = rng.standard_normal((3, 3, channels_in, channels_out)).astype(np.float32) * 0.1
            layers.append(("conv2d", layer_stride, layer_rate, tf.constant(kernel), None))
        else:
            depthwise = rng.standard_normal((3, 3, channels_in, 1)).astype(np.float32) * 0.3
            pointwise = (rng.standard_normal((1, 1, channels_in, channels_out)) / np.sqrt(channels_in)).astype(np.float32)
            layers.append(("separable", layer_stride, layer_rate, tf.constant(depthwise), tf.constant(pointwise)))
        channels_in = channels_out
    heads = {role: (tf.constant((rng.standard_normal((1, 1, channels_in, n)) / np.sqrt(channels_in)).astype(np.float32)),
                    tf.constant(np.zeros(n, np.float32)))
             for role, n in HEADS.items()}

    @tf.function(input_signature=[tf.TensorSpec([1, None, None, 3], tf.float32, name="image")])
    def bodypix(image):
        x = image
        for kind, stride, rate, first, second in layers:
            if kind == "conv2d":
                x = tf.nn.relu6(tf.nn.conv2d(x, first, [1, stride, stride, 1], "SAME"))
            else:
                x = tf.nn.relu6(tf.nn.depthwise_conv2d(x, first, [1, stride, stride, 1], "SAME",
                                                       dilations=[rate, rate]))
                x = tf.nn.relu6(tf.nn.conv2d(x, second, [1, 1, 1, 1], "SAME"))
        return {role: tf.identity(tf.nn.bias_add(tf.nn.conv2d(x, kernel, [1, 1, 1, 1], "SAME"), bias), name=role)
                for role, (kernel, bias) in heads.items()}

    return bodypix


def resnet50_model(topology: Path, seed: int = 0):
    """The official ResNet50 topology (a tfjs model.json without its shards) as a `TfjsModel` with weights
    drawn to its manifest: small normal filters and biases, the Pad ops' paddings (3 around conv1, 1
    elsewhere) as the official weights hold them."""
    from .tfjs_reader import TfjsModel

    data = json.loads(Path(topology).read_text())
    rng = np.random.default_rng(seed)
    weights = {}
    for spec in data["weightsManifest"][0]["weights"]:
        if spec["dtype"] == "int32":
            pad = 3 if spec["name"] == "resnet_v1_50/Pad/paddings" else 1
            weights[spec["name"]] = np.array([[0, 0], [pad, pad], [pad, pad], [0, 0]], np.int32)
        else:
            weights[spec["name"]] = (rng.standard_normal(spec["shape"]) * 0.02).astype(np.float32)
    return TfjsModel(Path(topology), data["modelTopology"], weights)
