"""edge-bodypix: BodyPix 2.0 person and body-part segmentation on embedded hardware.

Images are numpy arrays of shape HxWx3, dtype uint8, in RGB order (convert
OpenCV's BGR frames with `cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)`).

    import edge_bodypix
    net = edge_bodypix.load()
    person = net.segment_person(rgb_image)       # person.data: HxW uint8, 1 = person
    parts = net.segment_person_parts(rgb_image)  # parts.data: HxW int32, 0..23 or -1
"""

from .bodypix import BodyPix, ModelInfo, Timings
from .loader import load
from .errors import (
    AcceleratorUnavailableError,
    BackendUnavailableError,
    EdgeBodyPixError,
    FetchError,
    InvalidParameterError,
    ModelFormatError,
    ModelIntegrityError,
    ModelNotFoundError,
)
from .parts import KEYPOINT_NAMES, NUM_KEYPOINTS, NUM_PARTS, PART_CHANNELS, RAINBOW
from .parts import KEYPOINT_NAMES as PART_NAMES
from .privacy import TemporalGuard, anonymize
from .rendering import (
    blur_body_part,
    draw_bokeh_effect,
    draw_mask,
    draw_pixelated_mask,
    draw_poses,
    flip_pose_horizontal,
    to_colored_part_image_data,
    to_colored_part_mask,
    to_mask,
)
from .results import Keypoint, PartSegmentation, PersonSegmentation, Pose

__version__ = "0.1.0"

__all__ = [
    "load", "BodyPix", "ModelInfo", "Timings",
    "PersonSegmentation", "PartSegmentation", "Pose", "Keypoint",
    "PART_CHANNELS", "PART_NAMES", "KEYPOINT_NAMES", "NUM_PARTS", "NUM_KEYPOINTS", "RAINBOW",
    "to_mask", "to_colored_part_mask", "to_colored_part_image_data", "draw_mask", "draw_pixelated_mask",
    "draw_bokeh_effect", "blur_body_part", "draw_poses", "flip_pose_horizontal",
    "anonymize", "TemporalGuard",
    "EdgeBodyPixError", "InvalidParameterError", "ModelNotFoundError", "ModelFormatError",
    "ModelIntegrityError", "AcceleratorUnavailableError", "BackendUnavailableError", "FetchError",
    "__version__",
]
