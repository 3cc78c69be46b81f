"""TensorFlow function -> TFLite flatbuffer in one of four quantisations, with its output map."""

from __future__ import annotations

import shutil
import tempfile
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from edge_bodypix.errors import InvalidParameterError

QUANTISATIONS = ("float32", "float16", "dynamic", "int8")
#: MobileNet layers int8 keeps in float by default: the first convolution (a quarter of its output channels
#: peak below 1 of ReLU6's 6, so they get a few of the int8 levels) and the early layers whose quantisation
#: error is largest (per-layer RMSE over the quantisation step, TensorFlow's QuantizationDebugger on the
#: official quant2 0.75 s16 checkpoint: 1-2 steps, against 0.6-0.9 for the later ones). All are cheap in
#: float: a 3-channel 3x3 convolution, three depthwise layers and the first pointwise one. See README
#: "Converting checkpoints" for the held-out figures of every checkpoint.
DEFAULT_FLOAT_LAYERS = ("Conv2d_0", "Conv2d_1_depthwise", "Conv2d_1_pointwise", "Conv2d_2_depthwise",
                        "Conv2d_3_depthwise")
#: At output stride 8, also the rest of the first five blocks (Conv2d_0 to Conv2d_4, up to the first 1x1 at stride
#: 8). The early int8 activations are what the later layers amplify: on the int8 twin of quant1 1.00 stride 8
#: the person-logit error near the threshold is 0.058 with float weights on int8 activations, 0.017 with
#: GPTQ-rounded weights on 16-bit ones. From Conv2d_6 on a stride-8 network runs at 4x the cells of a
#: stride-16 one, so these layers are a small share of its cost (README "Converting checkpoints": quant1 1.00
#: stride 8, logit error 0.071 -> 0.060 at 1.12x the full-integer model's Cortex-A76 instructions).
STRIDE8_FLOAT_LAYERS = DEFAULT_FLOAT_LAYERS + ("Conv2d_2_pointwise", "Conv2d_3_pointwise", "Conv2d_4_depthwise",
                                               "Conv2d_4_pointwise")


def default_float_layers(output_stride: int) -> Tuple[str, ...]:
    """The layers int8 keeps float by default for a network of `output_stride` (`--float-layers`)."""
    return STRIDE8_FLOAT_LAYERS if output_stride == 8 else DEFAULT_FLOAT_LAYERS


def convert(
    function, quantisation: str, representative: Optional[Callable[[], Iterable[List[np.ndarray]]]] = None,
    io_type: str = "uint8", per_tensor: bool = False, input_size: Optional[Tuple[int, int]] = None,
    float_layers: Sequence[str] = (),
) -> bytes:
    """Convert a `tf.function` (NHWC image -> dict of outputs) to a TFLite model.

    With int8, the layers whose names contain one of `float_layers` stay float (selective
    quantisation: TensorFlow's QuantizationDebugger with those layers denylisted); the rest is
    full-integer as without it."""
    import tensorflow as tf

    if quantisation not in QUANTISATIONS:
        raise InvalidParameterError(f"quantisation {quantisation!r} is not one of {', '.join(QUANTISATIONS)}")
    shape = [1, input_size[0], input_size[1], 3] if input_size else [1, None, None, 3]
    concrete = function.get_concrete_function(tf.TensorSpec(shape, tf.float32, name="image"))
    # through a SavedModel, so the serving signature (output names = roles) survives conversion
    module = tf.Module()
    module.bodypix = function
    saved = tempfile.mkdtemp(prefix="edge-bodypix-savedmodel-")
    try:
        tf.saved_model.save(module, saved, signatures={"serving_default": concrete})

        def make_converter():
            return tf.lite.TFLiteConverter.from_saved_model(saved)

        if quantisation == "int8" and float_layers:
            return _selectively_quantised(make_converter, representative, io_type, per_tensor, float_layers)
        return _quantise_and_convert(make_converter(), quantisation, representative, io_type, per_tensor)
    finally:
        shutil.rmtree(saved, ignore_errors=True)


