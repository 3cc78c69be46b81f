"""Same raw network outputs, same results as the official body-pix 2.2.1.

The published npm package runs in Node.js (tests/reference/) on the very
tensors our interpreter produced; only pre- and post-processing can differ.
Targets: person-mask IoU >= 0.98, part ids equal on >= 95% of person pixels,
and the resized model input equal to body-pix's `padAndResizeTo` up to rounding.
"""

import os

import numpy as np
import pytest

from bodypix_reference import reference_unavailable_reason, run_reference
from conftest import iou

pytestmark = pytest.mark.reference

_reason = reference_unavailable_reason()
if _reason and os.environ.get("CI"):
    raise RuntimeError(f"body-pix reference required in CI: {_reason}")


@pytest.fixture(scope="module")
def reference_available():
    if _reason:
        pytest.skip(_reason)


CASES = [
    ("one", "full", "medium"), ("two", "full", "medium"), ("five", "full", "medium"),
    ("one", "frame", "medium"), ("two", "frame", "low"), ("five", "frame", "high"),
    ("five", "odd", "medium"), ("two", "odd", 0.8),
]


@pytest.mark.parametrize("name, kind, resolution", CASES)
def test_masks_parts_and_input_match_body_pix(reference_available, net, photos, frames, tmp_path,
                                              name, kind, resolution):
    image = {"full": photos, "frame": frames}.get(kind, photos)[name]
    if kind == "odd":
        image = np.ascontiguousarray(image[3:1004, 21:798])  # 1001x777: padded on one axis
    threshold = 0.7
    plan, outputs = net.infer(image, resolution)
    config = {"internalResolution": resolution, "segmentationThreshold": threshold}
    run = run_reference(
        image, outputs, net.output_stride,
        [{"method": "segmentPerson", "config": config, "out": "person"},
         {"method": "segmentPersonParts", "config": config, "out": "parts"}],
        tmp_path, plan.geometry.input_size,
    )
    # pre-processing: our uint8 resize equals body-pix's float resize up to rounding
    # (and OpenCV's 1/32-pixel interpolation weights)
    resized = plan.resized.astype(np.float32)
    assert run.resized_input.shape == resized.shape
    difference = np.abs(resized - run.resized_input)
    assert difference.max() <= 1.0 and difference.mean() < 0.3

    ours = net.segment_person(image, internal_resolution=resolution, segmentation_threshold=threshold).data
    theirs = run.results["person"].data
    assert ours.shape == theirs.shape
    assert iou(ours, theirs) >= 0.98

    our_parts = net.segment_person_parts(image, internal_resolution=resolution,
                                         segmentation_threshold=threshold).data
    their_parts = run.results["parts"].data
    both = (our_parts >= 0) & (their_parts >= 0)
    assert both.sum() > 1000
    assert (our_parts[both] == their_parts[both]).mean() >= 0.95
    assert iou(our_parts >= 0, their_parts >= 0) >= 0.98
