"""body-pix's canvas effects as functions returning new RGB images.

Ports of `drawMask`, `drawPixelatedMask`, `drawBokehEffect` and
`blurBodyPart` (`output_rendering_util.ts`). The canvas compositing is done
in float32 with premultiplied alpha, as a canvas does; `flip_horizontal`
mirrors the output, as body-pix's flipped canvas does.
"""

from __future__ import annotations

from numbers import Integral
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np

from ..masks import bounding_box
from ..adapters.preprocess import check_image
from ..checks import check_number
from ..errors import InvalidParameterError
from ..parts import NUM_PARTS
from .blur import canvas_blur, check_blur_amount, gaussian_kernel_size
from .masks import Segmentations, to_mask


def _check_opacity(value: object) -> float:
    return check_number("mask_opacity", value, 0.0, 1.0)


def _check_mask(image: np.ndarray, mask_image: np.ndarray) -> np.ndarray:
    if not isinstance(mask_image, np.ndarray) or mask_image.ndim != 3 or mask_image.shape[2] != 4 \
            or mask_image.dtype != np.uint8:
        raise InvalidParameterError("mask_image must be an HxWx4 uint8 RGBA array (from to_mask or to_colored_part_mask)")
    if mask_image.shape[:2] != image.shape[:2]:
        raise InvalidParameterError(
            f"dimensions must match: image is {image.shape[1]}x{image.shape[0]}, "
            f"mask is {mask_image.shape[1]}x{mask_image.shape[0]}")
    return mask_image


def _premultiplied(mask_image: np.ndarray, blur_amount: float) -> Tuple[np.ndarray, np.ndarray]:
    """(RGB premultiplied by alpha, alpha) in [0, 1], blurred like the canvas blurs them."""
    rgba = mask_image.astype(np.float32) * np.float32(1.0 / 255.0)
    alpha = rgba[:, :, 3:4]
    rgb = rgba[:, :, :3] * alpha
    if blur_amount > 0:
        stacked = canvas_blur(np.dstack([rgb, alpha]), blur_amount)
        rgb, alpha = stacked[:, :, :3], stacked[:, :, 3:4]
    return rgb, alpha


