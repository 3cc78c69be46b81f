"""A new backend is one class and one registration: a stand-in network runs the whole BodyPix pipeline."""

import numpy as np
import pytest

import edge_bodypix
from edge_bodypix.backends.registry import BackendSpec, backend_names, register, unregister
from edge_bodypix.parts import KEYPOINT_NAMES, PART_CHANNELS
from edge_bodypix.privacy import protected_region
from fake_backend import STRIDE, OnePersonBackend

pytestmark = pytest.mark.pure

@pytest.fixture
def stand_in(tmp_path):
    register(BackendSpec("one-person", (".person",), OnePersonBackend, describe=lambda: "stand-in 1.0"))  # the one line
    model = tmp_path / "stand-in.person"
    model.write_bytes(b"weights of a network that always sees one person")
    yield model
    unregister("one-person")


def test_a_registered_backend_is_chosen_for_its_files_and_named_everywhere(stand_in):
    from edge_bodypix.daemon.config import load_config

    assert "one-person" in backend_names()
    net = edge_bodypix.load(model=str(stand_in), backend="auto")
    assert net.info.backend == "stand-in (one person)" and net.output_stride == STRIDE
    assert load_config(None, {"model": {"backend": "one-person"}}).model.backend == "one-person"


def test_the_pipeline_runs_on_the_stand_in_masks_parts_poses_and_faces(stand_in):
    net = edge_bodypix.load(model=str(stand_in), backend="one-person")
    image = np.zeros((480, 640, 3), np.uint8)
    person = net.segment_person(image)
    assert person.data[240, 320] == 1 and person.data[10, 10] == 0
    assert 0.15 < person.data.mean() < 0.35  # the middle half of each axis: a quarter of the frame
    parts = net.segment_person_parts(image)
    assert parts.data[240, 320] == PART_CHANNELS.index("torso_front")
    assert (parts.data == PART_CHANNELS.index("left_face")).any()
    (pose,) = [p for p in person.all_poses if p.score > 0]
    nose = pose.keypoints[KEYPOINT_NAMES.index("nose")]
    assert nose.score > 0.99 and abs(nose.position[0] - 320) < 20 and nose.position[1] < 200
    faces = protected_region(parts, "faces", 0)
    assert faces[int(nose.position[1]), int(nose.position[0])] and not faces[400, 320]
    people = net.segment_multi_person(image, score_threshold=0.01)  # a pose of one keypoint scores 1/17
    assert len(people) == 1 and np.array_equal(people[0].data, person.data)


def test_the_device_report_describes_every_registered_backend(stand_in):
    from edge_bodypix.benchsuite.device import device_info

    backends = device_info([])["backends"]
    assert list(backends)[:2] == ["tflite", "onnxruntime"] and backends["one-person"] == "stand-in 1.0"


def test_a_backend_whose_library_is_missing_is_reported_unavailable_not_raised():
    def missing():
        raise edge_bodypix.BackendUnavailableError("pip install hailort")

    spec = BackendSpec("hailo", (".hef",), OnePersonBackend, describe=missing)
    assert spec.status() == (False, "unavailable (pip install hailort)") and not spec.available()


def test_an_unknown_backend_is_a_named_error():
    with pytest.raises(edge_bodypix.InvalidParameterError, match="backend 'hailo' is not one of tflite, onnxruntime"):
        edge_bodypix.load(backend="hailo")
