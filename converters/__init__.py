"""Workstation converters: BodyPix checkpoints to TFLite (float32, float16, dynamic-range, full-integer int8).

This package may import TensorFlow (the `convert` extra); the runtime never
imports it. Steps are separate modules: read a checkpoint (`onnx_reader`),
build a TensorFlow graph (`graph_builder`), convert and quantise
(`tflite_export`), calibrate (`calibration`), report fidelity (`fidelity`),
and `pipeline` strings them together for `edge-bodypix convert`.
"""
