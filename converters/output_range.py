"""The person logits' int8 range trimmed to where they still say something: finer steps near the threshold.

TFLite gives the segment head's int8 output the range its calibration saw, about [-13.5, 9] on BodyPix,
so one step is 0.08-0.09 logits, a rounding error of up to 0.045 added to every person logit where the
mask's edge is decided (the segment-logit error near the threshold is 0.06-0.08 in all). Beyond +-8 a
logit is a probability within 0.0004 of 0 or 1, which no threshold a user can set tells apart (body-pix's
segmentationThreshold is a probability; 0.9996 is the highest that still sees a difference). Trimming the
range to [-8, 8] (keeping a calibrated bound that lies inside) makes the step 25-30% finer; the logits
beyond it saturate at +-8. Measured on held-out photos (README "Converting checkpoints"): error near the
threshold 0.073 -> 0.069 on quant2 0.75 stride 16. The model's operations do not change: only the
quantisation parameters of the tensors carrying the output (the head's int8 result and the uint8 or
float output converted from it).
"""

from __future__ import annotations

from typing import Dict, Tuple

import numpy as np

from .tflite_export import flatbuffer_tree

#: |logit| beyond which the segment output saturates
LOGIT_LIMIT = 8.0


def trim_output_range(model: bytes, role: str = "segments", limit: float = LOGIT_LIMIT) -> Tuple[bytes, Dict]:
    """`model` with the int8/uint8 tensors that carry output `role` (by serving-signature name) requantised
    to [max(low, -limit), min(high, limit)] of their calibrated [low, high], and what changed. A float model,
    or one whose output range lies inside the limits already, is returned as it is."""
    from tensorflow.lite.tools import flatbuffer_utils

    tree, codes, schema = flatbuffer_tree(model)
    graph = tree.subgraphs[0]
    levels = {schema.TensorType.INT8: (-128, 127), schema.TensorType.UINT8: (0, 255)}  # each type's integers
    outputs = {entry.name.decode() if isinstance(entry.name, bytes) else entry.name: entry.tensorIndex
               for entry in tree.signatureDefs[0].outputs}
    if role not in outputs:
        return model, {}
    producers = {index: operator for operator in graph.operators for index in operator.outputs}
    chain = [outputs[role]]  # the output and, through (de)quantisation ops, the tensor computed by the head
    requantising = (schema.BuiltinOperator.QUANTIZE, schema.BuiltinOperator.DEQUANTIZE)
    while chain[-1] in producers and codes[producers[chain[-1]].opcodeIndex] in requantising:
        chain.append(producers[chain[-1]].inputs[0])
    readers = [operator for operator in graph.operators if set(operator.inputs) & set(chain)]
    if len(readers) > len(chain) - 1:  # something else reads these tensors: trimming would change it too
        return model, {}
    quantised = [graph.tensors[index] for index in chain if graph.tensors[index].type in levels
                 and graph.tensors[index].quantization is not None
                 and len(graph.tensors[index].quantization.scale or []) == 1]
    if not quantised:
        return model, {}
    first = quantised[0]
    lowest, highest = levels[first.type]
    scale, zero = float(first.quantization.scale[0]), int(first.quantization.zeroPoint[0])
    low, high = (lowest - zero) * scale, (highest - zero) * scale
    if low >= -limit - scale / 2 and high <= limit + scale / 2:  # inside already, to the half step a 0 level costs
        return model, {}
    new_low, new_high = max(low, -limit), min(high, limit)
    new_scale = np.float32((new_high - new_low) / 255)
    for tensor in quantised:
        lowest, _ = levels[tensor.type]
        tensor.quantization.scale = [float(new_scale)]
        tensor.quantization.zeroPoint = [int(round(lowest - new_low / float(new_scale)))]  # 0 on a level
    lowest, highest = levels[first.type]
    zero = first.quantization.zeroPoint[0]
    kept = [(lowest - zero) * float(new_scale), (highest - zero) * float(new_scale)]  # within half a step of the aim
    change = {"role": role, "calibrated": [round(low, 3), round(high, 3)], "kept": [round(v, 3) for v in kept],
              "step": [round(scale, 4), round(float(new_scale), 4)]}
    return flatbuffer_utils.convert_object_to_bytearray(tree), change
