"""Mask images from segmentations: body-pix `toMask` and `toColoredPartMask`."""

from __future__ import annotations

from typing import List, Optional, Sequence, Union

import numpy as np

from ..errors import InvalidParameterError
from ..parts import NUM_PARTS, RAINBOW
from ..results import PartSegmentation, PersonSegmentation

Segmentation = Union[PersonSegmentation, PartSegmentation]
Segmentations = Union[Segmentation, Sequence[Segmentation]]
Color = Sequence[int]
CONTOUR_COLOR = (0, 255, 255, 255)  # body-pix's drawStroke default
WHITE = (255, 255, 255, 255)


def _as_list(segmentation: Segmentations, name: str) -> List[Segmentation]:
    items = list(segmentation) if isinstance(segmentation, (list, tuple)) else [segmentation]
    for item in items:
        if not hasattr(item, "data") or not hasattr(item, "width"):
            raise InvalidParameterError(f"{name} must be a segmentation result or a list of them, got {type(item).__name__}")
    shapes = {item.data.shape for item in items}
    if len(shapes) > 1:
        raise InvalidParameterError(f"{name}: all segmentations must have the same size, got {sorted(shapes)}")
    return items


def _rgba(color: Color, name: str) -> np.ndarray:
    values = list(color)
    if len(values) == 3:
        values.append(255)
    if len(values) != 4 or any(not 0 <= int(v) <= 255 for v in values):
        raise InvalidParameterError(f"{name} must be (r, g, b[, a]) with values 0..255, got {color!r}")
    return np.array(values, dtype=np.uint8)


def to_mask(
    segmentation: Segmentations,
    foreground: Color = (0, 0, 0, 0),
    background: Color = (0, 0, 0, 255),
    draw_contour: bool = False,
    foreground_ids: Sequence[int] = (1,),
) -> Optional[np.ndarray]:
    """HxWx4 RGBA: `foreground` where any segmentation's value is in `foreground_ids`, else `background`.

    body-pix `toMask` (its `toMultiPersonMaskImageData` for a list). Pass part
    ids as `foreground_ids` for part segmentations. With `draw_contour`, the
    pixels that body-pix's contour loop leaves cyan are cyan: it strokes the
    diagonal neighbours of foreground pixels that have a background diagonal
    neighbour, and only the strokes on the row above survive its raster order.
    An empty list gives None, as in body-pix.
    """
    items = _as_list(segmentation, "segmentation")
    if not items:
        return None
    fg_color, bg_color = _rgba(foreground, "foreground"), _rgba(background, "background")
    ids = np.asarray(list(foreground_ids))
    masks = [np.isin(item.data, ids) for item in items]
    foreground_mask = np.logical_or.reduce(masks)
    image = np.where(foreground_mask[:, :, None], fg_color, bg_color).astype(np.uint8)
    if draw_contour:
        boundary = np.zeros_like(foreground_mask)
        for mask in masks:
            inner = mask[1:-1, 1:-1]
            diagonal_background = ~(mask[:-2, :-2] & mask[:-2, 2:] & mask[2:, :-2] & mask[2:, 2:])
            boundary[1:-1, 1:-1] |= inner & diagonal_background
        stroke = np.zeros_like(foreground_mask)
        stroke[:-1, :-1] |= boundary[1:, 1:]
        stroke[:-1, 1:] |= boundary[1:, :-1]
        image[stroke] = CONTOUR_COLOR
    return image


def to_colored_part_mask(
    part_segmentation: Union[PartSegmentation, Sequence[PartSegmentation]],
    part_colors: Sequence[Color] = RAINBOW,
) -> Optional[np.ndarray]:
    """HxWx4 RGBA with each part's colour and opaque white elsewhere (body-pix `toColoredPartMask`).

    A list (multi-person part maps) is drawn in order, later people on top.
    An empty list gives None, as in body-pix.
    """
    items = _as_list(part_segmentation, "part_segmentation")
    if not items:
        return None
    if len(part_colors) < NUM_PARTS:
        raise InvalidParameterError(f"part_colors must hold {NUM_PARTS} colours, got {len(part_colors)}")
    palette = np.empty((len(part_colors) + 1, 4), dtype=np.uint8)
    palette[:-1] = [_rgba(tuple(c)[:3], "part_colors entry") for c in part_colors]
    palette[-1] = WHITE
    labels = np.full(items[0].data.shape, -1, dtype=np.int64)
    for item in items:
        data = item.data
        invalid = (data < -1) | (data >= len(part_colors))
        if invalid.any():
            raise InvalidParameterError(f"No color could be found for part id {int(data[invalid][0])}")
        np.copyto(labels, data, where=data != -1)
    return palette[labels]  # -1 indexes the last (white) entry


#: body-pix 2.0 README's name for `to_colored_part_mask`.
to_colored_part_image_data = to_colored_part_mask
