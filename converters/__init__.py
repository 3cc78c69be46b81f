"""Workstation converters: BodyPix checkpoints to TFLite (float32, float16, dynamic-range, full-integer int8).

This package may import TensorFlow (the `convert` extra); the runtime never
imports it. Steps are separate modules: read a checkpoint (`onnx_reader`),
build a TensorFlow graph (`graph_builder`), convert and quantise
(`tflite_export`), calibrate (`calibration`), report fidelity (`fidelity`),
and `pipeline` strings them together for `edge-bodypix convert`.
"""

import os

#: TensorFlow's own CPU kernel for DepthwiseConv2dNative refuses dilations; its oneDNN kernel runs them, and the
#: stride-8 checkpoints dilate their depthwise layers. TensorFlow turns oneDNN on by itself only on CPUs with
#: AVX-512 VNNI/BF16 or AMX, so it is asked for here, before TensorFlow loads (it reads this once, at import).
ONEDNN_ENV = "TF_ENABLE_ONEDNN_OPTS"
os.environ.setdefault(ONEDNN_ENV, "1")
