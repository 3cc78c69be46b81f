"""int8 weight rounding that keeps each convolution's output, not each weight, closest to float (GPTQ).

TFLite quantises a convolution's weights per output channel onto a symmetric int8
grid, `k * max|w| / 127` with |k| <= 127, and rounds every weight to its nearest
grid point. That is the best choice per weight but not per output: the errors of
the 9 taps of a depthwise kernel, or of a 1x1 convolution's inputs, add up on
correlated inputs (neighbouring pixels, co-active channels). On BodyPix the
early depthwise layers' rounding alone moves the person logits by about 0.1
(rounding only that layer's weights, official quant2 0.75 stride 8).

GPTQ (Frantar et al. 2022, after Optimal Brain Quantization) rounds the weights
of each output channel one input at a time and spreads the rounding error over
the inputs not yet rounded, weighted by the inverse of the input's second
moments H = sum(x x^T) measured on calibration inputs. The result lies on the
same grid with the same scale, so the converter's own quantisation reproduces it
exactly and the model's size and speed are unchanged; only the rounding
direction of some weights differs. Inputs are those of the float network. What
rounding still shifts on average, (w - q) . E[x] per output channel, is added to
the layer's bias (bias correction, Nagel et al. 2019), so the calibration
inputs' mean output stays that of float.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from edge_bodypix.errors import ModelFormatError

#: how int8 weights are rounded: GPTQ (tfjs checkpoints, per-channel) or TFLite's round-to-nearest
WEIGHT_ROUNDINGS = ("gptq", "nearest")
INT8_LEVELS = 127  # TFLite's symmetric per-channel weight range [-127, 127]
DAMPING = 0.01  # added to H's diagonal, as a share of its mean: keeps the inverse stable for dead inputs


@dataclass(frozen=True)
class Convolution:
    """One convolution of a graph: its node, its filter (weights dict key) and how it slides."""

    name: str
    weight: str
    depthwise: bool
    strides: Tuple[int, int]
    dilations: Tuple[int, int]
    padding: str  # "SAME" or "VALID"
    input_tensor: str
    bias: Optional[str] = None  # weights dict key of the bias added to its output, if any


def int8_scales(rows: np.ndarray) -> np.ndarray:
    """Per-row (output channel) grid step as TFLite chooses it: max |w| / 127 (1 for an all-zero row)."""
    peak = np.abs(rows).max(axis=1)
    return np.where(peak > 0, peak / INT8_LEVELS, 1.0)


def gptq(rows: np.ndarray, hessian: np.ndarray, damping: float = DAMPING) -> np.ndarray:
    """Round `rows` (output channels x inputs) onto their int8 grids, minimising (w - q)^T H (w - q) per row.

    `hessian` is one (inputs x inputs) matrix shared by all rows (a full convolution) or one per row
    (rows x inputs x inputs, a depthwise one). Returns float64 values exactly on each row's grid. Each row's
    largest weight stays at +-127 steps (it takes no error from the others), so the converter, which
    derives the scale from the largest weight, finds the same grid."""
    work = rows.astype(np.float64).copy()
    scales = int8_scales(work)
    free = np.ones(work.shape, bool)
    free[np.arange(len(work)), np.abs(work).argmax(axis=1)] = False
    h = hessian.astype(np.float64).copy()
    diagonal = np.arange(work.shape[1])
    batched = h.ndim == 3
    if batched:
        h[:, diagonal, diagonal] += damping * h[:, diagonal, diagonal].mean(axis=1, keepdims=True) + 1e-12
        upper = np.linalg.cholesky(np.linalg.inv(h)).transpose(0, 2, 1)
    else:
        h[diagonal, diagonal] += damping * h[diagonal, diagonal].mean() + 1e-12
        upper = np.linalg.cholesky(np.linalg.inv(h)).T
    rounded = np.empty_like(work)
    for i in diagonal:
        column = work[:, i]
        rounded[:, i] = np.clip(np.round(column / scales), -INT8_LEVELS, INT8_LEVELS) * scales
        pivot = upper[:, i, i] if batched else upper[i, i]
        following = upper[:, i, i + 1:] if batched else upper[i, i + 1:][np.newaxis]
        work[:, i + 1:] -= ((column - rounded[:, i]) / pivot)[:, np.newaxis] * following * free[:, i + 1:]
    return rounded


def _rows(filter_: np.ndarray, depthwise: bool) -> np.ndarray:
    """A TensorFlow filter as rows per output channel: HWIO -> (O, H*W*I); depthwise HWC1 -> (C, H*W)."""
    height, width, channels, multiplier = filter_.shape
    if depthwise:
        if multiplier != 1:
            raise ModelFormatError(f"GPTQ rounds depthwise filters of channel multiplier 1, not {multiplier}")
        return filter_.reshape(height * width, channels).T
    return filter_.reshape(height * width * channels, multiplier).T


def round_filter(filter_: np.ndarray, hessian: np.ndarray, depthwise: bool) -> np.ndarray:
    """A TensorFlow filter (HWIO, or HWC1 when depthwise) with its weights rounded by `gptq`, as float32."""
    rounded = gptq(_rows(filter_, depthwise), hessian)
    return rounded.T.reshape(filter_.shape).astype(np.float32)


class HessianAccumulator:
    """Sums H = x x^T (and x, for the mean) over every position a convolution's filter sees, from its input
    tensors (NHWC)."""

    def __init__(self, convolution: Convolution, kernel: Tuple[int, int]):
        self.convolution = convolution
        self.kernel = kernel
        self.total = None
        self.sum = None
        self.positions = 0

    def add(self, tensor) -> None:
        import tensorflow as tf

        c = self.convolution
        height, width = self.kernel
        if (height, width, *c.strides) == (1, 1, 1, 1):
            patches = np.asarray(tensor).reshape(-1, tensor.shape[-1])
        else:
            patches = tf.image.extract_patches(tensor, [1, height, width, 1], [1, *c.strides, 1],
                                               [1, *c.dilations, 1], c.padding).numpy()
            patches = patches.reshape(-1, patches.shape[-1])  # (positions, H*W*C), tap-major like the filter
        patches = patches.astype(np.float64)
        if c.depthwise:
            taps = patches.reshape(len(patches), height * width, -1)
            update = np.einsum("pic,pjc->cij", taps, taps)
            summed = taps.sum(axis=0).T  # (channels, taps), like the filter's rows
        else:
            update = patches.T @ patches
            summed = patches.sum(axis=0)
        self.total = update if self.total is None else self.total + update
        self.sum = summed if self.sum is None else self.sum + summed
        self.positions += len(patches)

    def mean_shift(self, filter_: np.ndarray, rounded: np.ndarray) -> np.ndarray:
        """Per output channel, how much rounding moves the output's mean: (w - q) . E[x]."""
        depthwise = self.convolution.depthwise
        difference = _rows(filter_.astype(np.float64), depthwise) - _rows(rounded.astype(np.float64), depthwise)
        mean = self.sum / max(self.positions, 1)
        return (difference * mean).sum(axis=1) if depthwise else difference @ mean


