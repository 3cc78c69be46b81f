"""Sizes, padding and interpolation maps between an image, the model input and the output grid.

Pure functions ported from body-pix 2.2.1 `util.ts`; every map is built once
per (image size, input size) and reused for all frames of that geometry.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Real
from typing import Tuple, Union

import numpy as np

from ..errors import InvalidParameterError

InternalResolution = Union[str, float]

#: body-pix's named internal resolutions (`INTERNAL_RESOLUTION_PERCENTAGES`).
INTERNAL_RESOLUTIONS = {"low": 0.25, "medium": 0.5, "high": 0.75, "full": 1.0}
#: A named resolution is body-pix's fraction of the image up to this longer side; a larger image (a
#: 12 MP phone photo) is sized as if it were this large. The network finds people at the scales it was
#: trained on: at "medium" a 4000x3000 photo fed at 2001x1489 gives a fragmented mask (20% person where
#: the same scene at 1440x1080 gives 30%) at 7-10x the cost; capped, it is fed at 721x529 like the
#: 1440x1080 photo and gives its mask. A number is a fraction of the image as given, uncapped.
NAMED_RESOLUTION_MAX_SIDE = 1440
MIN_INTERNAL_RESOLUTION = 0.1
MAX_INTERNAL_RESOLUTION = 2.0


def internal_resolution_fraction(internal_resolution: InternalResolution) -> float:
    """Fraction of the image size fed to the model (body-pix `toInternalResolutionPercentage`)."""
    if isinstance(internal_resolution, str):
        try:
            return INTERNAL_RESOLUTIONS[internal_resolution]
        except KeyError:
            raise InvalidParameterError(
                f"internal_resolution {internal_resolution!r} is not one of "
                f"{', '.join(INTERNAL_RESOLUTIONS)} or a number in "
                f"[{MIN_INTERNAL_RESOLUTION}, {MAX_INTERNAL_RESOLUTION}]"
            ) from None
    if isinstance(internal_resolution, bool) or not isinstance(internal_resolution, Real):
        raise InvalidParameterError(
            f"internal_resolution must be a string or a number, got {internal_resolution!r}"
        )
    value = float(internal_resolution)
    if not MIN_INTERNAL_RESOLUTION <= value <= MAX_INTERNAL_RESOLUTION:
        raise InvalidParameterError(
            f"internal_resolution {internal_resolution!r} is outside "
            f"[{MIN_INTERNAL_RESOLUTION}, {MAX_INTERNAL_RESOLUTION}]"
        )
    return value


def to_valid_input_resolution(size: float, output_stride: int) -> int:
    """`floor(size / stride) * stride + 1` unless already of that form (body-pix `toValidInputResolution`)."""
    if (size - 1) % output_stride == 0:
        return int(size)
    return int(np.floor(size / output_stride)) * output_stride + 1


def input_resolution(
    image_size: Tuple[int, int], internal_resolution: InternalResolution, output_stride: int
) -> Tuple[int, int]:
    """Model input (height, width) for an image (body-pix `toInputResolutionHeightAndWidth`).

    Named resolutions on images beyond `NAMED_RESOLUTION_MAX_SIDE` are scaled
    as if the image were that large (not in body-pix, which has no such cap).
    """
    fraction = internal_resolution_fraction(internal_resolution)
    height, width = image_size
    if isinstance(internal_resolution, str) and max(height, width) > NAMED_RESOLUTION_MAX_SIDE:
        fraction *= NAMED_RESOLUTION_MAX_SIDE / max(height, width)
    return (
        to_valid_input_resolution(height * fraction, output_stride),
        to_valid_input_resolution(width * fraction, output_stride),
    )


@dataclass(frozen=True)
class Padding:
    """Zero padding added around the original image, in original pixels."""

    top: int = 0
    bottom: int = 0
    left: int = 0
    right: int = 0

    @property
    def any(self) -> bool:
        return bool(self.top or self.bottom or self.left or self.right)


def js_round(value: float) -> int:
    """JavaScript's Math.round (halves go up), which body-pix's padding uses."""
    return int(np.floor(value + 0.5))


def padding_for_aspect(image_size: Tuple[int, int], target_size: Tuple[int, int]) -> Padding:
    """Symmetric padding that gives the image the target's aspect ratio (body-pix `padAndResizeTo`)."""
    height, width = image_size
    target_height, target_width = target_size
    target_aspect = target_width / target_height
    aspect = width / height
    if aspect < target_aspect:
        pad = js_round(0.5 * (target_aspect * height - width))
        return Padding(left=pad, right=pad)
    pad = js_round(0.5 * ((1.0 / target_aspect) * width - height))
    return Padding(top=pad, bottom=pad)


