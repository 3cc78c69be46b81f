"""Image to model-input tensor: validation, padding, resizing, normalisation and quantisation.

Pure functions over arrays (body-pix `padAndResizeTo` and the base models'
`preprocessInput`), so they are tested without an interpreter.
"""

from __future__ import annotations

from typing import Optional, Tuple

import cv2
import numpy as np

from ..errors import InvalidParameterError
from .geometry import Geometry

#: body-pix ResNet50 `imageNetMean`, added to RGB values in [0, 255].
RESNET50_MEAN = (-123.15, -115.90, -103.06)
NORMALISATIONS = ("mobilenet", "resnet50")


# Larger than any camera's frame (a 102 MP medium-format sensor is 11648x8736): beyond it an array is a
# mistake (a 20000x20000 frame took 2 min and 8.4 GB), refused before any buffer is allocated for it.
MAX_IMAGE_PIXELS = 120_000_000


def check_image(image: object, name: str = "image") -> np.ndarray:
    """Return `image` as a C-contiguous HxWx3 uint8 RGB array, or raise naming what is wrong.

    An HxWx4 RGBA array is accepted and its alpha channel ignored, as a canvas
    ImageData is in body-pix.
    """
    if not isinstance(image, np.ndarray):
        raise InvalidParameterError(
            f"{name} must be a numpy array (HxWx3 uint8 RGB), got {type(image).__name__}"
        )
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise InvalidParameterError(
            f"{name} must have shape HxWx3 (RGB) or HxWx4 (RGBA), got {image.shape}"
        )
    if image.dtype != np.uint8:
        raise InvalidParameterError(f"{name} must have dtype uint8, got {image.dtype}")
    if image.shape[0] < 2 or image.shape[1] < 2:
        raise InvalidParameterError(f"{name} is too small: {image.shape[1]}x{image.shape[0]} pixels")
    if image.shape[0] * image.shape[1] > MAX_IMAGE_PIXELS:
        raise InvalidParameterError(
            f"{name} is {image.shape[1]}x{image.shape[0]} pixels ({image.shape[0] * image.shape[1] / 1e6:.0f} MP), "
            f"more than the {MAX_IMAGE_PIXELS / 1e6:.0f} MP this library accepts: downscale it first")
    if image.shape[2] == 4:
        image = image[:, :, :3]
    return np.ascontiguousarray(image)


def pad_and_resize(image: np.ndarray, geometry: Geometry, out: Optional[np.ndarray] = None) -> np.ndarray:
    """Pad the image symmetrically to the input's aspect ratio and resize it (body-pix `padAndResizeTo`).

    One `cv2.warpAffine` does both: it samples the padded image at
    `dst * padded / input` (TensorFlow's bilinear resize without half-pixel
    centres) and reads zeros in the padding. Only when upscaling a padded image,
    where TensorFlow clamps to the last padded row, is the padding materialised.
    """
    in_h, in_w = geometry.input_size
    affine = geometry.input_affine()
    padding = geometry.padding
    upscaling = affine[0, 0] < 1.0 or affine[1, 1] < 1.0
    if padding.any and upscaling:
        image = cv2.copyMakeBorder(
            image, padding.top, padding.bottom, padding.left, padding.right,
            cv2.BORDER_CONSTANT, value=(0, 0, 0),
        )
        affine = affine.copy()
        affine[:, 2] = 0.0
        border = cv2.BORDER_REPLICATE
    else:
        border = cv2.BORDER_CONSTANT if padding.any else cv2.BORDER_REPLICATE
    return cv2.warpAffine(
        image, affine, (in_w, in_h), dst=out,
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=border, borderValue=(0, 0, 0),
    )


def normalise(values: np.ndarray, normalisation: str) -> np.ndarray:
    """Map RGB values in [0, 255] to what the float network expects (MobileNet or ResNet50)."""
    values = np.asarray(values, dtype=np.float64)
    if normalisation == "mobilenet":
        return values / 127.5 - 1.0
    if normalisation == "resnet50":
        return values + np.asarray(RESNET50_MEAN, dtype=np.float64)
    raise InvalidParameterError(
        f"normalisation {normalisation!r} is not one of {', '.join(NORMALISATIONS)}"
    )


def quantise(values: np.ndarray, dtype: np.dtype, scale: float, zero_point: int) -> np.ndarray:
    """Real values to a tensor dtype: affine quantisation for integer types, a cast for floats."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return np.asarray(values).astype(dtype)
    if not scale:
        raise InvalidParameterError(f"input tensor of type {dtype} has no quantisation scale")
    info = np.iinfo(dtype)
    q = np.round(np.asarray(values, dtype=np.float64) / scale + zero_point)
    return np.clip(q, info.min, info.max).astype(dtype)


def input_lookup_table(
    normalisation: str, dtype: np.dtype, quantisation: Tuple[float, int] = (0.0, 0)
) -> np.ndarray:
    """Table from RGB byte to input-tensor value, so pre-processing is one `cv2.LUT`.

    The shape is (256,) when all channels share one table (MobileNet), which
    OpenCV applies faster, and (1, 256, 3) otherwise (ResNet50's channel means).
    """
    byte_values = np.arange(256, dtype=np.float64)[:, None].repeat(3, axis=1)
    table = quantise(normalise(byte_values, normalisation), dtype, *quantisation)
    if np.all(table == table[:, :1]):
        return np.ascontiguousarray(table[:, 0])
    return np.ascontiguousarray(table.reshape(1, 256, 3))


def apply_lookup_table(resized: np.ndarray, table: np.ndarray, out: Optional[np.ndarray] = None) -> np.ndarray:
    """Apply an `input_lookup_table` to a resized uint8 RGB image."""
    if table.dtype in (np.uint8, np.int8, np.float32, np.float64, np.int16, np.uint16, np.int32):
        return cv2.LUT(resized, table, dst=out)
    # float16 and other types OpenCV has no LUT for: gather per channel with numpy.
    per_channel = table.reshape(256, 1).repeat(3, axis=1) if table.ndim == 1 else table.reshape(256, 3)
    result = np.empty(resized.shape, dtype=table.dtype) if out is None else out
    for channel in range(3):
        np.take(per_channel[:, channel], resized[:, :, channel], out=result[:, :, channel])
    return result