def _quantise_and_convert(converter, quantisation, representative, io_type, per_tensor, convert: bool = True):
    """Set `converter` up for `quantisation` and convert (or, with convert=False, only set it up)."""
    import tensorflow as tf

    if quantisation == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif quantisation == "dynamic":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    elif quantisation == "int8":
        if representative is None:
            raise InvalidParameterError("int8 quantisation needs calibration images")
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        kind = {"uint8": tf.uint8, "int8": tf.int8}.get(io_type)
        if kind is None:
            raise InvalidParameterError(f"io_type {io_type!r} is not uint8 or int8")
        converter.inference_input_type = kind
        converter.inference_output_type = kind
        if per_tensor:
            converter._experimental_disable_per_channel = True  # noqa: SLF001 - TF's only switch for it
    return converter.convert() if convert else None


def _selectively_quantised(make_converter, representative, io_type, per_tensor, float_layers) -> bytes:
    """int8 with the layers named by `float_layers` in float; plain int8 when none of them is in the graph.

    The debugger calibrates once; its layer list names the tensors to denylist, and the model is then
    quantised again from the same calibration with those layers left float. (The debugger leaves its
    converter set to calibrate only, so plain int8 takes a fresh one.)"""
    import csv
    import io
    import itertools

    import tensorflow as tf

    converter = make_converter()
    _quantise_and_convert(converter, "int8", representative, io_type, per_tensor, convert=False)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8, tf.lite.OpsSet.TFLITE_BUILTINS]
    debugger = tf.lite.experimental.QuantizationDebugger(
        converter=converter, debug_dataset=lambda: itertools.islice(representative(), 1))
    debugger.run()  # one input: only to list the quantised layers' tensor names
    dump = io.StringIO()
    debugger.layer_statistics_dump(dump)
    names = [row["tensor_name"] for row in csv.DictReader(io.StringIO(dump.getvalue()))
             if kept_float(row["tensor_name"].split(";")[0], float_layers)]
    if not names:
        return _quantise_and_convert(make_converter(), "int8", representative, io_type, per_tensor)
    debugger.options = tf.lite.experimental.QuantizationDebugOptions(denylisted_nodes=names)
    return debugger.get_nondebug_quantized_model()


def kept_float(name: str, float_layers: Sequence[str]) -> bool:
    """Whether the layer (graph node or TFLite tensor) `name` is one of `float_layers` (named by part)."""
    return any(layer in name for layer in float_layers)


def flatbuffer_tree(model: bytes):
    """(the TFLite model as TensorFlow's mutable object tree, each operator code's builtin operator, TFLite's
    schema for its enums): for edits that change numbers, not operations (`checkpoint_grid`, `output_range`).
    Write it back with `tensorflow.lite.tools.flatbuffer_utils.convert_object_to_bytearray`."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    tree = flatbuffer_utils.convert_bytearray_to_object(model)
    return tree, [max(code.builtinCode, code.deprecatedBuiltinCode) for code in tree.operatorCodes], schema


def _interpreter(model: bytes):
    from edge_bodypix.backends.tflite.interpreter_library import interpreter_library

    with tempfile.NamedTemporaryFile(suffix=".tflite") as handle:
        handle.write(model)
        handle.flush()
        return interpreter_library().interpreter_class(model_path=handle.name)


def output_map(model: bytes) -> Dict[str, str]:
    """Role -> output tensor name, from the model's serving signature (conversion renames tensors)."""
    interpreter = _interpreter(model)
    signature = interpreter._get_full_signature_list()  # noqa: SLF001 - the public API hides indices
    outputs = next(iter(signature.values()))["outputs"]
    details = {d["index"]: d["name"] for d in interpreter.get_output_details()}
    return {role: details[index] for role, index in outputs.items()}


def input_type(model: bytes) -> str:
    """The model's input dtype ("uint8", "int8", "float32"): int8 with float layers keeps float I/O."""
    return np.dtype(_interpreter(model).get_input_details()[0]["dtype"]).name
