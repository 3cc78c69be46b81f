"""One specification, run on every backend present (as pycoral runs each model as CPU and Edge TPU twins).

TFLite on the CPU (the Coral 0.75 uint8 model), the same model's Edge TPU build
when an accelerator is attached, and onnxruntime (the 0.50 float export) must
all give what a user relies on: the person found and outlined, faces covered,
each person found once, and the pipelined runner equal to the plain methods.
Where a backend is missing the tests say why they are skipped. The Edge TPU
twin is held to its CPU twin, pixel for pixel within a small tolerance.
"""

from __future__ import annotations

import numpy as np
import pytest

import edge_bodypix
from edge_bodypix.backends import backend_spec
from edge_bodypix.backends.tflite.edgetpu import edgetpu_attached, edgetpu_probe
from edge_bodypix.pipelining import FrameRunner
from edge_bodypix.privacy import protected_region
from edge_bodypix.privacy.selftest import run_selftest

from conftest import DEFAULT_MODEL, EDGETPU_MODEL, MODELS, iou

EXPECTED_PEOPLE = {"one": 1, "two": 2, "five": 5}
#: Where a twin's network is weaker: the 0.50 export's fifth pose on the five-person photo scores 0.39 at
#: "medium", under body-pix's 0.4 score threshold (it scores 0.40 at "high"), so it finds 4 there.
FEWER = {("MobileNetV1-x050-stride16", "five"): 4}
TWINS = {
    "tflite-cpu": ("tflite", str(DEFAULT_MODEL)),
    "tflite-edgetpu": ("tflite", str(EDGETPU_MODEL)),
    "onnxruntime-cpu": ("onnxruntime", str(MODELS / "onnx" / "MobileNetV1-x050-stride16.onnx")),
}


def _why_absent(name: str):
    backend = TWINS[name][0]
    available, status = backend_spec(backend).status()
    if not available:
        return f"the {backend} backend is not installed here: {status}"
    if name.endswith("edgetpu") and not edgetpu_attached():
        return f"no Edge TPU attached ({edgetpu_probe()})"
    return None


@pytest.fixture(scope="module", params=list(TWINS))
def twin(request):
    reason = _why_absent(request.param)
    if reason:
        pytest.skip(reason)
    backend, model = TWINS[request.param]
    return edge_bodypix.load(model=model, backend=backend, num_threads=2)


def test_the_self_test_photo_passes_faces_persons_and_background(twin):
    for target in ("faces", "persons", "background"):
        verdict = run_selftest(twin, target)
        assert verdict.passed, f"{twin.info.backend}, {target}: {verdict.summary()}"


@pytest.mark.parametrize("name", ["one", "two", "five"])
def test_each_person_is_found_once_with_disjoint_masks_covering_the_person_mask(twin, photos, name):
    image = photos[name]
    people = twin.segment_multi_person(image)
    assert len(people) == FEWER.get((twin.info.name, name), EXPECTED_PEOPLE[name])
    masks = np.stack([p.data for p in people])
    assert masks.sum(axis=0).max() == 1
    assert np.array_equal(masks.max(axis=0), twin.segment_person(image).data)


def test_every_face_keypoint_is_inside_the_protected_face_region(twin, photos):
    parts = twin.segment_person_parts(photos["five"])
    region = protected_region(parts, "faces", 0)
    noses = [p.keypoints[0] for p in parts.all_poses if p.score >= 0.4 and p.keypoints[0].score >= 0.5]
    assert len(noses) >= 4
    for nose in noses:
        x, y = (int(round(v)) for v in nose.position)
        assert region[y, x], f"nose at {x},{y} unprotected on {twin.info.backend}"


def test_the_frame_runner_equals_the_plain_methods(twin, frames):
    with FrameRunner(twin) as runner:
        pending = [runner.submit(frame, "medium", twin.person_roles(parts=True)) for frame in frames.values()]
        results = [runner.finish(p, parts=True).segmentation for p in pending]
    for frame, result in zip(frames.values(), results):
        assert np.array_equal(result.data, twin.segment_person_parts(frame).data)


def test_the_edge_tpu_build_agrees_with_its_cpu_twin(photos):
    reason = _why_absent("tflite-edgetpu")
    if reason:
        pytest.skip(reason)
    cpu = edge_bodypix.load(model=str(DEFAULT_MODEL), num_threads=2)
    tpu = edge_bodypix.load(model=str(EDGETPU_MODEL))
    for name, image in photos.items():
        cpu_mask, tpu_mask = cpu.segment_person(image).data, tpu.segment_person(image).data
        assert iou(cpu_mask, tpu_mask) >= 0.97, name  # same weights; the TPU rounds its accumulators differently
        assert len(tpu.segment_multi_person(image)) == EXPECTED_PEOPLE[name]