def round_weights(
    weights: Dict[str, np.ndarray], convolutions: Sequence[Convolution],
    probe: Callable[[np.ndarray], List[np.ndarray]], inputs: Iterable[np.ndarray],
) -> Dict[str, np.ndarray]:
    """New filters for `convolutions`, GPTQ-rounded on their float input tensors, and their biases corrected
    for the mean shift that rounding leaves (keyed like `weights`).

    `probe(image)` returns each convolution's input tensor for one pre-processed image (NHWC
    float32), in the order of `convolutions`."""
    accumulators = [HessianAccumulator(c, weights[c.weight].shape[:2]) for c in convolutions]
    for image in inputs:
        for accumulator, tensor in zip(accumulators, probe(image)):
            accumulator.add(tensor)
    changed: Dict[str, np.ndarray] = {}
    for accumulator in accumulators:
        c = accumulator.convolution
        if accumulator.total is None:
            continue
        filter_ = weights[c.weight]
        changed[c.weight] = round_filter(filter_, accumulator.total, c.depthwise)
        if c.bias is not None:
            shift = accumulator.mean_shift(filter_, changed[c.weight])
            changed[c.bias] = (weights[c.bias].astype(np.float64) + shift.reshape(weights[c.bias].shape)).astype(np.float32)
    return changed
