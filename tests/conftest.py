"""Shared fixtures: the real models, photos and videos in ../shared (never copied into the repo)."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_bodypix.masks import mask_iou as iou
from edge_bodypix.imageio import read_rgb  # noqa: F401 - the tests' image reader

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("EDGE_BODYPIX_SHARED", ROOT.parent / "shared"))
MODELS = SHARED / "models"
CORAL = MODELS / "coral"
IMAGES = SHARED / "images"

DEFAULT_MODEL = CORAL / "bodypix_mobilenet_v1_075_720_1280_16_quant.tflite"
PER_TENSOR_MODEL = CORAL / "bodypix_mobilenet_v1_075_720_1280_16_per_tensor_quant.tflite"
PER_TENSOR_LANDSCAPE_MODEL = CORAL / "bodypix_mobilenet_v1_075_1280_720_16_per_tensor_quant.tflite"
EDGETPU_MODEL = CORAL / "bodypix_mobilenet_v1_075_720_1280_16_quant_edgetpu.tflite"
DECODER_MODEL = CORAL / "bodypix_mobilenet_v1_075_640_480_16_quant_decoder.tflite"

PHOTOS = {
    "one": IMAGES / "pexels-karolina-grabowska-4378882.jpg",
    "two": IMAGES / "pexels-jack-sparrow-4046265.jpg",
    "five": IMAGES / "pexels-fauxels-3184419.jpg",
}

SHARED_MISSING = None if DEFAULT_MODEL.is_file() else f"shared test data not found at {SHARED} (set EDGE_BODYPIX_SHARED)"
if SHARED_MISSING and os.environ.get("CI"):  # pragma: no cover - a broken CI checkout, not a test outcome
    raise pytest.UsageError(SHARED_MISSING)


def pytest_collection_modifyitems(config, items):
    """Without ../shared, run the pure-maths tests (marked `pure`) and skip the rest, saying why."""
    if not SHARED_MISSING:
        return
    skip = pytest.mark.skip(reason=SHARED_MISSING)
    for item in items:
        if item.get_closest_marker("pure") is None:
            item.add_marker(skip)

# Tests resolve models from ../shared/models only and never touch the network or the user cache.
os.environ["EDGE_BODYPIX_MODELS"] = str(MODELS)
os.environ["XDG_CACHE_HOME"] = str(Path(os.environ.get("PYTEST_TMP_CACHE", "/tmp")) / "edge-bodypix-test-cache")


def weight_spans(data: bytes):
    """(start, length) of every weight buffer's bytes in a TFLite flatbuffer (Model.buffers[i].data)."""
    from edge_bodypix.backends.tflite.flatbuffer import _Reader

    reader = _Reader(data, "model")
    spans = []
    for buffer in reader.tables(reader.u32(0), 4):  # Model.buffers
        data_field = reader.field(buffer, 0)  # Buffer.data
        if data_field:
            start, length = reader.vector(data_field, 1)
            if length >= 1024:  # weights; small buffers are shapes and indices the graph needs intact
                spans.append((start, length))
    return spans


def corrupted_copy(directory, fraction=0.01, seed=0):
    """The default model with `fraction` of its weight bytes randomised (same file name, still valid TFLite)."""
    data = np.frombuffer(DEFAULT_MODEL.read_bytes(), dtype=np.uint8).copy()
    positions = np.concatenate([np.arange(start, start + length) for start, length in weight_spans(data.tobytes())])
    rng = np.random.default_rng(seed)
    chosen = rng.choice(positions, size=int(positions.size * fraction), replace=False)
    data[chosen] = rng.integers(0, 256, chosen.size, dtype=np.uint8)
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / DEFAULT_MODEL.name
    target.write_bytes(data.tobytes())
    return target


@pytest.fixture(scope="session")
def photos():
    """The three shared photos as RGB arrays (1440x1080), keyed one/two/five."""
    return {name: read_rgb(path) for name, path in PHOTOS.items()}


