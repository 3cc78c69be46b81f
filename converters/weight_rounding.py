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

#: how int8 weights are rounded: GPTQ fitted on the int8 twin's layer inputs (`int8_twin`, the default; tfjs
#: checkpoints, per-channel), GPTQ on the float graph's layer inputs, or TFLite's round-to-nearest
WEIGHT_ROUNDINGS = ("gptq-twin", "gptq", "nearest")
INT8_LEVELS = 127  # TFLite's symmetric per-channel weight range [-127, 127]
DAMPING = 0.01  # added to H's diagonal, as a share of its mean: keeps the inverse stable for dead inputs
#: `reproducing_rows`' pulls towards the float weights, as shares of H's mean diagonal
RIDGES = (1.0, 0.3, 0.1, 0.03)


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
    grid_step: Optional[float] = None  # the checkpoint's own weight grid (uint8 tfjs weights), if any


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


def exact_rows(rows: np.ndarray, step: float) -> np.ndarray:
    """Which rows lie on the grid `k * step` with |k| <= 127 (to float32 round-off): their int8 form on that
    grid is exact (`checkpoint_grid`)."""
    levels = rows.astype(np.float64) / step
    whole = np.round(levels)
    return (np.abs(whole).max(axis=1) <= INT8_LEVELS) & (np.abs(levels - whole).max(axis=1) < 1e-3)


def filter_rows(filter_: np.ndarray, depthwise: bool) -> np.ndarray:
    """A TensorFlow filter as rows per output channel: HWIO -> (O, H*W*I); depthwise HWC1 -> (C, H*W)."""
    height, width, channels, multiplier = filter_.shape
    if depthwise:
        if multiplier != 1:
            raise ModelFormatError(f"GPTQ rounds depthwise filters of channel multiplier 1, not {multiplier}")
        return filter_.reshape(height * width, channels).T
    return filter_.reshape(height * width * channels, multiplier).T