def _to_uint8(values: np.ndarray) -> np.ndarray:
    return np.clip(values * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _finish(result: np.ndarray, flip_horizontal: bool) -> np.ndarray:
    return np.ascontiguousarray(result[:, ::-1]) if flip_horizontal else result


def draw_mask(
    image: np.ndarray,
    mask_image: Optional[np.ndarray],
    mask_opacity: float = 0.7,
    mask_blur_amount: float = 0,
    flip_horizontal: bool = False,
) -> np.ndarray:
    """The image with an RGBA mask drawn over it at `mask_opacity` (body-pix `drawMask`)."""
    image = check_image(image)
    opacity = _check_opacity(mask_opacity)
    blur = check_blur_amount("mask_blur_amount", mask_blur_amount)
    if mask_image is None:
        return _finish(image.copy(), flip_horizontal)
    rgb, alpha = _premultiplied(_check_mask(image, mask_image), blur)
    base = image.astype(np.float32) * np.float32(1.0 / 255.0)
    result = rgb * opacity + base * (1.0 - alpha * opacity)
    return _finish(_to_uint8(result), flip_horizontal)


def draw_pixelated_mask(
    image: np.ndarray,
    mask_image: np.ndarray,
    mask_opacity: float = 0.7,
    mask_blur_amount: float = 0,
    flip_horizontal: bool = False,
    pixel_cell_width: float = 10.0,
) -> np.ndarray:
    """The mask drawn as `pixel_cell_width`-pixel cells with a white grid, the image over it at 1 - opacity.

    body-pix `drawPixelatedMask`. Where the mask is transparent the image
    shows through (body-pix's canvas is transparent there). Grid lines are one
    pixel wide (a canvas strokes them half over two pixels).
    """
    image = check_image(image)
    opacity = _check_opacity(mask_opacity)
    blur = check_blur_amount("mask_blur_amount", mask_blur_amount)
    pixel_cell_width = check_number("pixel_cell_width", pixel_cell_width, 1)
    rgb, alpha = _premultiplied(_check_mask(image, mask_image), blur)
    height, width = image.shape[:2]
    low_w, low_h = max(int(width / pixel_cell_width), 1), max(int(height / pixel_cell_width), 1)
    premultiplied = np.dstack([rgb, alpha])
    low = cv2.resize(premultiplied, (low_w, low_h), interpolation=cv2.INTER_AREA)
    cells = cv2.resize(low, (width, height), interpolation=cv2.INTER_NEAREST)
    base = image.astype(np.float32) * np.float32(1.0 / 255.0)
    canvas = cells[:, :, :3] + base * (1.0 - cells[:, :, 3:4])
    step = float(pixel_cell_width)
    columns = np.unique(np.clip((np.arange(low_w) * step).astype(int), 0, width - 1))
    rows = np.unique(np.clip((np.arange(low_h) * step).astype(int), 0, height - 1))
    canvas[:, columns] = 1.0
    canvas[rows, :] = 1.0
    result = base * (1.0 - opacity) + canvas * opacity
    return _finish(_to_uint8(result), flip_horizontal)


def _composite_over_blur(image: np.ndarray, keep: np.ndarray, background_blur: float, edge_blur: float) -> np.ndarray:
    """image where `keep` (alpha 0..1 after an edge blur) is 1, the blurred image where it is 0.

    The canvas steps of body-pix's bokeh and body-part blur: draw the image,
    'destination-in' the (edge-blurred) mask, 'destination-over' the blurred
    image. Work is limited to the box where the alpha is below 1; outside it
    the result is the image, byte for byte.
    """
    reach = gaussian_kernel_size(edge_blur) // 2 if edge_blur > 0 else 0
    box = bounding_box(~keep, reach)
    if box is None:
        return image.copy()
    y0, y1, x0, x1 = box
    alpha = canvas_blur(keep.view(np.uint8), 0, box).astype(np.float32)
    if edge_blur > 0:  # blur the alpha with its surroundings (1 beyond the box) as context
        window = keep[max(y0 - reach, 0):y1 + reach, max(x0 - reach, 0):x1 + reach].astype(np.float32)
        blurred_window = canvas_blur(window, edge_blur)
        oy, ox = y0 - max(y0 - reach, 0), x0 - max(x0 - reach, 0)
        alpha = blurred_window[oy:oy + (y1 - y0), ox:ox + (x1 - x0)]
    blurred = canvas_blur(image, background_blur, box).astype(np.float32)
    a = alpha[:, :, None]
    result = image.copy()
    result[y0:y1, x0:x1] = np.clip(image[y0:y1, x0:x1] * a + blurred * (1.0 - a) + 0.5, 0, 255).astype(np.uint8)
    return result


def _blur_outside(image, segmentation: Segmentations, mask_options: dict, background_blur_amount: float,
                  edge_blur_amount: float, flip_horizontal: bool) -> np.ndarray:
    """What `draw_bokeh_effect` and `blur_body_part` share: keep the pixels `to_mask(**mask_options)`
    makes opaque, blur the rest (everything when there is no segmentation), mirror if asked."""
    image = check_image(image)
    background = check_blur_amount("background_blur_amount", background_blur_amount)
    edge = check_blur_amount("edge_blur_amount", edge_blur_amount)
    if isinstance(segmentation, (list, tuple)) and not segmentation:
        return _finish(canvas_blur(image, background), flip_horizontal)
    mask = to_mask(segmentation, **mask_options)
    _check_mask(image, mask)
    keep = mask[:, :, 3] == 255
    return _finish(_composite_over_blur(image, keep, background, edge), flip_horizontal)


def draw_bokeh_effect(
    image: np.ndarray,
    segmentation: Segmentations,
    background_blur_amount: float = 3,
    edge_blur_amount: float = 3,
    flip_horizontal: bool = False,
) -> np.ndarray:
    """People sharp over a blurred background (body-pix `drawBokehEffect`).

    `segmentation` is a person segmentation or a list of them (multi-person).
    """
    return _blur_outside(image, segmentation, {"foreground": (0, 0, 0, 255), "background": (0, 0, 0, 0)},
                         background_blur_amount, edge_blur_amount, flip_horizontal)


def check_part_ids(ids: Sequence[int], name: str = "body_part_ids_to_blur") -> Tuple[int, ...]:
    """Validate a list of body part ids (0..23)."""
    try:
        values = tuple(ids)
    except TypeError:
        raise InvalidParameterError(f"{name} must be a list of part ids, got {ids!r}") from None
    for value in values:
        if isinstance(value, bool) or not isinstance(value, Integral) or not 0 <= value < NUM_PARTS:
            raise InvalidParameterError(f"{name} holds {value!r}; part ids are whole numbers 0..{NUM_PARTS - 1}")
    return tuple(int(v) for v in values)


def blur_body_part(
    image: np.ndarray,
    part_segmentation: Segmentations,
    body_part_ids_to_blur: Sequence[int] = (0, 1),
    background_blur_amount: float = 3,
    edge_blur_amount: float = 3,
    flip_horizontal: bool = False,
) -> np.ndarray:
    """The chosen body parts blurred, everything else sharp (body-pix `blurBodyPart`; default: faces).

    As in body-pix, the mask is `to_mask(..., draw_contour=True)`, so the
    contour strokes body-pix draws stay sharp too.
    """
    ids = check_part_ids(body_part_ids_to_blur)
    return _blur_outside(image, part_segmentation, {"foreground": (0, 0, 0, 0), "background": (0, 0, 0, 255),
                                                    "draw_contour": True, "foreground_ids": ids},
                         background_blur_amount, edge_blur_amount, flip_horizontal)


__all__ = ["draw_mask", "draw_pixelated_mask", "draw_bokeh_effect", "blur_body_part", "check_part_ids",
           "gaussian_kernel_size"]
