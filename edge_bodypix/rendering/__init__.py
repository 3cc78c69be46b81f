"""body-pix's rendering helpers (`output_rendering_util.ts`) over numpy images.

Images are HxWx3 uint8 RGB arrays; every function returns a new image rather
than drawing on a canvas. Masks are HxWx4 uint8 RGBA like body-pix's ImageData.
"""

from ..adapters.poses import flip_pose_horizontal
from ..parts import KEYPOINT_NAMES as PART_NAMES
from ..parts import PART_CHANNELS, RAINBOW
from .blur import canvas_blur, check_blur_amount, gaussian_kernel_size
from .effects import blur_body_part, draw_bokeh_effect, draw_mask, draw_pixelated_mask
from .masks import to_colored_part_image_data, to_colored_part_mask, to_mask
from .skeleton import draw_poses

__all__ = [
    "to_mask", "to_colored_part_mask", "to_colored_part_image_data",
    "draw_mask", "draw_pixelated_mask", "draw_bokeh_effect", "blur_body_part", "draw_poses",
    "canvas_blur", "gaussian_kernel_size", "check_blur_amount",
    "flip_pose_horizontal", "RAINBOW", "PART_NAMES", "PART_CHANNELS",
]
