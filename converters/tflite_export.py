"""TensorFlow function -> TFLite flatbuffer in one of four quantisations, with its output map."""

from __future__ import annotations

import shutil
import tempfile
from typing import Callable, Dict, Iterable, List, Optional, Tuple

import numpy as np

from edge_bodypix.errors import InvalidParameterError

QUANTISATIONS = ("float32", "float16", "dynamic", "int8")


def convert(
    function, quantisation: str, representative: Optional[Callable[[], Iterable[List[np.ndarray]]]] = None,
    io_type: str = "uint8", per_tensor: bool = False, input_size: Optional[Tuple[int, int]] = None,
) -> bytes:
    """Convert a `tf.function` (NHWC image -> dict of outputs) to a TFLite model."""
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
        converter = tf.lite.TFLiteConverter.from_saved_model(saved)
        return _quantise_and_convert(converter, quantisation, representative, io_type, per_tensor)
    finally:
        shutil.rmtree(saved, ignore_errors=True)


def _quantise_and_convert(converter, quantisation, representative, io_type, per_tensor) -> bytes:
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
    return converter.convert()


def output_map(model: bytes) -> Dict[str, str]:
    """Role -> output tensor name, from the model's serving signature (conversion renames tensors)."""
    from edge_bodypix.backends.tflite.interpreter_library import interpreter_library

    with tempfile.NamedTemporaryFile(suffix=".tflite") as handle:
        handle.write(model)
        handle.flush()
        interpreter = interpreter_library().interpreter_class(model_path=handle.name)
        signature = interpreter._get_full_signature_list()  # noqa: SLF001 - the public API hides indices
        outputs = next(iter(signature.values()))["outputs"]
        details = {d["index"]: d["name"] for d in interpreter.get_output_details()}
    return {role: details[index] for role, index in outputs.items()}