class HessianAccumulator:
    """Sums, over every position a convolution's filter sees, the second moments H = x x^T of its input
    tensors (NHWC) and their sum (for the mean).

    With the int8 twin's input beside the float one (`add(float, twin)`), H is that of the twin's input,
    the inputs the int8 kernel really multiplies, and the cross moments C = x_float x_twin^T are kept too,
    in two folds (alternate samples), for `reproducing_rows`."""

    def __init__(self, convolution: Convolution, kernel: Tuple[int, int]):
        self.convolution = convolution
        self.kernel = kernel
        self.total = None
        self.sum = None
        self.twin_sum = None
        self.folds: List[List[np.ndarray]] = []  # per fold [H, C], with a twin
        self.positions = 0
        self.samples = 0

    def _patches(self, tensor) -> np.ndarray:
        """(positions, H*W*C) windows of `tensor` as the filter sees them, tap-major like the filter."""
        import tensorflow as tf

        c = self.convolution
        height, width = self.kernel
        if (height, width, *c.strides) == (1, 1, 1, 1):
            return np.asarray(tensor, np.float64).reshape(-1, tensor.shape[-1])
        patches = tf.image.extract_patches(tensor, [1, height, width, 1], [1, *c.strides, 1],
                                           [1, *c.dilations, 1], c.padding).numpy()
        return patches.reshape(-1, patches.shape[-1]).astype(np.float64)

    def _moments(self, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        if not self.convolution.depthwise:
            return left.T @ right
        taps = self.kernel[0] * self.kernel[1]
        return np.einsum("pic,pjc->cij", left.reshape(len(left), taps, -1), right.reshape(len(right), taps, -1))

    def _summed(self, patches: np.ndarray) -> np.ndarray:
        if not self.convolution.depthwise:
            return patches.sum(axis=0)
        return patches.reshape(len(patches), self.kernel[0] * self.kernel[1], -1).sum(axis=0).T  # (channels, taps)

    def add(self, tensor, twin=None) -> None:
        floats = self._patches(tensor)
        twins = floats if twin is None else self._patches(twin)
        second = self._moments(twins, twins)
        summed = self._summed(floats)
        self.total = _added(self.total, second)
        self.sum = _added(self.sum, summed)
        self.twin_sum = _added(self.twin_sum, summed if twin is None else self._summed(twins))
        if twin is not None:
            if len(self.folds) < 2:
                self.folds.append([second, self._moments(floats, twins)])
            else:
                fold = self.folds[self.samples % 2]
                fold[0] = fold[0] + second
                fold[1] = fold[1] + self._moments(floats, twins)
        self.positions += len(floats)
        self.samples += 1

    def mean_shift(self, filter_: np.ndarray, rounded: np.ndarray) -> np.ndarray:
        """Per output channel, how far the rounded filter on the (twin's) inputs misses float's mean output:
        w . E[x] - q . E[x_twin]."""
        depthwise = self.convolution.depthwise
        count = max(self.positions, 1)
        original = filter_rows(filter_.astype(np.float64), depthwise)
        kept = filter_rows(rounded.astype(np.float64), depthwise)
        mean, twin_mean = self.sum / count, self.twin_sum / count
        if depthwise:
            return (original * mean).sum(axis=1) - (kept * twin_mean).sum(axis=1)
        return original @ mean - kept @ twin_mean

    def round(self, filter_: np.ndarray) -> np.ndarray:
        """`filter_` GPTQ-rounded on these inputs; with a twin, first refitted by `reproducing_rows`. Rows
        the checkpoint's own grid holds exactly in int8 (`checkpoint_grid`) are kept as they are."""
        original = filter_rows(filter_, self.convolution.depthwise)
        rows = original
        if len(self.folds) == 2:
            rows = reproducing_rows(rows, [tuple(fold) for fold in self.folds])
        rounded = gptq(rows, self.total)
        if self.convolution.grid_step:
            exact = exact_rows(original, self.convolution.grid_step)
            rounded[exact] = original[exact]
        return rounded.T.reshape(filter_.shape).astype(np.float32)


def _added(total, update):
    return update if total is None else total + update


def _fitted(w: np.ndarray, hessian: np.ndarray, cross: np.ndarray, ridge: float) -> np.ndarray:
    """argmin over w' of |X_f w - X_q w'|^2 + lambda |w' - w|^2 = (H + lambda)^-1 (C^T w + lambda w), with
    H = X_q^T X_q, C = X_f^T X_q (one shared, or one per row as in `gptq`), lambda = ridge x mean diag H."""
    diagonal = np.arange(w.shape[1])
    h = hessian.copy()
    if h.ndim == 3:
        pull = ridge * h[:, diagonal, diagonal].mean(axis=1, keepdims=True) + 1e-12
        h[:, diagonal, diagonal] += pull
        target = np.einsum("ci,cij->cj", w, cross) + pull * w
        return np.linalg.solve(h, target[..., np.newaxis])[..., 0]
    pull = ridge * h[diagonal, diagonal].mean() + 1e-12
    h[diagonal, diagonal] += pull
    return np.linalg.solve(h, (w @ cross + pull * w).T).T


def _miss(v: np.ndarray, w: np.ndarray, hessian: np.ndarray, cross: np.ndarray) -> np.ndarray:
    """Per row, |X_f w - X_q v|^2 less its part that does not depend on v: v^T H v - 2 w^T C v."""
    if hessian.ndim == 3:
        return np.einsum("ci,cij,cj->c", v, hessian, v) - 2 * np.einsum("ci,cij,cj->c", w, cross, v)
    return ((v @ hessian) * v).sum(axis=1) - 2 * ((w @ cross) * v).sum(axis=1)


def reproducing_rows(rows: np.ndarray, folds: Sequence[Tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """The rows w' that best give, on the int8 twin's inputs x_q, what `rows` w give on float's x_f.

    Each row is refitted with the pull towards w (`_fitted`, one of RIDGES) that misses least on the
    other fold's samples, or kept as it is when no refit does better there: where inputs are many
    (1024 channels) and positions few, a free fit learns the calibration samples' rounding noise.
    `folds`: two (H, C) pairs of disjoint samples."""
    w = rows.astype(np.float64)
    (h_a, c_a), (h_b, c_b) = folds
    misses = [_miss(w, w, h_b, c_b) + _miss(w, w, h_a, c_a)]
    for ridge in RIDGES:
        misses.append(_miss(_fitted(w, h_a, c_a, ridge), w, h_b, c_b)
                      + _miss(_fitted(w, h_b, c_b, ridge), w, h_a, c_a))
    best = np.argmin(np.stack(misses), axis=0)
    result = w.copy()
    hessian, cross = h_a + h_b, c_a + c_b
    for index, ridge in enumerate(RIDGES, start=1):
        chosen = best == index
        if chosen.any():
            shared = hessian.ndim == 2
            result[chosen] = _fitted(w[chosen], hessian if shared else hessian[chosen],
                                     cross if shared else cross[chosen], ridge)
    return result


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
        changed.update(corrected(weights, c, accumulator))
    return changed


def corrected(weights: Dict[str, np.ndarray], convolution: Convolution,
              accumulator: HessianAccumulator) -> Dict[str, np.ndarray]:
    """The convolution's rounded filter and, when it has a bias, the bias that takes up the mean shift."""
    filter_ = weights[convolution.weight]
    changed = {convolution.weight: accumulator.round(filter_)}
    if convolution.bias is not None:
        bias = weights[convolution.bias]
        shift = accumulator.mean_shift(filter_, changed[convolution.weight])
        changed[convolution.bias] = (bias.astype(np.float64) + shift.reshape(bias.shape)).astype(np.float32)
    return changed
