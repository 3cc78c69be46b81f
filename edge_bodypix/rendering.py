"""Images from segmentations (body-pix `output_rendering_util.ts`), as numpy arrays.

Only the helpers the CLI needs today; the rendering issue adds the effects.
"""

from __future__ import annotations

from typing import Sequence, Tuple

import numpy as np

from .errors import InvalidParameterError
from .parts import NUM_PARTS, RAINBOW
from .results import PartSegmentation, PersonSegmentation

Color = Tuple[int, ...]
WHITE = (255, 255, 255, 255)


def to_mask(
    segmentation: PersonSegmentation,
    foreground: Color = (0, 0, 0, 0),
    background: Color = (0, 0, 0, 255),
) -> np.ndarray:
    """HxWx4 RGBA image: `foreground` on person pixels, `background` elsewhere (body-pix `toMask`)."""
    palette = np.array([background, foreground], dtype=np.uint8)
    return palette[segmentation.data != 0]


def to_colored_part_mask(
    part_segmentation: PartSegmentation, part_colors: Sequence[Sequence[int]] = RAINBOW
) -> np.ndarray:
    """HxWx4 RGBA image with each part's colour and white where there is no part (body-pix `toColoredPartMask`)."""
    if len(part_colors) != NUM_PARTS:
        raise InvalidParameterError(f"part_colors must hold {NUM_PARTS} colours, got {len(part_colors)}")
    palette = np.empty((NUM_PARTS + 1, 4), dtype=np.uint8)
    palette[:NUM_PARTS, :3] = np.asarray(part_colors, dtype=np.uint8)[:, :3]
    palette[:NUM_PARTS, 3] = 255
    palette[NUM_PARTS] = WHITE
    return palette[part_segmentation.data]  # -1 indexes the last (white) entry