@dataclass(frozen=True)
class Geometry:
    """How one image size maps onto one model input size and its output grid."""

    image_size: Tuple[int, int]
    input_size: Tuple[int, int]
    grid_size: Tuple[int, int]
    padding: Padding

    @classmethod
    def build(
        cls, image_size: Tuple[int, int], input_size: Tuple[int, int], grid_size: Tuple[int, int]
    ) -> "Geometry":
        return cls(
            image_size=(int(image_size[0]), int(image_size[1])),
            input_size=(int(input_size[0]), int(input_size[1])),
            grid_size=(int(grid_size[0]), int(grid_size[1])),
            padding=padding_for_aspect(image_size, input_size),
        )

    @property
    def padded_size(self) -> Tuple[int, int]:
        """Size of the padded original image, before it is resized to the input size."""
        p = self.padding
        return (self.image_size[0] + p.top + p.bottom, self.image_size[1] + p.left + p.right)

    def input_affine(self) -> np.ndarray:
        """2x3 map from input pixels to original-image pixels for `cv2.warpAffine(WARP_INVERSE_MAP)`.

        `tf.image.resizeBilinear` without align-corners or half-pixel centres samples
        the padded image at `dst * padded / input`; the padding shifts that by the pad.
        """
        padded_h, padded_w = self.padded_size
        in_h, in_w = self.input_size
        return np.array(
            [
                [padded_w / in_w, 0.0, -float(self.padding.left)],
                [0.0, padded_h / in_h, -float(self.padding.top)],
            ],
            dtype=np.float64,
        )

    def input_to_image(self, yx: np.ndarray) -> np.ndarray:
        """Model-input (y, x) positions (N x 2) to image pixels (body-pix `scaleAndFlipPoses`' scale and shift)."""
        padded_h, padded_w = self.padded_size
        in_h, in_w = self.input_size
        scale = np.array([padded_h / in_h, padded_w / in_w])
        return yx * scale - np.array([self.padding.top, self.padding.left], dtype=np.float64)

    def image_to_grid_coords(self, axis: int) -> np.ndarray:
        """Grid coordinate (fractional) that each image row (axis 0) or column (axis 1) samples."""
        p = self.padding
        pads = (p.top, p.bottom) if axis == 0 else (p.left, p.right)
        source = crop_source_coords(self.image_size[axis], self.input_size[axis], *pads)
        return source * align_corners_scale(self.input_size[axis], self.grid_size[axis])


def align_corners_scale(n_out: int, n_in: int) -> float:
    """Source step of `resizeBilinear(..., alignCorners=true)` from n_in to n_out samples."""
    return (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0


def crop_source_coords(n_image: int, n_input: int, pad_before: int, pad_after: int) -> np.ndarray:
    """Input-tensor coordinate sampled for each original pixel by body-pix `removePaddingAndResizeBack`.

    That function calls `tf.image.cropAndResize` with the box
    [pad / (n + pads - 1), (pad + n - 1) / (n + pads - 1)] on the input-sized
    tensor and an output of the original size n.
    """
    denom = n_image + pad_before + pad_after - 1.0
    start = pad_before / denom
    end = (pad_before + n_image - 1.0) / denom
    if n_image > 1:
        step = (end - start) * (n_input - 1) / (n_image - 1)
        return start * (n_input - 1) + np.arange(n_image) * step
    return np.array([0.5 * (start + end) * (n_input - 1)])


def resampling_taps(image_to_grid: np.ndarray, n_grid: int, factor: int) -> Tuple["Taps", int]:
    """Resample a grid so that one bilinear `cv2.resize` lands on `image_to_grid` (affine in y).

    `cv2.resize` samples source row `(y + 0.5) * n / N - 0.5` for output row y
    of N. This returns the n resampled rows, placed about `factor` per grid
    cell, as two-tap interpolation weights over the grid (`Taps`), so that
    after resizing them to N = len(image_to_grid) + 2 * margin rows and
    dropping `margin` rows at each end, row y samples grid position
    `image_to_grid[y]`. The margin keeps OpenCV's edge clamping outside the
    image. The final upsampling is then one fast OpenCV call instead of a
    full-size matrix product.
    """
    n_image = len(image_to_grid)
    step = float(image_to_grid[1] - image_to_grid[0]) if n_image > 1 else 0.0
    samples_per_pixel = max(abs(step) * factor, 1e-9)
    margin = int(np.ceil(0.5 / samples_per_pixel)) + 1
    n_out = n_image + 2 * margin
    n = max(2, int(round(samples_per_pixel * n_out)))
    spacing = step * n_out / n
    first = float(image_to_grid[0]) - spacing * ((margin + 0.5) * n / n_out - 0.5)
    return Taps.extrapolating(first + spacing * np.arange(n), n_grid), margin


def resampling_matrix(image_to_grid: np.ndarray, n_grid: int, factor: int) -> Tuple[np.ndarray, int]:
    """`resampling_taps` as an (n x n_grid) interpolation matrix (rows: resampled samples)."""
    taps, margin = resampling_taps(image_to_grid, n_grid, factor)
    return taps.matrix(n_grid), margin


@dataclass(frozen=True)
class Taps:
    """Linear interpolation of a 1-D signal at fractional positions: sample i is
    `v[low[i]] + (v[high[i]] - v[low[i]]) * frac[i]`."""

    low: np.ndarray  # (n,) intp
    high: np.ndarray  # (n,) intp, low + 1 (low itself on a one-sample signal)
    frac: np.ndarray  # (n,) float64, outside [0, 1] where the edge cells' slopes are continued

    @classmethod
    def extrapolating(cls, source: np.ndarray, n_in: int) -> "Taps":
        """Taps for `source` positions that continue the edge cells' slopes beyond the signal.

        Resampled rows just outside the grid then interpolate with the first rows
        inside it along the edge cell's line, so image pixels at the edge get the
        edge value exactly.
        """
        if n_in == 1:
            zeros = np.zeros(len(source), dtype=np.intp)
            return cls(zeros, zeros, np.zeros(len(source)))
        low = np.clip(np.floor(source), 0, n_in - 2).astype(np.intp)
        return cls(low, low + 1, source - low)

    def matrix(self, n_in: int) -> np.ndarray:
        identity = np.eye(n_in, dtype=np.float64)
        frac = self.frac[:, None]
        return identity[self.low] * (1.0 - frac) + identity[self.high] * frac

    def span(self, first: int, last: int) -> slice:
        """Samples that read any of the cells in [first, last] (low is sorted)."""
        # a sample reads cells low and low + 1, so it touches [first, last] when low in [first - 1, last]
        return slice(int(np.searchsorted(self.low, first - 1, "left")), int(np.searchsorted(self.low, last, "right")))
