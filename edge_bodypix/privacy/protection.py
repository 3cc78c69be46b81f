"""Protecting pixels: blur, pixelate or fill a region, leaving every other pixel untouched.

Work is limited to the region's bounding box. Failures fail closed:
`anonymize` returns a fully protected frame rather than the original when the
effect itself raises (bad parameters still raise, before any frame exists).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Callable, Dict, Optional, Sequence

import cv2
import numpy as np

from ..adapters.preprocess import check_image
from ..checks import check_number
from ..errors import EdgeBodyPixError, InvalidParameterError
from ..rendering.blur import canvas_blur
from ..masks import block_any, bounding_box
from .regions import Results, protected_region

log = logging.getLogger(__name__)


def default_strength(method: str, shape) -> float:
    """Blur sigma or pixel cell size scaled to the frame: 2% / 3% of its larger side (at least 6 / 8 px)."""
    known = PROTECTION_METHODS.get(method)
    return known.default_strength(max(shape[:2])) if known is not None else 0.0


def default_margin(shape) -> float:
    """Safety margin around protected regions: 1% of the frame's larger side, at least 4 px."""
    return max(4.0, 0.01 * max(shape[:2]))


def _check_method(method: str, strength: Optional[float], shape) -> float:
    if method not in METHODS:
        raise InvalidParameterError(f"method {method!r} is not one of {', '.join(METHODS)}")
    if strength is None:
        return default_strength(method, shape)
    return check_number("strength", strength, 0, 500, low_open=True)


