"""Representative inputs for int8 calibration, pre-processed exactly as the runtime does it."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Iterator, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from edge_bodypix.adapters.geometry import Geometry, input_resolution
from edge_bodypix.adapters.preprocess import apply_lookup_table, input_lookup_table, pad_and_resize
from edge_bodypix.errors import InvalidParameterError
from edge_bodypix.imageio import read_rgb

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
VIDEO_SUFFIXES = {".mp4", ".avi", ".mkv", ".mov", ".webm"}


def collect_images(sources: Sequence[str], video_step: int = 15, limit: int = 400) -> List[np.ndarray]:
    """RGB images from files, folders (recursively) and videos (every `video_step`-th frame)."""
    images: List[np.ndarray] = []
    for source in sources:
        path = Path(source)
        if not path.exists():
            raise InvalidParameterError(f"calibration source {source} does not exist")
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            suffix = file.suffix.lower()
            if suffix in IMAGE_SUFFIXES:
                try:
                    images.append(read_rgb(file))
                except InvalidParameterError as exc:  # one bad file in a folder of photos: say so, go on
                    log.warning("calibration: skipping %s", exc)
            elif suffix in VIDEO_SUFFIXES:
                capture = cv2.VideoCapture(str(file))
                index = 0
                while len(images) < limit:
                    ok, frame = capture.read()
                    if not ok:
                        break
                    if index % video_step == 0:
                        images.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
                    index += 1
                capture.release()
            if len(images) >= limit:
                return images
    if not images:
        raise InvalidParameterError(f"no images or videos found in {', '.join(map(str, sources))}")
    return images


def prepare(image: np.ndarray, input_size: Tuple[int, int], stride: int, normalisation: str) -> np.ndarray:
    """One float32 NHWC batch as the runtime feeds a float model (padAndResizeTo + normalisation)."""
    grid = ((input_size[0] - 1) // stride + 1, (input_size[1] - 1) // stride + 1)
    geometry = Geometry.build(image.shape[:2], input_size, grid)
    resized = pad_and_resize(np.ascontiguousarray(image), geometry)
    return apply_lookup_table(resized, input_lookup_table(normalisation, np.float32))[np.newaxis]


def representative_inputs(
    images: Sequence[np.ndarray], stride: int, normalisation: str, samples: int = 100,
    fixed_size: Optional[Tuple[int, int]] = None, seed: int = 0,
) -> Iterator[List[np.ndarray]]:
    """`samples` inputs with random crops (60-100% of each side) and internal resolutions (0.3-1.0)."""
    rng = np.random.default_rng(seed)
    for i in range(samples):
        image = images[i % len(images)]
        height, width = image.shape[:2]
        crop_h, crop_w = (int(height * rng.uniform(0.6, 1.0)), int(width * rng.uniform(0.6, 1.0)))
        top, left = rng.integers(0, height - crop_h + 1), rng.integers(0, width - crop_w + 1)
        crop = image[top:top + crop_h, left:left + crop_w]
        size = fixed_size or input_resolution(crop.shape[:2], float(rng.uniform(0.3, 1.0)), stride)
        yield [prepare(crop, size, stride, normalisation)]


def default_sources() -> List[str]:
    """The shared photos and COCO person images beside the project, when present (development)."""
    root = Path(__file__).resolve().parents[1].parent / "shared"
    candidates = [root / "eval" / "coco-person-dev" / "images", root / "images"]
    return [str(p) for p in candidates if p.is_dir() and os.listdir(p)]