@pytest.fixture(scope="session")
def frames(photos):
    """The shared photos resized to 640x480 camera frames."""
    return {name: cv2.resize(image, (640, 480), interpolation=cv2.INTER_AREA) for name, image in photos.items()}


@pytest.fixture(scope="session")
def net():
    """The default model (Coral MobileNetV1 0.75 stride 16 uint8), loaded from the model store."""
    import edge_bodypix

    return edge_bodypix.load()


@pytest.fixture(scope="session")
def scene(net, frames):
    """The 5-person 640x480 frame with its person, part and multi-person results."""
    image = frames["five"]
    return {
        "image": image,
        "person": net.segment_person(image),
        "parts": net.segment_person_parts(image),
        "people": net.segment_multi_person(image),
    }


def outline_displacement(reference: np.ndarray, other: np.ndarray) -> int:
    """How far (whole image pixels) `reference`'s outline must move to differ from it as much as `other` does.

    The smallest d for which growing or shrinking `reference` by d pixels gives an
    IoU with it no higher than iou(reference, other). Mask tolerances are stated in
    this unit because a fixed IoU bound means different things for a large and a
    small person (the same 2-pixel edge noise is IoU 0.998 on one, 0.994 on
    another), while a distance can be derived from what differs: a model-input
    pixel, an output-stride cell, in image pixels (see `cell_px`).
    """
    mask = (reference > 0).astype(np.uint8)
    area = int(mask.sum())
    if area == 0:
        return 0 if not np.any(other) else 10 ** 6
    inside = cv2.distanceTransform(mask, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)[mask == 1]
    outside = cv2.distanceTransform(1 - mask, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)[mask == 0]
    target = iou(reference, other)
    if target == 1.0:
        return 0
    limit = max(mask.shape)
    steps = np.arange(1, limit + 1)
    shrunk = np.searchsorted(np.sort(inside), steps, side="right")  # pixels within d of the background
    grown = np.searchsorted(np.sort(outside), steps, side="right")  # background pixels within d of the mask
    moved = np.minimum((area - shrunk) / area, area / (area + grown))
    hits = np.flatnonzero(moved <= target)
    return int(steps[hits[0]]) if hits.size else limit


def label_disagreement_depth(reference: np.ndarray, other: np.ndarray, where: np.ndarray,
                             specks: float = 1e-4) -> float:
    """How far (image pixels) from a boundary between labels of `reference` the labels of `other` differ, within `where`.

    Part ids come from an argmax: two maps of the same logits computed by other
    arithmetic can only disagree where two parts nearly tie, which is at a part
    boundary. A tolerance in this unit (say, one model-input pixel) holds for a
    small part as for a large one, unlike a share of agreeing pixels. Where
    two parts' logits run nearly parallel, one map can hold a speck of a few
    pixels that the other lacks, far from any boundary of the other (4 pixels
    of 390,000 with OpenCV 4.5.5 / onnxruntime 1.16); the farthest disagreeing
    pixels making up `specks` of `where` are left out.
    """
    labels = reference.astype(np.int32)
    edges = np.zeros(labels.shape, dtype=bool)
    edges[:, 1:] |= labels[:, 1:] != labels[:, :-1]
    edges[:, :-1] |= labels[:, 1:] != labels[:, :-1]
    edges[1:] |= labels[1:] != labels[:-1]
    edges[:-1] |= labels[1:] != labels[:-1]
    wrong = (reference != other) & where
    if not wrong.any():
        return 0.0
    distance = np.sort(cv2.distanceTransform((~edges).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)[wrong])
    ignored = int(specks * np.count_nonzero(where))
    return float(distance[-1 - ignored]) if ignored < distance.size else 0.0


def cell_px(image_shape, input_size, stride: int = 1) -> float:
    """Image pixels covered by `stride` model-input pixels (the larger of the two axes' scales)."""
    return stride * max(image_shape[0] / input_size[0], image_shape[1] / input_size[1])