def _strong_blur(image: np.ndarray, sigma: float, box) -> np.ndarray:
    """A Gaussian blur of the box, computed at reduced resolution when sigma is large.

    Blurring with sigma s at 1/k the resolution (sigma s/k, then a bilinear
    upscale) looks the same for privacy and costs about k^4 times less. k is
    the largest power of two that keeps the reduced sigma at 3 pixels or more,
    so the reduction is exact 2x area averages (OpenCV's fast path: an
    arbitrary factor cost 10 M instructions on a face's window on Cortex-A76,
    this under 1 M); the window is aligned to k pixels of the frame, and only
    the box is brought back to full resolution.
    """
    factor = 1
    while sigma / (2 * factor) >= 3:
        factor *= 2
    if factor < 2:
        return canvas_blur(image, sigma, box)
    y0, y1, x0, x1 = box
    height, width = image.shape[:2]
    pad = int(math.ceil(3 * sigma))
    cy0, cx0 = max(y0 - pad, 0) // factor * factor, max(x0 - pad, 0) // factor * factor
    cy1, cx1 = min(y1 + pad, height), min(x1 + pad, width)
    window = image[cy0:cy1, cx0:cx1]
    short_y, short_x = -(cy1 - cy0) % factor, -(cx1 - cx0) % factor
    if short_y or short_x:  # the frame's edge: replicate it up to whole cells
        window = cv2.copyMakeBorder(window, 0, short_y, 0, short_x, cv2.BORDER_REPLICATE)
    small = window
    for _ in range(int(math.log2(factor))):
        small = cv2.resize(small, (small.shape[1] // 2, small.shape[0] // 2), interpolation=cv2.INTER_AREA)
    small = canvas_blur(small, sigma / factor)
    # the small cells the box reads (one more each side for the bilinear neighbours), upscaled by the factor
    by0, bx0 = max((y0 - cy0) // factor - 1, 0), max((x0 - cx0) // factor - 1, 0)
    by1 = min(-(-(y1 - cy0) // factor) + 1, small.shape[0])
    bx1 = min(-(-(x1 - cx0) // factor) + 1, small.shape[1])
    large = cv2.resize(small[by0:by1, bx0:bx1], ((bx1 - bx0) * factor, (by1 - by0) * factor),
                       interpolation=cv2.INTER_LINEAR)
    top, left = cy0 + by0 * factor, cx0 + bx0 * factor
    return large[y0 - top:y1 - top, x0 - left:x1 - left]


def _pixelate(window: np.ndarray, cell: float) -> np.ndarray:
    height, width = window.shape[:2]
    small = cv2.resize(window, (max(1, math.ceil(width / cell)), max(1, math.ceil(height / cell))),
                       interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_NEAREST)


def check_fill_color(fill_color: object) -> np.ndarray:
    """An RGB colour: three whole numbers in [0, 255] (a bad one used to black out the whole frame)."""
    if isinstance(fill_color, (str, bytes)) or not hasattr(fill_color, "__len__") or len(fill_color) != 3:
        raise InvalidParameterError(f"fill_color {fill_color!r} must be three numbers (R, G, B) in [0, 255]")
    return np.array([check_number(f"fill_color[{i}]", c, 0, 255, integer=True) for i, c in enumerate(fill_color)],
                    dtype=np.uint8)


def apply_protection(
    image: np.ndarray, region: np.ndarray, method: str = "blur", strength: Optional[float] = None,
    fill_color: Sequence[int] = (0, 0, 0),
) -> np.ndarray:
    """A copy of the image with `region` (HxW bool) blurred, pixelated or filled; other pixels unchanged.

    `strength` is the blur's Gaussian sigma or the pixel cell size in pixels
    (defaults: `default_strength`). Blur and pixelation read the region's
    surroundings, so nothing sharp survives at its edge.
    """
    image = check_image(image)
    if region.shape != image.shape[:2]:
        raise InvalidParameterError(f"region is {region.shape}, image is {image.shape[:2]}")
    value = _check_method(method, strength, image.shape)
    result = image.copy()
    PROTECTION_METHODS[method].protect(image, region, result, value, fill_color)
    return result


def _copy_where(changed: np.ndarray, region: np.ndarray, box, result: np.ndarray) -> None:
    y0, y1, x0, x1 = box
    cv2.copyTo(np.ascontiguousarray(changed), region[y0:y1, x0:x1].view(np.uint8), result[y0:y1, x0:x1])


def _blur_region(image, region, result, sigma: float, fill_color) -> None:
    for box in region_boxes(region):
        _copy_where(_strong_blur(image, sigma, box), region, box, result)


def _pixelate_region(image, region, result, cell: float, fill_color) -> None:
    for box in region_boxes(region):  # cells aligned to the frame, so they do not crawl as the region moves
        y0, y1, x0, x1 = box
        gy0, gx0 = int(y0 // cell * cell), int(x0 // cell * cell)
        _copy_where(_pixelate(image[gy0:y1, gx0:x1], cell)[y0 - gy0:, x0 - gx0:], region, box, result)


def _fill_region(image, region, result, strength: float, fill_color) -> None:
    color = check_fill_color(fill_color)
    for y0, y1, x0, x1 in region_boxes(region):
        np.copyto(result[y0:y1, x0:x1], color, where=region[y0:y1, x0:x1, None])


@dataclass(frozen=True)
class ProtectionMethod:
    """How protected pixels are changed: `protect(image, region, result, strength, fill_color)` writes the
    region's new pixels into `result`; `default_strength(side)` scales the strength to the frame's larger side."""

    name: str
    protect: Callable[..., None]
    default_strength: Callable[[float], float]


#: Every protection method by name: the method half of the effect vocabulary (`privacy.effects`).
#: A new method is one entry here; the effects, the CLI and the daemon take their names from it.
PROTECTION_METHODS: Dict[str, ProtectionMethod] = {m.name: m for m in (
    ProtectionMethod("blur", _blur_region, lambda side: max(6.0, 0.02 * side)),  # a Gaussian's sigma
    ProtectionMethod("pixelate", _pixelate_region, lambda side: max(8.0, 0.03 * side)),  # a cell's side
    ProtectionMethod("fill", _fill_region, lambda side: 0.0),  # a flat colour (fill_color)
)}
METHODS = tuple(PROTECTION_METHODS)


def region_boxes(region: np.ndarray, step: int = 4):
    """Bounding boxes (y0, y1, x0, x1) of the separate blobs of a region, so work skips the space between them.

    Blobs are found on a copy `step` times smaller in which a cell is set when
    any of its pixels is (`masks.block_any`), so no region pixel can fall
    outside every box.
    """
    box = bounding_box(region)
    if box is None:
        return []
    y0, y1, x0, x1 = box
    small = block_any(region[y0:y1, x0:x1], step)
    count, _, stats, _ = cv2.connectedComponentsWithStats(small.view(np.uint8), connectivity=8)
    boxes = []
    for left, top, width, height, _ in stats[1:count].tolist():
        boxes.append((max(y0 + top * step - 1, y0), min(y0 + (top + height) * step + 1, y1),
                      max(x0 + left * step - 1, x0), min(x0 + (left + width) * step + 1, x1)))
    return boxes


def protect_everything(image: np.ndarray, method: str = "fill", strength: Optional[float] = None) -> np.ndarray:
    """The whole frame protected (fail-closed output): black by default, or blurred / pixelated."""
    image = np.asarray(image)
    if method == "fill" or image.ndim != 3 or image.dtype != np.uint8:
        shape = image.shape[:2] + (3,) if image.ndim >= 2 else (1, 1, 3)
        return np.zeros(shape, dtype=np.uint8)
    return apply_protection(image, np.ones(image.shape[:2], dtype=bool), method, strength)


def anonymize(
    image: np.ndarray,
    result: Results,
    target: str = "faces",
    method: str = "blur",
    strength: Optional[float] = None,
    margin_px: Optional[float] = None,
    min_keypoint_score: float = 0.3,
    fill_color: Sequence[int] = (0, 0, 0),
) -> np.ndarray:
    """Protect faces, persons or the background of an RGB image given its segmentation result(s).

    `result` is what `segment_person`, `segment_person_parts` or the
    multi-person methods returned for this image (a list is fine). Faces use
    parts 0 and 1 where the result has parts and a disc around each pose's
    confident face keypoints in any case. `margin_px` grows the region
    (default `default_margin`). If the effect fails, the whole frame comes
    back black: an unprotected frame is never returned.
    """
    image = check_image(image)
    _check_method(method, strength, image.shape)
    check_fill_color(fill_color)
    margin = default_margin(image.shape) if margin_px is None else margin_px
    region = protected_region(result, target, margin, min_keypoint_score, shape=image.shape[:2])
    try:
        return apply_protection(image, region, method, strength, fill_color)
    except EdgeBodyPixError:
        raise
    except Exception:  # noqa: BLE001 - fail closed whatever went wrong
        log.exception("privacy effect failed; returning a fully protected frame")
        return protect_everything(image)


def protect(image: np.ndarray, decision, method: str = "blur", strength: Optional[float] = None,
            fill_color: Sequence[int] = (0, 0, 0)) -> np.ndarray:
    """Apply a `TemporalGuard` decision to a frame: its region, or the whole frame (black) when `full`."""
    if decision.full or decision.region is None:
        return protect_everything(image)
    try:
        return apply_protection(image, decision.region, method, strength, fill_color)
    except Exception:  # noqa: BLE001 - fail closed whatever went wrong
        log.exception("privacy effect failed; returning a fully protected frame")
        return protect_everything(image)
