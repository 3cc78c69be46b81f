"""The canvas `blur(Npx)` filter as OpenCV Gaussian blurs.

body-pix blurs with the 2D canvas filter `blur(Npx)`, which CSS defines as a
Gaussian with standard deviation N pixels. Here that is `cv2.GaussianBlur`
with sigma N and a kernel of 2 * ceil(3N) + 1 taps (+-3 sigma, 99.7% of the
weight). Edges replicate the border pixels (the canvas fades to transparent
there instead).
"""

from __future__ import annotations

import math
from typing import Optional, Tuple

import cv2
import numpy as np

from ..checks import check_number

MAX_BLUR_AMOUNT = 20


def check_blur_amount(name: str, value: object) -> float:
    """Validate a body-pix blur amount (0..20 pixels)."""
    return check_number(name, value, 0, MAX_BLUR_AMOUNT)


def gaussian_kernel_size(amount: float) -> int:
    """Odd kernel size covering +-3 standard deviations."""
    return 2 * int(math.ceil(3 * amount)) + 1


def canvas_blur(image: np.ndarray, amount: float, box: Optional[Tuple[int, int, int, int]] = None) -> np.ndarray:
    """`blur(amount px)` of an image, or of the (y0, y1, x0, x1) box only (returned at the box's size).

    The box is blurred with its surroundings as context, so its inside matches
    a blur of the whole image.
    """
    if amount <= 0:
        return image.copy() if box is None else image[box[0]:box[1], box[2]:box[3]].copy()
    size = gaussian_kernel_size(amount)
    if box is None:
        return cv2.GaussianBlur(image, (size, size), amount, borderType=cv2.BORDER_REPLICATE)
    y0, y1, x0, x1 = box
    height, width = image.shape[:2]
    pad = size // 2
    cy0, cy1, cx0, cx1 = max(y0 - pad, 0), min(y1 + pad, height), max(x0 - pad, 0), min(x1 + pad, width)
    blurred = cv2.GaussianBlur(image[cy0:cy1, cx0:cx1], (size, size), amount, borderType=cv2.BORDER_REPLICATE)
    return blurred[y0 - cy0:y1 - cy0, x0 - cx0:x1 - cx0]
