"""Slow, literal numpy versions of the TensorFlow image ops body-pix uses, for checking our fast ones.

Written from TensorFlow's documented semantics (`resize_bilinear` without
align-corners / half-pixel centres, with align-corners, and `crop_and_resize`),
one axis at a time.
"""

from __future__ import annotations

import numpy as np


def _resize_axis(values: np.ndarray, axis: int, source: np.ndarray) -> np.ndarray:
    n_in = values.shape[axis]
    low = np.clip(np.floor(source).astype(int), 0, n_in - 1)
    high = np.clip(np.ceil(source).astype(int), 0, n_in - 1)
    frac = source - np.floor(source)
    shape = [1] * values.ndim
    shape[axis] = -1
    frac = frac.reshape(shape)
    return np.take(values, low, axis=axis) * (1 - frac) + np.take(values, high, axis=axis) * frac


def resize_bilinear(values: np.ndarray, size, align_corners: bool = False) -> np.ndarray:
    """tf.image.resizeBilinear on an HxWxC float array."""
    out = values.astype(np.float64)
    for axis, n_out in enumerate(size):
        n_in = out.shape[axis]
        if align_corners and n_out > 1:
            source = np.arange(n_out) * (n_in - 1) / (n_out - 1)
        else:
            source = np.arange(n_out) * n_in / n_out
        out = _resize_axis(out, axis, source)
    return out


def crop_and_resize(values: np.ndarray, box, size) -> np.ndarray:
    """tf.image.cropAndResize of one box [y1, x1, y2, x2] (normalised) to `size`, bilinear."""
    out = values.astype(np.float64)
    starts, ends = box[:2], box[2:]
    for axis, n_out in enumerate(size):
        n_in = out.shape[axis]
        if n_out > 1:
            source = starts[axis] * (n_in - 1) + np.arange(n_out) * (ends[axis] - starts[axis]) * (n_in - 1) / (n_out - 1)
        else:
            source = np.array([0.5 * (starts[axis] + ends[axis]) * (n_in - 1)])
        out = _resize_axis(out, axis, source)
    return out


def pad_and_resize(image: np.ndarray, target, pads) -> np.ndarray:
    """body-pix padAndResizeTo with given pads (top, bottom, left, right)."""
    top, bottom, left, right = pads
    padded = np.pad(image.astype(np.float64), ((top, bottom), (left, right), (0, 0)))
    return resize_bilinear(padded, target)


def scale_and_crop(grid: np.ndarray, image_size, input_size, pads, sigmoid: bool = True) -> np.ndarray:
    """body-pix scaleAndCropToInputTensorShape (the sigmoid between the two resizes)."""
    top, bottom, left, right = pads
    height, width = image_size
    upsampled = resize_bilinear(grid, input_size, align_corners=True)
    if sigmoid:
        upsampled = 1.0 / (1.0 + np.exp(-upsampled))
    box = [
        top / (height + top + bottom - 1.0),
        left / (width + left + right - 1.0),
        (top + height - 1.0) / (height + top + bottom - 1.0),
        (left + width - 1.0) / (width + left + right - 1.0),
    ]
    return crop_and_resize(upsampled, box, image_size)
