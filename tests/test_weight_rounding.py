"""GPTQ weight rounding: on TFLite's own int8 grid, closer outputs than rounding to nearest, honest statistics."""

import numpy as np
import pytest

import edge_bodypix.converters  # noqa: F401 - first: sets TensorFlow's CPU kernel options before it loads
from edge_bodypix.converters.weight_rounding import (
    INT8_LEVELS, Convolution, HessianAccumulator, gptq, int8_scales, round_weights,
)

pytestmark = pytest.mark.tensorflow
tf = pytest.importorskip("tensorflow")


def correlated_inputs(rng, count, width, seed=0):
    """Inputs whose components move together, as neighbouring pixels and co-active channels do (the same
    mixing for a given seed: one distribution, samples from `rng`)."""
    mixing = np.random.default_rng(seed).normal(size=(width, width)) * 0.3 + np.eye(width)
    return rng.normal(size=(count, width)) @ mixing + 0.5


def nearest(rows):
    scales = int8_scales(rows)[:, None]
    return np.clip(np.round(rows / scales), -INT8_LEVELS, INT8_LEVELS) * scales


def output_error(x, rows, rounded):
    return float((((x @ (rows - rounded).T)) ** 2).mean())


def test_rounded_weights_lie_on_the_grid_tflite_will_choose_again():
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(16, 48)) * rng.uniform(0.01, 2, size=(16, 1))
    x = correlated_inputs(rng, 2000, 48)
    rounded = gptq(rows, x.T @ x)
    steps = rounded / int8_scales(rows)[:, None]
    assert np.allclose(steps, np.round(steps), atol=1e-9) and np.abs(np.round(steps)).max() == INT8_LEVELS
    # the converter's per-channel scale, max |w| / 127, comes out the same: its own rounding changes nothing
    assert np.allclose(int8_scales(rounded), int8_scales(rows), rtol=1e-12)
    assert np.allclose(nearest(rounded), rounded, rtol=0, atol=1e-12)


def test_gptq_keeps_a_full_convolution_s_output_closer_to_float_than_rounding_to_nearest():
    rng = np.random.default_rng(1)
    rows = rng.normal(size=(32, 96))
    x = correlated_inputs(rng, 4000, 96)
    held_out = correlated_inputs(np.random.default_rng(2), 4000, 96)  # same distribution, other samples
    ours, theirs = gptq(rows, x.T @ x), nearest(rows)
    assert output_error(x, rows, ours) < 0.6 * output_error(x, rows, theirs)  # measured: 0.48
    assert output_error(held_out, rows, ours) < 0.6 * output_error(held_out, rows, theirs)


def test_depthwise_channels_are_rounded_each_on_their_own_inputs():
    rng = np.random.default_rng(3)
    channels, taps = 8, 9
    rows = rng.normal(size=(channels, taps))
    # a 3x3 window of a smooth image: the taps share most of their value, each channel at its own level
    shared, own = rng.normal(size=(3000, 1, channels)), rng.normal(size=(3000, taps, channels))
    x = (shared + 0.3 * own) * np.arange(1, channels + 1) + 1  # (samples, taps, channels)
    hessians = np.einsum("pic,pjc->cij", x, x)
    ours, theirs = gptq(rows, hessians), nearest(rows)
    total = sum(output_error(x[:, :, c], rows[c:c + 1], ours[c:c + 1]) for c in range(channels))
    nearest_total = sum(output_error(x[:, :, c], rows[c:c + 1], theirs[c:c + 1]) for c in range(channels))
    assert total < 0.8 * nearest_total  # measured: 0.70


@pytest.mark.parametrize("depthwise,strides,dilations,padding", [
    (True, (2, 2), (1, 1), "SAME"), (True, (1, 1), (2, 1), "SAME"), (False, (2, 2), (1, 1), "SAME"),
    (False, (1, 1), (1, 1), "VALID"),
])
def test_the_hessian_is_the_second_moment_of_exactly_what_the_filter_sees(depthwise, strides, dilations, padding):
    """For any filter w, sum over output positions of (conv output)^2 equals w^T H w: H covers the same
    windows, strides, dilations and zero padding as TensorFlow's convolution."""
    rng = np.random.default_rng(4)
    image = rng.normal(size=(1, 13, 11, 4)).astype(np.float32)
    shape = (3, 3, 4, 1) if depthwise else (3, 3, 4, 2)
    layer = Convolution("conv", "w", depthwise, strides, dilations, padding, "x")
    accumulator = HessianAccumulator(layer, (3, 3))
    accumulator.add(tf.constant(image))
    filter_ = rng.normal(size=shape).astype(np.float32)
    if depthwise:
        out = tf.nn.depthwise_conv2d(image, filter_, [1, *strides, 1], padding, dilations=dilations).numpy()
        rows = filter_.reshape(9, 4).T
        expected = np.einsum("ci,cij,cj->c", rows, accumulator.total, rows)
    else:
        out = tf.nn.conv2d(image, filter_, [1, *strides, 1], padding, dilations=[1, *dilations, 1]).numpy()
        rows = filter_.reshape(36, 2).T
        expected = np.einsum("ci,ij,cj->c", rows, accumulator.total, rows)
    measured = (out.reshape(-1, out.shape[-1]).astype(np.float64) ** 2).sum(axis=0)
    assert np.allclose(measured, expected, rtol=1e-4)
    assert accumulator.positions == out.shape[1] * out.shape[2]


def test_the_bias_takes_up_what_rounding_shifts_on_average():
    """After rounding and bias correction, the layer's mean output on the calibration inputs is float's."""
    rng = np.random.default_rng(5)
    image = (np.abs(rng.normal(size=(1, 10, 10, 6))) + 0.2).astype(np.float32)  # ReLU-like: a mean far from 0
    filter_ = rng.normal(size=(1, 1, 6, 5)).astype(np.float32) * np.float32(3)
    bias = rng.normal(size=5).astype(np.float32)
    layer = Convolution("conv", "w", False, (1, 1), (1, 1), "SAME", "x", bias="b")
    changed = round_weights({"w": filter_, "b": bias}, [layer], lambda _image: [tf.constant(image)], [image])
    x = image.reshape(-1, 6).astype(np.float64)
    float_mean = (x @ filter_.reshape(6, 5) + bias).mean(axis=0)
    rounded_mean = (x @ changed["w"].reshape(6, 5) + changed["b"]).mean(axis=0)
    uncorrected_mean = (x @ changed["w"].reshape(6, 5) + bias).mean(axis=0)
    assert np.allclose(rounded_mean, float_mean, atol=1e-5)
    assert not np.allclose(uncorrected_mean, float_mean, atol=1e-5)  # there was a shift to take up
